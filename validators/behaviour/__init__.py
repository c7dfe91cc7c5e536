"""Behavioural checks (issue 27): episodes that are well formed and still poison training.

A dead joint, a frozen state, wraparounds, spikes, an episode offset from the others, two
joints swapped, an idle or a very short episode, an episode saved twice, a gripper that never
opens, a frozen camera, an action that copies the state, a loop that ran slow. Every
threshold is relative to the dataset's own spread (``thresholds.py``; docs/validate.md says
what data set each). Reuses the data group's parquet read (``rows.py``); skipped in quick mode. The
camera check runs in every mode but quick: two keyframes per episode and camera, read from
the MP4 sample table and decoded alone (``camera.py``; a seek per frame had made standard
mode 4x slower).
Severity: error for a joint dead in every episode
and duplicated episodes (NaN/Inf are ``data.non_finite``), warnings for the judgment calls;
every per-episode finding names its episode, so ``EPISODES=~@report.json`` drops them.
"""

from __future__ import annotations

from validators.behaviour import camera, episodes, motion, rows
from validators.behaviour.base import Checks
from validators.behaviour.thresholds import CHECKS, DEFAULTS
from validators.context import Context

__all__ = ["CHECKS", "DEFAULTS", "run"]


def run(
    ctx: Context, thresholds: dict[str, float] | None = None, off: set[str] = frozenset()
) -> None:
    """All behavioural checks over the rows; ``off`` names checks switched off."""
    if ctx.quick or ctx.data is None:
        return
    data = rows.load(ctx)
    if data is None:
        return
    c = Checks(ctx, data, {**DEFAULTS, **(thresholds or {})}, set(off))
    # order matters: short and idle episodes are judged first, and not again per dimension
    plan = [
        ("short_episode", episodes.short),
        ("idle_episode", motion.idle),
        ("duplicate_episode", episodes.duplicates),
        ("dead_joint", motion.dead),
        ("frozen_state", motion.frozen),
        ("spike", motion.jumps),
        ("episode_offset", episodes.offsets),
        ("gripper_never_opens", motion.gripper),
        ("action_copies_state", episodes.copies),
        ("slow_loop", episodes.slow),
        ("frozen_camera", camera.frozen_camera),
    ]
    for name, fn in plan:
        if name == "spike" and not (c.on("spike") or c.on("wraparound")):
            continue
        if name == "episode_offset" and not (c.on(name) or c.on("swapped_joints")):
            continue
        if name not in ("spike", "episode_offset") and not c.on(name):
            continue
        fn(c)
    if "spike" in c.off or "wraparound" in c.off:
        drop = {f"behaviour.{n}" for n in ("spike", "wraparound") if n in c.off}
        ctx.report.findings[:] = [f for f in ctx.report.findings if f.check_id not in drop]
