"""Session keys from the terminal: raw-mode stdin over a real tty, so they work over SSH.

Why not only LeRobot's keyboard: ``lerobot.utils.keyboard_input.init_keyboard_listener``
uses pynput, which needs an X display; over SSH or on a headless robot PC it gets none and
the arrow keys do nothing (or it fails to import). Here stdin is put in cbreak mode (no line
buffering, no echo; Ctrl-C still raises SIGINT) with termios, and each tick reads whatever
bytes are waiting with a zero-timeout ``select``: no thread, no display, nothing to install.
The terminal's settings are restored on exit, also after an exception.

Keys (the same three events as LeRobot's listener):

    n  or  Right arrow   NEXT      end this episode (saved) or this reset early
    r  or  Left arrow    RERECORD  discard this episode and record it again
    q  or  Esc           STOP      save the episode so far, stop the session

When LeRobot's listener is available (a display), its events dict is merged too
(``merge_lerobot``), so both work at once.

Label keys, for ``make rollout`` only (``TerminalKeys(labels=True)`` / ``parse(.., labels=True)``;
off by default so ``make record`` reads exactly the keys it always did):

    s  SUCCESS    f  FAILURE    p  PARTIAL    a  ABORT (then a one-word reason and Enter)
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import termios
import tty
from collections.abc import Callable
from enum import Enum


class Key(Enum):
    """What the operator asked for."""

    NEXT = "next"
    RERECORD = "rerecord"
    STOP = "stop"
    SUCCESS = "success"
    FAILURE = "failure"
    PARTIAL = "partial"
    ABORT = "abort"


_SEQUENCES = {
    b"\x1b[C": Key.NEXT,  # right arrow
    b"\x1bOC": Key.NEXT,  # right arrow, application cursor mode
    b"\x1b[D": Key.RERECORD,  # left arrow
    b"\x1bOD": Key.RERECORD,
}
_SINGLE = {b"n": Key.NEXT, b"N": Key.NEXT, b"r": Key.RERECORD, b"R": Key.RERECORD}
_SINGLE |= {b"q": Key.STOP, b"Q": Key.STOP, b"\x1b": Key.STOP}

_LABELS = {b"s": Key.SUCCESS, b"f": Key.FAILURE, b"p": Key.PARTIAL, b"a": Key.ABORT}
_LABELS |= {k.upper(): v for k, v in _LABELS.items()}
LABEL_KEYS = frozenset(_LABELS.values())

HELP = "keys: n/-> next episode, r/<- re-record, q/Esc stop"


def _scan(data: bytes, labels: bool):
    """(key, offset just after it) for each key in ``data``."""
    single = _SINGLE | _LABELS if labels else _SINGLE
    i = 0
    while i < len(data):
        for seq, key in _SEQUENCES.items():
            if data.startswith(seq, i):
                i += len(seq)
                yield key, i
                break
        else:
            if data[i : i + 1] == b"\x1b" and i + 1 < len(data) and data[i + 1 : i + 2] in b"[O":
                i += 3  # another escape sequence (up/down arrow, ...): ignored
                continue
            key = single.get(data[i : i + 1])
            i += 1
            if key is not None:
                yield key, i


def parse(data: bytes, labels: bool = False) -> list[Key]:
    """The keys in a chunk of terminal input (escape sequences first, then single bytes)."""
    return [key for key, _ in _scan(data, labels)]


class TerminalKeys:
    """Reads session keys from a tty file descriptor without blocking (a context manager).

    ``fd`` defaults to stdin. Not a tty (a pipe, CI, nohup): ``active`` is False and
    ``poll()`` returns nothing; the session then runs on its timers alone.
    """

    def __init__(self, fd: int | None = None, labels: bool = False) -> None:
        self.fd = sys.stdin.fileno() if fd is None else fd
        self.labels = labels
        self.active = False
        self._pending = b""  # typed after an abort key: the start of its reason
        self._saved: list | None = None

    def __enter__(self) -> TerminalKeys:
        try:
            if os.isatty(self.fd):
                self._saved = termios.tcgetattr(self.fd)
                tty.setcbreak(self.fd, termios.TCSANOW)
                self.active = True
        except (termios.error, OSError):
            self.active = False
        return self

    def __exit__(self, *exc: object) -> None:
        self.restore()

    def restore(self) -> None:
        """Put the terminal back as it was (idempotent)."""
        if self._saved is not None:
            with contextlib.suppress(termios.error, OSError):
                termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
            self._saved = None
        self.active = False

    def _read(self, timeout: float = 0.0) -> bytes:
        """Bytes waiting now (or within ``timeout`` s for the first of them)."""
        data = b""
        while self.active and select.select([self.fd], [], [], timeout)[0]:
            chunk = os.read(self.fd, 1024)
            if not chunk:  # the terminal went away (SSH dropped): stop reading it
                self.active = False
                break
            data += chunk
            timeout = 0.0
        return data

    def _keys(self, data: bytes) -> list[Key]:
        """Parse; what follows an ABORT key is kept for ``read_line`` (the reason)."""
        out = []
        for key, end in _scan(data, self.labels):
            out.append(key)
            if key is Key.ABORT:
                self._pending = data[end:]
                break
        return out

    def poll(self) -> list[Key]:
        """Keys typed since the last call (never waits)."""
        if not self.active:
            return []
        return self._keys(self._read())

    def wait(self, timeout: float) -> list[Key]:
        """Keys typed within ``timeout`` seconds (returns at the first input)."""
        if not self.active:
            return []
        return self._keys(self._read(timeout))

    def read_line(self, timeout: float, echo: Callable[[str], None] | None = None) -> str:
        """One line typed in cbreak mode (Enter ends it; Backspace works), '' on timeout.

        ``echo(text)`` shows what is typed (cbreak mode does not echo).
        """
        import time

        end = time.monotonic() + timeout
        buf = ""
        data, self._pending = self._pending, b""
        while self.active and (left := end - time.monotonic()) > 0:
            data += self._read(min(left, 0.2)) if not data else b""
            text, data = data.decode("utf-8", "replace"), b""
            for ch in text:
                if ch in "\r\n":
                    return buf.strip()
                if ch in "\x7f\b":
                    buf = buf[:-1]
                elif ch.isprintable():
                    buf += ch
                if echo:
                    echo(buf)
        return buf.strip()


def merge_lerobot(events: dict | None) -> list[Key]:
    """Keys from LeRobot's pynput listener's events dict (consumed: the flags are reset)."""
    if not events:
        return []
    out = []
    if events.get("stop_recording"):
        out.append(Key.STOP)
        events["stop_recording"] = False
    if events.get("rerecord_episode"):
        out.append(Key.RERECORD)
        events["rerecord_episode"] = False
    if events.get("exit_early"):
        out.append(Key.NEXT)
        events["exit_early"] = False
    return out
