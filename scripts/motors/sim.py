"""Dynamixel Protocol 2.0 bus simulator on a real pseudo-terminal (`make motors-sim`).

Why a pty: dynamixel-sdk's PortHandler is plain pyserial, so LeRobot's unchanged
DynamixelMotorsBus and KochFollower open the slave path exactly as they open /dev/ttyACM0.
Why a poll loop with whole-chunk reads: the SDK allows ~34 ms per packet and sync read never
retries, so replies go out in one `os.write` per batch of packets, straight from the loop; the
simulator has no thread, no timer and no CPU use between packets. The host's baud rate is read
from the pty's termios (the master sees the slave's settings), so motors at another baud rate
really do not answer, and `scan_port` finds them where they are.

Usage: python -m scripts.motors.sim [--robot koch] [--fault SPEC ...] [--calibrated]
       [--write-calibration FILE] [--state FILE] [--link PATH] [--wiggle TICKS]
       [--human TICKS] [--lag-ms MS]
A leader arm for teleoperation tests: --robot koch_leader --human 300 (joints follow a scripted
person's hand, scripts/motors/trajectory.py); a follower that tracks with a servo's delay:
--robot koch --lag-ms 60.
Prints `PORT <path>` on its first line, runs until SIGTERM/SIGINT; on exit and on SIGUSR1 it
writes every motor's registers to --state (JSON).
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import pty
import select
import signal
import sys
import termios
import time
import tty
from collections import deque
from pathlib import Path

from scripts.motors import faults as faults_mod
from scripts.motors import profile as profile_mod
from scripts.motors.protocol import PacketReader
from scripts.motors.sim_bus import SimBus

# termios speed constant -> bits per second, for the rates the Dynamixel SDK can set.
_RATES = (9600, 19200, 38400, 57600, 115200, 230400, 460800, 500000, 576000, 921600,
          1000000, 1152000, 1500000, 2000000, 2500000, 3000000, 3500000, 4000000)  # fmt: skip
_SPEEDS = {getattr(termios, f"B{n}"): n for n in _RATES if hasattr(termios, f"B{n}")}


def host_baud(fd: int) -> int | None:
    """The baud rate the host set on the slave side (None if termios gives an unknown speed)."""
    return _SPEEDS.get(termios.tcgetattr(fd)[5])


def raise_priority(mode: str) -> str:
    """Best effort: let the simulator preempt busy processes the moment a packet arrives.

    Why: on a loaded box a woken-up normal process can wait tens of milliseconds for a core,
    longer than the SDK's ~34 ms packet timeout; measured here with other jobs running, 2 reads
    in 300 timed out at normal priority. SCHED_FIFO is safe for this loop: it blocks in `poll`
    between packets and never spins (and the kernel's RT throttling caps it at 95% anyway).
    Returns what was obtained, for the start-up line.
    """
    if mode == "rt":
        locked = lock_memory()
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
            return "SCHED_FIFO" + (", memory locked" if locked else "")
        except (PermissionError, AttributeError, OSError):
            mode = "nice"
    if mode == "nice":
        try:
            os.nice(-10)
            return "nice -10"
        except (PermissionError, OSError):
            pass
    return "normal priority"


def lock_memory() -> bool:
    """Best effort ``mlockall``: keep the simulator's pages (its code too) in RAM.

    Why: priority does not help a process that page-faults. On a box reclaiming memory in the
    background (this VM runs DAMON reclaim) the interpreter's file-backed pages get evicted;
    faulting them back in stalled the simulator for 118 ms once in a 30 s run, several of the
    SDK's ~34 ms packet timeouts in a row. Needs CAP_IPC_LOCK or a large enough
    RLIMIT_MEMLOCK (a 30 MB process); without them nothing changes.
    """
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        return libc.mlockall(1 | 2) == 0  # MCL_CURRENT | MCL_FUTURE
    except (OSError, AttributeError):
        return False


def write_json(path: Path, obj: object) -> None:
    """Write JSON atomically (temp file, then rename), so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=2) + "\n")
    os.replace(tmp, path)


