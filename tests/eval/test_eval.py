"""make eval on real LeRobot checkpoints and datasets (no mocks).

- a run trained by lerobot-train ranks ahead of its random-init and perturbed twins, on the
  episodes the run held out (found from its train config), with a bootstrap verdict;
- the JSON numbers equal an independent per-frame computation (tests/helpers/eval_reference.py)
  to 1e-4 relative, on a dataset with two video cameras;
- every bad input is one line, exit 2, no traceback, nothing written or modified;
- make bench-eval prints both parts side by side and where they stand against the device:
  never a timing gate, but the FLOPs a frame it reports must equal ResNet-18's convolutions
  on the checkpoint's two camera shapes, counted by hand (a per-batch count, or a camera
  missed, fails), and every ratio it prints must be the ratio of the frames/s it prints.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import shutil
import statistics
from pathlib import Path

import pytest
from conftest import FIXTURE_V21, REPO, env_python, run
from helpers import deploy_common, eval_common
from jsonschema import Draft202012Validator

SCHEMA = json.loads((REPO / "validators/schemas/eval_report.schema.json").read_text())
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def tools_eval(*args: object, timeout: float = 600):
    """The command ``make eval`` runs (the tools-env launcher, which execs the policy env)."""
    py = REPO / "envs" / "tools" / ".venv" / "bin" / "python"
    return run([py, "-m", "scripts.eval", *[str(a) for a in args]], timeout=timeout)


def digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode() + p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def state_ds(tmp_path_factory) -> Path:
    return eval_common.state_dataset(tmp_path_factory)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    return eval_common.trained_run(tmp_path_factory)


@pytest.fixture(scope="module")
def twins(tmp_path_factory) -> dict[str, Path]:
    return eval_common.variants(tmp_path_factory)


@pytest.fixture(scope="module")
def koch(tmp_path_factory) -> Path:
    return deploy_common.dataset(tmp_path_factory)


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory) -> Path:
    return deploy_common.checkpoint(tmp_path_factory)


@pytest.mark.slow
def test_trained_ranks_ahead_of_random_and_perturbed(
    state_ds: Path, trained: Path, twins: dict[str, Path], tmp_path: Path
) -> None:
    before = digest(state_ds), digest(trained)
    out, png = tmp_path / "eval.json", tmp_path / "eval.png"
    ckpts = f"{twins['random']},{trained},{twins['perturbed']}"
    proc = run(
        ["make", "eval", f"CHECKPOINT={ckpts}", f"DATASET={state_ds}", f"JSON={out}", f"PNG={png}"],
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    doc = json.loads(out.read_text())
    Draft202012Validator(SCHEMA).validate(doc)
    assert png.read_bytes()[:8] == PNG_MAGIC
    # EPISODES defaulted to what the run held out: LeRobot's eval_split rule on its config
    assert doc["episodes_source"] == "heldout"
    by = {c["path"]: c for c in doc["checkpoints"]}
    assert by[str(trained)]["episodes"] == eval_common.HELD_OUT
    assert "Train/eval split: 8 train, 4 eval" in (trained / "train.log").read_text()
    assert by[str(trained)]["step"] == eval_common.TRAIN_STEPS
    assert doc["ranking"][0]["path"] == str(trained)
    verdicts = {(c["better"], c["worse"]): c for c in doc["comparisons"]}
    for twin in twins.values():
        c = verdicts[(str(trained), str(twin))]
        assert c["beats"] and c["ci95"][0] > 0, c
        assert c["verdict"] == f"{trained} beats {twin}"
    assert by[str(trained)]["mae"] * 2 < min(by[str(t)]["mae"] for t in twins.values())
    assert set(by[str(trained)]["per_joint_mae"]) == {
        f"{j}.pos"
        for j in (
            "shoulder_pan",
            "shoulder_lift",
            "elbow_flex",
            "wrist_flex",
            "wrist_roll",
            "gripper",
        )
    }
    assert f"{trained} beats {twins['random']}" in proc.stdout
    assert (digest(state_ds), digest(trained)) == before


@pytest.mark.slow
def test_step_picks_a_checkpoint_of_the_run(state_ds: Path, trained: Path, tmp_path: Path) -> None:
    out = tmp_path / "e.json"
    proc = tools_eval("--checkpoint", trained, "--dataset", state_ds, "--step",
                      eval_common.SAVE_FREQ, "--episodes", "10-11", "--json", out)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (c,) = json.loads(out.read_text())["checkpoints"]
    assert c["step"] == eval_common.SAVE_FREQ and c["episodes"] == [10, 11]
    assert c["model_dir"].endswith(f"checkpoints/{eval_common.SAVE_FREQ:06d}/pretrained_model")


@pytest.mark.slow
def test_numbers_equal_an_independent_computation(
    koch: Path, tiny_ckpt: Path, tmp_path: Path
) -> None:
    """Two video cameras, batched windows vs LeRobot's per-frame __getitem__ and padding."""
    out = tmp_path / "e.json"
    proc = tools_eval(
        "--checkpoint",
        tiny_ckpt,
        "--dataset",
        koch,
        "--episodes",
        "1-2",
        "--json",
        out,
        "--batch",
        7,
    )  # fmt: skip  (7: windows straddle episodes)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (ours,) = json.loads(out.read_text())["checkpoints"]
    ref_proc = run([env_python("act"), REPO / "tests/helpers/eval_reference.py", tiny_ckpt, koch,
                    "1,2"], timeout=600)  # fmt: skip
    assert ref_proc.returncode == 0, ref_proc.stderr[-3000:]
    ref = json.loads(ref_proc.stdout.strip().splitlines()[-1])
    assert ours["frames"] == ref["frames"] == 60

    def close(a: float, b: float) -> bool:
        return math.isclose(a, b, rel_tol=1e-4)

    assert close(ours["mae"], ref["mae"]) and close(ours["rmse"], ref["rmse"])
    assert ours["per_joint_mae"].keys() == ref["per_joint_mae"].keys()
    assert all(close(ours["per_joint_mae"][k], v) for k, v in ref["per_joint_mae"].items())
    assert ours["per_episode_mae"].keys() == ref["per_episode_mae"].keys()
    assert all(close(ours["per_episode_mae"][k], v) for k, v in ref["per_episode_mae"].items())
    assert len(ours["per_horizon_mae"]) == len(ref["per_horizon_mae"]) == 10
    assert all(close(a, b) for a, b in zip(ours["per_horizon_mae"], ref["per_horizon_mae"],
                                           strict=True))  # fmt: skip


