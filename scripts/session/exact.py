"""Exact stats written into a recording in place, one file at a time by rename.

Why: LeRobot's recorder writes per-episode and dataset stats from float32 ``E[x^2]-E[x]^2``
(wrong for a joint far from zero); the toolkit's float64 path is ``scripts.fix_stats``
(``recompute`` over the rows, ``rewrite_episodes``, ``write_stats_json``). fix-stats writes a
copy; a recording's end rewrites only ``meta/episodes/*`` and ``meta/stats.json``, so those
are staged under ``meta/.lerobot-ops-record/`` and each renamed over its original. A kill in
between leaves every file either old (recorder stats) or new (exact), each complete;
``make repair`` recomputes them all anyway. Numbers only; image stats stay as recorded.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from scripts.fix_stats.recompute import numeric_features, recompute
from scripts.fix_stats.rewrite import rewrite_episodes, write_stats_json
from scripts.session import journal
from scripts.session.writer import kill_hook
from validators.dataset_format import load_layout


def write_exact_stats(root: Path) -> int:
    """Recompute and install exact numeric stats; returns the number of episodes."""
    root = Path(root)
    layout = load_layout(root)
    fresh = recompute(layout, numeric_features(layout))
    stage = root / journal.SIDE / f"stage-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    try:
        rewrite_episodes(root, stage, fresh)
        write_stats_json(root, stage, list(layout.features))
        staged = sorted(p for p in stage.rglob("*") if p.is_file())
        for path in staged:
            with open(path, "rb") as f:
                os.fsync(f.fileno())
        for i, path in enumerate(staged):
            if i == 1:
                kill_hook("finalize-stats", "end")  # crash test: one file replaced, not all
            os.replace(path, root / path.relative_to(stage))
        journal.fsync_path(root / "meta")
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return len(fresh)
