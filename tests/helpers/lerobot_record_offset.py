"""Record a v3.0 dataset with "offset" joints through LeRobot 0.6.1's own recorder (envs/act).

Why: LeRobot 0.6.1 computes std as float32 ``E[x^2] - E[x]^2`` (``RunningQuantileStats``).
A joint that sits far from zero and barely moves (raw Dynamixel ticks: 2048 +- 0.05) loses
every bit of its variance to cancellation, so the recorder writes std 0 or 10-20x too large
(issue 10). This helper writes such a dataset the way a lab would get one, so the validator's
``stats`` checks, ``make fix-stats`` and the preflight can be tested on LeRobot's real output
rather than on stats we damaged ourselves.

Usage (act env): ``envs/act/.venv/bin/python tests/helpers/lerobot_record_offset.py OUT_DIR
[--episodes 3] [--frames 40] [--constant]``. OUT_DIR must not exist.

Koch-like: 6-d float32 ``action`` and ``observation.state`` (same joint names as
``lerobot_record_v30.py``), one 32x40 video camera ``laptop``, fps 30, one task. Joint 0
(``shoulder_pan.pos``) is 2048 + N(0, 0.05), joint 1 (``shoulder_lift.pos``) is
95 + N(0, 0.01), joints 2-5 are ordinary (+-30, sine, std ~0.7). ``--constant`` pins joint 5
(``gripper.pos``) to exactly 12.5 in every frame (a truly constant dimension). Seeded:
the same arguments give the same rows, and so the same (wrong) recorded stats.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from lerobot.datasets.lerobot_dataset import LeRobotDataset
from lerobot_record_v30 import JOINTS  # the Koch joint names (run as a script: same folder)

OFFSETS = {0: (2048.0, 0.05), 1: (95.0, 0.01)}  # joint -> (centre, noise std)
CONSTANT_JOINT, CONSTANT_VALUE = 5, 12.5
CAMERA, SIZE = "observation.images.laptop", (32, 40)
TASK = "Hold the arm still at the home position"


def joint_values(rng: np.random.Generator, length: int, constant: bool) -> np.ndarray:
    """(length, 6) float32 rows: offset joints 0-1, ordinary joints 2-5."""
    base = rng.uniform(-30, 30, size=6)
    t = np.arange(length)[:, None] / 5.0
    rows = base + np.sin(np.arange(6)[None, :] + t)
    for j, (centre, noise) in OFFSETS.items():
        rows[:, j] = centre + rng.normal(0.0, noise, size=length)
    if constant:
        rows[:, CONSTANT_JOINT] = CONSTANT_VALUE
    return rows.astype(np.float32)


def record(out: Path, episodes: int = 3, frames: int = 40, constant: bool = False) -> Path:
    """Write the dataset to ``out`` with LeRobotDataset.create/add_frame/save_episode."""
    features = {
        "action": {"dtype": "float32", "shape": (6,), "names": JOINTS},
        "observation.state": {"dtype": "float32", "shape": (6,), "names": JOINTS},
        CAMERA: {
            "dtype": "video",
            "shape": (*SIZE, 3),
            "names": ["height", "width", "channels"],
        },
    }
    ds = LeRobotDataset.create(
        repo_id=f"local/{out.name}",
        fps=30,
        features=features,
        root=out,
        robot_type="koch_follower",
        use_videos=True,
    )
    rng = np.random.default_rng(10)
    h, w = SIZE
    for ep in range(episodes):
        length = frames + 4 * ep  # unequal lengths, as real episodes are
        state = joint_values(rng, length, constant)
        action = joint_values(rng, length, constant)
        for f in range(length):
            img = np.zeros((h, w, 3), dtype=np.uint8)
            img[..., 0] = (np.arange(w) * 255 // w)[None, :]
            img[..., 1] = (f * 8) % 255
            img[..., 2] = ep * 80
            ds.add_frame(
                {"action": action[f], "observation.state": state[f], "task": TASK, CAMERA: img}
            )
        ds.save_episode()
    ds.finalize()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path, help="directory to create (must not exist)")
    p.add_argument("--episodes", type=int, default=3)
    p.add_argument("--frames", type=int, default=40, help="frames of episode 0 (+4 per episode)")
    p.add_argument("--constant", action="store_true", help="pin gripper.pos to 12.5")
    args = p.parse_args()
    record(args.out, args.episodes, args.frames, args.constant)


if __name__ == "__main__":
    main()
