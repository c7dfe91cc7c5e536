"""Recorded min/max/mean/std against the truth: the rows (standard/deep) or, in quick mode,
what the recorded min/max/count make possible.

Why: a std of 0 in a dimension that moves makes MEAN_STD normalisation divide by LeRobot's
eps (1e-8), and a std 10x too large flattens the signal; training then learns from garbage
without any error. LeRobot 0.6.1's recorder does exactly that on offset features (float32
``E[x^2] - E[x]^2``; issue 10), and so does every dataset it converted or recorded.

Three check ids (``validators/checks.py``):

* ``stats.std_collapsed`` (error): recorded std below ``STD_COLLAPSED_FRAC`` of the true std
  while the rows vary;
* ``stats.std_mismatch``: recorded std off by more than ``STD_ERROR_REL`` (error) or more than
  ``STD_WARN_REL`` (warning);
* ``stats.mean_min_max_mismatch``: recorded mean/min/max off by more than ``VALUE_ERROR``
  (error) or ``VALUE_WARN`` (warning) beyond float32 rounding.

The truth is our own float64 centred computation (``validators.moments``, via
``validators.stats_rows``), so the tolerances only have to absorb the *recorded* side's
arithmetic: float32 storage, and LeRobot's float32 cancellation on ordinary data.

Quick mode reads no rows. It still catches the catastrophic cases from the metadata alone:
the population std of n values spanning [min, max] lies between ``(max-min)/sqrt(2n)`` (two
values at the ends, the rest in the middle) and ``sqrt((max-mean)(mean-min))``
(Bhatia-Davis); a recorded std outside that band cannot be right. Moderate errors need the
rows (standard mode).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from validators import dataset_format as fmt
from validators import f32
from validators.context import Context
from validators.moments import Moments
from validators.report import Severity
from validators.stats_rows import RowStats, numeric_features

STD_COLLAPSED_FRAC = 0.01
"""Recorded std below 1 % of the true std, in a dimension whose rows vary (max > min): the
std has collapsed. Normalised inputs come out >= 100x too large (1e8x for an exact 0, which
is what LeRobot 0.6.1's float32 ``E[x^2]-E[x]^2`` writes for a joint at 2048 +- 0.05)."""

STD_ERROR_REL = 0.10
"""Recorded std more than 10 % away from the true std is an error: the stats were computed
wrongly or on other rows, and ``make fix-stats`` makes them exact in seconds. LeRobot 0.6.1 on
offset features is 10-30x off (or 0). Its float32 arithmetic also crosses 10 % on joints that
barely move far from zero (|mean|/std ~ 300 over 1,000+ frames): those stats are wrong too."""

STD_WARN_REL = 1e-2
"""Noise floor for std: below 1 % silent, between 1 % and ``STD_ERROR_REL`` a warning. LeRobot
0.6.1's float32 ``E[x^2]-E[x]^2`` is off by ~``1e-7 (|mean|/std)^2``, more on long episodes
(its axis-0 sums are not pairwise). Measured with its own ``get_feature_stats`` at |mean|/std
= 40 (a Koch joint in degrees): 7e-4 over 80 frames, 1.4e-3 over 1,000, 6e-3 over 10,000;
1.6e-4 on its recorder's real output. A std 1 % off changes a normalised input by 1 %, which
no training notices, so every ordinary LeRobot recording stays silent."""

CONST_STD_WARN = 1e-3
"""A constant dimension (rows all equal, true std 0) with a recorded std above
``1e-3 * max(1, |mean|)`` gets a warning, never an error: float32 cancellation on a
constant gives up to ~sqrt(eps) |x| = 3.5e-4 |x|, and (x - mean) / std of a constant is 0
whatever std is, so training is unaffected."""

F32_SLACK_REL = 2e-6
"""Float32 slack on recorded mean/min/max, relative to their magnitude. LeRobot computes and
stores them in float32; a float32 mean of n values is within ~log2(n) ulps (1 ulp = 1.2e-7
relative). 2e-6 is 16 ulps; measured 2.1e-7 on the recorder's 2048 joint. Near zero, where
a relative slack vanishes, ``f32.ULPS`` float32 spacings are the floor (``_slack``)."""

VALUE_WARN = 1e-2
"""mean/min/max disagreement (beyond ``F32_SLACK_REL``) above which a warning is given, in
normalised units: mean in units of the true std (the shift of a MEAN_STD-normalised input),
min/max in units of the true range (the shift of a MIN_MAX-normalised input). LeRobot's
float32 means stay below 2e-3 of a std even at |mean|/std = 1000 over 10,000 frames."""

VALUE_ERROR = 0.10
"""mean/min/max disagreement above which it is an error (same units as ``VALUE_WARN``): a
tenth of a std or of the range is not rounding; the stats describe other rows (stale)."""


@dataclass
class Recorded:
    """Recorded stats of one feature over E rows (episodes, or 1 for stats.json)."""

    labels: list[int | None]  # episode index per row, None for stats.json
    count: np.ndarray  # (E,) float, NaN where not recorded
    mean: np.ndarray  # (E, D)
    std: np.ndarray
    min: np.ndarray
    max: np.ndarray


def _vec(value: Any, dim: int) -> np.ndarray | None:
    try:
        a = np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        return None
    return a if a.shape == (dim,) and np.isfinite(a).all() else None


def recorded(stats: list[tuple[int | None, dict[str, Any]]], key: str, dim: int) -> Recorded:
    """Stack the well-formed recorded stats of ``key`` (malformed ones are other checks')."""
    rows: list[tuple[int | None, float, list[np.ndarray]]] = []
    for label, st in stats:
        ft = st.get(key) if isinstance(st, dict) else None
        if not isinstance(ft, dict):
            continue
        vecs = [_vec(ft.get(s), dim) for s in ("mean", "std", "min", "max")]
        if any(v is None for v in vecs):
            continue
        c = _vec(ft.get("count"), 1)
        rows.append((label, float(c[0]) if c is not None else np.nan, vecs))
    empty = np.zeros((0, dim))
    return Recorded(
        labels=[r[0] for r in rows],
        count=np.array([r[1] for r in rows], dtype=np.float64),
        mean=np.stack([r[2][0] for r in rows]) if rows else empty,
        std=np.stack([r[2][1] for r in rows]) if rows else empty,
        min=np.stack([r[2][2] for r in rows]) if rows else empty,
        max=np.stack([r[2][3] for r in rows]) if rows else empty,
    )


@dataclass
class Verdict:
    """Per (row, dim) judgements of one source; NaN/False where not applicable."""

    collapsed: np.ndarray  # bool
    std_rel: np.ndarray  # |rec - true| / true where the rows vary, else NaN
    const_std: np.ndarray  # rec / max(1, |mean|) where the rows are constant, else NaN
    values: dict[str, np.ndarray]  # "mean"/"min"/"max" -> normalised disagreement
    true_std: np.ndarray
    bounds: tuple[np.ndarray, np.ndarray] | None = None  # quick mode: (lowest, highest) std


def _slack(mag: np.ndarray) -> np.ndarray:
    """Float32 rounding of a recorded value of this magnitude: relative, floored by spacing."""
    return np.maximum(F32_SLACK_REL * mag, f32.ULPS * f32.spacing(mag))


def judge(rec: Recorded, true: Moments) -> Verdict:
    """Compare recorded stats with exact moments (both (E, D), rows aligned)."""
    t_std = true.std
    varies = true.max > true.min
    with np.errstate(divide="ignore", invalid="ignore"):
        collapsed = varies & (rec.std < STD_COLLAPSED_FRAC * t_std)
        std_rel = np.where(varies & ~collapsed, np.abs(rec.std - t_std) / t_std, np.nan)
        const_std = np.where(varies, np.nan, rec.std / np.maximum(1.0, np.abs(true.mean)))
        rng = true.max - true.min
        values = {}
        for name, t, r, scale in (
            ("mean", true.mean, rec.mean, np.where(varies, t_std, 1.0)),
            ("min", true.min, rec.min, np.where(varies, rng, 1.0)),
            ("max", true.max, rec.max, np.where(varies, rng, 1.0)),
        ):
            slack = _slack(np.maximum(np.abs(t), np.abs(r)))
            scale = np.where(varies, scale, np.maximum(1.0, np.abs(t)))
            values[name] = np.maximum(np.abs(r - t) - slack, 0.0) / scale
    return Verdict(collapsed, std_rel, const_std, values, t_std)


def judge_bounds(rec: Recorded) -> Verdict:
    """Quick mode: only what the recorded min/max/mean/count make impossible."""
    slack = _slack(np.maximum(np.abs(rec.min), np.abs(rec.max)))
    rng = np.maximum(rec.max - rec.min - 2 * slack, 0.0)
    varies = rng > 0
    n = rec.count.reshape(-1, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        low = np.where(np.isfinite(n) & (n > 0), rng / np.sqrt(2 * n), 0.0)
        high = np.sqrt((rec.max - rec.mean + slack) * (rec.mean - rec.min + slack))
        high = np.where(np.isfinite(high), high, np.inf)
        collapsed = varies & ((rec.std == 0) | (rec.std < STD_COLLAPSED_FRAC * low))
        off_high = np.where(rec.std > high, rec.std / high - 1.0, 0.0)
        off_low = np.where(rec.std < low, 1.0 - rec.std / low, 0.0)
        off = np.maximum(off_high, off_low)
        std_rel = np.where(varies & ~collapsed & (off > STD_ERROR_REL), off, np.nan)
    nan = np.full(rec.std.shape, np.nan)
    zero = {name: np.zeros(rec.std.shape) for name in ("mean", "min", "max")}
    return Verdict(collapsed, std_rel, nan, zero, np.where(varies, low, 0.0), (low, high))


# --- reporting -----------------------------------------------------------------------------
def dim_names(ctx: Context, key: str, dim: int) -> list[str]:
    names = ctx.features.get(key, {}).get("names")
    if isinstance(names, dict) and len(names) == 1:
        names = next(iter(names.values()))
    if isinstance(names, list) and len(names) == dim and all(isinstance(n, str) for n in names):
        return list(names)
    return [str(i) for i in range(dim)]


def fix_hint(ctx: Context) -> str:
    if ctx.is_v3:
        return f"recompute the stats exactly from the rows: make fix-stats DATASET={ctx.root}"
    return f"make convert SRC={ctx.root} recomputes them exactly from the rows"


def _at(rec: Recorded, row: int, name: str) -> str:
    """'episode 3, joint' for per-episode stats, 'joint' for stats.json."""
    label = rec.labels[row]
    return name if label is None else f"episode {label}, {name}"


class Reporter:
    """Turns verdicts into one finding per (check id, feature, source), naming the worst cell
    and how many episodes are affected: a 10,000-episode dataset gives a few lines, not
    10,000."""

    def __init__(self, ctx: Context, key: str, dim: int, rec: Recorded, source: str) -> None:
        self.ctx, self.key, self.rec, self.source = ctx, key, rec, source
        self.names = dim_names(ctx, key, dim)
        self.file = fmt.STATS_PATH if source == "stats.json" else source
        self.scope = "stats.json" if source == "stats.json" else "per-episode stats"

    def _summary(self, mask: np.ndarray, score: np.ndarray) -> tuple[int, int, str, str]:
        """(worst row, worst dim, 'in k of E episodes', dims)."""
        flat = np.where(mask, score, -np.inf)
        row, col = np.unravel_index(int(np.argmax(flat)), flat.shape)
        rows = int(mask.any(axis=1).sum())
        dims = ", ".join(self.names[i] for i in np.flatnonzero(mask.any(axis=0))[:6])
        scope = "" if self.rec.labels[row] is None else f" in {rows} of {len(mask)} episodes"
        return int(row), int(col), scope, dims

    def add(
        self,
        check_id: str,
        severity: Severity,
        mask: np.ndarray,
        score: np.ndarray,
        what: Callable[[int, int], str],
    ) -> None:
        """One finding for the cells in ``mask``, described at the cell with the top score."""
        if not mask.any():
            return
        row, col, scope, dims = self._summary(mask, score)
        label = self.rec.labels[row]
        self.ctx.add(
            check_id,
            severity,
            f"{self.scope}: {self.key} [{dims}]{scope}: {what(row, col)}",
            fix_hint(self.ctx),
            file=self.file,
            episode=label,
        )

    def report(self, v: Verdict) -> None:
        rec, n = self.rec, self.names
        if v.bounds is None:
            collapsed = lambda r, c: (  # noqa: E731
                f"std recorded {rec.std[r, c]:.3g} but the rows vary ({_at(rec, r, n[c])}: "
                f"true std {v.true_std[r, c]:.3g}); MEAN_STD normalisation would blow this "
                "dimension up"
            )
            off = lambda r, c: (  # noqa: E731
                f"std recorded {rec.std[r, c]:.6g}, the rows give {v.true_std[r, c]:.6g} "
                f"({_at(rec, r, n[c])}: {100 * rel[r, c]:.3g} % off; error above "
                f"{100 * STD_ERROR_REL:g} %, warning above {100 * STD_WARN_REL:g} %)"
            )
        else:
            low, high = v.bounds
            collapsed = lambda r, c: (  # noqa: E731
                f"std recorded {rec.std[r, c]:.3g} but min < max ({_at(rec, r, n[c])}: "
                f"{rec.min[r, c]:.7g}..{rec.max[r, c]:.7g} over {rec.count[r]:.0f} frames needs "
                f"std >= {low[r, c]:.3g}); MEAN_STD normalisation would blow this dimension up"
            )
            off = lambda r, c: (  # noqa: E731
                f"std recorded {rec.std[r, c]:.6g} is impossible for the recorded min/max/mean "
                f"({_at(rec, r, n[c])}: must lie in [{low[r, c]:.3g}, {high[r, c]:.3g}])"
            )
        self.add("stats.std_collapsed", "error", v.collapsed, v.true_std, collapsed)
        rel = np.nan_to_num(v.std_rel, nan=0.0)
        err = rel > STD_ERROR_REL
        sev: Severity = "error" if err.any() else "warning"
        self.add("stats.std_mismatch", sev, err if err.any() else rel > STD_WARN_REL, rel, off)
        const = np.nan_to_num(v.const_std, nan=0.0)
        self.add(
            "stats.std_mismatch",
            "warning",
            const > CONST_STD_WARN,
            const,
            lambda r, c: (
                f"the rows are constant but std is recorded as {rec.std[r, c]:.3g} "
                f"({_at(rec, r, n[c])}); harmless for training, but not from these rows"
            ),
        )
        worst = np.maximum.reduce([v.values[s] for s in ("mean", "min", "max")])
        err = worst > VALUE_ERROR
        sev = "error" if err.any() else "warning"
        mask = err if err.any() else worst > VALUE_WARN

        def what(r: int, c: int) -> str:
            stat = max(("mean", "min", "max"), key=lambda s: v.values[s][r, c])
            got = getattr(rec, stat)[r, c]
            unit = "std" if stat == "mean" else "range"
            return (
                f"{stat} recorded {got:.7g} disagrees with the rows by "
                f"{v.values[stat][r, c]:.3g} x the {unit} ({_at(rec, r, n[c])})"
            )

        self.add("stats.mean_min_max_mismatch", sev, mask, worst, what)


# --- entry point ---------------------------------------------------------------------------
def sources(
    ctx: Context, per_episode: dict[int, dict] | None, agg: dict[str, Any] | None
) -> list[tuple[str, list[tuple[int | None, dict[str, Any]]]]]:
    where_ep = "meta/episodes" if ctx.is_v3 else fmt.LEGACY_EPISODES_STATS_PATH
    out: list[tuple[str, list[tuple[int | None, dict[str, Any]]]]] = []
    if per_episode:
        out.append((where_ep, sorted(per_episode.items())))
    if isinstance(agg, dict):
        out.append(("stats.json", [(None, agg)]))
    return out


def _align(rec: Recorded, moments: Any, source: str) -> tuple[Recorded, Moments] | None:
    """Rows of ``rec`` that have exact moments with the same count, and those moments."""
    if source == "stats.json":
        total = moments.total
        if total is None or len(rec.labels) != 1:
            return None
        if np.isfinite(rec.count[0]) and int(rec.count[0]) != int(total.count):
            return None  # count mismatch: reported by other checks, the rest is moot
        t = Moments(
            np.atleast_1d(total.count), total.mean[None], total.m2[None],
            total.min[None], total.max[None],
        )  # fmt: skip
        return rec, t
    pos = {int(e): i for i, e in enumerate(moments.episodes.tolist())}
    keep, idx = [], []
    for r, label in enumerate(rec.labels):
        i = pos.get(int(label)) if label is not None else None
        if i is None:
            continue
        if np.isfinite(rec.count[r]) and int(rec.count[r]) != int(moments.per_episode.count[i]):
            continue
        keep.append(r)
        idx.append(i)
    if not keep:
        return None
    k = np.array(keep)
    sub = Recorded(
        [rec.labels[r] for r in keep], rec.count[k], rec.mean[k], rec.std[k], rec.min[k], rec.max[k]
    )
    pm = moments.per_episode
    i = np.array(idx)
    return sub, Moments(pm.count[i], pm.mean[i], pm.m2[i], pm.min[i], pm.max[i])


def run(
    ctx: Context,
    per_episode: dict[int, dict] | None,
    agg: dict[str, Any] | None,
    rows: RowStats | None,
) -> None:
    """Judge every numeric feature in every stats source: exactly where ``rows`` has its
    moments, else (quick mode, unreadable or mismatched rows) by the bounds."""
    for key, dim in numeric_features(ctx).items():
        exact = rows.features.get(key) if rows is not None else None
        for source, stats in sources(ctx, per_episode, agg):
            rec = recorded(stats, key, dim)
            if not rec.labels:
                continue
            reporter = Reporter(ctx, key, dim, rec, source)
            pair = _align(rec, exact, source) if exact is not None else None
            if pair is not None:
                reporter.rec = pair[0]
                reporter.report(judge(*pair))
            else:
                reporter.report(judge_bounds(rec))
