"""A person moving a leader arm, as a function of time: smooth reaches, holds, no teleporting.

Why scripted: a teleoperation test bed needs a leader whose joints move like a hand moves
them (so the follower's tracking, the recorded actions and the stats look like a recording),
yet are the same on every run (seeded). Each joint goes from waypoint to waypoint along a
minimum-jerk profile (``10s^3 - 15s^4 + 6s^5``, the shape of human reaching movements, Flash &
Hogan 1985), each reach 0.6-1.8 s long, then holds 0.1-0.6 s; waypoints are drawn within
+-``amplitude`` ticks of the rest position. No numpy: the simulator stays light.
"""

from __future__ import annotations

import bisect
import random


def min_jerk(s: float) -> float:
    """Minimum-jerk position profile on [0, 1]."""
    s = min(1.0, max(0.0, s))
    return s * s * s * (10 - 15 * s + 6 * s * s)


class HumanTrajectory:
    """``traj(t)`` -> offset in ticks from the rest position at time ``t`` (seconds)."""

    def __init__(self, seed: int, amplitude: float, t0: float = 0.0) -> None:
        self.rng = random.Random(seed)
        self.amplitude = float(amplitude)
        # segments: (start time, end of the move, end of the hold, from, to)
        self.starts: list[float] = [t0]
        self.segments: list[tuple[float, float, float, float, float]] = []
        self._extend(t0, 0.0)

    def _extend(self, start: float, origin: float) -> None:
        move = self.rng.uniform(0.6, 1.8)
        hold = self.rng.uniform(0.1, 0.6)
        target = self.rng.uniform(-self.amplitude, self.amplitude)
        if self.segments:
            self.starts.append(start)
        self.segments.append((start, start + move, start + move + hold, origin, target))

    def __call__(self, t: float) -> float:
        while t >= self.segments[-1][2]:
            last = self.segments[-1]
            self._extend(last[2], last[4])
        i = max(0, bisect.bisect_right(self.starts, t) - 1)
        start, moved, _, a, b = self.segments[i]
        if t <= start:
            return a
        return a + (b - a) * min_jerk((t - start) / (moved - start))
