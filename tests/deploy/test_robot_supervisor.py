"""make robot's supervisor: torque off on the simulated Koch arm whoever dies (control, supervisor).

Real parts: `make serve` (a tiny ACT), `make robot ROBOT=koch ROBOT_PORT=<pty>` (make ->
scripts.deploy.supervisor -> scripts.deploy.client with LeRobot's KochFollower) on the Dynamixel
simulator's pty, `kill -9` as the OOM killer sends it. The simulator's registers, dumped on
SIGUSR1 while it keeps running, say whether the motors hold torque. One server and one
simulator serve both tests.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import deploy_common as dc
from helpers.motors_sim import REPO, TRANSPORT_SIGNS, Sim, sim_env, simulator

# Measured (scripts/deploy/supervisor.py): reaped -> read back 0 in ~1 ms, max 87 ms at load 9;
# kill -> the kernel done with the process ~125 ms. The bounds leave room for a loaded box.
BOUND_MS = 250  # the supervisor's own: child reaped -> every motor read back at 0
EXTERNAL_BOUND_S = 2.0  # kill sent -> the simulator's registers at 0, the test's polling included


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A serving `make serve`, a calibrated simulator and the `make robot` command for both."""
    tmp = tmp_path_factory.mktemp("supervisor")
    ckpt, ds = dc.checkpoint(tmp_path_factory), dc.dataset(tmp_path_factory)
    port = dc.free_port()
    calib = tmp / "calib"
    server = dc.start_server(ckpt, port, tmp / "serve-logs")
    try:
        with simulator(
            tmp, "--write-calibration", str(calib / "robots/koch_follower/koch.json")
        ) as sim:
            server.wait_for("serve: SERVING", timeout=240)
            cmd = [
                "make", "robot", "ROBOT=koch", f"CHECKPOINT={ckpt}", f"SERVER=127.0.0.1:{port}",
                f"ROBOT_PORT={sim.port}", "CAMERAS=replay", f"DATASET={ds}",
                f"DEPLOY_DIR={tmp / 'deploy'}", "STALL_S=20",
            ]  # fmt: skip
            # what the Makefile's robot recipe passes after `supervisor --`
            client_argv = [
                "--robot", "koch", "--checkpoint", str(ckpt), "--server", f"127.0.0.1:{port}",
                "--log-dir", str(tmp / "deploy"), "--dataset", str(ds), "--stall-s", "20",
                "--robot-port", sim.port, "--cameras", "replay",
            ]  # fmt: skip
            yield {"sim": sim, "cmd": cmd, "env": sim_env(calib), "client_argv": client_argv}
    finally:
        server.stop()


def torque(sim: Sim) -> dict[int, int]:
    """Torque_Enable of every motor now: the simulator dumps its registers on SIGUSR1."""
    sim.state_path.unlink(missing_ok=True)
    sim.proc.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + 5
    while not sim.state_path.exists():
        assert time.monotonic() < deadline, "the simulator wrote no state on SIGUSR1"
        time.sleep(0.002)
    state = json.loads(sim.state_path.read_text())
    return {m["id"]: m["registers"]["Torque_Enable"] for m in state["motors"]}


def wait_all_off(sim: Sim, timeout: float) -> tuple[float, dict[int, int]]:
    """Seconds until every motor reads Torque_Enable 0 (or the last reading at timeout)."""
    t0 = time.monotonic()
    while True:
        regs = torque(sim)
        if not any(regs.values()) or time.monotonic() - t0 > timeout:
            return time.monotonic() - t0, regs


