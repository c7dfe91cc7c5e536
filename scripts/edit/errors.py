"""The one error type of ``make edit``: a one-line message naming the file or the knob."""

from __future__ import annotations


class EditError(Exception):
    """Bad input or a failed write; ``main()`` prints ``edit: error: <message>``, exit 1."""
