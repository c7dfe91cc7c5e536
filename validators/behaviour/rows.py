"""The rows the behavioural checks read: the data group's columns, not a second read.

Only ``episode_index``, ``timestamp`` and the numeric features (never images). When the
behaviour group is planned the data group keeps each file's columns (numpy views of its
arrow buffers, ``ctx.row_cache``); the stats group computes its moments from them and this
module concatenates them and frees the cache, so each parquet file is read once per
validation. A file the cache lacks (the data group did not run) is read here as the data
group reads it (arrow -> numpy without pandas). Episodes are then contiguous slices. Per
dimension it also derives the dataset's own scale: ``spread``
(q99 - q01 of all rows) and ``step`` (q99 of |frame-to-frame change|), which every threshold
is relative to.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from validators.arrow_np import to_numpy
from validators.context import Context
from validators.stats_exact import dim_names
from validators.stats_rows import numeric_features

READ_WORKERS = 2
QUANTILE_ROWS = 200_000  # rows (evenly strided) the spread is estimated from: cost, not bias


@dataclass
class Feature:
    """One numeric feature over the whole dataset, plus its per-episode reductions."""

    key: str
    names: list[str]
    values: np.ndarray  # (N, D), the stored dtype
    finite: np.ndarray  # (E,) bool: no NaN/Inf in the episode (else data.non_finite's)
    ep_min: np.ndarray  # (E, D) float64
    ep_max: np.ndarray
    spread: np.ndarray  # (D,) q99 - q01
    step: np.ndarray  # (D,) q99 of |diff| within episodes

    @property
    def ep_range(self) -> np.ndarray:
        return self.ep_max - self.ep_min


@dataclass
class Rows:
    """Episodes as contiguous row slices, and the features over them."""

    episodes: np.ndarray  # (E,) episode index
    starts: np.ndarray  # (E,) first row
    ends: np.ndarray  # (E,) end row
    timestamp: np.ndarray  # (N,) float64
    features: dict[str, Feature] = field(default_factory=dict)
    files: dict[int, str] = field(default_factory=dict)  # episode -> its data file

    @property
    def lengths(self) -> np.ndarray:
        return self.ends - self.starts

    def inner(self) -> np.ndarray:
        """(N - 1,) bool: rows t and t+1 belong to the same episode."""
        same = np.ones(max(len(self.timestamp) - 1, 0), dtype=bool)
        same[self.ends[:-1] - 1] = False
        return same


def load(ctx: Context) -> Rows | None:
    """Read the rows (files the data group could read, in load order); None if nothing."""
    import pyarrow.parquet as pq

    wanted = numeric_features(ctx)
    files = [rel for rel, _, _ in ctx.file_rows] or sorted(ctx.data_files)
    files = [rel for rel in files if rel not in ctx.unreadable_data]

    cache, ctx.row_cache = ctx.row_cache or {}, None  # ours now: freed as it is consumed

    def read(rel: str) -> Any:
        """The file's columns by name: the data group's copy (``ctx.row_cache``) when it
        kept one, else a parquet read; None when it cannot be read (the data group says)."""
        keep = cache.pop(rel, None)
        if keep is not None:
            return keep
        try:
            pf = pq.ParquetFile(ctx.root / rel, metadata=ctx.parquet_meta.get(rel))
            names = set(pf.schema_arrow.names)
            cols = [c for c in ("episode_index", "timestamp", *wanted) if c in names]
            table = pf.read(columns=cols, use_threads=False)
        except Exception:
            return None
        out: dict[str, Any] = {}
        for c in table.column_names:
            try:
                out[c] = to_numpy(table.column(c))
            except Exception:
                out[c] = None
        return out

    eps: list[np.ndarray] = []
    ts: list[np.ndarray] = []
    parts: dict[str, list[np.ndarray]] = {k: [] for k in wanted}
    owner: list[tuple[str, np.ndarray]] = []
    with ThreadPoolExecutor(max_workers=READ_WORKERS) as pool:
        for rel, table in zip(files, pool.map(read, files), strict=True):
            ep = None if table is None else table.get("episode_index")
            if ep is None:
                continue
            n = len(ep)
            if n == 0 or not np.isfinite(ep).all():
                continue
            cols = {}
            for key, dim in wanted.items():
                flat = table.get(key)
                if flat is None or flat.size != n * dim or flat.dtype.kind not in "fiu":
                    cols = None
                    break
                cols[key] = flat.reshape(n, dim)
            if cols is None:
                continue
            eps.append(ep.astype(np.int64, copy=False))
            t = table.get("timestamp")
            ts.append(np.full(n, np.nan) if t is None else t.astype(np.float64, copy=False))
            for key in wanted:
                parts[key].append(cols[key])
            owner.append((rel, np.unique(eps[-1])))
    if not eps:
        return None
    ep = _join(eps)
    order = None if (np.diff(ep) >= 0).all() else np.argsort(ep, kind="stable")
    if order is not None:
        ep = ep[order]
    starts = np.concatenate(([0], np.flatnonzero(np.diff(ep)) + 1))
    ends = np.append(starts[1:], len(ep))
    timestamp = _join(ts)
    rows = Rows(ep[starts], starts, ends, timestamp if order is None else timestamp[order])
    rows.files = {int(e): rel for rel, es in owner for e in es.tolist()}
    inner = rows.inner()
    for key, dim in wanted.items():
        values = _join(parts[key])
        if order is not None:
            values = values[order]
        rows.features[key] = _feature(ctx, key, dim, values, starts, inner)
    return rows


def _join(parts: list[np.ndarray]) -> np.ndarray:
    """One array from the files' parts; a single file's part as it is (a v3.0 dataset is
    often one data file, and concatenating copies it)."""
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _feature(
    ctx: Context, key: str, dim: int, values: np.ndarray, starts: np.ndarray, inner: np.ndarray
) -> Feature:
    """Per-episode min/max and the dataset's spread and step of one feature."""
    with np.errstate(invalid="ignore"):
        ep_min = np.minimum.reduceat(values, starts, axis=0).astype(np.float64)
        ep_max = np.maximum.reduceat(values, starts, axis=0).astype(np.float64)
    finite = np.isfinite(ep_min).all(axis=1) & np.isfinite(ep_max).all(axis=1)
    every = bool(finite.all())  # the usual case: no mask, no copy
    ok_rows = None if every else np.repeat(finite, np.diff(np.append(starts, len(values))))
    sample = values if ok_rows is None else values[ok_rows]
    stride = max(1, len(sample) // QUANTILE_ROWS)
    # quantiles along contiguous rows of the transpose: numpy's partition along axis 0 of an
    # (N, D) array walks strided memory and took ~1.6x as long on the bench corpus
    sample = np.ascontiguousarray(sample[::stride].T, dtype=np.float64)
    if sample.shape[1]:
        q01, q99 = np.quantile(sample, [0.01, 0.99], axis=1)
        spread = q99 - q01
    else:
        spread = np.zeros(dim)
    steps = np.abs(np.diff(values, axis=0).astype(np.float64))
    steps = steps[inner if ok_rows is None else inner & ok_rows[1:]]
    steps = np.ascontiguousarray(steps[:: max(1, len(steps) // QUANTILE_ROWS)].T)
    step = np.quantile(steps, 0.99, axis=1) if steps.shape[1] else np.zeros(dim)
    return Feature(key, dim_names(ctx, key, dim), values, finite, ep_min, ep_max, spread, step)
