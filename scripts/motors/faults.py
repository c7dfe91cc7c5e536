"""Fault injection for the simulator, parsed from short specs (`make motors-sim FAULTS="..."`).

Why specs and not code: tests and people ask for the same bad buses a lab meets (a motor with a
wrong ID, the factory baud rate, the power switch off) from the command line, one word each.

    missing=ID            no motor at ID (unplugged, or still at its factory ID 1)
    model=ID:MODEL        the motor at ID is another model (e.g. model=3:xl430-w250)
    duplicate=ID          a second motor answers at ID (their replies collide on the wire)
    no-power              nothing answers at all
    baud=BPS              every motor listens at BPS instead of the profile's baud rate
    slow=ID:MS            the motor at ID answers MS milliseconds late (ID may be `all`)
    drop=ID:P             the motor at ID drops each reply with probability P
    corrupt=ID[:P]        the motor's replies carry a bad CRC (probability P, default 1)
    die=ID:S              the motor stops answering S seconds after its first Goal_Position
    latency=MS            every SYNC_READ of Present_Position (the control loop's read of all
                          joints) is answered MS milliseconds late: a slow bus for the loop
                          (make record's loop-truth test bed) while pings, connect and
                          calibration reads stay on time; keep MS under ~30: the SDK gives a
                          sync read ~34 ms before it calls the packet lost
"""

from __future__ import annotations

from dataclasses import dataclass, field

ALL = -1


class FaultError(ValueError):
    """A fault spec that does not parse; the message says the accepted form."""


@dataclass
class Faults:
    """Every fault the simulator applies; empty means a healthy bus."""

    missing: set[int] = field(default_factory=set)
    model: dict[int, str] = field(default_factory=dict)
    duplicate: set[int] = field(default_factory=set)
    no_power: bool = False
    baud: int | None = None
    slow_ms: dict[int, float] = field(default_factory=dict)
    drop: dict[int, float] = field(default_factory=dict)
    corrupt: dict[int, float] = field(default_factory=dict)
    die_after: dict[int, float] = field(default_factory=dict)
    latency_ms: float = 0.0

    def lookup(self, table: dict[int, float], motor_id: int) -> float:
        """A per-motor knob's value for `motor_id` (an `all` entry applies to every motor)."""
        return table.get(motor_id, table.get(ALL, 0.0))


def _id(text: str, spec: str) -> int:
    if text == "all":
        return ALL
    if not text.isdigit() or not 0 <= int(text) <= 252:
        raise FaultError(f"fault {spec!r}: motor ID must be 0-252 or 'all'")
    return int(text)


def _number(text: str, spec: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise FaultError(f"fault {spec!r}: {text!r} is not a number") from None


def parse(specs: list[str]) -> Faults:
    """Turn specs like `missing=3`, `slow=all:40` into `Faults`; raises FaultError."""
    f = Faults()
    for spec in specs:
        key, _, value = spec.partition("=")
        ident, _, arg = value.partition(":")
        if key == "no-power" and not value:
            f.no_power = True
        elif key == "missing" and value:
            f.missing.add(_id(value, spec))
        elif key == "duplicate" and value:
            f.duplicate.add(_id(value, spec))
        elif key == "model" and arg:
            f.model[_id(ident, spec)] = arg
        elif key == "baud" and value.isdigit():
            f.baud = int(value)
        elif key == "slow" and arg:
            f.slow_ms[_id(ident, spec)] = _number(arg, spec)
        elif key == "drop" and arg:
            f.drop[_id(ident, spec)] = _number(arg, spec)
        elif key == "corrupt" and value:
            f.corrupt[_id(ident, spec)] = _number(arg, spec) if arg else 1.0
        elif key == "die" and arg:
            f.die_after[_id(ident, spec)] = _number(arg, spec)
        elif key == "latency" and value:
            f.latency_ms = _number(value, spec)
        else:
            raise FaultError(
                f"unknown fault {spec!r}: use missing=ID, model=ID:MODEL, duplicate=ID, no-power, "
                "baud=BPS, slow=ID:MS, drop=ID:P, corrupt=ID[:P], die=ID:SECONDS, latency=MS"
            )
    return f
