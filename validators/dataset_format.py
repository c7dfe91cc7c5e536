"""The LeRobot dataset format, v2.1 and v3.0, described in one place.

The converter writes what this module says and the validator checks against it, so a
change of format is a change here, not in two places that drift apart. Values are taken
from the pinned LeRobot (0.6.1, ``lerobot/datasets/utils.py``, ``compute_stats.py``) and
from a dataset written by LeRobot 0.3.3's own recorder (``v2.1``). Nothing here imports
torch or LeRobot: this module runs on a storage box.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

V21 = "v2.1"
V20 = "v2.0"
V30 = "v3.0"
LEGACY_VERSIONS = (V20, V21)

# --- paths -----------------------------------------------------------------------------
INFO_PATH = "meta/info.json"
STATS_PATH = "meta/stats.json"

# v2.x (one file per episode; chunk = episode_index // chunks_size)
LEGACY_EPISODES_PATH = "meta/episodes.jsonl"
LEGACY_EPISODES_STATS_PATH = "meta/episodes_stats.jsonl"  # v2.1 only; v2.0 has none
LEGACY_TASKS_PATH = "meta/tasks.jsonl"
LEGACY_DATA_PATH = "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet"
LEGACY_VIDEO_PATH = "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4"

# v3.0 (many episodes per file; camera key *before* the chunk; hyphens, not underscores)
CHUNK_FILE_PATTERN = "chunk-{chunk_index:03d}/file-{file_index:03d}"
DATA_PATH = "data/" + CHUNK_FILE_PATTERN + ".parquet"
VIDEO_PATH = "videos/{video_key}/" + CHUNK_FILE_PATTERN + ".mp4"
EPISODES_PATH = "meta/episodes/" + CHUNK_FILE_PATTERN + ".parquet"
TASKS_PATH = "meta/tasks.parquet"

# --- sizes and tolerances ----------------------------------------------------------------
DEFAULT_CHUNK_SIZE = 1000  # max files per chunk directory
DEFAULT_DATA_FILE_SIZE_IN_MB = 100
DEFAULT_VIDEO_FILE_SIZE_IN_MB = 200
TOLERANCE_S = 1e-4  # LeRobotDataset(tolerance_s=1e-4): timestamp vs frame_index / fps

# --- features ------------------------------------------------------------------------------
# Columns every LeRobot dataset carries besides the robot's own features.
DEFAULT_FEATURES: dict[str, dict[str, Any]] = {
    "timestamp": {"dtype": "float32", "shape": [1], "names": None},
    "frame_index": {"dtype": "int64", "shape": [1], "names": None},
    "episode_index": {"dtype": "int64", "shape": [1], "names": None},
    "index": {"dtype": "int64", "shape": [1], "names": None},
    "task_index": {"dtype": "int64", "shape": [1], "names": None},
}
VISUAL_DTYPES = ("video", "image")


def is_hidden(name: str) -> bool:
    """A hidden entry (macOS AppleDouble ``._x.mp4`` on exFAT disks, ``.DS_Store``): not data.

    One rule for the converter (which skips them) and the validator (which says so once).
    Careful: LeRobot 0.6.1 itself loads ``data/*/*.parquet`` with pathlib, whose ``*``
    matches hidden names too, so in a v3.0 ``data/`` folder they break loading.
    """
    return name.startswith(".")


NON_NUMERIC_DTYPES = ("video", "image", "string")

# --- stats ---------------------------------------------------------------------------------
BASIC_STATS = ("min", "max", "mean", "std", "count")
QUANTILES = (0.01, 0.10, 0.50, 0.90, 0.99)  # compute_stats.DEFAULT_QUANTILES
QUANTILE_KEYS = tuple(f"q{int(q * 100):02d}" for q in QUANTILES)  # q01 q10 q50 q90 q99
NUM_QUANTILE_BINS = 5000  # compute_stats.RunningQuantileStats(num_quantile_bins=5000)

# --- v3.0 episode metadata columns (meta/episodes/*.parquet), besides stats/<feature>/<stat>
EPISODE_META_COLUMNS = (
    "episode_index",
    "tasks",
    "length",
    "data/chunk_index",
    "data/file_index",
    "dataset_from_index",
    "dataset_to_index",
    "meta/episodes/chunk_index",
    "meta/episodes/file_index",
)


def video_meta_columns(video_key: str) -> tuple[str, ...]:
    """Per-camera columns of a v3.0 episode row: where its frames live inside a shared mp4."""
    return (
        f"videos/{video_key}/chunk_index",
        f"videos/{video_key}/file_index",
        f"videos/{video_key}/from_timestamp",
        f"videos/{video_key}/to_timestamp",
    )


@dataclass(frozen=True)
class DatasetLayout:
    """What a dataset root holds, read from its ``meta/info.json``."""

    root: Path
    info: dict[str, Any]

    @property
    def version(self) -> str:
        return str(self.info.get("codebase_version", ""))

    @property
    def fps(self) -> int:
        return int(self.info["fps"])

    @property
    def features(self) -> dict[str, dict[str, Any]]:
        return self.info["features"]

    @property
    def video_keys(self) -> list[str]:
        return [k for k, ft in self.features.items() if ft["dtype"] == "video"]

    @property
    def image_keys(self) -> list[str]:
        return [k for k, ft in self.features.items() if ft["dtype"] == "image"]

    @property
    def numeric_keys(self) -> list[str]:
        """Features stored as numbers in parquet (stats are computed for these too)."""
        return [k for k, ft in self.features.items() if ft["dtype"] not in NON_NUMERIC_DTYPES]

    @property
    def chunks_size(self) -> int:
        return int(self.info.get("chunks_size", DEFAULT_CHUNK_SIZE))

    def legacy_data_file(self, episode_index: int) -> Path:
        chunk = episode_index // self.chunks_size
        rel = self.info.get("data_path", LEGACY_DATA_PATH)
        return self.root / rel.format(episode_chunk=chunk, episode_index=episode_index)

    def legacy_video_file(self, episode_index: int, video_key: str) -> Path:
        chunk = episode_index // self.chunks_size
        rel = self.info.get("video_path") or LEGACY_VIDEO_PATH
        return self.root / rel.format(
            episode_chunk=chunk, episode_index=episode_index, video_key=video_key
        )

    def data_file(self, chunk_index: int, file_index: int) -> Path:
        rel = self.info.get("data_path", DATA_PATH)
        return self.root / rel.format(chunk_index=chunk_index, file_index=file_index)

    def video_file(self, video_key: str, chunk_index: int, file_index: int) -> Path:
        rel = self.info.get("video_path") or VIDEO_PATH
        return self.root / rel.format(
            video_key=video_key, chunk_index=chunk_index, file_index=file_index
        )


class NotADatasetError(ValueError):
    """The directory is not a LeRobot dataset (no readable meta/info.json)."""


def load_layout(root: Path | str) -> DatasetLayout:
    """Read ``meta/info.json``; raise one clear error naming the file when that fails."""
    root = Path(root)
    info_file = root / INFO_PATH
    if not info_file.is_file():
        raise NotADatasetError(f"{info_file}: not found, so {root} is not a LeRobot dataset")
    try:
        info = json.loads(info_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise NotADatasetError(f"{info_file}: not valid JSON ({exc})") from exc
    if not isinstance(info, dict) or "features" not in info or "fps" not in info:
        raise NotADatasetError(f"{info_file}: missing 'features' or 'fps'")
    return DatasetLayout(root=root, info=info)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Read a v2.x ``.jsonl`` metadata file, naming the file and line on a bad record."""
    rows = []
    with path.open() as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from exc
    return rows
