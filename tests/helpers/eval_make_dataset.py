"""Write a camera-free v3.0 dataset with LeRobot 0.6.1's own writer (runs in envs/act).

Why: the ranking test needs a checkpoint *trained* well enough to beat chance on held-out
episodes, in seconds of CPU on a shared 2-core box. Without cameras ACT has no ResNet-18
(it takes ``observation.environment_state`` instead), so a few hundred steps take seconds.
The action is a smooth function of the state (state = 0.9 x action, plus the phase in the
environment state), so held-out episodes are predictable from what the policy observes.

Usage: envs/act/.venv/bin/python tests/helpers/eval_make_dataset.py OUT [--episodes 12]
       [--frames 40]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

JOINTS = [
    f"{j}.pos"
    for j in ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper")
]


def build(out: Path, episodes: int, frames: int) -> None:
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    feats = {
        "action": {"dtype": "float32", "shape": (6,), "names": JOINTS},
        "observation.state": {"dtype": "float32", "shape": (6,), "names": JOINTS},
        "observation.environment_state": {
            "dtype": "float32",
            "shape": (2,),
            "names": ["cos_t", "sin_t"],
        },
    }
    ds = LeRobotDataset.create(
        repo_id=f"local/{out.name}", fps=30, features=feats, root=out, robot_type="koch_follower"
    )
    tasks = ["pick the cube", "place the cube"]
    rng = np.random.default_rng(0)
    scale = np.array([40.0, 30.0, 30.0, 20.0, 50.0, 10.0], dtype=np.float32)  # degrees-like
    for ep in range(episodes):
        phase = rng.uniform(0, 1, size=6).astype(np.float32)
        for i in range(frames):
            t = i / max(1, frames - 1)
            action = (scale * np.sin(2 * np.pi * (t + phase))).astype(np.float32)
            env = np.array([np.cos(2 * np.pi * t), np.sin(2 * np.pi * t)], dtype=np.float32)
            ds.add_frame(
                {
                    "action": action,
                    "observation.state": 0.9 * action,
                    "observation.environment_state": env,
                    "task": tasks[ep % 2],
                }
            )
        ds.save_episode()
    ds.finalize()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path)
    p.add_argument("--episodes", type=int, default=12)
    p.add_argument("--frames", type=int, default=40)
    a = p.parse_args()
    build(a.out, a.episodes, a.frames)
    print(a.out)


if __name__ == "__main__":
    main()
