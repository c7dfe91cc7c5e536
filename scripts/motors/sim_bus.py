"""The simulated bus: dispatches Protocol 2.0 instructions to motors and builds the wire replies.

Why separate from the pty loop: this is the protocol logic (who answers, with what, when), pure
and testable; `sim` only moves bytes. Faults act here as they would on a real bus: a motor at
another baud rate never hears the host, two motors on one ID talk over each other (their bytes
are ANDed, as an open-collector TTL line does), a dead motor is silent.
"""

from __future__ import annotations

import random
import struct

from scripts.motors import control_table as ct
from scripts.motors import protocol as p
from scripts.motors.faults import Faults
from scripts.motors.profile import MotorSpec
from scripts.motors.sim_motor import SimMotor

PRESENT_POSITION = 132  # its address in every X-series control table (LeRobot's tables)

# Koch convention (LeRobot's KochFollower.calibrate): these joints keep the full 0-4095 range.
FULL_TURN = ("shoulder_pan", "wrist_roll")

Reply = tuple[float, bytes]  # (due time, bytes on the wire)


def _collide(packets: list[bytes]) -> bytes:
    """What the host receives when several motors transmit at once: the bytes ANDed."""
    if len(packets) == 1:
        return packets[0]
    n = max(len(x) for x in packets)
    out = bytearray(b"\xff" * n)
    for pkt in packets:
        for i, b in enumerate(pkt):
            out[i] &= b
    return bytes(out)


