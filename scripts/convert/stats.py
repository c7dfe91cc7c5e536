"""LeRobot 0.6.1's statistics, ported to plain numpy (no torch, no LeRobot import).

Why a port: the converter runs in the light tools env, and ``stats.json`` / the per-episode
``stats/<feature>/<stat>`` columns must hold exactly what the pinned recorder writes,
quantiles included (``compute_stats.py``: ``RunningQuantileStats`` with 5000-bin histograms,
``get_feature_stats``, ``sample_indices``, ``auto_downsample_height_width``,
``aggregate_stats``). Keep this file a faithful copy of that arithmetic (dtypes included):
a test compares its output with LeRobot's own writer on the same frames.
"""

from __future__ import annotations

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

    def update(self, batch: np.ndarray) -> None:
        """Take the episode's one batch (``compute_episode_stats`` makes exactly one call).

        Same arithmetic as LeRobot's first ``update`` (float32 stays float32, integers are
        widened to float64), with two exact shortcuts: min/max are taken over contiguous
        columns (order does not matter for them), and histograms of uint8/uint16 pixels are
        counted per distinct value.
        """
        if self._count:
            raise RuntimeError("one batch per instance: stats are per episode")
        batch = batch.reshape(-1, batch.shape[-1])
        raw = batch if batch.dtype in (np.uint8, np.uint16) else None
        batch = batch.astype(np.result_type(batch.dtype, np.float32), copy=False)
        num_elements, vector_length = batch.shape
        columns = np.ascontiguousarray(batch.T)
        batch_mean = np.mean(batch, axis=0)
        batch_mean_of_squares = np.mean(batch**2, axis=0)
        self._mean = batch_mean.copy()
        self._mean_of_squares = batch_mean_of_squares.copy()
        self._min = columns.min(axis=1)
        self._max = columns.max(axis=1)
        self._histograms = [np.zeros(self._bins) for _ in range(vector_length)]
        self._bin_edges = [
            np.linspace(self._min[i] - 1e-10, self._max[i] + 1e-10, self._bins + 1)
            for i in range(vector_length)
        ]
        self._count += num_elements
        self._mean += (batch_mean - self._mean) * (num_elements / self._count)
        self._mean_of_squares += (batch_mean_of_squares - self._mean_of_squares) * (
            num_elements / self._count
        )
        for i in range(vector_length):
            if raw is not None:
                self._histograms[i] += _histogram_small_ints(raw[:, i], self._bin_edges[i])
            else:
                self._histograms[i] += _histogram(columns[i], self._bin_edges[i])

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
        per_dim = [
            _quantiles(h, e, targets)
            for h, e in zip(self._histograms, self._bin_edges, strict=True)
        ]
        for k, key in enumerate(QUANTILE_KEYS):
            stats[key] = np.array([values[k] for values in per_dim])
        return stats


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


def _histogram_small_ints(raw: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Same counts as :func:`_histogram` for uint8/uint16 pixels, in O(n) instead of a sort.

    Each distinct value lands in bin ``searchsorted(edges, v, "right") - 1`` (the last bin is
    closed), exactly the rule NumPy's sorted counting applies; counting the values first
    (``bincount``) makes a picture's histogram cheap.
    """
    counts = np.bincount(raw)
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


def image_feature_stats(images: np.ndarray, is_depth: bool = False) -> Stats:
    """Per-channel stats of sampled (S, C, H, W) frames, scaled to [0, 1] unless depth.

    Mirrors ``get_feature_stats(axis=(0, 2, 3), keepdims=True)`` followed by
    ``compute_episode_stats``'s division by 255 and squeeze: each stat is (C, 1, 1).
    """
    batch, channels, _, _ = images.shape
    reshaped = images.transpose(0, 2, 3, 1).reshape(-1, channels)
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
