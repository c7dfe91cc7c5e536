"""Stats group: normalisation statistics exist for every numeric and visual feature, have the
right shapes, are finite and self-consistent, the aggregate (``meta/stats.json``) agrees with
the per-episode stats, and no dimension has zero variance (MEAN_STD normalisation divides by
std: a constant joint gives inf/NaN at training time).
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import numpy as np

from validators import dataset_format as fmt
from validators import f32, stats_exact, stats_rows
from validators.context import Context

ORDER_ATOL = 1e-6  # relative to the feature's range: quantiles are binned estimates
# ... plus float32 slack at the values' magnitude (validators/f32.py): a constant 60.675701
# gets a float32 mean 9 ulps above its min = max, which an absolute 1e-6 called an error.


def run(ctx: Context) -> None:
    per_episode = load_episode_stats(ctx)
    agg = ctx.load_stats_json()
    required = required_features(ctx)
    where_ep = "meta/episodes" if ctx.is_v3 else fmt.LEGACY_EPISODES_STATS_PATH

    stats_needed = ctx.is_v3 or ctx.version == fmt.V20
    if agg is None and not (ctx.root / fmt.STATS_PATH).exists() and stats_needed:
        ctx.add(
            "stats.missing",
            "error",
            "meta/stats.json is missing",
            "LeRobot normalises with it; regenerate it by aggregating the per-episode stats",
            file=fmt.STATS_PATH,
        )
    if per_episode is None and not ctx.is_v3 and ctx.version != fmt.V20:
        ctx.add(
            "stats.missing",
            "error",
            "meta/episodes_stats.jsonl is missing",
            "v2.1 keeps per-episode stats there; recompute them",
            file=fmt.LEGACY_EPISODES_STATS_PATH,
        )

    if agg is not None:
        check_stats_dict(ctx, agg, required, fmt.STATS_PATH, None, lengths=None)
    if per_episode:
        lengths = {ep.episode_index: ep.length for ep in ctx.episodes}
        for e, st in sorted(per_episode.items()):
            check_stats_dict(ctx, st, required, where_ep, e, lengths=lengths)
        missing_eps = sorted(set(lengths) - set(per_episode))
        if missing_eps:
            ctx.add(
                "stats.missing",
                "error",
                f"no per-episode stats for episodes {missing_eps[:10]}",
                "recompute per-episode stats",
                file=where_ep,
                episode=missing_eps[0],
            )
    if agg is not None and per_episode:
        check_aggregate(ctx, agg, per_episode)
    rows = None if ctx.quick else stats_rows.recompute(ctx)
    stats_exact.run(ctx, per_episode, agg, rows)
    check_zero_variance(ctx, agg, per_episode, varying_dims(ctx, agg, per_episode, rows))


def required_features(ctx: Context) -> dict[str, tuple[int, ...]]:
    """Feature -> expected stat shape, for features LeRobot normalises."""
    out: dict[str, tuple[int, ...]] = {}
    for key, ft in ctx.features.items():
        if not isinstance(ft, dict) or key in fmt.DEFAULT_FEATURES:
            continue
        dtype = ft.get("dtype")
        shape = [int(x) for x in ft.get("shape") or []]
        if dtype in ("string", "language"):
            continue
        if dtype in fmt.VISUAL_DTYPES:
            names = ft.get("names")
            if isinstance(names, list) and "channels" in names and len(shape) == 3:
                c = shape[names.index("channels")]
            else:
                c = shape[-1] if len(shape) == 3 and shape[-1] in (1, 3, 4) else 3
            out[key] = (c, 1, 1)
        else:
            out[key] = tuple(shape) if shape else (1,)
    return out


def load_episode_stats(ctx: Context) -> dict[int, dict[str, dict[str, Any]]] | None:
    if not ctx.is_v3:
        return ctx.episode_stats
    import pyarrow.parquet as pq

    out: dict[int, dict[str, dict[str, Any]]] = {}
    for path in sorted((ctx.root / "meta/episodes").glob("*/*.parquet")):
        try:
            pf = pq.ParquetFile(path)
            cols = [c for c in pf.schema_arrow.names if c.startswith("stats/")]
            if not cols:
                continue
            d = pf.read(columns=["episode_index", *cols]).to_pydict()
        except Exception:
            continue  # the schema group reported it
        for i, e in enumerate(d["episode_index"]):
            st: dict[str, dict[str, Any]] = {}
            for c in cols:
                feat, _, stat = c[len("stats/") :].rpartition("/")
                st.setdefault(feat, {})[stat] = d[c][i]
            out[int(e)] = st
    return out or None


def _arr(v: Any) -> np.ndarray | None:
    try:
        a = np.asarray(v, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return np.atleast_1d(a)


def check_stats_dict(
    ctx: Context,
    stats: dict[str, Any],
    required: dict[str, tuple[int, ...]],
    where: str,
    episode: int | None,
    lengths: dict[int, int] | None,
) -> None:
    label = "stats.json" if episode is None else f"episode {episode} stats"
    for key, shape in required.items():
        ft_stats = stats.get(key)
        if not isinstance(ft_stats, dict):
            ctx.add(
                "stats.missing",
                "error",
                f"{label}: no stats for feature {key!r}",
                "LeRobot normalises every state/action/image feature; recompute the stats",
                file=where,
                episode=episode,
            )
            continue
        arrays: dict[str, np.ndarray] = {}
        for stat in (*fmt.BASIC_STATS, *fmt.QUANTILE_KEYS):
            if stat not in ft_stats:
                # v2.0's stats.json has no count; everything newer does.
                needed = stat in fmt.BASIC_STATS and (
                    stat != "count" or episode is not None or ctx.is_v3
                )
                if needed:
                    ctx.add(
                        "stats.missing",
                        "error",
                        f"{label}: {key!r} has no {stat!r}",
                        "recompute the stats",
                        file=where,
                        episode=episode,
                    )
                continue
            a = _arr(ft_stats[stat])
            want = (1,) if stat == "count" else shape
            if a is None or a.shape != want:
                got = None if a is None else a.shape
                ctx.add(
                    "stats.shape_mismatch",
                    "error",
                    f"{label}: {key}/{stat} has shape {got}, expected {want}",
                    "stats must match the feature shape (images: (channels, 1, 1))",
                    file=where,
                    episode=episode,
                )
                continue
            arrays[stat] = a
        bad = [s for s, a in arrays.items() if not np.isfinite(a).all()]
        if bad:
            ctx.add(
                "stats.non_finite",
                "error",
                f"{label}: {key} has NaN/Inf in {', '.join(bad)}",
                "the data behind it holds NaN/Inf or the stats were corrupted; recompute",
                file=where,
                episode=episode,
            )
            continue
        _check_order(ctx, key, arrays, label, where, episode)
        if (
            lengths is not None
            and episode in lengths
            and "count" in arrays
            and ctx.features.get(key, {}).get("dtype") not in fmt.VISUAL_DTYPES
            and int(arrays["count"][0]) != lengths[episode]
        ):
            ctx.add(
                "stats.count_mismatch",
                "error",
                f"{label}: {key}/count is {int(arrays['count'][0])} but the episode has "
                f"{lengths[episode]} frames",
                "the stats were computed on other data; recompute them",
                file=where,
                episode=episode,
            )


def _check_order(
    ctx: Context, key: str, a: dict[str, np.ndarray], label: str, where: str, ep: int | None
) -> None:
    if not {"min", "max", "mean", "std"} <= set(a):
        return
    scale = np.maximum(1.0, np.abs(a["max"] - a["min"]))
    mag = np.maximum.reduce([np.abs(a["min"]), np.abs(a["max"]), np.abs(a["mean"])])
    count = a["count"][0] if "count" in a else 1.0
    atol = ORDER_ATOL * scale + f32.slack(mag, count)
    problems = []
    if (a["min"] > a["max"] + atol).any():
        problems.append("min > max")
    if (a["mean"] < a["min"] - atol).any() or (a["mean"] > a["max"] + atol).any():
        problems.append("mean outside [min, max]")
    if (a["std"] < 0).any():
        problems.append("std < 0")
    qs = [a[q] for q in fmt.QUANTILE_KEYS if q in a]
    if qs:
        seq = [a["min"], *qs, a["max"]]
        if any((lo > hi + atol).any() for lo, hi in pairwise(seq)):
            problems.append("quantiles not ordered min <= q01 <= ... <= q99 <= max")
    if problems:
        ctx.add(
            "stats.order",
            "error",
            f"{label}: {key}: {'; '.join(problems)}",
            "the stats are inconsistent; recompute them",
            file=where,
            episode=ep,
        )


def aggregate(per_episode: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """LeRobot 0.6.1's ``aggregate_feature_stats`` (compute_stats.py), in numpy."""
    means = np.stack([_arr(s["mean"]) for s in per_episode])
    variances = np.stack([_arr(s["std"]) ** 2 for s in per_episode])
    counts = np.stack([_arr(s["count"]) for s in per_episode])
    total = counts.sum(axis=0)
    while counts.ndim < means.ndim:
        counts = np.expand_dims(counts, -1)
    mean = (means * counts).sum(axis=0) / total
    var = ((variances + (means - mean) ** 2) * counts).sum(axis=0) / total
    return {
        "min": np.min(np.stack([_arr(s["min"]) for s in per_episode]), axis=0),
        "max": np.max(np.stack([_arr(s["max"]) for s in per_episode]), axis=0),
        "mean": mean,
        "std": np.sqrt(var),
        "count": total,
    }


