"""Read a v2.x source, check it is complete, and decide the renumbering.

Everything that can be checked from the file tree and the metadata is checked here, before
a byte of the destination is written: the version, every episode's parquet and every
camera's mp4 present, and files that no episode claims. Opening each parquet file is left to
the data pass (reading 1000s of footers twice cost more than the rest of the plan); it
checks each file's row count against ``episodes.jsonl`` first thing, before the parent
collects any camera result, so a count mismatch is reported on the parquet file.
Episodes are ordered by their old index and renumbered 0..N-1 (LeRobot looks rows and
episodes up by position, so a gap left by a deleted episode must close). Task indices are
renumbered the same way when ``tasks.jsonl`` has gaps.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from scripts.convert.errors import ConversionError, os_error
from validators.dataset_format import (
    INFO_PATH,
    LEGACY_EPISODES_PATH,
    LEGACY_EPISODES_STATS_PATH,
    LEGACY_TASKS_PATH,
    LEGACY_VERSIONS,
    V30,
    DatasetLayout,
    NotADatasetError,
    is_hidden,
    load_layout,
)

_EPISODE_FILE = re.compile(r"episode_(\d+)\.(parquet|mp4)$")


@dataclass(slots=True)
class EpisodePlan:
    """One source episode and where it goes (slots: a plan holds one per episode)."""

    old_index: int
    new_index: int
    length: int
    tasks: list[str]
    data_file: Path
    data_bytes: int
    video_files: dict[str, Path] = field(default_factory=dict)


@dataclass
class Plan:
    """The whole conversion, decided up front."""

    layout: DatasetLayout
    episodes: list[EpisodePlan]
    tasks: list[str]  # new task_index -> text
    task_remap: dict[int, int]  # old task_index -> new task_index
    has_episode_stats: bool
    ignored: list[str] = field(default_factory=list)  # hidden files skipped (AppleDouble ._*)

    @property
    def renumbered(self) -> dict[int, int]:
        """old -> new, only for episodes whose index changes."""
        return {e.old_index: e.new_index for e in self.episodes if e.old_index != e.new_index}

    @property
    def total_frames(self) -> int:
        return sum(e.length for e in self.episodes)


def _read_jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        raise ConversionError(path, "not found")
    rows = []
    where = 0
    try:
        with path.open(encoding="utf-8") as fh:
            for where, line in enumerate(fh, 1):  # noqa: B007 - where names the bad line
                if line.strip():
                    rows.append(json.loads(line))
    except json.JSONDecodeError as exc:
        raise ConversionError(f"{path}:{where}", f"not valid JSON ({exc.msg})") from exc
    except UnicodeDecodeError as exc:
        raise ConversionError(path, f"not UTF-8 text ({exc.reason})") from exc
    return rows


def load_source(src: Path) -> DatasetLayout:
    """The source's layout; refuse anything that is not a v2.0/v2.1 dataset."""
    if not src.exists():
        raise ConversionError(src, "no such directory")
    if not src.is_dir():
        raise ConversionError(src, "not a directory")
    try:
        layout = load_layout(src)
    except NotADatasetError as exc:
        raise ConversionError(src / INFO_PATH, str(exc).split(": ", 1)[-1]) from exc
    except OSError as exc:  # unreadable (permissions), not "damaged": say which and why
        raise os_error(exc, src / INFO_PATH) from exc
    version = layout.version
    if version == V30 or version.startswith("v3"):
        raise ConversionError(
            src / INFO_PATH, f"already {version}; nothing to convert (LeRobot reads it as is)"
        )
    if version not in LEGACY_VERSIONS:
        raise ConversionError(
            src / INFO_PATH,
            f"codebase_version {version!r} is not one of {', '.join(LEGACY_VERSIONS)}",
        )
    return layout


def _load_tasks(src: Path) -> tuple[list[str], dict[int, int], dict[str, int]]:
    path = src / LEGACY_TASKS_PATH
    rows = _read_jsonl(path)
    by_index: dict[int, str] = {}
    for row in rows:
        if "task_index" not in row or "task" not in row:
            raise ConversionError(path, f"a line lacks 'task_index' or 'task': {row}")
        by_index[int(row["task_index"])] = str(row["task"])
    ordered = sorted(by_index)
    tasks = [by_index[i] for i in ordered]
    remap = {old: new for new, old in enumerate(ordered)}
    text_to_new = {text: remap[i] for i, text in by_index.items()}
    return tasks, remap, text_to_new


