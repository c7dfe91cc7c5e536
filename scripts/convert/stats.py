"""LeRobot 0.6.1's statistics, ported to plain numpy (no torch, no LeRobot import), with
exact means and standard deviations.

Why a port: the converter runs in the light tools env, and the per-episode
``stats/<feature>/<stat>`` columns must hold what the pinned recorder writes, quantiles
included (``compute_stats.py``: ``RunningQuantileStats`` with 5000-bin histograms,
``get_feature_stats``, ``sample_indices``, ``auto_downsample_height_width``). min, max, count
and the quantiles are a faithful copy of that arithmetic (tests compare them with LeRobot's
own code on the same frames).

Where LeRobot is wrong we are not: its mean and std come from ``E[x^2] - E[x]^2`` accumulated
in float32, which cancels catastrophically for a feature far from zero (a joint at 2048 +-
0.05 gets std 0 or 10x too large). Here mean and std are float64 centred moments
(``validators.moments``); for integer pixels they are computed from the exact value counts.
``stats.json`` is aggregated in ``aggregate.py``.
"""

from __future__ import annotations

import math

import numpy as np

from validators.dataset_format import NUM_QUANTILE_BINS, QUANTILE_KEYS, QUANTILES
from validators.moments import segment_moments

Stats = dict[str, np.ndarray]