def check_aggregate(ctx: Context, agg: dict[str, Any], per_episode: dict[int, dict]) -> None:
    for key in required_features(ctx):
        eps = [st[key] for st in per_episode.values() if isinstance(st.get(key), dict)]
        if not eps or not isinstance(agg.get(key), dict):
            continue
        try:
            want = aggregate(eps)
        except (KeyError, ValueError, TypeError):
            continue  # shapes/missing reported per episode
        got = agg[key]
        off = []
        for stat, w in want.items():
            if stat not in got:
                continue  # a v2.x stats.json may lack count; check_stats_dict judges the rest
            g = _arr(got[stat])
            if g is None or g.shape != w.shape or not np.isfinite(w).all():
                continue
            scale = np.maximum(1e-6, np.abs(want["max"] - want["min"])) if stat != "count" else 1
            mag = np.maximum(np.abs(want["min"]), np.abs(want["max"]))
            atol = 1e-4 * scale + f32.slack(mag, want["count"]) if stat != "count" else 0.5
            if not np.allclose(g, w, rtol=1e-4, atol=atol):
                off.append(stat)
        if off:
            ctx.add(
                "stats.aggregate_mismatch",
                "error",
                f"stats.json: {key} {', '.join(off)} disagree with the aggregate of the "
                "per-episode stats",
                "stats.json is stale (episodes changed after it was written); re-aggregate it",
                file=fmt.STATS_PATH,
            )