def _files_below(top: Path, depth: int, suffix: str, hidden: list[str]) -> dict[str, int]:
    """Files ``depth`` directory levels below ``top`` ending in ``suffix``: path -> size.

    One ``scandir`` pass instead of an ``is_file``/``stat`` per episode and a glob: with
    thousands of episodes, pathlib's per-call overhead was most of the plan's time.
    Hidden entries (macOS AppleDouble ``._episode_000000.mp4`` left on exFAT disks,
    ``.DS_Store``) are not part of a dataset: skipped, and appended to ``hidden``.
    """
    level = [str(top)]
    for _ in range(depth):
        below: list[str] = []
        for d in level:
            try:
                with os.scandir(d) as it:
                    below += [e.path for e in it if e.is_dir() and not is_hidden(e.name)]
            except (FileNotFoundError, NotADirectoryError):
                continue
        level = below
    files: dict[str, int] = {}
    for d in level:
        with os.scandir(d) as it:
            for e in it:
                if is_hidden(e.name):
                    hidden.append(e.path)
                elif e.name.endswith(suffix) and e.is_file():
                    files[e.path] = e.stat().st_size
    return files


def _unclaimed(files: dict[str, int], claimed: set[str], what: str) -> None:
    extra = sorted(p for p in files if p not in claimed and _EPISODE_FILE.search(p))
    if extra:
        raise ConversionError(
            extra[0],
            f"{what} of an episode that meta/episodes.jsonl does not list "
            "(episode/file count mismatch)",
        )


def make_plan(src: Path) -> Plan:
    """Check the source and decide where every episode goes."""
    layout = load_source(src)
    tasks, task_remap, _ = _load_tasks(src)
    episodes_path = src / LEGACY_EPISODES_PATH
    rows = _read_jsonl(episodes_path)
    if not rows:
        raise ConversionError(episodes_path, "lists no episodes")
    seen: set[int] = set()
    for row in rows:
        if "episode_index" not in row or "length" not in row:
            raise ConversionError(episodes_path, f"a line lacks 'episode_index' or 'length': {row}")
        if row["episode_index"] in seen:
            raise ConversionError(episodes_path, f"episode {row['episode_index']} listed twice")
        seen.add(row["episode_index"])
    rows.sort(key=lambda r: int(r["episode_index"]))

    video_keys = layout.video_keys
    hidden: list[str] = []
    data_files = _files_below(src / "data", 1, ".parquet", hidden)
    video_files = _files_below(src / "videos", 2, ".mp4", hidden) if video_keys else {}
    plans: list[EpisodePlan] = []
    claimed_data: set[str] = set()
    claimed_video: set[str] = set()
    shared_tasks: dict[tuple[str, ...], list[str]] = {}  # one list per distinct task set
    for new_index, row in enumerate(rows):
        old = int(row["episode_index"])
        length = int(row["length"])
        data_file = layout.legacy_data_file(old)
        data_bytes = data_files.get(str(data_file))
        if data_bytes is None and data_file.is_file():  # an unusual data_path layout
            data_bytes = data_files[str(data_file)] = data_file.stat().st_size
        if data_bytes is None:
            raise ConversionError(data_file, f"missing (episode {old} is in meta/episodes.jsonl)")
        if length < 1:
            raise ConversionError(episodes_path, f"episode {old} has length {length}")
        videos = {}
        for key in video_keys:
            vpath = layout.legacy_video_file(old, key)
            if str(vpath) not in video_files and vpath.is_file():  # unusual video_path
                video_files[str(vpath)] = vpath.stat().st_size
            if str(vpath) not in video_files:
                raise ConversionError(vpath, f"missing (episode {old}, camera {key})")
            videos[key] = vpath
            claimed_video.add(str(vpath))
        claimed_data.add(str(data_file))
        plans.append(
            EpisodePlan(
                old_index=old,
                new_index=new_index,
                length=length,
                tasks=shared_tasks.setdefault(
                    tuple(str(t) for t in row.get("tasks", [])),
                    [str(t) for t in row.get("tasks", [])],
                ),
                data_file=data_file,
                data_bytes=data_bytes,
                video_files=videos,
            )
        )
    _unclaimed(data_files, claimed_data, "data file")
    _unclaimed(video_files, claimed_video, "video")
    has_stats = (src / LEGACY_EPISODES_STATS_PATH).is_file()
    return Plan(
        layout=layout,
        episodes=plans,
        tasks=tasks,
        task_remap=task_remap,
        has_episode_stats=has_stats,
        ignored=sorted(hidden),
    )
