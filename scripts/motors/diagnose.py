"""After a bus error mid-run: which motors stopped answering, and torque off where it still can.

Why: LeRobot's ``sync_read`` fails as a whole ("Failed to sync read 'Present_Position' on
ids=[1, 2, 3, 4, 5, 6] ... There is no status packet!"), which does not say which motor or
cable is at fault, and its ``disable_torque`` stops at the first motor that does not answer,
leaving the motors after it holding torque. Here each motor is pinged on its own, and torque
is switched off motor by motor, skipping the silent ones.

Works on any LeRobot ``MotorsBus`` (``motors``: name -> Motor(id, model), ``ping``, ``write``,
``port_handler``); nothing here imports LeRobot.
"""

from __future__ import annotations

from typing import Any

PING_RETRIES = 2  # a motor that misses three pings in a row is not answering


def silent_motors(bus: Any) -> list[tuple[str, int]]:
    """(name, ID) of every motor of ``bus`` that no longer answers a ping."""
    out = []
    for name, motor in bus.motors.items():
        try:
            model = bus.ping(name, num_retry=PING_RETRIES)
        except Exception:  # a port gone (unplugged adapter) raises instead of returning None
            model = None
        if model is None:
            out.append((name, motor.id))
    return out


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def describe(silent: list[tuple[str, int]], error: BaseException, port: str | None = None) -> str:
    """One line for an error raised by the robot: the silent motor(s) named, with the fix."""
    first = first_line(error)
    if not silent:
        return f"robot error ({first}); every motor still answers a ping"
    names = ", ".join(f"'{n}' (ID {i})" for n, i in silent)
    what = "motor" if len(silent) == 1 else "motors"
    where = f" PORT={port}" if port else ""
    return (
        f"{what} {names} stopped answering mid-run ({first}): check its cable and power "
        f"supply, then make motors{where}"
    )


def torque_off_each(bus: Any, skip: list[str]) -> list[str]:
    """Torque_Enable 0 on every motor but ``skip``, one at a time; names it could not reach."""
    failed = []
    for name in bus.motors:
        if name in skip:
            continue
        try:
            bus.write("Torque_Enable", name, 0, num_retry=2)
        except Exception:
            failed.append(name)
    return failed
