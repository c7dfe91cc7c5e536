"""Lay a synthetic v2.x dataset out on disk, file for file as LeRobot 0.3.3's recorder did.

Layout (from ``validators.dataset_format``): ``meta/info.json`` (indent 4, no trailing newline),
``meta/episodes.jsonl``, ``meta/tasks.jsonl``, ``meta/episodes_stats.jsonl`` (v2.1 only; v2.0
has an aggregated ``meta/stats.json`` instead), ``data/chunk-XXX/episode_XXXXXX.parquet`` and
``videos/chunk-XXX/<video_key>/episode_XXXXXX.mp4``. Everything is written into a temp
directory beside ``out`` and renamed into place at the end, so a crash leaves no half dataset.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image
from tqdm import tqdm

from validators.dataset_format import (
    DEFAULT_FEATURES,
    INFO_PATH,
    LEGACY_DATA_PATH,
    LEGACY_EPISODES_PATH,
    LEGACY_EPISODES_STATS_PATH,
    LEGACY_TASKS_PATH,
    LEGACY_VIDEO_PATH,
    STATS_PATH,
)

from . import frames, signals, stats, video
from .spec import SampleSpec

IMAGE_STRUCT = pa.struct([("bytes", pa.binary()), ("path", pa.string())])


class OutputExistsError(ValueError):
    """``out`` already exists and ``force`` was not given."""


def _log(msg: str, enabled: bool) -> None:
    if enabled:
        print(f"[make_sample] {msg}", file=sys.stderr, flush=True)


def camera_key(name: str) -> str:
    return f"observation.images.{name}"


def build_features(spec: SampleSpec) -> dict[str, dict[str, Any]]:
    """info.json ``features`` in the recorder's order (action, state, cameras, defaults)."""
    feats: dict[str, dict[str, Any]] = {
        "action": {"dtype": "float32", "shape": [spec.action_dim], "names": spec.action_names()},
        "observation.state": {
            "dtype": "float32",
            "shape": [spec.state_dim],
            "names": spec.state_names(),
        },
    }
    dtype = "image" if spec.image_dtype else "video"
    for name, (h, w) in spec.cameras.items():
        feats[camera_key(name)] = {
            "dtype": dtype,
            "shape": [h, w, 3],
            "names": ["height", "width", "channels"],
        }
    for name, (h, w) in spec.depth_cameras.items():
        feats[camera_key(name)] = {
            "dtype": "video",
            "shape": [h, w, 1],
            "names": ["height", "width", "channels"],
        }
    for key, ft in DEFAULT_FEATURES.items():
        feats[key] = json.loads(json.dumps(ft))
    return feats


def _hf_feature(ft: dict[str, Any]) -> dict[str, Any]:
    """The HF ``datasets`` Feature dict (as ``datasets.utils.py_utils.asdict`` writes it)."""
    if ft["dtype"] == "image":
        return {"_type": "Image"}
    if list(ft["shape"]) == [1]:
        return {"dtype": ft["dtype"], "_type": "Value"}
    value = {"dtype": ft["dtype"], "_type": "Value"}
    return {"feature": value, "length": ft["shape"][0], "_type": "Sequence"}


def _arrow_type(ft: dict[str, Any]) -> pa.DataType:
    if ft["dtype"] == "image":
        return IMAGE_STRUCT
    base = pa.from_numpy_dtype(np.dtype(ft["dtype"]))
    if list(ft["shape"]) == [1]:
        return base
    return pa.list_(pa.field("element", base), ft["shape"][0])


def parquet_schema(features: dict[str, dict[str, Any]]) -> pa.Schema:
    """Arrow schema + ``huggingface`` metadata for the parquet columns (videos excluded)."""
    cols = {k: ft for k, ft in features.items() if ft["dtype"] != "video"}
    hf = {"info": {"features": {k: _hf_feature(ft) for k, ft in cols.items()}}}
    schema = pa.schema([pa.field(k, _arrow_type(ft)) for k, ft in cols.items()])
    return schema.with_metadata({"huggingface": json.dumps(hf)})


def _png(img: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="png", compress_level=1)
    return buf.getvalue()


