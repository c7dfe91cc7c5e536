"""Import LeRobot's async-inference modules without side effects in the user's directory.

What LeRobot 0.6.1 does wrong: ``PolicyServer.logger`` and ``RobotClient.logger`` are class
attributes built by ``helpers.get_logger`` at import time, which creates ``./logs/`` in the
current directory and opens a new file there per import.

What we do instead: patch ``helpers.get_logger`` before the server/client modules import it,
so their logs go to ``log_dir`` (the run's directory) with LeRobot's own format, and swap their
``pickle`` for the restricted one (``safe_pickle.install``).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from types import ModuleType

_LOG_DIR: Path | None = None


def _get_logger(name: str, log_to_file: bool = True) -> logging.Logger:
    from lerobot.utils.utils import init_logging

    log_file = None
    if log_to_file and _LOG_DIR is not None:
        _LOG_DIR.mkdir(parents=True, exist_ok=True)
        log_file = _LOG_DIR / f"{name}_{int(time.time())}.log"
    init_logging(log_file=log_file, display_pid=False)
    return logging.getLogger(name)


def import_async(name: str, log_dir: Path | None) -> ModuleType:
    """``lerobot.async_inference.<name>`` (policy_server or robot_client), logging under
    ``log_dir`` (None: console only), its ``pickle`` already the restricted one."""
    global _LOG_DIR
    _LOG_DIR = log_dir
    import importlib

    from lerobot.async_inference import helpers

    helpers.get_logger = _get_logger
    module = importlib.import_module(f"lerobot.async_inference.{name}")

    from scripts.deploy import safe_pickle

    safe_pickle.install(module)
    return module
