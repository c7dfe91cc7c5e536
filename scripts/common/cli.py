"""One way for the toolkit's commands to end on an error: one line, exit 1 (130 on Ctrl-C).

``make convert``, ``make fix-stats`` and ``make edit`` refuse bad input the same way: the
command's own error type prints its message, an ``OSError`` prints the file and the reason
(never a traceback), an interrupt says what was (not) written. Each ``__main__`` passes its
body to ``cli_errors`` instead of repeating the three ``except`` clauses.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path


def cli_errors(
    prog: str,
    error_types: tuple[type[Exception], ...],
    body: Callable[[], int],
    *,
    path: Path | str | None = None,
    interrupted: str = "nothing was written",
) -> int:
    """Run ``body``; its exit code, or 1 after ``prog: error: <one line>``, 130 on Ctrl-C.

    ``path`` names the file an ``OSError`` without a filename is about (usually DST).
    """
    try:
        return body()
    except error_types as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"{prog}: error: {exc.filename or path}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: error: interrupted; {interrupted}", file=sys.stderr)
        return 130
