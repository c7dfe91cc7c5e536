"""The corrected tree: original files cloned, ``meta/episodes`` and ``stats.json`` rewritten.

Data and videos are unchanged and can be gigabytes; they are reflinked where the filesystem
can, else copied, and hard-linked (read-only) only on request: ``clone.Cloner`` says why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from scripts.convert.aggregate import aggregate_episode_files, column_to_numpy
from scripts.convert.metadata import nested_array, write_json
from scripts.convert.stats import Stats, to_jsonable
from scripts.fix_stats.clone import Cloner
from scripts.fix_stats.recompute import FixError
from validators.dataset_format import STATS_PATH

CHANGED_RTOL = 1e-6  # a per-episode std moved by more than this counts as changed
SKIPPED = ("meta/episodes/", STATS_PATH, "meta/.lerobot-ops-convert.json")


@dataclass
class Change:
    """How one feature's stats moved: per-episode std changes and the dataset-level ones."""

    feature: str
    episodes_changed: int
    episodes: int
    old_std: np.ndarray | None
    new_std: np.ndarray
    old_mean: np.ndarray | None
    new_mean: np.ndarray


def copy_tree(src: Path, dst: Path, cloner: Cloner) -> None:
    """Every file of ``src`` into ``dst`` but the stats, by ``cloner``'s method."""
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src).as_posix()
        if path.is_dir() or rel.startswith(SKIPPED[0]) or rel in SKIPPED[1:]:
            continue
        target = dst / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        cloner.put(path, target)


def rewrite_episodes(src: Path, dst: Path, fresh: dict[int, dict[str, Stats]]) -> dict[str, int]:
    """Each ``meta/episodes`` file with the recomputed stats columns; features -> episodes changed.

    Columns keep their order and names; only ``stats/<feature>/<stat>`` of recomputed
    features are replaced (a stat the file does not have is not added).
    """
    changed: dict[str, int] = {}
    files = sorted((src / "meta" / "episodes").glob("*/*.parquet"))
    if not files:
        raise FixError(src / "meta" / "episodes", "no parquet files (not a v3.0 dataset?)")
    for path in files:
        table = pq.read_table(path)
        episodes = table.column("episode_index").to_pylist()
        missing = [e for e in episodes if e not in fresh]
        if missing:
            raise FixError(path, f"episode {missing[0]} has no rows in data/")
        columns = []
        for name in table.column_names:
            column = table.column(name)
            parts = name.split("/")
            if len(parts) == 3 and parts[0] == "stats" and parts[1] in fresh[episodes[0]]:
                ft, stat = parts[1], parts[2]
                new = nested_array([fresh[e][ft][stat] for e in episodes])
                if stat == "std":
                    old = column_to_numpy(column)
                    now = column_to_numpy(new)
                    diff = np.abs(old - now) > CHANGED_RTOL * np.maximum(np.abs(now), 1e-12)
                    changed[ft] = changed.get(ft, 0) + int(
                        diff.reshape(len(episodes), -1).any(1).sum()
                    )
                column = new
            columns.append(column)
        out = dst / path.relative_to(src)
        out.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_arrays(columns, names=table.column_names), out)
    return changed


def write_stats_json(src: Path, dst: Path, features: list[str]) -> dict[str, Stats]:
    """``stats.json`` aggregated from the rewritten ``meta/episodes`` (Chan's formula, float64).

    Entries the per-episode stats cannot give (a feature without per-episode stats) are kept
    from the original file.
    """
    files = sorted((dst / "meta" / "episodes").glob("*/*.parquet"))
    agg = aggregate_episode_files(files, features)
    body = to_jsonable(agg)
    original = src / STATS_PATH
    if original.is_file():
        try:
            old = json.loads(original.read_text())
        except (OSError, ValueError) as exc:
            raise FixError(original, f"not readable JSON ({exc})") from exc
        for key, value in old.items():
            body.setdefault(key, value)
    write_json(body, dst / STATS_PATH)
    return agg
