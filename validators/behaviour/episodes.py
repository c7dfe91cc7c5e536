"""Checks on whole episodes: too short, saved twice, offset from the others, two joints
swapped, the action a copy of the state, timestamps of a slow loop."""

from __future__ import annotations

import hashlib
from collections import Counter

import numpy as np

from validators import f32
from validators.behaviour.base import DROP, Checks, dims, g, state_key
from validators.behaviour.rows import Feature


def short(c: Checks) -> None:
    """Much shorter than the dataset's median episode (recording stopped at once)."""
    n = c.rows.lengths
    if len(n) < 3:
        return
    med = float(np.median(n))
    for i in np.flatnonzero(n < c.t["short_frac"] * med):
        e = int(c.rows.episodes[i])
        c.skip.setdefault("short", set()).add(e)
        c.say(
            "short_episode",
            "warning",
            e,
            f"{int(n[i])} frames ({n[i] / (c.ctx.fps or 30):.2f} s), under "
            f"{100 * c.t['short_frac']:g} % of the median episode ({med:g} frames)",
            f"a recording stopped at once; {DROP}",
            frames=(0, int(n[i]) - 1),
        )


def duplicates(c: Checks) -> None:
    """Two episodes with the very same rows in every numeric feature: saved twice."""
    if not c.rows.features:
        return
    # equal rows have equal lengths and per-episode min/max (their bits: NaN too), so only
    # episodes that share those with another one are hashed: the rest cannot be copies
    sig = np.concatenate(
        [c.rows.lengths[:, None].astype(np.float64)]
        + [x for ft in c.rows.features.values() for x in (ft.ep_min, ft.ep_max)],
        axis=1,
    )
    sigs = [row.tobytes() for row in np.ascontiguousarray(sig)]
    shared = {k for k, n in Counter(sigs).items() if n > 1}
    first: dict[bytes, int] = {}
    copies_of: set[int] = set()
    for i, e in enumerate(c.rows.episodes.tolist()):
        if sigs[i] not in shared:
            continue
        a, b = int(c.rows.starts[i]), int(c.rows.ends[i])
        h = hashlib.blake2b(digest_size=16)
        for ft in c.rows.features.values():
            h.update(np.ascontiguousarray(ft.values[a:b]).tobytes())
        key = h.digest()
        if key in first:
            copies_of.add(int(e))
            c.say(
                "duplicate_episode",
                "error",
                int(e),
                f"the same {b - a} rows as episode {first[key]} in every feature "
                f"({', '.join(c.rows.features)})",
                f"the episode was saved twice: training sees it double; drop this copy: make "
                f"edit EPISODES=~{e}",
                frames=(0, b - a - 1),
            )
        else:
            first[key] = int(e)
    near(c, exact=copies_of)


def near(c: Checks, exact: set[int]) -> None:
    """Two episodes whose rows agree up to float noise, maybe shifted by a frame or two: the
    same episode saved again through a lossy path (rounded on export, trimmed by a frame).
    Candidates share their per-dimension means (within ``dup_mean_frac`` of S: a shift of two
    frames moves a 45-frame episode's mean by up to 4 % of S); a pair is a
    duplicate when >= ``dup_frac`` of the overlapping values agree within ``dup_tol_frac``
    of S (plus float32 slack) at some shift up to ``dup_max_shift`` frames. Independent
    recordings of one motion differ by their sensor noise (an encoder tick is 2e-3 of a
    Koch joint's S, 20x ``dup_tol_frac``) in most values."""
    feats = list(c.rows.features.values())
    if not feats or len(c.rows.episodes) < 2:
        return
    starts, lengths = c.rows.starts, c.rows.lengths
    spread = np.concatenate([ft.spread for ft in feats])
    if not (spread > 0).any():
        return
    finite = np.logical_and.reduce([ft.finite for ft in feats])
    means = (
        np.concatenate(
            [np.add.reduceat(ft.values, starts, axis=0, dtype=np.float64) for ft in feats], axis=1
        )
        / lengths[:, None]
    )
    scale = np.where(spread > 0, spread, np.inf)
    z = means / scale  # means in units of S
    key = z[:, int(np.argmax(spread))]
    order = np.argsort(key, kind="stable")
    values = tol = None  # built for the first pair that passes the cheap tests
    shift_max = int(c.t["dup_max_shift"])
    flagged: set[int] = set(exact)
    frac_max = c.t["dup_mean_frac"]
    ks = key[order]
    n_ep = len(order)
    for a_pos, i in enumerate(order):
        if not finite[i]:
            continue  # every pair with it is skipped
        # the window of later episodes (in key order) until the first whose key is more
        # than dup_mean_frac above: the scalar loop's break, tested on the same differences
        past = np.flatnonzero(ks[a_pos + 1 :] - key[i] > frac_max)
        js = order[a_pos + 1 : a_pos + 1 + (past[0] if len(past) else n_ep)]
        ok = finite[js] & (np.abs(lengths[js] - lengths[i]) <= 2 * shift_max + 1)
        ok &= (np.abs(z[js] - z[i]) <= frac_max).all(axis=1)
        for j in js[ok]:
            ei, ej = int(c.rows.episodes[i]), int(c.rows.episodes[j])
            if max(ei, ej) in flagged:
                continue
            if values is None:
                values, tol = _values(feats, spread, c.t["dup_tol_frac"])
            got = _match(values, tol, int(starts[i]), int(lengths[i]), int(starts[j]),
                         int(lengths[j]), shift_max)  # fmt: skip
            if got is None or got[0] < c.t["dup_frac"]:
                continue
            frac, shift = got
            first, later = (ei, ej) if ei < ej else (ej, ei)
            flagged.add(later)
            c.say(
                "duplicate_episode",
                "error",
                later,
                f"nearly the same rows as episode {first}: {100 * frac:.4g} % of the values "
                f"agree within {c.t['dup_tol_frac']:g} of their spread (at least "
                f"{100 * c.t['dup_frac']:g} %), shifted by {shift} frame(s)",
                f"the episode was saved twice (re-exported or trimmed); drop this copy: make "
                f"edit EPISODES=~{later}",
                frames=(0, int(c.rows.lengths[list(c.rows.episodes).index(later)]) - 1),
            )


