"""The whole robot path without an arm: make serve + make robot + KochFollower + simulator.

Real parts end to end: `make serve` (LeRobot 0.6.1's policy server with a tiny ACT made from a
LeRobot-written Koch-like dataset), `make robot ROBOT=koch ROBOT_PORT=<pty> CAMERAS=replay
DATASET=...` (the deploy client with LeRobot's RobotClient and the unchanged KochFollower over
the Dynamixel simulator's pty; its preflight runs `make motors`' bus and calibration check
first), the cameras replayed from the same dataset by the lerobot_camera_replay plugin that
envs/act installs. The simulator's registers prove the actions reached the motors and torque
is off at the end.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import deploy_common as dc
from helpers.motors_sim import REPO, sim_env, simulator, skip_if_transport_late


def test_koch_over_simulator_through_server_and_client(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Actions from the policy server move the simulated motors; report written; torque off.

    First, with no calibration file, make robot must stop at its last check before powering
    the arm (make motors' bus and calibration check), naming make calibrate: no input() prompt.
    """
    ckpt = dc.checkpoint(tmp_path_factory)
    ds = dc.dataset(tmp_path_factory)
    calib = tmp_path / "calib"
    port = dc.free_port()
    server = dc.start_server(ckpt, port, tmp_path / "serve-logs")

    def make_robot(robot_port: str, deploy_dir: Path, *knobs: str) -> list[str]:
        """`make robot` on the Koch profile against this server, cameras replayed from ds."""
        return [
            "make", "robot", "ROBOT=koch", f"CHECKPOINT={ckpt}", f"SERVER=127.0.0.1:{port}",
            f"ROBOT_PORT={robot_port}", "CAMERAS=replay", f"DATASET={ds}",
            f"DEPLOY_DIR={deploy_dir}", *knobs,
        ]  # fmt: skip

    try:
        server.wait_for("serve: SERVING", timeout=240)
        with simulator(tmp_path) as bare:
            refused = dc.Proc(
                make_robot(bare.port, tmp_path / "refused"),
                env=sim_env(tmp_path / "no-calibration"),
                cwd=REPO,
            )
            refused_rc = refused.wait(timeout=240)
        with simulator(
            tmp_path, "--write-calibration", str(calib / "robots/koch_follower/koch.json")
        ) as sim:
            client = dc.Proc(
                make_robot(sim.port, tmp_path / "robot", "DURATION=4", "STALL_S=5"),
                env=sim_env(calib),
                cwd=REPO,
            )
            rc = client.wait(timeout=240)
        with simulator(  # wrist_flex (ID 4) stops answering 1 s after the first action
            tmp_path,
            "--write-calibration",
            str(calib / "robots/koch_follower/koch.json"),
            "--fault",
            "die=4:1.0",
        ) as dying:
            died = dc.Proc(
                make_robot(dying.port, tmp_path / "died", "DURATION=30", "STALL_S=20"),
                env=sim_env(calib),
                cwd=REPO,
            )
            died_rc = died.wait(timeout=240)
    finally:
        server.stop()
    if "make calibrate" not in refused.out:  # the bus check timed out before the calibration
        skip_if_transport_late(bare, refused.out)
    assert refused_rc != 0 and "make calibrate" in refused.out, refused.out[-3000:]
    assert "Traceback" not in refused.out and "EOFError" not in refused.out
    assert all(m["registers"]["Torque_Enable"] == 0 for m in bare.state["motors"])
    # A motor that stops answering mid-run: make robot stops at once (not after STALL_S or
    # DURATION), names the motor, and switches torque off on every motor that still answers.
    assert died_rc != 0, died.out[-3000:]
    line = next((ln for ln in died.out.splitlines() if "stopped answering" in ln), "")
    assert "motor 'wrist_flex' (ID 4) stopped answering mid-run" in line, died.out[-3000:]
    assert "make motors" in line and "Traceback" not in died.out, died.out[-3000:]
    assert "torque off except on wrist_flex (not answering)" in died.out, died.out[-3000:]
    dregs = {m["id"]: m["registers"] for m in dying.state["motors"]}
    assert dregs[4]["Torque_Enable"] == 1  # the dead motor kept its last state
    assert all(dregs[i]["Torque_Enable"] == 0 for i in (1, 2, 3, 5, 6)), dregs
    (ddir,) = [d for d in (tmp_path / "died").iterdir() if d.name.startswith("koch-")]
    died_report = json.loads((ddir / "report.json").read_text())
    assert died_report["failed"] and "wrist_flex" in died_report["stop_reason"], died_report
    if rc != 0:
        skip_if_transport_late(sim, client.out)
    assert rc == 0, client.out[-4000:]
    assert "duration 4 s reached" in client.out
    (rdir,) = [d for d in (tmp_path / "robot").iterdir() if d.name.startswith("koch-")]
    report = json.loads((rdir / "report.json").read_text())
    assert report["actions_performed"] > 0 and report["chunks_received"] > 0, report
    regs = {m["name"]: m["registers"] for m in sim.state["motors"]}
    assert all(r["Torque_Enable"] == 0 for r in regs.values())  # disconnected with torque off
    # the policy's actions reached the motors: goals left the calibrated rest pose (2047)
    assert any(r["Goal_Position"] != 2047 for r in regs.values()), regs
    assert sim.state["packets"] > 100
    follow = max(abs(r["Goal_Position"] - r["Present_Position"]) for r in regs.values())
    # the report shows the motors followed: present positions read back against the goals
    following = report["goal_present_error"]
    assert following and following["n"] >= 6 and following["worst_joint"].endswith(".pos")
    assert following["p50"] < 1.0, following  # the simulator reaches a goal within a tick
    assert (rdir / "report.png").stat().st_size > 0
    keys = ("achieved_hz", "round_trip_ms", "actions_performed", "goal_present_error")
    summary = {k: report.get(k) for k in keys}
    reply = sim.state["reply_ms"]
    print(f"\nkoch e2e: {json.dumps(summary)} goal-present max {follow} ticks, sim {reply}")
    print(f"koch e2e, motor 4 dies: {line}")
