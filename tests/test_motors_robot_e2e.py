"""The whole robot path without an arm: make serve + the deploy client + KochFollower + simulator.

Real parts end to end: `make serve` (LeRobot 0.6.1's policy server with a tiny ACT made from a
LeRobot-written Koch-like dataset), the deploy engineer's client (`scripts.deploy.client`, what
`make robot ROBOT=koch` runs) with LeRobot's RobotClient and the unchanged KochFollower over
the Dynamixel simulator's pty, the cameras replayed from the same dataset by the
lerobot_camera_replay plugin. The plugin is not installed in envs/act yet, so the test gives it
a dist-info on PYTHONPATH: LeRobot's `register_third_party_plugins` then discovers it by name,
as it would an installed one. `make robot` has no knob for the cameras (`--set`), so the client
module is called with the same arguments make passes, plus `--set robot.cameras=...`.
The simulator's registers prove the actions reached the motors and torque is off at the end.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import deploy_common as dc
from helpers.motors_sim import REPO, sim_env, simulator, skip_if_transport_late

PLUGIN_SRC = REPO / "plugins" / "lerobot_camera_replay" / "src"


def _plugin_path(tmp: Path) -> Path:
    """A directory whose dist-info makes `lerobot_camera_replay` discoverable by name."""
    site = tmp / "site"
    info = site / "lerobot_camera_replay-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: lerobot_camera_replay\nVersion: 0.1.0\n"
    )
    return site


def test_koch_over_simulator_through_server_and_client(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Actions from the policy server move the simulated motors; report written; torque off."""
    ckpt = dc.checkpoint(tmp_path_factory)
    ds = dc.dataset(tmp_path_factory)
    calib = tmp_path / "calib"
    port = dc.free_port()
    server = dc.start_server(ckpt, port, tmp_path / "serve-logs")
    try:
        server.wait_for("serve: SERVING", timeout=240)
        with simulator(
            tmp_path, "--write-calibration", str(calib / "robots/koch_follower/koch.json")
        ) as sim:
            env = sim_env(calib)
            env["PYTHONPATH"] = f"{REPO}:{PLUGIN_SRC}:{_plugin_path(tmp_path)}"
            cams = {
                n: {"type": "replay", "dataset": str(ds), "key": n} for n in ("laptop", "phone")
            }
            client = dc.Proc(
                dc.act(
                    "-m", "scripts.deploy.client", "--robot", "koch", "--checkpoint", ckpt,
                    "--server", f"127.0.0.1:{port}", "--robot-port", sim.port,
                    "--duration", "4", "--stall-s", "5", "--log-dir", tmp_path / "robot",
                    "--set", f"robot.cameras={json.dumps(cams)}",
                ),
                env=env,
            )  # fmt: skip
            rc = client.wait(timeout=240)
    finally:
        server.stop()
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
    summary = {k: report.get(k) for k in ("achieved_hz", "round_trip_ms", "actions_performed")}
    reply = sim.state["reply_ms"]
    print(f"\nkoch e2e: {json.dumps(summary)} goal-present max {follow} ticks, sim {reply}")
