"""Metadata of a v3.0 dataset, every file written by LeRobot 0.6.1's own code, in-process.

``convert_info`` for ``meta/info.json``, the recorder's ``save_episode_tasks`` DataFrame through
``write_tasks`` for ``meta/tasks.parquet``, the recorder's ``_flush_metadata_buffer`` for
``meta/episodes`` (all lifted out of envs/act by tests/helpers/lerobot_meta.py; pandas from the
tools env). Milliseconds per dataset, so mutation testing can rebuild one per test.
"""

from __future__ import annotations

import ast
import types
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
from helpers import lerobot_meta

from validators import dataset_format as fmt

FIXTURE_V21 = Path(__file__).resolve().parents[1] / "fixtures" / "koch_v21_real"
VIDEO_KEYS = ["observation.images.laptop", "observation.images.phone"]
TASKS = ["Pick up the cube and put it in the box", "Stack the cube on the plate"]


def load() -> dict:
    """LeRobot 0.6.1's metadata writers plus its ``write_tasks``/``load_tasks`` (pandas)."""
    ns = lerobot_meta.load()
    ns["pd"] = ns["pandas"] = pd
    path = lerobot_meta.SITE / "datasets/io_utils.py"
    tree = ast.parse(path.read_text())
    wanted = {"write_tasks", "load_tasks"}
    lerobot_meta._exec(path, [n for n in tree.body if lerobot_meta._wanted(n, wanted)], ns)
    missing = wanted - set(ns)
    if missing:
        raise LookupError(f"not found in the pinned LeRobot: {sorted(missing)}")
    return ns


def recorder_tasks(tasks: list[str]) -> pd.DataFrame:
    """``LeRobotDatasetMetadata.save_episode_tasks``'s first DataFrame (0.6.1)."""
    return pd.DataFrame({"task_index": range(len(tasks))}, index=pd.Index(tasks, name="task"))


# episode, tasks, length, data (chunk, file), per-video (chunk, file, from, to): values chosen
# distinct so that a swapped column or index shows.
EPISODES = [
    (0, [TASKS[0]], 36, (0, 1), (2, 3, 0.0, 1.2)),
    (1, [TASKS[1], TASKS[0]], 50, (4, 5), (6, 7, 1.2, 2.8666)),
    (2, [TASKS[0]], 42, (8, 9), (10, 11, 2.8666, 4.2666)),
]


def recorder_rows(episodes=EPISODES, video_keys=VIDEO_KEYS) -> list[dict]:
    """Episode rows as ``save_episode``/``_save_episode_metadata`` buffer them."""
    rows, start = [], 0
    for ei, tasks, length, (dc, df), (vc, vf, t0, t1) in episodes:
        row = {"episode_index": ei, "tasks": tasks, "length": length}
        row.update({"data/chunk_index": dc, "data/file_index": df})
        row.update({"dataset_from_index": start, "dataset_to_index": start + length})
        for j, vk in enumerate(video_keys):  # second camera: shifted, so the keys differ
            row[f"videos/{vk}/chunk_index"] = vc + 20 * j
            row[f"videos/{vk}/file_index"] = vf + 20 * j
            row[f"videos/{vk}/from_timestamp"] = t0 + j
            row[f"videos/{vk}/to_timestamp"] = t1 + j
        row["stats/action/min"] = [0.0] * 6
        row.update({"meta/episodes/chunk_index": 0, "meta/episodes/file_index": 0})
        rows.append(row)
        start += length
    return rows


def flush(lerobot: dict, root: Path, rows: list[dict], chunk: int = 0, file: int = 0) -> Path:
    rec = types.SimpleNamespace(root=root, _pq_writer=None, _metadata_buffer=[])
    for row in rows:
        row = {**row, "meta/episodes/chunk_index": chunk, "meta/episodes/file_index": file}
        rec._metadata_buffer.append({k: [v] for k, v in row.items()})
    lerobot["_flush_metadata_buffer"](rec)
    rec._pq_writer.close()
    return root / fmt.EPISODES_PATH.format(chunk_index=chunk, file_index=file)


def make_v30(lerobot: dict, root: Path, *, tasks: pd.DataFrame | None = None) -> Path:
    """meta/ of a v3.0 dataset, every file written by LeRobot 0.6.1's code."""
    lerobot["convert_info"](FIXTURE_V21, root, 100, 200)
    lerobot["write_tasks"](recorder_tasks(TASKS) if tasks is None else tasks, root)
    rows = recorder_rows()
    # two episode files, the later episodes in the earlier file: the group sorts by index
    flush(lerobot, root, rows[2:], 0, 0)
    flush(lerobot, root, rows[:2], 0, 1)
    return root


def corrupt_column(path: Path, prefix: str) -> None:
    """Overwrite the first page header of the columns named ``prefix*``: the footer (schema)
    still opens, reading those columns' rows fails."""
    md = pq.ParquetFile(path).metadata
    raw = bytearray(path.read_bytes())
    hit = 0
    for j in range(md.num_columns):
        c = md.row_group(0).column(j)
        if c.path_in_schema.startswith(prefix):
            off = c.dictionary_page_offset if c.has_dictionary_page else c.data_page_offset
            raw[off : off + 12] = b"\xff" * 12
            hit += 1
    assert hit, prefix
    path.write_bytes(bytes(raw))


def touch_videos(root: Path, rows: list[dict], video_path: str) -> None:
    """An empty file where each episode row's ``videos/<key>/chunk,file_index`` points.

    Why: the structure and data checks only look at where the files are, not what they hold.
    """
    for r in rows:
        for vk in VIDEO_KEYS:
            v = root / video_path.format(
                video_key=vk,
                chunk_index=r[f"videos/{vk}/chunk_index"],
                file_index=r[f"videos/{vk}/file_index"],
            )
            v.parent.mkdir(parents=True, exist_ok=True)
            v.touch()
