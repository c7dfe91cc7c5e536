"""Talk to a real (or simulated) Dynamixel bus with dynamixel-sdk: ping, scan, read registers.

Why the SDK directly and not LeRobot's DynamixelMotorsBus: the bus check must see what LeRobot
hides (a corrupt packet vs. no packet, a motor at another baud rate, IDs nobody expected) and
must not import torch; it still uses the same SDK LeRobot drives and LeRobot's own addresses.
One READ of the first 148 bytes gets every register the check prints in a single packet.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import dynamixel_sdk as dxl

from scripts.motors import control_table as ct

BLOCK = 148  # Model_Number (0) .. Present_Temperature (146)
# Baud rates to try when nothing answers at the profile's: X series settings, factory default first.
OTHER_BAUDS = (57_600, 1_000_000, 115_200, 2_000_000, 3_000_000, 4_000_000, 9_600)


@dataclass
class MotorReading:
    """What one ID on the bus said."""

    id: int
    model_number: int | None = None
    status: str = "ok"  # ok | missing | corrupt (two motors on one ID, or a bad cable)
    registers: dict[str, int] = field(default_factory=dict)
    error_byte: int = 0


class Bus:
    """An open port with the Protocol 2.0 packet handler."""

    def __init__(self, port: str, baud: int) -> None:
        self.port = dxl.PortHandler(port)
        self.packets = dxl.PacketHandler(2.0)
        self.port.baudrate = baud
        if not self.port.openPort():  # raises serial.SerialException (an OSError) on failure
            raise OSError(f"cannot set baud rate {baud}")

    def close(self) -> None:
        """Close the port."""
        self.port.closePort()

    def set_baud(self, baud: int) -> None:
        """Switch the host side to `baud`."""
        self.port.setBaudRate(baud)

    def _fresh(self, attempt: int) -> None:
        """Before a request: wait a little more on each retry, drop late replies still queued.

        Why: on a loaded machine the kernel can deliver a reply later than the SDK's ~34 ms
        timeout; the retry must not take that stale packet for its own answer, and backing off
        (0, 20, 40, 80, 160 ms) rides out such a burst instead of calling a motor missing.
        """
        if attempt:
            time.sleep(0.01 * (1 << attempt))
        self.port.ser.reset_input_buffer()

    def broadcast(self) -> tuple[dict[int, int], bool]:
        """({id: model number}, corrupt seen) from one broadcast ping (~0.8 s at 1 Mbps)."""
        self._fresh(0)
        found, comm = self.packets.broadcastPing(self.port)
        return {i: v[0] for i, v in found.items()}, comm == dxl.COMM_RX_CORRUPT

    def ping(self, motor_id: int, tries: int = 5) -> tuple[int | None, bool]:
        """(model number or None, corrupt seen) for one ID."""
        corrupt = False
        for attempt in range(tries):
            self._fresh(attempt)
            model, comm, _err = self.packets.ping(self.port, motor_id)
            if comm == dxl.COMM_SUCCESS:
                return model, False
            corrupt |= comm == dxl.COMM_RX_CORRUPT
        return None, corrupt

    def read_block(self, motor_id: int, tries: int = 5) -> tuple[bytes | None, str, int]:
        """(first BLOCK bytes, 'ok'|'corrupt'|'missing', status error byte)."""
        status = "missing"
        for attempt in range(tries):
            self._fresh(attempt)
            data, comm, err = self.packets.readTxRx(self.port, motor_id, 0, BLOCK)
            if comm == dxl.COMM_SUCCESS:
                return bytes(data), "ok", err
            if comm == dxl.COMM_RX_CORRUPT:
                status = "corrupt"
        return None, status, 0


def decode(block: bytes, model: str) -> dict[str, int]:
    """Named registers from a read block, with LeRobot's addresses for `model`."""
    out = {}
    for name, item in ct.items(model).items():
        if item.address + item.size <= len(block):
            raw = block[item.address : item.address + item.size]
            out[name] = int.from_bytes(raw, "little", signed=item.signed)
    return out


def read_motor(bus: Bus, motor_id: int, expected_model: str | None) -> MotorReading:
    """Ping one ID and, if it answers, read its registers."""
    model_nb, corrupt = bus.ping(motor_id)
    if model_nb is None:
        return MotorReading(motor_id, status="corrupt" if corrupt else "missing")
    block, status, err = bus.read_block(motor_id)
    reading = MotorReading(motor_id, model_nb, status=status, error_byte=err)
    if block is not None:
        model = ct.model_name(model_nb) or expected_model or "x_series"
        reading.registers = decode(block, model)
    return reading


def probe_other_bauds(bus: Bus, ids: list[int], skip: int) -> dict[int, list[int]]:
    """{baud: [ids that answer a ping]} at the X series baud rates other than `skip`."""
    found: dict[int, list[int]] = {}
    for baud in OTHER_BAUDS:
        if baud == skip:
            continue
        bus.set_baud(baud)
        hits = [i for i in ids if bus.ping(i, tries=1)[0] is not None]
        if hits:
            found[baud] = hits
    bus.set_baud(skip)
    return found


def full_scan(bus: Bus, bauds: list[int]) -> dict[int, dict[int, int]]:
    """Broadcast ping at every baud rate, like LeRobot's `scan_port`: {baud: {id: model}}."""
    out = {}
    for baud in bauds:
        bus.set_baud(baud)
        found, _ = bus.broadcast()
        if found:
            out[baud] = found
    return out
