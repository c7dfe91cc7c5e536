"""Torque off on every motor of a bus, straight over the serial port, with no SDK and no LeRobot.

Why raw Protocol 2.0 (scripts/motors/protocol.py) on a bare termios fd: this runs in the robot
supervisor the moment its control process died, so it must start in microseconds and must not
depend on anything the dead process may have been in the middle of. In order:

1. ``tcflush`` drops whatever the dead process left queued in the kernel, then a preamble of
   zero bytes completes any instruction it left half-sent on the wire (a motor's parser would
   otherwise swallow our packet as the rest of that one; zeros never form a header, and
   ``PREAMBLE`` is longer than LeRobot's longest packet, a 6-motor 4-byte sync write, 44 bytes).
2. One broadcast SYNC_WRITE of Torque_Enable=0 to every motor: all joints go limp at once,
   one packet, no reply to wait for.
3. Read back: one SYNC_READ of Torque_Enable (one round trip for the whole arm); motors not
   confirmed at 0 get a unicast WRITE and are read again, ``ATTEMPTS`` times at most.

Usage (a manual switch-off): python -m scripts.motors.torque [--robot koch] [--port PATH]
"""

from __future__ import annotations

import argparse
import os
import select
import struct
import sys
import termios
import time
import tty
from dataclasses import dataclass, field

from scripts.motors import control_table as ct
from scripts.motors import protocol as p

PREAMBLE = bytes(64)
ATTEMPTS = 3  # read-backs; a motor still silent after the third is reported
REPLY_TIMEOUT_S = 0.1  # per read-back (the SDK allows ~34 ms; a loaded pty can be later)


@dataclass(frozen=True)
class Motor:
    """One motor to switch off: LeRobot's joint name, bus ID, its Torque_Enable address."""

    name: str
    id: int
    address: int


@dataclass
class Result:
    """What the read-back confirmed: motors at 0, motors still at 1, motors that never answered."""

    off: list[Motor] = field(default_factory=list)
    still_on: list[Motor] = field(default_factory=list)
    silent: list[Motor] = field(default_factory=list)
    ms: float = 0.0

    def lines(self, port: str) -> list[str]:
        """One line per motor not confirmed off, each with what to do."""
        out = [
            f"motor '{m.name}' (ID {m.id}) does not answer: its torque may still be on; check "
            f"its cable and power supply, then make motors PORT={port}"
            for m in self.silent
        ]
        out += [
            f"motor '{m.name}' (ID {m.id}) refused Torque_Enable=0: switch the arm's power off"
            for m in self.still_on
        ]
        return out


def motors_of(robot_type: str) -> tuple[list[Motor], int] | None:
    """The motors of a robot type and its baud rate (scripts/motors/profile.BUSES), or None.

    Call it before anything can die: it loads LeRobot's control table (by path, no torch).
    """
    from scripts.motors.profile import BUSES

    if robot_type not in BUSES:
        return None
    specs, baud = BUSES[robot_type]
    motors = [Motor(s.name, s.id, ct.items(s.model)["Torque_Enable"].address) for s in specs]
    return motors, baud


