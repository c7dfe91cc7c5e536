"""LeRobot 0.6.1's statistics, ported to plain numpy (no torch, no LeRobot import).

Why a port: the converter runs in the light tools env, and ``stats.json`` / the per-episode
``stats/<feature>/<stat>`` columns must hold exactly what the pinned recorder writes,
quantiles included (``compute_stats.py``: ``RunningQuantileStats`` with 5000-bin histograms,
``get_feature_stats``, ``sample_indices``, ``auto_downsample_height_width``,
``aggregate_stats``). Keep this file a faithful copy of that arithmetic (dtypes included):
a test compares its output with LeRobot's own writer on the same frames.
"""

from __future__ import annotations

import math

import numpy as np

from validators.dataset_format import NUM_QUANTILE_BINS, QUANTILE_KEYS, QUANTILES

Stats = dict[str, np.ndarray]


class RunningQuantileStats:
    """Histogram-based running mean/std/min/max/quantiles, as LeRobot computes them."""

    def __init__(self, num_quantile_bins: int = NUM_QUANTILE_BINS) -> None:
        self._count = 0
        self._mean: np.ndarray | None = None
        self._mean_of_squares: np.ndarray | None = None
        self._min: np.ndarray | None = None
        self._max: np.ndarray | None = None
        self._histograms: list[np.ndarray] = []
        self._bin_edges: list[np.ndarray] = []
        self._bins = num_quantile_bins
        self._edges2d: np.ndarray | None = None
        self._sorted_bins: np.ndarray | None = None

    def update(self, batch: np.ndarray) -> None:
        """Take the episode's one batch (``compute_episode_stats`` makes exactly one call).

        Same arithmetic as LeRobot's first ``update`` (float32 stays float32, integers are
        widened to float64), with exact shortcuts: min/max are taken over contiguous columns
        (order does not matter for them); bin edges of all dimensions come from one
        ``np.linspace`` call per step kind (same per-element operations); histograms of
        uint8/uint16 pixels are counted per distinct value; for other columns only each
        value's bin is kept (sorted), since a 5000-bin histogram of a few values is mostly
        zeros and its quantiles follow from the sorted bins (see :func:`_sorted_quantiles`).
        """
        if self._count:
            raise RuntimeError("one batch per instance: stats are per episode")
        batch = batch.reshape(-1, batch.shape[-1])
        raw = batch if batch.dtype in (np.uint8, np.uint16) else None
        batch = batch.astype(np.result_type(batch.dtype, np.float32), copy=False)
        num_elements, vector_length = batch.shape
        batch_mean = np.mean(batch, axis=0)
        batch_mean_of_squares = np.mean(batch**2, axis=0)
        self._mean = batch_mean.copy()
        self._mean_of_squares = batch_mean_of_squares.copy()
        counts: list[np.ndarray] = []
        if raw is not None:  # integer pixels: count each value once; min/max follow exactly
            columns = None
            counts = [np.bincount(raw[:, i]) for i in range(vector_length)]
            present = [np.flatnonzero(c) for c in counts]
            self._min = np.array([p[0] for p in present]).astype(batch.dtype)
            self._max = np.array([p[-1] for p in present]).astype(batch.dtype)
        else:
            columns = np.ascontiguousarray(batch.T)
            self._min = columns.min(axis=1)
            self._max = columns.max(axis=1)
        edges = _edges(self._min - 1e-10, self._max + 1e-10, self._bins + 1)
        self._count += num_elements
        self._mean += (batch_mean - self._mean) * (num_elements / self._count)
        self._mean_of_squares += (batch_mean_of_squares - self._mean_of_squares) * (
            num_elements / self._count
        )
        self._edges2d = edges
        self._sorted_bins = None
        if columns is not None and np.isfinite(edges).all() and np.isfinite(columns).all():
            self._sorted_bins = _sorted_bins(columns, edges)
            return
        self._bin_edges = list(edges)
        self._histograms = [np.zeros(self._bins) for _ in range(vector_length)]
        for i in range(vector_length):
            if raw is not None:
                self._histograms[i] += _histogram_small_ints(counts[i], self._bin_edges[i])
            else:
                self._histograms[i] += _histogram(columns[i], self._bin_edges[i])  # type: ignore[index]

    def get_statistics(self) -> Stats:
        if self._count < 2:
            raise ValueError("Cannot compute statistics for less than 2 vectors.")
        variance = self._mean_of_squares - self._mean**2
        stats = {
            "min": self._min.copy(),
            "max": self._max.copy(),
            "mean": self._mean.copy(),
            "std": np.sqrt(np.maximum(0, variance)),
            "count": np.array([self._count]),
        }
        targets = [q * self._count for q in QUANTILES]
        if self._sorted_bins is not None:
            values = _sorted_quantiles(self._sorted_bins, self._edges2d, targets)
            stats.update(zip(QUANTILE_KEYS, values, strict=True))
            return stats
        per_dim = [
            _quantiles(h, e, targets)
            for h, e in zip(self._histograms, self._bin_edges, strict=True)
        ]
        for k, key in enumerate(QUANTILE_KEYS):
            stats[key] = np.array([values[k] for values in per_dim])
        return stats


