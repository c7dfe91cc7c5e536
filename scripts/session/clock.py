"""The control loop's clock: absolute deadlines, the real period of every tick, missed ticks.

Why our own and not LeRobot's ``record_loop`` timing: LeRobot sleeps ``1/fps - work`` after
each tick and stamps frame ``i`` at ``i / fps`` whatever happened, so a loop that runs at
24 Hz still writes a dataset that claims 30 fps (LeRobot #2786) and nothing says so. Here:

- each tick has an absolute deadline ``t0 + k / fps`` (no drift from sleep overshoot);
- the start of every tick is read from ``time.perf_counter`` and the real period (start to
  start) is kept, in seconds, float64, for the whole episode;
- a tick whose work overran one or more later deadlines does not run those ticks in a burst
  to catch up (that would put frames 2 ms apart and stamp them 33 ms apart); the deadlines
  it overran are counted as *missed* and the schedule re-anchors on the late tick (the next
  one comes a full period after it, never sooner);
- ``summary()`` gives what the report shows: mean rate, p50/p99/max period, missed ticks,
  and ``slow``: the real rate fell below 95 % of FPS (``SLOW_FRACTION``).

No LeRobot, no numpy needed at tick time: ``tick()`` costs one clock read and a list append.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

SLOW_FRACTION = 0.95  # an episode whose real rate is below 95 % of FPS is flagged


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in [0, 1]) of ``values``; 0.0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[k]


@dataclass
class TickClock:
    """Paces one phase's ticks at ``fps`` and measures them.

    Use: ``clock.start()``, then per tick ``clock.wait()`` (sleep to the next deadline and
    record when the tick really started), do the tick's work. ``periods`` holds the real
    start-to-start period of every tick after the first.
    """

    fps: float
    sleep: object = time.sleep
    now: object = time.perf_counter
    periods: list[float] = field(default_factory=list)
    missed: int = 0
    ticks: int = 0
    _t0: float = 0.0
    _k: int = 0
    _last: float | None = None
    started_at: float = 0.0

    def start(self) -> None:
        """Begin a phase: the first deadline is now."""
        self._t0 = self.now()
        self.started_at = self._t0
        self._k = 0
        self._last = None
        self.periods = []
        self.missed = 0
        self.ticks = 0

    @property
    def period(self) -> float:
        """The target period, seconds."""
        return 1.0 / self.fps

    def elapsed(self) -> float:
        """Seconds since ``start``."""
        return self.now() - self.started_at

    @property
    def next_deadline(self) -> int:
        """Index of the next deadline (deadlines used so far, run or missed)."""
        return self._k

    def wait(self, limit: int | None = None) -> float | None:
        """Sleep until this tick's deadline; returns the tick's real start (perf_counter).

        When the previous tick overran, the deadlines it covered are skipped and counted as
        missed. With ``limit`` (deadlines in the phase): None when the tick would fall at or
        after deadline ``limit`` (the phase is over; nothing is counted for it).
        """
        if limit is not None and self._k >= limit:
            return None
        due = self._t0 + self._k * self.period
        t = self.now()
        if t < due:
            self.sleep(due - t)
            t = self.now()
        else:
            late = int((t - due) / self.period)  # whole periods past the deadline
            if limit is not None and self._k + late >= limit:
                self.missed += max(0, limit - self._k)
                self._k = limit
                return None
            self.missed += late
            self._k += late
            self._t0 = t - self._k * self.period  # re-anchor: the next tick a full period on
        if self._last is not None:
            self.periods.append(t - self._last)
        self._last = t
        self._k += 1
        self.ticks += 1
        return t

    def summary(self) -> dict:
        """Mean rate, period percentiles (ms), missed ticks and the slow flag of this phase."""
        return summarize(self.periods, self.fps, self.ticks, self.missed)


def summarize(periods: list[float], fps: float, ticks: int, missed: int) -> dict:
    """The per-episode timing summary the report and the journal keep."""
    mean_period = sum(periods) / len(periods) if periods else 0.0
    rate = 1.0 / mean_period if mean_period > 0 else 0.0
    return {
        "ticks": ticks,
        "fps_target": fps,
        "rate_hz": round(rate, 3),
        "period_ms_mean": round(1e3 * mean_period, 3),
        "period_ms_p50": round(1e3 * percentile(periods, 0.50), 3),
        "period_ms_p99": round(1e3 * percentile(periods, 0.99), 3),
        "period_ms_max": round(1e3 * max(periods, default=0.0), 3),
        "missed_ticks": missed,
        "slow": bool(periods) and rate < SLOW_FRACTION * fps,
    }
