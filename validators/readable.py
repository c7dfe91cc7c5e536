"""Can every file of the dataset be read? Checked first, so a permission problem is named as one.

Why a pass of its own: an unreadable parquet or mp4 otherwise surfaces deep inside pyarrow or
FFmpeg as a traceback or as "damaged or truncated", which sends the user after the wrong
cause, and exits 1 as if the dataset had errors. One ``open`` per file costs microseconds.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from validators.policies import UsageError


class UnreadableError(UsageError):
    """The dataset (or part of it) cannot be read: not a finding about its contents."""


def unreadable(root: Path) -> list[tuple[str, str]]:
    """(path, reason) of every file or folder below ``root`` that cannot be opened."""
    problems: list[tuple[str, str]] = []
    stack = [str(root)]
    while stack:
        top = stack.pop()
        try:
            with os.scandir(top) as it:
                entries = list(it)
        except OSError as exc:
            problems.append((top, _reason(exc)))
            continue
        for e in entries:
            if e.is_dir(follow_symlinks=True):
                stack.append(e.path)
                continue
            try:
                fd = os.open(e.path, os.O_RDONLY)
            except OSError as exc:
                problems.append((e.path, _reason(exc)))
            else:
                os.close(fd)
    return sorted(problems)


def _reason(exc: OSError) -> str:
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return (exc.strerror or str(exc)).lower()


def require_readable(root: Path) -> None:
    """Raise one line naming the first unreadable path, how many there are, and the fix."""
    problems = unreadable(root)
    if not problems:
        return
    path, reason = problems[0]
    more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
    fix = (
        f"; make it readable (chmod -R u+rX {root}) or run as its owner"
        if reason == "permission denied"
        else ""
    )
    raise UnreadableError(f"{path}: {reason}{more}{fix}")
