"""Shared plumbing for the recipe/train/smoke tests: v3.0 datasets and the tiny VLM, built once.

Datasets are written by LeRobot 0.6.1 itself (tests/helpers/train_make_v30.py in envs/act) into
a per-session directory, then each test copies what it needs, so no test modifies another's
input. Imported by tests/train/ and tests/train/test_train_preflight.py.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

from conftest import REPO, env_python, run, run_env

HELPERS = REPO / "tests" / "helpers"


def make_v30(dest: Path, kind: str = "koch", **kw: object) -> Path:
    """Write a v3.0 dataset with LeRobot's own writer; fail the test with its stderr if not."""
    cmd: list = [env_python("act"), HELPERS / "train_make_v30.py", dest, "--kind", kind]
    for key, value in kw.items():
        cmd += [f"--{key.replace('_', '-')}", str(value)]
    proc = run(cmd, timeout=300)
    if proc.returncode != 0:
        raise AssertionError(f"train_make_v30 failed: {proc.stderr[-2000:]}")
    return dest


def make_tiny_vlm(dest: Path) -> Path:
    """The tiny random SmolVLM2 directory (scripts.train.make_tiny_smolvla in envs/smolvla)."""
    proc = run([env_python("smolvla"), "-m", "scripts.train.make_tiny_smolvla", "--out", dest])
    if proc.returncode != 0:
        raise AssertionError(f"make_tiny_smolvla failed: {proc.stderr[-2000:]}")
    return dest


def cached(factory, name: str, build) -> Path:
    """Build an input once per test session (shared across modules); tests copy it."""
    path = factory.getbasetemp() / "train-cache" / name
    if not (path / "meta" / "info.json").is_file() and not (path / "config.json").is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            shutil.rmtree(path)
        build(path)
    return path


def copy(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    return dest


def train_cmd(*args: object) -> list:
    """``python -m scripts.train ...`` in the tools env (the interpreter running pytest)."""
    return [sys.executable, "-m", "scripts.train", *[str(a) for a in args]]


def tool_env(**extra: str) -> dict[str, str]:
    """The launcher's environment with a fixed decoder, so commands are the same on every box.

    make exports VIDEO_BACKEND empty when unset, so an empty value counts as unset here.
    """
    env = run_env()
    env["VIDEO_BACKEND"] = env.get("VIDEO_BACKEND") or "pyav"
    env.update(extra)
    return env


def _default_sigint() -> None:
    # A job started in the background by a non-interactive shell (`cmd &`, as a CI runner
    # may do) inherits SIGINT *ignored*, and Python then installs no KeyboardInterrupt
    # handler: Ctrl-C would do nothing. A user's terminal has the default; restore it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def popen_train(*args: object, env: dict[str, str]) -> subprocess.Popen:
    """Start a launcher in its own session, so a test can interrupt it like Ctrl-C."""
    return subprocess.Popen(
        train_cmd(*args),
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        preexec_fn=_default_sigint,
    )
