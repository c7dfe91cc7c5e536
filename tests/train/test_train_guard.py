"""make train end to end with hold-out and a NaN at step K: one real tiny lerobot-train run.

``make train RECIPE=act_cpu HOLDOUT=0.25 EVAL_EVERY=2`` on a 4-episode dataset written by
LeRobot 0.6.1, checkpoints every 2 steps, and a real NaN injected into step 6's loss
(``LEROBOT_OPS_TEST_NAN_AT_STEP``, scripts/train/guard.py). The one run (~1 min on 2 shared
cores) answers three questions:

- the guard stops it at step 6 with one line, exit 8, and no checkpoint of step 6 exists
  (``checkpoints/last`` is step 4's);
- ``make eval OUT=run`` with no EPISODES scores the episodes LeRobot itself held out;
- ``make plot`` reads the eval loss and the gradient norm LeRobot logged beside the loss.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import env_python, run
from helpers.train_common import cached, make_v30, tool_env

from scripts.train.plot_loss import parse_series

NAN_AT = 6
SAVE_EVERY = 2
HOLDOUT = 0.25
# 4 episodes, tasks alternating (pick, place, pick, place): ceil(2 x 0.25) = 1 per task
HELD_OUT = [2, 3]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cached(
        tmp_path_factory, "koch4x10_v30", lambda p: make_v30(p, "koch", episodes=4, frames=10)
    )


@pytest.fixture(scope="module")
def nan_run(dataset: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("guard") / "run"
    args = f"--steps=10 --save_freq={SAVE_EVERY} --log_freq=1"
    cmd = ["make", "-s", "train", "RECIPE=act_cpu", f"DATASET={dataset}", f"OUT={out}",
           f"HOLDOUT={HOLDOUT}", f"EVAL_EVERY={SAVE_EVERY}", f"ARGS={args}"]  # fmt: skip
    proc = run(cmd, env=tool_env(LEROBOT_OPS_TEST_NAN_AT_STEP=str(NAN_AT)), timeout=900)
    return out, proc


@pytest.mark.slow
def test_nan_at_step_k_stops_with_one_line_and_keeps_the_last_good_checkpoint(nan_run) -> None:
    out, proc = nan_run
    assert proc.returncode != 0
    # LeRobot's output and the guard's line reach the terminal as one stream (run.py's pump)
    said = proc.stdout + proc.stderr
    ours = [ln for ln in said.splitlines() if ln.startswith("train: error:")]
    assert len(ours) == 1, said[-3000:]
    assert ours[0].startswith(
        f"train: error: step {NAN_AT}: loss is nan, gradient norm is nan; stopped before step "
        f"{NAN_AT} was checkpointed; last good checkpoint: step {NAN_AT - SAVE_EVERY} ("
    ), ours[0]
    assert json.loads((out / "launch.json").read_text())["exit_code"] == 8
    saved = sorted(p.name for p in (out / "checkpoints").iterdir() if p.name != "last")
    assert saved == [f"{s:06d}" for s in range(SAVE_EVERY, NAN_AT, SAVE_EVERY)], saved
    last = out / "checkpoints" / "last"
    assert last.resolve().name == f"{NAN_AT - SAVE_EVERY:06d}"
    step = json.loads((last / "training_state" / "training_step.json").read_text())["step"]
    assert step == NAN_AT - SAVE_EVERY
    log = (out / "train.log").read_text()
    assert ours[0] in log
    assert f"step:{NAN_AT - 1} smpl" in log and f"step:{NAN_AT} smpl" not in log
    assert "loss:nan" not in log  # it stopped before LeRobot logged a NaN


@pytest.mark.slow
def test_holdout_run_is_evaluated_on_what_lerobot_held_out(
    nan_run, dataset: Path, tmp_path: Path
) -> None:
    out, proc = nan_run
    assert f"[train] hold-out: 2 of 4 episodes (2-3; the last ceil(n x {HOLDOUT:g})" in proc.stdout
    assert f"--dataset.eval_split={HOLDOUT}" in proc.stdout and "--eval_steps=2" in proc.stdout
    log = (out / "train.log").read_text()
    assert "Train/eval split: 2 train, 2 eval" in log
    # LeRobot's own split, from the run's train_config.json through its own factory
    model = out / "checkpoints" / "last" / "pretrained_model"
    code = (
        "import sys, json; import lerobot.policies.act.configuration_act; "
        "from lerobot.configs.train import TrainPipelineConfig; "
        "from lerobot.datasets.factory import make_train_eval_datasets; "
        "cfg = TrainPipelineConfig.from_pretrained(sys.argv[1]); "
        "print(json.dumps(sorted(make_train_eval_datasets(cfg)[1].episodes)))"
    )
    ref = run([env_python("act"), "-c", code, model], timeout=300)
    assert ref.returncode == 0, ref.stderr[-2000:]
    lerobot_held = json.loads(ref.stdout.strip().splitlines()[-1])
    assert lerobot_held == HELD_OUT

    report = tmp_path / "eval.json"
    ev = run(["make", "-s", "eval", f"OUT={out}", f"DATASET={dataset}", f"JSON={report}"],
             timeout=600)  # fmt: skip
    assert ev.returncode == 0, ev.stdout[-2000:] + ev.stderr[-2000:]
    doc = json.loads(report.read_text())
    assert doc["episodes_source"] == "heldout"
    (ck,) = doc["checkpoints"]
    assert ck["episodes"] == lerobot_held and ck["step"] == NAN_AT - SAVE_EVERY


@pytest.mark.slow
def test_plot_draws_eval_loss_and_grad_norm_from_the_real_log(nan_run) -> None:
    out, _proc = nan_run
    series = parse_series((out / "train.log").read_text())
    assert [s for s, _ in series["loss"]] == list(range(1, NAN_AT))
    assert [s for s, _ in series["eval_loss"]] == list(range(SAVE_EVERY, NAN_AT, SAVE_EVERY))
    assert [s for s, _ in series["grad_norm"]] == list(range(1, NAN_AT))
    assert series["mem_gb"] == []  # LeRobot logs mem_gb only on CUDA
    png = out / "loss.png"
    png.unlink(missing_ok=True)
    proc = run(["make", "-s", "plot", f"OUT={out}"], timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"{NAN_AT - 1} points" in proc.stdout and "eval loss 2 points" in proc.stdout
    assert "grad norm" in proc.stdout and "memory" not in proc.stdout


def test_what_counts_as_non_finite() -> None:
    from scripts.train.guard import verdict

    nan, inf = float("nan"), float("inf")
    assert verdict(nan, nan, scaler=False) == "loss is nan, gradient norm is nan"
    assert verdict(1.0, inf, scaler=False) == "gradient norm is inf"
    assert verdict(1.0, inf, scaler=True) is None  # fp16 GradScaler probing: it skips the step
    assert verdict(nan, inf, scaler=True) == "loss is nan, gradient norm is inf"
    assert verdict(0.5, 2.0, scaler=False) is None


def test_guarded_command_keeps_lerobot_train_in_the_line() -> None:
    from scripts.train.guard import command

    exe = "/e/.venv/bin/lerobot-train"
    assert command([exe, "--steps=2"]) == [
        "/e/.venv/bin/python", "-m", "scripts.train.guard", exe, "--steps=2"]  # fmt: skip
    acc = ["/e/.venv/bin/accelerate", "launch", "--multi_gpu", "--num_processes=2", exe, "--x=1"]
    assert command(acc) == [*acc[:4], "-m", "scripts.train.guard", exe, "--x=1"]
