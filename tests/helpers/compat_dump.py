"""Dump what a LeRobot version's ``LeRobotDataset`` yields, so two versions can be compared.

Why: the converter's output must read the same in every v3.0 reader our users run (the pinned
LeRobot 0.6.1 in envs/act and the 0.4.x line in envs/compat04). The only honest check is to
run each real reader on the same directory and compare what ``__getitem__`` returns. This
script is executed by either environment's interpreter (it uses only API both versions
share: ``LeRobotDataset(repo_id, root, delta_timestamps, video_backend)``) and writes, per
job, an ``.npz`` with one stacked array per returned key (tensor dtypes kept: bool
``*_is_pad`` flags, float32/int64 numbers, ...) plus the task strings. Camera frames come back
as float32 ``k / 255``; they are stored as the uint8 ``k`` only after checking that
``k / 255`` reproduces every float exactly (else the float32 array is kept), so the files stay
4x smaller without losing a bit. The test process (tools env, no torch) compares the files.

A job that cannot be loaded is reported, not raised: its JSON line carries the exception and
the innermost LeRobot frame, so an incompatibility names the place in LeRobot's code.

Usage: <env python> tests/helpers/compat_dump.py JOBS.json
JOBS.json: [{"root": DIR, "out": FILE.npz, "delta": {key: [seconds...]} | null,
             "indices": "all" | [int, ...], "backend": "pyav" (default) | "torchcodec"}, ...]
Prints one JSON line per job: {"out", "ok", "version", "frames", "episodes", "keys"} or
{"out", "ok": false, "error", "where"}.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

import lerobot
import numpy as np
import torch
from lerobot.datasets.lerobot_dataset import LeRobotDataset


def _innermost_lerobot_frame(exc: BaseException) -> str:
    """The deepest traceback frame inside the lerobot package: where the reader gave up."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "/lerobot/" in f.filename]
    if not frames:
        return ""
    f = frames[-1]
    rel = f.filename.split("/site-packages/", 1)[-1]
    return f"{rel}:{f.lineno} in {f.name}: {f.line}"


def _to_numpy(value: object) -> np.ndarray | str:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    if isinstance(value, str):
        return value
    return np.asarray(value)


def _compact(key: str, array: np.ndarray, camera_keys: set[str]) -> np.ndarray:
    """float32 frames in [0, 1] -> uint8 codes, only when that is exactly reversible."""
    if key not in camera_keys or array.dtype != np.float32:
        return array
    codes = np.rint(array * np.float32(255.0))
    if codes.min() < 0 or codes.max() > 255:
        return array
    codes = codes.astype(np.uint8)
    if not np.array_equal(codes.astype(np.float32) / np.float32(255.0), array):
        return array
    return codes


def dump(job: dict) -> dict:
    """Load one dataset, read the requested indices, write the .npz; return a summary."""
    ds = LeRobotDataset(
        repo_id="x",
        root=job["root"],
        delta_timestamps=job.get("delta"),
        video_backend=job.get("backend", "pyav"),
    )
    indices = job.get("indices", "all")
    if indices == "all":
        indices = list(range(len(ds)))
    columns: dict[str, list] = {}
    for i in indices:
        item = ds[i]
        for key, value in item.items():
            columns.setdefault(key, []).append(_to_numpy(value))
    arrays: dict[str, np.ndarray] = {}
    for key, values in columns.items():
        if len(values) != len(indices):
            raise RuntimeError(f"key {key!r} present in only {len(values)}/{len(indices)} items")
        if isinstance(values[0], str):
            arrays[key] = np.array(values, dtype=np.str_)
        else:
            arrays[key] = _compact(key, np.stack(values), set(ds.meta.camera_keys))
    arrays["__indices__"] = np.asarray(indices, dtype=np.int64)
    ep_from = [int(ds.meta.episodes[e]["dataset_from_index"]) for e in range(ds.num_episodes)]
    ep_to = [int(ds.meta.episodes[e]["dataset_to_index"]) for e in range(ds.num_episodes)]
    arrays["__episode_from__"] = np.asarray(ep_from, dtype=np.int64)
    arrays["__episode_to__"] = np.asarray(ep_to, dtype=np.int64)
    np.savez(job["out"], **arrays)
    return {
        "out": job["out"],
        "ok": True,
        "version": lerobot.__version__,
        "frames": len(ds),
        "episodes": ds.num_episodes,
        "total_frames": ds.meta.total_frames,
        "total_episodes": ds.meta.total_episodes,
        "keys": sorted(columns),
        "dtypes": {k: str(v.dtype) for k, v in arrays.items()},
    }


def main(jobs_file: Path) -> int:
    for job in json.loads(jobs_file.read_text()):
        try:
            result = dump(job)
        except Exception as exc:  # report, let the test decide; other jobs still run
            result = {
                "out": job["out"],
                "ok": False,
                "version": lerobot.__version__,
                "error": f"{type(exc).__name__}: {exc}"[:2000],
                "where": _innermost_lerobot_frame(exc),
            }
        print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
