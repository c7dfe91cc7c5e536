"""The frames the simulator's replayed cameras serve: a small v3.0 dataset written by LeRobot.

Why generated: ``lerobot_camera_replay`` serves a dataset's episode as a live camera, and the
simulator must run on a fresh checkout with no data. Two cameras named as the koch profile's
(``laptop``, ``phone``), 2 s of frames at the camera fps, each frame different (a moving
gradient and bar), so the preflight's fps count sees a live camera. Written once per size
into a temp folder and renamed into place.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

CAMERAS = ("laptop", "phone")
SECONDS = 2


def frame(i: int, w: int, h: int, shift: int) -> np.ndarray:
    """An HxWx3 uint8 frame that changes every ``i``."""
    x = np.arange(w, dtype=np.int32)[None, :]
    y = np.arange(h, dtype=np.int32)[:, None]
    img = np.empty((h, w, 3), dtype=np.uint8)
    img[..., 0] = ((x + 4 * i + shift) % 256).astype(np.uint8)
    img[..., 1] = ((y + 2 * i) % 256).astype(np.uint8)
    img[..., 2] = 80
    bar = (i * max(1, w // 60)) % w
    img[:, bar : bar + max(2, w // 40), :] = 255
    return img


def ensure(dst: Path, w: int, h: int, fps: int) -> Path:
    """``dst`` if it is there, else write it (LeRobot create/add_frame/save_episode/finalize)."""
    dst = Path(dst)
    if (dst / "meta" / "info.json").is_file():
        return dst
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    from scripts.session.writer import rgb_encoder

    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    features = {
        f"observation.images.{c}": {
            "dtype": "video",
            "shape": (h, w, 3),
            "names": ["height", "width", "channels"],
        }
        for c in CAMERAS
    }
    features["observation.state"] = {"dtype": "float32", "shape": (1,), "names": ["t"]}
    ds = LeRobotDataset.create(
        repo_id="local/replay_source", fps=fps, features=features, root=tmp, use_videos=True,
        rgb_encoder=rgb_encoder("h264"), streaming_encoding=True,
    )  # fmt: skip
    for i in range(SECONDS * fps):
        f = {f"observation.images.{c}": frame(i, w, h, 97 * k) for k, c in enumerate(CAMERAS)}
        f["observation.state"] = np.array([i / fps], dtype=np.float32)
        ds.add_frame({**f, "task": "replay"})
    ds.save_episode()
    ds.finalize()
    os.replace(tmp, dst)
    return dst