class PtySimulator:
    """Owns the pty pair and moves bytes between it and a `SimBus`."""

    def __init__(self, bus: SimBus) -> None:
        self.bus = bus
        self.master, self.slave = pty.openpty()
        tty.setraw(self.slave)  # no echo, no line editing until the host configures the port
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self.slave)
        self.pending: list[tuple[float, int, bytes]] = []
        self.seq = 0
        self.last_due = 0.0
        # poll() returned -> replies written, seconds: the simulator's own share of a round trip
        # (waits for the kernel to take bytes off a full pty are counted apart, in pty_full)
        self.latency: deque[float] = deque(maxlen=100_000)
        self.pty_full: list[float] = []  # seconds, per write that found the pty full

    def _send(self, data: bytes) -> float:
        """Write all of ``data``; return the seconds spent waiting for room in the pty.

        The pty's buffers are emptied by a kernel worker at normal priority: on a box loaded
        by other jobs it can run late, and the write then waits for it (EAGAIN).
        """
        view = memoryview(data)
        waited = 0.0
        while view:
            try:
                n = os.write(self.master, view)
            except BlockingIOError:
                t = time.monotonic()
                select.select([], [self.master], [], 0.05)
                waited += time.monotonic() - t
                continue
            view = view[n:]
        if waited:
            self.pty_full.append(waited)
        return waited

    def serve_forever(self) -> None:
        """The loop: wait for bytes, answer every complete packet in one write."""
        reader = PacketReader()
        poller = select.poll()
        poller.register(self.master, select.POLLIN)
        pending = self.pending
        while True:
            timeout = None
            if pending:
                timeout = max(0, int((pending[0][0] - time.monotonic()) * 1000) + 1)
            events = poller.poll(timeout)
            now = time.monotonic()
            out = bytearray()
            while pending and pending[0][0] <= now:
                out += heapq.heappop(pending)[2]
            if events:
                try:
                    data = os.read(self.master, 65536)
                except (BlockingIOError, InterruptedError):
                    data = b""
                if data:
                    baud = host_baud(self.master)
                    for inst in reader.feed(data):
                        for due, pkt in self.bus.handle(inst, baud, now):
                            if due <= now and not pending:
                                out += pkt
                            else:  # late replies keep wire order behind earlier late ones
                                self.seq += 1
                                self.last_due = max(due, self.last_due)
                                heapq.heappush(pending, (self.last_due, self.seq, pkt))
            if out:
                waited = self._send(bytes(out))
                if events:
                    self.latency.append(time.monotonic() - now - waited)


def build_parser() -> argparse.ArgumentParser:
    """The simulator's command line."""
    ap = argparse.ArgumentParser(prog="make motors-sim", description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--robot", default="koch", help="robot profile under recipes/robots (default koch)"
    )
    ap.add_argument("--fault", action="append", default=[], metavar="SPEC", help=faults_mod.__doc__)
    ap.add_argument("--calibrated", action="store_true", help="registers as after a calibration")
    ap.add_argument(
        "--write-calibration",
        type=Path,
        metavar="FILE",
        help="also write the matching LeRobot file",
    )
    ap.add_argument(
        "--state", type=Path, metavar="FILE", help="registers as JSON on exit and on SIGUSR1"
    )
    ap.add_argument(
        "--link", type=Path, metavar="PATH", help="a symlink to the pty (a stable port name)"
    )
    ap.add_argument(
        "--wiggle",
        type=float,
        default=0.0,
        metavar="TICKS",
        help="joints move +-TICKS while torque is off",
    )
    ap.add_argument(
        "--human",
        type=float,
        default=0.0,
        metavar="TICKS",
        help="joints with torque off follow a scripted human-like trajectory of +-TICKS",
    )
    ap.add_argument(
        "--lag-ms",
        type=float,
        default=0.0,
        metavar="MS",
        help="position tracking lags with this time constant (a real servo's delay)",
    )
    ap.add_argument(
        "--priority",
        choices=("rt", "nice", "none"),
        default="rt",
        help="scheduling (rt: SCHED_FIFO when allowed)",
    )
    ap.add_argument("--seed", type=int, default=0, help="seed of drop/corrupt faults")
    return ap


def main(argv: list[str] | None = None) -> int:
    """Start the simulator, print its port, serve until stopped."""
    args = build_parser().parse_args(argv)
    try:
        prof = profile_mod.load(args.robot)
        faults = faults_mod.parse(args.fault)
        bus = SimBus(prof.motors, prof.baudrate, faults, time.monotonic(), seed=args.seed)
    except (profile_mod.ProfileError, faults_mod.FaultError, KeyError) as e:
        print(f"motors-sim: error: {e}", file=sys.stderr)
        return 2
    bus.set_wiggle(args.wiggle)
    if args.human:
        bus.set_human(args.human, args.seed, time.monotonic())
    bus.set_lag(args.lag_ms / 1e3)
    if args.calibrated or args.write_calibration:
        calib = bus.calibrate()
        if args.write_calibration:
            write_json(args.write_calibration, calib)
    sim = PtySimulator(bus)
    priority = raise_priority(args.priority)

    def dump(*_: object) -> None:
        if args.state:
            lat = sorted(sim.latency) or [0.0]
            reply_ms = {
                k: round(1e3 * lat[min(len(lat) - 1, int(q * len(lat)))], 3)
                for k, q in (("p50", 0.5), ("p99", 0.99), ("max", 1.0))
            }
            full = sim.pty_full
            pty_full = {"writes": len(full), "max_ms": round(1e3 * max(full, default=0.0), 1)}
            state = {
                "port": sim.path,
                "packets": bus.packets,
                "reply_ms": reply_ms,
                "pty_full": pty_full,
            }
            write_json(args.state, {**state, "motors": bus.state()})

    def stop(*_: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGUSR1, dump)
    signal.signal(signal.SIGTERM, stop)
    if args.link:
        args.link.unlink(missing_ok=True)
        args.link.symlink_to(sim.path)
    print(f"PORT {sim.path}", flush=True)
    print(
        f"motors-sim: {len(bus.motors)} motors of {prof.name} "
        f"at {faults.baud or prof.baudrate} baud, {priority}"
        f"{'; faults: ' + ' '.join(args.fault) if args.fault else ''}; Ctrl-C stops",
        file=sys.stderr,
        flush=True,
    )
    try:
        sim.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        dump()
        if args.link:
            args.link.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
