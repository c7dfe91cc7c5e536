"""Per-episode stats exactly as LeRobot 0.3.3's ``compute_episode_stats`` wrote them.

Numeric features: min/max/mean/std over frames (numpy on the recorder's arrays: float32 for
state/action, float64 timestamps, int64 indices), ``count=[n]``. Visual features: per channel
over a sample of frames (``sample_indices``), as (C, 1, 1) nested lists, RGB divided by 255.
Depth (a 0.6.1 addition) is not divided: its stats stay in millimetres like 0.6.1 records them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# LeRobot samples the same frames and downsamples the same way in 0.3.3 and 0.6.1.
from scripts.convert.stats import auto_downsample_height_width, sample_indices


def feature_stats(array: np.ndarray, axis: Any, keepdims: bool) -> dict[str, np.ndarray]:
    return {
        "min": np.min(array, axis=axis, keepdims=keepdims),
        "max": np.max(array, axis=axis, keepdims=keepdims),
        "mean": np.mean(array, axis=axis, keepdims=keepdims),
        "std": np.std(array, axis=axis, keepdims=keepdims),
        "count": np.array([len(array)]),
    }


def numeric_stats(data: np.ndarray) -> dict[str, np.ndarray]:
    return feature_stats(data, axis=0, keepdims=data.ndim == 1)


def visual_stats(frames: list[np.ndarray], *, depth: bool = False) -> dict[str, np.ndarray]:
    """``frames``: HWC (RGB uint8) or HW (depth uint16) arrays, in frame order."""
    picked = []
    for idx in sample_indices(len(frames)):
        img = frames[idx]
        chw = img[None] if img.ndim == 2 else np.transpose(img, (2, 0, 1))
        picked.append(auto_downsample_height_width(chw))
    stacked = np.stack(picked)
    stats = feature_stats(stacked, axis=(0, 2, 3), keepdims=True)
    factor = 1.0 if depth else 255.0
    return {k: v if k == "count" else np.squeeze(v / factor, axis=0) for k, v in stats.items()}


def to_json(stats: dict[str, dict[str, np.ndarray]]) -> dict[str, dict[str, Any]]:
    return {key: {k: np.asarray(v).tolist() for k, v in st.items()} for key, st in stats.items()}
