"""Stream episode parquet files into size-capped v3.0 data files, one episode at a time.

Why streaming: a dataset can be far larger than RAM; only one episode's table is held at
once, and it goes straight to an open ``pyarrow.parquet.ParquetWriter`` (one row group per
episode, snappy, dictionary encoding: what LeRobot's recorder writes). ``episode_index``,
``index`` and (if renumbered) ``task_index`` are rewritten; every other column is copied
untouched. Per-episode stats of numeric and image-dtype features are computed on the way,
with the recorder's arithmetic (see ``stats.py``).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from scripts.convert.errors import ConversionError
from scripts.convert.plan import EpisodePlan, Plan
from scripts.convert.stats import (
    Stats,
    StatsAccumulator,
    auto_downsample_height_width,
    image_feature_stats,
    numeric_stats_many,
    sample_indices,
)
from validators.dataset_format import DATA_PATH

MB = 1024**2


@dataclass
class DataResult:
    """What the data pass leaves behind: file count, spool of episode rows, dataset stats."""

    files: int
    spool: Path
    stats: dict[str, Stats]
    episodes: int


def next_chunk_file(chunk: int, file: int, chunks_size: int) -> tuple[int, int]:
    """LeRobot's ``update_chunk_file_indices``: a chunk directory holds ``chunks_size`` files."""
    if file == chunks_size - 1:
        return chunk + 1, 0
    return chunk, file + 1


def _hf_feature(ft: dict[str, Any]) -> dict[str, Any] | None:
    """The ``datasets`` feature description LeRobot 0.6.1 puts in a data file's schema."""
    dtype, shape = ft["dtype"], list(ft["shape"])
    if dtype == "image":
        return {"_type": "Image"}
    if shape == [1]:
        return {"dtype": dtype, "_type": "Value"}
    if len(shape) == 1:
        return {"feature": {"dtype": dtype, "_type": "Value"}, "length": shape[0], "_type": "List"}
    if 2 <= len(shape) <= 5:
        return {"shape": shape, "dtype": dtype, "_type": f"Array{len(shape)}D"}
    return None


def target_schema(plan: Plan) -> pa.Schema:
    """Columns in ``info.json`` feature order, typed as the first episode file types them."""
    first = plan.episodes[0].data_file
    source = pq.read_schema(first)
    features = plan.layout.features
    columns = [k for k, ft in features.items() if ft["dtype"] != "video"]
    fields = []
    hf: dict[str, Any] = {}
    for key in columns:
        idx = source.get_field_index(key)
        if idx < 0:
            raise ConversionError(first, f"has no column {key!r} (info.json lists it)")
        fields.append(source.field(idx))
        desc = _hf_feature(features[key])
        if desc is not None:
            hf[key] = desc
    meta = {b"huggingface": json.dumps({"info": {"features": hf}}).encode()}
    return pa.schema(fields, metadata=meta)


def _column_array(table: pa.Table, key: str, ft: dict[str, Any]) -> np.ndarray:
    col = table.column(key).combine_chunks()
    if pa.types.is_fixed_size_list(col.type) or pa.types.is_list(col.type):
        flat = col.flatten().to_numpy(zero_copy_only=False)
        return flat.reshape(len(col), *ft["shape"])
    return col.to_numpy(zero_copy_only=False)


def _timestamp_values(table: pa.Table, fps: int) -> np.ndarray:
    """Timestamps as the recorder held them when it computed stats.

    The recorder computes ``frame_index / fps`` as Python floats (float64) and stores them as
    float32. When the stored column is exactly that, use the float64 values it came from so
    the stats match the recorder's bit for bit; otherwise widen what is stored.
    """
    stored = table.column("timestamp").to_numpy(zero_copy_only=False)
    if "frame_index" in table.column_names:
        exact = table.column("frame_index").to_numpy(zero_copy_only=False) / fps
        if np.array_equal(exact.astype(stored.dtype), stored):
            return exact
    return stored.astype(np.float64)


def _decode_image(cell: dict[str, Any] | None) -> np.ndarray:
    from PIL import Image  # pillow ships with matplotlib in the tools env

    if not cell or cell.get("bytes") is None:
        raise ValueError("image cell without embedded bytes")
    with Image.open(io.BytesIO(cell["bytes"])) as img:
        arr = np.array(img.convert("RGB"), dtype=np.uint8)
    return np.transpose(arr, (2, 0, 1))


