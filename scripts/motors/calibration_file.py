"""Where LeRobot keeps an arm's calibration, and how it compares with the motors' registers.

Why compare ourselves: KochFollower.connect() compares the file with the motors and, when they
differ, calls `input()` (EOFError without a terminal, a hang under `make robot`). Checking first
names the motor and the field, and the fix (`make calibrate`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

# LeRobot's MotorCalibration field -> the register it is stored in.
FIELDS = {
    "homing_offset": "Homing_Offset",
    "range_min": "Min_Position_Limit",
    "range_max": "Max_Position_Limit",
    "drive_mode": "Drive_Mode",
}


def calibration_root() -> Path:
    """$HF_LEROBOT_CALIBRATION, else LeRobot's default under $HF_LEROBOT_HOME / $HF_HOME."""
    if os.environ.get("HF_LEROBOT_CALIBRATION"):
        return Path(os.environ["HF_LEROBOT_CALIBRATION"]).expanduser()
    hf_home = Path(os.environ.get("HF_HOME", "~/.cache/huggingface")).expanduser()
    lerobot_home = Path(os.environ.get("HF_LEROBOT_HOME", hf_home / "lerobot")).expanduser()
    return lerobot_home / "calibration"


def calibration_path(robot_type: str, robot_id: str, kind: str = "robots") -> Path:
    """The file KochFollower (type koch_follower, id) reads: <root>/robots/<type>/<id>.json;
    a leader arm's (kind "teleoperators"): <root>/teleoperators/<type>/<id>.json."""
    return calibration_root() / kind / robot_type / f"{robot_id}.json"


def load(path: Path) -> dict[str, dict[str, int]] | None:
    """The calibration file as {motor: {id, drive_mode, homing_offset, range_min, range_max}}."""
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def disagreements(
    calib: dict[str, dict[str, int]], registers: dict[str, dict[str, int]]
) -> list[str]:
    """`motor field file=X motor=Y` for every field where the file and the registers differ.

    `registers`: {motor name: {register name: value}} as read from the bus; a motor missing on
    either side is reported too (LeRobot compares the whole set).
    """
    out = []
    for name, regs in registers.items():
        entry = calib.get(name)
        if entry is None:
            out.append(f"{name} not in the file")
            continue
        for field, reg in FIELDS.items():
            if reg in regs and int(entry.get(field, -1)) != regs[reg]:
                out.append(f"{name} {field} file={entry.get(field)} motor={regs[reg]}")
    out += [f"{name} in the file but not on the bus" for name in calib if name not in registers]
    return out
