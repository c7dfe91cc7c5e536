"""Exact mean and standard deviation: float64 centred moments, combined with Chan's formula.

Why not LeRobot's arithmetic: LeRobot 0.6.1 (``RunningQuantileStats``) accumulates
``E[x^2] - E[x]^2`` in float32. For a joint at 2048 +- 0.05 (raw Dynamixel ticks) the two terms
agree in every bit float32 has, and the std comes out 0 or 10-20x too large (catastrophic
cancellation; upstream fix huggingface/lerobot PR #4704). Here every value is widened to
float64, each segment's mean is taken first and the squared deviations from it are summed
(two passes, no cancellation), and segments (episodes, batches) are merged by the parallel
variance formula, whose correction term is a sum of non-negative squares.

One implementation for the converter, the validator's ``stats`` check and ``make fix-stats``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Moments:
    """Count, mean and sum of squared deviations (M2) per dimension; min/max ride along."""

    count: np.ndarray  # (...,) int64
    mean: np.ndarray  # (..., D) float64
    m2: np.ndarray  # (..., D) float64
    min: np.ndarray  # (..., D) float64
    max: np.ndarray  # (..., D) float64

    @property
    def std(self) -> np.ndarray:
        """Population std (ddof=0), as LeRobot reports it."""
        count = np.maximum(self.count, 1).astype(np.float64)
        return np.sqrt(self.m2 / count[..., np.newaxis])


def as_rows(values: np.ndarray) -> np.ndarray:
    """(N,) or (N, *shape) -> (N, D) float64 (a length-1 axis for scalar features)."""
    rows = values.reshape(values.shape[0], -1) if values.ndim != 1 else values.reshape(-1, 1)
    return rows.astype(np.float64, copy=False)


def segment_moments(values: np.ndarray, lengths: np.ndarray) -> Moments:
    """Moments of consecutive segments (episodes back to back, ``lengths[e]`` rows each).

    Two passes per segment, vectorised over all of them: ``mean = sum(x) / n``, then
    ``M2 = sum((x - mean)^2)``. Every segment must have at least one row.
    """
    rows = as_rows(values)
    lengths = np.asarray(lengths, dtype=np.int64)
    if (lengths < 1).any():
        raise ValueError("every segment needs at least one row")
    if int(lengths.sum()) != rows.shape[0]:
        raise ValueError(f"{rows.shape[0]} rows, but the lengths sum to {int(lengths.sum())}")
    offsets = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    mean = np.add.reduceat(rows, offsets, axis=0) / lengths[:, np.newaxis]
    dev = rows - np.repeat(mean, lengths, axis=0)
    m2 = np.add.reduceat(dev * dev, offsets, axis=0)
    return Moments(
        count=lengths,
        mean=mean,
        m2=m2,
        min=np.minimum.reduceat(rows, offsets, axis=0),
        max=np.maximum.reduceat(rows, offsets, axis=0),
    )


def combine(parts: Moments) -> Moments:
    """Merge stacked segments (leading axis) into one: Chan et al.'s parallel variance.

    ``mean = sum(n_i mean_i) / N``; ``M2 = sum(M2_i) + sum(n_i (mean_i - mean)^2)``. The
    correction is computed from each segment's deviation from the merged mean, so nothing
    cancels however large the mean is.
    """
    counts = parts.count.astype(np.float64)
    total = float(counts.sum())
    if total <= 0:
        raise ValueError("no rows to combine")
    weights = counts.reshape(-1, *([1] * (parts.mean.ndim - 1)))
    mean = (parts.mean * weights).sum(axis=0) / total
    delta = parts.mean - mean
    m2 = parts.m2.sum(axis=0) + (weights * delta * delta).sum(axis=0)
    return Moments(
        count=np.asarray(int(parts.count.sum()), dtype=np.int64),
        mean=mean,
        m2=m2,
        min=parts.min.min(axis=0),
        max=parts.max.max(axis=0),
    )


def from_mean_std(count: np.ndarray, mean: np.ndarray, std: np.ndarray) -> Moments:
    """Stacked per-episode (count, mean, std) as written in ``meta/episodes`` -> Moments."""
    count = np.asarray(count, dtype=np.int64).reshape(len(mean))
    mean = np.asarray(mean, dtype=np.float64)
    std = np.asarray(std, dtype=np.float64)
    shape = (-1, *([1] * (mean.ndim - 1)))
    return Moments(
        count=count,
        mean=mean,
        m2=std * std * count.reshape(shape),
        min=mean,
        max=mean,
    )


class StreamingMoments:
    """Exact moments of rows fed in batches (any batch boundaries give the same answer)."""

    def __init__(self) -> None:
        self._acc: Moments | None = None

    def update(self, values: np.ndarray) -> None:
        if values.shape[0] == 0:
            return
        seg = segment_moments(values, np.array([values.shape[0]]))
        if self._acc is None:
            self._acc = Moments(seg.count[0], seg.mean[0], seg.m2[0], seg.min[0], seg.max[0])
            return
        self.merge(Moments(seg.count[0], seg.mean[0], seg.m2[0], seg.min[0], seg.max[0]))

    def merge(self, other: Moments) -> None:
        """Add another segment's (unstacked) moments."""
        if self._acc is None:
            self._acc = other
            return
        a = self._acc
        stacked = Moments(
            count=np.array([a.count, other.count], dtype=np.int64),
            mean=np.stack([a.mean, other.mean]),
            m2=np.stack([a.m2, other.m2]),
            min=np.stack([a.min, other.min]),
            max=np.stack([a.max, other.max]),
        )
        self._acc = combine(stacked)

    @property
    def result(self) -> Moments | None:
        return self._acc
