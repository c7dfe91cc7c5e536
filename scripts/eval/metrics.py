"""Errors of predicted action chunks against the recorded actions, and the bootstrap ranking.

NumPy only (the tools env can test it). Everything is in the dataset's own units: predictions
arrive de-normalised by the policy's postprocessor, targets are the recorded ``action`` column.

Definitions (issue 23). For frame t of an episode the policy predicts a chunk a_t[0..H-1];
the recorded future is action[t], action[t+1], ...:

- ``mae``: mean |a_t[0] - action[t]| over all frames and action dimensions (and seeds);
- ``per_joint_mae``: the same per action dimension; ``per_episode_mae``: per episode;
- ``per_horizon_mae[h]``: mean |a_t[h] - action[t+h]|. Near an episode's end t+h runs past
  the last frame: those steps are masked out (never compared with the next episode or padded
  values), so step h averages only over frames with at least h recorded steps left; steps no
  frame reaches are dropped from the list;
- ``rmse``: root mean squared error of the first action;
- ``spread``: for stochastic policies, each seed's mae, their standard deviation (ddof=1),
  min and max.

Ranking: by mae, best first. "A beats B" is said only when the 95 % bootstrap interval of
mae(B) - mae(A), resampling *episodes* with replacement (frames within an episode are not
independent), lies above 0; otherwise the pair is "no clear difference".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_LEVEL = 0.95
BOOTSTRAP_SEED = 0
MIN_EPISODES_FOR_VERDICT = 2


def future_targets(
    actions: np.ndarray, episodes: np.ndarray, horizon: int
) -> tuple[np.ndarray, np.ndarray]:
    """(targets (N, H, D), mask (N, H)) from rows sorted by episode then frame.

    ``targets[t, h] = actions[t + h]`` where row t + h belongs to the same episode; elsewhere
    the mask is False and the target is 0 (never used).
    """
    n, d = actions.shape
    targets = np.zeros((n, horizon, d), dtype=np.float64)
    mask = np.zeros((n, horizon), dtype=bool)
    for h in range(min(horizon, n)):
        same = np.zeros(n, dtype=bool)
        same[: n - h] = episodes[h:] == episodes[: n - h]
        mask[:, h] = same
        targets[same, h] = actions[h:][same[: n - h]]
    return targets, mask


@dataclass
class Errors:
    """Per-frame errors of one checkpoint, kept for the ranking and the plot."""

    abs0: np.ndarray  # (S, N, D) |first predicted action - recorded|
    per_horizon: list[float]
    episodes: np.ndarray  # (N,) episode of each row


def compute(
    preds: np.ndarray,
    targets: np.ndarray,
    mask: np.ndarray,
    episodes: np.ndarray,
    names: Sequence[str],
    stochastic: bool,
) -> tuple[dict[str, Any], Errors]:
    """The report fields of one checkpoint from ``preds`` (S seeds, N, H, D)."""
    preds = np.asarray(preds, dtype=np.float64)
    s, n, h_pred, _ = preds.shape
    h = min(h_pred, targets.shape[1])
    abs_err = np.abs(preds[:, :, :h] - targets[None, :, :h])  # (S, N, H, D)
    abs0 = abs_err[:, :, 0]
    sq0 = abs0**2
    per_seed = abs0.mean(axis=(1, 2))
    per_horizon = []
    for step in range(h):
        m = mask[:, step]
        if not m.any():
            break
        per_horizon.append(float(abs_err[:, m, step].mean()))
    per_episode = {
        str(int(ep)): float(abs0[:, episodes == ep].mean()) for ep in np.unique(episodes)
    }
    fields: dict[str, Any] = {
        "frames": int(n),
        "mae": float(abs0.mean()),
        "per_joint_mae": {
            name: float(v) for name, v in zip(names, abs0.mean(axis=(0, 1)), strict=True)
        },
        "per_episode_mae": per_episode,
        "per_horizon_mae": per_horizon,
        "rmse": float(np.sqrt(sq0.mean())),
        "seeds": int(s),
        "spread": None,
    }
    if stochastic:
        fields["spread"] = {
            "mae_per_seed": [float(v) for v in per_seed],
            "mae_std": float(per_seed.std(ddof=1)) if s > 1 else 0.0,
            "mae_min": float(per_seed.min()),
            "mae_max": float(per_seed.max()),
        }
    return fields, Errors(abs0=abs0, per_horizon=per_horizon, episodes=episodes)


@dataclass
class EpisodeTotals:
    """A checkpoint's errors as the report keeps them: ``per_episode_mae`` and each episode's
    frame count. Enough for the bootstrap, which resamples whole episodes: the merge of a
    ``SLURM=1`` fan-out (scripts/eval/slurm.py) ranks partial reports with it."""

    episodes: np.ndarray  # (E,) episode indices
    mae: np.ndarray  # (E,) per_episode_mae
    frames: np.ndarray  # (E,) frames of each episode
    dims: int  # action dimensions


def _episode_sums(err: Errors | EpisodeTotals, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per episode (in ``order``): summed |error| of the first action, and element count."""
    if isinstance(err, EpisodeTotals):
        at = {int(e): i for i, e in enumerate(err.episodes)}
        idx = np.array([at[int(ep)] for ep in order])
        counts = err.frames[idx].astype(np.float64) * err.dims
        return err.mae[idx] * counts, counts
    per_frame = err.abs0.mean(axis=0).sum(axis=1)  # (N,): seeds averaged, dims summed
    d = err.abs0.shape[2]
    sums = np.array([per_frame[err.episodes == ep].sum() for ep in order])
    counts = np.array([(err.episodes == ep).sum() * d for ep in order], dtype=np.float64)
    return sums, counts