def varying_dims(
    ctx: Context,
    agg: dict | None,
    per_episode: dict | None,
    rows: stats_rows.RowStats | None,
) -> dict[str, np.ndarray]:
    """Feature -> bool per dimension: the values are known to vary (rows, else the recorded
    min < max). A zero std there is ``stats.std_collapsed``, not a constant joint."""
    out: dict[str, np.ndarray] = {}
    for key, dim in stats_rows.numeric_features(ctx).items():
        fm = rows.features.get(key) if rows is not None else None
        if fm is not None:
            out[key] = (fm.per_episode.max > fm.per_episode.min).any(axis=0)
            continue
        stats = [(None, agg)] if isinstance(agg, dict) else []
        stats += sorted((per_episode or {}).items())
        rec = stats_exact.recorded(stats, key, dim)
        if rec.labels:
            out[key] = (rec.max > rec.min).any(axis=0)
    return out


def _float32_noise(
    agg: dict | None, per_episode: dict | None, key: str, shape: tuple[int, ...]
) -> np.ndarray | float:
    """The largest std float32 arithmetic writes for a constant at this feature's mean."""
    src: Any = agg.get(key) if isinstance(agg, dict) else None
    try:
        if not isinstance(src, dict):
            src = aggregate([st[key] for st in (per_episode or {}).values() if key in st])
        mean = _arr(src.get("mean"))
        count = _arr(src.get("count"))
        noise = f32.slack(mean, count[0] if count is not None else 1.0).reshape(-1)
    except (KeyError, ValueError, TypeError, AttributeError, IndexError):
        return 0.0
    return noise if noise.shape == shape else 0.0


def check_zero_variance(
    ctx: Context,
    agg: dict | None,
    per_episode: dict | None,
    varying: dict[str, np.ndarray] | None = None,
) -> None:
    """A dimension whose std is 0 and whose values never change: a warning (the joint is
    constant). Dimensions known to vary are left to ``stats.std_collapsed``."""
    for key, ft in ctx.features.items():
        if (
            not isinstance(ft, dict)
            or key in fmt.DEFAULT_FEATURES
            or ft.get("dtype") in fmt.NON_NUMERIC_DTYPES
            or ft.get("dtype") == "language"
        ):
            continue
        std = None
        if agg is not None and isinstance(agg.get(key), dict):
            std = _arr(agg[key].get("std"))
        elif per_episode:
            try:
                std = aggregate([st[key] for st in per_episode.values() if key in st])["std"]
            except (KeyError, ValueError, TypeError):
                std = None
        if std is None or not np.isfinite(std).all():
            continue
        flat = std.reshape(-1) <= 1e-8
        moving = (varying or {}).get(key)
        if moving is not None and moving.shape == flat.shape:
            # known constant (rows, or recorded min == max): float32 writes such a std as a
            # few ulps of |value| (6e-6 at 60.68), which an absolute 1e-8 took for variation
            flat = (
                flat | (std.reshape(-1) <= _float32_noise(agg, per_episode, key, flat.shape))
            ) & ~moving
        zero = np.nonzero(flat)[0]
        if len(zero):
            names = ft.get("names")
            label = [
                names[i] if isinstance(names, list) and i < len(names) else str(i)
                for i in zero.tolist()
            ]
            ctx.add(
                "stats.zero_variance",
                "warning",
                f"{key}: dimension(s) {label} never change (std ~0)",
                "MEAN_STD normalisation divides by std: drop the dimension or use MIN_MAX/identity",
                file=fmt.STATS_PATH if agg is not None else None,
            )
