"""make edit on the real fixture: LeRobot 0.3.3's v2.1 recording, converted by our converter.

The generated source of test_edit.py is written by LeRobot 0.6.1; this one is the dataset
users actually hold (an old recorder's AV1 streams and stats, through ``make convert``).
It is converted once per session and every operation runs once on it; each output must
have the expected episodes and frames, the source's rows (and, loaded by LeRobot 0.6.1, its
pixels), exact stats, and pass the validator.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import FIXTURE_V21, run
from helpers.edit_common import (
    assert_exact_stats,
    assert_layout,
    assert_same_rows,
    checksums,
    edit,
    episode_rows,
    lerobot_loads,
    rows,
    tasks,
    validates,
)

LENGTHS = (36, 50, 42)  # the fixture's episodes (tests/fixtures/README.md)
IDLE = 1.5  # in the fixture's units (degrees): its arm starts and stops slowly enough


@pytest.fixture(scope="session")
def converted(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("edit-fixture") / "koch_v30"
    cmd = [sys.executable, "-m", "scripts.convert", FIXTURE_V21, "--dst", root, "--quiet"]
    proc = run(cmd, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root


def idle_span(x: np.ndarray, threshold: float) -> tuple[int, int]:
    """The documented rule: moving frames (beyond ``threshold`` of the first / last frame in
    some dimension) plus one still frame each side."""
    head = np.flatnonzero(np.any(np.abs(x - x[0]) > threshold, axis=1))
    tail = np.flatnonzero(np.any(np.abs(x - x[-1]) > threshold, axis=1))
    return max(int(head[0]) - 1, 0), min(int(tail[-1]) + 2, len(x))


@pytest.fixture(scope="module")
def done(converted, tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("edit-fixture-out")
    src = converted
    before = checksums(src)
    logs = {}

    def do(name, op, dataset, *knobs):
        proc = edit(op, dataset, base / name, *knobs)
        assert proc.returncode == 0, f"{name}: {proc.stderr[-3000:]}"
        logs[name] = proc.stdout
        return base / name

    do("delete", "delete", src, "EPISODES=1")
    do("keep", "keep", src, "EPISODES=1")
    do("split", "split", src, "SPLIT=train:0-1,val:2")
    do("merge", "merge", f"{base / 'split/train'},{base / 'split/val'}")
    do("trim", "trim", src, "HEAD=2", "TAIL=4")
    do("idle", "trim-idle", src, f"IDLE={IDLE}")
    do("fps2", "fps", src, "FACTOR=2")
    do("fps3", "fps", src, "FACTOR=3")
    do("rename", "rename-task", src, f"TASK={tasks(src)[0]}", "NEW_TASK=renamed")
    do("drop", "drop-feature", src, "FEATURE=observation.images.phone")
    spans = []
    for e in range(len(LENGTHS)):
        x = np.asarray(episode_rows(src, e)["observation.state"].to_pylist(), dtype=np.float64)
        spans.append(idle_span(x, IDLE))
    return {"src": src, "base": base, "before": before, "logs": logs, "spans": spans}


# name -> [(source episode, first frame, step)] per output episode; None: every frame
WHOLE = [(e, 0, 1) for e in range(3)]
EXPECTED = {
    "delete": [(0, 0, 1), (2, 0, 1)],
    "keep": [(1, 0, 1)],
    "split/train": [(0, 0, 1), (1, 0, 1)],
    "split/val": [(2, 0, 1)],
    "merge": WHOLE,
    "trim": [(e, 2, 1) for e in range(3)],
    "idle": None,  # from the rule, per episode (done["spans"])
    "fps2": [(e, 0, 2) for e in range(3)],
    "fps3": [(e, 0, 3) for e in range(3)],
    "rename": WHOLE,
    "drop": WHOLE,
}


def _plan(done: dict, name: str) -> list[tuple[int, int, int, int]]:
    """(source episode, first, step, frames) per output episode."""
    if name == "idle":
        return [(e, a, 1, b - a) for e, (a, b) in enumerate(done["spans"])]
    tail = 4 if name == "trim" else 0  # TAIL=4
    return [(e, a, k, len(range(a, LENGTHS[e] - tail, k))) for e, a, k in EXPECTED[name]]


@pytest.mark.parametrize("name", list(EXPECTED))
def test_fixture_edit_rows_stats_and_validator(done, name):
    out, src = done["base"] / name, done["src"]
    plan = _plan(done, name)
    assert_layout(out, len(plan), sum(p[3] for p in plan))
    renames = {tasks(src)[0]: "renamed"} if name == "rename" else None
    for new, (e, start, step, _) in enumerate(plan):
        assert_same_rows(out, new, src, e, start=start, step=step, renames=renames)
    assert_exact_stats(out)
    validates(out)
    if name == "rename":
        assert tasks(out)[0] == "renamed" and tasks(out)[1:] == tasks(src)[1:]
    if name == "merge":
        assert rows(out).equals(rows(src))


def test_fixture_idle_trim_removed_something_and_the_source_is_untouched(done):
    assert checksums(done["src"]) == done["before"]
    spans = done["spans"]
    assert sum(b - a for a, b in spans) < sum(LENGTHS)  # the rule did cut frames here
    assert all(b - a > 0 for a, b in spans)
    info = json.loads((done["base"] / "fps3" / "meta/info.json").read_text())
    assert info["fps"] == 10


def test_fixture_outputs_load_in_lerobot_with_the_source_frames(done, tmp_path):
    src = str(done["src"])
    checks = []
    for name in EXPECTED:
        plan = _plan(done, name)
        log = done["logs"][name.split("/")[0]].splitlines()[-1]
        mapping: dict = {"episodes": [[src, e, a, k] for e, a, k, _ in plan]}
        if " 0 re-encoded" not in log:
            mapping["pixels"] = 0.04  # re-encoded (AV1 crf 30): close to the source decode
        if name == "rename":
            mapping["renames"] = {tasks(done["src"])[0]: "renamed"}
        checks.append((done["base"] / name, mapping))
    seen = lerobot_loads(tmp_path, checks)
    assert [s["frames"] for s in seen] == [sum(p[3] for p in _plan(done, n)) for n in EXPECTED]
    print({n: (s["fps"], round(s["pixel_error"], 4)) for n, s in zip(EXPECTED, seen, strict=True)})
