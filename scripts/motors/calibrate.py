"""`make calibrate`: LeRobot's own interactive calibration, in envs/act, on a real terminal.

Why a wrapper and not `lerobot-calibrate` alone: it must run where `make robot` later reads the
file (the same $HF_LEROBOT_CALIBRATION and robot id as the profile), it asks you to move the arm
and press ENTER (so it refuses to start without a terminal instead of dying on EOFError), and a
bus problem should be named before LeRobot's calibration turns it into a traceback. Afterwards
the file is compared with the motors' registers, as `make motors` does.

Usage: python -m scripts.motors.calibrate [--robot koch] [--port PATH]
"""

from __future__ import annotations

import argparse
import os
import subprocess
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

    path = cf.calibration_path(prof.type, prof.id)
    env = dict(os.environ, HF_LEROBOT_CALIBRATION=str(cf.calibration_root()))
    exe = Path(sys.executable).with_name("lerobot-calibrate")
    cmd = [str(exe), f"--robot.type={prof.type}", f"--robot.port={port}", f"--robot.id={prof.id}"]
    print(f"calibrating {prof.name} on {port}; LeRobot writes {path}", flush=True)
    print("$ " + " ".join(cmd), flush=True)
    rc = subprocess.run(cmd, env=env, check=False).returncode
    if rc != 0:
        print(
            f"calibrate: error: lerobot-calibrate exited {rc}: see its message above",
            file=sys.stderr,
        )
        return rc
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
