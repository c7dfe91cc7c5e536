"""Find the arm's serial port and say, in one line, why it cannot be opened.

Why before the SDK: dynamixel-sdk (and LeRobot on top) turns every port problem into
"Could not connect on port ... Try running lerobot-find-port"; a missing device, a user not in
the `dialout` group and a port held by another program each need a different fix.
"""

from __future__ import annotations

import errno
import glob
import os
from pathlib import Path

SEARCH = ("/dev/serial/by-id/*", "/dev/ttyACM*", "/dev/ttyUSB*")


class PortError(RuntimeError):
    """A port that cannot be used; the message is the one line to print (cause and fix)."""


def candidates(patterns: tuple[str, ...] = SEARCH) -> list[str]:
    """Serial ports that look like a USB-serial adapter, by-id names first, no duplicates."""
    seen: set[str] = set()
    out = []
    for pattern in patterns:
        for path in sorted(glob.glob(pattern)):
            real = os.path.realpath(path)
            if real not in seen:
                seen.add(real)
                out.append(path)
    return out


def find(port: str | None, knob: str = "PORT") -> str:
    """The port to use: `port` if given, else the only candidate; PortError otherwise."""
    if port:
        return port
    found = candidates()
    if not found:
        raise PortError(
            f"no serial port found ({', '.join(SEARCH)} are empty): plug in the arm's USB "
            f"adapter and power, or name it: {knob}=/dev/ttyACM0"
        )
    if len(found) > 1:
        raise PortError(
            f"several serial ports ({', '.join(found)}): pick one with {knob}={found[0]}"
        )
    return found[0]


def explain_open_error(port: str, err: OSError) -> PortError:
    """Turn the OSError of opening `port` into the one line that says what to do."""
    code = err.errno
    if code == errno.ENOENT or not Path(port).exists():
        return PortError(
            f"no such port {port}: check the USB cable, list ports with `ls /dev/serial/by-id`, "
            "or leave PORT unset to search"
        )
    if code in (errno.EACCES, errno.EPERM):
        return PortError(
            f"permission denied on {port}: add yourself to the dialout group "
            "(sudo usermod -aG dialout $USER), then log out and back in"
        )
    if code == errno.EBUSY:
        return PortError(
            f"{port} is busy: another program has it open (lerobot, a serial monitor); stop it"
        )
    return PortError(f"cannot open {port}: {err.strerror or err}")


def check_openable(port: str) -> None:
    """Open and close `port` once (read-write, no controlling tty); PortError if that fails."""
    try:
        fd = os.open(port, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError as e:
        raise explain_open_error(port, e) from None
    os.close(fd)
