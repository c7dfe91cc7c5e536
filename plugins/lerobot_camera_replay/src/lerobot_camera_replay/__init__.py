"""LeRobot camera plugin: a dataset episode's frames served as a live camera, on the wall clock.

Why: with the Dynamixel simulator (`make motors-sim`) the real KochFollower runs without an arm;
this camera lets it run without webcams too, producing the images a policy trained on that
dataset expects. Frames follow the wall clock at the camera's fps from the first read (frame =
elapsed * fps), as a real camera would: a slow loop sees frames skipped, not a slowed world.
LeRobot builds it from `ReplayCameraConfig` by name (`make_device_from_device_class` strips
`Config` and looks in this package).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from lerobot.cameras.camera import Camera

from .config_replay import ReplayCameraConfig

__all__ = ["ReplayCamera", "ReplayCameraConfig"]


class ReplayCamera(Camera):
    """Serves `observation.images.<key>` of one episode; HxWx3 uint8 RGB like OpenCVCamera."""

    def __init__(self, config: ReplayCameraConfig) -> None:
        super().__init__(config)
        self.config = config
        self._frames: list[np.ndarray] = []
        self._t0: float | None = None

    def __str__(self) -> str:
        return f"ReplayCamera({self.config.key} of {Path(self.config.dataset).name})"

    @property
    def is_connected(self) -> bool:
        return bool(self._frames)

    @staticmethod
    def find_cameras() -> list[dict[str, Any]]:
        """Nothing to find: replay cameras are named by their dataset."""
        return []

    def connect(self, warmup: bool = True) -> None:
        """Decode the episode's frames into memory, so reads cost no decoding."""
        import torch
        from lerobot.datasets.lerobot_dataset import LeRobotDataset

        cfg = self.config
        root = Path(cfg.dataset)
        ds = LeRobotDataset(
            repo_id=f"local/{root.name}",
            root=root,
            episodes=[cfg.episode],
            video_backend=cfg.video_backend,
        )
        key = f"observation.images.{cfg.key}"
        frames = []
        for i in range(min(len(ds), cfg.max_frames)):
            img = ds[i][key]  # C,H,W float in [0, 1]
            frames.append(
                (img.clamp(0, 1) * 255)
                .round()
                .to(torch.uint8)
                .permute(1, 2, 0)
                .contiguous()
                .numpy()
            )
        if not frames:
            raise ValueError(f"replay camera: episode {cfg.episode} of {root} has no frames")
        self._frames = frames
        self._t0 = None

    def _current(self) -> np.ndarray:
        if not self._frames:
            raise ConnectionError(f"{self} is not connected: call connect() first")
        now = time.perf_counter()
        if self._t0 is None:
            self._t0 = now
        i = int((now - self._t0) * (self.fps or 30))
        n = len(self._frames)
        return self._frames[i % n if self.config.loop else min(i, n - 1)]

    def read(self) -> np.ndarray:
        """The frame of this moment."""
        return self._current()

    def async_read(self, timeout_ms: float = 200) -> np.ndarray:
        """Same as read: frames are in memory, nothing to wait for."""
        return self._current()

    def read_latest(self, max_age_ms: int = 500) -> np.ndarray:
        """Same as read (what KochFollower.get_observation calls)."""
        return self._current()

    def disconnect(self) -> None:
        """Drop the decoded frames."""
        self._frames = []
        self._t0 = None
