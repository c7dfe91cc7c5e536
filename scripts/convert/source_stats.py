"""The v2.1 source's own per-episode stats: image stats reused, numeric stats a cross-check.

Why reuse image stats: computing them means decoding every sampled frame (LeRobot samples
every frame of an episode shorter than 100), which was 21 of 22 s of a realistic conversion,
and no policy of the pinned LeRobot normalises images by quantiles (every ``VISUAL``
mapping is IDENTITY or MEAN_STD). The source already carries per-episode min/max/mean/std
of each camera, as LeRobot's own converter keeps them. They are checked for shape and range
first; a camera whose stats are missing or malformed in any episode is decoded instead, and
so is every camera with ``--image-quantiles``.

Why cross-check numeric stats: they are recomputed exactly from the rows, and a source whose
recorded stats disagree with its own rows (stale after an edit, or written by LeRobot 0.6.x's
float32 arithmetic) is worth a warning, never a silent copy and never a silent replacement.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from scripts.convert.aggregate import column_to_numpy
from scripts.convert.errors import ConversionError
from scripts.convert.plan import Plan
from scripts.convert.stats import Stats
from validators.dataset_format import (
    DEFAULT_FEATURES,
    LEGACY_EPISODES_STATS_PATH,
    NON_NUMERIC_DTYPES,
    read_jsonl,
)

IMAGE_STATS = ("min", "max", "mean", "std", "count")
RANGE_SLACK = 1e-6  # JSON round trips of values in [0, 1]
# A source stat "disagrees" beyond float32 recording noise: std off by more than 1 %, or a
# mean off by more than 1 % of the std plus float32's resolution at that magnitude.
STD_RTOL = 0.01
MEAN_STD_FRACTION = 0.01
FLOAT32_EPS = float(np.finfo(np.float32).eps)


@dataclass
class Disagreement:
    feature: str
    episode: int  # the source's episode_index
    stat: str
    dim: int
    source: float
    rows: float


@dataclass
class SourceStats:
    """What the source's ``episodes_stats.jsonl`` gives, keyed by the source episode index."""

    by_episode: dict[int, dict[str, Any]] = field(default_factory=dict)
    images: dict[str, list[Stats]] = field(default_factory=dict)  # camera -> per new episode
    decode: dict[str, str] = field(default_factory=dict)  # camera -> why its frames are decoded


def channels(ft: dict[str, Any]) -> int:
    """Channels of a visual feature, as its stats are shaped (C, 1, 1)."""
    shape = [int(x) for x in ft.get("shape") or []]
    names = ft.get("names")
    if isinstance(names, list) and "channels" in names and len(shape) == 3:
        return shape[names.index("channels")]
    return shape[-1] if len(shape) == 3 and shape[-1] in (1, 3, 4) else 3


def _image_problem(st: Any, c: int, length: int, depth: bool) -> str | None:
    """Why one episode's recorded image stats cannot be used, or None."""
    if not isinstance(st, dict) or any(k not in st for k in IMAGE_STATS):
        return f"lacks {', '.join(k for k in IMAGE_STATS if k not in (st or {}))}"
    try:
        arrays = {k: np.asarray(st[k], dtype=np.float64) for k in IMAGE_STATS[:4]}
        count = np.asarray(st["count"], dtype=np.float64).ravel()
    except (TypeError, ValueError):
        return "holds non-numeric values"
    for k, a in arrays.items():
        if a.shape != (c, 1, 1):
            return f"{k} has shape {a.shape}, not ({c}, 1, 1)"
        if not np.isfinite(a).all():
            return f"{k} is not finite"
    if count.shape != (1,) or not 1 <= count[0] <= length or count[0] != int(count[0]):
        return f"count {st['count']} is not a frame count of an episode of {length}"
    lo, hi, mean, std = arrays["min"], arrays["max"], arrays["mean"], arrays["std"]
    if (std < 0).any() or (lo > mean + RANGE_SLACK).any() or (mean > hi + RANGE_SLACK).any():
        return "is inconsistent (std < 0 or mean outside [min, max])"
    if not depth and ((lo < -RANGE_SLACK).any() or (hi > 1 + RANGE_SLACK).any()):
        return "is outside [0, 1] (RGB stats are scaled by 1/255)"
    return None


