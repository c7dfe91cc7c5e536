"""Bad input to ``make record`` (issue 24): one clear line each, a non-zero exit, no
traceback, nothing written (DATASET never created), nothing lost.

Real parts: the two Dynamixel simulators on ptys, LeRobot's OpenCV camera class on a machine
with no camera, the replay camera serving a 15 fps dataset, a 1 MB tmpfs (mounted here when
the box allows it, as root in CI). The cases run through ``make record``'s own ``main`` in one
envs/act process (tests/helpers/record_bad_input.py: LeRobot imported once).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers.motors_sim import ACT_PY, REPO, sim_env
from helpers.record_sim import HELPERS, bed, replay_source, tmpfs, umount

BASE = ["--task", "x", "--episodes", "1", "--episode-s", "1", "--reset-s", "0", "--fps", "30"]


@pytest.fixture
def tiny(tmp_path: Path):
    where = tmp_path / "tiny"
    if not tmpfs(where, "1m"):
        pytest.skip("mount -t tmpfs is not permitted here (needs root): disk-full case skipped")
    yield where
    umount(where)


def run_cases(cases: list[dict], tmp: Path) -> dict:
    spec = tmp / "cases.json"
    spec.write_text(json.dumps(cases))
    res = subprocess.run(
        [str(ACT_PY), str(HELPERS / "record_bad_input.py"), str(spec)],
        cwd=REPO,
        env=sim_env(),
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith("{")]
    assert lines, f"helper printed nothing (exit {res.returncode}): {res.stderr[-3000:]}"
    return json.loads(lines[-1])


def test_bad_input_one_line_each(tmp_path: Path, tmp_path_factory, tiny: Path) -> None:
    replay = replay_source(tmp_path_factory.mktemp("replay"))
    replay15 = replay_source(tmp_path_factory.mktemp("replay15"), fps=15)
    half_calib = tmp_path / "leader-uncalibrated"
    with bed(tmp_path, replay) as b:
        f, ld = b.follower.port, b.leader.port
        shutil.copytree(b.calib / "robots", half_calib / "robots")  # the follower's file only
        cams = ["--cameras", "replay", "--replay", str(replay)]
        calib = {"HF_LEROBOT_CALIBRATION": str(b.calib)}

        def case(name: str, *argv: str, env: dict | None = None, dataset: Path | None = None):
            ds = dataset or tmp_path / f"ds_{name}"
            return {
                "name": name,
                "env": env or calib,
                "ds": str(ds),
                "argv": ["--dataset", str(ds), *BASE, *argv],
            }

        cases = [
            case("no_leader", "--robot-port", f, "--teleop-port", str(tmp_path / "ttyNONE"), *cams),
            case("swapped", "--robot-port", ld, "--teleop-port", f, *cams),
            case(
                "uncalibrated",
                "--robot-port",
                f,
                "--teleop-port",
                ld,
                *cams,
                env={"HF_LEROBOT_CALIBRATION": str(half_calib)},
            ),
            case("camera_no_open", "--robot-port", f, "--teleop-port", ld),  # opencv 0 and 1
            case(
                "camera_15fps",
                "--robot-port",
                f,
                "--teleop-port",
                ld,
                "--cameras",
                "replay",
                "--replay",
                str(replay15),
            ),
            case(
                "disk_full",
                "--robot-port",
                f,
                "--teleop-port",
                ld,
                *cams,
                "--episodes",
                "20",
                "--episode-s",
                "30",
                dataset=tiny / "rec",
            ),
        ]
        got = run_cases(cases, tmp_path)
    want = {  # what the one line must name
        "no_leader": ["leader", "TELEOP_PORT=", "ttyNONE"],
        "swapped": ["swapped", f"ROBOT_PORT={f}", f"TELEOP_PORT={ld}"],
        "uncalibrated": ["leader", "no calibration file", "make calibrate ROBOT=koch_leader"],
        "camera_no_open": ["camera laptop", "does not open"],
        "camera_15fps": ["delivers 15 fps of FPS=30"],
        "disk_full": ["MB free", str(tiny)],
    }
    for c in cases:
        r = got[c["name"]]
        assert not r["traceback"], f"{c['name']}: traceback:\n{r['traceback']}"
        errors = [ln for ln in r["stderr"].splitlines() if ln.startswith("record: error:")]
        assert r["rc"] in (2, 3), (c["name"], r)
        # one line per problem: two bad cameras are two problems, each its own line
        two = c["name"].startswith("camera_")  # laptop and phone: one line each
        assert len(errors) == (2 if two else 1), (c["name"], errors)
        for word in want[c["name"]]:
            assert word in errors[0], (c["name"], word, errors)
        assert not Path(c["ds"]).exists(), f"{c['name']}: DATASET was created"
        print(f"{c['name']}: {errors[0]}")
    assert [p.name for p in half_calib.rglob("*.json")] == ["koch.json"]  # nothing written