@dataclass
class _Tasks:
    """Task strings get indices in order of first use, as the recorder assigned them."""

    index: dict[str, int] = field(default_factory=dict)

    def get(self, task: str) -> int:
        return self.index.setdefault(task, len(self.index))


def _frame_tasks(spec: SampleSpec, position: int, length: int) -> list[str]:
    k = min(spec.tasks_per_episode, length)
    return [spec.tasks[(position + (fi * k) // length) % len(spec.tasks)] for fi in range(length)]


def _json_line(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False) + "\n"


def _aggregate(per_episode: list[dict[str, dict[str, np.ndarray]]]) -> dict[str, Any]:
    """v2.0's ``meta/stats.json``: dataset-wide min/max/mean/std (pooled), no count."""
    out: dict[str, Any] = {}
    for key in per_episode[0]:
        eps = [ep[key] for ep in per_episode]
        counts = np.array([e["count"][0] for e in eps], dtype=np.float64)
        means = np.stack([np.asarray(e["mean"], dtype=np.float64) for e in eps])
        stds = np.stack([np.asarray(e["std"], dtype=np.float64) for e in eps])
        w = (counts / counts.sum()).reshape(-1, *[1] * (means.ndim - 1))
        mean = (means * w).sum(axis=0)
        var = ((stds**2 + (means - mean) ** 2) * w).sum(axis=0)
        out[key] = {
            "mean": mean.tolist(),
            "std": np.sqrt(var).tolist(),
            "max": np.max(np.stack([e["max"] for e in eps]), axis=0).tolist(),
            "min": np.min(np.stack([e["min"] for e in eps]), axis=0).tolist(),
        }
    return out


def _write_dataset(root: Path, spec: SampleSpec, progress: bool) -> None:
    features = build_features(spec)
    schema = parquet_schema(features)
    video_keys = [k for k, ft in features.items() if ft["dtype"] == "video"]
    tasks = _Tasks()
    episodes_lines: list[str] = []
    stats_lines: list[str] = []
    all_stats: list[dict[str, dict[str, np.ndarray]]] = []
    video_info: dict[str, dict[str, Any]] = {}
    global_index = 0
    cam_seeds = {name: spec.seed * 101 + i for i, name in enumerate(spec.cameras)}

    pairs = list(zip(spec.indices, spec.episode_lengths, strict=True))
    bar = tqdm(pairs, desc="episodes", unit="ep", disable=not progress, file=sys.stderr)
    for position, (ep, length) in enumerate(bar):
        chunk = ep // spec.chunks_size
        frame_index = np.arange(length, dtype=np.int64)
        timestamps = frame_index / spec.fps  # float64, as the recorder's buffer held them
        ep_tasks = _frame_tasks(spec, position, length)
        task_index = np.array([tasks.get(t) for t in ep_tasks], dtype=np.int64)
        state, action = signals.trajectories(
            spec.seed, ep, length, spec.state_dim, spec.action_dim, spec.fps
        )
        columns: dict[str, Any] = {"action": action, "observation.state": state}
        ep_stats: dict[str, dict[str, np.ndarray]] = {
            "action": stats.numeric_stats(action),
            "observation.state": stats.numeric_stats(state),
        }
        for name, (h, w) in spec.cameras.items():
            key = camera_key(name)
            imgs = [frames.rgb_frame(h, w, ep, fi, cam_seeds[name]) for fi in range(length)]
            ep_stats[key] = stats.visual_stats(imgs)
            if spec.image_dtype:
                columns[key] = [
                    {"bytes": _png(img), "path": f"frame_{fi:06d}.png"}
                    for fi, img in enumerate(imgs)
                ]
            else:
                path = root / LEGACY_VIDEO_PATH.format(
                    episode_chunk=chunk, video_key=key, episode_index=ep
                )
                video.encode_rgb(path, imgs, spec.fps, spec.codec)
                video_info.setdefault(key, video.probe(path))
        for name, (h, w) in spec.depth_cameras.items():
            key = camera_key(name)
            maps = [frames.depth_frame(h, w, ep, fi) for fi in range(length)]
            ep_stats[key] = stats.visual_stats(maps, depth=True)
            path = root / LEGACY_VIDEO_PATH.format(
                episode_chunk=chunk, video_key=key, episode_index=ep
            )
            video.encode_depth(path, maps, spec.fps)
            video_info.setdefault(key, video.probe(path, depth=True))
        index = np.arange(global_index, global_index + length, dtype=np.int64)
        episode_index = np.full(length, ep, dtype=np.int64)
        columns.update(
            {
                "timestamp": timestamps.astype(np.float32),
                "frame_index": frame_index,
                "episode_index": episode_index,
                "index": index,
                "task_index": task_index,
            }
        )
        for key, data in (
            ("timestamp", timestamps),
            ("frame_index", frame_index),
            ("episode_index", episode_index),
            ("index", index),
            ("task_index", task_index),
        ):
            ep_stats[key] = stats.numeric_stats(data)
        ep_stats = {k: ep_stats[k] for k in features}  # the recorder's key order
        all_stats.append(ep_stats)

        arrays = []
        for fld in schema:
            data = columns[fld.name]
            if pa.types.is_fixed_size_list(fld.type):
                flat = pa.array(np.ascontiguousarray(data).reshape(-1), fld.type.value_type)
                arrays.append(pa.FixedSizeListArray.from_arrays(flat, type=fld.type))
            else:
                arrays.append(pa.array(data, type=fld.type))
        table = pa.Table.from_arrays(arrays, schema=schema)
        data_path = root / LEGACY_DATA_PATH.format(episode_chunk=chunk, episode_index=ep)
        data_path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, data_path, row_group_size=100 if spec.image_dtype else None)

        unique_tasks = list(dict.fromkeys(ep_tasks))
        episodes_lines.append(
            _json_line({"episode_index": ep, "tasks": unique_tasks, "length": length})
        )
        stats_lines.append(_json_line({"episode_index": ep, "stats": stats.to_json(ep_stats)}))
        global_index += length

    _log("writing meta/", progress)
    for key in video_keys:
        features[key]["info"] = video_info[key]
    meta = root / "meta"
    meta.mkdir(parents=True, exist_ok=True)
    (root / LEGACY_EPISODES_PATH).write_text("".join(episodes_lines))
    (root / LEGACY_TASKS_PATH).write_text(
        "".join(_json_line({"task_index": i, "task": t}) for t, i in tasks.index.items())
    )
    if spec.version == "v2.1":
        (root / LEGACY_EPISODES_STATS_PATH).write_text("".join(stats_lines))
    else:
        (root / STATS_PATH).write_text(json.dumps(_aggregate(all_stats), indent=4))
    n_eps = len(pairs)
    info = {
        "codebase_version": spec.version,
        "robot_type": spec.robot_type,
        "total_episodes": n_eps,
        "total_frames": global_index,
        "total_tasks": len(tasks.index),
        "total_videos": n_eps * len(video_keys),
        "total_chunks": max(spec.indices) // spec.chunks_size + 1,
        "chunks_size": spec.chunks_size,
        "fps": spec.fps,
        "splits": {"train": f"0:{n_eps}"},
        "data_path": LEGACY_DATA_PATH,
        "video_path": LEGACY_VIDEO_PATH if video_keys else None,
        "features": features,
    }
    (root / INFO_PATH).write_text(json.dumps(info, indent=4, ensure_ascii=False))


def make_dataset(
    out: Path | str,
    spec: SampleSpec | None = None,
    *,
    force: bool = False,
    progress: bool = True,
) -> Path:
    """Write the dataset described by ``spec`` (default: the Koch sample) to ``out``.

    Refuses an existing ``out`` unless ``force``; builds in ``.<name>.partial-<pid>`` beside it
    and renames at the end (the old copy is only removed once the new one is complete).
    """
    spec = spec or SampleSpec()
    out = Path(out).absolute()
    if out.exists() and not force:
        raise OutputExistsError(f"{out}: already exists (pass --force to replace it)")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    _log(f"building {spec.version} dataset in {tmp}", progress)
    try:
        tmp.mkdir()
        _write_dataset(tmp, spec, progress)
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old) if old.is_dir() else old.unlink()
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _log(f"done: {out}", progress)
    return out