def episode_stats(
    table: pa.Table, features: dict[str, dict[str, Any]], path: Path, fps: int
) -> dict[str, Stats]:
    """Per-episode stats of every parquet-stored feature (video stats come from ``video``)."""
    out: dict[str, Stats] = {}
    numeric: dict[str, np.ndarray] = {}
    for key, ft in features.items():
        dtype = ft["dtype"]
        if dtype in ("video", "string", "language"):
            continue
        if dtype == "image":
            column = table.column(key)
            try:
                frames = [
                    auto_downsample_height_width(_decode_image(column[i].as_py()))
                    for i in sample_indices(table.num_rows)
                ]
            except (OSError, ValueError) as exc:
                raise ConversionError(path, f"column {key!r}: unreadable image ({exc})") from exc
            is_depth = bool((ft.get("info") or {}).get("is_depth_map", False))
            out[key] = image_feature_stats(np.stack(frames), is_depth=is_depth)
        elif key == "timestamp":
            numeric[key] = _timestamp_values(table, fps)
            out[key] = {}
        else:
            numeric[key] = _column_array(table, key, ft)
            out[key] = {}
    out.update(numeric_stats_many(numeric))
    return out


def _read_episode(ep: EpisodePlan, schema: pa.Schema) -> pa.Table:
    try:
        table = pq.ParquetFile(ep.data_file).read()
    except (OSError, ValueError) as exc:
        raise ConversionError(ep.data_file, f"not a readable parquet file ({exc})") from exc
    if table.num_rows != ep.length:
        raise ConversionError(ep.data_file, f"has {table.num_rows} rows, expected {ep.length}")
    missing = [n for n in schema.names if n not in table.column_names]
    if missing:
        raise ConversionError(ep.data_file, f"lacks column(s) {missing}")
    old = table.column("episode_index").to_numpy(zero_copy_only=False)
    if len(old) and not (old == ep.old_index).all():
        raise ConversionError(
            ep.data_file,
            f"episode_index column holds {sorted(set(old.tolist()))[:5]}, expected {ep.old_index}",
        )
    return table.select(schema.names)


def _rewrite(
    table: pa.Table, ep: EpisodePlan, start: int, plan: Plan, schema: pa.Schema
) -> pa.Table:
    n = table.num_rows
    names = table.column_names
    table = table.set_column(
        names.index("episode_index"), "episode_index", pa.array(np.full(n, ep.new_index, np.int64))
    )
    table = table.set_column(
        names.index("index"), "index", pa.array(np.arange(start, start + n, dtype=np.int64))
    )
    remap = plan.task_remap
    if any(old != new for old, new in remap.items()):
        old_tasks = table.column("task_index").to_numpy(zero_copy_only=False)
        try:
            new_tasks = np.array([remap[int(t)] for t in old_tasks], dtype=np.int64)
        except KeyError as exc:
            raise ConversionError(
                ep.data_file, f"task_index {exc.args[0]} is not in meta/tasks.jsonl"
            ) from exc
        table = table.set_column(names.index("task_index"), "task_index", pa.array(new_tasks))
    try:
        return table.cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise ConversionError(
            ep.data_file, f"column types differ from the first episode ({exc})"
        ) from exc


def write_data(
    plan: Plan,
    dst: Path,
    data_mb: float,
    spool_path: Path,
    on_episode: Callable[[EpisodePlan], None] | None = None,
    on_file_closed: Callable[[Path], None] | None = None,
) -> DataResult:
    """Write every episode's rows into ``data/chunk-XXX/file-YYY.parquet`` under ``dst``.

    Each episode's metadata row (placement and stats) goes to a spool on disk and its stats
    into the dataset aggregate at once, so nothing per episode is kept in memory.
    """
    from scripts.convert.metadata import Spool  # metadata imports MB/next_chunk_file from here

    schema = target_schema(plan)
    features = plan.layout.features
    chunks_size = plan.layout.chunks_size
    limit = data_mb * MB
    chunk = file = 0
    size = 0
    writer: pq.ParquetWriter | None = None
    path: Path | None = None
    start = 0
    files = 0
    spool = Spool(spool_path, features)
    acc = StatsAccumulator()
    try:
        for ep in plan.episodes:
            if writer is not None and size + ep.data_bytes >= limit:
                writer.close()
                writer = None
                if on_file_closed:
                    on_file_closed(path)
                chunk, file = next_chunk_file(chunk, file, chunks_size)
                size = 0
            table = _rewrite(_read_episode(ep, schema), ep, start, plan, schema)
            stats = episode_stats(table, features, ep.data_file, plan.layout.fps)
            if writer is None:
                path = dst / DATA_PATH.format(chunk_index=chunk, file_index=file)
                path.parent.mkdir(parents=True, exist_ok=True)
                writer = pq.ParquetWriter(
                    path, schema=schema, compression="snappy", use_dictionary=True
                )
                files += 1
            writer.write_table(table)
            size += ep.data_bytes
            acc.add(stats)
            spool.add(
                {
                    "episode_index": ep.new_index,
                    "tasks": ep.tasks,
                    "length": ep.length,
                    "data/chunk_index": chunk,
                    "data/file_index": file,
                    "dataset_from_index": start,
                    "dataset_to_index": start + ep.length,
                    "stats": stats,
                }
            )
            start += ep.length
            if on_episode:
                on_episode(ep)
    finally:
        if writer is not None:
            writer.close()
    if on_file_closed and path is not None:
        on_file_closed(path)
    return DataResult(files, spool.close(), acc.stats or {}, spool.count)
