"""Measure make robot's torque-off bound: kill -9 of a moving control process -> all six at 0.

Why a script and not a test: N real kills cost N control-process starts (~7 s each on this
box). One `make serve` and one simulator serve every kill; each run is the test's own path
(tests/deploy/test_robot_supervisor.py): `make robot ROBOT=koch` until "robot: moving", SIGKILL the
client, then the simulator's registers dumped on SIGUSR1 as fast as it writes them.

Usage (tools env, from the repo): PYTHONPATH=$PWD:tests:tests/deploy envs/tools/.venv/bin/python \\
    tests/helpers/supervisor_bench.py CHECKPOINT DATASET [--kills 10]
Prints one line per kill and a summary: the supervisor's own time (child reaped -> read back
0) and the outside one (kill sent -> the simulator's registers at 0, its dumps included).
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

from helpers import deploy_common as dc
from helpers.motors_sim import REPO, sim_env, simulator
from test_robot_supervisor import pid_running, start_moving, torque


def main() -> int:
    """N kills, one line each, then median and max of both times."""
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--kills", type=int, default=10)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="supervisor-bench-"))
    port = dc.free_port()
    server = dc.start_server(a.checkpoint, port, tmp / "serve-logs")
    inside: list[float] = []
    outside: list[float] = []
    teardown: list[float] = []
    probe: list[float] = []
    calib = tmp / "calib" / "robots/koch_follower/koch.json"
    try:
        server.wait_for("serve: SERVING", timeout=240)
        with simulator(tmp, "--write-calibration", str(calib)) as sim:
            rig = {
                "sim": sim,
                "env": sim_env(tmp / "calib"),
                "cmd": [
                    "make", "robot", "ROBOT=koch", f"CHECKPOINT={a.checkpoint}",
                    f"SERVER=127.0.0.1:{port}", f"ROBOT_PORT={sim.port}", "CAMERAS=replay",
                    f"DATASET={a.dataset}", f"DEPLOY_DIR={tmp / 'deploy'}", "STALL_S=20",
                ],
            }  # fmt: skip
            for k in range(a.kills):
                robot = start_moving(rig)
                time.sleep(0.5 + 0.1 * k)  # kills land at different points of the loop
                client = pid_running("scripts.deploy.client", robot.p.pid)
                pidfd = os.pidfd_open(client)  # readable once the kernel finished the process
                t_kill = time.monotonic()
                os.kill(client, signal.SIGKILL)
                select.select([pidfd], [], [], 30)
                t_dead = time.monotonic()
                os.close(pidfd)
                while any(torque(sim).values()):
                    if time.monotonic() - t_kill > 5:
                        break
                t_off = time.monotonic()
                t_probe = time.monotonic()
                torque(sim)  # what one read of the registers costs (the resolution)
                probe.append(1000 * (time.monotonic() - t_probe))
                teardown.append(1000 * (t_dead - t_kill))
                outside.append(1000 * (t_off - t_dead))
                robot.wait(timeout=30)
                line = next(ln for ln in robot.lines if "control process died" in ln)
                inside.append(float(line.rsplit(" in ", 1)[1].removesuffix(" ms")))
                print(
                    f"kill {k + 1}: {line}; kill -> exited {teardown[-1]:.1f} ms, exited -> "
                    f"registers read 0 {outside[-1]:.1f} ms (one read {probe[-1]:.1f} ms)",
                    flush=True,
                )
    finally:
        server.stop()
    for name, xs in (
        ("supervisor (reaped -> read back 0)", inside),
        ("kill -> the kernel finished the process", teardown),
        ("exited -> simulator's registers read 0", outside),
        ("one read of the registers", probe),
    ):
        print(f"{name}: median {statistics.median(xs):.1f} ms, max {max(xs):.1f} ms, N={len(xs)}")
    print(f"load average {os.getloadavg()}, {os.cpu_count()} cores, repo {REPO}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
