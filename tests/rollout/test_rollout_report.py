"""The labels end to end on disk: a v3.0 dataset written by the session's CrashSafeWriter
through LabelledSink (envs/act), loaded by LeRobot 0.6.1 with the label and policy id in its
meta/episodes, validated, then ``make rollout REPORT_ONLY=1`` on it: counts equal the labels
given, the Wilson interval and Fisher p are the exact ones, JSON matches its schema, PNG
written. And the knob errors of ``make rollout``, one line each. ~15 s.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import REPO, env_python

from scripts.report.jsonfile import problems
from scripts.rollout import report

# A: 8 success, 2 failure; B: 3 success, 6 failure, 1 partial, 1 aborted -> [[8,2],[3,7]]
LABELS = ["A:success"] * 8 + ["A:failure"] * 2 + ["B:success"] * 3 + ["B:failure"] * 6
LABELS += ["B:partial", "B:aborted"]


def make(*args: str) -> subprocess.CompletedProcess:
    """``make rollout`` (make itself exits 2 on any failing recipe: its 'Error N' says which)."""
    return subprocess.run(["make", "-s", "--no-print-directory", "rollout", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


@pytest.fixture(scope="module")
def rollout_ds(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("rollout") / "ds"
    out = subprocess.run(
        [env_python("act"), REPO / "tests/helpers/rollout_labelled_v30.py", root, ",".join(LABELS)],
        cwd=REPO, capture_output=True, text=True, timeout=120, env={"PYTHONPATH": str(REPO),
        "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    return root, json.loads(out.stdout.strip().splitlines()[-1])


def test_labels_in_lerobot_episode_metadata(rollout_ds) -> None:
    root, seen = rollout_ds
    assert seen["episodes"] == len(LABELS) and seen["frames"] == 5 * len(LABELS)
    assert seen["labels"] == [x.split(":")[1] for x in LABELS]
    assert seen["policy"] == [x.split(":")[0] for x in LABELS]
    assert seen["duration"] == [0.5] * len(LABELS)
    v = subprocess.run([env_python("tools"), "-m", "validators", root], cwd=REPO,
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert v.returncode == 0, v.stdout[-2000:] + v.stderr[-2000:]


def test_report_counts_equal_labels(rollout_ds) -> None:
    root, _ = rollout_ds
    out = make(f"DATASET={root}", "REPORT_ONLY=1")
    assert out.returncode == 0, out.stderr
    rep_path = root / "meta/.lerobot-ops-record/rollout_report.json"
    rep = json.loads(rep_path.read_text())
    assert problems(rep, report.SCHEMA) == []
    assert rep_path.with_suffix(".png").stat().st_size > 1000
    a, b = rep["checkpoints"]
    assert (a["checkpoint"], a["success"], a["failure"], a["attempts"]) == ("A", 8, 2, 10)
    assert (b["success"], b["failure"], b["partial"], b["aborted"], b["attempts"]) == (
        3,
        6,
        1,
        1,
        10,
    )
    assert a["ci95"] == pytest.approx([0.4901625, 0.9433178], abs=1e-6)  # Wilson 8/10
    c = rep["comparisons"][0]
    assert c["table"] == [[8, 2], [3, 7]] and c["two_sided_p"] == pytest.approx(0.0697785187)
    assert c["verdict"].startswith("no difference shown")
    assert rep["aborted"] == [{"episode_index": len(LABELS) - 1, "reason": "aborted"}]
    assert rep["loop"]["stalls"] is None and rep["loop"]["server_rtt_ms_p50_median"] is None
    assert "no difference shown" in out.stdout and "8" in out.stdout


def test_knob_errors_one_line_each(tmp_path: Path) -> None:
    ck = tmp_path / "ck"
    ck.mkdir()
    (ck / "config.json").write_text("{}")
    base = [f"CHECKPOINT={ck}", "TASK=pick", f"DATASET={tmp_path / 'out'}"]
    cases = {
        "EPISODES=0": "EPISODES=0: must be >= 1",
        "ROBOT=ur5": "ROBOT=ur5: unknown robot",
        "SERVER=nohost": "SERVER=nohost: expected host:port",
        f"CHECKPOINT={tmp_path}/nope": "no config.json there",
    }
    for knob, line in cases.items():
        args = [*base, "EPISODES=1", knob] if not knob.startswith("EPISODES") else [*base, knob]
        out = make(*args)
        errors = [s for s in out.stderr.splitlines() if "error" in s and "make:" not in s]
        assert "Error 2" in out.stderr and len(errors) == 1 and line in errors[0], out.stderr
    out = make(*base, "EPISODES=3", "SEED=11", f"CHECKPOINT={ck},{ck}2")
    assert "Error 2" in out.stderr  # ck2 missing
    (tmp_path / "ck2").mkdir()
    (tmp_path / "ck2" / "config.json").write_text("{}")
    out = make(*base, "EPISODES=3", "SEED=11", f"CHECKPOINT={ck},{ck}2")
    # the knobs pass; the control loop then refuses these config-less checkpoints in one line
    assert "Error 2" in out.stderr and "seed 11" in out.stderr and "Traceback" not in out.stderr
    errors = [s for s in out.stderr.splitlines() if "error" in s and "make:" not in s]
    assert len(errors) == 1, out.stderr
    # blind: no line but the refusal (which must name the broken checkpoint) shows a path
    assert all(str(ck) not in s for s in out.stderr.splitlines() if s not in errors)
    assert not (tmp_path / "out").exists()
