"""Recompute every numeric feature's per-episode and global moments from the parquet rows.

Why: recorded stats can be wrong in ways no metadata check sees. LeRobot 0.6.1's recorder
computes std as float32 ``E[x^2] - E[x]^2`` and writes 0 (or 10-20x too much) for a joint at
2048 +- 0.05; a stale ``stats.json`` after an edit looks just as plausible. The only ground
truth is the rows, so the ``stats`` group reads them back.

Streaming: one data file at a time, ``BATCH_ROWS`` rows at a time, only ``episode_index`` and
the numeric feature columns (never images). Each batch is cut into runs of one episode,
moments are taken per run with ``validators.moments.segment_moments`` (float64, centred) and
runs of the same episode (an episode split by a batch or file boundary) are merged with
Chan's formula, so memory is one batch plus (episodes x dims) moments, whatever the size.
When the behaviour group runs (it holds every row anyway) the data group keeps its decoded
columns in ``ctx.row_cache`` and the moments are taken from those, in the same 16k-row
slices, instead of reading each file a second time.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from validators import dataset_format as fmt
from validators.arrow_np import to_numpy
from validators.context import Context
from validators.moments import Moments, combine, segment_moments

BATCH_ROWS = 16_384  # rows per read: ~6 MB of float64 for a 45-d feature (x ~4 temporaries)
READ_WORKERS = 2  # two files in flight: hides open latency (v2.1: a file per episode)


@dataclass
class FeatureMoments:
    """Exact moments of one feature: per episode (stacked, ``episodes`` order) and global."""

    episodes: np.ndarray  # (E,) episode indices, sorted
    per_episode: Moments  # leading axis E
    total: Moments | None  # None when some rows could not be read


@dataclass
class RowStats:
    """What the row pass produced: moments per feature, and which features it could not do."""

    features: dict[str, FeatureMoments] = field(default_factory=dict)
    skipped: set[str] = field(default_factory=set)  # unreadable / mis-shaped columns


def numeric_features(ctx: Context) -> dict[str, int]:
    """Feature -> values per row (flattened shape), for the features LeRobot normalises with
    mean/std: not images/videos, not strings, and not the five bookkeeping columns (LeRobot
    computes their stats too, but no policy reads them)."""
    out: dict[str, int] = {}
    for key, ft in ctx.features.items():
        if not isinstance(ft, dict) or key in fmt.DEFAULT_FEATURES:
            continue
        if ft.get("dtype") in (*fmt.NON_NUMERIC_DTYPES, "language"):
            continue
        try:
            out[key] = int(np.prod([int(x) for x in ft.get("shape") or [1]]))
        except (TypeError, ValueError):
            continue  # schema.info reports a malformed shape
    return out


def _stack(parts: list[Moments]) -> Moments:
    return Moments(
        count=np.concatenate([p.count for p in parts]),
        mean=np.concatenate([p.mean for p in parts]),
        m2=np.concatenate([p.m2 for p in parts]),
        min=np.concatenate([p.min for p in parts]),
        max=np.concatenate([p.max for p in parts]),
    )


def _take(m: Moments, idx: np.ndarray | slice) -> Moments:
    return Moments(m.count[idx], m.mean[idx], m.m2[idx], m.min[idx], m.max[idx])


def merge_by_episode(ids: np.ndarray, parts: Moments) -> tuple[np.ndarray, Moments]:
    """Segments tagged with episode ids -> one Moments per episode (ids sorted)."""
    order = np.argsort(ids, kind="stable")
    ids, parts = ids[order], _take(parts, order)
    uniq, first, counts = np.unique(ids, return_index=True, return_counts=True)
    if len(uniq) == len(ids):
        return uniq, parts
    merged = _take(parts, first)
    for i in np.flatnonzero(counts > 1):
        one = combine(_take(parts, slice(first[i], first[i] + counts[i])))
        for name in ("mean", "m2", "min", "max"):
            getattr(merged, name)[i] = getattr(one, name)
        merged.count[i] = one.count
    return uniq, merged


def _values(batch: Any, key: str, rows: int, dim: int) -> np.ndarray | None:
    """A numeric column of a record batch as (rows, dim), or None when it is mis-shaped."""
    try:
        flat = to_numpy(batch.column(key))
    except Exception:
        return None
    if flat.size != rows * dim:
        return None
    return flat.reshape(rows, dim)


def recompute(ctx: Context) -> RowStats:
    """One streaming pass over the data files (skipping those the data group found broken).

    Files are processed by ``READ_WORKERS`` threads (parquet decoding and numpy reductions
    release the GIL; v2.1 has one small file per episode, so opening them is most of the
    cost), results collected in file order; at most ``READ_WORKERS`` batches are in memory.
    """
    wanted = numeric_features(ctx)
    result = RowStats()
    if not wanted:
        return result
    ids: dict[str, list[np.ndarray]] = {k: [] for k in wanted}
    parts: dict[str, list[Moments]] = {k: [] for k in wanted}
    complete = not ctx.unreadable_data and not ctx.missing_files
    files = [rel for rel in sorted(ctx.data_files) if rel not in ctx.unreadable_data]
    with ThreadPoolExecutor(max_workers=READ_WORKERS) as pool:
        window = 4 * READ_WORKERS
        for i in range(0, len(files), window):
            for got in pool.map(lambda rel: _moments_of(ctx, rel, wanted), files[i : i + window]):
                if got is None:
                    complete = False  # the data group reports the file; judge the rest
                    continue
                f_ids, f_parts, f_skipped = got
                result.skipped |= f_skipped
                for key in f_ids:
                    ids[key] += f_ids[key]
                    parts[key] += f_parts[key]
    for key in wanted:
        if key in result.skipped or not parts[key]:
            result.skipped.add(key)
            continue
        eps, per_ep = merge_by_episode(np.concatenate(ids[key]), _stack(parts[key]))
        total = combine(per_ep) if complete else None
        result.features[key] = FeatureMoments(eps, per_ep, total)
    return result


def _moments_of(
    ctx: Context, rel: str, wanted: dict[str, int]
) -> tuple[dict[str, list[np.ndarray]], dict[str, list[Moments]], set[str]] | None:
    """One file's episode-run moments: from the data group's columns when it kept them
    (``ctx.row_cache``: no second parquet read), else read from the file."""
    keep = (ctx.row_cache or {}).get(rel)
    if keep is None or keep.get("episode_index") is None:
        return _file_moments(ctx, rel, wanted)
    ids: dict[str, list[np.ndarray]] = {k: [] for k in wanted}
    parts: dict[str, list[Moments]] = {k: [] for k in wanted}
    skipped = {k for k in wanted if k not in keep}
    cols = [k for k in wanted if k in keep]
    ep = keep["episode_index"]
    rows = len(ep)
    for a in range(0, rows, BATCH_ROWS):  # bounded temporaries, as the streaming read
        b = min(rows, a + BATCH_ROWS)
        flats = {}
        for k in cols:
            flat = keep[k]
            if flat is None or flat.size != rows * wanted[k]:
                flats[k] = None
            else:
                flats[k] = flat.reshape(rows, wanted[k])[a:b]
        _add_arrays(ep[a:b], flats, cols, ids, parts, skipped)
    return ids, parts, skipped


def _file_moments(
    ctx: Context, rel: str, wanted: dict[str, int]
) -> tuple[dict[str, list[np.ndarray]], dict[str, list[Moments]], set[str]] | None:
    """Episode-run moments of one data file, batch by batch; None when it cannot be read."""
    import pyarrow.parquet as pq

    ids: dict[str, list[np.ndarray]] = {k: [] for k in wanted}
    parts: dict[str, list[Moments]] = {k: [] for k in wanted}
    try:
        pf = pq.ParquetFile(ctx.root / rel, metadata=ctx.parquet_meta.get(rel))
        names = set(pf.schema_arrow.names)
        cols = [k for k in wanted if k in names]
        skipped = {k for k in wanted if k not in names}
        if "episode_index" not in names:
            return ids, parts, skipped | set(cols)
        if not cols:
            return ids, parts, skipped
        columns = ["episode_index", *cols]
        if pf.metadata.num_rows <= BATCH_ROWS:  # small file (v2.1): one read, no scanner
            batches = pf.read(columns=columns, use_threads=False).to_batches()
        else:
            batches = pf.iter_batches(batch_size=BATCH_ROWS, columns=columns, use_threads=False)
        for batch in batches:
            _add_batch(batch, cols, wanted, ids, parts, skipped)
    except Exception:
        return None
    return ids, parts, skipped


def _add_batch(
    batch: Any,
    cols: list[str],
    wanted: dict[str, int],
    ids: dict[str, list[np.ndarray]],
    parts: dict[str, list[Moments]],
    skipped: set[str],
) -> None:
    """Cut one record batch into episode runs and take each run's moments."""
    rows = batch.num_rows
    if rows == 0:
        return
    ep = to_numpy(batch.column("episode_index"))
    values = {key: _values(batch, key, rows, wanted[key]) for key in cols if key not in skipped}
    _add_arrays(ep, values, cols, ids, parts, skipped)


def _add_arrays(
    ep: np.ndarray,
    values: dict[str, np.ndarray | None],
    cols: list[str],
    ids: dict[str, list[np.ndarray]],
    parts: dict[str, list[Moments]],
    skipped: set[str],
) -> None:
    """Cut rows (episode index, (rows, dim) values; None: mis-shaped) into episode runs and
    take each run's moments."""
    rows = len(ep)
    if rows == 0:
        return
    if not np.isfinite(ep).all():
        skipped.update(cols)  # null episode indices: the data group reports them
        return
    ep = ep.astype(np.int64, copy=False)
    starts = np.concatenate(([0], np.flatnonzero(np.diff(ep)) + 1))
    lengths = np.diff(np.append(starts, rows))
    for key in cols:
        if key in skipped:
            continue
        v = values.get(key)
        if v is None:
            skipped.add(key)
            continue
        ids[key].append(ep[starts])
        parts[key].append(segment_moments(v, lengths))
