"""The operator's verdict on each episode: s / f / p / a typed in the session's terminal.

Why keys and not a form afterwards: the operator judges while watching; a label typed at the
end of a 12-episode session is a guess. So during an episode a label key ends it with that
label (the cube is in the box: ``s``, no need to wait out EPISODE_S); an episode that runs to
its end is asked for one (``ask``) before it is saved, while the arm holds still. ``a``
(abort: the scene was knocked over, a person stepped in) asks for a one-word reason; Enter
alone, or no reason within ``REASON_S``, records "aborted". Aborted episodes are saved (the
data may still be useful) but excluded from every rate (``stats``).

A label key during the reset changes nothing (the episode is saved with its label): one line
says so. Keys come from ``scripts.session.keys.TerminalKeys(labels=True)`` (raw tty, SSH).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from scripts.session.keys import LABEL_KEYS, Key

NAMES = {Key.SUCCESS: "success", Key.FAILURE: "failure", Key.PARTIAL: "partial",
         Key.ABORT: "aborted"}  # fmt: skip
HELP = "label keys: s success, f failure, p partial, a abort (+ reason, Enter)"
REASON_S = 30.0


@dataclass
class Labeller:
    """Turns label keys into the current episode's label; the session's ``keys`` callable.

    ``terminal`` is a ``TerminalKeys(labels=True)`` (or anything with ``poll``, ``wait`` and
    ``read_line``); ``phase`` is kept up to date by the rollout's hooks.
    """

    terminal: Any
    log: Callable[[str], None]
    phase: str = "episode"
    label: str | None = None
    reason: str = ""
    labelled_by: str = ""  # key-in-episode | asked
    _pending_abort: bool = field(default=False, repr=False)

    _carry: list = field(default_factory=list, repr=False)

    def start_episode(self) -> None:
        """A new episode, unlabelled. Keys typed before it began (in the reset's last moments,
        while its checkpoint was loaded and its first chunk awaited) are read now: a label key
        among them is dropped with one line, never given to this episode; n / r / q stay."""
        self.label, self.reason, self.labelled_by, self.phase = None, "", "", "episode"
        early = self.terminal.poll() if getattr(self.terminal, "active", True) else []
        for k in early:
            if k in LABEL_KEYS:
                self.log(f"rollout: '{NAMES[k]}' ignored: typed before this episode began "
                         "(label an episode while it runs or when it ends)")  # fmt: skip
            else:
                self._carry.append(k)

    def _take(self, key: Key, how: str) -> None:
        self.label = NAMES[key]
        self.labelled_by = how
        if key is Key.ABORT:
            self.log("rollout: abort: type a one-word reason and Enter (Enter alone: 'aborted')")
            self.reason = self.terminal.read_line(REASON_S).split(" ")[0] or "aborted"
        self.log(f"rollout: labelled {self.label}" + (f" ({self.reason})" if self.reason else ""))

    def __call__(self) -> list[Key]:
        """The session's keys: label keys consumed here (one ends the episode as NEXT does)."""
        keys = self.terminal.poll()
        if self._carry:
            keys, self._carry = [*self._carry, *keys], []
        out = [k for k in keys if k not in LABEL_KEYS]
        labels = [k for k in keys if k in LABEL_KEYS]
        if labels and self.phase == "episode" and self.label is None:
            self._take(labels[0], "key-in-episode")
            out.append(Key.NEXT)
        elif labels:
            self.log(f"rollout: '{NAMES[labels[0]]}' ignored during the {self.phase}: the last "
                     f"episode is already labelled {self.label or '(none)'} and saved, the next "
                     "one is labelled while it runs or when it ends")  # fmt: skip
        return out

    def ask(self, timeout: float | None = None) -> str:
        """Wait for a label key (the episode ran to its end unlabelled); returns the label."""
        if self.label is not None:
            return self.label
        self.log(f"rollout: episode over: {HELP}")
        waited = 0.0
        while self.label is None:
            if not getattr(self.terminal, "active", True):
                self.label, self.reason, self.labelled_by = "aborted", "no-terminal", "none"
                self.log("rollout: the terminal went away: episode recorded as aborted")
                break
            keys = [k for k in self.terminal.wait(0.5) if k in LABEL_KEYS]
            waited += 0.5
            if keys:
                self._take(keys[0], "asked")
            elif timeout is not None and waited >= timeout:
                self.label, self.reason, self.labelled_by = "aborted", "no-label", "timeout"
                break
        return self.label


@dataclass
class LabelledSink:
    """``Session``'s sink around ``CrashSafeWriter``: asks the label, stores it with the episode.

    ``meta()`` gives the columns for the episode about to be saved (policy id, blind number);
    the label, reason and duration are added here, then all of it goes into LeRobot's
    ``meta/episodes`` row and the journal line (``CrashSafeWriter.save(.., extra=)``).
    """

    writer: Any
    labeller: Labeller
    meta: Callable[[], dict]
    ask_timeout: float | None = None

    @property
    def next_index(self) -> int:
        return self.writer.next_index

    def add(self, frame: dict) -> None:
        self.writer.add(frame)

    def discard(self) -> None:
        self.writer.discard()

    def save(self, periods: list[float], summary: dict) -> dict:
        label = self.labeller.ask(self.ask_timeout)
        extra = {
            **self.meta(),
            "rollout/label": label,
            "rollout/reason": self.labeller.reason,
            "rollout/labelled_by": self.labeller.labelled_by,
            "rollout/duration_s": float(round(sum(periods), 4)),
        }
        return self.writer.save(periods, summary, extra=extra)
