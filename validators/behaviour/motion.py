"""Checks on how each joint moves: idle episodes, dead joints, a frozen state, spikes,
wraparounds and a gripper that never opens.

All vectorised over episodes x dimensions from the per-episode min/max, or over the whole
(N, D) array for frame-to-frame changes; Python loops run only over the few candidates.
"""

from __future__ import annotations

import numpy as np

from validators import f32
from validators.behaviour.base import DROP, Checks, dims, g, state_key


def _safe(spread: np.ndarray) -> np.ndarray:
    return np.where(spread > 0, spread, np.inf)


def idle(c: Checks) -> None:
    """Every dimension of every feature barely moves in the episode: nothing happens."""
    feats = [ft for ft in c.rows.features.values() if (ft.spread > 0).any()]
    if not feats or len(c.rows.episodes) < 2:
        return
    still = np.ones(len(c.rows.episodes), dtype=bool)
    worst = np.zeros(len(c.rows.episodes))
    for ft in feats:
        frac = ft.ep_range / _safe(ft.spread)
        still &= ft.finite & (frac[:, ft.spread > 0] < c.t["idle_frac"]).all(axis=1)
        worst = np.maximum(worst, frac[:, ft.spread > 0].max(axis=1))
    still &= c.rows.lengths >= c.t["idle_min_s"] * (c.ctx.fps or 30)
    if still.all():
        return  # the whole dataset is still: that is dead_joint's (or the task's) story
    c.skip["idle"] = set(c.rows.episodes[still].tolist())
    for i in np.flatnonzero(still):
        e = int(c.rows.episodes[i])
        c.say(
            "idle_episode",
            "warning",
            e,
            f"nothing moves: every dimension of {', '.join(ft.key for ft in feats)} stays "
            f"within {100 * worst[i]:.2g} % of its spread over the dataset (idle below "
            f"{100 * c.t['idle_frac']:g} %)",
            f"{DROP} (a demonstration where nothing happens teaches the policy to stand still)",
            frames=(0, int(c.rows.lengths[i]) - 1),
        )