def one_line_error(proc) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-1000:], proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("eval: error: ")]
    assert len(lines) == 1, proc.stderr[-2000:]
    return lines[0]


def test_features_that_do_not_match_name_both_sides(tmp_path_factory, tiny_ckpt: Path) -> None:
    other = deploy_common.other_cameras_dataset(tmp_path_factory)
    line = one_line_error(tools_eval("--checkpoint", tiny_ckpt, "--dataset", other))
    assert f"{tiny_ckpt} does not fit DATASET={other}" in line
    assert "checkpoint cameras ['laptop', 'phone'] vs dataset cameras ['front', 'side']" in line


def test_state_size_mismatch(state_ds: Path, tiny_ckpt: Path) -> None:
    line = one_line_error(tools_eval("--checkpoint", tiny_ckpt, "--dataset", state_ds))
    assert "checkpoint cameras ['laptop', 'phone'] vs dataset cameras []" in line


def test_a_dataset_not_v30(tiny_ckpt: Path) -> None:
    line = one_line_error(tools_eval("--checkpoint", tiny_ckpt, "--dataset", FIXTURE_V21))
    assert line == (
        f"eval: error: {FIXTURE_V21}/meta/info.json: codebase_version 'v2.1', want 'v3.0' "
        f"(convert it first: make convert SRC={FIXTURE_V21})"
    )


def test_an_episode_that_does_not_exist(koch: Path, tiny_ckpt: Path) -> None:
    line = one_line_error(
        tools_eval("--checkpoint", tiny_ckpt, "--dataset", koch, "--episodes", "1,7")
    )
    assert line == "eval: error: EPISODES=7: episode 7 not in the dataset (it has 0-2)"