_ARANGE: dict[tuple[str, int], np.ndarray] = {}


def _edges(starts: np.ndarray, stops: np.ndarray, num: int) -> np.ndarray:
    """(D, num) rows equal to ``np.linspace(starts[i], stops[i], num)`` for every i, bit for bit.

    The same element-wise operations as ``np.linspace`` (numpy 2.x): ``arange * step +
    start``, or ``arange / div * delta + start`` when the step is zero, last element set to
    ``stop``; done for all rows at once without its per-call overhead, each row in the branch
    a scalar call would take (``np.linspace`` on arrays would take the zero-step branch for
    every row as soon as one row needs it).
    """
    dt = np.result_type(starts, stops, np.float16)
    div = num - 1
    key = (dt.str, num)
    ar = _ARANGE.get(key)
    if ar is None:
        ar = _ARANGE[key] = np.arange(0, num, dtype=dt)
    delta = np.subtract(stops, starts, dtype=dt.type)
    step = delta / div
    zero = step == 0
    if zero.any():
        out = np.empty((len(starts), num), dtype=dt)
        nz = ~zero
        out[nz] = ar[np.newaxis, :] * step[nz, np.newaxis]
        out[zero] = (ar / div)[np.newaxis, :] * delta[zero, np.newaxis]
    else:
        out = ar[np.newaxis, :] * step[:, np.newaxis]
    out += starts[:, np.newaxis]
    out[:, -1] = stops
    return out


