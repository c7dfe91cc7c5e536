"""Write a small LeRobot v3.0 dataset with LeRobot 0.6.1's own writer (runs in envs/act).

Why: training tests need a v3.0 dataset exactly as the pinned LeRobot writes it, independent of
our converter. ``koch``: 6-d state/action, cameras ``laptop`` (96x128) and ``phone`` (64x80).
``gr2``: 45-d state, 37-d action, an RGB camera ``camera_top`` and a depth camera
``camera_top_depth`` (the users' GR2 layout; depth stored as a 3-channel video, as their
recorder does). Images carry a moving square so a policy has something to learn.

Usage: envs/act/.venv/bin/python tests/helpers/train_make_v30.py OUT [--kind koch|gr2]
       [--episodes 3] [--frames 30] [--task-text "..."] [--cameras laptop,phone] [--still H,T]
``--still H,T``: each episode holds still for its first H and last T frames (the pose of its
first and last moving frame, plus +-0.002 of sensor noise), what ``make edit OP=trim-idle``
must cut.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def koch_features(video: bool = True, cams: tuple[str, str] = ("laptop", "phone")) -> dict:
    """Koch follower: joint names as LeRobot's Koch follower reports them."""
    joints = [
        f"{j}.pos"
        for j in (
            "shoulder_pan",
            "shoulder_lift",
            "elbow_flex",
            "wrist_flex",
            "wrist_roll",
            "gripper",
        )
    ]
    dtype = "video" if video else "image"
    cams = dict(zip(cams, ((96, 128), (64, 80)), strict=True))
    feats = {
        "action": {"dtype": "float32", "shape": (6,), "names": joints},
        "observation.state": {"dtype": "float32", "shape": (6,), "names": joints},
    }
    for name, (h, w) in cams.items():
        feats[f"observation.images.{name}"] = {
            "dtype": dtype,
            "shape": (h, w, 3),
            "names": ["height", "width", "channels"],
        }
    return feats


def gr2_features() -> dict:
    """Fourier GR2: action 37-d, state 45-d, RGB + depth camera (small frames)."""
    feats = {
        "action": {"dtype": "float32", "shape": (37,), "names": [f"a{i}" for i in range(37)]},
        "observation.state": {
            "dtype": "float32",
            "shape": (45,),
            "names": [f"s{i}" for i in range(45)],
        },
    }
    for name in ("camera_top", "camera_top_depth"):
        feats[f"observation.images.{name}"] = {
            "dtype": "video",
            "shape": (48, 64, 3),
            "names": ["height", "width", "channels"],
        }
    return feats


def frame_image(h: int, w: int, t: float, seed: int) -> np.ndarray:
    """A gradient background with a square whose position follows ``t`` in [0, 1]."""
    img = np.zeros((h, w, 3), dtype=np.uint8)
    img[..., 0] = np.linspace(0, 200, w, dtype=np.uint8)[None, :]
    img[..., 1] = (seed * 40) % 255
    size = max(4, h // 6)
    y = int((h - size) * t)
    x = int((w - size) * (1 - t))
    img[y : y + size, x : x + size] = 255
    return img


def build(
    out: Path,
    kind: str,
    episodes: int,
    frames: int,
    task_text: str | None,
    cams: tuple[str, str] = ("laptop", "phone"),
    still: tuple[int, int] = (0, 0),
) -> None:
    """Create the dataset at ``out`` (must not exist) and finalize it."""
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    feats = koch_features(cams=cams) if kind == "koch" else gr2_features()
    robot = "koch_follower" if kind == "koch" else "fourier_gr2"
    ds = LeRobotDataset.create(
        repo_id=f"local/{out.name}",
        fps=30,
        features=feats,
        root=out,
        robot_type=robot,
        use_videos=True,
    )
    tasks = [task_text] if task_text is not None else ["pick the cube", "place the cube"]
    rng = np.random.default_rng(0)
    a_dim = feats["action"]["shape"][0]
    s_dim = feats["observation.state"]["shape"][0]
    for ep in range(episodes):
        phase = rng.uniform(0, 1, size=a_dim).astype(np.float32)
        head, tail = still
        moving = frames - head - tail
        for i in range(frames):
            t = min(max(i - head, 0), moving - 1) / max(1, moving - 1)
            action = np.sin(2 * np.pi * (t + phase)).astype(np.float32)
            if head or tail:
                action += rng.uniform(-0.002, 0.002, size=a_dim).astype(np.float32)
            state = np.resize(action, s_dim).astype(np.float32) * 0.9
            frame = {"action": action, "observation.state": state, "task": tasks[ep % len(tasks)]}
            for key, ft in feats.items():
                if ft["dtype"] == "video":
                    h, w, _ = ft["shape"]
                    frame[key] = frame_image(h, w, t, ep)
            ds.add_frame(frame)
        ds.save_episode()
    ds.finalize()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path)
    p.add_argument("--kind", choices=("koch", "gr2"), default="koch")
    p.add_argument("--episodes", type=int, default=3)
    p.add_argument("--frames", type=int, default=30)
    p.add_argument("--task-text", default=None)
    p.add_argument("--cameras", default="laptop,phone", help="koch: two camera names")
    p.add_argument("--still", default="0,0", help="H,T still frames at each episode's ends")
    args = p.parse_args(argv)
    cams = tuple(args.cameras.split(","))
    head, tail = (int(v) for v in args.still.split(","))
    build(args.out, args.kind, args.episodes, args.frames, args.task_text, cams, (head, tail))
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
