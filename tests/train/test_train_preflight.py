"""make train's preflight: each failure is one line naming the knob and the fix, with its code.

The launcher runs in the tools env (this interpreter); datasets are real v3.0 written by
LeRobot 0.6.1; nothing is mocked. Exit codes: 2 usage/recipe, 3 dataset, 4 env, 5 GPU,
6 weights, 7 output directory.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from conftest import FIXTURE_V21, env_python, run
from helpers.train_common import make_v30, tool_env, train_cmd

from scripts.train import gpu as gpu_mod
from scripts.train.preflight import RESNET18_FILE


def launch(*args: object, **env: str):
    proc = run(train_cmd(*args), env=tool_env(**env))
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("train: error:")]
    return proc, (lines[-1] if lines else "")


def test_unknown_recipe_lists_and_suggests(koch: Path) -> None:
    proc, err = launch("--recipe", "smolvla_24", "--dataset", koch, "--dry-run")
    assert proc.returncode == 2, proc.stderr
    assert "did you mean smolvla_24g" in err and "act_cpu" in err


def test_extra_args_must_be_key_value(koch: Path) -> None:
    proc, err = launch("--recipe", "act_cpu", "--dataset", koch, "--dry-run", "--", "--steps", "5")
    assert proc.returncode == 2 and "write LeRobot overrides as --key=value" in err


def test_multi_gpu_needs_a_gpu_recipe(koch: Path) -> None:
    proc, err = launch("--recipe", "act_cpu", "--dataset", koch, "--gpus", "2", "--dry-run")
    assert proc.returncode == 2 and "GPUS=2 with CPU recipe act_cpu" in err


def test_v21_dataset_is_refused_with_convert_hint() -> None:
    proc, err = launch("--recipe", "act_cpu", "--dataset", FIXTURE_V21, "--dry-run")
    assert proc.returncode == 3, proc.stderr
    assert "v3.0 only" in err and "make convert" in err


def test_missing_dataset_dir(tmp_path: Path) -> None:
    proc, err = launch("--recipe", "act_cpu", "--dataset", tmp_path / "nope", "--dry-run")
    assert proc.returncode == 3 and "no such directory" in err


def test_environment_not_built(koch: Path, tmp_path: Path) -> None:
    proc, err = launch(
        "--recipe", "act_cpu", "--dataset", koch, "--dry-run", ENVS_DIR=str(tmp_path)
    )
    assert proc.returncode == 4, proc.stderr
    assert "environment 'act'" in err and "run make envs" in err


@pytest.mark.skipif(bool(gpu_mod.detect()), reason="this machine has a CUDA GPU")
def test_gpu_recipe_without_gpu(koch: Path) -> None:
    # A real run stops at the GPU check (a dry run only warns: tests/test_make_train.py).
    proc, err = launch("--recipe", "act_24g", "--dataset", koch)
    assert proc.returncode == 5, proc.stderr
    assert "no CUDA GPU found" in err and "RECIPE=act_cpu" in err


def test_act_backbone_weights_missing_then_imported(koch: Path, tmp_path: Path) -> None:
    torch_home = tmp_path / "torch"
    args = ("--recipe", "act_cpu", "--dataset", koch, "--dry-run", "--")
    knob = "--policy.pretrained_backbone_weights=ResNet18_Weights.IMAGENET1K_V1"
    proc, err = launch(*args, knob, TORCH_HOME=str(torch_home))
    assert proc.returncode == 6, proc.stderr
    assert str(torch_home / "hub" / "checkpoints" / RESNET18_FILE) in err
    assert "make weights-import" in err
    # A real ResNet-18 state dict under torchvision's file name, imported with the tool.
    pth = tmp_path / "carry" / RESNET18_FILE
    pth.parent.mkdir()
    code = (
        "import sys, torch, torchvision; "
        "torch.save(torchvision.models.resnet18(weights=None).state_dict(), sys.argv[1])"
    )
    assert run([env_python("act"), "-c", code, pth]).returncode == 0
    env = tool_env(TORCH_HOME=str(torch_home))
    # Not the real file (its hash differs from the name's): imported deliberately.
    imp = run([*train_cmd()[:2], "scripts.train.weights_import", pth, "--no-verify"], env=env)
    assert imp.returncode == 0, imp.stderr
    assert (torch_home / "hub" / "checkpoints" / RESNET18_FILE).is_file()
    proc, err = launch(*args, knob, TORCH_HOME=str(torch_home))
    assert proc.returncode == 0, err


def test_vlm_missing_offline(koch: Path, tmp_path: Path) -> None:
    proc, err = launch(
        "--recipe", "smolvla_cpu", "--dataset", koch, "--dry-run", WEIGHTS_DIR=str(tmp_path)
    )
    assert proc.returncode == 6, proc.stderr
    assert "policy.vlm_model_name=tiny-smolvlm2" in err and str(tmp_path / "tiny-smolvlm2") in err
    assert "make weights-import FROM=" in err


def test_pretrained_policy_missing_offline(koch: Path, weights: Path) -> None:
    proc, err = launch(
        "--recipe",
        "smolvla_cpu",
        "--dataset",
        koch,
        "--dry-run",
        "--",
        "--policy.path=lerobot/smolvla_base",
        WEIGHTS_DIR=str(weights),
    )
    assert proc.returncode == 6, proc.stderr
    assert "policy.path=lerobot/smolvla_base" in err and "smolvla_base" in err


def test_foreign_output_dir_is_not_touched(koch: Path, tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    proc, err = launch("--recipe", "act_cpu", "--dataset", koch, "--out", out, "--dry-run")
    assert proc.returncode == 7 and "holds no LeRobot checkpoint" in err
    assert (out / "notes.txt").read_text() == "keep me"


def test_gr2_smolvla_cpu_dry_run_raises_dims(gr2: Path, weights: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc, _err = launch(
        "--recipe", "smolvla_cpu", "--dataset", gr2, "--out", out, "--dry-run",
        WEIGHTS_DIR=str(weights),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    cmd = shlex.split([ln for ln in proc.stdout.splitlines() if "lerobot-train" in ln][-1])
    assert "--policy.max_state_dim=45" in cmd and "--policy.max_action_dim=37" in cmd
    assert f"--dataset.root={gr2.resolve()}" in cmd
    assert "--dataset.repo_id=local/gr2_v30" in cmd
    assert "--policy.push_to_hub=false" in cmd
    assert f"--policy.vlm_model_name={(weights / 'tiny-smolvlm2').resolve()}" in cmd
    assert "--dataset.video_backend=pyav" in cmd
    assert "policy.max_state_dim raised 32 -> 45" in proc.stdout
    assert not out.exists()  # a dry run writes nothing


def test_language_policy_needs_task_text(tmp_path: Path, weights: Path) -> None:
    ds = make_v30(tmp_path / "notext", "koch", episodes=1, frames=8, task_text=" ")
    proc, err = launch(
        "--recipe", "smolvla_cpu", "--dataset", ds, "--dry-run", WEIGHTS_DIR=str(weights)
    )
    assert proc.returncode == 3, proc.stderr
    assert "no task text" in err and "--dataset.single_task" in err


def test_rename_map_when_pretrained_cameras_differ(tmp_path: Path, koch: Path) -> None:
    """A pretrained policy (written here by LeRobot) with other camera names gets a map."""
    pretrained = tmp_path / "pretrained"
    pretrained.mkdir()
    code = (
        "import sys; from lerobot.policies.act.configuration_act import ACTConfig; "
        "from lerobot.configs.types import PolicyFeature, FeatureType; "
        "c = ACTConfig(device='cpu', pretrained_backbone_weights=None); "
        "c.input_features = {f'observation.images.{n}': PolicyFeature(FeatureType.VISUAL, "
        "(3, 96, 128)) for n in ('front', 'wrist')}; "
        "c.input_features['observation.state'] = PolicyFeature(FeatureType.STATE, (6,)); "
        "c.output_features = {'action': PolicyFeature(FeatureType.ACTION, (6,))}; "
        "c._save_pretrained(__import__('pathlib').Path(sys.argv[1]))"
    )
    proc = run([env_python("act"), "-c", code, pretrained])
    assert proc.returncode == 0, proc.stderr
    (pretrained / "model.safetensors").write_bytes(b"")  # presence only: a dry run loads nothing
    proc, _err = launch(
        "--recipe", "act_cpu", "--dataset", koch, "--dry-run", "--", f"--policy.path={pretrained}"
    )
    assert proc.returncode == 0, proc.stderr
    assert "camera observation.images.laptop -> observation.images.front" in proc.stdout
    cmd = shlex.split([ln for ln in proc.stdout.splitlines() if "lerobot-train" in ln][-1])
    assert any(a.startswith("--rename_map=") and "images.wrist" in a for a in cmd)
    assert not any(a.startswith("--policy.type") for a in cmd)


def test_gpus_n_dry_run_prints_accelerate_command_and_effective_batch(koch: Path) -> None:
    """GPUS=2 on a GPU recipe, as a CPU dry run (issue 16): the exact accelerate launch line
    and the batch arithmetic, with the recipe's own batch size."""
    import yaml

    recipe = yaml.safe_load((Path(__file__).parents[2] / "recipes/act_24g.yaml").read_text())
    bs = int(recipe["batch_size"])
    args = ("--recipe", "act_24g", "--dataset", koch, "--gpus", "2", "--dry-run")
    no_weights = ("--", "--policy.pretrained_backbone_weights=null")  # none needed for a dry run
    proc = run(train_cmd(*args, *no_weights), env=tool_env())
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    line = next(ln for ln in out.splitlines() if "accelerate" in ln and "lerobot-train" in ln)
    words = shlex.split(line[line.index("/") :] if "/" in line else line)
    i = next(k for k, w in enumerate(words) if w.endswith("/accelerate"))
    assert words[i + 1 : i + 4] == ["launch", "--multi_gpu", "--num_processes=2"], words
    # one non-finite guard per process (scripts/train/guard.py), then LeRobot's own trainer
    assert words[i + 4 : i + 6] == ["-m", "scripts.train.guard"], words
    assert words[i + 6].endswith("/envs/act/.venv/bin/lerobot-train"), words
    assert f"--batch_size={bs}" in words
    assert f"effective batch: {bs} per process x 2 GPU(s) = {2 * bs}" in out


def test_non_finite_data_refused_as_make_validate_does(koch: Path, tmp_path: Path) -> None:
    """A NaN in one action row: make validate rejects it, so make train DRY_RUN=1 must too."""
    import shutil

    from scripts.bench.corpus import nan_action
    from validators.runner import validate_dataset

    ds = tmp_path / "nan"
    shutil.copytree(koch, ds)
    nan_action(ds)
    assert "data.non_finite" in {f.check_id for f in validate_dataset(ds).errors}
    proc, err = launch("--recipe", "act_cpu", "--dataset", ds, "--dry-run")
    assert proc.returncode == 3, proc.stderr
    assert err.startswith(f"train: error: DATASET={ds}: [data.non_finite] (data/"), err
    assert "'action' has NaN/Inf in 1 row(s) of episode 1" in err
