"""Run ``make record``'s program (``scripts.record.__main__.main``) once per bad-input case in
one envs/act process (LeRobot imported once: ~10 s saved per case on a loaded box).

Usage: record_bad_input.py CASES.json; each case {"name", "argv", "env"}; prints one JSON
line {name: {"rc", "stderr", "traceback"}}. An exception main() lets through is reported as
its traceback (the test then fails: bad input must end in one line, never a traceback).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import traceback
from pathlib import Path

from scripts.record.__main__ import main


def run(case: dict) -> dict:
    saved = dict(os.environ)
    os.environ.update(case.get("env", {}))
    err = io.StringIO()
    tb = ""
    rc = None
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(err):
            rc = main(case["argv"])
    except BaseException:  # reported: the test fails on it
        tb = traceback.format_exc()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return {"rc": rc, "stderr": err.getvalue(), "traceback": tb}


if __name__ == "__main__":
    cases = json.loads(Path(sys.argv[1]).read_text())
    print(json.dumps({c["name"]: run(c) for c in cases}))
