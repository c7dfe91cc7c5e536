"""What a robot's motor bus should hold, from its profile (`recipes/robots/<name>.yaml`).

Why two sources: the profile (shared with `make robot`, whose `robot:` keys are LeRobot's own
config fields, so it cannot list motors) says which robot type, calibration id and cameras; the
motors themselves are fixed by LeRobot's robot class (KochFollower hard-codes IDs and models).
`BUSES` copies them so the simulator and `make motors` start without importing LeRobot (~5 s of
torch); tests/test_motors_profile.py checks the copy against LeRobot's own KochFollower.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
ROBOTS_DIR = REPO / "recipes" / "robots"


@dataclass(frozen=True)
class MotorSpec:
    """One expected motor: LeRobot's joint name, bus ID and model name."""

    name: str
    id: int
    model: str


# robot type -> (motors, baud rate), as in lerobot/robots/<type>/<type>.py (0.6.1).
BUSES: dict[str, tuple[list[MotorSpec], int]] = {
    "koch_follower": (
        [
            MotorSpec("shoulder_pan", 1, "xl430-w250"),
            MotorSpec("shoulder_lift", 2, "xl430-w250"),
            MotorSpec("elbow_flex", 3, "xl330-m288"),
            MotorSpec("wrist_flex", 4, "xl330-m288"),
            MotorSpec("wrist_roll", 5, "xl330-m288"),
            MotorSpec("gripper", 6, "xl330-m288"),
        ],
        1_000_000,
    ),
}


class ProfileError(ValueError):
    """An unknown profile, or one without a Dynamixel bus; the message lists the choices."""


@dataclass(frozen=True)
class Profile:
    """A robot with a Dynamixel bus: what should be on it, where its calibration lives."""

    name: str
    type: str
    id: str
    port: str | None
    baudrate: int
    motors: list[MotorSpec]
    cameras: dict[str, dict] = field(default_factory=dict)

    def by_id(self) -> dict[int, MotorSpec]:
        """Expected motors keyed by bus ID."""
        return {m.id: m for m in self.motors}


def available() -> list[str]:
    """Names of the profiles under recipes/robots/ (any robot, with a bus or not)."""
    return sorted(p.stem for p in ROBOTS_DIR.glob("*.yaml"))


def with_bus() -> list[str]:
    """Profiles whose robot type has a Dynamixel bus (what `make motors` can check)."""
    out = []
    for name in available():
        try:
            load(name)
            out.append(name)
        except ProfileError:
            pass
    return out


def load(name: str) -> Profile:
    """Load `recipes/robots/<name>.yaml`; ProfileError names the profiles that exist."""
    path = ROBOTS_DIR / f"{name}.yaml"
    if not path.is_file():
        names = available()
        close = difflib.get_close_matches(name, names, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise ProfileError(
            f"unknown robot {name!r}{hint}: use ROBOT= one of {', '.join(names) or 'none'}"
        )
    try:
        raw = yaml.safe_load(path.read_text())
        robot = raw["robot"]
        rtype = str(robot["type"])
    except (KeyError, TypeError, yaml.YAMLError) as e:
        raise ProfileError(f"{path}: malformed profile ({e}): needs robot: {{type: ...}}") from None
    if rtype not in BUSES:
        raise ProfileError(
            f"robot {name!r} (type {rtype}) has no Dynamixel bus to check: use ROBOT= one of "
            f"{', '.join(n for n in available() if n != name and _type_of(n) in BUSES) or 'none'}"
        )
    motors, baud = BUSES[rtype]
    return Profile(
        name=name,
        type=rtype,
        id=str(robot.get("id") or name),
        port=robot.get("port"),
        baudrate=baud,
        motors=list(motors),
        cameras=dict(robot.get("cameras") or {}),
    )


def _type_of(name: str) -> str | None:
    try:
        return yaml.safe_load((ROBOTS_DIR / f"{name}.yaml").read_text())["robot"]["type"]
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        return None
