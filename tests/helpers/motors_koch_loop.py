"""Drive LeRobot's unchanged KochFollower against a port: connect, N control steps, disconnect.

Why a script run by envs/act's interpreter: the test process (tools env) has no LeRobot; this is
the real robot code path (DynamixelMotorsBus over dynamixel-sdk over pyserial) that `make robot`
will use, minus the policy. Each step is what LeRobot's control loops do: get_observation (one
sync read) then send_action (one sync write) of a slow sine around the start pose.

Usage: python motors_koch_loop.py PORT [--id koch] [--runs 3] [--steps 100] [--fps 0]
       [--paced-steps N]   (then one more run of N steps at 30 fps, for the tracking error)
Reads the calibration from $HF_LEROBOT_CALIBRATION like LeRobot does. Prints one JSON line:
{"runs": [{"steps", "seconds", "hz", "step_ms_p50", "step_ms_p99", "track_err_max"}...]}
or {"error": "..."} with exit 1 (the exception's type and first line).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time


def run_once(port: str, robot_id: str, steps: int, fps: float) -> dict:
    """One connect / steps / disconnect cycle; returns its timings and tracking error."""
    from lerobot.robots.koch_follower import KochFollower, KochFollowerConfig

    robot = KochFollower(KochFollowerConfig(port=port, id=robot_id))
    robot.connect(calibrate=False)
    if not robot.is_calibrated:
        raise RuntimeError("KochFollower is not calibrated against these motors")
    try:
        start = robot.get_observation()
        goal = dict(start)
        times = []
        track = []
        t0 = time.perf_counter()
        for k in range(steps):
            ts = time.perf_counter()
            obs = robot.get_observation()
            if k > 5:  # the motors had time to reach goals sent a few steps ago
                track.append(max(abs(obs[key] - goal[key]) for key in goal))
            goal = {
                key: val + (8.0 if key != "gripper.pos" else 4.0) * math.sin(2 * math.pi * k / 50)
                for key, val in start.items()
            }
            robot.send_action(goal)
            dt = time.perf_counter() - ts
            times.append(dt)
            if fps:
                time.sleep(max(0.0, 1 / fps - dt))
        seconds = time.perf_counter() - t0
    finally:
        robot.disconnect()
    times.sort()
    return {
        "steps": steps,
        "seconds": round(seconds, 3),
        "hz": round(steps / seconds, 1),
        "step_ms_p50": round(1e3 * times[len(times) // 2], 3),
        "step_ms_p99": round(1e3 * times[min(len(times) - 1, int(len(times) * 0.99))], 3),
        "track_err_max": round(max(track) if track else 0.0, 3),
    }


def main() -> int:
    """Run the cycles, print the JSON line."""
    ap = argparse.ArgumentParser()
    ap.add_argument("port")
    ap.add_argument("--id", default="koch")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--fps", type=float, default=0.0)
    ap.add_argument("--paced-steps", type=int, default=0, help="then one more run at 30 fps")
    args = ap.parse_args()
    runs = []
    try:
        for _ in range(args.runs):
            runs.append(run_once(args.port, args.id, args.steps, args.fps))
        if args.paced_steps:
            runs.append(run_once(args.port, args.id, args.paced_steps, 30.0))
    except Exception as e:  # the report names what failed; the test asserts on it
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        print(
            json.dumps(
                {"error": f"{type(e).__name__}: {first}", "runs": runs, "at": time.monotonic()}
            )
        )
        return 1
    print(json.dumps({"runs": runs}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
