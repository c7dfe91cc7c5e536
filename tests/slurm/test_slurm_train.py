"""``make train ... NODES=2 SLURM=1`` on the real local two-node cluster, act_cpu on CPU.

The acceptance of issue 14: one world of 2 processes across the two nodes, read from the run's
own LeRobot log (never assumed: ``accelerate launch --cpu`` would train one model per node and
exit 0); one checkpoint; a second submission resumes from it; scancel mid-run leaves a last
checkpoint LeRobot loads, and the next submission resumes from that; a USR1 preemption notice
requeues the job and the requeued attempt resumes. Five job starts in all, tiny steps: the cost
is LeRobot's start-up (~20-60 s on 2 shared cores), not training.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from conftest import env_python
from helpers.slurm_cluster import Slurm, poll, slurm  # noqa: F401  (the session's cluster)

from scripts.slurm import ckpt

pytestmark = pytest.mark.slow
WORLD = re.compile(r"^INFO .* Effective batch size: 4 x (\d+) = (\d+)", re.MULTILINE)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("slurm_train") / "run"


def train(s: Slurm, dataset: Path, out: Path, args: str, wait: bool = True):  # type: ignore[no-untyped-def]
    knobs = [f"DATASET={dataset}", f"OUT={out}", "RECIPE=act_cpu", "NODES=2", "SLURM=1",
             f"ARGS={args}", *(["WAIT=1"] if wait else [])]  # fmt: skip
    proc = s.make("train", *knobs, timeout=420)
    m = re.search(r"submitted job (\d+)", proc.stdout)
    assert m, f"no job submitted:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc, m.group(1), out.with_name(f"{out.name}.slurm") / f"train-{m.group(1)}.log"


def steps_in(out: Path) -> list[str]:
    return [p.name for p in ckpt.step_dirs(out)]


def last_step(out: Path) -> int:
    f = out / "checkpoints" / "last" / "training_state" / "training_step.json"
    try:
        return int(json.loads(f.read_text())["step"])
    except (OSError, ValueError, KeyError):
        return 0


def test_world_check_fails_the_cpu_trap(tmp_path: Path) -> None:
    """Two nodes each training alone log two worlds of 1 (and exit 0): the job must fail."""
    line = "INFO 2026-11-30 02:35:10 ot_train.py:446 Effective batch size: 4 x {} = {}\n"
    mark = "[slurm] job 7 attempt 0 starts on n[1-2]"
    log = tmp_path / "train-7.log"
    log.write_text(f"{mark}\n" + line.format(1, 4) * 2)
    assert ckpt.world(log, 2, mark) == 1
    log.write_text(line.format(1, 4) + f"{mark}\n" + line.format(2, 8))  # an earlier attempt
    assert ckpt.world(log, 2, mark) == 0
    log.write_text(f"{mark}\nTraceback (most recent call last):\n")
    assert ckpt.world(log, 2, mark) == 1


def test_bad_knobs_fail_in_one_line_and_dry_run_writes_nothing(
    slurm: Slurm,  # noqa: F811
    koch: Path,
    tmp_path: Path,
) -> None:
    out = tmp_path / "dry"
    base = ["train", "RECIPE=act_cpu", f"DATASET={koch}", f"OUT={out}", "SLURM=1"]
    too_many = slurm.make(*base, "NODES=3", timeout=300)
    assert too_many.returncode != 0
    assert "train: error: NODES=3: the default partition has 2 node(s): NODES=2" in too_many.stderr
    local = slurm.make(*base[:-1], "NODES=2", timeout=60)  # no SLURM=1: refused, not ignored
    assert "NODES=2 runs on Slurm: make train ... NODES=2 SLURM=1" in local.stderr, local.stderr
    word = slurm.make(*base, "NODES=two", timeout=300)
    assert "train: error: NODES=two: a whole number of nodes" in word.stderr
    gpus = slurm.make(*base, "NODES=2", "GPUS=2", timeout=300)
    assert "train: error: GPUS=2 with CPU recipe act_cpu" in gpus.stderr, gpus.stderr
    dry = slurm.make(*base, "NODES=2", "DRY_RUN=1", timeout=300)
    assert dry.returncode == 0, dry.stderr
    assert not out.exists() and not out.with_name("dry.slurm").exists()
    script = dry.stdout[dry.stdout.index("#!/usr/bin/env bash") :].split("[train/slurm]")[0]
    assert "#SBATCH --requeue" in script and "#SBATCH --signal=B:USR1@60" in script
    # every process trains under the NaN guard, as a local make train does (scripts/train/guard.py)
    assert '-m scripts.train.guard "${BIN}/lerobot-train" "${TRAIN_ARGS[@]}"' in script
    if shutil.which("shellcheck"):
        (tmp_path / "t.sbatch").write_text(script)
        sc = slurm.run(["shellcheck", "-s", "bash", tmp_path / "t.sbatch"])
        assert sc.returncode == 0, sc.stdout


def test_two_nodes_form_one_world_and_write_one_checkpoint(
    slurm: Slurm,  # noqa: F811
    koch: Path,
    run_dir: Path,
) -> None:
    proc, job, log = train(slurm, koch, run_dir, "--steps=2 --save_freq=2")
    text = log.read_text(errors="replace")
    assert proc.returncode == 0, f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}\n{text[-3000:]}"
    assert "--num_machines 2 --num_processes 2" in proc.stdout  # the printed sbatch
    assert '--machine_rank "${SLURM_NODEID}"' in proc.stdout
    assert "effective batch: 4 per process x 2 process(es) = 8" in proc.stdout
    worlds = [int(m.group(1)) for m in WORLD.finditer(text)]
    assert worlds == [2], f"LeRobot's logged world sizes {worlds} (want one world of 2)"
    assert "one world of 2 processes" in text
    assert "[rank0]" in text and "[rank1]" in text  # both ranks ran (DDP's own warnings)
    assert steps_in(run_dir) == ["000002"]
    assert ckpt.incomplete(run_dir / "checkpoints" / "last") is None
    assert f"job {job}: COMPLETED, exit 0" in proc.stdout
    assert " step:2 " in (run_dir / "train.log").read_text()  # as a local run keeps it


def test_resume_then_scancel_leaves_a_loadable_checkpoint(
    slurm: Slurm,  # noqa: F811
    koch: Path,
    run_dir: Path,
) -> None:
    assert steps_in(run_dir) == ["000002"], "needs the first test's run"
    # A second submission asking for more steps resumes from step 2; cancel it mid-run.
    proc, job, log = train(slurm, koch, run_dir, "--steps=400 --save_freq=2", wait=False)
    assert proc.returncode == 0, proc.stderr
    poll(lambda: last_step(run_dir) >= 4, 240, "the resumed run's checkpoint at step 4", 0.5)
    cancel = slurm.run(["scancel", job])
    assert cancel.returncode == 0, cancel.stderr
    poll(lambda: not slurm.run(["squeue", "-h", "-j", job]).stdout.strip(), 90, "job to end")
    text = log.read_text(errors="replace")
    assert "[slurm] resuming from" in text and "Resuming data order" in text, text[-3000:]
    assert [int(m.group(1)) for m in WORLD.finditer(text)] == [2]
    last = run_dir / "checkpoints" / "last"
    assert ckpt.incomplete(last) is None, ckpt.incomplete(last)
    load = slurm.run([env_python("act"), "-c", (
        "import sys; from lerobot.policies.act.modeling_act import ACTPolicy; "
        "p = ACTPolicy.from_pretrained(sys.argv[1]); print(type(p).__name__)"),
        str(last / "pretrained_model")], timeout=300)  # fmt: skip
    assert load.returncode == 0 and "ACTPolicy" in load.stdout, load.stderr[-2000:]


def test_resubmission_resumes_and_a_preemption_notice_requeues_and_resumes(
    slurm: Slurm,  # noqa: F811
    koch: Path,
    run_dir: Path,
) -> None:
    """After the scancel: resubmitted, the run resumes from that last checkpoint; then USR1
    (what --signal=B:USR1@60 sends before the time limit) requeues it and it resumes again."""
    before = last_step(run_dir)
    assert before > 0, "needs the earlier tests' run"
    proc, job, log = train(slurm, koch, run_dir, "--steps=400 --save_freq=2", wait=False)
    assert proc.returncode == 0, proc.stderr
    poll(lambda: "[slurm] resuming from" in (log.read_text() if log.exists() else ""), 120,
         "the resubmitted job to start")  # fmt: skip
    assert f"[slurm] resuming from {run_dir}/checkpoints/last ({before:06d})" in log.read_text()
    poll(lambda: last_step(run_dir) >= before + 2, 240, "a checkpoint of the resumed run", 0.5)
    sig = slurm.run(["scancel", "--signal=USR1", "--batch", job])
    assert sig.returncode == 0, sig.stderr

    def second_attempt_resumed() -> bool:
        text = log.read_text(errors="replace")
        return "attempt 1 starts" in text and "Resuming data order" in text.split("attempt 1")[-1]

    poll(second_attempt_resumed, 240, "the requeued attempt to resume", 0.5)
    slurm.run(["scancel", job])
    poll(lambda: not slurm.run(["squeue", "-h", "-j", job]).stdout.strip(), 90, "job to end")
    text = log.read_text(errors="replace")
    settled = re.search(r"no checkpoint being written \(last: (\d+)\)", text)
    assert "[slurm] USR1" in text and settled, text[-3000:]
    resumed = re.findall(r"resuming from .*/checkpoints/last \((\d+)\)", text)[-1]
    assert int(resumed) >= int(settled.group(1)) > before
    assert ckpt.incomplete(run_dir / "checkpoints" / "last") is None


def test_repair_points_last_at_the_newest_complete_checkpoint(
    slurm: Slurm,  # noqa: F811  (skips with the others when Slurm is missing)
    run_dir: Path,
    tmp_path: Path,
) -> None:
    """A checkpoint cut short mid-write (truncated weights, last already swapped) is set aside."""
    assert steps_in(run_dir), "needs the run of the training tests above (a real checkpoint)"
    out = tmp_path / "run"
    shutil.copytree(run_dir, out, symlinks=True)
    newest = ckpt.step_dirs(out)[-1]
    cut = newest.with_name(f"{int(newest.name) + 2:06d}")
    shutil.copytree(newest, cut)
    weights = cut / "pretrained_model" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    ckpt.point_last(out, cut)
    assert ckpt.incomplete(cut) == "pretrained_model/model.safetensors truncated"
    assert ckpt.repair(out) == 0
    assert os.readlink(out / "checkpoints" / "last") == newest.name
    assert not cut.exists() and list((out / "checkpoints").glob(f".incomplete-{cut.name}-*"))


def test_a_nan_stops_the_slurm_job_with_the_guards_line(
    slurm: Slurm,  # noqa: F811
    koch: Path,
    tmp_path: Path,
) -> None:
    """The same guard as local make train, on the real cluster: a real NaN at step 2 (guard.py's
    test knob, exported to the job by sbatch) stops both ranks; step 1's checkpoint stays last."""
    out = tmp_path / "nan"
    knobs = [f"DATASET={koch}", f"OUT={out}", "RECIPE=act_cpu", "NODES=2", "SLURM=1",
             "ARGS=--steps=4 --save_freq=1", "WAIT=1"]  # fmt: skip
    env = {**slurm.env, "LEROBOT_OPS_TEST_NAN_AT_STEP": "2"}
    proc = slurm.run(["make", "train", *knobs], timeout=420, env=env)
    m = re.search(r"submitted job (\d+)", proc.stdout)
    assert m, f"no job submitted:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    text = (out.with_name("nan.slurm") / f"train-{m.group(1)}.log").read_text(errors="replace")
    assert proc.returncode != 0, text[-3000:]
    assert "train: error: step 2: loss is nan" in text, text[-3000:]
    # one rank's exit 8 ends the world: srun --kill-on-bad-exit stops the other (143)
    assert re.search(r"\[slurm\] training step exited [1-9]", text), text[-3000:]
    assert steps_in(out) == ["000001"] and last_step(out) == 1
