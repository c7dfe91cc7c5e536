"""The session loop shared by ``make record`` (teleoperation) and, later, ``make rollout``.

A session is N episodes, each an *episode* phase (EPISODE_S, frames recorded) followed by a
*reset* phase (RESET_S, the operator puts the scene back, nothing recorded; none after the
last episode). Every phase is paced by ``clock.TickClock`` (absolute deadlines, the real
period of every tick kept) and listens to ``keys`` (terminal keys over SSH, LeRobot's too).

What is plugged in (so rollout reuses all of it with a policy instead of a leader arm):

- ``hooks.tick(phase) -> frame | None``: one control step (read the robot, get the action
  from the teleoperator or the policy, send it); returns the dataset frame to keep during an
  episode phase (``None``: nothing to record this tick).
- ``hooks.phase(phase, episode_index)`` (optional): called as a phase begins (announce it).
- ``hooks.prepare(phase, episode_index)`` (optional): called before the phase's clock starts,
  so slow set-up (``make rollout`` loads the episode's checkpoint on the server and waits for
  its first action chunk) is not counted as missed ticks of the phase.
- ``sink``: where episodes go; ``sink.next_index``, ``sink.add(frame)``,
  ``sink.save(periods, summary) -> dict`` (the record of the saved episode; with a
  ``discarded`` reason when it could not be saved consistently), ``sink.discard()``.
  ``writer.CrashSafeWriter`` is the LeRobot one; tests use any object with these methods.

Decisions, and why:

- An episode is saved the moment its phase ends, before the reset phase: a crash or power
  cut during the reset (the longest idle time) then loses nothing. So ``r`` re-records only
  during an episode (LeRobot's left arrow during the reset discards the episode just
  recorded, which here is already on disk; we say so instead of deleting saved data).
- A phase ends on its schedule: after ``round(seconds * fps)`` deadlines. A missed deadline
  (the loop was late) is not made up by a burst of ticks, so an episode holds exactly one
  frame per tick that ran and ``ticks + missed == round(EPISODE_S * FPS)``.
- ``q`` during an episode saves the frames so far (as LeRobot's Esc does), then stops.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from scripts.session.clock import TickClock
from scripts.session.keys import HELP, Key

EPISODE, RESET = "episode", "reset"


class SkipTick(Exception):
    """Raised by ``hooks.tick``: this tick produced nothing (a bus read timed out once).

    The tick is counted as missed, not as run, so an episode still holds one frame per tick.
    """


class Hooks(Protocol):
    """The control step: record (leader -> follower) or rollout (policy -> follower)."""

    def tick(self, phase: str) -> dict | None: ...


class Sink(Protocol):
    """Where episodes go (``writer.CrashSafeWriter``)."""

    next_index: int

    def add(self, frame: dict) -> None: ...

    def save(self, periods: list[float], summary: dict) -> dict: ...

    def discard(self) -> None: ...


@dataclass
class SessionConfig:
    """How many episodes, how long each phase, at what rate."""

    fps: int
    episodes: int
    episode_s: float
    reset_s: float


@dataclass
class SessionResult:
    """What happened: the saved episodes' records, re-recorded ones, why it ended."""

    saved: list[dict] = field(default_factory=list)
    rerecorded: int = 0
    stopped: str = "done"  # done | key | interrupt
    reset_timing: list[dict] = field(default_factory=list)


@dataclass
class Session:
    """Runs the episodes; see the module docstring."""

    cfg: SessionConfig
    hooks: Any
    sink: Any
    keys: Callable[[], list[Key]] = list
    log: Callable[[str], None] = field(default=lambda s: print(s, file=sys.stderr, flush=True))
    clock: TickClock | None = None

    def __post_init__(self) -> None:
        self.clock = self.clock or TickClock(self.cfg.fps)

    def _phase(self, phase: str, seconds: float) -> tuple[str, int]:
        """Run one phase; returns (how it ended: end|next|rerecord|stop, frames added)."""
        deadlines = max(1, round(seconds * self.cfg.fps))
        clock = self.clock
        prepare = getattr(self.hooks, "prepare", None)
        if prepare:
            prepare(phase, self.sink.next_index)
        clock.start()
        frames = 0
        announce = getattr(self.hooks, "phase", None)
        if announce:
            announce(phase, self.sink.next_index)
        while clock.next_deadline < deadlines:
            if clock.wait(deadlines) is None:  # woke up past the phase's end
                break
            pressed = self.keys()
            if Key.STOP in pressed:
                return "stop", frames
            if Key.RERECORD in pressed:
                if phase == EPISODE:
                    return "rerecord", frames
                self.log(
                    f"session: episode {self.sink.next_index - 1} is already saved (r re-records "
                    "during an episode); the reset goes on"
                )
            if Key.NEXT in pressed:
                return "next", frames
            try:
                frame = self.hooks.tick(phase)
            except SkipTick:
                clock.ticks -= 1
                clock.missed += 1
                continue
            if phase == EPISODE and frame is not None:
                self.sink.add(frame)
                frames += 1
        return "end", frames

    def run(self) -> SessionResult:
        """All episodes (or until STOP / Ctrl-C); returns what was saved."""
        res = SessionResult()
        self.log(f"session: {self.cfg.episodes} episode(s) x {self.cfg.episode_s:g} s at "
                 f"{self.cfg.fps} fps, reset {self.cfg.reset_s:g} s; {HELP}")  # fmt: skip
        try:
            while len(res.saved) < self.cfg.episodes:
                index = self.sink.next_index
                self.log(f"session: episode {index}: recording ({self.cfg.episode_s:g} s)")
                how, frames = self._phase(EPISODE, self.cfg.episode_s)
                if how == "rerecord":
                    self.sink.discard()
                    res.rerecorded += 1
                    self.log(f"session: episode {index}: discarded ({frames} frames); again")
                    if self._reset(res) == "stop":
                        break
                    continue
                if frames == 0:
                    self.sink.discard()
                else:
                    periods = list(self.clock.periods)
                    record = self.sink.save(periods, self.clock.summary())
                    if record.get("discarded"):
                        res.rerecorded += 1
                        self.log(f"session: episode {index}: discarded: {record['discarded']}")
                        if how != "stop" and self._reset(res) != "stop":
                            continue
                        break
                    res.saved.append(record)
                    s = record.get("timing", {})
                    self.log(
                        f"session: episode {index}: saved {frames} frames, "
                        f"{s.get('rate_hz', 0):.1f} Hz, p99 {s.get('period_ms_p99', 0):.1f} ms, "
                        f"{s.get('missed_ticks', 0)} missed"
                        + ("  SLOW (below 95 % of FPS)" if s.get("slow") else "")
                    )
                if how == "stop":
                    res.stopped = "key"
                    break
                if len(res.saved) < self.cfg.episodes and self._reset(res) == "stop":
                    break
        except KeyboardInterrupt:
            self.sink.discard()
            res.stopped = "interrupt"
            self.log("session: interrupted: the episode in progress is discarded")
        return res

    def _reset(self, res: SessionResult) -> str:
        if self.cfg.reset_s <= 0:
            return "end"
        self.log(f"session: reset the scene ({self.cfg.reset_s:g} s; n skips)")
        how, _ = self._phase(RESET, self.cfg.reset_s)
        res.reset_timing.append(self.clock.summary())
        if how == "stop":
            res.stopped = "key"
        return how
