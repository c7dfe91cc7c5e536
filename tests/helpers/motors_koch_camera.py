"""KochFollower with simulated motors and replayed cameras (the lerobot_camera_replay plugin).

Why a script in envs/act: it is LeRobot's own KochFollower building its cameras through
`make_cameras_from_configs` (which finds ReplayCamera from ReplayCameraConfig by name), reading
the bus over the simulator's pty and the frames from a recorded v3.0 dataset.

Usage: python motors_koch_camera.py PORT DATASET [--steps 20]
Prints one JSON line: {"shapes": {cam: [h, w, c]}, "distinct": {cam: n distinct frames},
"positions": n joint values per observation} or {"error": "..."}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def main() -> int:
    """Connect, read observations for a while, send the start pose back, disconnect."""
    ap = argparse.ArgumentParser()
    ap.add_argument("port")
    ap.add_argument("dataset")
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args()
    from lerobot.robots.koch_follower import KochFollower, KochFollowerConfig
    from lerobot_camera_replay import ReplayCamera, ReplayCameraConfig

    cams = {
        name: ReplayCameraConfig(dataset=args.dataset, key=name) for name in ("laptop", "phone")
    }
    robot = KochFollower(KochFollowerConfig(port=args.port, id="koch", cameras=cams))
    try:
        assert all(isinstance(c, ReplayCamera) for c in robot.cameras.values())
        robot.connect(calibrate=False)
        seen: dict[str, set[bytes]] = {name: set() for name in cams}
        shapes = {}
        for _ in range(args.steps):
            obs = robot.get_observation()
            for name in cams:
                shapes[name] = list(obs[name].shape)
                seen[name].add(
                    obs[name].tobytes()[:4096] + bytes(obs[name].mean(axis=(0, 1)).astype("uint8"))
                )
            robot.send_action({k: v for k, v in obs.items() if k.endswith(".pos")})
            time.sleep(1 / 30)
        positions = sum(k.endswith(".pos") for k in obs)
        robot.disconnect()
    except Exception as e:  # the test asserts on the message
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}))
        return 1
    print(
        json.dumps(
            {
                "shapes": shapes,
                "distinct": {k: len(v) for k, v in seen.items()},
                "positions": positions,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
