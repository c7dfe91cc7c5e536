"""Stream episode parquet files into size-capped v3.0 data files, a batch of episodes at a time.

Why batches: datasets of many short episodes spend most of their time in per-episode
overhead (a reader, a cast, a row group, a stats call per episode of a few frames). Up to
``BATCH_EPISODES`` episodes (``BATCH_ROWS`` rows, ``BATCH_BYTES`` of source files) are read,
checked and rewritten as whole columns, their per-episode stats computed in one call
(``stats.numeric_stats_segments``), and written with one ``write_table`` (one row group per
batch, snappy, dictionary encoding as LeRobot's recorder writes); memory stays bounded by
the batch, never the dataset. ``episode_index``, ``index`` and (if renumbered)
``task_index`` are rewritten; every other column is copied untouched. Per-episode stats of
numeric and image-dtype features use the recorder's arithmetic (see ``stats.py``); the
dataset-level aggregate is computed later, from the spooled per-episode rows.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from scripts.convert.chunks import MB, next_chunk_file
from scripts.convert.errors import ConversionError
from scripts.convert.metadata import Spool
from scripts.convert.plan import EpisodePlan, Plan
from scripts.convert.stats import (
    Stats,
    auto_downsample_height_width,
    image_feature_stats,
    numeric_stats_many,
    numeric_stats_segments,
    sample_indices,
)
from validators.dataset_format import DATA_PATH

BATCH_EPISODES = 256  # episodes read, checked, rewritten and written at once
BATCH_ROWS = 65536  # ... unless they hold more rows than this
BATCH_BYTES = 64 * MB  # ... or more source parquet bytes than this
_SMALL_FILE = 8 * MB  # read whole into memory first (cheaper than a file-backed reader)


@dataclass
class DataResult:
    """What the data pass leaves behind: file count, spool of episode rows.

    No dataset stats: those are aggregated later from the spooled per-episode stats.
    """

    files: int
    spool: Path
    episodes: int


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


def _image_stats(table: pa.Table, key: str, ft: dict[str, Any], path: Path) -> Stats:
    """Stats of one image-dtype column of one episode, from LeRobot's sampled frames."""
    column = table.column(key)
    try:
        frames = [
            auto_downsample_height_width(_decode_image(column[i].as_py()))
            for i in sample_indices(table.num_rows)
        ]
    except (OSError, ValueError) as exc:
        raise ConversionError(path, f"column {key!r}: unreadable image ({exc})") from exc
    is_depth = bool((ft.get("info") or {}).get("is_depth_map", False))
    return image_feature_stats(np.stack(frames), is_depth=is_depth)


def episode_stats(
    table: pa.Table, features: dict[str, dict[str, Any]], path: Path, fps: int
) -> dict[str, Stats]:
    """Per-episode stats of every parquet-stored feature (video stats come from ``video``).

    The one-episode reference of :func:`batch_stats` (same values).
    """
    out: dict[str, Stats] = {}
    numeric: dict[str, np.ndarray] = {}
    for key, ft in features.items():
        dtype = ft["dtype"]
        if dtype in ("video", "string", "language"):
            continue
        if dtype == "image":
            out[key] = _image_stats(table, key, ft, path)
        elif key == "timestamp":
            numeric[key] = _timestamp_values(table, fps)
            out[key] = {}
        else:
            numeric[key] = _column_array(table, key, ft)
            out[key] = {}
    out.update(numeric_stats_many(numeric))
    return out


def _batch_timestamp_values(table: pa.Table, fps: int, lengths: np.ndarray) -> np.ndarray:
    """:func:`_timestamp_values` of every episode of a batch (decided per episode)."""
    stored = table.column("timestamp").to_numpy(zero_copy_only=False)
    if "frame_index" not in table.column_names:
        return stored.astype(np.float64)
    exact = table.column("frame_index").to_numpy(zero_copy_only=False) / fps
    same = exact.astype(stored.dtype) == stored
    offsets = np.cumsum(lengths) - lengths
    per_episode = np.logical_and.reduceat(same, offsets)
    return np.where(np.repeat(per_episode, lengths), exact, stored.astype(np.float64))


def batch_stats(
    table: pa.Table,
    features: dict[str, dict[str, Any]],
    episodes: list[EpisodePlan],
    fps: int,
) -> list[dict[str, Stats]]:
    """:func:`episode_stats` of every episode of a batch (rows back to back in ``table``).

    Numeric features go through :func:`numeric_stats_segments` in one call; image-dtype
    columns (frames stored in parquet, rare) are done episode by episode.
    """
    lengths = np.array([ep.length for ep in episodes], dtype=np.int64)
    numeric: dict[str, np.ndarray] = {}
    images: list[str] = []
    order: list[str] = []
    for key, ft in features.items():
        dtype = ft["dtype"]
        if dtype in ("video", "string", "language"):
            continue
        order.append(key)
        if dtype == "image":
            images.append(key)
        elif key == "timestamp":
            numeric[key] = _batch_timestamp_values(table, fps, lengths)
        else:
            numeric[key] = _column_array(table, key, ft)
    per_episode = numeric_stats_segments(numeric, lengths)
    out: list[dict[str, Stats]] = []
    start = 0
    for ep, computed in zip(episodes, per_episode, strict=True):
        if images:
            rows = table.slice(start, ep.length)
            for key in images:
                computed[key] = _image_stats(rows, key, features[key], ep.data_file)
            computed = {key: computed[key] for key in order}
        out.append(computed)
        start += ep.length
    return out


