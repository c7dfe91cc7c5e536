"""An output's ``meta/``: info.json, tasks.parquet and meta/episodes, as LeRobot 0.6.1 has them.

The writers are the converter's (``scripts.convert.metadata``: the recorder's column order,
pandas metadata on tasks.parquet, episode files rolled at the data size limit), so an edited
dataset's metadata is byte-compatible with a converted one. info.json is the source's with
the totals, ``splits``, features and (``OP=fps``) fps of the output.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from scripts.convert.metadata import (
    episode_column_order,
    episode_table,
    write_episodes,
    write_info,
    write_tasks,
)
from scripts.convert.stats import Stats
from scripts.edit.data import Placed
from scripts.edit.plan import Output, Source
from validators.dataset_format import DEFAULT_DATA_FILE_SIZE_IN_MB


def write_info_and_tasks(
    sources: list[Source], out: Output, root: Path, frames: int, tasks: list[str]
) -> dict[str, Any]:
    """info.json (source's, new totals and features) and tasks.parquet; returns the info."""
    info = copy.deepcopy(sources[out.pieces[0].source].layout.info)
    n = len(out.pieces)
    info["features"] = copy.deepcopy(out.features)
    info.update(total_episodes=n, total_frames=frames, total_tasks=len(tasks))
    if out.fps:  # OP=fps: the dataset's and every stream's declared rate
        info["fps"] = out.fps
        for ft in info["features"].values():
            if isinstance(ft.get("info"), dict) and "video.fps" in ft["info"]:
                ft["info"]["video.fps"] = out.fps
    info["splits"] = {"train": f"0:{n}"}
    if not out.video_keys:
        info["video_path"] = None
    write_info(info, root)
    write_tasks(tasks, root)
    return info


def write_episode_meta(
    out: Output,
    root: Path,
    info: dict[str, Any],
    placed: list[Placed],
    video_rows: list[dict[str, Any]],
    stats: list[dict[str, Stats]],
) -> None:
    """meta/episodes/*.parquet: one row per output episode, the recorder's columns."""
    rows = []
    for i, (p, v, st) in enumerate(zip(placed, video_rows, stats, strict=True)):
        row: dict[str, Any] = {
            "episode_index": i,
            "tasks": p.tasks,
            "length": p.stop - p.start,
            "data/chunk_index": p.chunk,
            "data/file_index": p.file,
            "dataset_from_index": p.start,
            "dataset_to_index": p.stop,
        }
        row.update(v)
        row["stats"] = st
        rows.append(row)
    table = episode_table(rows, out.features)
    keys = {ft: list(s) for ft, s in stats[0].items()}
    order = episode_column_order(out.features, out.video_keys, keys)
    table = table.select([c for c in order if c in table.column_names])
    mb = float(info.get("data_files_size_in_mb") or DEFAULT_DATA_FILE_SIZE_IN_MB)
    batches = (table.slice(lo, 10) for lo in range(0, table.num_rows, 10))
    write_episodes(batches, root, mb, int(info.get("chunks_size") or 1000))
