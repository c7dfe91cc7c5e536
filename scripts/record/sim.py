"""``make record-sim``: ``make record`` against the simulator, no hardware (runs in envs/act).

The test bed: the follower (KochFollower's six motors) on one pty, tracking its goal positions
with a servo's lag (``--lag-ms``); the Koch leader (six XL330-M077) on another pty whose
joints follow a scripted human-like trajectory (``scripts.motors.trajectory``); the profile's
cameras replayed at the profile's fps from a small v3.0 dataset (``replay_source``, written
once with LeRobot into WORK). Both arms get calibration files matching the simulated
registers, under WORK/calibration (HF_LEROBOT_CALIBRATION for the recorder only: a real
arm's calibration is never touched). Then ``python -m scripts.record`` runs unchanged with
ROBOT_PORT / TELEOP_PORT pointing at the ptys; its exit code is this command's.

Usage: python -m scripts.record.sim [--work DIR] [--size WxH] [--fault SPEC ...] -- RECORD_ARGS
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def start_sim(args: list[str], env: dict) -> tuple[subprocess.Popen, str]:
    """A simulator process and its pty path (its first stdout line ``PORT <path>``)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "scripts.motors.sim", *args],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    line = proc.stdout.readline() if proc.stdout else ""
    if not line.startswith("PORT "):
        proc.kill()
        raise SystemExit(f"record-sim: error: the simulator did not start ({line.strip()!r})")
    return proc, line.split()[1]


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    rest: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, rest = argv[:i], argv[i + 1 :]
    ap = argparse.ArgumentParser(prog="make record-sim", description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, default=REPO / ".cache" / "record-sim")
    ap.add_argument("--size", default="640x480", help="replayed camera frames, WxH")
    ap.add_argument("--fault", action="append", default=[], help="follower bus fault (slow=all:MS)")
    ap.add_argument("--lag-ms", default="60", help="follower tracking lag")
    ap.add_argument("--human", default="300", help="leader trajectory amplitude, ticks")
    ap.add_argument("--priority", default="rt", choices=("rt", "nice", "none"))
    a = ap.parse_args(argv)
    try:
        w, h = (int(v) for v in a.size.lower().split("x"))
    except ValueError:
        print(f"record-sim: error: SIM_SIZE={a.size!r}: give WxH, e.g. 640x480", file=sys.stderr)
        return 2
    work = a.work.resolve()
    calib = work / "calibration"
    env = dict(os.environ, PYTHONPATH=str(REPO), HF_LEROBOT_CALIBRATION=str(calib))
    from scripts.record import replay_source

    fps = 30
    if "--fps" in rest:
        fps = int(rest[rest.index("--fps") + 1] or 30)
    src = replay_source.ensure(work / f"replay-{w}x{h}-{fps}fps", w, h, fps)
    faults = [x for f in a.fault for x in ("--fault", f)]
    prio = ["--priority", a.priority]
    follower, fport = start_sim(
        ["--robot", "koch", "--lag-ms", a.lag_ms, *prio, *faults,
         "--write-calibration", str(calib / "robots/koch_follower/koch.json")], env,
    )  # fmt: skip
    try:
        leader, lport = start_sim(
            ["--robot", "koch_leader", "--human", a.human, *prio, "--write-calibration",
             str(calib / "teleoperators/koch_leader/koch_leader.json")], env,
        )  # fmt: skip
    except SystemExit:
        stop(follower)
        raise
    print(
        f"record-sim: follower on {fport}, leader on {lport}, cameras replay {src}",
        file=sys.stderr,
        flush=True,
    )
    cmd = [sys.executable, "-m", "scripts.record", "--robot-port", fport, "--teleop-port", lport,
           "--cameras", "replay", "--replay", str(src), *rest]  # fmt: skip
    try:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env)
        try:
            return proc.wait()
        except KeyboardInterrupt:  # the recorder got the same SIGINT: let it finish
            return proc.wait()
    finally:
        stop(leader)
        stop(follower)


if __name__ == "__main__":
    sys.exit(main())