def bootstrap_diff(
    better: Errors | EpisodeTotals,
    worse: Errors | EpisodeTotals,
    resamples: int = BOOTSTRAP_RESAMPLES,
    level: float = BOOTSTRAP_LEVEL,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float, float]:
    """Percentile interval of mae(worse) - mae(better) over episodes resampled together."""
    order = np.unique(better.episodes)
    sa, ca = _episode_sums(better, order)
    sb, cb = _episode_sums(worse, order)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(order), size=(resamples, len(order)))
    diff = sb[idx].sum(1) / cb[idx].sum(1) - sa[idx].sum(1) / ca[idx].sum(1)
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(diff, [tail, 100 - tail])
    return float(lo), float(hi)


def rank(
    paths: Sequence[str], maes: Sequence[float], errors: Sequence[Errors | EpisodeTotals]
) -> dict[str, Any]:
    """``ranking`` (best first) and every pairwise ``comparisons`` entry with its verdict."""
    order = sorted(range(len(paths)), key=lambda i: (maes[i], i))
    n_eps = len(np.unique(errors[0].episodes)) if errors else 0
    comparisons = []
    for a_pos, a in enumerate(order):
        for b in order[a_pos + 1 :]:
            diff = float(maes[b] - maes[a])
            if n_eps < MIN_EPISODES_FOR_VERDICT:
                ci, verdict = None, f"too few episodes ({n_eps}) to tell"
            else:
                lo, hi = bootstrap_diff(errors[a], errors[b])
                ci = [lo, hi]
                verdict = f"{paths[a]} beats {paths[b]}" if lo > 0 else "no clear difference"
            comparisons.append(
                {"better": paths[a], "worse": paths[b], "mae_diff": diff, "ci95": ci,
                 "beats": ci is not None and ci[0] > 0, "verdict": verdict}
            )  # fmt: skip
    best = order[0] if order else None
    ranking = []
    for pos, i in enumerate(order):
        vs_best = next(
            (c for c in comparisons if c["better"] == paths[best] and c["worse"] == paths[i]),
            None,
        )
        ranking.append(
            {
                "rank": pos + 1,
                "path": paths[i],
                "mae": float(maes[i]),
                "mae_diff_vs_best": float(maes[i] - maes[best]) if best is not None else 0.0,
                "ci95_vs_best": vs_best["ci95"] if vs_best else None,
                "best_beats_it": bool(vs_best and vs_best["beats"]),
            }
        )
    return {
        "ranking": ranking,
        "comparisons": comparisons,
        "bootstrap": {
            "unit": "episode",
            "resamples": BOOTSTRAP_RESAMPLES,
            "level": BOOTSTRAP_LEVEL,
            "seed": BOOTSTRAP_SEED,
            "episodes": int(n_eps),
        },
    }
