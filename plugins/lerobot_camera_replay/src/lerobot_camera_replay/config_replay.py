"""`--robot.cameras='{laptop: {type: replay, dataset: DIR, key: laptop}}'`: a recorded camera.

Why width, height and fps come from the dataset when not given: KochFollower builds its
observation features from the camera configs before connecting, so the config must know the
frame shape without decoding anything (meta/info.json is enough).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from lerobot.cameras.configs import CameraConfig


@CameraConfig.register_subclass("replay")
@dataclass
class ReplayCameraConfig(CameraConfig):
    """Which dataset, which of its cameras (`observation.images.<key>`), which episode."""

    dataset: str = ""
    key: str = ""  # the dataset's camera name; empty: the only camera it has
    episode: int = 0
    loop: bool = True  # play the episode again at its end
    video_backend: str = "pyav"
    max_frames: int = 3000  # decoded into memory at connect

    def __post_init__(self) -> None:
        info_path = Path(self.dataset) / "meta" / "info.json"
        if not info_path.is_file():
            raise ValueError(f"replay camera: {info_path} missing: dataset= must be a v3.0 dataset")
        info = json.loads(info_path.read_text())
        cams = {
            k.removeprefix("observation.images."): ft
            for k, ft in info["features"].items()
            if k.startswith("observation.images.") and ft.get("dtype") in ("video", "image")
        }
        if not self.key and len(cams) == 1:
            self.key = next(iter(cams))
        if self.key not in cams:
            raise ValueError(
                f"replay camera: key={self.key!r} not in {self.dataset}: "
                f"choose one of {', '.join(cams)}"
            )
        h, w, _ = cams[self.key]["shape"]
        if (self.height or h) != h or (self.width or w) != w:
            raise ValueError(
                f"replay camera {self.key}: the dataset's frames are {w}x{h}, "
                f"not {self.width}x{self.height}: leave width/height unset"
            )
        self.height, self.width = int(h), int(w)
        self.fps = self.fps or int(info["fps"])
