"""Process facts read from /proc: liveness and "which processes belong to this cluster".

Why not ``kill -0``: a daemon that died but was never reaped (its parent here is an init that
does not reap) is a zombie, and ``kill -0`` succeeds on zombies. ``/proc/PID/stat``'s state
field says ``Z``. Why the environment: every process of a local cluster (munged aside) is
started with ``SLURM_CONF=<its slurm.conf>`` and slurmd hands that variable down to
slurmstepd and every job process, so one exact ``SLURM_CONF=`` entry names them all, steps
whose slurmd already died included, and nothing else on the machine.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path


def state(pid: int) -> str | None:
    """The one-letter state of ``pid`` (R, S, D, Z ...), or None when there is no such process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    # "pid (comm) S ...": comm may hold spaces and parentheses, the state follows the last ')'.
    rest = text[text.rfind(")") + 1 :].split()
    return rest[0] if rest else None


def alive(pid: int | None) -> bool:
    """True for a running (not zombie, not dead) process."""
    return bool(pid) and state(int(pid)) not in (None, "Z", "X")


def cmdline(pid: int) -> str:
    """The command line with blanks between arguments ('' when unreadable)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def _ancestors() -> set[int]:
    """This process and its parents: never signalled, though they may carry SLURM_CONF."""
    pids = set()
    pid = os.getpid()
    while pid > 1 and pid not in pids:
        pids.add(pid)
        try:
            text = Path(f"/proc/{pid}/stat").read_text()
            pid = int(text[text.rfind(")") + 1 :].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return pids


def with_env(key: str, value: str) -> list[int]:
    """Live processes whose environment holds exactly ``key=value`` (not us or our parents)."""
    want = f"{key}={value}".encode()
    skip = _ancestors()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in skip:
            continue
        try:
            env = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if want in env and alive(int(entry.name)):
            found.append(int(entry.name))
    return sorted(found)


def terminate(pids: list[int], grace_s: float = 5.0) -> list[int]:
    """SIGTERM, wait up to ``grace_s`` for them to end, then SIGKILL; returns those killed."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.1)
    killed = [p for p in pids if alive(p)]
    for pid in killed:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5.0  # SIGKILL is delivered asynchronously: see them gone
    while time.monotonic() < deadline and any(alive(p) for p in killed):
        time.sleep(0.05)
    return killed
