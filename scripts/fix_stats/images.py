"""Image stats recomputed from a v3.0 dataset's videos (``make fix-stats IMAGES=1``).

The frames LeRobot's stats sample (``sample_indices``, then ``auto_downsample_height_width``)
are decoded from each episode's stretch of its video file, found at ``from_timestamp + i/fps``
as LeRobot looks frames up; the stats are the converter's (exact mean/std from the pixel value
counts, LeRobot's quantiles). Depth cameras are dequantised as the converter does.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from scripts.convert.pipeline import depth_params
from scripts.convert.stats import (
    Stats,
    auto_downsample_height_width,
    image_feature_stats,
    sample_indices,
)
from scripts.convert.video import frame_array, frames_near
from scripts.fix_stats.recompute import FixError
from validators.dataset_format import DatasetLayout


def camera_stats(
    layout: DatasetLayout, key: str, tick: Callable[[int], None] | None = None
) -> dict[int, Stats]:
    """Episode index -> the camera's image stats, decoded from the dataset's own videos."""
    depth = depth_params(layout.features[key])
    cols = [f"videos/{key}/{c}" for c in ("chunk_index", "file_index", "from_timestamp")]
    files = sorted((layout.root / "meta" / "episodes").glob("*/*.parquet"))
    table = pa.concat_tables(
        pq.read_table(f, columns=["episode_index", "length", *cols]) for f in files
    )
    names = ["episode_index", "length", *cols]
    rows = zip(*(table.column(c).to_pylist() for c in names), strict=True)
    out: dict[int, Stats] = {}
    for episode, length, chunk, file, start in rows:
        path = layout.video_file(key, chunk, file)
        wanted = [start + i / layout.fps for i in sample_indices(int(length))]
        found = frames_near(path, wanted, lambda frame: frame_array(frame, depth))
        missing = [t for t in wanted if t not in found]
        if missing:
            raise FixError(path, f"episode {episode}: no frame at {missing[0]:.4f} s ({key})")
        images = np.stack([auto_downsample_height_width(found[t]) for t in wanted])
        out[int(episode)] = image_feature_stats(images, is_depth=depth is not None)
        if tick:
            tick(1)
    return out