def open_port(port: str, baud: int) -> int:
    """The port as a raw, non-blocking fd at ``baud``; OSError if it cannot be opened."""
    speed = getattr(termios, f"B{baud}", None)
    if speed is None:
        raise OSError(f"baud rate {baud} unknown to termios")
    fd = os.open(port, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        tty.setraw(fd)
        attrs = termios.tcgetattr(fd)
        attrs[4] = attrs[5] = speed
        termios.tcsetattr(fd, termios.TCSANOW, attrs)
        termios.tcflush(fd, termios.TCIOFLUSH)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _write_all(fd: int, data: bytes, timeout: float = 0.5) -> None:
    view = memoryview(data)
    deadline = time.monotonic() + timeout
    while view:
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise TimeoutError("port does not take bytes") from None
            select.select([], [fd], [], 0.01)


def _read_values(fd: int, ids: set[int], timeout: float) -> dict[int, int]:
    """{id: value} of the 1-byte READ replies from ``ids`` arriving within ``timeout``.

    Status packets parse with protocol.PacketReader too (instruction byte 0x55, parameters
    error + data); write acknowledgements (no data) and corrupt packets are skipped.
    """
    reader = p.PacketReader()
    got: dict[int, int] = {}
    deadline = time.monotonic() + timeout
    while set(got) < ids:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        try:
            data = os.read(fd, 4096)
        except BlockingIOError:
            continue
        for pkt in reader.feed(data):
            ok = pkt.crc_ok and pkt.instruction == p.STATUS and len(pkt.params) == 2
            if ok and pkt.motor_id in ids and not pkt.params[0] & 0x7F:
                got[pkt.motor_id] = pkt.params[1]
    return got


def _sync_write_zero(motors: list[Motor]) -> bytes:
    """One SYNC_WRITE per distinct Torque_Enable address (one for every X-series arm)."""
    out = b""
    for addr in sorted({m.address for m in motors}):
        params = struct.pack("<HH", addr, 1)
        params += b"".join(bytes((m.id, 0)) for m in motors if m.address == addr)
        out += p.instruction_packet(p.BROADCAST_ID, p.SYNC_WRITE, params)
    return out


def _sync_read(motors: list[Motor]) -> bytes:
    out = b""
    for addr in sorted({m.address for m in motors}):
        params = struct.pack("<HH", addr, 1) + bytes(m.id for m in motors if m.address == addr)
        out += p.instruction_packet(p.BROADCAST_ID, p.SYNC_READ, params)
    return out


def torque_off(port: str, baud: int, motors: list[Motor], attempts: int = ATTEMPTS) -> Result:
    """Torque_Enable=0 on ``motors`` and read it back; OSError if the port cannot be opened."""
    t0 = time.monotonic()
    fd = open_port(port, baud)
    result = Result()
    try:
        _write_all(fd, PREAMBLE + _sync_write_zero(motors))
        pending = list(motors)
        seen: dict[int, int] = {}
        for attempt in range(attempts):
            got = _read_back(fd, pending)
            seen.update(got)
            pending = [m for m in pending if got.get(m.id) != 0]
            if not pending or attempt == attempts - 1:
                break
            for m in pending:  # unicast: a motor that missed the broadcast hears this one
                _write_all(
                    fd, p.instruction_packet(m.id, p.WRITE, struct.pack("<HB", m.address, 0))
                )
        result.off = [m for m in motors if m not in pending]
        result.still_on = [m for m in pending if m.id in seen]
        result.silent = [m for m in pending if m.id not in seen]
    finally:
        os.close(fd)
    result.ms = 1000 * (time.monotonic() - t0)
    return result


def _read_back(fd: int, motors: list[Motor]) -> dict[int, int]:
    """Torque_Enable of ``motors``: one sync read, then one READ each for those it missed.

    Why both: one round trip for the whole arm when all answer; on a real bus a silent motor
    can keep the motors after it in a sync read from answering, so the rest are asked alone.
    """
    termios.tcflush(fd, termios.TCIFLUSH)  # late replies to an earlier request
    _write_all(fd, _sync_read(motors))
    got = _read_values(fd, {m.id for m in motors}, REPLY_TIMEOUT_S)
    for m in motors:
        if m.id not in got:
            _write_all(fd, p.instruction_packet(m.id, p.READ, struct.pack("<HH", m.address, 1)))
            got.update(_read_values(fd, {m.id}, REPLY_TIMEOUT_S))
    return got


def main(argv: list[str] | None = None) -> int:
    """Switch torque off on a profile's motors by hand (exit 1 if not all confirmed)."""
    from scripts.motors import ports
    from scripts.motors import profile as profile_mod

    ap = argparse.ArgumentParser(prog="python -m scripts.motors.torque", description=__doc__)
    ap.add_argument("--robot", default="koch")
    ap.add_argument("--port", default="")
    a = ap.parse_args(argv)
    try:
        prof = profile_mod.load(a.robot)
        port = ports.find(a.port or prof.port)
        motors, baud = motors_of(prof.type) or ([], prof.baudrate)
        result = torque_off(port, baud, motors)
    except (profile_mod.ProfileError, ports.PortError) as e:
        print(f"torque: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"torque: error: {ports.explain_open_error(port, e)}", file=sys.stderr)
        return 2
    for line in result.lines(port):
        print(f"torque: error: {line}", file=sys.stderr)
    print(f"torque: off on {len(result.off)}/{len(motors)} motors in {result.ms:.0f} ms")
    return 0 if len(result.off) == len(motors) else 1


if __name__ == "__main__":
    sys.exit(main())
