"""Dataset ``stats.json`` from the per-episode stats, the way LeRobot's own converter makes it.

Why here and not while converting: LeRobot's ``convert_dataset_v21_to_v30`` loads every
episode's stats as float64 arrays and calls ``aggregate_stats`` once. Doing the same from the
per-episode rows as they are written to ``meta/episodes`` (float64 in parquet) makes
``stats.json`` a pure function of ``meta/episodes`` (checkable with LeRobot's own function),
costs one vectorised pass per feature instead of a merge per episode, and keeps no Python
object per episode: one feature's float64 arrays of E x dims at a time.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from scripts.convert.stats import Stats
from validators.arrow_np import flatten_lists

STATS_PREFIX = "stats/"


def column_to_numpy(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A nested-list stats column (one equal-shaped array per row) as an (E, *shape) array."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if len(arr) == 0:
        return np.empty((0,))
    shape = np.asarray(arr[0].as_py()).shape
    values = flatten_lists(arr).to_numpy(zero_copy_only=False)
    return values.reshape(len(arr), *shape)


def aggregate_stacked(st: dict[str, np.ndarray]) -> Stats:
    """``compute_stats.aggregate_feature_stats`` with each stat already stacked over episodes.

    Same element-wise operations in the same order as LeRobot's function on the list of
    per-episode dicts (which it stacks first), so the result is identical.
    """
    means = st["mean"]
    variances = st["std"] ** 2
    counts = st["count"]
    total_count = counts.sum(axis=0)
    while counts.ndim < means.ndim:
        counts = np.expand_dims(counts, axis=-1)
    total_mean = (means * counts).sum(axis=0) / total_count
    delta_means = means - total_mean
    total_variance = ((variances + delta_means**2) * counts).sum(axis=0) / total_count
    out: Stats = {
        "min": np.min(st["min"], axis=0),
        "max": np.max(st["max"], axis=0),
        "mean": total_mean,
        "std": np.sqrt(total_variance),
        "count": total_count,
    }
    for key, values in st.items():
        if key.startswith("q") and key[1:].isdigit():
            out[key] = (values * counts).sum(axis=0) / total_count
    return out


def aggregate_episode_files(files: list[Path], features: list[str]) -> dict[str, Stats]:
    """Dataset stats per feature (in ``features`` order) from written ``meta/episodes`` files.

    One feature at a time: its ``stats/<feature>/*`` columns are read from every file,
    aggregated, and dropped before the next, so memory holds one feature's per-episode
    stats at most (E x dims x 10 floats), not every feature's.
    """
    if not files:
        return {}
    names = pq.read_schema(files[0]).names
    out: dict[str, Stats] = {}
    for ft in features:
        prefix = f"{STATS_PREFIX}{ft}/"
        columns = [n for n in names if n.startswith(prefix)]
        if not columns:
            continue
        table = pa.concat_tables(pq.read_table(f, columns=columns) for f in files)
        out[ft] = aggregate_stacked(
            {name[len(prefix) :]: column_to_numpy(table.column(name)) for name in columns}
        )
    return out
