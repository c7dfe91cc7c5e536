"""`make motors`: is the arm's bus what the robot profile says, and does the calibration agree?

Why: a bad cable, the factory baud rate, a motor with the wrong ID or an uncalibrated arm
otherwise surface as `There is no status packet!` or an `input()` prompt deep inside LeRobot.
This check finds the port, pings every ID, reads each motor's registers in one packet, prints a
table (ID, model, firmware, voltage, temperature, torque, position) and one line per problem,
each with its fix. Exit codes: 0 ok, 2 usage/profile, 3 port, 4 no motor answers (power, baud
rate), 5 wrong motors (missing, wrong model, two on one ID, unexpected), 6 calibration file.

Usage: python -m scripts.motors.check [--robot koch] [--port PATH] [--scan]
"""

from __future__ import annotations

import argparse
import sys

from scripts.motors import calibration_file as cf
from scripts.motors import control_table as ct
from scripts.motors import ports, scan
from scripts.motors import profile as profile_mod

USAGE, PORT, NO_ANSWER, WRONG_MOTORS, CALIBRATION = 2, 3, 4, 5, 6


class Report:
    """Problems found so far: (exit code, one line) each, printed in the order found."""

    def __init__(self) -> None:
        self.problems: list[tuple[int, str]] = []

    def add(self, code: int, line: str) -> None:
        """Record a problem."""
        self.problems.append((code, line))

    def finish(self) -> int:
        """Print every problem to stderr; the exit code is the most basic one (lowest)."""
        for _, line in self.problems:
            print(f"motors: error: {line}", file=sys.stderr)
        return min((c for c, _ in self.problems), default=0)


def _setup_hint(prof: profile_mod.Profile, port: str) -> str:
    return f"lerobot-setup-motors --robot.type={prof.type} --robot.port={port}"


