"""Stats of an output: exact numeric stats from its rows, image stats reused or re-sampled.

Numeric features are recomputed from the written rows by ``scripts.fix_stats.recompute``
(LeRobot's min/max/count/quantiles, exact float64 mean/std): renumbered ``index`` and
``episode_index`` and trimmed episodes change them, and a merge must not average stale
numbers. A camera's per-episode stats are the source row's when the episode's frames are all
there (the pixels are the source's packets); a trimmed episode's are re-sampled from the
output video the way LeRobot samples them (``sample_indices``). ``stats.json`` is the
converter's parallel-variance aggregate of the episode rows (``scripts.convert.aggregate``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from scripts.convert.aggregate import aggregate_episode_files
from scripts.convert.metadata import write_json
from scripts.convert.pipeline import depth_params
from scripts.convert.stats import (
    Stats,
    auto_downsample_height_width,
    image_feature_stats,
    sample_indices,
    to_jsonable,
)
from scripts.convert.video import frame_array, frames_near
from scripts.edit.errors import EditError
from scripts.edit.plan import Output, Source
from scripts.fix_stats.recompute import FixError, numeric_features, recompute
from validators.dataset_format import STATS_PATH, load_layout


def source_stats(row: dict[str, Any], key: str) -> Stats:
    """A feature's stats as a source ``meta/episodes`` row holds them (numpy arrays)."""
    prefix = f"stats/{key}/"
    return {k[len(prefix) :]: np.asarray(v) for k, v in row.items() if k.startswith(prefix)}


def consistent(stats: Stats) -> bool:
    """min <= mean <= max and finite: what the validator demands of recorded image stats.

    LeRobot 0.6.1's recorder writes a constant channel's float32 mean a rounding outside
    [min, max]; such stats are re-sampled from the video rather than carried over broken.
    """
    try:
        lo, hi, mean = (np.asarray(stats[k], dtype=np.float64) for k in ("min", "max", "mean"))
    except KeyError:
        return False
    return bool(np.all(np.isfinite(mean)) and np.all(lo <= mean) and np.all(mean <= hi))


def numeric(root: Path) -> dict[int, dict[str, Stats]]:
    """Output episode -> numeric feature -> Stats, from the output's own data files."""
    layout = load_layout(root)
    try:
        return recompute(layout, numeric_features(layout))
    except FixError as exc:
        raise EditError(str(exc)) from exc


def camera(root: Path, key: str, video_row: dict[str, Any], length: int, fps: int) -> Stats:
    """One output episode's image stats, decoded from the output video as LeRobot samples."""
    layout = load_layout(root)
    depth = depth_params(layout.features[key])
    path = layout.video_file(
        key, int(video_row[f"videos/{key}/chunk_index"]), int(video_row[f"videos/{key}/file_index"])
    )
    start = float(video_row[f"videos/{key}/from_timestamp"])
    wanted = [start + i / fps for i in sample_indices(length)]
    found = frames_near(path, wanted, lambda frame: frame_array(frame, depth))
    missing = [t for t in wanted if t not in found]
    if missing:
        raise EditError(f"{path}: no frame at {missing[0]:.4f} s ({key})")
    images = np.stack([auto_downsample_height_width(found[t]) for t in wanted])
    return image_feature_stats(images, is_depth=depth is not None)


def episode_stats(
    root: Path,
    sources: list[Source],
    out: Output,
    video_rows: list[dict[str, Any]],
) -> list[dict[str, Stats]]:
    """Per output episode, every feature's stats (numeric recomputed, cameras as above)."""
    fresh = numeric(root)
    fps = out.fps or sources[out.pieces[0].source].layout.fps
    result = []
    for i, piece in enumerate(out.pieces):
        src_row = next(
            r for r in sources[piece.source].episodes if int(r["episode_index"]) == piece.episode
        )
        stats: dict[str, Stats] = {}
        for key in out.features:
            if key in fresh.get(i, {}):
                stats[key] = fresh[i][key]
            elif out.features[key]["dtype"] in ("video", "image"):
                found = source_stats(src_row, key)
                if out.features[key]["dtype"] == "image" or (piece.whole and consistent(found)):
                    if found:
                        stats[key] = found
                else:
                    stats[key] = camera(root, key, video_rows[i], piece.frames, fps)
        result.append(stats)
    return result


def write_dataset_stats(root: Path, features: list[str]) -> None:
    """``meta/stats.json`` from the written ``meta/episodes`` (float64 Chan aggregate)."""
    files = sorted((root / "meta" / "episodes").glob("*/*.parquet"))
    write_json(to_jsonable(aggregate_episode_files(files, features)), root / STATS_PATH)