def _values(feats: list[Feature], spread: np.ndarray, tol_frac: float) -> tuple[np.ndarray, ...]:
    """All features' rows side by side in float64, and the per-dimension match tolerance
    (``tol_frac`` of the spread plus float32 slack at the largest magnitude)."""
    values = np.concatenate([ft.values.astype(np.float64) for ft in feats], axis=1)
    return values, tol_frac * spread + 2 * f32.spacing(np.nanmax(np.abs(values), axis=0))


def _match(
    values: np.ndarray, tol: np.ndarray, a: int, na: int, b: int, nb: int, shift_max: int
) -> tuple[float, int] | None:
    """(best fraction of values within tol, its shift) over shifts of episode b against a;
    None when no shift overlaps 90 % of the shorter episode."""
    best: tuple[float, int] | None = None
    for s in range(-shift_max, shift_max + 1):
        lo = max(0, s)
        hi = min(na, nb + s)
        if hi - lo < 0.9 * min(na, nb) or hi <= lo:
            continue
        x = values[a + lo : a + hi]
        y = values[b + lo - s : b + hi - s]
        frac = float((np.abs(x - y) <= tol).mean())
        if best is None or frac > best[0]:
            best = (frac, s)
    return best


def _outside(ft: Feature, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per (episode, dim): how far the episode's [min, max] lies outside [lo, hi] (>= 0)
    and the width of the others' envelope, both leave-one-out."""
    gap = np.maximum(ft.ep_min - hi, lo - ft.ep_max)
    return np.maximum(gap, 0.0), hi - lo


def _loo(ft: Feature) -> tuple[np.ndarray, np.ndarray]:
    """Each episode's envelope of the *other* episodes: (min of their mins, max of maxes)."""
    mins = np.where(ft.finite[:, None], ft.ep_min, np.inf)
    maxs = np.where(ft.finite[:, None], ft.ep_max, -np.inf)
    lo2 = np.sort(mins, axis=0)[:2]
    hi2 = np.sort(maxs, axis=0)[-2:]
    lo = np.where(mins == lo2[0], lo2[1], lo2[0])
    hi = np.where(maxs == hi2[1], hi2[0], hi2[1])
    return lo, hi


def offsets(c: Checks) -> None:
    """An episode outside every other episode's range (recalibrated arm), or two dimensions
    each inside the other's range (swapped columns)."""
    if len(c.rows.episodes) < c.t["offset_min_episodes"]:
        return
    for ft in c.rows.features.values():
        lo, hi = _loo(ft)
        gap, width = _outside(ft, lo, hi)
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = np.where(width > 0, gap / width, 0.0)
        off = ft.finite[:, None] & (frac > c.t["offset_gap_frac"]) & _far(c, ft)
        for i in np.flatnonzero(off.any(axis=1)):
            e = int(c.rows.episodes[i])
            if c.skipped(e):
                continue
            swapped = _swapped(ft, i, lo, hi, off[i])
            if swapped and c.on("swapped_joints"):
                a, b = swapped
                c.say(
                    "swapped_joints",
                    "warning",
                    e,
                    f"{ft.key} {ft.names[a]} and {ft.names[b]} look swapped: each lies outside "
                    "its own range in every other episode and inside the other's "
                    f"({ft.names[a]} {g(ft.ep_min[i, a])}..{g(ft.ep_max[i, a])}, others "
                    f"{g(lo[i, a])}..{g(hi[i, a])})",
                    f"swap the columns back for this episode (cables or the names' order "
                    f"changed in that session), or {DROP}",
                    feature=ft.key,
                    frames=(0, int(c.rows.lengths[i]) - 1),
                )
                continue
            if not c.on("episode_offset"):
                continue
            j = int(np.argmax(np.where(off[i], frac[i], -1)))
            c.say(
                "episode_offset",
                "warning",
                e,
                f"{ft.key} {dims(ft, off[i])} sits outside every other episode: "
                f"{ft.names[j]} {g(ft.ep_min[i, j])}..{g(ft.ep_max[i, j])}, the others "
                f"{g(lo[i, j])}..{g(hi[i, j])} (gap {100 * frac[i, j]:.3g} % of their width; "
                f"above {100 * c.t['offset_gap_frac']:g} %)",
                f"the arm was likely recalibrated between sessions; re-record, subtract the "
                f"offset, or {DROP}",
                feature=ft.key,
                frames=(0, int(c.rows.lengths[i]) - 1),
            )


def _far(c: Checks, ft: Feature) -> np.ndarray:
    """(E, D): the episode's centre is an outlier among all episodes' centres (robust z),
    in a dimension that moves within episodes. A joint that holds still within episodes but
    sits at a new pose in each (a humanoid's idle joints) has every episode "outside" the
    others; that is the data, not a recalibration."""
    centre = np.where(ft.finite[:, None], (ft.ep_min + ft.ep_max) / 2, np.nan)
    med = np.nanmedian(centre, axis=0)
    mad = 1.4826 * np.nanmedian(np.abs(centre - med), axis=0)
    moves = np.nanmedian(np.where(ft.finite[:, None], ft.ep_range, np.nan), axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.abs(centre - med) / np.where(mad > 0, mad, np.inf)
        moving = moves > c.t["offset_moving_frac"] * ft.spread
    return (z > c.t["offset_z"]) & moving


def _swapped(
    ft: Feature, i: int, lo: np.ndarray, hi: np.ndarray, off: np.ndarray
) -> tuple[int, int] | None:
    """(a, b): episode i's dim a fits the others' envelope of b and vice versa."""
    cand = np.flatnonzero(off)
    pad = 0.1 * (hi[i] - lo[i])
    for a in cand:
        for b in cand:
            if b == a:
                continue
            fits_ab = lo[i, b] - pad[b] <= ft.ep_min[i, a] and ft.ep_max[i, a] <= hi[i, b] + pad[b]
            fits_ba = lo[i, a] - pad[a] <= ft.ep_min[i, b] and ft.ep_max[i, b] <= hi[i, a] + pad[a]
            if fits_ab and fits_ba:
                return (int(min(a, b)), int(max(a, b)))
    return None


def copies(c: Checks) -> None:
    """action(t) equal to state(t): a copy (no lead), not the command that led the state."""
    sk = state_key(c.rows)
    if sk is None or "action" not in c.rows.features:
        return
    st, act = c.rows.features[sk], c.rows.features["action"]
    if st.values.shape[1] != act.values.shape[1] or st.names != act.names:
        return  # different joints (GR2: 45-d state, 37-d action): nothing to compare
    s = st.values.astype(np.float64)
    tol = c.t["copy_tol_frac"] * st.spread + f32.slack(s)
    eq = (np.abs(act.values - s) <= tol).mean(axis=1)
    frac = np.add.reduceat(eq, c.rows.starts) / c.rows.lengths
    for i in np.flatnonzero(frac >= c.t["copy_frac"]):
        e = int(c.rows.episodes[i])
        if c.skipped(e) or not (st.finite[i] and act.finite[i]):
            continue
        c.say(
            "action_copies_state",
            "warning",
            e,
            f"action equals {sk} in {100 * frac[i]:.3g} % of the values (within float32): "
            "the action is a copy of the state, not the command that leads it",
            f"the recorder logged the wrong field; re-record, or {DROP}",
            feature="action",
            frames=(0, int(c.rows.lengths[i]) - 1),
        )


def slow(c: Checks) -> None:
    """Timestamps spaced wider than 1/fps: the control loop ran slower than the dataset says."""
    fps = c.ctx.fps
    ts = c.rows.timestamp
    if fps <= 0 or len(ts) < 2 or not np.isfinite(ts).all():
        return
    d = np.diff(ts)
    inner = c.rows.inner()
    for i in range(len(c.rows.episodes)):
        a, b = int(c.rows.starts[i]), int(c.rows.ends[i])
        if b - a < 3:
            continue
        spacing = float(np.median(d[a : b - 1][inner[a : b - 1]]))
        if spacing * fps > c.t["slow_ratio"]:
            e = int(c.rows.episodes[i])
            c.say(
                "slow_loop",
                "warning",
                e,
                f"frames are {1000 * spacing:.1f} ms apart (median): the loop ran at "
                f"{1 / spacing:.3g} Hz, not the dataset's {fps:g} fps (limit "
                f"{c.t['slow_ratio']:g} x 1/fps)",
                f"replaying at {fps:g} fps runs this episode {spacing * fps:.2g}x fast; {DROP}",
                frames=(0, b - a - 1),
            )
