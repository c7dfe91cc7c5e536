"""Test plumbing for the Dynamixel simulator: start it on a pty, talk to it raw, read its state.

Why a real process and a real pty: the simulator is only useful if LeRobot's unchanged bus can
open it like a USB adapter, so tests start it exactly as `make motors-sim` does (envs/act's
Python, `python -m scripts.motors.sim`) and stop it with SIGTERM, after which it writes every
motor's registers to its state file.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import termios
import time
import tty
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from scripts.motors import protocol as p

REPO = Path(__file__).resolve().parents[2]
ACT_PY = REPO / "envs" / "act" / ".venv" / "bin" / "python"


@dataclass
class Sim:
    """A running simulator: its port, its process, and (after stop) its registers."""

    port: str
    proc: subprocess.Popen
    state_path: Path
    state: dict = field(default_factory=dict)

    def registers(self, motor_id: int) -> dict[str, int]:
        """Registers of the (first) motor with `motor_id` from the state written at stop."""
        for m in self.state["motors"]:
            if m["id"] == motor_id:
                return m["registers"]
        raise KeyError(motor_id)


def sim_env(calib_root: Path | None = None) -> dict[str, str]:
    """Environment for the simulator and LeRobot subprocesses (repo on PYTHONPATH, offline)."""
    env = dict(os.environ)
    env.update(PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    if calib_root is not None:
        env["HF_LEROBOT_CALIBRATION"] = str(calib_root)
    return env


@contextmanager
def simulator(tmp: Path, *args: str) -> Iterator[Sim]:
    """Run `python -m scripts.motors.sim ARGS` for the duration of the block."""
    state = tmp / f"sim-state-{time.monotonic_ns()}.json"
    proc = subprocess.Popen(
        [str(ACT_PY), "-m", "scripts.motors.sim", "--state", str(state), *args],
        cwd=REPO,
        env=sim_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline() if proc.stdout else ""
    if not line.startswith("PORT "):
        proc.kill()
        raise RuntimeError(
            f"simulator did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}"
        )
    sim = Sim(port=line.split()[1], proc=proc, state_path=state)
    try:
        yield sim
    finally:
        stop(sim)


TRANSPORT_SIGNS = (
    "There is no status packet",
    "Missing motor IDs",
    "motor check failed",  # LeRobot's first line of the same ping timeout (IDs on the next)
    "does not answer",
    "no motor answers",
)


def skip_if_transport_late(sim: Sim, text: str) -> None:
    """Skip (with the numbers) when LeRobot timed out although the simulator answered in time.

    Why: every byte through a pty is handed over by a kernel worker thread at normal priority;
    on this 2-core box shared with other jobs it was measured delaying bytes by 30 ms to over
    1 s, past dynamixel-sdk's ~34 ms timeout, while the simulator's own reply time stayed under
    1 ms. Such a timeout says nothing about the simulator or our code; anything else still fails.
    Call after the simulator stopped (its state holds its reply times), and only where no
    fault makes a motor silent on purpose.
    """
    if transport_late(sim, text):
        first = next(ln for ln in text.splitlines() if any(s in ln for s in TRANSPORT_SIGNS))
        full = sim.state.get("pty_full", {})
        pytest.skip(
            f"pty transport late under box load; simulator replies {sim.state['reply_ms']} ms, "
            f"waits for the kernel to drain the pty {full}: {first.strip()}"
        )


def transport_late(sim: Sim, text: str) -> bool:
    """LeRobot's output says a bus read timed out, and the (stopped) simulator answered fast."""
    reply = sim.state.get("reply_ms", {})
    return any(s in text for s in TRANSPORT_SIGNS) and bool(reply) and reply["max"] < 5


def stop(sim: Sim) -> None:
    """SIGTERM the simulator, wait, load the registers it wrote."""
    if sim.proc.poll() is None:
        sim.proc.send_signal(signal.SIGTERM)
        try:
            sim.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            sim.proc.kill()
            sim.proc.wait()
    if sim.state_path.exists():
        sim.state = json.loads(sim.state_path.read_text())


class RawPort:
    """A bare serial client on the pty (termios, no pyserial): sends packets, reads replies."""

    def __init__(self, port: str, baud: int = 1_000_000) -> None:
        self.fd = os.open(port, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(self.fd)
        attrs = termios.tcgetattr(self.fd)
        speed = getattr(termios, f"B{baud}")
        attrs[4] = attrs[5] = speed
        termios.tcsetattr(self.fd, termios.TCSANOW, attrs)

    def close(self) -> None:
        """Close the port."""
        os.close(self.fd)

    def send(self, data: bytes) -> None:
        """Write raw bytes."""
        os.write(self.fd, data)

    def receive(
        self, n_packets: int = 1, timeout: float = 0.2
    ) -> list[tuple[int, int, bytes, bool]]:
        """Up to `n_packets` status packets as (id, error, params, crc_ok) within `timeout`."""
        buf = bytearray()
        out: list[tuple[int, int, bytes, bool]] = []
        deadline = time.monotonic() + timeout
        while len(out) < n_packets:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                break
            buf += os.read(self.fd, 4096)
            while (start := buf.find(p.HEADER)) >= 0 and len(buf) >= start + 7:
                total = 7 + (buf[start + 5] | buf[start + 6] << 8)
                if len(buf) < start + total:
                    break
                pkt = bytes(buf[start : start + total])
                del buf[: start + total]
                ok = p.crc16(pkt[:-2]) == pkt[-2] | pkt[-1] << 8
                out.append((pkt[4], pkt[8], p.unstuff(pkt[9:-2]), ok))
        return out

    def ask(
        self, motor_id: int, instruction: int, params: bytes = b"", n: int = 1
    ) -> list[tuple[int, int, bytes, bool]]:
        """Send one instruction packet and collect `n` replies."""
        self.send(p.instruction_packet(motor_id, instruction, params))
        return self.receive(n)


def normal_priority() -> None:
    """preexec_fn: run the child at normal priority whatever the test process has.

    Why: a child inherits its parent's scheduling policy. Seen here: the pytest process of a
    full run ended up SCHED_FIFO 99 (set from outside the suite), so the CPU burner of the
    under-load test inherited FIFO 99 and starved LeRobot's loop for minutes. A burner and
    LeRobot's control loop are normal processes in real use.
    """
    os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))


def run_koch_loop(
    port: str, calib_root: Path, *args: str, timeout: float = 120
) -> tuple[dict, str]:
    """Run tests/helpers/motors_koch_loop.py in envs/act; (its JSON report, stderr)."""
    cmd = [str(ACT_PY), str(REPO / "tests" / "helpers" / "motors_koch_loop.py"), port, *args]
    res = subprocess.run(
        cmd,
        cwd=REPO,
        env=sim_env(calib_root),
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=normal_priority,
    )
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith("{")]
    report = json.loads(lines[-1]) if lines else {"error": f"no report (exit {res.returncode})"}
    return report, res.stderr
