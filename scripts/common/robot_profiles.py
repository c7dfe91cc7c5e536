"""Robot profiles (``recipes/robots/<name>.yaml``): found, read and checked in one place.

Why shared: ``make robot`` (scripts/deploy: a profile -> LeRobot's RobotClientConfig) and
``make motors`` / ``make calibrate`` / the simulator (scripts/motors: a profile -> the motors its
bus should hold) read the same files; one loader gives both the same errors for an unknown
name or a malformed file. Plain YAML, no LeRobot import (the tools env can use it).
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
PROFILES = REPO / "recipes" / "robots"
SECTIONS = ("robot", "client", "ops")


class ProfileError(ValueError):
    """A missing or malformed profile (one line, naming the file or knob)."""


def names() -> list[str]:
    """Every profile under recipes/robots/ (any robot, with a motor bus or not)."""
    return sorted(p.stem for p in PROFILES.glob("*.yaml"))


def unknown(name: str, choices: list[str], command: str) -> ProfileError:
    """The error for a name that is not among ``choices``: what exists, the closest match."""
    close = difflib.get_close_matches(name, choices, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    have = ", ".join(choices) or "none"
    return ProfileError(f"unknown robot '{name}' (have: {have}){hint}: {command} ROBOT=<name>")


def load(name: str, command: str = "make robot") -> dict[str, Any]:
    """The profile as a dict with its ``robot`` (with a ``type``), ``client`` and ``ops``
    sections; ``_path`` is the file. ``command`` is named in the unknown-name error."""
    path = PROFILES / f"{name}.yaml"
    if not path.is_file():
        raise unknown(name, names(), command)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ProfileError(f"{path}: not YAML ({e})") from e
    robot = data.get("robot") if isinstance(data, dict) else None
    if not isinstance(robot, dict) or not robot.get("type"):
        raise ProfileError(f"{path}: needs a 'robot:' mapping with a 'type'")
    extra = set(data) - set(SECTIONS)
    if extra:
        raise ProfileError(f"{path}: unknown sections {sorted(extra)} ({', '.join(SECTIONS)})")
    data.setdefault("client", {})
    data.setdefault("ops", {})
    data["_path"] = str(path)
    check_motion_limit(data, path)
    return data


# The span one unit system covers, per joint: LeRobot 0.6.1 normalises a follower's body joints
# to -100..100 (MotorNormMode.RANGE_M100_100) and its gripper to 0..100 unless use_degrees is set;
# with use_degrees the body joints are in degrees. A cap above one whole span per second stops
# nothing a servo can do, so it is refused as implausible.
SPAN_PER_S = {False: 200.0, True: 360.0}


def check_motion_limit(data: dict[str, Any], path: Path) -> None:
    """A real arm's profile must cap each tick's motion (``robot.max_relative_target``) at a
    plausible value, in the units LeRobot applies it in.

    Why: LeRobot 0.6.1's ``<arm>_follower.send_action`` clips ``goal - present`` to
    ``max_relative_target`` per call, i.e. per control tick, in the arm's action units, and
    sends any goal unclipped when the key is absent (its default). So the value means
    "units per tick", and per second it is value x fps: our Koch profile once said
    ``20  # degrees per step`` with ``use_degrees: false``, which is 20 normalised units per tick
    = 600 units/s = three times the calibrated range per second. Arms are LeRobot's
    ``*_follower`` types; the replay robot and simulated cameras need no cap."""
    robot = data["robot"]
    if not str(robot["type"]).endswith("_follower"):
        return
    degrees = bool(robot.get("use_degrees", False))
    unit = "degrees" if degrees else "normalised units (-100..100 range)"
    fps = float((data.get("client") or {}).get("fps") or 30)
    limit = robot.get("max_relative_target")
    if limit is None:
        raise ProfileError(
            f"{path}: robot.max_relative_target is missing: LeRobot then sends any goal at once; "
            f"set a cap in {unit} per tick (the Koch profile uses 5)"
        )
    values = limit.values() if isinstance(limit, dict) else [limit]
    span = SPAN_PER_S[degrees]
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise ProfileError(
                f"{path}: robot.max_relative_target={value!r} must be a positive number "
                f"({unit} per tick)"
            )
        if value * fps > span:
            raise ProfileError(
                f"{path}: robot.max_relative_target={value} {unit} per tick at {fps:g} fps is "
                f"{value * fps:g}/s, more than the whole {span:g}-unit span per second: "
                f"implausible (at most {span / fps:.3g})"
            )


def robot_type(name: str) -> str | None:
    """The profile's robot type, or None when it cannot be read."""
    try:
        return str(load(name)["robot"]["type"])
    except ProfileError:
        return None