def children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (the kernel's per-thread child lists)."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids = [int(k) for k in (task / "children").read_text().split()]
        except OSError:
            continue
        for kid in kids:
            out += [kid, *children(kid)]
    return out


def pid_running(module: str, root: int) -> int:
    """The pid of ``python -m <module>`` under ``root``."""
    for pid in children(root):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if module.encode() in argv:
            return pid
    raise AssertionError(f"no {module} under pid {root}")


def alive(pid: int) -> bool:
    """Whether ``pid`` still runs (an orphan's zombie may wait for a PID 1 that never reaps)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def start_moving(rig: dict, cmd: list | None = None) -> dc.Proc:
    """`make robot` (or ``cmd``) on the simulator until the arm moves with torque on all six.

    A start that ended on the pty transport (a bus read timed out while LeRobot connected:
    ``TRANSPORT_SIGNS``, the kernel's pty worker late on a loaded box, see
    helpers.motors_sim) is tried again, twice at most; any other failure fails at once.
    """
    for attempt in range(3):
        robot = dc.Proc(cmd or rig["cmd"], env=rig["env"], cwd=REPO)
        try:
            robot.wait_for("robot: moving", timeout=180)
            break
        except AssertionError:
            exited = robot.p.poll() is not None
            robot.stop()
            if attempt == 2 or not exited or not any(s in robot.out for s in TRANSPORT_SIGNS):
                raise
            print(f"\nstart {attempt + 1} ended on the pty transport; again")
    regs = torque(rig["sim"])
    assert sorted(regs) == [1, 2, 3, 4, 5, 6] and all(v == 1 for v in regs.values()), regs
    return robot


def test_kill_9_of_control_process_torque_off_by_supervisor(rig: dict) -> None:
    """SIGKILL the control process mid-motion: the supervisor switches all six off, exits 3."""
    robot = start_moving(rig)
    try:
        client = pid_running("scripts.deploy.client", robot.p.pid)
        t_kill = time.monotonic()
        os.kill(client, signal.SIGKILL)
        seconds, regs = wait_all_off(rig["sim"], timeout=EXTERNAL_BOUND_S)
        rc = robot.wait(timeout=30)
    finally:
        robot.stop()
    external = time.monotonic() - t_kill - seconds  # kill -> polling started (tiny)
    assert not any(regs.values()), (regs, robot.out[-3000:])
    assert rc != 0, robot.out[-3000:]  # make's exit: the supervisor's 3
    line = next((ln for ln in robot.lines if "control process died" in ln), "")
    assert line.startswith("robot: control process died (SIGKILL); torque off on 6/6 motors in ")
    ms = float(line.rsplit(" in ", 1)[1].removesuffix(" ms"))
    assert ms <= BOUND_MS, line
    assert "make: *** [Makefile" in robot.out and "Error 3" in robot.out, robot.out[-2000:]
    print(f"\nkill -9 control: {line}; registers 0 read {1000 * (seconds + external):.0f} ms after")


def test_kill_9_of_supervisor_stops_control_process_with_torque_off(rig: dict) -> None:
    """SIGKILL the supervisor: the kernel SIGTERMs the control process, which stops cleanly."""
    robot = start_moving(rig)
    client = 0
    try:
        sup = pid_running("scripts.deploy.supervisor", robot.p.pid)
        client = pid_running("scripts.deploy.client", sup)
        os.kill(sup, signal.SIGKILL)
        # the promise is torque off, not a deadline: a box at load ~9 once took longer than 5 s
        seconds, regs = wait_all_off(rig["sim"], timeout=30.0)
        deadline = time.monotonic() + (60 if not any(regs.values()) else 0)
        while alive(client) and time.monotonic() < deadline:
            time.sleep(0.1)
        robot.wait(timeout=30)
        time.sleep(0.3)  # the orphan's last lines through the shared pipe
        outlived = alive(client)
    finally:
        robot.stop()
        if client and alive(client):  # an orphan still driving the arm: the test fails below
            os.kill(client, signal.SIGKILL)
    assert not any(regs.values()), (regs, robot.out[-3000:])
    assert not outlived, "the control process outlived its supervisor"
    assert "SIGTERM: stopped by the operator; robot torque off" in robot.out, robot.out[-3000:]
    print(f"\nkill -9 supervisor: torque off on all six {seconds:.2f} s after")


def test_hung_control_process_killed_after_grace_and_torque_off(rig: dict) -> None:
    """SIGTERM forwarded to a control process that cannot act on it (SIGSTOPped, as one stuck
    in a driver call): killed ``--stop-grace-s`` later, torque switched off by the supervisor."""
    sup_cmd = dc.act("-m", "scripts.deploy.supervisor", "--stop-grace-s", "1", "--")
    robot = start_moving(rig, [*sup_cmd, *rig["client_argv"]])
    try:
        client = pid_running("scripts.deploy.client", robot.p.pid)
        os.kill(client, signal.SIGSTOP)
        t0 = time.monotonic()
        robot.signal(signal.SIGTERM)  # the supervisor itself
        rc = robot.wait(timeout=30)
        waited = time.monotonic() - t0
        regs = torque(rig["sim"])
    finally:
        robot.stop()
    assert rc == 3, robot.out[-3000:]
    line = next((ln for ln in robot.lines if "control process killed" in ln), "")
    assert line.startswith(
        "robot: control process killed (no exit 1 s after SIGTERM); torque off on 6/6 motors"
    ), robot.out[-3000:]
    assert not any(regs.values()), regs
    assert 1.0 <= waited < 10, waited
