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
    return data


def robot_type(name: str) -> str | None:
    """The profile's robot type, or None when it cannot be read."""
    try:
        return str(load(name)["robot"]["type"])
    except ProfileError:
        return None
