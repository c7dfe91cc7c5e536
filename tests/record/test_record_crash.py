"""Crash safety: SIGKILL of the recorder, make repair, RESUME=1 (issue 24).

Real parts: LeRobot 0.6.1's KochLeader / KochFollower over the Dynamixel simulator's ptys,
replayed cameras, LeRobot's LeRobotDataset writing, a real SIGKILL (from outside at a random
moment of a frame, or the process killing itself at a named point inside save_episode /
finalize through LEROBOT_OPS_RECORD_KILL_AT, since those windows last milliseconds), then
``python -m scripts.session.repair`` and ``python -m validators`` in the tools env and
LeRobot loading the result. Every episode committed before the kill (its journal line)
must come out of repair with its data and video files bit-identical (sha256 as journaled
at save time); RESUME=1 then adds episodes with consecutive indices.

CI runs 5 kill moments; RECORD_KILLS=all adds save-video and episode-0 points plus
RECORD_KILL_RANDOM (default 12) random frame moments; RECORD_KILLS=a,b runs only those.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from helpers.motors_sim import REPO, TRANSPORT_SIGNS
from helpers.record_sim import bed, lerobot_check, replay_source, tools

from scripts.session import journal, salvage

CI_KILLS = ["frame", "save-data:1", "save-meta:1", "save-journal:1", "finalize-stats:end"]
MORE = ["save-video:1", "save-journal:0", "save-data:0"]
RESUMED = {"frame", "save-meta:1"}  # the kills after which a RESUME=1 session also runs
RECORD = ["--task", "stack the cube", "--episodes", "2", "--episode-s", "1", "--reset-s", "0.2",
          "--fps", "30", "--no-camera-check"]  # fmt: skip


def kills() -> list[str]:
    """RECORD_KILLS: unset (CI), ``all``, or a comma list of kill points (e.g. save-meta:1)."""
    knob = os.environ.get("RECORD_KILLS", "")
    if knob and knob != "all":
        return knob.split(",")
    if knob != "all":
        return CI_KILLS
    n = int(os.environ.get("RECORD_KILL_RANDOM", "12"))
    return CI_KILLS + MORE + [f"frame#{i}" for i in range(n)]


def run_killed(b, dataset: Path, kill: str, rng: random.Random) -> tuple[int, str]:
    """Record until killed; returns (exit code, output)."""
    env = b.env()
    if not kill.startswith("frame"):
        env["LEROBOT_OPS_RECORD_KILL_AT"] = kill
    proc = subprocess.Popen(
        b.record_cmd(dataset, *RECORD), cwd=REPO, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    out = []
    deadline = time.monotonic() + 180
    assert proc.stdout is not None
    for line in proc.stdout:
        out.append(line)
        if kill.startswith("frame") and "episode 1: recording" in line:
            time.sleep(rng.uniform(0.05, 0.9))  # somewhere inside episode 1's frames
            proc.send_signal(signal.SIGKILL)
        if time.monotonic() > deadline:
            proc.kill()
    return proc.wait(timeout=60), "".join(out)


def resume(b, fixed: Path) -> subprocess.CompletedProcess:
    """RESUME=1 for one more episode; run again when a pty timeout stopped it before any
    episode was saved (nothing changes in DATASET then; see helpers.motors_sim)."""
    for _ in range(3):
        res = subprocess.run(
            b.record_cmd(fixed, "--resume", *RECORD[:2], "--episodes", "1", "--episode-s", "1",
                         "--reset-s", "0", "--no-camera-check"),
            env=b.env(), capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        late = any(sign in res.stderr for sign in TRANSPORT_SIGNS) and "saved" not in res.stderr
        if res.returncode == 0 or not late:
            break
    return res


def check_salvage(ds: Path, committed: list[dict]) -> Path:
    """``make repair SALVAGE=1`` of a recording killed during episode 1's frames."""
    out = ds.with_name(ds.name + "_salvaged")
    rep = tools("-m", "scripts.session.repair", ds, "--dst", out, "--salvage")
    assert rep.returncode == 0, f"salvage failed:\n{rep.stderr}"
    kept = journal.read(out)
    assert [r["episode_index"] for r in kept] == list(range(len(committed) + 1)), rep.stderr
    for rec in committed:
        for rel, digest in rec["files"].items():
            assert journal.sha256(out / rel) == digest, f"salvage: {rel} changed"
    part = kept[-1]
    logged = salvage.read_rows(journal.partial_rows(ds, part["episode_index"]))
    assert part.get("salvaged") and 2 <= part["length"] <= len(logged), (part, rep.stderr)
    rows = pq.read_table(out / next(r for r in part["files"] if r.startswith("data/"))).to_pylist()
    assert [r["frame_index"] for r in rows] == list(range(part["length"]))
    assert rows[0]["index"] == committed[-1]["dataset_to_index"]
    for row, log in zip(rows, logged, strict=False):  # the values as logged, float32-exact
        assert row["action"] == log["v"]["action"]
        assert row["observation.state"] == log["v"]["observation.state"]
    val = tools("-m", "validators", out)  # standard mode: exact float64 stats included
    assert val.returncode == 0, f"salvage: validator:\n{val.stdout[-3000:]}"
    print(f"salvage: kept {part['length']} of {len(logged)} logged frames: {rep.stderr[-300:]}")
    return out


