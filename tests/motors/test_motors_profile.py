"""The motor lists and register tables the simulator and `make motors` use, against LeRobot's own.

Why: `scripts.motors.profile.BUSES` copies KochFollower's motors so nothing imports torch to
check a bus; if LeRobot changes an ID or a model, this test (running LeRobot's real
KochFollower constructor in envs/act) fails instead of the lab's arm.
"""

from __future__ import annotations

import json

from conftest import env_python, run

from scripts.motors import profile

PROBE = """
import json, sys
from pathlib import Path
from lerobot.robots.koch_follower import KochFollower, KochFollowerConfig
from lerobot.motors.dynamixel import DynamixelMotorsBus
from scripts.motors import control_table as ct
cfg = KochFollowerConfig(port="/dev/null", id="probe", calibration_dir=Path(sys.argv[1]))
robot = KochFollower(cfg)
motors = [[n, m.id, m.model] for n, m in robot.bus.motors.items()]
lerobot = {m: dict(DynamixelMotorsBus.model_ctrl_table[m]) for m in ("xl430-w250", "xl330-m288")}
ours = {m: {i.name: [i.address, i.size] for i in ct.items(m).values()} for m in lerobot}
print(json.dumps({"motors": motors, "baud": DynamixelMotorsBus.default_baudrate,
                  "lerobot": {m: {k: list(v) for k, v in t.items()} for m, t in lerobot.items()},
                  "ours": ours, "numbers": {m: ct.model_number(m) for m in lerobot}}))
"""


def test_koch_bus_matches_lerobot(tmp_path) -> None:
    """KochFollower's motors, baud rate, addresses and model numbers are the ones we simulate."""
    res = run([env_python("act"), "-c", PROBE, str(tmp_path)], timeout=180)
    assert res.returncode == 0, res.stderr[-2000:]
    got = json.loads(res.stdout.strip().splitlines()[-1])
    motors, baud = profile.BUSES["koch_follower"]
    assert got["motors"] == [[m.name, m.id, m.model] for m in motors]
    assert got["baud"] == baud
    assert got["ours"] == got["lerobot"]
    assert got["numbers"] == {"xl430-w250": 1060, "xl330-m288": 1200}


def test_koch_profile_loads() -> None:
    """recipes/robots/koch.yaml (shared with make robot) gives the calibration id and cameras."""
    prof = profile.load("koch")
    assert (prof.type, prof.id, prof.baudrate) == ("koch_follower", "koch", 1_000_000)
    assert [m.id for m in prof.motors] == [1, 2, 3, 4, 5, 6]
    assert set(prof.cameras) == {"laptop", "phone"}
