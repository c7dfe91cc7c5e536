"""make smoke on CPU: ACT on Koch-like and GR2-like v3.0 data, Diffusion on GR2-like data,
SmolVLA with the tiny VLM.

Each trains for real (lerobot-train), reloads the checkpoint with LeRobot 0.6.1 and runs
select_action on a dataset frame. Plus the checks' own ability to fail.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
from conftest import run
from helpers.train_common import tool_env

from scripts.train import preflight as pf
from scripts.train.plot_loss import parse_log
from scripts.train.smoke import loss_went_down
from scripts.train.smoke_check import failures


def smoke(dataset: Path, out: Path, *args: str, **env: str):
    cmd = [sys.executable, "-m", "scripts.train.smoke", "--dataset", dataset, "--out", out, *args]
    proc = run(cmd, env=tool_env(**env), timeout=1200)
    report = json.loads((out / "smoke.json").read_text()) if (out / "smoke.json").is_file() else {}
    return proc, report


@pytest.mark.slow
def test_act_smoke_on_koch(koch: Path, tmp_path: Path) -> None:
    proc, rep = smoke(koch, tmp_path / "act")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert rep["failures"] == [] and rep["action_shape"] == [1, 6]
    assert rep["checkpoint_image_keys"] == [
        "observation.images.laptop",
        "observation.images.phone",
    ]
    assert "[smoke] OK act_cpu" in proc.stdout


@pytest.mark.slow
def test_act_smoke_on_gr2(gr2: Path, tmp_path: Path) -> None:
    proc, rep = smoke(gr2, tmp_path / "gr2", "--steps", "6")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert rep["action_shape"] == [1, 37]
    assert len(rep["checkpoint_image_keys"]) == 2


def has_diffusers(env: str) -> bool:
    """LeRobot 0.6.1 builds Diffusion's DDPM scheduler with diffusers (its ``diffusion`` extra)."""
    py = pf.env_dir(env) / "bin" / "python"
    return run([py, "-c", "import diffusers"], timeout=120).returncode == 0


@pytest.mark.slow
def test_diffusion_smoke_on_gr2(gr2: Path, tmp_path: Path) -> None:
    """diffusion_cpu trains (tiny U-Net, ResNet-18 from scratch), reloads and acts on GR2 shapes.

    GR2-like data because LeRobot's Diffusion needs all cameras at one shape (Koch's are not).
    """
    assert has_diffusers("act"), "envs/act has no diffusers: its lock carries lerobot[diffusion]"
    proc, rep = smoke(gr2, tmp_path / "diff", "--recipe", "diffusion_cpu")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert rep["failures"] == [] and rep["policy_type"] == "diffusion"
    assert rep["action_shape"] == [1, 37]
    assert len(rep["checkpoint_image_keys"]) == 2
    assert "[smoke] OK diffusion_cpu" in proc.stdout


@pytest.mark.slow
def test_smolvla_smoke_with_tiny_vlm(koch: Path, weights: Path, tmp_path: Path) -> None:
    proc, rep = smoke(koch, tmp_path / "svla", "--recipe", "smolvla_cpu", WEIGHTS_DIR=str(weights))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert rep["policy_type"] == "smolvla" and rep["action_shape"] == [1, 6]
    assert rep["failures"] == []


def test_loss_checks_can_fail() -> None:
    assert loss_went_down([5.0, 4.0, 3.0, 2.0])
    assert not loss_went_down([2.0, 2.0, 3.0, 4.0])
    assert not loss_went_down([1.0])
    log = "step:1 smpl:4 ep:0 epch:0.1 loss:nan grdn:1\nstep:2K smpl:8K ep:1 loss:0.5 grdn:1\n"
    assert [s for s, _ in parse_log(log)] == [1, 2000]
    facts = {
        "action_shape": [1, 7],
        "expected_action_shape": [1, 6],
        "action_finite": False,
        "checkpoint_image_keys": ["a"],
        "dataset_image_keys": ["b"],
    }
    assert len(failures(facts)) == 3


@pytest.mark.parametrize("bad", ["nan", "inf"])
def test_non_finite_loss_fails_the_smoke(tmp_path: Path, bad: str) -> None:
    """make smoke's own log check (issue 16): a NaN/inf loss among falling ones is named as
    such, not passed and not mistaken for a loss that did not go down."""
    from scripts.train.smoke import check_log

    losses = ["5.0", "4.0", bad, "2.0", "1.0"]
    log = tmp_path / "train.log"
    log.write_text(
        "".join(
            f"step:{i + 1} smpl:{4 * (i + 1)} ep:0 epch:0.{i} loss:{v} grdn:1.0 lr:1.0e-05\n"
            for i, v in enumerate(losses)
        )
    )
    fails, got = check_log(log)
    assert len(got) == 5 and not math.isfinite(got[2])
    assert len(fails) == 1 and fails[0].startswith("non-finite loss logged"), fails
    good = tmp_path / "good.log"
    good.write_text(log.read_text().replace(f"loss:{bad}", "loss:3.0"))
    assert check_log(good)[0] == []
