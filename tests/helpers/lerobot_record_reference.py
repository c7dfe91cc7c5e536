"""Replay a v2.x dataset's frames through the pinned LeRobot's own recorder (act env only).

Why: the converter promises v3.0 metadata "exactly as the pinned LeRobot writes it". The
honest reference is what ``LeRobotDataset.create`` + ``add_frame`` + ``save_episode`` write
for the same frames, so this script feeds every frame of SRC (numbers from parquet, pictures
decoded from the source mp4 with PyAV) to the recorder and leaves a v3.0 dataset in OUT.
Videos are re-encoded by LeRobot (so their bytes differ); metadata can be compared.

Usage: envs/act/.venv/bin/python tests/helpers/lerobot_record_reference.py SRC OUT
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import av
import numpy as np
import pyarrow.parquet as pq
from lerobot.datasets.lerobot_dataset import LeRobotDataset
from PIL import Image

DEFAULT_KEYS = {"timestamp", "frame_index", "episode_index", "index", "task_index"}


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def main(src: Path, out: Path) -> None:
    info = json.loads((src / "meta/info.json").read_text())
    features = {k: v for k, v in info["features"].items() if k not in DEFAULT_KEYS}
    for ft in features.values():
        ft.pop("info", None)
    tasks = {t["task_index"]: t["task"] for t in _read_jsonl(src / "meta/tasks.jsonl")}
    episodes = sorted(_read_jsonl(src / "meta/episodes.jsonl"), key=lambda e: e["episode_index"])
    video_keys = [k for k, ft in features.items() if ft["dtype"] == "video"]
    image_keys = [k for k, ft in features.items() if ft["dtype"] == "image"]
    ds = LeRobotDataset.create(
        repo_id="ref/reference",
        fps=info["fps"],
        features=features,
        root=out,
        robot_type=info.get("robot_type"),
        use_videos=bool(video_keys),
    )
    chunks = info.get("chunks_size", 1000)
    for ep in episodes:
        idx = ep["episode_index"]
        chunk = idx // chunks
        table = pq.read_table(
            src / info["data_path"].format(episode_chunk=chunk, episode_index=idx)
        )
        rows = table.to_pylist()
        frames = {
            k: _decode(
                src / info["video_path"].format(episode_chunk=chunk, video_key=k, episode_index=idx)
            )
            for k in video_keys
        }
        for i, row in enumerate(rows):
            frame = {"task": tasks[row["task_index"]]}
            for key, ft in features.items():
                if key in frames:
                    frame[key] = frames[key][i]
                elif key in image_keys:
                    frame[key] = np.asarray(
                        Image.open(io.BytesIO(row[key]["bytes"])).convert("RGB")
                    )
                else:
                    value = np.asarray(row[key], dtype=ft["dtype"])
                    frame[key] = value.reshape(ft["shape"])
            ds.add_frame(frame)
        ds.save_episode()
    ds.finalize()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
