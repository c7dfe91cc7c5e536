"""`make calibrate`: LeRobot's own interactive calibration, in envs/act, on a real terminal.

Why a wrapper and not `lerobot-calibrate` alone: it must run where `make robot` later reads the
file (the same $HF_LEROBOT_CALIBRATION and robot id as the profile), it asks you to move the arm
and press ENTER (so it refuses to start without a terminal instead of dying on EOFError), and a
bus problem should be named before LeRobot's calibration turns it into a traceback. Afterwards
the file is compared with the motors' registers, as `make motors` does.

LeRobot's calibration runs in this process (not as a `lerobot-calibrate` child) so that Ctrl-C
is one line and exit 130 instead of two tracebacks (ours and the child's). What LeRobot writes
when (KochFollower.calibrate): the motors' Homing_Offset after the first ENTER, then after the
second ENTER the calibration registers and last the file (`open(path, "w")`, not atomic). On
Ctrl-C the file is put back as it was unless LeRobot had finished writing a complete one, and
the line says when the motors no longer match it.

Usage: python -m scripts.motors.calibrate [--robot koch] [--port PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path

from scripts.motors import calibration_file as cf
from scripts.motors import check, ports, scan
from scripts.motors import profile as profile_mod


def _bus_readings(prof: profile_mod.Profile, port: str) -> dict[int, scan.MotorReading]:
    """Every expected motor's reading (the port is closed again before LeRobot opens it)."""
    bus = scan.Bus(port, prof.baudrate)
    try:
        return {m.id: scan.read_motor(bus, m.id, m.model) for m in prof.motors}
    finally:
        bus.close()


def run_lerobot(prof: profile_mod.Profile, port: str) -> None:
    """LeRobot's own ``lerobot-calibrate`` (its CLI's config and function), in this process.

    HF_LEROBOT_CALIBRATION is set before LeRobot is imported: its constants read it at import.
    """
    os.environ["HF_LEROBOT_CALIBRATION"] = str(cf.calibration_root())
    import draccus
    from lerobot.scripts import lerobot_calibrate as lc
    from lerobot.utils.import_utils import register_third_party_plugins

    register_third_party_plugins()
    side = "teleop" if prof.kind == "teleoperators" else "robot"  # a leader arm is a teleop
    args = [f"--{side}.type={prof.type}", f"--{side}.port={port}", f"--{side}.id={prof.id}"]
    print("$ lerobot-calibrate " + " ".join(args), flush=True)
    lc.calibrate(draccus.parse(lc.CalibrateConfig, args=args))


def complete(path: Path, prof: profile_mod.Profile) -> bool:
    """The file holds a calibration of every motor of the profile (LeRobot finished it)."""
    try:
        calib = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(calib, dict) and set(calib) == {m.name for m in prof.motors}


def put_back(path: Path, before: bytes | None, prof: profile_mod.Profile) -> str:
    """After an interrupt: the file as it was, unless a complete new one was written."""
    now = path.read_bytes() if path.is_file() else None
    if now == before:
        return f"{path} unchanged" if before is not None else f"no calibration written to {path}"
    if now is not None and complete(path, prof):
        return f"{path} had just been written in full: kept"
    if before is None:
        path.unlink(missing_ok=True)
        return f"the partial {path} removed"
    tmp = path.with_suffix(".json.restore")
    tmp.write_bytes(before)
    os.replace(tmp, path)
    return f"{path} restored as it was"


def interrupted(prof: profile_mod.Profile, port: str, path: Path, before: bytes | None) -> int:
    """Ctrl-C during LeRobot's calibration: one line, nothing half-written, exit 130."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut this short
    state = put_back(path, before, prof)
    calib = cf.load(path)
    note = ""
    if calib is not None:
        try:
            readings = _bus_readings(prof, port)
            regs = {
                m.name: readings[m.id].registers for m in prof.motors if readings[m.id].registers
            }
            if cf.disagreements(calib, regs):
                note = "; the motors' registers no longer match it (LeRobot had begun writing them)"
        except Exception:  # the bus is gone too: say nothing we do not know
            note = "; the motors could not be read to compare"
    again = f": make calibrate PORT={port} before make robot" if note or calib is None else ""
    print(f"calibrate: interrupted (Ctrl-C); {state}{note}{again}", file=sys.stderr, flush=True)
    return 130


def main(argv: list[str] | None = None) -> int:
    """Preflight, run lerobot-calibrate, verify the file; returns the exit code."""
    ap = argparse.ArgumentParser(prog="make calibrate", description=__doc__.split("\n\n")[0])
    ap.add_argument("--robot", default="koch", help="profile under recipes/robots (default koch)")
    ap.add_argument("--port", default=None, help="serial port (default: search)")
    args = ap.parse_args(argv)
    report = check.Report()
    try:
        prof = profile_mod.load(args.robot)
    except profile_mod.ProfileError as e:
        report.add(check.USAGE, str(e))
        return report.finish()
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        report.add(
            check.USAGE,
            "make calibrate asks you to move the arm and press ENTER: run it in a terminal "
            "(not from cron, CI or with input redirected)",
        )
        return report.finish()
    try:
        port = ports.find(args.port)
        ports.check_openable(port)
        readings = _bus_readings(prof, port)
    except ports.PortError as e:
        report.add(check.PORT, str(e))
        return report.finish()
    except OSError as e:
        report.add(check.PORT, str(ports.explain_open_error(port, e)))
        return report.finish()
    if all(r.status == "missing" for r in readings.values()):
        report.add(
            check.NO_ANSWER, f"no motor answers on {port}: run `make motors PORT={port}` to see why"
        )
        return report.finish()
    check.check_motors(prof, port, readings, report)
    if report.problems:
        return report.finish()

    path = cf.calibration_path(prof.type, prof.id, prof.kind)
    before = path.read_bytes() if path.is_file() else None
    print(f"calibrating {prof.name} on {port}; LeRobot writes {path}", flush=True)
    try:
        run_lerobot(prof, port)
    except KeyboardInterrupt:
        return interrupted(prof, port, path, before)
    except Exception as e:  # LeRobot's own failure (bus, motors): one line, as ours
        print(
            f"calibrate: error: LeRobot's calibration failed: {type(e).__name__}: {e}",
            file=sys.stderr,
        )
        return check.CALIBRATION
    calib = cf.load(path)
    if calib is None:
        print(f"calibrate: error: LeRobot did not write {path}", file=sys.stderr)
        return check.CALIBRATION
    readings = _bus_readings(prof, port)
    regs = {m.name: readings[m.id].registers for m in prof.motors if readings[m.id].registers}
    diffs = cf.disagreements(calib, regs)
    if diffs:
        print(
            f"calibrate: error: {path} disagrees with the motors after calibrating: "
            + "; ".join(diffs[:4]),
            file=sys.stderr,
        )
        return check.CALIBRATION
    print(f"calibrate: ok: {path} written and agrees with the motors' registers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
