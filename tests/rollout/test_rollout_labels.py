"""Label keys over a real pty (os.openpty: bytes typed on the master side as sshd would):
s during an episode ends it labelled, an unlabelled episode is asked for one, a abort takes a
one-word reason, a label key during the reset is refused with one line, and the label goes
with the episode to the writer (``CrashSafeWriter.save(.., extra=)``); ``make record``'s keys
are unchanged (s/f/p/a mean nothing there). Tools env, about a second.
"""

from __future__ import annotations

import os
import termios
import threading

from scripts.rollout import labels
from scripts.rollout.labels import LabelledSink, Labeller
from scripts.session.keys import Key, TerminalKeys, parse
from scripts.session.runner import Session, SessionConfig


class Writer:
    """``CrashSafeWriter``'s sink methods, in memory."""

    def __init__(self) -> None:
        self.next_index = 0
        self.frames = 0
        self.saved: list[dict] = []

    def add(self, frame: dict) -> None:
        self.frames += 1

    def discard(self) -> None:
        self.frames = 0

    def save(self, periods: list[float], summary: dict, extra: dict | None = None) -> dict:
        rec = {"episode_index": self.next_index, "frames": self.frames, "extra": extra}
        self.saved.append(rec)
        self.next_index += 1
        self.frames = 0
        return rec


class Hooks:
    def __init__(self, labeller: Labeller) -> None:
        self.labeller = labeller

    def phase(self, phase: str, index: int) -> None:
        if phase == "episode":
            self.labeller.start_episode()
        self.labeller.phase = phase

    def tick(self, phase: str) -> dict:
        return {"x": 1}


def typed(master: int, script: list[tuple[float, bytes]]) -> threading.Thread:
    def go() -> None:
        ev = threading.Event()
        for delay, data in script:
            ev.wait(delay)
            os.write(master, data)

    t = threading.Thread(target=go, daemon=True)
    t.start()
    return t


def test_record_keys_unchanged_and_label_keys_opt_in() -> None:
    assert parse(b"sfpa") == []  # make record: nothing new
    assert parse(b"sfpaqn", labels=True) == [
        Key.SUCCESS, Key.FAILURE, Key.PARTIAL, Key.ABORT, Key.STOP, Key.NEXT,
    ]  # fmt: skip


def test_labels_typed_on_a_pty_reach_the_writer() -> None:
    """3 episodes x 0.4 s at 50 fps, reset 0.3 s: 's' mid-episode 0 (ends it early), 'f' in
    the reset after it (refused), nothing in episode 1 then 'p' when asked, 'a' + 'cable'."""
    master, slave = os.openpty()
    lines: list[str] = []
    before = termios.tcgetattr(slave)
    try:
        with TerminalKeys(slave, labels=True) as term:
            lab = Labeller(term, log=lines.append)
            writer = Writer()
            sink = LabelledSink(writer, lab, meta=lambda: {"rollout/policy_id": "ckpt-A"})
            t = typed(master, [(0.15, b"s"), (0.2, b"f"), (0.9, b"p"), (0.6, b"a"),
                               (0.1, b"cable\r")])  # fmt: skip
            res = Session(
                SessionConfig(fps=50, episodes=3, episode_s=0.4, reset_s=0.3),
                hooks=Hooks(lab), sink=sink, keys=lab, log=lines.append,
            ).run()  # fmt: skip
            t.join(5)
        assert termios.tcgetattr(slave) == before
    finally:
        os.close(master)
        os.close(slave)
    assert len(res.saved) == 3, lines
    ex = [r["extra"] for r in writer.saved]
    assert [e["rollout/label"] for e in ex] == ["success", "partial", "aborted"], lines
    assert [e["rollout/labelled_by"] for e in ex][:2] == ["key-in-episode", "asked"]
    assert ex[2]["rollout/reason"] == "cable" and ex[0]["rollout/reason"] == ""
    assert all(e["rollout/policy_id"] == "ckpt-A" for e in ex)
    assert writer.saved[0]["frames"] < 20  # 's' at ~0.15 s ended a 0.4 s (20-tick) episode
    assert any("'failure' ignored" in s for s in lines), lines


def test_abort_reason_in_the_same_chunk_and_unlabelled_timeout(monkeypatch) -> None:
    """'a' and its reason typed fast (one read) still give the reason; Enter alone: 'aborted'."""
    monkeypatch.setattr(labels, "REASON_S", 3.0)
    master, slave = os.openpty()
    try:
        with TerminalKeys(slave, labels=True) as term:
            lab = Labeller(term, log=lambda s: None)
            os.write(master, b"ajam\r")
            assert lab.ask(timeout=2) == "aborted" and lab.reason == "jam"
            lab.start_episode()
            os.write(master, b"a\r")
            assert lab.ask(timeout=2) == "aborted" and lab.reason == "aborted"
            lab.start_episode()
            assert lab.ask(timeout=0.5) == "aborted" and lab.reason == "no-label"
    finally:
        os.close(master)
        os.close(slave)
