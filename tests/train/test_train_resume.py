"""make train end to end on CPU: log + plot, interrupt after the first checkpoint, resume.

Real lerobot-train (envs/act) on a v3.0 dataset written by LeRobot 0.6.1 itself.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path

import pytest
from conftest import run
from helpers.train_common import popen_train, tool_env, train_cmd

STEPS = 30
SAVE_FREQ = 10


def steps_logged(log: str) -> list[int]:
    return [int(m) for m in re.findall(r"\bstep:(\d+) smpl", log)]


@pytest.mark.slow
def test_interrupted_run_resumes_and_finished_run_is_kept(koch: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ("--recipe", "act_cpu", "--dataset", koch, "--out", out, "--")
    # 30 steps, a checkpoint every 10: the interrupt after the first one lands with 20 steps
    # to go, a wide margin on a fast machine.
    extra = (f"--steps={STEPS}", f"--save_freq={SAVE_FREQ}", "--log_freq=1")
    proc = popen_train(*args, *extra, env=tool_env())
    first_ckpt = out / "checkpoints" / f"{SAVE_FREQ:06d}" / "training_state" / "training_step.json"
    deadline = time.monotonic() + 600
    while not first_ckpt.is_file() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert first_ckpt.is_file(), proc.communicate()[0][-3000:]
    time.sleep(0.5)  # let LeRobot point checkpoints/last at it
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C, as a user would
    proc.communicate(timeout=120)
    log1 = (out / "train.log").read_text()
    done_first = max(steps_logged(log1))
    assert done_first < STEPS, "the run finished before it could be interrupted"
    last = json.loads((out / "checkpoints/last/training_state/training_step.json").read_text())

    second = run(train_cmd(*args, *extra), env=tool_env(), timeout=900)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-2000:]
    assert f"resuming from checkpoint step {last['step']} towards {STEPS}" in second.stdout
    assert "--resume=true" in second.stdout and "--config_path=" in second.stdout
    resumed = steps_logged(second.stdout)
    assert resumed[0] == last["step"] + 1 and resumed[-1] == STEPS, resumed
    log = (out / "train.log").read_text()
    assert log.startswith(log1[:200])  # one log, appended across both runs
    final = out / "checkpoints" / f"{STEPS:06d}" / "pretrained_model" / "model.safetensors"
    assert final.is_file()
    assert (out / "loss.png").stat().st_size > 1000

    # Finished: a third launch refuses, names the fixes, and changes nothing.
    third = run(train_cmd(*args, f"--steps={STEPS}"), env=tool_env())
    assert third.returncode == 7
    assert f"is a finished run (step {STEPS} of {STEPS})" in third.stderr
    assert "FORCE=1" in third.stderr
    assert (out / "train.log").read_text() == log

    # make plot on demand re-draws the curve from the log.
    png = out / "loss.png"
    png.unlink()
    plot = run([*train_cmd()[:2], "scripts.train.plot_loss", out])
    assert plot.returncode == 0 and png.is_file(), plot.stderr


@pytest.mark.slow
def test_failed_start_leaves_log_in_out_and_next_attempt_keeps_it(
    koch: Path, tmp_path: Path
) -> None:
    """LeRobot dies before its first checkpoint: the log still lands in OUT/train.log.

    The option is a real one (typos are refused by the preflight before anything launches),
    with a value only LeRobot's model build rejects.
    """
    out = tmp_path / "run"
    args = ("--recipe", "act_cpu", "--dataset", koch, "--out", out, "--", "--policy.dim_model=0")
    first = run(train_cmd(*args), env=tool_env())
    assert first.returncode != 0
    assert "embed_dim and num_heads must be greater than 0" in (out / "train.log").read_text()
    assert sorted(p.name for p in out.iterdir()) == ["launch.json", "train.log"]
    second = run(train_cmd(*args), env=tool_env())
    assert second.returncode != 0, "a failed start must not block the next launch"
    log = (out / "train.log").read_text()
    assert "previous attempt above; new attempt below" in log
    assert log.count("--policy.dim_model=0") >= 2
