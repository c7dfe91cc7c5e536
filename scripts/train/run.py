"""Run lerobot-train with its output on the terminal and in <OUT>/train.log; read run state.

Why a pump instead of ``| tee``: lerobot-train refuses an existing output directory unless it
resumes, and it creates <OUT> only at its first checkpoint. So the log starts beside <OUT>
(``.<name>.train.log.part``) and moves into <OUT>/train.log as soon as <OUT> exists. A run
that dies before its first checkpoint still leaves <OUT>/train.log; the next launch recognises
such a directory (toolkit files only), keeps its log and starts afresh.

What goes where (``OutputFilter``): the log gets clean lines, without progress-bar redraws
(``\r``) or terminal codes; the terminal gets the bars but not LeRobot's ~150-line config
dump, which stays in the log (one line says so). When stdout is not a terminal, ``cli.py``
turns the bars off altogether (``TQDM_DISABLE=1``).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

LOG_NAME = "train.log"
TOOLKIT_FILES = ("train.log", "loss.png", "launch.json")
LAST = Path("checkpoints") / "last"
CONFIG_IN_CKPT = LAST / "pretrained_model" / "train_config.json"


@dataclass(frozen=True)
class OutState:
    """What <OUT> holds: ``fresh``, ``resume`` (checkpoint below the target), ``finished``,
    ``failed_start`` (only toolkit files, no checkpoint) or ``foreign`` (something else)."""

    kind: str
    last_step: int | None = None


def last_step(out: Path) -> int | None:
    """The step of <OUT>/checkpoints/last, from LeRobot's training_state/training_step.json."""
    f = out / LAST / "training_state" / "training_step.json"
    try:
        return int(json.loads(f.read_text())["step"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def out_state(out: Path, steps: int) -> OutState:
    """Classify <OUT> for a run asking for ``steps`` training steps in total."""
    if not out.exists():
        return OutState("fresh")
    if (out / CONFIG_IN_CKPT).is_file():
        step = last_step(out)
        if step is not None and step >= steps:
            return OutState("finished", step)
        return OutState("resume", step)
    names = [p.name for p in out.iterdir()]
    if all(n in TOOLKIT_FILES or n.startswith(LOG_NAME) for n in names):
        return OutState("failed_start")
    return OutState("foreign")


def part_log(out: Path) -> Path:
    return out.parent / f".{out.name}.{LOG_NAME}.part"


def clear_failed_start(out: Path) -> None:
    """Carry a failed start's log into the next attempt's log, then remove the toolkit files."""
    part = part_log(out)
    old = out / LOG_NAME
    with part.open("ab") as fh:
        if old.is_file():
            fh.write(old.read_bytes())
            fh.write(b"\n----- previous attempt above; new attempt below -----\n")
    for name in TOOLKIT_FILES:
        (out / name).unlink(missing_ok=True)
    for extra in out.glob("train.log*"):
        extra.unlink()
    out.rmdir()


def move_aside(out: Path) -> Path:
    """FORCE=1 on a finished run: keep it under a dated name instead of deleting it."""
    dest = out.with_name(f"{out.name}.prev-{time.strftime('%Y%m%d-%H%M%S')}")
    out.rename(dest)
    return dest


ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")
# A tqdm bar as LeRobot's training loop draws it: "Training:  10%|#    | 1/10 [00:02<00:24, ...]"
BAR = re.compile(rb"^(?:[^\n|]*?\d+%\|[^|\n]*\|[^\[\n]*\[[^\]\n]*\])+")
CONFIG_DUMP = re.compile(rb"ot_train\.py:\d+ \{'")
RECORD_STARTS = (b"INFO ", b"WARNING ", b"ERROR ", b"DEBUG ", b"Traceback", b"[")


def _depth(line: bytes) -> int:
    return sum(line.count(c) for c in b"{[(") - sum(line.count(c) for c in b"}])")


class OutputFilter:
    """Split lerobot-train's output into what the terminal shows and what the log keeps."""

    def __init__(self) -> None:
        self.pending = b""
        self.dump_depth = 0
        self.dump_lines = 0

    def feed(self, chunk: bytes) -> tuple[bytes, bytes]:
        """(for the terminal, for the log) of the complete segments so far."""
        self.pending += chunk
        term: list[bytes] = []
        log: list[bytes] = []
        while True:
            cut = min((i for i in (self.pending.find(b"\n"), self.pending.find(b"\r")) if i >= 0),
                      default=-1)  # fmt: skip
            if cut < 0:
                break
            segment, self.pending = self.pending[: cut + 1], self.pending[cut + 1 :]
            self._segment(segment, term, log)
        return b"".join(term), b"".join(log)

    def flush(self) -> tuple[bytes, bytes]:
        term: list[bytes] = []
        log: list[bytes] = []
        if self.pending:
            self._segment(self.pending + b"\n", term, log)
            self.pending = b""
        return b"".join(term), b"".join(log)

    def _end_dump(self, term: list[bytes]) -> None:
        note = f"[train] LeRobot's config ({self.dump_lines} lines): in {LOG_NAME}\n"
        term.append(note.encode())
        self.dump_depth = self.dump_lines = 0

    def _segment(self, segment: bytes, term: list[bytes], log: list[bytes]) -> None:
        clean = BAR.sub(b"", ANSI.sub(b"", segment))
        if segment.endswith(b"\r"):  # a bar redraw: the terminal only
            term.append(segment)
            return
        if self.dump_depth > 0 and clean.startswith(RECORD_STARTS):  # unbalanced: end it here
            self._end_dump(term)
        if self.dump_depth > 0 or CONFIG_DUMP.search(clean):
            log.append(clean)
            self.dump_lines += 1
            self.dump_depth = max(self.dump_depth, 0) + _depth(clean)
            if self.dump_depth <= 0:
                self._end_dump(term)
            return
        term.append(segment)
        if clean.strip():
            log.append(clean)


class _Log:
    """Append to <OUT>/train.log once <OUT> exists, to the .part file beside it before that."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.part = part_log(out)
        self.fh = None
        self._open()

    def _open(self) -> None:
        if self.out.is_dir():
            final = self.out / LOG_NAME
            fh = final.open("ab")
            if self.part.is_file():
                fh.write(self.part.read_bytes())
                self.part.unlink()
            self.fh, self.in_out = fh, True
        else:
            self.part.parent.mkdir(parents=True, exist_ok=True)  # e.g. outputs/smoke/ on a clone
            self.fh, self.in_out = self.part.open("ab"), False

    def write(self, data: bytes) -> None:
        if not self.in_out and self.out.is_dir():
            self.fh.close()
            self._open()
        self.fh.write(data)
        self.fh.flush()

    def close(self) -> Path:
        """Finish: the log always ends at <OUT>/train.log (creating <OUT> if LeRobot did not)."""
        self.fh.close()
        if not self.in_out:
            self.out.mkdir(parents=True, exist_ok=True)
            final = self.out / LOG_NAME
            with final.open("ab") as fh:
                fh.write(self.part.read_bytes())
            self.part.unlink()
        return self.out / LOG_NAME


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def run_logged(cmd: list[str], out: Path, env: dict[str, str], header: str) -> int:
    """Run ``cmd``; copy its stdout+stderr to the terminal and the log; return its exit code.

    ``kill`` (SIGTERM) and a closed terminal (SIGHUP) stop it like Ctrl-C: the child is
    stopped and the log still ends in <OUT>/train.log, no hidden ``.part`` file left behind.
    """
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    log = _Log(out)
    log.write(header.encode())
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    term = sys.stdout.buffer
    split = OutputFilter()
    try:
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            shown, kept = split.feed(chunk)
            term.write(shown)
            term.flush()
            log.write(kept)
        code = proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        log.write(b"\n[train] interrupted; run make train again with the same OUT to resume\n")
        code = code or 130
    shown, kept = split.flush()
    term.write(shown)
    term.flush()
    log.write(kept)
    path = log.close()
    print(f"[train] log: {path}", flush=True)
    return code
