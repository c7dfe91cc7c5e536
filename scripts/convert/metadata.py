"""Write v3.0 metadata the way LeRobot 0.6.1 writes it.

``info.json`` follows ``DatasetInfo.to_dict`` (field order, unknown v2.1 keys such as
``total_chunks``/``total_videos`` dropped, ``fps`` on every non-video feature as LeRobot's
converter adds it, video info re-probed from the written file as ``update_video_info`` does,
totals and ``splits`` recomputed). ``tasks.parquet`` keeps the task text as the pandas index
(LeRobot reads ``tasks.iloc[i].name``). ``meta/episodes/*.parquet`` rows carry the same
columns, in the same order and arrow types, as the recorder's ``_flush_metadata_buffer``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from scripts.convert.data import MB, next_chunk_file
from scripts.convert.stats import Stats, to_jsonable
from validators.dataset_format import (
    DATA_PATH,
    EPISODES_PATH,
    INFO_PATH,
    STATS_PATH,
    TASKS_PATH,
    V30,
    VIDEO_PATH,
)

# DatasetInfo's fields, in its declaration order (lerobot/datasets/utils.py).
INFO_FIELDS = (
    "codebase_version",
    "fps",
    "features",
    "total_episodes",
    "total_frames",
    "total_tasks",
    "chunks_size",
    "data_files_size_in_mb",
    "video_files_size_in_mb",
    "data_path",
    "video_path",
    "robot_type",
    "splits",
    "tools",
)
EPISODES_PER_ROW_GROUP = 10  # LeRobotDatasetMetadata(metadata_buffer_size=10)


def _write_json(data: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=4, ensure_ascii=False)


def _mb(value: float) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


def build_info(
    source_info: dict[str, Any],
    *,
    total_episodes: int,
    total_frames: int,
    total_tasks: int,
    data_mb: float,
    video_mb: float,
    video_infos: dict[str, dict[str, Any]],
) -> tuple[dict[str, Any], list[str]]:
    """The v3.0 ``info.json`` dict and the v2.x keys it dropped."""
    info = copy.deepcopy(source_info)
    fps = int(info["fps"])
    features = info["features"]
    for key, ft in features.items():
        if ft["dtype"] == "video":
            merged = {**(ft.get("info") or {}), **video_infos.get(key, {})}
            if "video.is_depth_map" in merged:
                merged.setdefault("is_depth_map", merged.pop("video.is_depth_map"))
            merged.setdefault("is_depth_map", False)
            ft["info"] = merged
        else:
            ft["fps"] = fps
    has_video = any(ft["dtype"] == "video" for ft in features.values())
    values = {
        "codebase_version": V30,
        "fps": fps,
        "features": features,
        "total_episodes": total_episodes,
        "total_frames": total_frames,
        "total_tasks": total_tasks,
        "chunks_size": int(info.get("chunks_size", 1000)),
        "data_files_size_in_mb": _mb(data_mb),
        "video_files_size_in_mb": _mb(video_mb),
        "data_path": DATA_PATH,
        "video_path": VIDEO_PATH if has_video else None,
        "robot_type": info.get("robot_type"),
        "splits": {"train": f"0:{total_episodes}"},
        "tools": info.get("tools"),
    }
    out = {k: values[k] for k in INFO_FIELDS if not (k == "tools" and values[k] is None)}
    dropped = sorted(k for k in info if k not in INFO_FIELDS)
    return out, dropped


def write_info(info: dict[str, Any], dst: Path) -> None:
    _write_json(info, dst / INFO_PATH)


def write_tasks(tasks: list[str], dst: Path) -> None:
    """``pd.DataFrame({"task_index": ...}, index=pd.Index(tasks, name="task")).to_parquet``."""
    path = dst / TASKS_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    df = pd.DataFrame({"task_index": range(len(tasks))}, index=pd.Index(tasks, name="task"))
    df.to_parquet(path)


def write_stats(stats: dict[str, Stats], dst: Path) -> None:
    _write_json(to_jsonable(stats), dst / STATS_PATH)


def flatten_stats(stats: dict[str, Stats], features: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``flatten_dict({"stats": ...})`` in feature order, values as plain lists."""
    out: dict[str, Any] = {}
    for key in features:
        if key not in stats:
            continue
        for stat, value in stats[key].items():
            out[f"stats/{key}/{stat}"] = np.asarray(value).tolist()
    return out


def _batches(rows: Iterable[dict[str, Any]], n: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == n:
            yield batch
            batch = []
    if batch:
        yield batch


def write_episodes(
    rows: Iterable[dict[str, Any]], dst: Path, data_mb: float, chunks_size: int
) -> int:
    """Write ``meta/episodes/chunk-XXX/file-YYY.parquet``; return the number of files.

    ``rows`` lack the ``meta/episodes/*`` columns: they are filled here, rolling to a new file
    when the next batch would push the current one past ``data_mb`` (the recorder's rule).
    """
    limit = data_mb * MB
    chunk = file = 0
    size = 0
    writer: pq.ParquetWriter | None = None
    files = 0
    try:
        for batch in _batches(rows, EPISODES_PER_ROW_GROUP):
            combined: dict[str, list] = {}
            for row in batch:
                for k, v in row.items():
                    combined.setdefault(k, []).append(v)
            table = pa.Table.from_pydict(combined)
            if writer is not None and size + table.nbytes >= limit:
                writer.close()
                writer = None
                chunk, file = next_chunk_file(chunk, file, chunks_size)
                size = 0
            n = len(batch)
            table = table.append_column(
                "meta/episodes/chunk_index", pa.array([chunk] * n, pa.int64())
            ).append_column("meta/episodes/file_index", pa.array([file] * n, pa.int64()))
            if writer is None:
                path = dst / EPISODES_PATH.format(chunk_index=chunk, file_index=file)
                path.parent.mkdir(parents=True, exist_ok=True)
                writer = pq.ParquetWriter(
                    path, schema=table.schema, compression="snappy", use_dictionary=True
                )
                files += 1
            else:
                table = table.select(writer.schema.names).cast(writer.schema)
            writer.write_table(table)
            size += table.nbytes
    finally:
        if writer is not None:
            writer.close()
    return files
