"""The pinned LeRobot's statistics functions, lifted out of its source file for the tools env.

``lerobot.datasets.compute_stats`` imports torch, which the tools env (where the converter
and its tests run) does not have; the functions themselves only need numpy. So the wanted
definitions are parsed out of the installed file and executed in isolation: the reference is
LeRobot's own code, unmodified.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np

COMPUTE_STATS = (
    Path(__file__).resolve().parents[2]
    / "envs/act/.venv/lib/python3.12/site-packages/lerobot/datasets/compute_stats.py"
)
WANTED = {
    "RunningQuantileStats",
    "aggregate_feature_stats",
    "get_feature_stats",
    "_prepare_array_for_stats",
    "_compute_basic_stats",
    "_reshape_stats_by_axis",
    "_reshape_single_stat",
    "_reshape_for_image_stats",
    "_reshape_for_vector_stats",
    "_reshape_for_feature_stats",
    "_reshape_for_global_stats",
    "DEFAULT_QUANTILES",
    # image-stats sampling: which frames, and how they are strided before the stats
    "estimate_num_samples",
    "sample_indices",
    "auto_downsample_height_width",
}


def load() -> dict:
    """LeRobot's RunningQuantileStats, get_feature_stats, aggregate_*, sample_indices, ..."""
    if not COMPUTE_STATS.is_file():
        raise FileNotFoundError(f"{COMPUTE_STATS} missing: run `make envs`")
    tree = ast.parse(COMPUTE_STATS.read_text())
    body = [
        n
        for n in tree.body
        if (isinstance(n, ast.ClassDef | ast.FunctionDef) and n.name in WANTED)
        or (isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") in WANTED)
    ]
    ns: dict = {"np": np}
    exec(compile(ast.Module(body=body, type_ignores=[]), str(COMPUTE_STATS), "exec"), ns)
    return ns
