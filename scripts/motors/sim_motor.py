"""One simulated Dynamixel X-series motor: its control table memory, write rules, motion model.

Why a byte-addressed memory: Protocol 2.0 reads and writes address ranges, not named items, so
the motor keeps the 256 bytes a real one exposes and enforces the rules per byte range: read-only
items, EEPROM items refused while torque is on, value ranges, operating modes. Motion is computed
lazily from the elapsed time whenever the bus touches the motor (no ticking thread: the
simulator sleeps in `poll` between packets and uses no CPU when idle).
"""

from __future__ import annotations

import math

from scripts.motors import control_table as ct
from scripts.motors.protocol import (
    ERR_ACCESS,
    ERR_DATA_LENGTH,
    ERR_DATA_LIMIT,
    ERR_DATA_RANGE,
    ERR_NONE,
)

TORQUE_ENABLE = 64
GOAL_POSITION = 116
RPM_UNIT = 0.229  # Present_Velocity unit (rpm)


class SimMotor:
    """A motor on the simulated bus.

    `actual` is the raw multi-turn encoder position in ticks; the registers show
    Present_Position = actual (negated when Drive_Mode bit 0 is set) + Homing_Offset, as the
    X series does. `wiggle` > 0 makes the joint move by itself while torque is off (a person
    moving the arm by hand, as LeRobot's calibration asks).
    """

    def __init__(
        self, model: str, motor_id: int, position: float, baud_value: int, now: float
    ) -> None:
        self.model = model
        self.items = ct.items(model)
        self.modes = ct.operating_modes(model)
        self.mem = bytearray(256)
        self.owner: list[ct.Item | None] = [None] * 256
        for item in self.items.values():
            for a in range(item.address, item.address + item.size):
                self.owner[a] = item
        for name, value in ct.defaults(model).items():
            if name in self.items:
                self.set(name, value)
        self.set("ID", motor_id)
        self.set("Baud_Rate", baud_value)
        self.actual = float(position)
        self.rest = float(position)
        self.last = now
        self.speed = ct.MAX_SPEED_TICKS.get(model, ct.DEFAULT_MAX_SPEED_TICKS)
        self.wiggle = 0.0
        self.wiggle_period = 2.0
        self.phase = 0.7 * motor_id
        self.goal_written = False
        self.trajectory = None  # callable(now) -> ticks from rest, while torque is off
        self.lag_s = 0.0  # first-order lag of the position loop (a real servo's tracking delay)
        self.push = 0.0  # ticks a hand pushes a current-limited joint (mode 5) off its goal
        self.update(now)

    # ---- registers ---------------------------------------------------------------------
    @property
    def id(self) -> int:
        """The motor's current ID (register 7; changes when the host writes ID)."""
        return self.mem[7]

    def get(self, name: str) -> int:
        """A named register's value, sign-decoded when the item is signed."""
        item = self.items[name]
        return int.from_bytes(
            self.mem[item.address : item.address + item.size], "little", signed=item.signed
        )

    def set(self, name: str, value: int) -> None:
        """Store a named register (no access checks: the motor's own firmware writing)."""
        item = self.items[name]
        size = item.size
        value = int(value) & ((1 << (8 * size)) - 1)
        self.mem[item.address : item.address + size] = value.to_bytes(size, "little")

    def registers(self) -> dict[str, int]:
        """Every named register (for the simulator's state file)."""
        return {name: self.get(name) for name in self.items}

    # ---- motion ------------------------------------------------------------------------
    def _sign(self) -> int:
        return -1 if self.get("Drive_Mode") & 1 else 1

    def present(self) -> int:
        """Present_Position as the host sees it (homing offset and drive mode applied)."""
        return round(self._sign() * self.actual) + self.get("Homing_Offset")

    def update(self, now: float) -> None:
        """Advance the motion model to `now` and refresh the Present_* registers."""
        dt = max(now - self.last, 0.0)
        self.last = now
        torque = self.mem[TORQUE_ENABLE]
        before = self.actual
        current = 0
        if torque and self.get("Operating_Mode") in (3, 4, 5):
            self.actual -= self.push
            target = self._sign() * (self.get("Goal_Position") - self.get("Homing_Offset"))
            profile = self.get("Profile_Velocity")
            speed = min(self.speed, profile * RPM_UNIT * 4096 / 60) if profile else self.speed
            step = speed * dt
            delta = target - self.actual
            if self.lag_s > 0:  # exponential approach, never faster than the motor can turn
                move = delta * (1 - math.exp(-dt / self.lag_s))
                self.actual += math.copysign(min(abs(move), step), delta)
            else:
                self.actual = (
                    target if abs(delta) <= step else self.actual + math.copysign(step, delta)
                )
            err = abs(target - self.actual)
            # a leader's gripper (current-based position, a spring): the hand squeezes it and
            # lets go. abs(), not max(0, .): a clipped squeeze sat at rest for whole seconds
            # whenever the trajectory dipped below zero, so a short recording's gripper never
            # moved and the validator rightly called it a dead motor (a flaky record test)
            squeeze = self.trajectory is not None and self.get("Operating_Mode") == 5
            self.push = abs(self.trajectory(now)) * 0.6 if squeeze else 0.0
            self.actual += self.push
            current = min(8 + int(err * 2), self.get("Current_Limit") or 1750)
            if self.get("Operating_Mode") == 5:
                current = min(current, abs(self.get("Goal_Current")) or current)
        elif not torque and self.trajectory is not None:
            self.actual = self.rest + self.trajectory(now)
        elif not torque and self.wiggle:
            self.actual = self.rest + self.wiggle * math.sin(
                2 * math.pi * now / self.wiggle_period + self.phase
            )
        velocity_ticks = (self.actual - before) / dt if dt > 0 else 0.0
        self.set("Present_Position", self.present())
        self.set("Present_Velocity", int(velocity_ticks * 60 / 4096 / RPM_UNIT))
        self.set("Present_Current", current)
        self.set("Present_PWM", min(current // 2, 885))
        self.set("Moving", int(abs(velocity_ticks) * 0.02 > self.get("Moving_Threshold")))
        self.set("Realtime_Tick", int(now * 1000) % 32768)
        self.set("Position_Trajectory", self.get("Goal_Position"))
        self.set("Present_Temperature", 29 + (3 if torque else 0) + min(current // 200, 10))

    # ---- host access -------------------------------------------------------------------
    def read(self, address: int, length: int) -> tuple[int, bytes]:
        """(error, bytes) for a READ of `length` bytes at `address` (call `update` first)."""
        if length <= 0 or address + length > len(self.mem):
            return ERR_DATA_LENGTH, b""
        return ERR_NONE, bytes(self.mem[address : address + length])

    def check_write(self, address: int, data: bytes) -> int:
        """The status error a WRITE of `data` at `address` gets (0: the motor accepts it)."""
        end = address + len(data)
        if not data or end > len(self.mem):
            return ERR_DATA_LENGTH
        torque = self.mem[TORQUE_ENABLE]
        seen: list[ct.Item] = []
        for a in range(address, end):
            item = self.owner[a]
            if item is None or item.readonly:
                return ERR_ACCESS
            if item.eeprom and torque:
                return ERR_ACCESS
            if not seen or seen[-1] is not item:
                seen.append(item)
        for item in seen:
            if item.address < address or item.address + item.size > end:
                return ERR_DATA_LENGTH
            raw = data[item.address - address : item.address - address + item.size]
            value = int.from_bytes(raw, "little", signed=item.signed)
            if not item.lo <= value <= item.hi:
                return ERR_DATA_RANGE
            if item.name == "Operating_Mode" and value not in self.modes:
                return ERR_DATA_RANGE
            if item.name == "Baud_Rate" and value not in ct.baudrate_table().values():
                return ERR_DATA_RANGE
            in_mode_3 = item.name == "Goal_Position" and self.get("Operating_Mode") == 3
            if in_mode_3 and not self.get("Min_Position_Limit") <= value <= self.get(
                "Max_Position_Limit"
            ):
                return ERR_DATA_LIMIT
        return ERR_NONE

    def write(self, address: int, data: bytes, now: float) -> int:
        """Apply a WRITE if `check_write` allows it; returns the status error."""
        err = self.check_write(address, data)
        if err:
            return err
        torque_on = (
            not self.mem[TORQUE_ENABLE]
            and address <= TORQUE_ENABLE < address + len(data)
            and data[TORQUE_ENABLE - address]
        )
        self.mem[address : address + len(data)] = data
        if torque_on:
            # X series: enabling torque holds the present position (no jump to a stale goal).
            self.set("Goal_Position", self.present())
        if address <= GOAL_POSITION < address + len(data):
            self.goal_written = True
        if address < 64:  # homing offset or drive mode changed: the reported position moves
            self.update(now)
        return ERR_NONE
