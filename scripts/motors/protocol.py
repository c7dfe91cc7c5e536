"""Dynamixel Protocol 2.0 framing: CRC-16, byte stuffing, instruction parsing, status packets.

Why our own and not dynamixel-sdk's: the simulator is the *other end* of the wire (it parses
instruction packets and builds status packets, the SDK does the reverse), and it must be fast:
the CRC is table driven and packets are parsed from a bytearray without per-byte Python loops
where `bytes.find` can do the work.

Packet layout: FF FF FD 00 | ID | LEN_L LEN_H | INST | PARAMS... | CRC_L CRC_H, where LEN counts
INST + PARAMS + CRC after stuffing (FF FF FD inside the payload is sent as FF FF FD FD) and the
CRC (CRC-16/BUYPASS, polynomial 0x8005) covers everything before it, stuffed.
"""

from __future__ import annotations

from dataclasses import dataclass

HEADER = b"\xff\xff\xfd\x00"
BROADCAST_ID = 0xFE
STATUS = 0x55

# Instructions (e-manual, Protocol 2.0).
PING = 0x01
READ = 0x02
WRITE = 0x03
REG_WRITE = 0x04
ACTION = 0x05
FACTORY_RESET = 0x06
REBOOT = 0x08
CLEAR = 0x10
SYNC_READ = 0x82
SYNC_WRITE = 0x83
FAST_SYNC_READ = 0x8A
BULK_READ = 0x92
BULK_WRITE = 0x93

# Status packet error codes (bits 0-6); bit 7 is the hardware alert.
ERR_NONE = 0x00
ERR_RESULT_FAIL = 0x01
ERR_INSTRUCTION = 0x02
ERR_CRC = 0x03
ERR_DATA_RANGE = 0x04
ERR_DATA_LENGTH = 0x05
ERR_DATA_LIMIT = 0x06
ERR_ACCESS = 0x07


def _make_crc_table() -> tuple[int, ...]:
    """The 256-entry table of CRC-16/BUYPASS (poly 0x8005, init 0, no reflection)."""
    table = []
    for i in range(256):
        crc = i << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x8005) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return tuple(table)


_CRC_TABLE = _make_crc_table()


def crc16(data: bytes | bytearray | memoryview) -> int:
    """Dynamixel's CRC over `data` (what dynamixel-sdk's `updateCRC(0, data, len)` returns)."""
    crc = 0
    table = _CRC_TABLE
    for b in data:
        crc = ((crc << 8) & 0xFFFF) ^ table[((crc >> 8) ^ b) & 0xFF]
    return crc


def stuff(payload: bytes) -> bytes:
    """Insert the 0xFD stuffing byte after every FF FF FD inside a payload."""
    return (
        payload.replace(b"\xff\xff\xfd", b"\xff\xff\xfd\xfd")
        if b"\xff\xff\xfd" in payload
        else payload
    )


def unstuff(payload: bytes) -> bytes:
    """Undo `stuff`: FF FF FD FD -> FF FF FD."""
    return (
        payload.replace(b"\xff\xff\xfd\xfd", b"\xff\xff\xfd")
        if b"\xff\xff\xfd\xfd" in payload
        else payload
    )


def status_packet(motor_id: int, error: int, params: bytes = b"") -> bytes:
    """A complete status packet (header, stuffing, CRC) as a motor sends it."""
    body = stuff(bytes((STATUS, error)) + params)
    length = len(body) + 2
    head = HEADER + bytes((motor_id, length & 0xFF, length >> 8))
    pkt = head + body
    crc = crc16(pkt)
    return pkt + bytes((crc & 0xFF, crc >> 8))


def instruction_packet(motor_id: int, instruction: int, params: bytes = b"") -> bytes:
    """A complete instruction packet; the simulator's tests use it to talk to the simulator raw."""
    body = stuff(bytes((instruction,)) + params)
    length = len(body) + 2
    pkt = HEADER + bytes((motor_id, length & 0xFF, length >> 8)) + body
    crc = crc16(pkt)
    return pkt + bytes((crc & 0xFF, crc >> 8))


@dataclass(frozen=True)
class Instruction:
    """One parsed instruction packet: who it is for, what, its unstuffed parameters."""

    motor_id: int
    instruction: int
    params: bytes
    crc_ok: bool


class PacketReader:
    """Incremental parser: feed it whatever `os.read` returned, get whole packets back.

    Why incremental: a pty delivers a packet in arbitrary pieces; garbage before a header (line
    noise, a host at the wrong baud rate) is skipped, never fatal.
    """

    MAX_LENGTH = 1024  # longer than anything LeRobot sends: treat as a false header

    def __init__(self) -> None:
        self.buf = bytearray()

    def feed(self, data: bytes) -> list[Instruction]:
        """Append `data` and return every complete instruction packet now in the buffer."""
        buf = self.buf
        buf += data
        out: list[Instruction] = []
        while True:
            start = buf.find(HEADER)
            if start < 0:
                # keep a possible partial header at the end
                keep = (
                    3
                    if buf.endswith(b"\xff\xff\xfd")
                    else 2
                    if buf.endswith(b"\xff\xff")
                    else 1
                    if buf.endswith(b"\xff")
                    else 0
                )
                del buf[: len(buf) - keep]
                return out
            if start:
                del buf[:start]
            if len(buf) < 7:
                return out
            length = buf[5] | (buf[6] << 8)
            if length < 3 or length > self.MAX_LENGTH:
                del buf[:1]
                continue
            total = 7 + length
            if len(buf) < total:
                return out
            pkt = bytes(buf[:total])
            del buf[:total]
            crc_ok = crc16(pkt[:-2]) == (pkt[-2] | (pkt[-1] << 8))
            out.append(Instruction(pkt[4], pkt[7], unstuff(pkt[8:-2]), crc_ok))
