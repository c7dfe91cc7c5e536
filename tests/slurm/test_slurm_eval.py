"""``make eval ... SLURM=1 STEP=all`` on the real local cluster (issue 23, item 4).

A tiny ACT run trained by lerobot-train (tests/helpers/eval_common: two saved steps) fans out
as one array task per saved step plus an afterok merge job; the merged report validates
against the eval schema, and its per-checkpoint numbers and bootstrap interval equal a local
``make eval`` of the same checkpoints on the same episodes (1e-9 relative).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
from conftest import REPO, run
from helpers import eval_common
from helpers.slurm_cluster import Slurm, slurm  # noqa: F401  (the session's cluster)
from jsonschema import Draft202012Validator

from scripts.slurm import client

SCHEMA = json.loads((REPO / "validators/schemas/eval_report.schema.json").read_text())


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


@pytest.mark.slow
def test_step_all_fans_out_one_task_per_checkpoint_and_merges_like_a_local_eval(
    slurm: Slurm,  # noqa: F811
    tmp_path_factory,
    tmp_path: Path,
) -> None:
    ds = eval_common.state_dataset(tmp_path_factory)
    trained = eval_common.trained_run(tmp_path_factory)
    merged = tmp_path / "merged.json"
    proc = slurm.make("eval", f"CHECKPOINT={trained}", "STEP=all", f"DATASET={ds}", "SLURM=1",
                      "WAIT=1", f"JSON={merged}", timeout=600)  # fmt: skip
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    m = re.search(r"array job (\d+) \(2 checkpoint\(s\).*merge job (\d+) \(afterok\)", log)
    assert m, log
    array, merge = m.groups()
    assert f"report: {merged}" in log
    tasks = [(o.state, o.exit_code) for o in client.outcomes(slurm.cluster_env(), array)]
    assert tasks == [("COMPLETED", 0)] * 2, tasks
    assert client.outcomes(slurm.cluster_env(), merge)[0].state == "COMPLETED"
    doc = json.loads(merged.read_text())
    Draft202012Validator(SCHEMA).validate(doc)
    steps = sorted(p for p in (trained / "checkpoints").iterdir() if p.name.isdigit())
    assert [c["path"] for c in doc["checkpoints"]] == [str(p) for p in steps]
    assert doc["episodes_source"] == "heldout"
    assert doc["checkpoints"][0]["episodes"] == eval_common.HELD_OUT

    local = tmp_path / "local.json"
    ckpts = ",".join(str(p) for p in steps)
    proc = run(["make", "eval", f"CHECKPOINT={ckpts}", f"DATASET={ds}", f"JSON={local}"],
               timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    ref = json.loads(local.read_text())
    for ours, theirs in zip(doc["checkpoints"], ref["checkpoints"], strict=True):
        assert ours["path"] == theirs["path"] and ours["frames"] == theirs["frames"]
        assert close(ours["mae"], theirs["mae"]) and close(ours["rmse"], theirs["rmse"])
        for key in ("per_joint_mae", "per_episode_mae"):
            assert ours[key].keys() == theirs[key].keys()
            assert all(close(ours[key][k], theirs[key][k]) for k in ours[key]), key
        assert all(map(close, ours["per_horizon_mae"], theirs["per_horizon_mae"]))
    assert [r["path"] for r in doc["ranking"]] == [r["path"] for r in ref["ranking"]]
    for ours, theirs in zip(doc["comparisons"], ref["comparisons"], strict=True):
        assert ours["verdict"] == theirs["verdict"]
        assert all(map(close, ours["ci95"], theirs["ci95"])), (ours, theirs)


def test_bad_input_submits_nothing(slurm: Slurm, tmp_path: Path) -> None:  # noqa: F811
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    proc = slurm.make("eval", f"CHECKPOINT={tmp_path / 'run'}", "STEP=all",
                      f"DATASET={tmp_path}", "SLURM=1", timeout=120)  # fmt: skip
    assert proc.returncode != 0
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("eval: error:")]
    want = f"eval: error: STEP=all: {tmp_path / 'run'} has no saved checkpoint"
    assert lines == [want], proc.stderr
    assert "Traceback" not in proc.stderr and "submitted" not in proc.stdout
