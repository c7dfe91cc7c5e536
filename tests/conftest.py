"""Shared test plumbing: where the repo and its environments are, and how to run a command.

Tests run in the light `tools` environment; anything that needs LeRobot runs as a subprocess
in `envs/act` or `envs/smolvla` (that is how the toolkit itself runs it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytest_plugins = ["helpers.train_fixtures"]

REPO = Path(__file__).resolve().parents[1]
FIXTURE_V21 = REPO / "tests" / "fixtures" / "koch_v21_real"


def env_python(name: str) -> Path:
    """The interpreter of envs/<name>; `make test` builds every environment first."""
    py = REPO / "envs" / name / ".venv" / "bin" / "python"
    if not py.exists():
        pytest.fail(f"{py} missing: run `make envs` (make test does it for you)")
    return py


# What an enclosing `make test` puts in the environment: its flags (-s, --no-print-directory)
# and the site settings it exports (DATA_DIR pointing at this checkout's data/, ...). A test
# that runs `make` in a private copy of the repo must see that copy's own defaults, exactly as
# with plain pytest; so they are dropped from this process (and so from every command the
# tests start) before any test runs.
ENCLOSING_MAKE = (
    "MAKEFLAGS",
    "MFLAGS",
    "MAKELEVEL",
    "MAKEOVERRIDES",
    "DATA_DIR",
    "HF_HOME",
    "HF_DATASETS_CACHE",
    "TORCH_HOME",
    "WEIGHTS_DIR",
    "PYTORCH_CUDA_ALLOC_CONF",
    "VIDEO_BACKEND",
)


for _name in ENCLOSING_MAKE:
    os.environ.pop(_name, None)


def run_env() -> dict[str, str]:
    """The environment the Makefile gives its commands: offline, repo on PYTHONPATH."""
    env = dict(os.environ)
    env.update(PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    env.setdefault("HF_HOME", str(REPO / ".cache" / "huggingface"))
    return env


def run(cmd: list[str | Path], *, timeout: float = 600, **kw) -> subprocess.CompletedProcess:
    """Run a command from the repo root, capturing text output; never raises on exit codes."""
    kw.setdefault("cwd", REPO)
    kw.setdefault("env", run_env())
    return subprocess.run(
        [str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, check=False, **kw
    )


@pytest.fixture
def koch_v21(tmp_path: Path) -> Path:
    """A private copy of the real v2.1 fixture (written by LeRobot 0.3.3's recorder)."""
    dst = tmp_path / "koch_v21_real"
    shutil.copytree(FIXTURE_V21, dst)
    return dst


@pytest.fixture(autouse=True)
def _tqdm_lock_of_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under mutmut only: every test run is a child forked from one warm process.

    tqdm's class-wide lock is a multiprocessing semaphore shared by all of them; a child killed
    on timeout while holding it blocks every later bar (a survivor then shows as a timeout,
    i.e. a kill). A lock and no monitor thread of this process's own. Normal runs: untouched.
    """
    if os.environ.get("MUTANT_UNDER_TEST"):
        import threading

        import tqdm

        monkeypatch.setattr(tqdm.tqdm, "_lock", threading.RLock(), raising=False)
        monkeypatch.setattr(tqdm.tqdm, "monitor_interval", 0)
