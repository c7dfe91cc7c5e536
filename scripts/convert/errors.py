"""The one error type the converter raises for bad input or a failed write.

``main()`` prints it as ``convert: error: <file>: <what>`` and exits non-zero, so every
failure a user can fix names the file (or the knob) to fix.
"""

from __future__ import annotations

import os
from pathlib import Path


class ConversionError(Exception):
    """A problem with one file (or option) that stops the conversion."""

    def __init__(self, file: str | os.PathLike[str], message: str) -> None:
        super().__init__(f"{file}: {message}")
        self.file = str(file)
        self.message = message

    def __reduce__(self):  # survive the trip back from a camera worker process
        return (ConversionError, (self.file, self.message))


def os_error(exc: OSError, fallback: Path | str) -> ConversionError:
    """Turn an OSError (disk full, permission denied, ...) into a one-line ConversionError."""
    name = exc.filename if exc.filename else fallback
    reason = exc.strerror or str(exc)
    return ConversionError(name, reason.lower() if reason else "I/O error")
