"""Float32 slack: how far LeRobot's float32 stats can honestly sit from the values they describe.

Why: LeRobot 0.6.1 computes and stores stats in float32. A joint held at 60.675701 (not a
float32 number) gets min = max = 60.6757011 and a per-episode mean of 60.6757355: 9 ulps
above both, from float32 summation alone (``np.mean`` over axis 0 of an (n, d) array adds
row by row). An absolute tolerance (1e-6) calls that "mean outside [min, max]"; the slack
has to scale with the value's float32 spacing and grow with the number of frames summed.

Measured with LeRobot's own ``get_feature_stats`` on a constant column of an (n, 6) float32
array: 7-13 ulps over 60 frames, up to 88 over 1,000, 1,433 over 10,000, 13,707 over
100,000 (about n/7 ulps, for 60.68, 2048.3, 0.123, 12345.7, -179.99, 1e-30 alike).
"""

from __future__ import annotations

import numpy as np

F32_EPS = float(np.finfo(np.float32).eps)

ULPS = 32
"""Spacing floor: float32 storage plus the error of a short sum (measured <= 13 ulps over 60
frames, 9 on LeRobot's recorder at 45-70 frames)."""

DRIFT_PER_FRAME = 0.5
"""Growth with the frames summed, in ulps per frame: the measured drift is ~n/7 ulps, so
n/2 keeps a 3.5x margin at every length measured (60 to 100,000 frames)."""


def spacing(values: np.ndarray | float) -> np.ndarray:
    """The float32 spacing (1 ulp) at each value's magnitude, as float64."""
    mag = np.abs(np.asarray(values, dtype=np.float64))
    with np.errstate(over="ignore"):
        return np.spacing(mag.astype(np.float32)).astype(np.float64)


def slack(values: np.ndarray | float, count: np.ndarray | float = 1.0) -> np.ndarray:
    """Largest honest float32 error of a stat of ``count`` values of this magnitude."""
    mag = np.abs(np.asarray(values, dtype=np.float64))
    n = np.maximum(np.asarray(count, dtype=np.float64), 1.0)
    return ULPS * spacing(mag) + DRIFT_PER_FRAME * n * F32_EPS * mag
