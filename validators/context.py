"""Shared state of one validation run: the dataset's metadata, read once, and the findings.

Every check group reads from a ``Context`` instead of re-opening files, so each file is
opened at most once per run (that is most of why the validator is fast). Metadata of both
formats is normalised here into ``EpisodeMeta`` rows: v2.1 keeps one file per episode and
global row positions are implied by episode order; v3.0 stores them explicitly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from validators import dataset_format as fmt
from validators.report import MAX_FINDINGS_PER_CHECK, Finding, Report, Severity


@dataclass
class VideoRef:
    """Where one episode's frames of one camera live."""

    path: str  # relative to the dataset root
    from_ts: float
    to_ts: float
    chunk_index: int | None = None
    file_index: int | None = None


@dataclass
class EpisodeMeta:
    """One episode as the metadata describes it (both formats)."""

    episode_index: int
    length: int
    tasks: list[str]
    data_path: str  # relative
    from_index: int  # global row position (v3.0: stored; v2.1: cumulative in episode order)
    to_index: int
    data_chunk: int | None = None
    data_file: int | None = None
    videos: dict[str, VideoRef] = field(default_factory=dict)


@dataclass
class DataColumns:
    """The small per-row columns of all data files, concatenated in LeRobot's load order."""

    index: Any  # numpy arrays (int64 / float32); None when a column is missing
    episode_index: Any
    frame_index: Any
    timestamp: Any
    task_index: Any
    file_starts: list[tuple[str, int, int]]  # (relative path, first row, end row)

    def file_of_row(self, row: int) -> str | None:
        for path, start, end in self.file_starts:
            if start <= row < end:
                return path
        return None


class Context:
    """Everything a check group needs, plus the findings collected so far."""

    def __init__(self, root: Path, info: dict[str, Any], *, deep: bool, quick: bool) -> None:
        self.root = root
        self.info = info
        self.layout = fmt.DatasetLayout(root=root, info=info)
        self.deep = deep
        self.quick = quick
        self.progress = False  # tqdm bars for long file loops (the CLI turns it on)
        self.version = str(info.get("codebase_version", ""))
        self.is_v3 = self._detect_v3()
        self.report = Report(
            root=str(root),
            version=self.version or "unknown",
            mode="deep" if deep else "quick" if quick else "standard",
        )
        self._counts: dict[str, int] = {}
        self.episodes: list[EpisodeMeta] = []
        self.episodes_loaded = False  # False when the episode metadata could not be read
        self.tasks: dict[int, str] | None = None
        self.episode_stats: dict[int, dict[str, dict[str, Any]]] | None = None
        self.stats_json: dict[str, Any] | None = None
        self.data: DataColumns | None = None
        self.data_rows_total: int | None = None
        self.unreadable_data: set[str] = set()
        self.data_files: dict[str, int | None] = {}  # relative path -> rows (None: unreadable)
        self.file_rows: list[tuple[str, int, int]] = []  # (path, first row, end row), load order
        self.missing_files: set[str] = set()
        self.parquet_meta: dict[str, Any] = {}  # relative path -> pyarrow FileMetaData
        self.video_index: dict[str, Any] = {}  # relative mp4 path -> mp4_index.TrackIndex
        # The data group's per-file numpy columns (episode_index, timestamp, the numeric
        # features; None: not readable as numbers), kept only when the behaviour group will
        # run: the stats and behaviour groups reuse them instead of reading every file again.
        # The behaviour group holds all rows anyway, so peak memory does not grow; it frees this.
        self.row_cache: dict[str, dict[str, Any]] | None = None

    # --- findings ---------------------------------------------------------------------------
    def add(
        self,
        check_id: str,
        severity: Severity,
        message: str,
        hint: str,
        *,
        file: str | Path | None = None,
        episode: int | None = None,
        feature: str | None = None,
        frames: tuple[int, int] | None = None,
    ) -> None:
        """Record a finding (beyond MAX_FINDINGS_PER_CHECK per id, only count it)."""
        n = self._counts.get(check_id, 0)
        self._counts[check_id] = n + 1
        if n >= MAX_FINDINGS_PER_CHECK:
            self.report.suppressed[check_id] = self.report.suppressed.get(check_id, 0) + 1
            return
        rel = None
        if file is not None:
            p = Path(file)
            try:
                rel = str(p.relative_to(self.root)) if p.is_absolute() else str(p)
            except ValueError:
                rel = str(p)
        try:
            ep = None if episode is None else int(episode)
        except (TypeError, ValueError):
            ep = None  # a corrupt record's "episode index" is not a number
        self.report.findings.append(
            Finding(check_id, severity, rel, ep, message, hint, feature, frames)
        )

    # --- format -----------------------------------------------------------------------------
    def _detect_v3(self) -> bool:
        if self.version == fmt.V30:
            return True
        if self.version in fmt.LEGACY_VERSIONS:
            return False
        # Unknown version string: trust what is on disk.
        return (self.root / "meta/episodes").is_dir() or (self.root / fmt.TASKS_PATH).is_file()

    @property
    def fps(self) -> float:
        try:
            return float(self.info["fps"])
        except (KeyError, TypeError, ValueError):
            return 0.0

    @property
    def features(self) -> dict[str, dict[str, Any]]:
        feats = self.info.get("features")
        return feats if isinstance(feats, dict) else {}

    def keys_of(self, *dtypes: str) -> list[str]:
        return [
            k
            for k, ft in self.features.items()
            if isinstance(ft, dict) and ft.get("dtype") in dtypes
        ]

    @property
    def video_keys(self) -> list[str]:
        return self.keys_of("video")

    def rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    def data_template(self) -> str:
        default = fmt.DATA_PATH if self.is_v3 else fmt.LEGACY_DATA_PATH
        tpl = self.info.get("data_path")
        return tpl if isinstance(tpl, str) else default

    def video_template(self) -> str:
        default = fmt.VIDEO_PATH if self.is_v3 else fmt.LEGACY_VIDEO_PATH
        tpl = self.info.get("video_path")
        return tpl if isinstance(tpl, str) else default

    def chunks_size(self) -> int:
        try:
            n = int(self.info.get("chunks_size", fmt.DEFAULT_CHUNK_SIZE))
        except (TypeError, ValueError):
            n = fmt.DEFAULT_CHUNK_SIZE
        return n if n > 0 else fmt.DEFAULT_CHUNK_SIZE

    # --- lazily read metadata files ------------------------------------------------------------
    def load_stats_json(self) -> dict[str, Any] | None:
        """``meta/stats.json`` or None (absent). Unreadable JSON is a finding."""
        if self.stats_json is not None:
            return self.stats_json
        path = self.root / fmt.STATS_PATH
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            self.add(
                "stats.unreadable",
                "error",
                f"not valid JSON: {exc}",
                "regenerate meta/stats.json from the per-episode stats",
                file=path,
            )
            return None
        self.stats_json = data if isinstance(data, dict) else {}
        return self.stats_json
