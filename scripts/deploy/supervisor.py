"""``make robot``'s supervisor: whatever kills the control process, torque goes off.

Usage: python -m scripts.deploy.supervisor [--stop-grace-s S] -- <scripts.deploy.client args>

Why: the control process (scripts/deploy/client.py: LeRobot, torch, native code) turns torque
off itself on every stop it lives through (signal, stall, end), but not when it is killed:
a segfault, the OOM killer or ``kill -9`` left all six Koch motors with Torque_Enable=1. This
process is small (stdlib, YAML and scripts/motors; no torch, up in ~0.15 s) and only waits:

    make -> supervisor (this) -> control process (scripts.deploy.client, same argv)

- The control process dies (a signal, a non-zero exit other than 2 = preflight, when the arm
  was never connected): if the profile's robot has a motor bus (scripts/motors/profile.BUSES),
  the supervisor opens the port itself and switches torque off on every motor, read back
  (scripts/motors/torque.py), one line per motor that does not answer. It waits on a pidfd,
  not a timer, so it acts the moment the kernel reports the death. Measured on the simulator,
  ``kill -9`` of a moving control process, 12 kills on this 2-core box at load 6-8
  (tests/helpers/supervisor_bench.py): the kernel takes median 125 ms, max 199 ms to finish
  the killed process (freeing torch's memory) before anyone can see it is dead; then torque
  is off and read back on 6/6 motors in median 1.1 ms, max 4.2 ms (another 12 at load 9:
  max 87 ms). Kill to torque off, the two summed per kill: median 128 ms, max 203 ms.
- The supervisor dies (even ``kill -9``): the control process gets SIGTERM from the kernel
  (``PR_SET_PDEATHSIG``, set between fork and exec), which it handles as an operator stop:
  loop stopped, robot disconnected with torque off. (The signal follows the death of the
  forking *thread*: the supervisor has one thread.)
- SIGINT/SIGTERM/SIGHUP are forwarded; if the control process has not exited
  ``--stop-grace-s`` later (it turns torque off first, then writes its report), or on a second
  signal, it is killed and the supervisor switches torque off itself.

Exit codes: the control process's own (0 stopped, 1 failed, 2 preflight) when it exited;
3 when it died or had to be killed, with one line, e.g. ``robot: control process died
(SIGKILL); torque off on 6/6 motors in 1.1 ms``.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

from scripts.motors import torque

EXIT_PREFLIGHT = 2  # the control process's "robot not connected" exit: nothing to switch off
EXIT_DIED = 3
STOP_GRACE_S = 30.0  # forwarded stop -> exit: torque off within ~1 s, then a matplotlib report
PR_SET_PDEATHSIG = 1
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@dataclass(frozen=True)
class Bus:
    """Where the arm is: its port, baud rate and motors."""

    port: str
    baud: int
    motors: list[torque.Motor]


def find_bus(client_argv: list[str]) -> Bus | None:
    """The motor bus the control process will drive, from the same argv and profile; or None.

    None for a robot without one (replay) and for a profile the control process will refuse
    anyway (it prints that error itself, before connecting anything).
    """
    from scripts.common.robot_profiles import ProfileError
    from scripts.deploy import client

    args = client.parse_args(client_argv)  # same parser: a bad argv fails here, same message
    try:
        robot = client.build_profile(args)["robot"]
    except ProfileError:
        return None
    found = torque.motors_of(str(robot.get("type")))
    if found is None or not robot.get("port"):
        return None
    motors, baud = found
    return Bus(str(robot["port"]), baud, motors)


def _die_with(parent: int, libc: ctypes.CDLL) -> None:
    """preexec_fn: SIGTERM when the supervisor dies; exit now if it already has."""
    libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    if os.getppid() != parent:  # died between fork and prctl
        os._exit(EXIT_DIED)


def switch_off(bus: Bus | None) -> str:
    """Torque off on ``bus`` (lines for motors not confirmed to stderr); the summary words."""
    if bus is None:
        return "no motor bus on this robot"
    try:
        result = torque.torque_off(bus.port, bus.baud, bus.motors)
    except OSError as e:
        from scripts.motors import ports

        why = ports.explain_open_error(bus.port, e)
        return f"torque NOT switched off ({why}): switch the arm's power off"
    for line in result.lines(bus.port):
        print(f"robot: error: {line}", file=sys.stderr, flush=True)
    return f"torque off on {len(result.off)}/{len(bus.motors)} motors in {result.ms:.1f} ms"


class Supervisor:
    """Starts the control process, forwards stop signals, waits for it with a pidfd."""

    def __init__(self, client_argv: list[str], bus: Bus | None, grace_s: float) -> None:
        self.bus = bus
        self.grace_s = grace_s
        self.stop_signal: signal.Signals | None = None
        self.deadline: float | None = None
        self.killed = ""
        self.wake_r, wake_w = os.pipe()
        for fd in (self.wake_r, wake_w):
            os.set_blocking(fd, False)
        signal.set_wakeup_fd(wake_w)
        for sig in FORWARDED:
            signal.signal(sig, lambda *_: None)  # the wakeup fd carries the signal number
        libc = ctypes.CDLL(None, use_errno=True)
        parent = os.getpid()
        self.child = subprocess.Popen(
            [sys.executable, "-m", "scripts.deploy.client", *client_argv],
            preexec_fn=lambda: _die_with(parent, libc),
        )
        self.pidfd = os.pidfd_open(self.child.pid)

    def _on_signal(self, sig: signal.Signals) -> None:
        if self.stop_signal is None:
            self.stop_signal = sig
            self.deadline = time.monotonic() + self.grace_s
            self.child.send_signal(signal.SIGTERM if sig == signal.SIGHUP else sig)
        else:
            self._kill(f"second {sig.name}")

    def _kill(self, why: str) -> None:
        if not self.killed:
            self.killed = why
            with contextlib.suppress(ProcessLookupError):
                self.child.kill()

    def wait(self) -> int:
        """The child's return code (negative: the signal that killed it)."""
        poller = select.poll()
        poller.register(self.pidfd, select.POLLIN)
        poller.register(self.wake_r, select.POLLIN)
        while True:
            timeout = None
            if self.deadline is not None and not self.killed:
                timeout = max(0, int(1000 * (self.deadline - time.monotonic())) + 1)
            ready = {fd for fd, _ in poller.poll(timeout)}
            if self.pidfd in ready:
                return self.child.wait()
            if self.wake_r in ready:
                with contextlib.suppress(BlockingIOError):
                    for num in os.read(self.wake_r, 64):
                        self._on_signal(signal.Signals(num))
            elif self.deadline is not None and time.monotonic() >= self.deadline:
                name = self.stop_signal.name if self.stop_signal else "the stop"
                self._kill(f"no exit {self.grace_s:g} s after {name}")


