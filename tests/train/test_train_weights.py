"""make weights-import puts carried-in weights exactly where make train's preflight looks.

PI0 is the case with the most pieces offline: the pretrained policy dir and the PaliGemma
tokenizer in the HF cache. The run is a dry run with policy.device=cpu (no GPU here), so the
files only need to be where they belong; what they contain is LeRobot's business at launch.
"""

from __future__ import annotations

import json
import sys
import tarfile
from pathlib import Path

from conftest import run
from helpers.train_common import tool_env, train_cmd


def weights_import(*args: object, env: dict[str, str]):
    return run([sys.executable, "-m", "scripts.train.weights_import", *args], env=env)


def test_pi0_offline_weights_flow(koch: Path, tmp_path: Path) -> None:
    env = tool_env(WEIGHTS_DIR=str(tmp_path / "w"), HF_HOME=str(tmp_path / "hf"))
    dry = [
        *train_cmd("--recipe", "pi0_24g", "--dataset", koch, "--dry-run"),
        "--",
        "--policy.device=cpu",
        "--policy.chunk_size=10",  # the test episodes are 30 frames; readiness checks this
        "--policy.n_action_steps=10",
    ]
    proc = run(dry, env=env)
    assert proc.returncode == 6, proc.stderr
    assert "policy.path=lerobot/pi0_base" in proc.stderr
    assert str(tmp_path / "w" / "pi0_base") in proc.stderr

    # The users' carried-in layout: a policy dir named "pi0" and an HF cache in one archive.
    carry = tmp_path / "carry"
    pi0 = carry / "models" / "pi0"
    pi0.mkdir(parents=True)
    (pi0 / "config.json").write_text(json.dumps({"type": "pi0", "max_state_dim": 32}))
    (pi0 / "model.safetensors").write_bytes(b"\0" * 16)
    snap = carry / "hub" / "models--google--paligemma-3b-pt-224" / "snapshots" / "abc123"
    snap.mkdir(parents=True)
    (snap / "config.json").write_text("{}")
    (snap / "tokenizer_config.json").write_text("{}")
    archive = tmp_path / "weights.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(carry / "models", arcname="models")
        tf.add(carry / "hub", arcname="hub")

    imp = weights_import(archive, env=env)
    assert imp.returncode == 0, imp.stderr
    assert (tmp_path / "w" / "pi0_base" / "model.safetensors").is_file()
    assert (tmp_path / "hf" / "hub" / "models--google--paligemma-3b-pt-224").is_dir()
    proc = run(dry, env=env)
    assert proc.returncode == 0, proc.stderr
    assert f"--policy.path={tmp_path / 'w' / 'pi0_base'}" in proc.stdout

    again = weights_import(archive, env=env)
    assert again.returncode == 0 and "kept existing" in again.stdout
    forced = weights_import(archive, "--force", env=env)
    assert forced.returncode == 0 and "previous kept as pi0_base.prev-" in forced.stdout


def test_unrecognised_input_is_one_line(tmp_path: Path) -> None:
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "readme.txt").write_text("hello")
    proc = weights_import(junk, env=tool_env(WEIGHTS_DIR=str(tmp_path / "w")))
    assert proc.returncode == 2
    assert proc.stderr.startswith("weights-import: error:") and "nothing recognised" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_imported_weights_load_in_lerobot(tmp_path: Path) -> None:
    """Issue 16: not just files in place. A torchvision ResNet-18 checkpoint and a policy dir
    (written by LeRobot's own save_pretrained) go through weights-import; LeRobot's ACT then
    builds its backbone from the imported .pth (torchvision reads TORCH_HOME) and
    ACTPolicy.from_pretrained loads the imported dir, tensor for tensor, and acts."""
    from conftest import env_python

    helper = Path(__file__).parents[1] / "helpers" / "weights_load_check.py"
    carry = tmp_path / "carry"
    carry.mkdir()
    pth, policy = carry / "resnet18-f37072fd.pth", carry / "act_tiny"
    made = run([env_python("act"), helper, "make", pth, policy], timeout=300)
    assert made.returncode == 0, made.stderr[-2000:]
    env = tool_env(WEIGHTS_DIR=str(tmp_path / "w"), TORCH_HOME=str(tmp_path / "torch"))
    imp = weights_import(pth, "--no-verify", env=env)  # home-made: not torchvision's bytes
    assert imp.returncode == 0, imp.stderr
    imp = weights_import(policy, "--name", "act_tiny", env=env)
    assert imp.returncode == 0, imp.stderr
    imported = tmp_path / "w" / "act_tiny"
    assert (tmp_path / "torch/hub/checkpoints/resnet18-f37072fd.pth").is_file()
    assert (imported / "model.safetensors").is_file()
    proc = run([env_python("act"), helper, "load", tmp_path / "torch", imported], timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    facts = json.loads(proc.stdout.strip().splitlines()[-1])
    assert facts == {
        "backbone_is_imported_file": True,
        "policy_equals_imported_file": True,
        "action_shape": [1, 6],
        "action_finite": True,
    }
