"""The session runner's parts, fast and in the tools env: keys over a real pty, the clock, the loop.

Keys: a real pseudo-terminal (os.openpty) as the session's terminal, bytes typed on its master
side as a terminal emulator or sshd would; the slave's termios settings must be restored.
Clock: a deterministic fake time source (the arithmetic of deadlines, missed ticks and the slow
flag); the real clock runs in the record-sim test. Loop: the real Session with an in-memory
sink (the LeRobot writer has its own end-to-end tests) and keys typed on a pty.
"""

from __future__ import annotations

import itertools
import os
import termios
import threading
import time

from scripts.session.clock import TickClock, percentile, summarize
from scripts.session.keys import Key, TerminalKeys, merge_lerobot, parse
from scripts.session.runner import Session, SessionConfig, SkipTick


def test_parse_keys_and_arrows() -> None:
    assert parse(b"n") == [Key.NEXT]
    assert parse(b"\x1b[C\x1b[D") == [Key.NEXT, Key.RERECORD]
    assert parse(b"q") == [Key.STOP] and parse(b"\x1b") == [Key.STOP]
    assert parse(b"\x1b[Ax") == []  # up arrow and an unknown key: nothing
    assert merge_lerobot(
        {"exit_early": True, "rerecord_episode": True, "stop_recording": False}
    ) == [
        Key.RERECORD,
        Key.NEXT,
    ]


def test_terminal_keys_over_a_pty_and_restore() -> None:
    master, slave = os.openpty()
    try:
        before = termios.tcgetattr(slave)
        with TerminalKeys(slave) as keys:
            assert keys.active
            assert not termios.tcgetattr(slave)[3] & termios.ICANON  # cbreak: no line buffer
            assert keys.poll() == []
            os.write(master, b"r\x1b[Cq")
            time.sleep(0.05)
            assert keys.poll() == [Key.RERECORD, Key.NEXT, Key.STOP]
        assert termios.tcgetattr(slave) == before
    finally:
        os.close(master)
        os.close(slave)


def test_not_a_terminal_means_no_keys() -> None:
    r, w = os.pipe()
    with TerminalKeys(r) as keys:
        os.write(w, b"q")
        assert not keys.active and keys.poll() == []
    os.close(r)
    os.close(w)


class FakeTime:
    """now() and sleep() on a virtual clock; ``work`` seconds pass per tick when set."""

    def __init__(self) -> None:
        self.t = 100.0

    def now(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += s


def test_clock_counts_missed_ticks_and_never_bursts() -> None:
    ft = FakeTime()
    c = TickClock(10, sleep=ft.sleep, now=ft.now)
    c.start()
    starts = []
    for k in range(20):
        t = c.wait(20)
        if t is None:
            break
        starts.append(t)
        ft.t += 0.35 if k == 5 else 0.01  # tick 5 overruns 3.5 periods
    assert c.missed == 2  # tick 5 ends at 100.85: deadlines 6, 7 overrun, 8 runs late; no burst
    assert c.ticks + c.missed == 20
    assert min(b - a for a, b in itertools.pairwise(starts)) >= 0.1 - 1e-9
    s = c.summary()
    assert s["missed_ticks"] == 2 and s["ticks"] == 18
    assert abs(s["period_ms_max"] - 350.0) < 1e-6


def test_slow_flag_at_95_percent() -> None:
    assert not summarize([1 / 29.0] * 100, 30, 100, 0)["slow"]  # 96.7 %
    assert summarize([1 / 28.0] * 100, 30, 100, 0)["slow"]  # 93.3 %
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.99) == 4.0


class ListSink:
    def __init__(self) -> None:
        self.next_index = 0
        self.frames: list[dict] = []
        self.saved: list[list[dict]] = []
        self.discards = 0

    def add(self, frame: dict) -> None:
        self.frames.append(frame)

    def save(self, periods: list[float], summary: dict) -> dict:
        self.saved.append(self.frames)
        self.frames = []
        self.next_index += 1
        return {"episode_index": self.next_index - 1, "timing": summary}

    def discard(self) -> None:
        self.frames = []
        self.discards += 1


class Hooks:
    def __init__(self, skip_every: int = 0) -> None:
        self.n = 0
        self.phases: list[str] = []
        self.skip_every = skip_every

    def tick(self, phase: str) -> dict:
        self.n += 1
        self.phases.append(phase)
        if self.skip_every and self.n % self.skip_every == 0:
            raise SkipTick
        return {"n": self.n}


def test_session_phases_keys_and_frames_per_tick() -> None:
    """2 episodes x 0.3 s at 50 fps; r in episode 0 re-records it; one frame per tick run."""
    master, slave = os.openpty()
    sink, hooks = ListSink(), Hooks(skip_every=7)
    try:
        with TerminalKeys(slave) as keys:
            timer = threading.Timer(0.15, os.write, (master, b"r"))
            timer.start()
            res = Session(
                SessionConfig(fps=50, episodes=2, episode_s=0.3, reset_s=0.1),
                hooks=hooks, sink=sink, keys=keys.poll, log=lambda s: None,
            ).run()  # fmt: skip
            timer.join()
    finally:
        os.close(master)
        os.close(slave)
    assert res.rerecorded == 1 and sink.discards == 1 and len(res.saved) == 2
    for rec, frames in zip(res.saved, sink.saved, strict=True):
        t = rec["timing"]
        assert len(frames) == t["ticks"] and t["ticks"] + t["missed_ticks"] == 15
        assert t["missed_ticks"] >= 2  # the skipped ticks are counted, not recorded
    assert "reset" in hooks.phases


def test_q_saves_what_was_recorded_and_stops() -> None:
    sink = ListSink()
    pressed = iter([[], [], [], [Key.STOP]])
    res = Session(
        SessionConfig(fps=100, episodes=5, episode_s=1, reset_s=1),
        hooks=Hooks(), sink=sink, keys=lambda: next(pressed, []), log=lambda s: None,
    ).run()  # fmt: skip
    assert res.stopped == "key" and len(sink.saved) == 1 and len(sink.saved[0]) == 3
