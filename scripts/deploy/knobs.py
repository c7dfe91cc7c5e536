"""``make robot``'s numeric knobs, checked before the profile is decoded (tools env, no LeRobot).

Why: LeRobot's ``RobotClientConfig`` refuses a bad ``actions_per_chunk`` / ``chunk_size_threshold``
/ ``fps`` with a ValueError that ``profiles.client_config`` reports as a broken profile file,
so ``make robot FPS=0`` blamed ``recipes/robots/replay.yaml``; and ``STALL_S=0`` (or negative)
was accepted, a watchdog that stops every run at once. Each knob here is refused in one line
naming ``make robot KNOB=...`` and its valid range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


class KnobError(ValueError):
    """A make knob out of its range; the message is the one line to print."""


@dataclass(frozen=True)
class Knob:
    """A make knob: its name, the client flag's attribute, its type and its valid range."""

    name: str
    attr: str
    kind: type
    low: float
    high: float = math.inf
    low_open: bool = False  # True: the range excludes ``low`` (STALL_S > 0)

    def range_text(self) -> str:
        what = "an integer" if self.kind is int else "a number"
        if self.high != math.inf:
            return f"{what} in [{self.low:g}, {self.high:g}]"
        return f"{what} {'>' if self.low_open else '>='} {self.low:g}"

    def check(self, raw: Any) -> int | float:
        """The value as ``kind``, or KnobError naming the knob and its range."""
        try:
            value = self.kind(raw)
        except (TypeError, ValueError):
            value = None
        if isinstance(value, float) and not math.isfinite(value):
            value = None
        ok = value is not None and (
            (value > self.low if self.low_open else value >= self.low) and value <= self.high
        )
        if not ok:
            raise KnobError(
                f"{self.name}={raw}: want {self.range_text()} (make robot {self.name}=...)"
            )
        return value  # type: ignore[return-value]


KNOBS = (
    Knob("ACTIONS_PER_CHUNK", "actions_per_chunk", int, 1),
    Knob("CHUNK_THRESHOLD", "chunk_threshold", float, 0, 1),
    Knob("FPS", "fps", int, 1),
    Knob("STALL_S", "stall_s", float, 0, low_open=True),
    Knob("DURATION", "duration", float, 0),
    Knob("SERVER_WAIT", "server_wait", float, 0),
)


def check(args: Any) -> None:
    """Convert each knob given on the command line in place (``None`` = not given)."""
    for knob in KNOBS:
        raw = getattr(args, knob.attr, None)
        if raw is not None:
            setattr(args, knob.attr, knob.check(raw))


def check_stall_s(profile: dict[str, Any]) -> None:
    """The merged ``ops.stall_s`` (a profile may set it too) must be > 0."""
    raw = profile.get("ops", {}).get("stall_s")
    if raw is None:
        return
    try:
        STALL.check(raw)
    except KnobError as e:
        raise KnobError(f"{profile.get('_path', 'profile')}: ops.stall_s: {e}") from e


STALL = next(k for k in KNOBS if k.name == "STALL_S")
