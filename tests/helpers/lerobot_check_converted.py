"""Load a converted dataset with the pinned LeRobot and compare EVERY frame with its source.

Runs in envs/act (it imports LeRobot). For every index of ``LeRobotDataset(root=DST)``:
numbers (state, action, timestamp, frame_index, extra columns) must equal the source parquet
row exactly, ``index``/``episode_index`` must be the renumbered positions, the task text must
be the source's, and every camera's frame (decoded by LeRobot with PyAV, as uint8) must equal
the source mp4's frame decoded with PyAV here; image-dtype features must equal the source
PNG. With a third part REF (a dataset LeRobot's own recorder wrote from the same frames),
windows with ``delta_timestamps`` at the first and last 3 rows of every episode (where they
cross episode edges) are compared too: padding flags and
numbers must match LeRobot's own output, video windows must match the source frames.

Prints one JSON line per job: {"dst": ..., "frames": N, "episodes": E, "windows": W}; exits 1
with a message on the first mismatch.

Usage: envs/act/.venv/bin/python tests/helpers/lerobot_check_converted.py DST::SRC[::REF] ...
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

import av
import numpy as np
import pyarrow.parquet as pq
import torch
from lerobot.configs import DepthEncoderConfig
from lerobot.datasets.depth_utils import dequantize_depth
from lerobot.datasets.lerobot_dataset import LeRobotDataset
from PIL import Image

DEFAULTS = {"index", "episode_index", "task_index"}


def fail(msg: str) -> None:
    print(f"MISMATCH: {msg}", file=sys.stderr)
    sys.exit(1)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def decode_all(path: Path, depth: DepthEncoderConfig | None) -> list[np.ndarray]:
    """Source frames as LeRobot returns them: CHW uint8 RGB, or dequantised depth (1, H, W)."""
    with av.open(str(path)) as c:
        if depth is None:
            return [
                np.transpose(f.to_ndarray(format="rgb24"), (2, 0, 1)) for f in c.decode(video=0)
            ]
        out = []
        for f in c.decode(video=0):
            codes = torch.from_numpy(f.to_ndarray(format="gray12le").astype(np.int32))[None]
            mm = dequantize_depth(
                codes,
                depth_min=depth.depth_min,
                depth_max=depth.depth_max,
                shift=depth.shift,
                use_log=depth.use_log,
                output_unit="mm",
            )
            out.append(mm.numpy())
        return out


class Source:
    """The v2.x source, episode by episode in new (sorted) order."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.info = json.loads((root / "meta/info.json").read_text())
        eps = sorted(read_jsonl(root / "meta/episodes.jsonl"), key=lambda e: e["episode_index"])
        self.old_indices = [e["episode_index"] for e in eps]
        self.tasks = {t["task_index"]: t["task"] for t in read_jsonl(root / "meta/tasks.jsonl")}
        self.features = self.info["features"]
        self.video_keys = [k for k, f in self.features.items() if f["dtype"] == "video"]
        self.image_keys = [k for k, f in self.features.items() if f["dtype"] == "image"]
        self.depth = {}
        for k in self.video_keys:
            info = self.features[k].get("info") or {}
            if info.get("is_depth_map") or info.get("video.is_depth_map"):
                self.depth[k] = DepthEncoderConfig.from_video_info(info)
        self._cache: tuple[int, dict] | None = None

    def _path(self, template: str, old: int, **kw) -> Path:
        chunk = old // self.info.get("chunks_size", 1000)
        return self.root / template.format(episode_chunk=chunk, episode_index=old, **kw)

    def episode(self, new: int) -> dict:
        if self._cache and self._cache[0] == new:
            return self._cache[1]
        old = self.old_indices[new]
        rows = pq.read_table(self._path(self.info["data_path"], old)).to_pylist()
        videos = {
            k: decode_all(self._path(self.info["video_path"], old, video_key=k), self.depth.get(k))
            for k in self.video_keys
        }
        ep = {"old": old, "rows": rows, "videos": videos}
        self._cache = (new, ep)
        return ep


def as_np(value) -> np.ndarray:
    return value.numpy() if isinstance(value, torch.Tensor) else np.asarray(value)


