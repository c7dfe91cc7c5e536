"""What a robot's motor bus should hold, from its profile (`recipes/robots/<name>.yaml`).

A leader arm is a LeRobot teleoperator, not a robot: its profile is `recipes/teleops/<name>.yaml`
(a `teleop:` section, LeRobot's TeleoperatorConfig fields); `load` finds either, and
`Profile.kind` says where LeRobot keeps its calibration (`robots/` or `teleoperators/`).

Why two sources: the profile (shared with `make robot`, whose `robot:` keys are LeRobot's own
config fields, so it cannot list motors) says which robot type, calibration id and cameras; the
motors themselves are fixed by LeRobot's robot class (KochFollower hard-codes IDs and models).
`BUSES` copies them so the simulator and `make motors` start without importing LeRobot (~5 s of
torch); tests/motors/test_motors_profile.py checks the copy against LeRobot's own KochFollower.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml

from scripts.common import robot_profiles
from scripts.common.robot_profiles import ProfileError

__all__ = ["BUSES", "MotorSpec", "Profile", "ProfileError", "load", "with_bus"]


@dataclass(frozen=True)
class MotorSpec:
    """One expected motor: LeRobot's joint name, bus ID and model name."""

    name: str
    id: int
    model: str


KOCH_JOINTS = ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper")
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
    # lerobot/teleoperators/koch_leader/koch_leader.py: six XL330-M077 at the bus default 1 Mbps
    "koch_leader": (
        [MotorSpec(name, i, "xl330-m077") for i, name in enumerate(KOCH_JOINTS, start=1)],
        1_000_000,
    ),
}
TELEOPS = robot_profiles.REPO / "recipes" / "teleops"


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
    kind: str = "robots"  # "teleoperators" for a leader arm (LeRobot's calibration folder)

    def by_id(self) -> dict[int, MotorSpec]:
        """Expected motors keyed by bus ID."""
        return {m.id: m for m in self.motors}


def with_bus() -> list[str]:
    """Profiles whose robot type has a Dynamixel bus (what `make motors` can check)."""
    return [name for name in robot_profiles.names() if robot_profiles.robot_type(name) in BUSES]


def teleop_names() -> list[str]:
    """Leader-arm profiles under recipes/teleops/."""
    return sorted(p.stem for p in TELEOPS.glob("*.yaml"))


def load(name: str) -> Profile:
    """Load `recipes/robots/<name>.yaml` or `recipes/teleops/<name>.yaml`; ProfileError names
    the profiles that exist."""
    kind = "robots"
    tpath = TELEOPS / f"{name}.yaml"
    if tpath.is_file():
        try:
            robot = (yaml.safe_load(tpath.read_text()) or {}).get("teleop")
        except (yaml.YAMLError, AttributeError) as e:
            raise ProfileError(f"{tpath}: not a mapping with a 'teleop:' section ({e})") from e
        if not isinstance(robot, dict) or not robot.get("type"):
            raise ProfileError(f"{tpath}: needs a 'teleop:' mapping with a 'type'")
        kind = "teleoperators"
    else:
        try:
            robot = robot_profiles.load(name, command="make motors")["robot"]
        except ProfileError:
            if name in teleop_names():
                raise
            raise robot_profiles.unknown(
                name, robot_profiles.names() + teleop_names(), "make motors"
            ) from None
    rtype = str(robot["type"])
    if rtype not in BUSES:
        others = [n for n in with_bus() if n != name]
        raise ProfileError(
            f"robot '{name}' (type {rtype}) has no Dynamixel bus to check: use ROBOT= one of "
            f"{', '.join(others) or 'none'}"
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
        kind=kind,
    )
