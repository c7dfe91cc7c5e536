"""Rewrite the surviving rows: one pass over the source data files, pyarrow only.

Each source data file is read once (whole episodes live in one file, as LeRobot writes them);
the rows of each piece are sliced out and renumbered: ``episode_index`` is the output position
(0..N-1), ``index`` the row position in the output, ``task_index`` the position of the row's
task text in the output's unified task list (merge, rename-task). Every other column is the
source's bytes unchanged. A trimmed or downsampled (``OP=fps``: every k-th row) piece gets
``frame_index`` 0..n-1 and ``timestamp`` = ``frame_index / fps`` (the output's fps) in
float32, as LeRobot's recorder writes them; an untouched one keeps its source timestamps.
Files roll over between episodes at the source's
``data_files_size_in_mb`` (in-memory bytes, so a file never exceeds it on disk).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from scripts.convert.chunks import MB, next_chunk_file
from scripts.edit.errors import EditError
from scripts.edit.plan import Output, Piece, Source
from validators.dataset_format import DATA_PATH, DEFAULT_DATA_FILE_SIZE_IN_MB


@dataclass
class Placed:
    """Where one output episode's rows went, and which tasks they carry (first seen first)."""

    chunk: int
    file: int
    start: int  # dataset_from_index
    stop: int  # dataset_to_index
    tasks: list[str]


class _Reader:
    """The last source data file read, as a table with its episode row ranges (one in memory)."""

    def __init__(self) -> None:
        self.path: Path | None = None
        self.table: pa.Table | None = None
        self.ranges: dict[int, tuple[int, int]] = {}

    def rows(self, path: Path, episode: int) -> pa.Table:
        if path != self.path:
            try:
                self.table = pq.read_table(path)
            except (OSError, pa.ArrowException) as exc:
                raise EditError(f"{path}: cannot be read ({exc})") from exc
            self.path = path
            ep = self.table.column("episode_index").to_numpy()
            bounds = np.flatnonzero(np.diff(ep)) + 1
            starts = np.concatenate(([0], bounds))
            stops = np.concatenate((bounds, [len(ep)]))
            self.ranges = {int(ep[a]): (int(a), int(b)) for a, b in zip(starts, stops, strict=True)}
        if episode not in self.ranges:
            raise EditError(f"{path}: has no rows of episode {episode} (meta/episodes says so)")
        a, b = self.ranges[episode]
        assert self.table is not None
        return self.table.slice(a, b - a)


def _schema(first: pa.Schema, features: dict[str, dict[str, Any]]) -> pa.Schema:
    """The source schema without dropped columns, its ``huggingface`` metadata following."""
    keep = [f for f in first if f.name in features]
    meta = dict(first.metadata or {})
    if b"huggingface" in meta:
        hf = json.loads(meta[b"huggingface"])
        feats = hf.get("info", {}).get("features", {})
        hf["info"]["features"] = {k: v for k, v in feats.items() if k in features}
        meta[b"huggingface"] = json.dumps(hf).encode()
    return pa.schema(keep, metadata=meta)


def _piece_rows(
    rows: pa.Table,
    piece: Piece,
    new_episode: int,
    first_index: int,
    task_ids: np.ndarray,
    fps: int,
    schema: pa.Schema,
) -> pa.Table:
    if rows.num_rows != piece.length:
        raise EditError(
            f"episode {piece.episode}: {rows.num_rows} rows, meta/episodes says {piece.length}"
        )
    if piece.step == 1:
        rows = rows.slice(piece.start, piece.frames)
    else:
        rows = rows.take(pa.array(np.arange(piece.start, piece.stop, piece.step)))
    n = rows.num_rows
    new = {
        "episode_index": pa.array(np.full(n, new_episode, np.int64)),
        "index": pa.array(np.arange(first_index, first_index + n, dtype=np.int64)),
        "task_index": pa.array(task_ids[rows.column("task_index").to_numpy()]),
    }
    if not piece.whole:
        frame = np.arange(n, dtype=np.int64)
        new["frame_index"] = pa.array(frame)
        new["timestamp"] = pa.array((frame / fps).astype(np.float32))
    columns = [new[f.name].cast(f.type) if f.name in new else rows.column(f.name) for f in schema]
    return pa.Table.from_arrays(columns, schema=schema)


def write_data(
    sources: list[Source],
    out: Output,
    root: Path,
    tick: Callable[[int], None] | None = None,
) -> tuple[list[Placed], list[str]]:
    """Write ``out``'s rows under ``root/data``; return each episode's placement and the tasks."""
    first_src = sources[out.pieces[0].source]
    info = first_src.layout.info
    limit = float(info.get("data_files_size_in_mb") or DEFAULT_DATA_FILE_SIZE_IN_MB) * MB
    chunks_size = first_src.layout.chunks_size
    fps = out.fps or first_src.layout.fps
    rows_of = [{int(r["episode_index"]): r for r in s.episodes} for s in sources]
    tasks: list[str] = []
    task_pos: dict[str, int] = {}
    # per source: old task_index -> new task_index (filled as texts are first seen)
    maps = [np.full(max(len(s.tasks), 1), -1, np.int64) for s in sources]
    readers = [_Reader() for _ in sources]
    schema: pa.Schema | None = None
    writer: pq.ParquetWriter | None = None
    chunk = file = 0
    size = 0
    index = 0
    placed: list[Placed] = []
    try:
        for i, piece in enumerate(out.pieces):
            src = sources[piece.source]
            row = rows_of[piece.source][piece.episode]
            path = src.layout.data_file(int(row["data/chunk_index"]), int(row["data/file_index"]))
            rows = readers[piece.source].rows(path, piece.episode)
            if schema is None:
                schema = _schema(rows.schema, out.features)
            kept = rows.column("task_index").to_numpy()[piece.start : piece.stop : piece.step]
            seen = np.unique(kept)
            for t in seen.tolist():
                if t >= len(src.tasks):
                    raise EditError(f"{path}: task_index {t} not in {src.root}/meta/tasks.parquet")
                if maps[piece.source][t] < 0:
                    text = out.renames.get(src.tasks[t], src.tasks[t])
                    if text not in task_pos:
                        task_pos[text] = len(tasks)
                        tasks.append(text)
                    maps[piece.source][t] = task_pos[text]
            table = _piece_rows(rows, piece, i, index, maps[piece.source], fps, schema)
            if writer is not None and size + table.nbytes >= limit:
                writer.close()
                writer = None
                chunk, file = next_chunk_file(chunk, file, chunks_size)
                size = 0
            if writer is None:
                target = root / DATA_PATH.format(chunk_index=chunk, file_index=file)
                target.parent.mkdir(parents=True, exist_ok=True)
                writer = pq.ParquetWriter(target, schema=schema, compression="snappy")
            writer.write_table(table)
            size += table.nbytes
            ordered = list(dict.fromkeys(tasks[t] for t in table.column("task_index").to_pylist()))
            placed.append(Placed(chunk, file, index, index + table.num_rows, ordered))
            index += table.num_rows
            if tick:
                tick(1)
    finally:
        if writer is not None:
            writer.close()
    return placed, tasks
