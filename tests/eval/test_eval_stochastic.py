"""make eval on the stochastic families: tiny random Diffusion, SmolVLA (and PI0 behind a knob).

Each checkpoint is written by LeRobot's own save path (tests/helpers/eval_make_ckpt.py), run
through the launcher (which picks envs/act for Diffusion, envs/smolvla for SmolVLA/PI0) with
real sampling and SEEDS=2, and its numbers are checked against an independent computation
(tests/helpers/eval_reference.py: per-frame ``__getitem__``, LeRobot's delta_timestamps
history and padding, the same documented seed contract) to 1e-4 relative, spread included.

PI0's smallest LeRobot build is ~1.8 B parameters (minutes to build on 2 shared cores): it runs
only with ``EVAL_PI0=1``.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
from conftest import REPO, env_python, run
from helpers.train_common import HELPERS, cached
from jsonschema import Draft202012Validator

SCHEMA = json.loads((REPO / "validators/schemas/eval_report.schema.json").read_text())
PI0 = pytest.mark.skipif(not os.environ.get("EVAL_PI0"), reason="PI0 (1.8 B): set EVAL_PI0=1")


def ckpt(factory, kind: str, dataset: Path, env: str, vlm: Path | None = None) -> Path:
    def build(p: Path) -> None:
        cmd = [env_python(env), HELPERS / "eval_make_ckpt.py", kind, dataset, p]
        proc = run([*cmd, "--vlm", vlm] if vlm else cmd, timeout=900)
        assert proc.returncode == 0, proc.stderr[-3000:]

    return cached(factory, f"eval_{kind}_tiny", build)


def eval_and_reference(model: Path, dataset: Path, env: str, episodes: str, tmp: Path):
    out = tmp / "e.json"
    py = REPO / "envs" / "tools" / ".venv" / "bin" / "python"
    # BATCH 7: windows straddle episodes
    args = ["--checkpoint", model, "--dataset", dataset, "--episodes", episodes]
    args += ["--seeds", "2", "--batch", "7", "--json", out]
    proc = run([py, "-m", "scripts.eval", *args], timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(out.read_text())
    Draft202012Validator(SCHEMA).validate(doc)
    ref_proc = run([env_python(env), HELPERS / "eval_reference.py", model, dataset,
                    episodes, "2", "7"], timeout=1200)  # fmt: skip
    assert ref_proc.returncode == 0, ref_proc.stderr[-3000:]
    return doc["checkpoints"][0], json.loads(ref_proc.stdout.strip().splitlines()[-1])


def check_equal(ours: dict, ref: dict, horizon: int) -> None:
    def close(a: float, b: float) -> bool:
        return math.isclose(a, b, rel_tol=1e-4)

    assert ours["frames"] == ref["frames"] and ours["seeds"] == 2
    assert close(ours["mae"], ref["mae"]) and close(ours["rmse"], ref["rmse"])
    per_seed = ours["spread"]["mae_per_seed"]
    assert all(close(a, b) for a, b in zip(per_seed, ref["mae_per_seed"], strict=True))
    assert ours["spread"]["mae_std"] > 0  # real sampling: the two seeds differ
    assert all(close(ours["per_joint_mae"][k], v) for k, v in ref["per_joint_mae"].items())
    assert all(close(ours["per_episode_mae"][k], v) for k, v in ref["per_episode_mae"].items())
    assert len(ours["per_horizon_mae"]) == len(ref["per_horizon_mae"]) == horizon
    assert all(close(a, b) for a, b in zip(ours["per_horizon_mae"], ref["per_horizon_mae"],
                                           strict=True))  # fmt: skip


@pytest.mark.slow
def test_diffusion_numbers_equal_an_independent_computation(
    tmp_path_factory, gr2: Path, tmp_path: Path
) -> None:
    """Two observation frames per row (n_obs_steps 2), 10 DDPM steps, 8 executed actions."""
    model = ckpt(tmp_path_factory, "diffusion", gr2, "act")
    ours, ref = eval_and_reference(model, gr2, "act", "2", tmp_path)
    assert ours["policy_type"] == "diffusion" and ours["frames"] == 30
    check_equal(ours, ref, horizon=8)


@pytest.mark.slow
def test_smolvla_numbers_equal_an_independent_computation(
    tmp_path_factory, koch: Path, weights: Path, tmp_path: Path
) -> None:
    model = ckpt(tmp_path_factory, "smolvla", koch, "smolvla", weights / "tiny-smolvlm2")
    ours, ref = eval_and_reference(model, koch, "smolvla", "2", tmp_path)
    assert ours["policy_type"] == "smolvla" and ours["frames"] == 30
    check_equal(ours, ref, horizon=10)


@PI0
@pytest.mark.slow
def test_pi0_numbers_equal_an_independent_computation(
    tmp_path_factory, koch: Path, weights: Path, tmp_path: Path
) -> None:
    model = ckpt(tmp_path_factory, "pi0", koch, "smolvla", weights / "tiny-smolvlm2")
    ours, ref = eval_and_reference(model, koch, "smolvla", "2", tmp_path)
    assert ours["policy_type"] == "pi0"
    check_equal(ours, ref, horizon=10)