class RunningQuantileStats:
    """Histogram-based min/max/quantiles as LeRobot computes them; mean/std exact (float64)."""

    def __init__(self, num_quantile_bins: int = NUM_QUANTILE_BINS) -> None:
        self._count = 0
        self._mean: np.ndarray | None = None
        self._std: np.ndarray | None = None
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
        exact = segment_moments(batch, np.array([num_elements]))
        self._mean, self._std = exact.mean[0], exact.std[0]
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
        stats = {
            "min": self._min.copy(),
            "max": self._max.copy(),
            "mean": self._mean.copy(),
            "std": self._std.copy(),
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

    Means and stds are exact (float64 centred moments); min/max, bin edges, bins and
    quantiles are LeRobot's and element-wise per dimension, so the
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
        if not np.isfinite(edges).all():  # max - min overflows: as RunningQuantileStats does
            for key, _ in members:
                out[key] = numeric_feature_stats(arrays[key])
            continue
        bins = _sorted_bins(columns, edges)
        targets = [q * count for q in QUANTILES]
        edge, value, at_edge, _ = _quantile_parts(bins, edges, targets)
        lo = 0
        for key, batch in members:
            hi = lo + batch.shape[1]
            exact = segment_moments(batch, np.array([count]))
            stats: Stats = {
                "min": mins[lo:hi].copy(),
                "max": maxs[lo:hi].copy(),
                "mean": exact.mean[0],
                "std": exact.std[0],
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
    """LeRobot's fallback for fewer than 2 rows: quantiles are copies of its (float32) mean."""
    wide = array.astype(np.float64)
    stats = {
        "min": np.min(array, axis=0),
        "max": np.max(array, axis=0),
        "mean": np.mean(wide, axis=0),
        "std": np.std(wide, axis=0),
        "count": np.array([sample_count]),
    }
    lerobot_mean = np.mean(array, axis=0)
    for key in QUANTILE_KEYS:
        stats[key] = lerobot_mean.copy()
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


def counts_moments(counts: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact mean and std of integer pixels from their value counts (K, V): value v, count c.

    Why counts: every pixel is an integer, so its histogram is exact, and the centred
    moments follow in float64 with no summation over millions of pixels (LeRobot sums them
    in float32, where an image that is nearly flat around a large value loses its variance
    to cancellation just as an offset joint does).
    """
    values = np.arange(counts.shape[1], dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    mean = (counts @ values) / n
    dev = values[np.newaxis, :] - mean[:, np.newaxis]
    var = (counts * dev * dev).sum(axis=1) / n
    return mean, np.sqrt(var)


def _pixel_stats(planes: np.ndarray, sample_count: int) -> Stats:
    """``RunningQuantileStats`` of integer pixels given as (C, N) contiguous channel planes.

    Same min/max/quantiles as feeding the (N, C) rows to :class:`RunningQuantileStats`, from
    one ``np.bincount`` per channel (exact for integers); mean and std exact from the same
    counts (:func:`counts_moments`).
    """
    channels, n = planes.shape
    counts = [np.bincount(planes[i]) for i in range(channels)]
    width = max(len(c) for c in counts)
    table = np.stack([np.pad(c, (0, width - len(c))) for c in counts])
    m, std = counts_moments(table, np.full(channels, n))
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
        "std": std,
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


def to_jsonable(stats: dict[str, Stats]) -> dict[str, dict[str, list]]:
    """numpy -> nested lists, as ``serialize_dict`` does for ``stats.json``."""
    return {
        ft: {k: np.asarray(v).tolist() for k, v in ft_stats.items()}
        for ft, ft_stats in stats.items()
    }


# ---------------------------------------------------------------------------
# Batched per-episode stats (added for the data pass): many episodes in one call, each
# episode's result equal, bit for bit, to ``numeric_stats_many`` on that episode alone.
# ---------------------------------------------------------------------------

_SEGMENT_BLOCK = 1 << 20  # values binned at once: bounds the bin search's temporaries


def _segment_supported(values: np.ndarray) -> bool:
    """Columns the batched path handles the way ``numeric_stats_many`` groups them."""
    if values.ndim not in (1, 2) or values.dtype in (np.uint8, np.uint16):
        return False
    if values.dtype.kind not in "biuf":
        return False
    return np.result_type(values.dtype, np.float32) in (np.float32, np.float64)


class _LazyEdges:
    """Bin edges of many histograms, computed only where asked (never a (rows, 5001) array).

    An element at position ``j`` equals ``_edges(starts, stops, num)[row, j]``: the same
    operations on the same operands (``arange[j] * step + start``, or ``arange[j] / div *
    delta + start`` when the row's step is zero; ``stop`` at the last position), so bins and
    quantiles match bit for bit. Parameters are arrays of one shape (one histogram each);
    :meth:`take` re-indexes them, e.g. to one entry per value.
    """

    def __init__(self, starts: np.ndarray, stops: np.ndarray, num: int) -> None:
        dt = np.result_type(starts, stops, np.float16)
        div = num - 1
        self.num = num
        self.arange = np.arange(0, num, dtype=dt)
        self.arange_div = self.arange / div
        self.starts = starts.astype(dt, copy=False)
        self.stops = stops.astype(dt, copy=False)
        self.delta = np.subtract(stops, starts, dtype=dt.type)
        self.step = self.delta / div
        self.zero = self.step == 0

    def take(self, index: tuple[np.ndarray, ...] | slice) -> _LazyEdges:
        """The same edges with every parameter indexed by ``index``."""
        other = object.__new__(_LazyEdges)
        other.num, other.arange, other.arange_div = self.num, self.arange, self.arange_div
        for name in ("starts", "stops", "delta", "step", "zero"):
            setattr(other, name, getattr(self, name)[index])
        return other

    def at(self, j: np.ndarray) -> np.ndarray:
        """Edges at positions ``j`` (broadcast against the parameters)."""
        out = self.arange[j] * self.step
        if self.zero.any():
            out = np.where(self.zero, self.arange_div[j] * self.delta, out)
        out += self.starts
        last = j == self.num - 1
        if last.any():
            out = np.where(last, self.stops, out)
        return out


def _segment_bins(values: np.ndarray, edges: _LazyEdges) -> np.ndarray:
    """Each value's histogram bin by ``_sorted_bins``' rule: ``searchsorted(row, v, "right")-1``.

    ``values`` and ``edges`` have one entry per value. On a non-decreasing edge row (edges
    are: ``arange * step`` and the added start are monotonic, the last is the largest) that
    is the last position whose edge is ``<= v``. A guess from ``(v - start) / step`` is
    checked against the exact edges on both sides; values it misses (rounding, repeated
    edges, zero steps) are found by binary search. A value equal to the last edge goes in
    the last bin.
    """
    num = edges.num
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        guess = np.floor((values - edges.starts.astype(np.float64)) / edges.step)
    guess = np.where(np.isfinite(guess), guess, num - 1)
    bins = np.clip(guess, 0, num - 1).astype(np.int64)
    nxt = np.minimum(bins + 1, num - 1)
    missed = (edges.at(bins) > values) | ((bins < num - 1) & (edges.at(nxt) <= values))
    if missed.any():
        bins[missed] = _search_bins(values[missed], edges.take(missed))
    bins[values == edges.stops] = num - 2
    return bins


def _search_bins(values: np.ndarray, edges: _LazyEdges) -> np.ndarray:
    """Last position with edge ``<= v`` (-1 if none), by vectorised binary search."""
    num = edges.num
    lo = np.zeros(values.shape, dtype=np.int64)
    hi = np.full(values.shape, num, dtype=np.int64)
    while True:
        active = lo < hi
        if not active.any():
            break
        mid = np.minimum((lo + hi) >> 1, num - 1)
        le = edges.at(mid) <= values
        lo = np.where(active & le, mid + 1, lo)
        hi = np.where(active & ~le, mid, hi)
    return lo - 1


def _segment_quantiles(
    sorted_bins: np.ndarray, edges: _LazyEdges, lengths: np.ndarray, offsets: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``_quantile_parts`` of every episode at once: (T, D, E) edge, value and at_edge.

    ``sorted_bins`` is (D, N) with each episode's bins sorted within its rows; ``edges``
    has (D, E) parameters.
    """
    nbins = edges.num - 1
    targets = np.array(QUANTILES, dtype=np.float64)[:, np.newaxis] * lengths  # q * count
    ms = np.ceil(targets).astype(np.int64)  # (T, E): math.ceil of each target
    beyond = ms > lengths
    idx = sorted_bins[:, offsets + np.clip(ms - 1, 0, lengths - 1)].transpose(1, 0, 2).copy()
    idx[np.broadcast_to((ms <= 0)[:, np.newaxis, :], idx.shape)] = 0
    idx[np.broadcast_to(beyond[:, np.newaxis, :], idx.shape)] = nbins
    edge = edges.at(idx)
    right = edges.at(np.minimum(idx + 1, nbins))
    count_before = np.empty(idx.shape, dtype=np.float64)
    count_in_bin = np.empty(idx.shape, dtype=np.float64)
    for k in range(idx.shape[0]):
        per_value = np.repeat(idx[k], lengths, axis=1)
        count_before[k] = np.add.reduceat(sorted_bins < per_value, offsets, axis=1, dtype=np.int64)
        count_in_bin[k] = np.add.reduceat(sorted_bins == per_value, offsets, axis=1, dtype=np.int64)
    tcol = targets[:, np.newaxis, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        value = edge + ((tcol - count_before) / count_in_bin) * (right - edge)
    at_edge = (idx == 0) | beyond[:, np.newaxis, :]
    return edge, value, at_edge


def numeric_stats_segments(
    arrays: dict[str, np.ndarray], lengths: np.ndarray
) -> list[dict[str, Stats]]:
    """``numeric_stats_many`` of every episode of a batch, the element-wise work done once.

    ``arrays`` hold the batch's rows (episodes back to back, ``lengths[e]`` rows each),
    shaped as ``numeric_stats_many`` takes them; the result has one entry per episode, equal
    (values, dtypes, shapes) to ``numeric_stats_many`` on that episode's rows. Why: for short
    episodes the per-call overhead of the one-episode path dominates the data pass. Min/max,
    edges, bins and quantiles are element-wise per (episode, dimension) and done for all
    episodes at once; means and stds are exact (float64 centred moments). Episodes
    this does not reproduce by construction (fewer than 2 rows; non-finite values or ranges;
    0.0 and -0.0 in one column, where the sign of a zero min/max depends on the order of
    comparisons) and unusual columns take ``numeric_stats_many`` itself.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    ends = np.cumsum(lengths)
    offsets = ends - lengths
    n_eps = len(lengths)
    total = int(ends[-1]) if n_eps else 0
    for key, values in arrays.items():
        if values.shape[0] != total:
            raise ValueError(f"{key}: {values.shape[0]} rows, but the lengths sum to {total}")

    def one(e: int) -> dict[str, Stats]:
        lo, hi = int(offsets[e]), int(ends[e])
        return numeric_stats_many({k: v[lo:hi] for k, v in arrays.items()})

    if not n_eps:
        return []
    if (lengths < 1).any() or not all(_segment_supported(v) for v in arrays.values()):
        return [one(e) for e in range(n_eps)]

    seg_of = np.repeat(np.arange(n_eps), lengths)
    num = NUM_QUANTILE_BINS + 1
    fallback = lengths < 2
    groups: dict[np.dtype, list[tuple[str, np.ndarray]]] = {}
    for key, values in arrays.items():
        reshaped = values.reshape(-1, 1) if values.ndim == 1 else values
        batch = reshaped.astype(np.result_type(reshaped.dtype, np.float32), copy=False)
        groups.setdefault(batch.dtype, []).append((key, batch))

    parts: dict[str, tuple[np.ndarray, ...]] = {}
    for members in groups.values():
        columns = np.concatenate([b.T for _, b in members], axis=0)  # (D, N)
        dims = columns.shape[0]
        fallback |= np.logical_or.reduceat(~np.isfinite(columns).all(axis=0), offsets)
        zero = columns == 0
        negative = np.signbit(columns)
        both_zeros = np.logical_or.reduceat(zero & negative, offsets, axis=1)
        both_zeros &= np.logical_or.reduceat(zero & ~negative, offsets, axis=1)
        fallback |= both_zeros.any(axis=0)
        with np.errstate(invalid="ignore", over="ignore"):
            mins = np.minimum.reduceat(columns, offsets, axis=1)  # (D, E)
            maxs = np.maximum.reduceat(columns, offsets, axis=1)
            edges = _LazyEdges(mins - 1e-10, maxs + 1e-10, num)
        fallback |= ~(np.isfinite(edges.delta) & np.isfinite(edges.step)).all(axis=0)
        ok = ~fallback[seg_of]
        sorted_bins = np.empty(columns.shape, dtype=np.int64)
        block = max(1, _SEGMENT_BLOCK // total)
        stride = num + 2  # bins of skipped episodes may be -1..num-1: keep segments apart
        with np.errstate(invalid="ignore", over="ignore"):
            for d0 in range(0, dims, block):
                d = np.arange(d0, min(d0 + block, dims))[:, np.newaxis]
                bins = _segment_bins(columns[d0 : d0 + block], edges.take((d, seg_of)))
                if ((bins < 0) | (bins >= NUM_QUANTILE_BINS))[:, ok].any():
                    raise AssertionError("a value outside its histogram's edges")
                keys = seg_of * stride + (bins + 1)
                keys.sort(axis=1)
                sorted_bins[d0 : d0 + block] = keys - seg_of * stride - 1
            edge, value, at_edge = _segment_quantiles(sorted_bins, edges, lengths, offsets)
        exact = segment_moments(columns.T, lengths)  # float64 centred: (E, D)
        m, std = exact.mean, exact.std
        q_edge = edge.transpose(0, 2, 1).copy()  # (T, E, D)
        q_value = np.where(at_edge, edge.astype(value.dtype), value).transpose(0, 2, 1).copy()
        q_at = at_edge.transpose(0, 2, 1)
        mins_t, maxs_t = mins.T.copy(), maxs.T.copy()
        lo = 0
        for key, batch in members:
            hi = lo + batch.shape[1]
            parts[key] = (
                mins_t[:, lo:hi],
                maxs_t[:, lo:hi],
                m[:, lo:hi],
                std[:, lo:hi],
                q_edge[:, :, lo:hi],
                q_value[:, :, lo:hi],
                q_at[:, :, lo:hi].all(axis=2),  # (T, E): all at an edge keeps the edge dtype
            )
            lo = hi

    out: list[dict[str, Stats]] = []
    for e in range(n_eps):
        if fallback[e]:
            out.append(one(e))
            continue
        count = int(lengths[e])
        episode: dict[str, Stats] = {}
        for key in arrays:
            mins_k, maxs_k, mean_k, std_k, q_edge_k, q_value_k, all_at = parts[key]
            stats: Stats = {
                "min": mins_k[e],
                "max": maxs_k[e],
                "mean": mean_k[e],
                "std": std_k[e],
                "count": np.array([count]),
            }
            for k, qkey in enumerate(QUANTILE_KEYS):
                stats[qkey] = q_edge_k[k, e] if all_at[k, e] else q_value_k[k, e]
            episode[key] = stats
        out.append(episode)
    return out


# ---------------------------------------------------------------------------
# Batched image stats (added for the video pass): ``image_feature_stats`` of many episodes'
# sampled RGB frames at once, each episode's result equal to it. The per-episode path spends
# most of its time in NumPy call overhead (short episodes); value counts per (episode,
# channel) give every stat exactly.
# ---------------------------------------------------------------------------


def image_stats_eligible(frames: np.ndarray | list[np.ndarray]) -> bool:
    """Whether one episode's channel-last ``frames`` take :func:`image_stats_batch`'s path.

    Exactly when ``image_feature_stats`` of their stack uses :func:`_pixel_stats` (in-order
    sums): uint8, several channels, at least two pixel rows. ``np.stack`` of channel-first
    views of channel-last frames keeps the channel-last memory order, so its row view is
    contiguous, whatever the number of frames.
    """
    if not len(frames):
        return False
    first = frames[0]
    return (
        first.ndim == 3
        and first.shape[2] > 1
        and len(frames) * first.shape[0] * first.shape[1] >= 2
        and all(f.dtype == np.uint8 and f.shape == first.shape for f in frames)
    )


def image_stats_batch(batch: list[np.ndarray | list[np.ndarray]]) -> list[Stats]:
    """``image_feature_stats`` of each episode's sampled frames, given channel last.

    Each element is one episode: an (S, H, W, C) array or a sequence of S (H, W, C) arrays
    (views are fine: what the decoder hands out is rgb24, channel last, and no stacked copy
    is needed). The reference is ``image_feature_stats(np.stack([f.transpose(2, 0, 1) for f
    in frames]))``, what the video pass computed one episode at a time. Eligible episodes
    (uint8 RGB) share the work; anything else goes through that reference itself.
    """
    out: list[Stats | None] = [None] * len(batch)
    shared = [i for i, a in enumerate(batch) if image_stats_eligible(a)]
    shared_set = set(shared)
    for i, a in enumerate(batch):
        if i not in shared_set:
            out[i] = image_feature_stats(np.stack([f.transpose(2, 0, 1) for f in a]))
    if shared:
        planes = [(episode_planes(batch[i]), len(batch[i])) for i in shared]
        for i, stats in zip(shared, rgb_stats_planes(planes), strict=True):
            out[i] = stats
    return out  # type: ignore[return-value]


def episode_planes(frames: np.ndarray | list[np.ndarray]) -> np.ndarray:
    """(C, S*H*W) contiguous channel planes of one episode's channel-last frames.

    The one copy the batched stats need: strided (downsampled) views go straight into it,
    so a pending batch holds only these planes, never whole decoded frames.
    """
    h, w, c = frames[0].shape
    planes = np.empty((c, len(frames), h, w), dtype=np.uint8)
    for i, frame in enumerate(frames):
        planes[:, i] = frame.transpose(2, 0, 1)
    return planes.reshape(c, -1)


def _value_counts(episodes: list[np.ndarray]) -> np.ndarray:
    """(K, 256) value counts of every column (episode, channel), numbered episode by episode.

    ``episodes[e]`` is episode e's (C_e, N_e) uint8 channel planes. Everything the stats
    need follows exactly from these counts: min/max, LeRobot's histogram quantiles, and the
    exact mean and std (:func:`counts_moments`).
    """
    width = sum(p.shape[0] for p in episodes)
    counts = np.zeros((width, 256), dtype=np.int64)
    col = 0
    for planes in episodes:
        for plane in planes:
            counts[col] = np.bincount(plane, minlength=256)
            col += 1
    return counts


def rgb_stats_planes(batch: list[tuple[np.ndarray, int]]) -> list[Stats]:
    """:func:`_pixel_stats` (then ``image_feature_stats``'s scaling) for every episode at once.

    ``batch[e]`` is episode e's :func:`episode_planes` of eligible frames
    (:func:`image_stats_eligible`) and its number of frames.

    Per column (episode, channel): exact mean and std, min/max from the value counts, bin
    edges from one :func:`_edges` call, and each quantile from the value counts: the
    5000-bin histogram's cumulative count first reaching the target is at the bin of the
    first value whose cumulative count reaches it, and the counts before / in that bin are
    sums of value counts (exact integers, as the float64 histogram's are).
    """
    episodes = [p for p, _ in batch]
    width = sum(p.shape[0] for p in episodes)
    n_rows = np.concatenate([np.full(p.shape[0], p.shape[1], dtype=np.intp) for p in episodes])
    counts = _value_counts(episodes)
    m, std = counts_moments(counts, n_rows)

    present = counts > 0
    mins = np.argmax(present, axis=1).astype(np.float32)
    maxs = (255 - np.argmax(present[:, ::-1], axis=1)).astype(np.float32)
    edges = _edges(mins - 1e-10, maxs + 1e-10, NUM_QUANTILE_BINS + 1)
    nbins = NUM_QUANTILE_BINS
    values = np.arange(256, dtype=np.float32)
    bins = np.empty((width, 256), dtype=np.int64)
    for k in range(width):
        b = np.searchsorted(edges[k], values, side="right") - 1
        b[values == edges[k, -1]] = nbins - 1
        bins[k] = b
    cum = np.cumsum(counts, axis=1)
    targets = np.array(QUANTILES, dtype=np.float64)[np.newaxis, :] * n_rows[:, np.newaxis]
    first = (cum[:, np.newaxis, :] < targets[:, :, np.newaxis]).sum(axis=2)  # (K, T)
    beyond = first >= 256
    idx = np.take_along_axis(bins, np.minimum(first, 255), axis=1)
    idx[targets <= 0] = 0
    idx[beyond] = nbins
    weights = counts[:, np.newaxis, :]
    before = ((bins[:, np.newaxis, :] < idx[:, :, np.newaxis]) * weights).sum(axis=2)
    inside = ((bins[:, np.newaxis, :] == idx[:, :, np.newaxis]) * weights).sum(axis=2)
    rows_k = np.arange(width)[:, np.newaxis]
    edge = edges[rows_k, idx]
    right = edges[rows_k, np.minimum(idx + 1, nbins)]
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = (targets - before.astype(np.float64)) / inside.astype(np.float64)
        value = edge + fraction * (right - edge)
    at_edge = (idx == 0) | beyond

    scaled = {
        "min": mins / 255.0,
        "max": maxs / 255.0,
        "mean": m / 255.0,
        "std": std / 255.0,
    }
    out: list[Stats] = []
    col = 0
    for p, count in batch:
        c0, c1 = col, col + p.shape[0]
        col = c1
        stats: Stats = {k: v[c0:c1].reshape(-1, 1, 1) for k, v in scaled.items()}
        stats["count"] = np.array([count])
        for t, key in enumerate(QUANTILE_KEYS):
            q = _pick_quantile(edge[c0:c1, t], value[c0:c1, t], at_edge[c0:c1, t])
            stats[key] = q.reshape(-1, 1, 1) / 255.0
        out.append({k: stats[k] for k in ("min", "max", "mean", "std", "count", *QUANTILE_KEYS)})
    return out
