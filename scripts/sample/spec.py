"""What a synthetic dataset looks like: :class:`SampleSpec` and the named presets.

Defaults reproduce the real Koch v2.1 fixture (``tests/fixtures/koch_v21_real``, written by
LeRobot 0.3.3's recorder) so the default sample is structurally interchangeable with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

KOCH_JOINTS = (
    "shoulder_pan.pos",
    "shoulder_lift.pos",
    "elbow_flex.pos",
    "wrist_flex.pos",
    "wrist_roll.pos",
    "gripper.pos",
)
KOCH_TASKS = ("Pick up the cube and put it in the box", "Stack the cube on the plate")


@dataclass(frozen=True)
class SampleSpec:
    """Everything that determines a synthetic dataset; equal specs give identical files.

    ``episode_indices`` (None = 0..N-1) may have gaps, as after deleting a bad episode by hand.
    Episode ``i`` (by position) gets ``tasks[i % len(tasks)]``; with ``tasks_per_episode > 1`` its
    frames are split into that many segments with consecutive tasks (v2.1 allows several tasks
    per episode: ``episodes.jsonl`` lists them, ``task_index`` varies per frame).
    ``depth_cameras`` are stored as 12-bit quantised HEVC videos, see :mod:`scripts.sample.video`.
    """

    episode_lengths: tuple[int, ...] = (36, 50, 42)
    episode_indices: tuple[int, ...] | None = None
    tasks: tuple[str, ...] = KOCH_TASKS
    cameras: dict[str, tuple[int, int]] = field(
        default_factory=lambda: {"laptop": (96, 128), "phone": (64, 80)}
    )
    depth_cameras: dict[str, tuple[int, int]] = field(default_factory=dict)
    state_dim: int = 6
    action_dim: int = 6
    image_dtype: bool = False
    version: str = "v2.1"
    fps: int = 30
    robot_type: str = "koch_follower"
    seed: int = 0
    codec: str = "libsvtav1"
    chunks_size: int = 1000
    tasks_per_episode: int = 1

    def __post_init__(self) -> None:
        if not self.episode_lengths or min(self.episode_lengths) < 1:
            raise ValueError(
                "SampleSpec.episode_lengths: need at least one episode, each >= 1 frame"
            )
        if self.episode_indices is not None:
            idx = list(self.episode_indices)
            if len(idx) != len(self.episode_lengths):
                raise ValueError(
                    "SampleSpec.episode_indices: must have one entry per episode length"
                )
            if idx != sorted(set(idx)) or idx[0] < 0:
                raise ValueError("SampleSpec.episode_indices: must be unique, ascending, >= 0")
        if not self.tasks:
            raise ValueError("SampleSpec.tasks: need at least one task string")
        if self.version not in ("v2.0", "v2.1"):
            raise ValueError(f"SampleSpec.version: {self.version!r} is not 'v2.0' or 'v2.1'")
        if self.image_dtype and self.depth_cameras:
            raise ValueError(
                "SampleSpec.depth_cameras: only supported with videos (image_dtype=False)"
            )
        for name, (h, w) in {**self.cameras, **self.depth_cameras}.items():
            if h < 16 or w < 48 or h % 2 or w % 2:
                raise ValueError(f"SampleSpec camera {name!r}: (h, w) must be even, h>=16, w>=48")
        if self.state_dim < 1 or self.action_dim < 1 or self.fps < 1 or self.chunks_size < 1:
            raise ValueError("SampleSpec: state_dim, action_dim, fps, chunks_size must be >= 1")
        if self.tasks_per_episode < 1:
            raise ValueError("SampleSpec.tasks_per_episode: must be >= 1")
        if max(self.indices) >= 1024 or max(self.episode_lengths) > 1024:
            raise ValueError("SampleSpec: the frame barcode holds episode/frame indices < 1024")

    @property
    def indices(self) -> tuple[int, ...]:
        """The episode indices actually written (original indices, gaps kept)."""
        if self.episode_indices is None:
            return tuple(range(len(self.episode_lengths)))
        return tuple(self.episode_indices)

    def state_names(self) -> list[str]:
        return (
            list(KOCH_JOINTS) if self.state_dim == 6 else [f"q{i}" for i in range(self.state_dim)]
        )

    def action_names(self) -> list[str]:
        return (
            list(KOCH_JOINTS) if self.action_dim == 6 else [f"a{i}" for i in range(self.action_dim)]
        )


def _short_lengths(n: int) -> tuple[int, ...]:
    return tuple(3 + (i * 5) % 6 for i in range(n))  # 3..8 frames, deterministic pattern


PRESETS: dict[str, SampleSpec] = {
    # The Koch sample, structurally identical to the real 0.3.3 recording.
    "sample": SampleSpec(),
    # Episode 2 deleted by hand: files, episodes.jsonl and stats keep the original indices.
    "gapped": SampleSpec(episode_lengths=(36, 50, 42, 30), episode_indices=(0, 1, 3, 4)),
    # Recorded with video=False: frames as PNG structs inside the parquet, no mp4.
    "image": SampleSpec(episode_lengths=(12, 16, 10), image_dtype=True),
    # Many tiny episodes, so per-file size targets make converters roll over files.
    "many_short": SampleSpec(episode_lengths=_short_lengths(60), cameras={"phone": (64, 80)}),
    # Fourier GR2 humanoid: 45-d state, 37-d action, RGB head camera + depth camera.
    "gr2": SampleSpec(
        episode_lengths=(20, 26, 24),
        tasks=("Pick up the bottle", "Place the bottle on the shelf"),
        cameras={"head": (96, 128)},
        depth_cameras={"head_depth": (96, 128)},
        state_dim=45,
        action_dim=37,
        robot_type="fourier_gr2",
    ),
    # chunks_size 2: episodes spread over data/chunk-000..002 (chunk = episode_index // 2).
    "chunked": SampleSpec(episode_lengths=(10, 12, 8, 9, 11), chunks_size=2),
    # Older v2.0 layout: no meta/episodes_stats.jsonl.
    "v20": SampleSpec(version="v2.0"),
    # Four tasks; every episode switches task half way (two tasks per episode).
    "two_task": SampleSpec(
        episode_lengths=(24, 30, 28, 26),
        tasks=(*KOCH_TASKS, "Push the cube to the left", "Open the gripper"),
        tasks_per_episode=2,
    ),
}
