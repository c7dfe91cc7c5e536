"""scripts.common.cli: every command's error ending is one line and the documented exit code."""

from __future__ import annotations

import pytest

from scripts.common.cli import cli_errors


class ToolError(Exception):
    pass


def _raise(exc: BaseException):
    def body() -> int:
        raise exc

    return body


@pytest.mark.parametrize(
    ("exc", "code", "line"),
    [
        (ToolError("DST=/x: exists"), 1, "tool: error: DST=/x: exists"),
        (
            FileNotFoundError(2, "No such file or directory", "/a/b"),
            1,
            "tool: error: /a/b: No such",
        ),
        (PermissionError(13, "Permission denied"), 1, "tool: error: /dst: Permission denied"),
        (KeyboardInterrupt(), 130, "tool: error: interrupted; nothing was written"),
    ],
)
def test_errors_are_one_line_with_the_exit_code(capsys, exc, code, line):
    assert cli_errors("tool", (ToolError,), _raise(exc), path="/dst") == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(line), err


def test_success_passes_the_code_through_and_other_errors_propagate(capsys):
    assert cli_errors("tool", (ToolError,), lambda: 3) == 3
    with pytest.raises(ZeroDivisionError):
        cli_errors("tool", (ToolError,), lambda: 1 // 0)
    assert capsys.readouterr().err == ""
