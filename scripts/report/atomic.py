"""Write a file so that it is either the old one or the complete new one, never half of it.

The data goes to a temp file in the target's folder (same filesystem, so the final rename is
atomic), is flushed to disk, then renamed over the target. A failure removes the temp file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


class ReportError(ValueError):
    """A report that cannot be written (bad path, schema violation); the message is one line."""


def output_problem(path: Path, knob: str = "output") -> str | None:
    """One line saying why ``path`` cannot take a report, or None when it can.

    A missing folder is not created: a typo in JSON= should not grow a directory tree.
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        return f"{knob}={path}: is a directory; give a file name"
    if not parent.is_dir():
        return f"{knob}={path}: folder {parent} does not exist (create it first, or fix the path)"
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return f"{knob}={path}: not writable"
    return None


def write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (tmp + fsync + rename); returns ``path``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text(path: Path, text: str) -> Path:
    """``write_bytes`` for UTF-8 text."""
    return write_bytes(path, text.encode("utf-8"))
