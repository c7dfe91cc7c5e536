"""make edit: every op's output validates, loads in LeRobot 0.6.1 and matches its source.

The source is a 6-episode, 2-task, 2-camera dataset LeRobot 0.6.1 recorded itself (built once
per session), each episode still for its first 4 and last 3 frames (sensor noise only); every
test edits a private copy and checks its checksums afterwards.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import run_env
from helpers.edit_common import (
    assert_exact_stats,
    assert_layout,
    assert_same_rows,
    checksums,
    edit,
    episodes,
    lerobot_loads,
    rows,
    tasks,
    validates,
)
from helpers.train_common import cached, make_v30

EPISODES, FRAMES = 6, 20
STILL_HEAD, STILL_TAIL = 4, 3


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> Path:
    return cached(
        tmp_path_factory,
        "edit-src",
        lambda p: make_v30(p, episodes=EPISODES, frames=FRAMES, still=f"{STILL_HEAD},{STILL_TAIL}"),
    )


@pytest.fixture(scope="module")
def work(tmp_path_factory, recorded) -> dict:
    """Every op run once on a private copy; tests assert on the outputs."""
    base = tmp_path_factory.mktemp("edit")
    src = base / "src"
    shutil.copytree(recorded, src)
    before = checksums(src)
    out: dict = {"src": src, "base": base, "before": before, "logs": {}}

    def do(name, op, dataset, *knobs):
        proc = edit(op, dataset, base / name, *knobs)
        assert proc.returncode == 0, proc.stderr[-3000:]
        out["logs"][name] = proc.stdout
        return base / name

    do("delete", "delete", src, "EPISODES=1,3")
    do("keep", "keep", src, "EPISODES=last:50%")
    do("split", "split", src, "SPLIT=train:0.7,val:0.3")
    do("merged", "merge", f"{base / 'split/train'},{base / 'split/val'}")
    do("resplit", "split", base / "merged", "SPLIT=train:0-3,val:4,5")
    do("trim", "trim", src, "HEAD=2", "TAIL=0.1s")
    do("trim_odd", "trim", src, "HEAD=3", "EPISODES=0")
    do("idle", "trim-idle", src)
    do("fps2", "fps", src, "FACTOR=2")
    do("fps3", "fps", src, "FACTOR=3")
    do("rename", "rename-task", src, "TASK=pick the cube", "NEW_TASK=pick up the cube")
    do("drop", "drop-feature", src, "FEATURE=observation.images.phone")
    return out


def test_source_never_modified(work):
    assert checksums(work["src"]) == work["before"]


def test_delete_and_keep(work):
    src, delete, keep = work["src"], work["base"] / "delete", work["base"] / "keep"
    assert_layout(delete, 4, 4 * FRAMES)
    for new, old in enumerate([0, 2, 4, 5]):
        assert_same_rows(delete, new, src, old)
    # last:50% per task: tasks alternate, so episodes 2, 4 (task 0) and 3, 5 (task 1)
    assert_layout(keep, 4, 4 * FRAMES)
    for new, old in enumerate([2, 3, 4, 5]):
        assert_same_rows(keep, new, src, old)
    for d in (delete, keep):
        assert_exact_stats(d)
        validates(d)
    log = work["logs"]["delete"]
    assert "before: 6 episodes, 120 frames, 4.0 s at 30 fps, 2 tasks" in log
    assert "after:  4 episodes, 80 frames, 2.7 s at 30 fps, 2 tasks" in log
    assert "160 frames stream-copied, 0 re-encoded" in log


def test_split_counts_and_merge_then_split_gives_the_originals(work):
    base = work["base"]
    train, val = base / "split/train", base / "split/val"
    assert_layout(train, 4, 4 * FRAMES)  # round(6 x 0.7) = 4
    assert_layout(val, 2, 2 * FRAMES)
    assert (base / "split/.lerobot-ops-edit.json").is_file()
    merged = base / "merged"
    assert_layout(merged, 6, 6 * FRAMES)
    assert tasks(merged) == tasks(work["src"])
    for part in ("train", "val"):
        again, orig = base / "resplit" / part, base / "split" / part
        assert rows(again).equals(rows(orig)), part
        assert tasks(again) == tasks(orig)
    for d in (train, val, merged):
        assert_exact_stats(d)


def test_trim_copies_on_keyframes_and_counts_reencoded_frames(work):
    src, trim, odd = work["src"], work["base"] / "trim", work["base"] / "trim_odd"
    assert_layout(trim, 6, 6 * (FRAMES - 5))
    for e in range(6):
        assert_same_rows(trim, e, src, e, start=2)
    assert "0 re-encoded" in work["logs"]["trim"]  # cuts on keyframes (g=2): stream copy
    t = rows(trim)
    assert t["frame_index"].to_pylist()[:3] == [0, 1, 2]
    assert_layout(odd, 6, 6 * FRAMES - 3)
    assert_same_rows(odd, 0, src, 0, start=3)
    assert "re-encoded" in work["logs"]["trim_odd"]
    assert " 0 re-encoded" not in work["logs"]["trim_odd"].splitlines()[-1]
    for d in (trim, odd):
        assert_exact_stats(d)
        validates(d)


def test_trim_idle_cuts_exactly_the_still_head_and_tail(work):
    src, idle = work["src"], work["base"] / "idle"
    moving = FRAMES - STILL_HEAD - STILL_TAIL
    assert_layout(idle, 6, 6 * moving)
    for e in range(6):
        assert_same_rows(idle, e, src, e, start=STILL_HEAD)
    assert "0 re-encoded" in work["logs"]["idle"].splitlines()[-1]
    assert_exact_stats(idle)
    validates(idle)


@pytest.mark.parametrize(("name", "k"), [("fps2", 2), ("fps3", 3)])
def test_fps_keeps_every_kth_frame(work, name, k):
    src, out = work["src"], work["base"] / name
    per = len(range(0, FRAMES, k))
    assert_layout(out, 6, 6 * per)
    for e in range(6):
        assert_same_rows(out, e, src, e, step=k)
    info = json.loads((out / "meta/info.json").read_text())
    assert info["fps"] == 30 // k
    assert {ft["info"]["video.fps"] for ft in info["features"].values() if "info" in ft} == {
        30 // k
    }
    last = work["logs"][name].splitlines()[-1]
    if k == 2:  # LeRobot encodes g=2: every kept frame is a keyframe, so packets are copied
        assert f"{2 * 6 * per} frames stream-copied, 0 re-encoded" in last, last
    else:  # every third frame is not always a keyframe: re-encoded, and said so
        assert f"0 frames stream-copied, {2 * 6 * per} re-encoded" in last, last
    assert_exact_stats(out)
    validates(out)


def test_rename_and_drop(work):
    src, rename, drop = work["src"], work["base"] / "rename", work["base"] / "drop"
    assert tasks(rename) == ["pick up the cube", "place the cube"]
    assert rows(rename).equals(rows(src))
    assert episodes(rename)[0]["tasks"] == ["pick up the cube"]
    info = json.loads((drop / "meta/info.json").read_text())
    assert "observation.images.phone" not in info["features"]
    assert not (drop / "videos/observation.images.phone").exists()
    assert not any("phone" in k for k in episodes(drop)[0])
    for d in (rename, drop):
        validates(d)


def test_every_output_loads_in_lerobot_with_the_source_frames(work, tmp_path):
    src, base = str(work["src"]), work["base"]

    def whole(root, eps):
        return {"episodes": [[str(root), e, 0] for e in eps]}

    checks = [
        (base / "delete", whole(src, [0, 2, 4, 5])),
        (base / "split/val", whole(src, [4, 5])),
        (base / "merged", whole(src, range(6))),
        (base / "trim", {"episodes": [[src, e, 2] for e in range(6)]}),
        (
            base / "trim_odd",
            {"episodes": [[src, 0, 3]] + whole(src, range(1, 6))["episodes"], "pixels": 0.02},
        ),
        (base / "idle", {"episodes": [[src, e, STILL_HEAD] for e in range(6)]}),
        (base / "fps2", {"episodes": [[src, e, 0, 2] for e in range(6)]}),
        (base / "fps3", {"episodes": [[src, e, 0, 3] for e in range(6)], "pixels": 0.02}),
        (
            base / "rename",
            whole(src, range(6)) | {"renames": {"pick the cube": "pick up the cube"}},
        ),
        (base / "drop", whole(src, range(6))),
    ]
    seen = lerobot_loads(tmp_path, checks)
    assert [s["episodes"] for s in seen] == [4, 2, 6, 6, 6, 6, 6, 6, 6, 6]
    assert [s["fps"] for s in seen][5:8] == [30, 15, 10]
    assert [s["frames"] for s in seen][5:8] == [6 * 13, 6 * 10, 6 * 7]
    print(
        f"re-encoded pixel error (mean |a-b|): trim {seen[4]['pixel_error']:.4f}, "
        f"fps3 {seen[7]['pixel_error']:.4f}"
    )


@pytest.mark.parametrize(
    ("op", "knobs", "message"),
    [
        ("delete", ["EPISODES=2,99"], "EPISODES=99: episode 99 not in the dataset (it has 0-5)"),
        ("delete", ["EPISODES=all"], "deletes every episode (0-5); nothing would be left"),
        ("split", ["SPLIT=a:0-3,b:3-5"], "splits a and b overlap (episodes 3)"),
        ("trim", ["HEAD=15", "TAIL=10"], "trims 25 frames from episode 0, which has 20"),
        ("trim-idle", ["IDLE=50"], "IDLE=50: episode 0 never moves (observation.state within"),
        ("trim-idle", ["IDLE=-1"], "IDLE=-1: must be > 0"),
        ("trim-idle", ["MOTION=nope"], "MOTION=nope: not a feature of"),
        ("fps", ["FACTOR=4"], "FACTOR=4: does not divide the dataset's fps 30 (these do: 2, 3, 5"),
        ("fps", ["FACTOR=1"], "FACTOR=1: want a whole number >= 2"),
        ("fps", [], "OP=fps: give FACTOR=k"),
        ("frobnicate", [], "OP=frobnicate: unknown; one of delete, keep, split, merge"),
        ("rename-task", ["TASK=nope", "NEW_TASK=x"], "TASK='nope': not a task of"),
        ("drop-feature", ["FEATURE=index"], "FEATURE=index: LeRobot needs this column"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(work, op, knobs, message, tmp_path):
    dst = tmp_path / "out"
    proc = edit(op, work["src"], dst, *knobs)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and message in proc.stderr, proc.stderr
    assert not dst.exists() and not list(tmp_path.glob(".out.*"))
    assert checksums(work["src"]) == work["before"]


def test_merge_refuses_other_fps_or_features_naming_the_difference(work, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(work["src"], other)
    info = json.loads((other / "meta/info.json").read_text())
    info["fps"] = 15
    (other / "meta/info.json").write_text(json.dumps(info))
    proc = edit("merge", f"{work['src']},{other}", tmp_path / "m")
    assert proc.returncode == 1 and "fps 30 vs 15" in proc.stderr, proc.stderr
    proc = edit("merge", f"{work['src']},{work['base'] / 'drop'}", tmp_path / "m")
    assert proc.returncode == 1
    assert "feature 'observation.images.phone' only in" in proc.stderr, proc.stderr
    assert not (tmp_path / "m").exists()


def test_dst_rules(work, tmp_path):
    src = work["src"]
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "keep.txt").write_text("mine")
    proc = edit("delete", src, theirs, "EPISODES=1", "--force")
    assert proc.returncode == 1 and "not an output of this toolkit" in proc.stderr
    assert (theirs / "keep.txt").read_text() == "mine"
    proc = edit("delete", src, src / "inside", "EPISODES=1")
    assert proc.returncode == 1 and "sources are never modified" in proc.stderr
    ours = tmp_path / "ours"
    assert edit("delete", src, ours, "EPISODES=1").returncode == 0
    proc = edit("delete", src, ours, "EPISODES=2")
    assert proc.returncode == 1 and "FORCE=1 replaces it" in proc.stderr
    assert edit("delete", src, ours, "EPISODES=2", "--force").returncode == 0
    assert len(episodes(ours)) == 5 and not list(tmp_path.glob(".ours.*"))
    assert checksums(src) == work["before"]


@pytest.mark.parametrize("stage", ["edit-data", "edit-video", "edit-publish"])
def test_sigkill_mid_edit_leaves_the_source_and_no_dst(work, tmp_path, stage):
    env = run_env() | {"LEROBOT_OPS_CONVERT_KILL_AT": stage}
    dst = tmp_path / "out"
    proc = edit("delete", work["src"], dst, "EPISODES=0", env=env)
    assert proc.returncode == -9, proc.stderr[-2000:]
    assert not dst.exists()
    assert checksums(work["src"]) == work["before"]
    again = edit("delete", work["src"], dst, "EPISODES=0")  # cleans the dead run's temp
    assert again.returncode == 0, again.stderr[-2000:]
    assert not list(tmp_path.glob(".out.*"))