def test_sigkill_repair_resume(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    replay = replay_source(tmp_path_factory.mktemp("replay"))
    rng = random.Random(24)
    checked: list[Path] = []
    resumed: dict[Path, int] = {}
    timings = []
    with bed(tmp_path, replay) as b:
        for i, kill in enumerate(kills()):
            ds = tmp_path / f"kill{i}"
            t = time.perf_counter()
            rc, out = run_killed(b, ds, kill, rng)
            print(f"{kill}: killed after {time.perf_counter() - t:.1f} s")
            for retry in "bc":  # a pty timeout under box load (helpers.motors_sim): again
                if rc == -signal.SIGKILL or not any(s in out for s in TRANSPORT_SIGNS):
                    break
                ds = tmp_path / f"kill{i}{retry}"
                rc, out = run_killed(b, ds, kill, rng)
            assert rc == -signal.SIGKILL, f"{kill}: recorder not killed (exit {rc}):\n{out[-3000:]}"
            committed = journal.read(ds)
            # killed while episode 0 was being saved (RECORD_KILLS=all): nothing committed yet
            assert committed or kill.endswith(":0"), f"{kill}: nothing committed:\n{out[-2000:]}"
            t = time.perf_counter()
            rep = tools("-m", "scripts.session.repair", ds)
            timings.append(time.perf_counter() - t)
            fixed = ds.with_name(ds.name + "_repaired")
            if kill == "save-data:0":  # episode 0's data file has no footer: nothing complete
                errors = [ln for ln in rep.stderr.splitlines() if ln.startswith("repair: error:")]
                assert rep.returncode != 0 and len(errors) == 1, rep.stderr
                assert "no complete episode" in errors[0] and "Traceback" not in rep.stderr
                assert not fixed.exists(), f"{kill}: repair wrote {fixed}"
                print(f"{kill}: {errors[0]}")
                continue
            assert rep.returncode == 0, f"{kill}: repair failed:\n{rep.stderr}"
            if kill == "save-journal:0":  # complete, closed, fsynced, not journaled: kept
                assert [r["episode_index"] for r in journal.read(fixed)] == [0], rep.stderr
            kept = journal.read(fixed)
            assert len(kept) in (len(committed), len(committed) + 1), (kill, rep.stderr)
            for rec in committed:  # every committed episode, its files bit-identical
                for rel, digest in rec["files"].items():
                    assert journal.sha256(fixed / rel) == digest, f"{kill}: {rel} changed"
            assert [r["episode_index"] for r in kept] == list(range(len(kept)))
            val = tools("-m", "validators", fixed)
            assert val.returncode == 0, f"{kill}: validator:\n{val.stdout[-3000:]}"
            checked.append(fixed)
            if kill == "frame":  # SALVAGE=1: the killed episode's complete frames kept too
                checked.append(check_salvage(ds, committed))
            if kill in RESUMED:
                before = len(kept)
                res = resume(b, fixed)
                assert res.returncode == 0, f"{kill}: RESUME=1 failed:\n{res.stderr[-3000:]}"
                after = journal.read(fixed)
                assert [r["episode_index"] for r in after] == list(range(before + 1))
                assert after[-1]["dataset_from_index"] == after[-2]["dataset_to_index"]
                resumed[fixed] = before + 1
    seen = lerobot_check(checked)
    for path in checked:
        got = seen[str(path)]
        assert "error" not in got, f"LeRobot cannot load {path}: {got}"
        n = len(journal.read(path))
        assert got["episodes"] == n and got["episode_ids"] == list(range(n)), got
        assert got["index_ok"], f"{path}: global index not 0..N-1"
        assert got["lengths"] == [r["length"] for r in journal.read(path)]
    assert set(resumed) <= set(checked)
    print(f"repair times (s): {[round(x, 2) for x in timings]}")
