"""The real local Slurm cluster for the tests: started once, torn down pass or fail.

Why a private cluster per session: a developer's own ``make slurm-local`` (``.cache/slurm``,
port 16817) may be running, and so may another engineer's pytest in the same checkout; each
session uses ``.cache/slurm-test-<pid>`` on ports free at its start, so none disturbs another
(they share only the node names n1/n2, each with its own tagged /etc/hosts line). The
directory is removed at teardown; while a session runs, its Slurm logs are in ``log/`` there.

Every test module that needs Slurm imports the ``slurm`` fixture from here. Each module's
copy calls ``make slurm-local`` (a no-op in 0.2 s once up), so the daemons start once per
session; the session's end runs ``make slurm-local-down`` and then checks /proc that no
process of this cluster (daemon, slurmstepd, job process) survived, killing any that did.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from scripts.slurm import client, local, procs

REPO = Path(__file__).resolve().parents[2]
TEST_DIR = REPO / ".cache" / f"slurm-test-{os.getpid()}"


@dataclass
class Slurm:
    """The running test cluster: the environment for make and the Slurm commands."""

    env: dict[str, str]
    conf: Path
    start_s: float

    def run(self, cmd: list[str], timeout: float = 60, **kw) -> subprocess.CompletedProcess:
        """A command with this cluster's environment, from the repo root; never raises."""
        return subprocess.run(
            [str(c) for c in cmd], env=kw.pop("env", self.env), cwd=kw.pop("cwd", REPO),
            capture_output=True, text=True, timeout=timeout, check=False, **kw,
        )  # fmt: skip

    def make(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        return self.run(["make", *args], timeout=timeout)

    def cluster_env(self) -> client.Cluster:
        """For scripts.slurm.client's calls (outcomes, active) against this cluster."""
        return client.Cluster(self.env, "the test cluster")

    def cluster(self) -> local.Local:
        return local.Local(TEST_DIR.resolve(), int(self.env["SLURM_LOCAL_PORT"]))


def _free_base() -> int:
    """A base port with the three ports after it free (17817, 17827, ...)."""
    for base in range(17817, 18817, 10):
        ok = True
        for port in range(base, base + 3):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no free port range for the test cluster in 17817..18817")


def poll(check: Callable[[], object], timeout_s: float, what: str, every: float = 0.2) -> object:
    """``check()``'s first truthy value; fails the test naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(every)


_SESSION: dict[str, Slurm] = {}


def _env(port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        SLURM_LOCAL_DIR=str(TEST_DIR), SLURM_LOCAL_PORT=str(port),
        SLURM_CONF=str(TEST_DIR.resolve() / "slurm.conf"), PYTHONPATH=str(REPO),
        HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1",
    )  # fmt: skip
    env.setdefault("HF_HOME", str(REPO / ".cache" / "huggingface"))
    return env


def teardown(s: Slurm) -> list[int]:
    """Stop the cluster and kill anything of it that is left; returns the survivors' pids."""
    s.make("slurm-local-down", timeout=120)
    left = procs.with_env("SLURM_CONF", str(s.conf))
    procs.terminate(left, grace_s=2)
    shutil.rmtree(TEST_DIR, ignore_errors=True)
    return left


@pytest.fixture(scope="session")
def slurm() -> Iterator[Slurm]:
    missing = local.missing_binaries()
    if missing:
        pytest.skip(
            f"Slurm not installed ({', '.join(missing)} missing): apt-get install "
            f"{local.PACKAGES} (.ci/run does)"
        )
    if "session" not in _SESSION:
        env = _env(_free_base())
        t0 = time.monotonic()
        proc = subprocess.run(["make", "slurm-local"], env=env, cwd=REPO, capture_output=True,
                              text=True, timeout=180, check=False)  # fmt: skip
        s = Slurm(env, Path(env["SLURM_CONF"]), time.monotonic() - t0)
        _SESSION["session"] = s
        if proc.returncode != 0:
            teardown(s)
            pytest.fail(f"make slurm-local failed:\n{proc.stdout}\n{proc.stderr}")
    s = _SESSION["session"]
    up = s.make("slurm-local", timeout=180)  # a no-op when up; repairs one a test broke
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        yield s
    finally:
        if _SESSION.get("session") is s:
            _SESSION.pop("session")
            left = teardown(s)
            assert not left, f"processes of the test cluster survived slurm-local-down: {left}"
