"""Crash points for the safety tests: ``LEROBOT_OPS_CONVERT_KILL_AT=<stage>`` dies at ``stage``.

The pipeline (parent) and the worker tasks both call :func:`hook`; it lives here so that
``pipeline`` imports ``workers`` and never the other way round. A worker dies with its parent,
like a power cut; ``workers`` sets :data:`IN_WORKER` in each pool process.
"""

from __future__ import annotations

import os
import signal

KILL_ENV = "LEROBOT_OPS_CONVERT_KILL_AT"
IN_WORKER = False  # set by scripts.convert.workers in each pool process


def hook(stage: str) -> None:
    """Test hook: die here, like a power cut, when asked to (a worker takes its parent)."""
    if os.environ.get(KILL_ENV) == stage:
        if IN_WORKER:
            os.kill(os.getppid(), signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)