def _sorted_bins(columns: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Each value's histogram bin, sorted per dimension: (N, D).

    The bin NumPy's ``np.histogram`` counts a value in is ``searchsorted(edges, v, "right")
    - 1``, with a value equal to the last edge in the last bin; edges span [min, max] so
    every finite value has a bin.
    """
    nbins = edges.shape[1] - 1
    bins = np.empty(columns.shape[::-1], dtype=np.int64)
    for i in range(columns.shape[0]):
        b = np.searchsorted(edges[i], columns[i], side="right") - 1
        b[columns[i] == edges[i, -1]] = nbins - 1
        bins[:, i] = b
    if (bins < 0).any() or (bins >= nbins).any():
        raise AssertionError("a value outside its histogram's edges")
    bins.sort(axis=0)
    return bins


def _quantile_parts(
    bins: np.ndarray, edges: np.ndarray, targets: list[float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``_compute_single_quantile`` for every dimension and target at once, from sorted bins.

    The histogram's cumulative count at bin ``b`` is the number of values whose bin is
    ``<= b``; ``searchsorted(cumsum, target)`` is therefore the bin of the ``ceil(target)``-th
    smallest value (0 when the target is <= 0, past the end when it exceeds the count), the
    count before it the number of values in lower bins, the count in it the number of values
    in that bin (small integers, exact in float64). Returns, per (target, dimension), the
    edge a scalar call would return (``edge``), whether it returns that edge (``at_edge``),
    and the interpolated float64 value otherwise (``value``); plus per target whether it is
    past the end (then every dimension returns its last edge).
    """
    n, dims = bins.shape
    nbins = edges.shape[1] - 1
    ms = np.array([math.ceil(t) for t in targets], dtype=np.int64)
    beyond = ms > n
    idx = bins[np.clip(ms - 1, 0, n - 1)]  # (T, D)
    idx[ms <= 0] = 0
    idx[beyond] = nbins
    rows = np.arange(dims)[np.newaxis, :]
    edge = edges[rows, idx]
    right = edges[rows, np.minimum(idx + 1, nbins)]
    count_before = (bins[np.newaxis] < idx[:, np.newaxis]).sum(axis=1).astype(np.float64)
    count_in_bin = (bins[np.newaxis] == idx[:, np.newaxis]).sum(axis=1).astype(np.float64)
    tcol = np.array(targets, dtype=np.float64)[:, np.newaxis]
    with np.errstate(invalid="ignore", divide="ignore"):
        value = edge + ((tcol - count_before) / count_in_bin) * (right - edge)
    at_edge = (idx == 0) | beyond[:, np.newaxis]
    return edge, value, at_edge, beyond


def _pick_quantile(edge: np.ndarray, value: np.ndarray, at_edge: np.ndarray) -> np.ndarray:
    """One target's values for one feature, typed as ``np.array`` of the scalars would be."""
    if at_edge.all():
        return edge.copy()
    return np.where(at_edge, edge.astype(value.dtype), value)


def _sorted_quantiles(
    bins: np.ndarray, edges: np.ndarray, targets: list[float]
) -> list[np.ndarray]:
    edge, value, at_edge, _ = _quantile_parts(bins, edges, targets)
    return [_pick_quantile(edge[k], value[k], at_edge[k]) for k in range(len(targets))]


def numeric_stats_many(arrays: dict[str, np.ndarray]) -> dict[str, Stats]:
    """``numeric_feature_stats`` of several columns of one episode, sharing the histogram work.

    Means are computed per feature exactly as before (their rounding depends on the array's
    shape); min/max, bin edges, bins and quantiles are element-wise per dimension, so the
    dimensions of all features with the same working dtype are stacked and done at once,
    then split back. Anything unusual (fewer than 2 rows, non-finite values) takes the
    one-feature path.
    """
    out: dict[str, Stats] = {}
    groups: dict[np.dtype, list[tuple[str, np.ndarray]]] = {}
    for key, values in arrays.items():
        reshaped = values.reshape(-1, 1) if values.ndim == 1 else values
        if reshaped.shape[0] < 2 or values.dtype in (np.uint8, np.uint16):
            out[key] = numeric_feature_stats(values)
            continue
        batch = reshaped.astype(np.result_type(reshaped.dtype, np.float32), copy=False)
        groups.setdefault(batch.dtype, []).append((key, batch))
    for members in groups.values():
        columns = np.concatenate([b.T for _, b in members], axis=0)
        if not np.isfinite(columns).all():
            for key, _ in members:
                out[key] = numeric_feature_stats(arrays[key])
            continue
        count = columns.shape[1]
        mins = columns.min(axis=1)
        maxs = columns.max(axis=1)
        edges = _edges(mins - 1e-10, maxs + 1e-10, NUM_QUANTILE_BINS + 1)
        bins = _sorted_bins(columns, edges)
        targets = [q * count for q in QUANTILES]
        edge, value, at_edge, _ = _quantile_parts(bins, edges, targets)
        lo = 0
        for key, batch in members:
            hi = lo + batch.shape[1]
            mean = np.mean(batch, axis=0)
            mean_sq = np.mean(batch**2, axis=0)
            m, m2 = mean.copy(), mean_sq.copy()
            m += (mean - m) * (count / count)
            m2 += (mean_sq - m2) * (count / count)
            stats: Stats = {
                "min": mins[lo:hi].copy(),
                "max": maxs[lo:hi].copy(),
                "mean": m,
                "std": np.sqrt(np.maximum(0, m2 - m**2)),
                "count": np.array([count]),
            }
            for k, qkey in enumerate(QUANTILE_KEYS):
                stats[qkey] = _pick_quantile(edge[k, lo:hi], value[k, lo:hi], at_edge[k, lo:hi])
            out[key] = stats
            lo = hi
    return {key: out[key] for key in arrays}


def _histogram(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """``np.histogram(values, bins=edges)[0]`` without its per-call checks (same counts).

    NumPy counts explicit bin edges by sorting the values and ``searchsorted``-ing the edges
    into them (last bin closed); this is that computation, which dominates the cost of
    per-episode stats for short episodes when done through ``np.histogram``.
    """
    sa = np.sort(values)
    cum = np.concatenate(
        (sa.searchsorted(edges[:-1], "left"), sa.searchsorted(edges[-1:], "right"))
    )
    return np.diff(cum)


def _histogram_small_ints(counts: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Same counts as :func:`_histogram` for uint8/uint16 pixels, from ``np.bincount(pixels)``.

    Each distinct value lands in bin ``searchsorted(edges, v, "right") - 1`` (the last bin is
    closed), exactly the rule NumPy's sorted counting applies; counting the values first
    (``bincount``) makes a picture's histogram cheap.
    """
    values = np.nonzero(counts)[0]
    as_edges = values.astype(edges.dtype)
    bins = np.searchsorted(edges, as_edges, side="right") - 1
    nbins = len(edges) - 1
    bins[as_edges == edges[-1]] = nbins - 1
    inside = (bins >= 0) & (bins < nbins)
    return np.bincount(bins[inside], weights=counts[values][inside], minlength=nbins)


def _quantiles(hist: np.ndarray, edges: np.ndarray, targets: list[float]) -> list[float]:
    """``_compute_single_quantile`` for several targets, sharing one cumulative sum."""
    cumsum = np.cumsum(hist)
    out = []
    for target_count in targets:
        idx = int(np.searchsorted(cumsum, target_count))
        if idx == 0:
            out.append(edges[0])
            continue
        if idx >= len(cumsum):
            out.append(edges[-1])
            continue
        count_before = cumsum[idx - 1]
        count_in_bin = cumsum[idx] - count_before
        if count_in_bin == 0:
            out.append(edges[idx])
            continue
        fraction = (target_count - count_before) / count_in_bin
        out.append(edges[idx] + fraction * (edges[idx + 1] - edges[idx]))
    return out


def _basic_stats(array: np.ndarray, sample_count: int) -> Stats:
    """LeRobot's fallback for fewer than 2 rows: quantiles are copies of the mean."""
    stats = {
        "min": np.min(array, axis=0),
        "max": np.max(array, axis=0),
        "mean": np.mean(array, axis=0),
        "std": np.std(array, axis=0),
        "count": np.array([sample_count]),
    }
    for key in QUANTILE_KEYS:
        stats[key] = stats["mean"].copy()
    return stats


def _run(reshaped: np.ndarray, sample_count: int) -> Stats:
    if reshaped.shape[0] < 2:
        return _basic_stats(reshaped, sample_count)
    running = RunningQuantileStats()
    running.update(reshaped)
    stats = running.get_statistics()
    stats["count"] = np.array([sample_count])
    return stats


def numeric_feature_stats(values: np.ndarray) -> Stats:
    """Stats of one numeric column of one episode (``get_feature_stats(axis=0)``).

    ``values`` is (N,) for shape-(1,) features (stats keep a length-1 axis) or (N, D).
    """
    if values.ndim == 1:
        stats = _run(values.reshape(-1, 1), values.shape[0])
        return {k: v if k == "count" else v.reshape(1) for k, v in stats.items()}
    return _run(values, values.shape[0])


def estimate_num_samples(
    dataset_len: int, min_num_samples: int = 100, max_num_samples: int = 10_000, power: float = 0.75
) -> int:
    if dataset_len < min_num_samples:
        min_num_samples = dataset_len
    return max(min_num_samples, min(int(dataset_len**power), max_num_samples))


def sample_indices(data_len: int) -> list[int]:
    """Which frames of an episode LeRobot looks at for image stats."""
    num_samples = estimate_num_samples(data_len)
    return np.round(np.linspace(0, data_len - 1, num_samples)).astype(int).tolist()


def auto_downsample_height_width(
    img: np.ndarray, target_size: int = 150, max_size_threshold: int = 300
) -> np.ndarray:
    """(C, H, W) -> strided copy when the picture is 300 px or larger, as LeRobot does."""
    _, height, width = img.shape
    if max(width, height) < max_size_threshold:
        return img
    factor = int(width / target_size) if width > height else int(height / target_size)
    return img[:, ::factor, ::factor]


def _sequential_mean(planes: np.ndarray) -> np.ndarray:
    """``np.mean(planes.T, axis=0)`` for float32 (C, N) planes, C > 1, bit for bit.

    NumPy reduces an (N, C) array over axis 0 by adding rows in order (no pairwise
    summation: that is only used along the contiguous axis), one C-wide row per inner-loop
    call; ``np.add.accumulate`` along each contiguous plane adds in the same order, far
    faster. The division is ``_mean``'s: by ``intp(N)``, into the float32 result.
    """
    total = np.add.accumulate(planes, axis=1)[:, -1].copy()
    np.true_divide(total, np.intp(planes.shape[1]), out=total, casting="unsafe")
    return total


def _pixel_stats(planes: np.ndarray, sample_count: int) -> Stats:
    """``RunningQuantileStats`` of integer pixels given as (C, N) contiguous channel planes.

    Same values as feeding the (N, C) rows to :class:`RunningQuantileStats`: means in
    float32, added row by row (see :func:`_sequential_mean`); min/max and histograms from
    one ``np.bincount`` per channel (exact for integers).
    """
    channels, n = planes.shape
    values = planes.astype(np.float32)
    mean = _sequential_mean(values)
    np.multiply(values, values, out=values)
    mean_sq = _sequential_mean(values)
    del values
    m, m2 = mean.copy(), mean_sq.copy()
    m += (mean - m) * (n / n)
    m2 += (mean_sq - m2) * (n / n)
    counts = [np.bincount(planes[i]) for i in range(channels)]
    present = [np.flatnonzero(c) for c in counts]
    mins = np.array([p[0] for p in present]).astype(np.float32)
    maxs = np.array([p[-1] for p in present]).astype(np.float32)
    edges = _edges(mins - 1e-10, maxs + 1e-10, NUM_QUANTILE_BINS + 1)
    targets = [q * n for q in QUANTILES]
    per_dim = [
        _quantiles(np.zeros(NUM_QUANTILE_BINS) + _histogram_small_ints(c, e), e, targets)
        for c, e in zip(counts, edges, strict=True)
    ]
    stats: Stats = {
        "min": mins,
        "max": maxs,
        "mean": m,
        "std": np.sqrt(np.maximum(0, m2 - m**2)),
        "count": np.array([sample_count]),
    }
    for k, key in enumerate(QUANTILE_KEYS):
        stats[key] = np.array([values[k] for values in per_dim])
    return stats


def image_feature_stats(images: np.ndarray, is_depth: bool = False) -> Stats:
    """Per-channel stats of sampled (S, C, H, W) frames, scaled to [0, 1] unless depth.

    Mirrors ``get_feature_stats(axis=(0, 2, 3), keepdims=True)`` followed by
    ``compute_episode_stats``'s division by 255 and squeeze: each stat is (C, 1, 1).
    """
    batch, channels, _, _ = images.shape
    reshaped = images.transpose(0, 2, 3, 1).reshape(-1, channels)
    if (
        images.dtype in (np.uint8, np.uint16)
        and channels > 1
        and reshaped.shape[0] >= 2
        and reshaped.flags.c_contiguous  # rows added in order (a view may be summed pairwise)
    ):
        planes = np.ascontiguousarray(images.transpose(1, 0, 2, 3)).reshape(channels, -1)
        stats = _pixel_stats(planes, batch)
    else:
        stats = _run(reshaped, batch)
    factor = 1.0 if is_depth else 255.0
    out: Stats = {}
    for key, value in stats.items():
        if key == "count":
            out[key] = value
        else:
            out[key] = np.squeeze(value.reshape(1, -1, 1, 1) / factor, axis=0)
    return out


def aggregate_feature_stats(stats_ft_list: list[Stats]) -> Stats:
    """Count-weighted merge of one feature's stats (``compute_stats.aggregate_feature_stats``)."""
    means = np.stack([s["mean"] for s in stats_ft_list])
    variances = np.stack([s["std"] ** 2 for s in stats_ft_list])
    counts = np.stack([s["count"] for s in stats_ft_list])
    total_count = counts.sum(axis=0)
    while counts.ndim < means.ndim:
        counts = np.expand_dims(counts, axis=-1)
    total_mean = (means * counts).sum(axis=0) / total_count
    delta_means = means - total_mean
    total_variance = ((variances + delta_means**2) * counts).sum(axis=0) / total_count
    aggregated = {
        "min": np.min(np.stack([s["min"] for s in stats_ft_list]), axis=0),
        "max": np.max(np.stack([s["max"] for s in stats_ft_list]), axis=0),
        "mean": total_mean,
        "std": np.sqrt(total_variance),
        "count": total_count,
    }
    quantile_keys = [k for k in stats_ft_list[0] if k.startswith("q") and k[1:].isdigit()]
    for q_key in quantile_keys:
        if all(q_key in s for s in stats_ft_list):
            values = np.stack([s[q_key] for s in stats_ft_list])
            aggregated[q_key] = (values * counts).sum(axis=0) / total_count
    return aggregated


def aggregate_stats(stats_list: list[dict[str, Stats]]) -> dict[str, Stats]:
    """Union of features; each merged with ``aggregate_feature_stats``."""
    keys: list[str] = []
    for stats in stats_list:
        keys.extend(k for k in stats if k not in keys)
    return {key: aggregate_feature_stats([s[key] for s in stats_list if key in s]) for key in keys}


class StatsAccumulator:
    """Dataset stats merged one episode at a time, the way the recorder's ``save_episode`` does.

    The recorder runs ``stats = aggregate_stats([stats, episode_stats])`` after every episode;
    doing the same pairwise merge keeps ``stats.json`` identical to its output, bit for bit.
    """

    def __init__(self) -> None:
        self.stats: dict[str, Stats] | None = None

    def add(self, episode_stats: dict[str, Stats]) -> None:
        if self.stats is None:
            self.stats = episode_stats
            return
        merged = {}
        for key in [*self.stats, *(k for k in episode_stats if k not in self.stats)]:
            if key in self.stats and key in episode_stats:
                merged[key] = merge_two(self.stats[key], episode_stats[key])
            else:  # a feature only one side has passes through unchanged, as in aggregate_stats
                merged[key] = aggregate_feature_stats([self.stats.get(key) or episode_stats[key]])
        self.stats = merged


def merge_two(a: Stats, b: Stats) -> Stats:
    """``aggregate_feature_stats([a, b])`` without stacking: same values, bit for bit.

    Each element goes through the same operations in the same dtypes (stacking only widens
    both sides to a common dtype, which the mixed-dtype arithmetic here does as well), and a
    sum over two rows is one addition.
    """
    dtype = np.result_type(a["mean"], b["mean"])
    ma, mb = a["mean"].astype(dtype, copy=False), b["mean"].astype(dtype, copy=False)
    vdtype = np.result_type(a["std"], b["std"])
    va = (a["std"] ** 2).astype(vdtype, copy=False)
    vb = (b["std"] ** 2).astype(vdtype, copy=False)
    ca, cb = a["count"], b["count"]
    total_count = ca + cb
    shape = (-1,) + (1,) * (ma.ndim - 1) if ma.ndim else ()
    wa, wb = ca.reshape(shape) if ma.ndim else ca, cb.reshape(shape) if ma.ndim else cb
    total_mean = (ma * wa + mb * wb) / total_count
    da, db = ma - total_mean, mb - total_mean
    total_variance = ((va + da**2) * wa + (vb + db**2) * wb) / total_count
    mins = np.result_type(a["min"], b["min"])
    maxs = np.result_type(a["max"], b["max"])
    out = {
        "min": np.minimum(a["min"].astype(mins, copy=False), b["min"].astype(mins, copy=False)),
        "max": np.maximum(a["max"].astype(maxs, copy=False), b["max"].astype(maxs, copy=False)),
        "mean": total_mean,
        "std": np.sqrt(total_variance),
        "count": total_count,
    }
    for q_key in (k for k in a if k.startswith("q") and k[1:].isdigit()):
        if q_key in b:
            qd = np.result_type(a[q_key], b[q_key])
            qa, qb = a[q_key].astype(qd, copy=False), b[q_key].astype(qd, copy=False)
            out[q_key] = (qa * wa + qb * wb) / total_count
    return out


def to_jsonable(stats: dict[str, Stats]) -> dict[str, dict[str, list]]:
    """numpy -> nested lists, as ``serialize_dict`` does for ``stats.json``."""
    return {
        ft: {k: np.asarray(v).tolist() for k, v in ft_stats.items()}
        for ft, ft_stats in stats.items()
    }
