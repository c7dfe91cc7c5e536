"""Per-episode stats of every numeric feature, recomputed from a v3.0 dataset's rows.

Streaming: one data file at a time (LeRobot keeps each episode inside one data file), so
memory holds one file's columns plus the per-episode results. min, max, count and the
quantiles are LeRobot's arithmetic (``scripts.convert.stats``, tested against LeRobot's own
code); mean and std are exact (float64 centred moments).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from scripts.convert.stats import Stats, numeric_stats_segments
from validators.arrow_np import flatten_lists
from validators.dataset_format import NON_NUMERIC_DTYPES, DatasetLayout


class FixError(Exception):
    """A problem with one file that stops the repair (printed as ``<file>: <what>``)."""

    def __init__(self, file: str | Path, message: str) -> None:
        super().__init__(f"{file}: {message}")


def numeric_features(layout: DatasetLayout) -> list[str]:
    return [k for k, ft in layout.features.items() if ft.get("dtype") not in NON_NUMERIC_DTYPES]


def column_values(table: pa.Table, key: str, shape: list[int]) -> np.ndarray:
    """One feature's rows as numpy: (N,) for shape-(1,) features (as the recorder has them)."""
    flat = flatten_lists(table.column(key)).to_numpy(zero_copy_only=False)
    n = table.num_rows
    if list(shape) in ([], [1]):
        return flat.reshape(n)
    return flat.reshape(n, *shape)


def episode_runs(episode_index: np.ndarray, where: Path) -> tuple[np.ndarray, np.ndarray]:
    """(episode ids, lengths) of consecutive runs; an episode split in a file is refused."""
    if len(episode_index) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.diff(episode_index)) + 1
    bounds = np.concatenate(([0], starts, [len(episode_index)]))
    ids = episode_index[bounds[:-1]]
    if len(np.unique(ids)) != len(ids):
        raise FixError(where, "an episode's rows are not contiguous (LeRobot would misread it)")
    return ids, np.diff(bounds)


def recompute(
    layout: DatasetLayout, features: list[str], tick: Callable[[int], None] | None = None
) -> dict[int, dict[str, Stats]]:
    """Episode index -> feature -> Stats, for ``features``, from every data file."""
    files = sorted((layout.root / "data").glob("*/*.parquet"))
    if not files:
        raise FixError(layout.root / "data", "no parquet files")
    out: dict[int, dict[str, Stats]] = {}
    shapes: dict[str, Any] = {k: layout.features[k].get("shape") or [1] for k in features}
    for path in files:
        try:
            table = pq.read_table(path, columns=list(dict.fromkeys(["episode_index", *features])))
        except (OSError, pa.ArrowException) as exc:
            raise FixError(path, f"cannot read ({exc})") from exc
        episodes = flatten_lists(table.column("episode_index")).to_numpy(zero_copy_only=False)
        ids, lengths = episode_runs(episodes, path)
        if not len(ids):
            continue
        arrays = {k: column_values(table, k, shapes[k]) for k in features}
        for e, stats in zip(ids.tolist(), numeric_stats_segments(arrays, lengths), strict=True):
            if e in out:
                raise FixError(path, f"episode {e} has rows in more than one data file")
            out[e] = stats
        if tick:
            tick(len(ids))
    return out