def test_a_run_folder_with_no_checkpoint(koch: Path, tmp_path: Path) -> None:
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    line = one_line_error(tools_eval("--checkpoint", tmp_path / "run", "--dataset", koch))
    assert f"CHECKPOINT={tmp_path / 'run'}: run folder with no checkpoint in" in line


def test_a_missing_step(koch: Path, tmp_path: Path, tiny_ckpt: Path) -> None:
    run_dir = tmp_path / "run" / "checkpoints" / "000010"
    run_dir.mkdir(parents=True)
    shutil.copytree(tiny_ckpt, run_dir / "pretrained_model")
    line = one_line_error(
        tools_eval("--checkpoint", tmp_path / "run", "--dataset", koch, "--step", 20)
    )
    assert line.endswith("STEP=20: " + str(tmp_path / "run") + " has no such checkpoint (steps 10)")


def test_a_truncated_safetensors_file(koch: Path, tiny_ckpt: Path, tmp_path: Path) -> None:
    bad = shutil.copytree(tiny_ckpt, tmp_path / "bad")
    w = bad / "model.safetensors"
    w.write_bytes(w.read_bytes()[: w.stat().st_size // 2])
    before = digest(bad)
    out = tmp_path / "e.json"
    line = one_line_error(tools_eval("--checkpoint", bad, "--dataset", koch, "--json", out))
    assert f"{w}: corrupted safetensors file (truncated: tensors need" in line
    assert not out.exists() and digest(bad) == before


@pytest.mark.slow
def test_a_safetensors_file_lerobot_refuses(koch: Path, tiny_ckpt: Path, tmp_path: Path) -> None:
    """A well-formed file with a renamed tensor passes the header check; LeRobot 0.6.1's
    from_pretrained would load it (strict=False), leaving that layer at random init. Loaded
    strictly in the policy env, it is refused in one line naming the tensors."""
    bad = shutil.copytree(tiny_ckpt, tmp_path / "bad")
    w = bad / "model.safetensors"
    data = w.read_bytes()
    name = b"model.action_head.weight"
    assert name in data[:200_000]
    w.write_bytes(data.replace(name, b"model.action_head.weighX", 1))
    out = tmp_path / "e.json"
    line = one_line_error(tools_eval("--checkpoint", bad, "--dataset", koch, "--json", out))
    assert line.startswith(f"eval: error: {bad}: LeRobot cannot load it (RuntimeError: ")
    assert "model.action_head.weighX" in line
    assert not out.exists()


def test_bad_output_path_fails_before_any_work(koch: Path, tiny_ckpt: Path, tmp_path: Path) -> None:
    out = tmp_path / "missing" / "e.json"
    line = one_line_error(tools_eval("--checkpoint", tiny_ckpt, "--dataset", koch, "--json", out))
    assert "JSON=" in line and "does not exist" in line


def test_make_eval_requires_checkpoint() -> None:
    proc = run(["make", "eval", "CKPT=", "OUT="], timeout=60)
    assert proc.returncode != 0
    assert "CHECKPOINT is required: make eval CHECKPOINT=<value>" in proc.stderr


def test_device_cuda_without_cuda_is_one_line(koch: Path, tiny_ckpt: Path, tmp_path: Path) -> None:
    """DEVICE goes through the same code on CPU and CUDA; asking for CUDA where there is none
    is refused in one line (skipped on a machine that has CUDA)."""
    probe = run([env_python("act"), "-c", "import torch; print(torch.cuda.is_available())"])
    if probe.stdout.strip() == "True":
        pytest.skip("this machine has CUDA")
    out = tmp_path / "e.json"
    line = one_line_error(tools_eval("--checkpoint", tiny_ckpt, "--dataset", koch,
                                     "--device", "cuda", "--json", out))  # fmt: skip
    assert line == "eval: error: DEVICE=cuda: this machine has no CUDA device (use DEVICE=cpu)"
    assert not out.exists()


def resnet18_conv_flops(height: int, width: int, dim_model: int) -> int:
    """2 x multiply-adds of ACT's backbone (torchvision ResNet-18 up to layer4) + its 1x1 proj."""
    total = 0

    def conv(cin: int, cout: int, k: int, s: int, p: int, h: int, w: int) -> tuple[int, int]:
        nonlocal total
        h, w = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
        total += 2 * cout * h * w * cin * k * k
        return h, w

    h, w = conv(3, 64, 7, 2, 3, height, width)
    h, w = (h + 2 - 3) // 2 + 1, (w + 2 - 3) // 2 + 1  # max pool 3, stride 2, pad 1
    cin = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        if stride != 1:
            conv(cin, cout, 1, stride, 0, h, w)  # downsample
        h1, w1 = conv(cin, cout, 3, stride, 1, h, w)
        conv(cout, cout, 3, 1, 1, h1, w1)
        conv(cout, cout, 3, 1, 1, h1, w1)
        conv(cout, cout, 3, 1, 1, h1, w1)
        h, w, cin = h1, w1, cout
    conv(512, dim_model, 1, 1, 0, h, w)  # encoder_img_feat_input_proj
    return total


def test_bench_eval_reports_both_parts_and_the_device_ceiling(koch: Path, tiny_ckpt: Path) -> None:
    proc = run(
        [env_python("act"), "-m", "scripts.eval.bench", "--checkpoint", tiny_ckpt,
         "--dataset", koch, "--batch", "8", "--repeat", "2"],
        timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    naive = [float(x) for x in re.findall(r"^naive select_action loop\s+([\d.]+)", out, re.M)]
    ours = [float(x) for x in re.findall(r"^make eval \(batch 8\)\s+([\d.]+)", out, re.M)]
    assert len(naive) == len(ours) == 2, out
    with_rss = r"^(?:naive select_action loop|make eval \(batch 8\))(?:\s+[\d.]+){3}$"
    rss = re.findall(with_rss, out, re.M)
    assert len(rss) == 2, out  # peak RSS after each part of the first pair
    pairs = re.search(r"median of 2 \(([^)]*)\)", out)[1].replace("x", "").split(",")
    for got, n_fps, o_fps in zip(map(float, pairs), naive, ours, strict=True):
        # frames/s and ratios are printed rounded to 0.1: the true ratio lies in [low, high]
        low, high = (o_fps - 0.05) / (n_fps + 0.05) - 0.05, (o_fps + 0.05) / (n_fps - 0.05) + 0.05
        assert low <= got <= high, (got, n_fps, o_fps)

    cfg = json.loads((tiny_ckpt / "config.json").read_text())
    cams = [f["shape"] for f in cfg["input_features"].values() if f["type"] == "VISUAL"]
    assert len(cams) == 2, cfg["input_features"]
    expected = sum(resnet18_conv_flops(h, w, cfg["dim_model"]) for _, h, w in cams) / 1e6
    work = re.search(r"work: ([\d.]+) MFLOP a frame \(convolutions ([\d.]+), other ([\d.]+);", out)
    assert work, out
    total, conv, other = map(float, work.groups())
    assert conv == pytest.approx(expected, abs=0.06), (conv, expected)
    assert 0 < other < conv and total == pytest.approx(conv + other, abs=0.11)

    # printed rounded: rate and work to 0.1, the ceiling and the shares to 1
    rate = float(re.search(r"measured in this run: ([\d.]+) GFLOP/s", out)[1])
    ceiling = float(re.search(r"would run ([\d.]+) frames/s", out)[1])
    low, high = (rate - 0.05) * 1e3 / (total + 0.05), (rate + 0.05) * 1e3 / (total - 0.05)
    assert low - 0.5 <= ceiling <= high + 0.5, (ceiling, rate, total)
    share = r"^(naive|make eval): [\d.]+ GFLOP/s, (\d+) % of that rate"
    got = int(dict(re.findall(share, out, re.M))["make eval"])
    fps = statistics.median(ours)
    low, high = 100 * (fps - 0.05) / (ceiling + 0.5), 100 * (fps + 0.05) / (ceiling - 0.5)
    assert low - 0.5 <= got <= high + 0.5, (got, fps, ceiling)