def load(plan: Plan, decode_all: bool, depth_keys: set[str]) -> SourceStats:
    """Read the source's per-episode stats and decide, per camera, reuse or decode."""
    out = SourceStats()
    cams = plan.layout.video_keys
    path = plan.layout.root / LEGACY_EPISODES_STATS_PATH
    if not plan.has_episode_stats:
        out.decode = dict.fromkeys(cams, "the source has no episodes_stats.jsonl (v2.0)")
        return out
    try:
        rows = read_jsonl(path)
    except ValueError as exc:
        raise ConversionError(path, str(exc).split(": ", 1)[-1]) from exc
    except OSError as exc:
        raise ConversionError(path, f"cannot read ({exc.strerror or exc})") from exc
    for row in rows:
        if isinstance(row, dict) and isinstance(row.get("stats"), dict):
            out.by_episode[int(row.get("episode_index", -1))] = row["stats"]
    for key in cams:
        if decode_all:
            out.decode[key] = "--image-quantiles asks for quantiles, which the source lacks"
            continue
        c = channels(plan.layout.features[key])
        per_episode: list[Stats] = []
        for ep in plan.episodes:
            st = out.by_episode.get(ep.old_index, {}).get(key)
            problem = _image_problem(st, c, ep.length, key in depth_keys)
            if problem:
                out.decode[key] = f"{path.name} episode {ep.old_index}: {key} stats {problem}"
                break
            per_episode.append(
                {
                    k: np.asarray(st[k], dtype=np.int64 if k == "count" else np.float64).reshape(
                        (1,) if k == "count" else (c, 1, 1)
                    )
                    for k in IMAGE_STATS
                }
            )
        else:
            out.images[key] = per_episode
    return out


def numeric_features(plan: Plan) -> list[str]:
    """Features whose source stats are checked against the rows.

    Not the bookkeeping columns (``index``, ``episode_index``, ...): no policy normalises
    them, and renumbering a gapped source changes them on purpose.
    """
    return [
        k
        for k, ft in plan.layout.features.items()
        if ft.get("dtype") not in NON_NUMERIC_DTYPES and k not in DEFAULT_FEATURES
    ]


def cross_check(plan: Plan, source: SourceStats, episode_files: list[Path]) -> list[Disagreement]:
    """Compare the source's numeric stats with the exact ones written to ``meta/episodes``."""
    if not source.by_episode or not episode_files:
        return []
    old_of = {ep.new_index: ep.old_index for ep in plan.episodes}
    names = set(pq.read_schema(episode_files[0]).names)
    found: list[Disagreement] = []
    for ft in numeric_features(plan):
        cols = [f"stats/{ft}/{s}" for s in ("min", "max", "mean", "std")]
        if not all(c in names for c in cols):
            continue
        table = pq.read_table(episode_files, columns=["episode_index", *cols])
        written = {
            s: column_to_numpy(table.column(c))
            for s, c in zip(("min", "max", "mean", "std"), cols, strict=True)
        }
        for row, new in enumerate(table.column("episode_index").to_pylist()):
            old = old_of.get(int(new))
            src = source.by_episode.get(old, {}).get(ft) if old is not None else None
            if not isinstance(src, dict):
                continue
            found += _compare(ft, old, src, {s: v[row].ravel() for s, v in written.items()})
    return found


def _compare(
    ft: str, old: int, src: dict[str, Any], rows: dict[str, np.ndarray]
) -> list[Disagreement]:
    out: list[Disagreement] = []
    try:
        got = {s: np.asarray(src[s], dtype=np.float64).ravel() for s in rows if s in src}
    except (TypeError, ValueError):
        return out
    if any(v.shape != rows[s].shape for s, v in got.items()):
        return out
    std, mean = rows["std"], rows["mean"]
    tol = {
        "std": STD_RTOL * std,
        "mean": MEAN_STD_FRACTION * std + 4 * FLOAT32_EPS * np.abs(mean),
        "min": 4 * FLOAT32_EPS * (np.abs(rows["min"]) + 1),
        "max": 4 * FLOAT32_EPS * (np.abs(rows["max"]) + 1),
    }
    for stat, value in got.items():
        bad = np.abs(value - rows[stat]) > tol[stat]
        if stat == "std":  # both (near) zero is agreement
            bad &= np.abs(value - std) > 1e-12
        for d in np.flatnonzero(bad):
            out.append(Disagreement(ft, old, stat, int(d), float(value[d]), float(rows[stat][d])))
    return out


def summarise(found: list[Disagreement]) -> str | None:
    """One line for the summary (and stderr): how many, where, and the largest std error."""
    if not found:
        return None
    feats = sorted({d.feature for d in found})
    eps = sorted({d.episode for d in found})
    stds = [d for d in found if d.stat == "std"] or found

    def off(d: Disagreement) -> float:
        return abs(d.source - d.rows) / max(abs(d.rows), 1e-12)

    worst = max(stds, key=off)
    return (
        f"{LEGACY_EPISODES_STATS_PATH} disagrees with the rows in {len(found)} values "
        f"({len(eps)} episodes; {', '.join(feats)}); largest: {worst.feature}[{worst.dim}] "
        f"episode {worst.episode} {worst.stat} {worst.source:.6g} in the source, "
        f"{worst.rows:.6g} from the rows. The source's stats are stale or wrong; "
        "DST has the exact stats of the rows"
    )
