"""The episode table a selection is made from: index, task and length of each episode.

Read from a v3.0 dataset's ``meta/episodes/*/*.parquet`` (pyarrow, columns only), so choosing
episodes costs milliseconds and never loads LeRobot. The task is the episode's *first* task,
the one LeRobot 0.6.1's eval_split groups by (``lerobot/datasets/factory.py``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


class EpisodeError(ValueError):
    """A selection or a dataset that cannot give episodes; the message is one line."""


@dataclass(frozen=True)
class Episode:
    """One episode as selection rules see it."""

    index: int
    task: str
    length: int


def read_info(root: Path) -> dict:
    """``meta/info.json`` of a v3.0 dataset; a missing file or another version is refused."""
    info_path = Path(root) / "meta" / "info.json"
    if not info_path.is_file():
        raise EpisodeError(f"DATASET={root}: no meta/info.json (not a LeRobot dataset)")
    try:
        info = json.loads(info_path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise EpisodeError(f"{info_path}: cannot be read as JSON ({e})") from e
    version = info.get("codebase_version")
    if version != "v3.0":
        raise EpisodeError(
            f"{info_path}: codebase_version {version!r}, want 'v3.0' "
            f"(convert it first: make convert SRC={root})"
        )
    return info


def read_episodes(root: Path) -> list[Episode]:
    """Every episode of the dataset at ``root``, sorted by index."""
    import pyarrow.parquet as pq

    read_info(root)
    files = sorted((Path(root) / "meta" / "episodes").glob("*/*.parquet"))
    if not files:
        raise EpisodeError(f"{root}/meta/episodes: no parquet files (not a finished v3.0 dataset)")
    out: list[Episode] = []
    for f in files:
        try:
            rows = pq.read_table(f, columns=["episode_index", "tasks", "length"]).to_pylist()
        except Exception as e:  # pyarrow raises several types for a bad file
            raise EpisodeError(f"{f}: cannot be read ({type(e).__name__}: {e})") from e
        for r in rows:
            tasks = r["tasks"] or [""]
            out.append(Episode(int(r["episode_index"]), str(tasks[0]), int(r["length"])))
    return sorted(out, key=lambda e: e.index)
