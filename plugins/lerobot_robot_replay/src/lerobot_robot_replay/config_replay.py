"""``--robot.type=replay``: which dataset episode to play and where to write what was received."""

from __future__ import annotations

from dataclasses import dataclass

from lerobot.robots.config import RobotConfig


@RobotConfig.register_subclass("replay")
@dataclass
class ReplayRobotConfig(RobotConfig):
    # v3.0 dataset root (as written by LeRobot or `make convert`); its info.json names the
    # cameras, joints and fps this robot reports.
    dataset: str = ""
    # Episode index to play.
    episode: int = 0
    # JSON file written at disconnect: every action received, with its time and the frame it
    # landed on, and the error against the episode's recorded action. Empty: not written.
    record_path: str = ""
    # Start the episode again at its end instead of holding the last frame.
    loop: bool = False
    # Decoder for the dataset's videos (pyav needs no FFmpeg shared libraries).
    video_backend: str = "pyav"
    # Frames decoded into memory at connect (whole episode up to this many).
    max_frames: int = 1800

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.dataset:
            raise ValueError("replay robot: --robot.dataset=<v3.0 dataset dir> is required")
        if self.episode < 0:
            raise ValueError(f"replay robot: episode must be >= 0, got {self.episode}")
