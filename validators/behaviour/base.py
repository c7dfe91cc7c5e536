"""What every behavioural check shares: the rows, the thresholds, and how a finding is said.

A finding says what was seen (with the numbers and the threshold it crossed), where
(episode, frame range, feature and dimensions) and what to do; ``Checks.say`` keeps those
three parts in one shape for every check so the terminal, the JSON and the PNG agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from validators.behaviour.rows import Feature, Rows
from validators.context import Context
from validators.report import Severity

DROP = "drop the episode: make edit EPISODES=~@<REPORT.json> keeps every other one"


@dataclass
class Checks:
    """One behavioural run: the context, its rows, thresholds, and episodes already judged."""

    ctx: Context
    rows: Rows
    t: dict[str, float]
    off: set[str] = field(default_factory=set)
    skip: dict[str, set[int]] = field(default_factory=dict)  # why -> episodes (idle, short)

    def on(self, check: str) -> bool:
        return check not in self.off

    def skipped(self, e: int) -> bool:
        """Too short or idle: the per-dimension checks have nothing to judge there."""
        return e in self.skip.get("short", ()) or e in self.skip.get("idle", ())

    def say(
        self,
        check: str,
        severity: Severity,
        episode: int | None,
        what: str,
        todo: str,
        *,
        feature: str | None = None,
        frames: tuple[int, int] | None = None,
    ) -> None:
        if frames is not None:
            frames = (int(frames[0]), int(frames[1]))
        where = []
        if episode is not None:
            where.append(f"episode {episode}")
        if frames is not None:
            where.append(f"frames {frames[0]}-{frames[1]}")
        prefix = f"{', '.join(where)}: " if where else ""
        self.ctx.add(
            f"behaviour.{check}",
            severity,
            f"{prefix}{what}",
            todo,
            file=self.rows.files.get(episode) if episode is not None else None,
            episode=episode,
            feature=feature,
            frames=frames,
        )


def dims(ft: Feature, mask: np.ndarray, limit: int = 6) -> str:
    """'[a, b, c]' naming the dimensions in ``mask`` (at most ``limit``, then '+k more')."""
    idx = np.flatnonzero(mask)
    names = [ft.names[i] for i in idx[:limit]]
    more = f", +{len(idx) - limit} more" if len(idx) > limit else ""
    return f"[{', '.join(names)}{more}]"


def g(x: float) -> str:
    """A number as a person reads it (4 significant digits)."""
    return f"{x:.4g}"


def state_key(rows: Rows) -> str | None:
    """The state feature: observation.state, else the one numeric observation.* feature."""
    if "observation.state" in rows.features:
        return "observation.state"
    obs = [k for k in rows.features if k.startswith("observation.")]
    return obs[0] if len(obs) == 1 else None
