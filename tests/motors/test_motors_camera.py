"""lerobot_camera_replay: the real KochFollower with simulated motors and recorded cameras.

The plugin is not installed in envs/act (envs are owned elsewhere; README says the line to add),
so the test puts its src/ on PYTHONPATH; LeRobot then builds ReplayCamera from ReplayCameraConfig
by name exactly as it would for an installed plugin.
"""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run
from helpers.motors_sim import ACT_PY, REPO, sim_env, simulator, skip_if_transport_late


def test_koch_follower_with_replayed_cameras(tmp_path: Path, koch: Path) -> None:
    """Observations carry the dataset's frames (advancing in time) next to the six joints.

    `koch`: the session's shared Koch-like v3.0 dataset (LeRobot's writer; read only here).
    """
    dataset = koch
    calib = tmp_path / "calib"
    env = sim_env(calib)  # the plugin comes from envs/act's lock, not from PYTHONPATH
    with simulator(
        tmp_path, "--write-calibration", str(calib / "robots/koch_follower/koch.json")
    ) as sim:
        res = run(
            [ACT_PY, REPO / "tests" / "helpers" / "motors_koch_camera.py", sim.port, dataset],
            env=env,
            timeout=180,
        )
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith("{")]
    assert lines, res.stderr[-3000:]
    got = json.loads(lines[-1])
    if "error" in got:
        skip_if_transport_late(sim, got["error"])
    assert "error" not in got, got
    assert got["shapes"] == {"laptop": [96, 128, 3], "phone": [64, 80, 3]}
    assert got["positions"] == 6
    assert got["distinct"]["laptop"] > 3 and got["distinct"]["phone"] > 3  # frames advance
    assert all(m["registers"]["Torque_Enable"] == 0 for m in sim.state["motors"])