def table(prof: profile_mod.Profile, readings: dict[int, scan.MotorReading]) -> str:
    """The motors as a fixed-width table, one row per ID seen or expected."""
    expected = prof.by_id()
    rows = [("ID", "name", "model", "fw", "voltage", "temp", "torque", "position", "status")]
    for mid, r in sorted(readings.items()):
        regs = r.registers
        model = ct.model_name(r.model_number) if r.model_number is not None else None
        name = expected[mid].name if mid in expected else "?"
        status = r.status
        if mid in expected and model and model != expected[mid].model:
            status = f"WRONG MODEL (want {expected[mid].model})"
        elif mid not in expected:
            status = "UNEXPECTED ID"
        elif r.status != "ok":
            status = r.status.upper()
        rows.append(
            (
                str(mid),
                name,
                model or (str(r.model_number) if r.model_number is not None else "-"),
                str(regs.get("Firmware_Version", "-")),
                f"{regs['Present_Input_Voltage'] / 10:.1f} V"
                if "Present_Input_Voltage" in regs
                else "-",
                f"{regs['Present_Temperature']} C" if "Present_Temperature" in regs else "-",
                {0: "off", 1: "on"}.get(regs.get("Torque_Enable", -1), "-"),
                str(regs.get("Present_Position", "-")),
                status,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def check_motors(
    prof: profile_mod.Profile, port: str, readings: dict[int, scan.MotorReading], report: Report
) -> None:
    """One problem line per missing, corrupt (two on one ID), wrong-model or unexpected motor."""
    expected = prof.by_id()
    hint = _setup_hint(prof, port)
    for mid, r in sorted(readings.items()):
        spec = expected.get(mid)
        found_model = ct.model_name(r.model_number) if r.model_number is not None else None
        label = f"motor {mid} ({spec.name}, {spec.model})" if spec else f"motor {mid}"
        if r.status == "missing" and spec:
            report.add(
                WRONG_MOTORS,
                f"{label} does not answer: check its cable and daisy chain; a new motor still has "
                f"ID 1 at 57600 baud: set it with {hint}",
            )
        elif r.status == "corrupt":
            report.add(
                WRONG_MOTORS,
                f"{label} answers with corrupt packets: two motors share ID {mid} (or a bad "
                f"cable): connect one motor at a time and set each ID with {hint}",
            )
        elif spec and found_model != spec.model:
            report.add(
                WRONG_MOTORS,
                f"{label} is a {found_model or 'unknown model'} (model number {r.model_number}): "
                f"put a {spec.model} at ID {mid}, or fix the IDs with {hint}",
            )
        elif not spec:
            report.add(
                WRONG_MOTORS,
                f"unexpected motor ID {mid} ({found_model or r.model_number}): {prof.name} uses "
                f"IDs {', '.join(map(str, sorted(expected)))}; fix it with {hint}",
            )
        elif r.error_byte & 0x80:
            report.add(
                WRONG_MOTORS,
                f"{label} reports a hardware error (Hardware_Error_Status "
                f"{r.registers.get('Hardware_Error_Status')}): power-cycle the arm; if it returns, "
                "check load and temperature",
            )


def check_calibration(
    prof: profile_mod.Profile, readings: dict[int, scan.MotorReading], report: Report
) -> str:
    """Compare the calibration file with the registers; returns a one-line summary."""
    path = cf.calibration_path(prof.type, prof.id, prof.kind)
    calib = cf.load(path)
    fix = f"make calibrate ROBOT={prof.name}"
    if calib is None:
        report.add(
            CALIBRATION, f"no calibration file {path}: {fix} (LeRobot would stop and prompt)"
        )
        return f"calibration: missing ({path})"
    regs = {
        spec.name: readings[spec.id].registers
        for spec in prof.motors
        if spec.id in readings and readings[spec.id].registers
    }
    # motors that did not answer are reported already: compare what could be read
    names = {m.name for m in prof.motors}
    diffs = cf.disagreements({k: v for k, v in calib.items() if k in regs or k not in names}, regs)
    if diffs:
        shown = "; ".join(diffs[:4]) + (f"; +{len(diffs) - 4} more" if len(diffs) > 4 else "")
        report.add(
            CALIBRATION,
            f"calibration {path} disagrees with the motors ({shown}): {fix}, "
            "or use the file this arm was calibrated with",
        )
        return f"calibration: disagrees ({path})"
    return f"calibration: present and agrees with the registers ({path})"


def run_scan(bus: scan.Bus, port: str) -> int:
    """--scan: broadcast ping at every baud rate LeRobot knows (as its `scan_port`)."""
    bauds = list(ct.lerobot_tables().AVAILABLE_BAUDRATES)
    print(
        f"scanning {port} at {len(bauds)} baud rates (broadcast ping; up to ~30 s) ...", flush=True
    )
    found = scan.full_scan(bus, bauds)
    for baud, ids in found.items():
        print(
            f"  {baud:>8} baud: "
            + ", ".join(f"ID {i} ({ct.model_name(m) or m})" for i, m in sorted(ids.items()))
        )
    if not found:
        print(
            "motors: error: no motor answers at any baud rate: check the power and the cable",
            file=sys.stderr,
        )
        return NO_ANSWER
    return 0


def inspect(
    robot: str, port: str | None, report: Report, *, show: bool = False, scan_all: bool = False
) -> int | None:
    """The whole check without exiting: problems go to `report`; returns --scan's code if run.

    `show` prints the header, table and calibration line (what `make motors` shows).
    """
    try:
        prof = profile_mod.load(robot)
    except profile_mod.ProfileError as e:
        report.add(USAGE, str(e))
        return None
    try:
        port = ports.find(port)
        ports.check_openable(port)
        bus = scan.Bus(port, prof.baudrate)
    except ports.PortError as e:
        report.add(PORT, str(e))
        return None
    except OSError as e:  # serial.SerialException is an OSError
        report.add(PORT, str(ports.explain_open_error(port or "", e)))
        return None
    try:
        if scan_all:
            return run_scan(bus, port)
        found, _ = bus.broadcast()
        ids = sorted(set(prof.by_id()) | set(found))
        readings = {
            mid: scan.read_motor(bus, mid, getattr(prof.by_id().get(mid), "model", None))
            for mid in ids
        }
        if all(r.status == "missing" for r in readings.values()):
            elsewhere = scan.probe_other_bauds(bus, sorted(set(prof.by_id()) | {1}), prof.baudrate)
            if elsewhere:
                baud, hit = next(iter(elsewhere.items()))
                report.add(
                    NO_ANSWER,
                    f"no motor answers at {prof.baudrate} baud but IDs {', '.join(map(str, hit))} "
                    f"answer at {baud}: set every motor to {prof.baudrate} baud with "
                    f"{_setup_hint(prof, port)}",
                )
            else:
                report.add(
                    NO_ANSWER,
                    f"no motor answers on {port} at any X-series baud rate: check the power "
                    "supply is on and plugged into the bus, and the cable to the first motor; "
                    "then `make motors SCAN=1`",
                )
            return None
        if show:
            print(f"{prof.name} ({prof.type}) on {port} at {prof.baudrate} baud")
            print(table(prof, readings))
        check_motors(prof, port, readings, report)
        line = check_calibration(prof, readings, report)
        if show:
            print(line)
    finally:
        bus.close()
    return None


def problems(robot: str = "koch", port: str | None = None) -> list[str]:
    """One line per problem of the arm's bus and calibration (empty: ready to connect).

    For other tools' preflight (e.g. `make robot` before KochFollower.connect, which would
    otherwise prompt with `input()` on a calibration mismatch). Runs in envs/act; prints nothing.
    """
    report = Report()
    inspect(robot, port, report)
    return [line for _, line in report.problems]


def main(argv: list[str] | None = None) -> int:
    """Run the check; returns the exit code."""
    ap = argparse.ArgumentParser(prog="make motors", description=__doc__.split("\n\n")[0])
    ap.add_argument("--robot", default="koch", help="profile under recipes/robots (default koch)")
    ap.add_argument(
        "--port",
        default=None,
        help="serial port (default: search /dev/serial/by-id, ttyACM, ttyUSB)",
    )
    ap.add_argument(
        "--scan", action="store_true", help="broadcast ping at every baud rate, then stop"
    )
    args = ap.parse_args(argv)
    report = Report()
    scanned = inspect(args.robot, args.port, report, show=True, scan_all=args.scan)
    if scanned is not None:
        return scanned
    code = report.finish()
    if code == 0:
        print(
            f"motors: ok: the {args.robot} motors answer with the right models, calibration agrees"
        )
    return code


if __name__ == "__main__":
    sys.exit(main())