def read_source_file(ep: EpisodePlan, schema: pa.Schema) -> pa.Table:
    """One source file's rows, checked (readable, row count, columns) and typed to ``schema``."""
    path = ep.data_file
    try:
        if ep.data_bytes <= _SMALL_FILE:
            with open(path, "rb") as fh:
                source = pa.BufferReader(fh.read())
            table = pq.ParquetFile(source).read(use_threads=False, use_pandas_metadata=False)
        else:
            table = pq.ParquetFile(path).read(use_pandas_metadata=False)
    except (OSError, ValueError) as exc:
        raise ConversionError(path, f"not a readable parquet file ({exc})") from exc
    if table.num_rows != ep.length:
        raise ConversionError(
            path, f"has {table.num_rows} rows but meta/episodes.jsonl says length {ep.length}"
        )
    wanted = schema.names
    have = table.column_names
    if have != wanted:
        present = set(have)
        missing = [n for n in wanted if n not in present]
        if missing:
            raise ConversionError(path, f"lacks column(s) {missing}")
        table = table.select(wanted)
    if table.schema.equals(schema):
        return table
    try:
        return table.cast(schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        # ArrowTypeError: e.g. a fixed-size list of another length than the first file's
        raise ConversionError(path, f"column types differ from the first episode ({exc})") from exc


def _first_bad_episode(bad: np.ndarray, lengths: np.ndarray) -> int:
    """Position (in the batch) of the episode holding the first flagged row."""
    row = int(np.flatnonzero(bad)[0])
    return int(np.searchsorted(np.cumsum(lengths), row, side="right"))


def _as_int_values(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer view of a column read with ``to_numpy`` (nulls make floats): values, invalid."""
    if values.dtype.kind in "iu":
        return values.astype(np.int64, copy=False), np.zeros(len(values), dtype=bool)
    with np.errstate(invalid="ignore"):
        invalid = ~np.isfinite(values) | (values != np.round(values))
    return np.where(invalid, -1, values).astype(np.int64), invalid


def read_source_batch(
    episodes: list[EpisodePlan],
    schema: pa.Schema,
    task_indices: Iterable[int] | None = None,
) -> pa.Table:
    """The source rows of ``episodes``, in order, typed to ``schema``, every check done.

    Checks per file (an error names the file): readable parquet, row count equal to the
    planned length, every column of ``schema`` present, types castable to ``schema``,
    ``episode_index`` equal to the planned old index, and (when ``task_indices`` is given)
    every ``task_index`` one of them. Values are the source's (old indices included).
    Files are read one by one from memory (cheaper in CPU than a threaded dataset scan on
    small files) and checked as whole columns.
    """
    tables = [read_source_file(ep, schema) for ep in episodes]
    table = pa.concat_tables(tables).combine_chunks() if len(tables) > 1 else tables[0]
    lengths = np.array([ep.length for ep in episodes], dtype=np.int64)
    old = table.column("episode_index").to_numpy(zero_copy_only=False)
    expected = np.repeat(np.array([ep.old_index for ep in episodes], dtype=np.int64), lengths)
    with np.errstate(invalid="ignore"):
        differs = old != expected
    if differs.any():
        e = _first_bad_episode(differs, lengths)
        ep = episodes[e]
        start = int(lengths[:e].sum())
        held = old[start : start + ep.length]
        raise ConversionError(
            ep.data_file,
            f"episode_index column holds {sorted(set(held.tolist()))[:5]}, expected {ep.old_index}",
        )
    if task_indices is not None:
        known = np.array(sorted(set(task_indices)), dtype=np.int64)
        tasks, invalid = _as_int_values(table.column("task_index").to_numpy(zero_copy_only=False))
        invalid |= ~np.isin(tasks, known)
        if invalid.any():
            e = _first_bad_episode(invalid, lengths)
            row = int(np.flatnonzero(invalid)[0])
            value = table.column("task_index")[row].as_py()
            raise ConversionError(
                episodes[e].data_file, f"task_index {value} is not in meta/tasks.jsonl"
            )
    if table.schema.metadata != schema.metadata:
        table = table.replace_schema_metadata(schema.metadata)
    return table


def _int_column(values: np.ndarray, field: pa.Field, where: Path) -> pa.Array:
    array = pa.array(values)
    if array.type == field.type:
        return array
    try:
        return array.cast(field.type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise ConversionError(where, f"column {field.name!r}: cannot hold {exc}") from exc


def rewrite_batch(
    table: pa.Table, episodes: list[EpisodePlan], start: int, plan: Plan, schema: pa.Schema
) -> pa.Table:
    """New ``episode_index`` (np.repeat), ``index`` (arange) and ``task_index`` (lookup)."""
    lengths = np.array([ep.length for ep in episodes], dtype=np.int64)
    where = episodes[0].data_file
    names = table.column_names
    columns = list(table.columns)
    new = np.repeat(np.array([ep.new_index for ep in episodes], dtype=np.int64), lengths)
    i = names.index("episode_index")
    columns[i] = _int_column(new, schema.field(i), where)
    i = names.index("index")
    n = table.num_rows
    columns[i] = _int_column(np.arange(start, start + n, dtype=np.int64), schema.field(i), where)
    remap = plan.task_remap
    if any(old != nw for old, nw in remap.items()):
        i = names.index("task_index")
        old_tasks, invalid = _as_int_values(table.column(i).to_numpy(zero_copy_only=False))
        lut = np.full(max(remap) + 1, -1, dtype=np.int64)
        lut[list(remap)] = list(remap.values())
        inside = ~invalid & (old_tasks >= 0) & (old_tasks < len(lut))
        new_tasks = np.where(inside, lut[np.where(inside, old_tasks, 0)], -1)
        if (new_tasks < 0).any():
            e = _first_bad_episode(new_tasks < 0, lengths)
            row = int(np.flatnonzero(new_tasks < 0)[0])
            value = table.column(i)[row].as_py()
            raise ConversionError(
                episodes[e].data_file, f"task_index {value} is not in meta/tasks.jsonl"
            )
        columns[i] = _int_column(new_tasks, schema.field(i), where)
    return pa.Table.from_arrays(columns, schema=schema)


def plan_batches(
    episodes: list[EpisodePlan], limit: float
) -> Iterator[tuple[bool, list[EpisodePlan]]]:
    """Episodes in write order, grouped: ``(starts_a_new_file, batch)``.

    The roll-over rule is the recorder's, per episode: a new data file starts before an
    episode when ``size + data_bytes >= limit`` (never on the first episode, and episodes are
    never split); a batch never straddles files and is cut at the batch limits.
    """
    batch: list[EpisodePlan] = []
    size = rows = nbytes = 0
    new_file = True
    placed = False  # the recorder's "a file is open"
    for ep in episodes:
        roll = placed and size + ep.data_bytes >= limit
        full = bool(batch) and (
            len(batch) >= BATCH_EPISODES
            or rows + ep.length > BATCH_ROWS
            or nbytes + ep.data_bytes > BATCH_BYTES
        )
        if batch and (roll or full):
            yield new_file, batch
            batch, rows, nbytes, new_file = [], 0, 0, False
        if roll:
            size, new_file = 0, True
        batch.append(ep)
        placed = True
        rows += ep.length
        nbytes += ep.data_bytes
        size += ep.data_bytes
    if batch:
        yield new_file, batch


def write_data(
    plan: Plan,
    dst: Path,
    data_mb: float,
    spool_path: Path,
    on_episode: Callable[[EpisodePlan], None] | None = None,
    on_file_closed: Callable[[Path], None] | None = None,
    on_source: Callable[[list[EpisodePlan], pa.Table], None] | None = None,
) -> DataResult:
    """Write every episode's rows into ``data/chunk-XXX/file-YYY.parquet`` under ``dst``.

    Each episode's metadata row (placement and stats) goes to a spool on disk, so nothing
    per episode is kept in memory beyond the current batch. ``on_source`` sees each batch's
    source rows as read and typed, before any rewrite (the verifier digests them); a batch
    never spans two data files.
    """
    schema = target_schema(plan)
    features = plan.layout.features
    fps = plan.layout.fps
    chunks_size = plan.layout.chunks_size
    chunk = file = 0
    writer: pq.ParquetWriter | None = None
    path: Path | None = None
    start = 0
    files = 0
    spool = Spool(spool_path, features)
    try:
        for new_file, batch in plan_batches(plan.episodes, data_mb * MB):
            if new_file and writer is not None:
                writer.close()
                writer = None
                if on_file_closed:
                    on_file_closed(path)
                chunk, file = next_chunk_file(chunk, file, chunks_size)
            source = read_source_batch(batch, schema, plan.task_remap)
            if on_source:
                on_source(batch, source)
            table = rewrite_batch(source, batch, start, plan, schema)
            del source
            stats = batch_stats(table, features, batch, fps)
            if writer is None:
                path = dst / DATA_PATH.format(chunk_index=chunk, file_index=file)
                path.parent.mkdir(parents=True, exist_ok=True)
                writer = pq.ParquetWriter(
                    path, schema=schema, compression="snappy", use_dictionary=True
                )
                files += 1
            writer.write_table(table, row_group_size=table.num_rows)
            for ep, ep_stats in zip(batch, stats, strict=True):
                spool.add(
                    {
                        "episode_index": ep.new_index,
                        "tasks": ep.tasks,
                        "length": ep.length,
                        "data/chunk_index": chunk,
                        "data/file_index": file,
                        "dataset_from_index": start,
                        "dataset_to_index": start + ep.length,
                        "stats": ep_stats,
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
    return DataResult(files, spool.close(), spool.count)
