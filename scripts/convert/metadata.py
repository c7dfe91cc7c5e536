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
import pyarrow as pa
import pyarrow.parquet as pq

from scripts.convert.chunks import MB, next_chunk_file
from scripts.convert.stats import Stats, to_jsonable
from validators.dataset_format import (
    DATA_PATH,
    EPISODE_META_COLUMNS,
    EPISODES_PATH,
    INFO_PATH,
    STATS_PATH,
    TASKS_PATH,
    V30,
    VIDEO_PATH,
    video_meta_columns,
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


def write_json(data: Any, path: Path) -> None:
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
    write_json(info, dst / INFO_PATH)


def _pandas_metadata(version: str) -> bytes:
    """The ``pandas`` schema metadata ``DataFrame.to_parquet`` writes for the tasks frame."""
    meta = {
        "index_columns": ["task"],
        "column_indexes": [
            {
                "name": None,
                "field_name": None,
                "pandas_type": "unicode",
                "numpy_type": "str",
                "metadata": {"encoding": "UTF-8"},
            }
        ],
        "columns": [
            {
                "name": "task_index",
                "field_name": "task_index",
                "pandas_type": "int64",
                "numpy_type": "int64",
                "metadata": None,
            },
            {
                "name": "task",
                "field_name": "task",
                "pandas_type": "object",
                "numpy_type": "str",
                "metadata": None,
            },
        ],
        "attributes": {},
        "creator": {"library": "pyarrow", "version": pa.__version__},
        "pandas_version": version,
    }
    return json.dumps(meta).encode()


def write_tasks(tasks: list[str], dst: Path) -> None:
    """``pd.DataFrame({"task_index": ...}, index=pd.Index(tasks, name="task")).to_parquet``.

    Written with pyarrow and the same ``pandas`` metadata (so ``pd.read_parquet`` restores
    the task index LeRobot reads): importing pandas would cost ~0.5 s of every conversion.
    A test compares the file with pandas' own output.
    """
    from importlib.metadata import PackageNotFoundError, version

    try:
        pandas_version = version("pandas")
    except PackageNotFoundError:
        pandas_version = "3.0.0"
    path = dst / TASKS_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.table(
        {
            "task_index": pa.array(np.arange(len(tasks), dtype=np.int64)),
            "task": pa.array(tasks, pa.large_string()),
        }
    )
    table = table.replace_schema_metadata({b"pandas": _pandas_metadata(pandas_version)})
    pq.write_table(table, path)


def write_stats(stats: dict[str, Stats], dst: Path) -> None:
    write_json(to_jsonable(stats), dst / STATS_PATH)


def nested_array(values: list[np.ndarray]) -> pa.Array:
    """The arrow array ``from_pydict`` infers for these arrays' ``tolist()``, built from numpy.

    Nested lists of equal shape become nested ``list<...>``; integers stay int64 unless a
    float is among them (then everything is double), as arrow's type inference decides.
    """
    stacked = np.stack([np.asarray(v) for v in values])
    if stacked.dtype.kind == "b":
        flat = pa.array(stacked.ravel())
    elif stacked.dtype.kind in "iu":
        flat = pa.array(stacked.astype(np.int64, copy=False).ravel())
    else:
        flat = pa.array(stacked.astype(np.float64, copy=False).ravel())
    arr = flat
    for dim in reversed(stacked.shape[1:]):
        offsets = pa.array(np.arange(0, len(arr) + 1, dim, dtype=np.int32))
        arr = pa.ListArray.from_arrays(offsets, arr)
    return arr


def episode_table(rows: list[dict[str, Any]], features: dict[str, dict[str, Any]]) -> pa.Table:
    """Rows (plain fields plus ``"stats"``) -> the recorder's columns, built column by column."""
    columns: dict[str, pa.Array] = {}
    plain = [k for k in rows[0] if k != "stats"]
    for key in plain:
        columns[key] = pa.array([r[key] for r in rows])
    if "stats" in rows[0]:
        for ft in features:
            if ft not in rows[0]["stats"]:
                continue
            for stat in rows[0]["stats"][ft]:
                columns[f"stats/{ft}/{stat}"] = nested_array([r["stats"][ft][stat] for r in rows])
    return pa.Table.from_pydict(columns)


class Spool:
    """Per-episode metadata spilled to an Arrow IPC file in batches, so memory stays flat.

    Producers (the data writer, each camera job) add one row per episode, in episode order;
    every ``SPOOL_ROWS`` rows become one record batch on disk. All spools of a conversion
    flush at the same row counts, so their batches line up for :func:`write_episodes`.
    Arrow IPC (not parquet) keeps the arrays exactly as built (no validity buffers added),
    so the recorder's size-based file roll-over sees the same byte counts.
    """

    def __init__(self, path: Path, features: dict[str, dict[str, Any]]) -> None:
        self.path = path
        self.features = features
        self._rows: list[dict[str, Any]] = []
        self._writer: pa.ipc.RecordBatchFileWriter | None = None
        self._schema: pa.Schema | None = None
        self.count = 0

    def add(self, row: dict[str, Any]) -> None:
        self._rows.append(row)
        self.count += 1
        if len(self._rows) == SPOOL_ROWS:
            self._flush()

    def _flush(self) -> None:
        if not self._rows:
            return
        table = episode_table(self._rows, self.features)
        self._rows = []
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._schema = table.schema
            self._writer = pa.ipc.new_file(str(self.path), table.schema)
        elif not table.schema.equals(self._schema):
            table = table.cast(self._schema)
        self._writer.write_table(table)

    def close(self) -> Path:
        self._flush()
        if self._writer is not None:
            self._writer.close()
        return self.path


SPOOL_ROWS = 1000  # a multiple of EPISODES_PER_ROW_GROUP


SpoolSource = Path | list[Path]  # one spool, or shards of one (consecutive episode runs)


def _spool_rows(source: SpoolSource) -> Iterator[pa.RecordBatch]:
    """A spool's rows in batches of exactly ``SPOOL_ROWS`` (the last may be short).

    A single spool already flushes at that size; shards (runs of episodes written by
    different processes) are read in order and re-cut so every source lines up.
    """
    files = [source] if isinstance(source, Path) else source
    pending: list[pa.RecordBatch] = []
    held = 0
    for path in files:
        with pa.ipc.open_file(pa.OSFile(str(path))) as reader:
            for i in range(reader.num_record_batches):
                batch = reader.get_batch(i)
                while batch.num_rows:
                    take = min(batch.num_rows, SPOOL_ROWS - held)
                    pending.append(batch.slice(0, take))
                    held += take
                    batch = batch.slice(take)
                    if held == SPOOL_ROWS:
                        yield _one_batch(pending)
                        pending, held = [], 0
    if held:
        yield _one_batch(pending)


def _one_batch(parts: list[pa.RecordBatch]) -> pa.RecordBatch:
    if len(parts) == 1:
        return parts[0]
    schema = parts[0].schema
    parts = [p if p.schema.equals(schema) else p.cast(schema) for p in parts]
    table = pa.Table.from_batches(parts, schema=schema).combine_chunks()
    return table.to_batches()[0]


def _spool_batches(sources: list[SpoolSource]) -> Iterator[pa.Table]:
    """Line up the spools' batches and join their columns (one batch of each at a time)."""
    streams = [_spool_rows(src) for src in sources]
    while True:
        parts = [next(s, None) for s in streams]
        if all(p is None for p in parts):
            return
        if any(p is None or p.num_rows != parts[0].num_rows for p in parts):
            raise RuntimeError("metadata spools disagree on row counts")
        names: list[str] = []
        arrays: list[pa.Array] = []
        for part in parts:
            names += part.schema.names
            arrays += part.columns
        yield pa.Table.from_arrays(arrays, names=names)


def episode_column_order(
    features: dict[str, dict[str, Any]], video_keys: list[str], stats_keys: dict[str, list[str]]
) -> list[str]:
    """Column order of the recorder's ``meta/episodes`` rows (before the meta/* pointers)."""
    cols = [c for c in EPISODE_META_COLUMNS if not c.startswith("meta/")]
    for key in video_keys:
        cols += video_meta_columns(key)
    for key in features:
        cols += [f"stats/{key}/{stat}" for stat in stats_keys.get(key, [])]
    return cols


def spool_stats_keys(sources: list[SpoolSource]) -> dict[str, list[str]]:
    """Which stats each feature has, from the spools' column names (``stats/<ft>/<stat>``)."""
    keys: dict[str, list[str]] = {}
    for source in sources:
        path = source if isinstance(source, Path) else source[0]
        with pa.ipc.open_file(pa.OSFile(str(path))) as reader:
            names = reader.schema.names
        for name in names:
            if name.startswith("stats/"):
                ft, stat = name[len("stats/") :].rsplit("/", 1)
                keys.setdefault(ft, []).append(stat)
    return keys


def spooled_tables(paths: list[SpoolSource], order: list[str]) -> Iterator[pa.Table]:
    """Tables of ``EPISODES_PER_ROW_GROUP`` rows, columns in ``order``, from the spools."""
    for joined in _spool_batches(paths):
        joined = joined.select([c for c in order if c in joined.column_names])
        for lo in range(0, joined.num_rows, EPISODES_PER_ROW_GROUP):
            yield joined.slice(lo, EPISODES_PER_ROW_GROUP)


def write_episodes(tables: Iterable[pa.Table], dst: Path, data_mb: float, chunks_size: int) -> int:
    """Write ``meta/episodes/chunk-XXX/file-YYY.parquet``; return the number of files.

    ``tables`` (10 episodes each) lack the ``meta/episodes/*`` columns: they are filled here,
    rolling to a new file when the next batch would push the current one past ``data_mb``
    (the recorder's rule, decided per 10-episode batch as it does). Batches bound for the
    same file are written together, up to ``SPOOL_ROWS`` rows at a time: a parquet write
    per 10 rows of ~100 columns would cost more than everything else in this stage.
    """
    limit = data_mb * MB
    chunk = file = 0
    size = 0
    writer: pq.ParquetWriter | None = None
    pending: list[pa.Table] = []
    files = 0

    def flush() -> None:
        nonlocal writer, files
        if not pending:
            return
        table = pa.concat_tables(pending, promote_options="permissive")
        pending.clear()
        n = table.num_rows
        table = table.append_column(
            "meta/episodes/chunk_index", pa.array(np.full(n, chunk, np.int64))
        ).append_column("meta/episodes/file_index", pa.array(np.full(n, file, np.int64)))
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

    try:
        for table in tables:
            if (writer is not None or pending) and size + table.nbytes >= limit:
                flush()
                if writer is not None:
                    writer.close()
                    writer = None
                chunk, file = next_chunk_file(chunk, file, chunks_size)
                size = 0
            pending.append(table)
            size += table.nbytes + 16 * table.num_rows  # + the two int64 meta/episodes columns
            if sum(t.num_rows for t in pending) >= SPOOL_ROWS:
                flush()
        flush()
    finally:
        if writer is not None:
            writer.close()
    return files