def main(argv: list[str] | None = None) -> int:
    """Run the control process under supervision; its exit code, or EXIT_DIED."""
    argv = sys.argv[1:] if argv is None else argv
    own, sep, client_argv = _split(argv)
    ap = argparse.ArgumentParser(prog="make robot (supervisor)", description=__doc__)
    ap.add_argument("--stop-grace-s", type=float, default=STOP_GRACE_S)
    if not sep:
        ap.error("the control process's arguments come after --: ... supervisor -- --robot koch")
    a = ap.parse_args(own)
    bus = find_bus(client_argv)
    sup = Supervisor(client_argv, bus, a.stop_grace_s)
    rc = sup.wait()
    if rc in (0, EXIT_PREFLIGHT) and not sup.killed:
        return rc
    done = switch_off(bus)
    for sig in FORWARDED:  # no second stop in the middle of the summary
        signal.signal(sig, signal.SIG_IGN)
    if sup.killed:
        what = f"control process killed ({sup.killed})"
    elif rc < 0:
        what = f"control process died ({signal.Signals(-rc).name})"
    else:
        what = f"control process exited {rc}"
    print(f"robot: {what}; {done}", file=sys.stderr, flush=True)
    return rc if rc > 0 and not sup.killed else EXIT_DIED


def _split(argv: list[str]) -> tuple[list[str], bool, list[str]]:
    if "--" not in argv:
        return argv, False, []
    i = argv.index("--")
    return argv[:i], True, argv[i + 1 :]


if __name__ == "__main__":
    sys.exit(main())
