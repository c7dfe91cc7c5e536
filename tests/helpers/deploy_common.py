"""Plumbing for the deploy tests: inputs built once, real processes, their output lines.

The dataset is the Koch-like v3.0 fixture written by LeRobot 0.6.1 (shared with the training
tests through ``train_common.cached``); the checkpoint is a tiny randomly initialised ACT made
by LeRobot from it (``deploy_make_ckpt.py``). Servers and clients are the real processes that
``make serve`` / ``make robot`` run, in their own sessions so a test can signal them.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from conftest import REPO, env_python, run, run_env
from helpers.train_common import cached, make_v30

HELPERS = REPO / "tests" / "helpers"


def dataset(factory) -> Path:
    return cached(factory, "koch_v30", lambda p: make_v30(p, "koch"))


def other_cameras_dataset(factory) -> Path:
    """Same robot, cameras named front/side: a checkpoint trained on laptop/phone must refuse."""
    return cached(
        factory, "koch_v30_front_side", lambda p: make_v30(p, "koch", cameras="front,side")
    )


def checkpoint(factory) -> Path:
    ds = dataset(factory)

    def build(p: Path) -> None:
        proc = run([env_python("act"), HELPERS / "deploy_make_ckpt.py", ds, p], timeout=300)
        if proc.returncode != 0:
            raise AssertionError(f"deploy_make_ckpt failed: {proc.stderr[-2000:]}")

    return cached(factory, "act_tiny_ckpt", build)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    """A process in its own session whose merged output is collected line by line."""

    def __init__(
        self, cmd: list, env: dict[str, str] | None = None, preexec_fn=None, cwd: Path = REPO,
        stdin: int | None = None,
    ) -> None:  # fmt: skip
        self.lines: list[str] = []
        self.p = subprocess.Popen(
            [str(c) for c in cmd],
            cwd=cwd,
            stdin=stdin,
            env=env or run_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            preexec_fn=preexec_fn,
        )
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()

    def _read(self) -> None:
        assert self.p.stdout is not None
        for line in self.p.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def out(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, text: str, timeout: float) -> float:
        """Seconds until a line containing ``text`` appears; fails with the output if not."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if any(text in line for line in self.lines):
                return time.monotonic() - t0
            if self.p.poll() is not None:
                time.sleep(0.2)  # let the reader drain
                if any(text in line for line in self.lines):
                    return time.monotonic() - t0
                raise AssertionError(f"exited {self.p.returncode} before {text!r}:\n{self.out}")
            time.sleep(0.05)
        raise AssertionError(f"no {text!r} within {timeout} s:\n{self.out[-4000:]}")

    def signal(self, sig: int, group: bool = False) -> None:
        if self.p.poll() is None:
            if group:
                os.killpg(self.p.pid, sig)
            else:
                self.p.send_signal(sig)

    def wait(self, timeout: float) -> int:
        rc = self.p.wait(timeout=timeout)
        self._t.join(timeout=5)
        return rc

    def stop(self) -> None:
        """Teardown: SIGTERM the whole group, then SIGKILL if it lingers."""
        if self.p.poll() is None:
            self.signal(signal.SIGTERM, group=True)
            try:
                self.p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL, group=True)
                self.p.wait(timeout=5)


def act(*args: object) -> list:
    return [env_python("act"), *args]


def start_server(ckpt: Path, port: int, log_dir: Path, *extra: str) -> Proc:
    """``make serve`` itself; ready when it prints SERVING."""
    return Proc(
        [
            "make",
            "serve",
            f"CHECKPOINT={ckpt}",
            f"PORT={port}",
            f"DEPLOY_DIR={log_dir}",
            *extra,
        ]
    )


def client_cmd(ckpt: Path, port: int, ds: Path, log_dir: Path, *extra: str) -> list:
    """The client exactly as ``make robot ROBOT=replay`` runs it (python, so signals reach it)."""
    return act(
        "-m",
        "scripts.deploy.client",
        "--robot",
        "replay",
        "--checkpoint",
        ckpt,
        "--server",
        f"127.0.0.1:{port}",
        "--dataset",
        ds,
        "--log-dir",
        log_dir,
        "--set",
        "robot.loop=true",
        *extra,
    )


def probe(*args: object, timeout: float = 120) -> Any:
    return probe_script(HELPERS / "deploy_probe.py", *args, timeout=timeout)


def probe_script(script: Path, *args: object, timeout: float = 120) -> Any:
    """Run a helper in envs/act; its last JSON line (a crash is the output, not a KeyError)."""
    proc = run(act(script, *args), timeout=timeout)
    lines = [ln for ln in proc.stdout.splitlines() if ln[:1] in ("{", "[")]
    if proc.returncode != 0 or not lines:
        raise AssertionError(f"probe {args} failed: {proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return json.loads(lines[-1])


def wait_listening(port: int, proc: Proc, timeout: float) -> None:
    """Until something accepts TCP connections on loopback ``port`` (a stock server)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc.p.poll() is not None:
            raise AssertionError(f"exited {proc.p.returncode}:\n{proc.out[-3000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"nothing listens on {port} after {timeout} s:\n{proc.out[-3000:]}")


def health(port: int, tls_dir: Path | None = None) -> str:
    tls = ["--tls-dir", tls_dir] if tls_dir else []
    proc = run(act("-m", "scripts.deploy.check", "--server", f"127.0.0.1:{port}", *tls), timeout=60)
    return proc.stdout.strip().split()[-1] if proc.stdout.strip() else proc.stderr[-500:]


def run_dir(log_dir: Path) -> Path:
    """The single run directory a client made under ``log_dir``."""
    dirs = [d for d in log_dir.iterdir() if d.is_dir() and d.name.startswith("replay-")]
    assert len(dirs) == 1, dirs
    return dirs[0]