def check_every_frame(dst: Path, src: Source) -> tuple[int, int]:
    ds = LeRobotDataset("local/converted", root=dst, video_backend="pyav", return_uint8=True)
    if ds.num_episodes != len(src.old_indices):
        fail(f"{ds.num_episodes} episodes in DST, {len(src.old_indices)} in SRC")
    starts: dict[int, int] = {}
    for i in range(len(ds)):
        item = ds[i]
        new = int(item["episode_index"])
        if int(item["index"]) != i:
            fail(f"row {i}: index {int(item['index'])}")
        starts.setdefault(new, i)
        ep = src.episode(new)
        fi = i - starts[new]
        row = ep["rows"][fi]
        where = f"DST row {i} (episode {new}, was {ep['old']}, frame {fi})"
        for key, ft in src.features.items():
            if key in DEFAULTS or ft["dtype"] in ("video", "image", "string"):
                continue
            got = as_np(item[key])
            want = np.asarray(row[key], dtype=got.dtype).reshape(got.shape)
            if not np.array_equal(got, want):
                fail(f"{where}: {key} {got} != {want}")
        if src.tasks[row["task_index"]] != item["task"]:
            fail(f"{where}: task {item['task']!r} != {src.tasks[row['task_index']]!r}")
        for key in src.video_keys:
            got = as_np(item[key])
            want = ep["videos"][key][fi]
            if got.shape != want.shape or not np.array_equal(got, want):
                diff = np.abs(got.astype(float) - want.astype(float)).max()
                fail(f"{where}: camera {key} frame differs (max {diff})")
        for key in src.image_keys:
            got = as_np(item[key])
            img = Image.open(io.BytesIO(row[key]["bytes"])).convert("RGB")
            want = np.transpose(np.asarray(img), (2, 0, 1)).astype(np.float32) / 255
            if not np.allclose(got, want, atol=0, rtol=0):
                fail(f"{where}: image {key} differs")
    return len(ds), ds.num_episodes


def check_windows(dst: Path, ref: Path, src: Source) -> int:
    fps = src.info["fps"]
    delta = {"action": [k / fps for k in range(-2, 4)], "observation.state": [-1 / fps, 0.0]}
    delta = {k: v for k, v in delta.items() if k in src.features}
    for key in src.video_keys:
        delta[key] = [-1 / fps, 0.0, 1 / fps]
    ours = LeRobotDataset(
        "local/converted", root=dst, delta_timestamps=delta, video_backend="pyav", return_uint8=True
    )
    theirs = LeRobotDataset(
        "local/reference", root=ref, delta_timestamps=delta, video_backend="pyav"
    )
    if len(ours) != len(theirs):
        fail(f"{len(ours)} frames vs reference {len(theirs)}")
    ep_bounds = {}
    for e in ours.meta.episodes:
        ep_bounds[e["episode_index"]] = (e["dataset_from_index"], e["dataset_to_index"])
    rows = sorted(
        {
            i
            for s, e in ep_bounds.values()
            for i in (*range(s, s + 3), *range(e - 3, e))
            if s <= i < e
        }
    )
    for i in rows:
        a, b = ours[i], theirs[i]
        for key in delta:
            pad = f"{key}_is_pad"
            if not torch.equal(a[pad], b[pad]):
                fail(f"row {i}: {pad} {a[pad].tolist()} vs LeRobot's {b[pad].tolist()}")
            if key in src.video_keys:
                new = int(a["episode_index"])
                start, stop = ep_bounds[new]
                frames = src.episode(new)["videos"][key]
                for j, d in enumerate(delta[key]):
                    k = min(max(i + round(d * fps), start), stop - 1) - start
                    if not np.array_equal(as_np(a[key][j]), frames[k]):
                        fail(f"row {i}: {key} window frame {j} differs from source frame {k}")
            elif not torch.equal(a[key], b[key]):
                fail(f"row {i}: {key} window differs from LeRobot's own dataset")
    return len(rows)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("jobs", nargs="+", help="DST::SRC or DST::SRC::REFERENCE")
    args = p.parse_args()
    for job in args.jobs:  # one process for many datasets: importing LeRobot is slow
        parts = [Path(x) for x in job.split("::")]
        dst, src_root, ref = parts[0], parts[1], parts[2] if len(parts) > 2 else None
        src = Source(src_root)
        frames, episodes = check_every_frame(dst, src)
        windows = check_windows(dst, ref, src) if ref else 0
        out = {"dst": str(dst), "frames": frames, "episodes": episodes, "windows": windows}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
