"""Write a small v3.0 dataset with LeRobot 0.6.1's own recorder (run in envs/act).

Why: the validator must accept what LeRobot itself writes; this is the reference clean
v3.0 input for the validator's mutation corpus. Usage: ``python lerobot_record_v30.py OUT``.
Koch-like: 6-d state/action, cameras ``laptop`` (48x64) and ``phone`` (32x40), 3 episodes
of 24, 30, 20 frames, 2 tasks, fps 30.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from lerobot.datasets.lerobot_dataset import LeRobotDataset

JOINTS = [
    "shoulder_pan.pos",
    "shoulder_lift.pos",
    "elbow_flex.pos",
    "wrist_flex.pos",
    "wrist_roll.pos",
    "gripper.pos",
]
CAMERAS = {"laptop": (48, 64), "phone": (32, 40)}
LENGTHS = (24, 30, 20)
TASKS = ("Pick up the cube and put it in the box", "Stack the cube on the plate")


def main(out: Path) -> None:
    features = {
        "action": {"dtype": "float32", "shape": (6,), "names": JOINTS},
        "observation.state": {"dtype": "float32", "shape": (6,), "names": JOINTS},
    }
    for cam, (h, w) in CAMERAS.items():
        features[f"observation.images.{cam}"] = {
            "dtype": "video",
            "shape": (h, w, 3),
            "names": ["height", "width", "channels"],
        }
    ds = LeRobotDataset.create(
        repo_id="local/koch_v30_lerobot",
        fps=30,
        features=features,
        root=out,
        robot_type="koch_follower",
        use_videos=True,
    )
    rng = np.random.default_rng(0)
    for ep, length in enumerate(LENGTHS):
        base = rng.uniform(-30, 30, size=6).astype(np.float32)
        for f in range(length):
            state = base + np.sin(np.arange(6) + f / 5.0).astype(np.float32)
            frame = {
                "action": state + 0.1,
                "observation.state": state,
                "task": TASKS[ep % len(TASKS)],
            }
            for cam, (h, w) in CAMERAS.items():
                img = np.zeros((h, w, 3), dtype=np.uint8)
                img[..., 0] = (np.arange(w) * 255 // w)[None, :]
                img[..., 1] = (f * 8) % 255
                img[..., 2] = ep * 80
                frame[f"observation.images.{cam}"] = img
            ds.add_frame(frame)
        ds.save_episode()
    ds.finalize()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