def dead(c: Checks) -> None:
    """A dimension with (almost) no range: in every episode an error, in some a warning."""
    for ft in c.rows.features.values():
        slack = f32.slack(np.maximum(np.abs(ft.ep_min), np.abs(ft.ep_max)))
        flat = ft.finite[:, None] & (ft.ep_range <= np.maximum(c.t["dead_frac"] * ft.spread, slack))
        everywhere = flat[ft.finite].all(axis=0) if ft.finite.any() else np.zeros(0, bool)
        if everywhere.any():
            values = ft.ep_min[ft.finite][0, everywhere]
            c.say(
                "dead_joint",
                "error",
                None,
                f"{ft.key} {dims(ft, everywhere)} never moves in any episode (stays at "
                f"{', '.join(g(v) for v in values[:6])}): a dead or unplugged motor",
                "check the motor and its cable and re-record; or drop the dimension from the "
                "feature (MEAN_STD normalisation divides by its std of ~0)",
                feature=ft.key,
            )
        moving = ft.ep_range > c.t["dead_moving_frac"] * ft.spread
        for j in np.flatnonzero(~everywhere & (ft.spread > 0)):
            for i in np.flatnonzero(flat[:, j]):
                e = int(c.rows.episodes[i])
                others = np.delete(moving[:, j], i)
                if c.skipped(e) or others.mean() < 0.5:
                    continue
                c.say(
                    "dead_joint",
                    "warning",
                    e,
                    f"{ft.key} {ft.names[j]} stays at {g(ft.ep_min[i, j])} for the whole "
                    f"episode (range {g(ft.ep_range[i, j])}, under {100 * c.t['dead_frac']:g} % "
                    f"of its spread {g(ft.spread[j])}) while it moves in "
                    f"{int(others.sum())} of {len(others)} other episodes",
                    f"the motor stopped reporting; {DROP}",
                    feature=ft.key,
                    frames=(0, int(c.rows.lengths[i]) - 1),
                )


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) of the runs of True in a 1-d bool array (ends exclusive)."""
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def frozen(c: Checks) -> None:
    """The state repeats its row exactly for a while as the action moves: a stalled read."""
    sk = state_key(c.rows)
    if sk is None or "action" not in c.rows.features:
        return
    st, act = c.rows.features[sk], c.rows.features["action"]
    same = (np.diff(st.values, axis=0) == 0).all(axis=1) & c.rows.inner()
    need = max(int(c.t["frozen_min_frames"]), round(c.t["frozen_min_s"] * (c.ctx.fps or 30)))
    lo, hi = _runs(same)
    long = hi - lo >= need - 1
    reported: set[int] = set()
    for a, b in zip(lo[long], hi[long], strict=True):  # rows a..b hold the same state
        i = int(np.searchsorted(c.rows.starts, a, side="right") - 1)
        e = int(c.rows.episodes[i])
        if e in reported or c.skipped(e) or not st.finite[i] or not act.finite[i]:
            continue
        seg = act.values[a : b + 1].astype(np.float64)
        moved = (seg.max(axis=0) - seg.min(axis=0)) / _safe(act.spread)
        if moved.max() <= c.t["frozen_action_frac"]:
            continue
        reported.add(e)
        c.skip.setdefault(f"frozen:{sk}", set()).add(e)  # its catch-up jump is no spike
        f0 = a - int(c.rows.starts[i])
        c.say(
            "frozen_state",
            "warning",
            e,
            f"{sk} repeats the same row for {b - a + 1} frames "
            f"({(b - a + 1) / (c.ctx.fps or 30):.2f} s) while action moves "
            f"{100 * moved.max():.2g} % of its spread "
            f"({dims(act, moved > c.t['frozen_action_frac'])})",
            f"the state reads stalled (bus or driver); {DROP}",
            feature=sk,
            frames=(f0, f0 + b - a),
        )


def jumps(c: Checks) -> None:
    """Single/two-frame excursions out and back (spike); a large jump that stays (wrap)."""
    inner = c.rows.inner()
    for ft in c.rows.features.values():
        if len(ft.values) < 2:
            continue
        x = ft.values.astype(np.float64)
        d = np.diff(x, axis=0)
        spike_at = np.maximum(
            c.t["spike_spread_frac"] * ft.spread, c.t["spike_step_mult"] * ft.step
        )
        cand = (np.abs(d) > spike_at) & (ft.spread > 0) & inner[:, None]
        seen: set[tuple[str, int]] = set()
        for t, j in zip(*np.nonzero(cand), strict=True):
            i = int(np.searchsorted(c.rows.starts, t, side="right") - 1)
            e = int(c.rows.episodes[i])
            if not ft.finite[i] or c.skipped(e) or e in c.skip.get(f"frozen:{ft.key}", ()):
                continue
            end = int(c.rows.ends[i])
            jump = d[t, j]
            back = None
            for k in range(1, int(c.t["spike_max_frames"]) + 1):
                if t + 1 + k < end and abs(x[t + 1 + k, j] - x[t, j]) < 0.25 * abs(jump):
                    back = k
                    break
            if t > 0 and inner[t - 1] and abs(x[t + 1, j] - x[t - 1, j]) < 0.25 * abs(jump):
                continue  # the way back of a spike already seen
            f0 = int(t + 1 - c.rows.starts[i])
            if back is not None:
                if ("spike", e) in seen:
                    continue
                seen.add(("spike", e))
                c.say(
                    "spike",
                    "warning",
                    e,
                    f"{ft.key} {ft.names[j]} jumps {g(jump)} for {back} frame(s) and comes back "
                    f"({g(abs(jump) / ft.spread[j])} x its spread {g(ft.spread[j])}; typical "
                    f"step {g(ft.step[j])})",
                    f"a bad sensor read; {DROP}, or replace the frame(s) by interpolation",
                    feature=ft.key,
                    frames=(f0, f0 + back - 1),
                )
                continue
            wrap_at = max(
                c.t["wrap_spread_frac"] * ft.spread[j], c.t["wrap_step_mult"] * ft.step[j]
            )
            if abs(jump) > wrap_at and ("wrap", e) not in seen:
                seen.add(("wrap", e))
                c.say(
                    "wraparound",
                    "warning",
                    e,
                    f"{ft.key} {ft.names[j]} jumps {g(x[t, j])} -> {g(x[t + 1, j])} and stays "
                    f"({g(abs(jump) / ft.spread[j])} x its spread; a full turn is 360 deg, "
                    f"2pi rad or 4096 ticks)",
                    "the joint's reading wrapped around; unwrap it (numpy.unwrap with that "
                    f"period) or {DROP}",
                    feature=ft.key,
                    frames=(f0, f0),
                )


def gripper(c: Checks) -> None:
    """A dimension named *gripper* that barely moves in an episode where others open it."""
    for ft in c.rows.features.values():
        grip = np.array(["gripper" in n.lower() for n in ft.names]) & (ft.spread > 0)
        for j in np.flatnonzero(grip):
            frac = ft.ep_range[:, j] / ft.spread[j]
            opens = frac >= c.t["gripper_open_frac"]
            for i in np.flatnonzero(ft.finite & (frac < c.t["gripper_frac"])):
                e = int(c.rows.episodes[i])
                if c.skipped(e) or np.delete(opens, i).mean() < 0.5:
                    continue
                c.say(
                    "gripper_never_opens",
                    "warning",
                    e,
                    f"{ft.key} {ft.names[j]} stays within "
                    f"{g(ft.ep_min[i, j])}..{g(ft.ep_max[i, j])} "
                    f"({100 * frac[i]:.2g} % of its spread {g(ft.spread[j])}) while "
                    f"{int(np.delete(opens, i).sum())} of {len(opens) - 1} other episodes move it "
                    f"over {100 * c.t['gripper_open_frac']:g} %",
                    f"the gripper never opened (failed grasp or unplugged); {DROP}",
                    feature=ft.key,
                    frames=(0, int(c.rows.lengths[i]) - 1),
                )