class SimBus:
    """All motors on one simulated wire, plus the injected faults."""

    def __init__(
        self, specs: list[MotorSpec], baudrate: int, faults: Faults, now: float, seed: int = 0
    ) -> None:
        self.faults = faults
        self.rng = random.Random(seed)
        baud_value = ct.baudrate_table()[faults.baud or baudrate]
        self.names: dict[int, str] = {}
        self.motors: list[SimMotor] = []
        for i, spec in enumerate(specs):
            if spec.id in faults.missing:
                continue
            model = faults.model.get(spec.id, spec.model)
            rest = 2048 + 150 * (i - len(specs) // 2)
            self.motors.append(SimMotor(model, spec.id, rest, baud_value, now))
            self.names[spec.id] = spec.name
            if spec.id in faults.duplicate:
                self.motors.append(SimMotor(model, spec.id, rest + 333, baud_value, now))
        self.dead_at: dict[int, float] = {}
        self.packets = 0

    # ---- setup helpers -----------------------------------------------------------------
    def set_human(self, amplitude: float, seed: int, now: float) -> None:
        """Joints with torque off follow a person's hand (``trajectory.HumanTrajectory``)."""
        from scripts.motors.trajectory import HumanTrajectory

        for m in self.motors:
            m.trajectory = HumanTrajectory(seed * 100 + m.id, amplitude, now)

    def set_lag(self, seconds: float) -> None:
        """Position tracking with a first-order lag of ``seconds`` (0: as fast as possible)."""
        for m in self.motors:
            m.lag_s = seconds

    def set_wiggle(self, amplitude: float) -> None:
        """Joints move by themselves while torque is off (a person moving the arm)."""
        for m in self.motors:
            m.wiggle = amplitude

    def calibrate(self) -> dict[str, dict[str, int]]:
        """Registers as after LeRobot's Koch calibration; returns the matching calibration file.

        Homing offsets centre each joint's rest position at 2047 (LeRobot's half-turn homing);
        full-turn joints keep 0-4095, the others get 2047 +- 900.
        """
        calib: dict[str, dict[str, int]] = {}
        for m in self.motors:
            offset = 2047 - round(m.actual)
            name = self.names.get(m.id, f"motor_{m.id}")
            lo, hi = (0, 4095) if name in FULL_TURN else (2047 - 900, 2047 + 900)
            for reg, val in (
                ("Homing_Offset", offset),
                ("Min_Position_Limit", lo),
                ("Max_Position_Limit", hi),
            ):
                m.set(reg, val)
            m.set("Drive_Mode", 0)
            m.set("Operating_Mode", 4)
            m.update(m.last)
            calib[name] = {
                "id": m.id,
                "drive_mode": 0,
                "homing_offset": offset,
                "range_min": lo,
                "range_max": hi,
            }
        return calib

    def state(self) -> list[dict]:
        """Every motor's registers, for the state file tests read."""
        return [
            {
                "id": m.id,
                "model": m.model,
                "name": self.names.get(m.id, ""),
                "registers": m.registers(),
            }
            for m in self.motors
        ]

    # ---- the wire ----------------------------------------------------------------------
    def _listening(self, host_baud: int | None, now: float) -> list[SimMotor]:
        """Motors that hear the host: powered, alive, at the host's baud rate."""
        if self.faults.no_power:
            return []
        table = ct.baudrate_table()
        out = []
        for m in self.motors:
            dead = self.dead_at.get(id(m))
            if dead is not None and now >= dead:
                continue
            if host_baud is not None and table.get(host_baud) != m.mem[8]:
                continue
            out.append(m)
        return out

    def _after_reply(self, motor: SimMotor, pkt: bytes, now: float) -> Reply | None:
        """Apply drop / corrupt / slow faults to one motor's reply."""
        mid = motor.id
        f = self.faults
        if self.rng.random() < f.lookup(f.drop, mid):
            return None
        if self.rng.random() < f.lookup(f.corrupt, mid):
            pkt = pkt[:-1] + bytes(((pkt[-1] ^ 0x5A),))
        return now + f.lookup(f.slow_ms, mid) / 1000.0, pkt

    def _arm_death(self, motor: SimMotor, now: float) -> None:
        after = self.faults.die_after.get(motor.id)
        if after is not None and motor.goal_written and id(motor) not in self.dead_at:
            self.dead_at[id(motor)] = now + after

    def handle(self, inst: p.Instruction, host_baud: int | None, now: float) -> list[Reply]:
        """Process one instruction; return the replies in wire order."""
        self.packets += 1
        motors = self._listening(host_baud, now)
        if not motors:
            return []
        for m in motors:
            m.update(now)
        target = inst.motor_id
        broadcast = target == p.BROADCAST_ID
        if not inst.crc_ok:
            if broadcast:
                return []
            return self._status(
                [m for m in motors if m.id == target], now, lambda m: (p.ERR_CRC, b"")
            )
        code = inst.instruction
        prm = inst.params
        if code == p.PING:
            chosen = (
                sorted(motors, key=lambda m: m.id)
                if broadcast
                else [m for m in motors if m.id == target]
            )
            return self._status(
                chosen,
                now,
                lambda m: (
                    p.ERR_NONE,
                    struct.pack("<HB", m.get("Model_Number"), m.get("Firmware_Version")),
                ),
            )
        if code == p.READ:
            if broadcast:
                return []
            if len(prm) != 4:
                return self._status(
                    [m for m in motors if m.id == target], now, lambda m: (p.ERR_DATA_LENGTH, b"")
                )
            addr, length = struct.unpack("<HH", prm)
            return self._status(
                [m for m in motors if m.id == target], now, lambda m: m.read(addr, length), level=1
            )
        if code == p.WRITE:
            if len(prm) < 3:
                err = [(m, p.ERR_DATA_LENGTH) for m in motors if m.id == target]
            else:
                addr = prm[0] | (prm[1] << 8)
                err = [
                    (m, m.write(addr, prm[2:], now))
                    for m in motors
                    if (m.id == target or broadcast)
                ]
                for m, _ in err:
                    self._arm_death(m, now)
            if broadcast:
                return []
            errors = {id(m): e for m, e in err}
            return self._status([m for m, _ in err], now, lambda m: (errors[id(m)], b""), level=2)
        if code == p.SYNC_READ:
            if not broadcast or len(prm) < 5:
                return []
            addr, length = struct.unpack("<HH", prm[:4])
            replies: list[Reply] = []
            for mid in prm[4:]:
                replies += self._status(
                    [m for m in motors if m.id == mid], now, lambda m: m.read(addr, length), level=1
                )
            late = self.faults.latency_ms / 1000.0  # the latency knob (faults: latency=MS)
            if late and addr == PRESENT_POSITION:
                return [(t + late, pkt) for t, pkt in replies]
            return replies
        if code == p.SYNC_WRITE:
            if not broadcast or len(prm) < 5:
                return []
            addr, length = struct.unpack("<HH", prm[:4])
            step = 1 + length
            for off in range(4, len(prm) - step + 1, step):
                mid = prm[off]
                for m in motors:
                    if m.id == mid:
                        m.write(addr, prm[off + 1 : off + step], now)
                        self._arm_death(m, now)
            return []
        if code == p.REBOOT:
            chosen = [m for m in motors if m.id == target]
            for m in chosen:
                m.set("Torque_Enable", 0)
            return [] if broadcast else self._status(chosen, now, lambda m: (p.ERR_NONE, b""))
        if broadcast:
            return []
        return self._status(
            [m for m in motors if m.id == target], now, lambda m: (p.ERR_INSTRUCTION, b"")
        )

    def _status(self, chosen: list[SimMotor], now: float, answer, level: int = 0) -> list[Reply]:
        """Status packets of `chosen` motors (colliding when they share an ID), faults applied.

        `level`: the Status_Return_Level a reply needs (0 ping, 1 read, 2 everything).
        """
        by_id: dict[int, list[tuple[SimMotor, bytes]]] = {}
        for m in chosen:
            if m.get("Status_Return_Level") < level:
                continue
            err, data = answer(m)
            by_id.setdefault(m.id, []).append((m, p.status_packet(m.id, err, data)))
        out: list[Reply] = []
        for group in by_id.values():
            replies = [r for m, pkt in group if (r := self._after_reply(m, pkt, now)) is not None]
            if replies:
                out.append((max(t for t, _ in replies), _collide([pkt for _, pkt in replies])))
        return out
