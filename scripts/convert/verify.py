"""Check the converted tree against its source before it is published.

Two layers. (1) The validator's structural checks (``validators.runner.validate_dataset``,
quick mode) when that module is installed. (2) Our own equivalence check, which does not
trust anything the writer remembered: every episode's rows are re-read from the written
files (one row group per episode) and compared column by column with the source parquet,
``index``/``episode_index``/``task_index`` against the renumbering; each written mp4's frame
count must equal the sum of its episodes'; and sampled frames (first, middle, last frame of
the first, middle and last episode of each camera) decoded from DST at
``from_timestamp + timestamp`` must equal the source frames, pixel for pixel.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from scripts.convert.errors import ConversionError
from scripts.convert.plan import Plan
from validators.dataset_format import DATA_PATH, TOLERANCE_S, VIDEO_PATH


def run_validator(tmp: Path, dst: Path) -> str:
    """Structural validation; returns a one-line note for the summary."""
    try:
        runner = importlib.import_module("validators.runner")
    except ModuleNotFoundError:
        return "validator: validators.runner not installed yet, structural checks skipped"
    report = runner.validate_dataset(tmp, quick=True)
    errors = list(report.errors)
    if errors:
        first = errors[0]
        where = str(first.file).replace(str(tmp), str(dst)) if first.file else str(dst)
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ConversionError(
            where, f"validator [{first.check_id}] {first.message}{more}; nothing was published"
        )
    return f"validator: {len(report.findings)} finding(s), no errors"


def _compare_columns(src: pa.Table, out: pa.Table, path: Path, ep_new: int) -> None:
    for name in out.column_names:
        if name in ("episode_index", "index", "task_index"):
            continue
        a = src.column(name).combine_chunks()
        b = out.column(name).combine_chunks()
        if a.type != b.type:
            a = a.cast(b.type)
        if not a.equals(b):
            raise ConversionError(
                path, f"episode {ep_new}: column {name!r} differs after conversion (bug)"
            )


def check_data(plan: Plan, tmp: Path, placements: list[dict[str, Any]], tick: Callable) -> None:
    """Every row of every episode, re-read from DST and compared with SRC."""
    remap = plan.task_remap
    open_files: dict[tuple[int, int], pq.ParquetFile] = {}
    group_of: dict[tuple[int, int], int] = {}
    for ep, place in zip(plan.episodes, placements, strict=True):
        key = (place["data/chunk_index"], place["data/file_index"])
        if key not in open_files:
            open_files.clear()
            path = tmp / DATA_PATH.format(chunk_index=key[0], file_index=key[1])
            open_files[key] = pq.ParquetFile(path)
            group_of[key] = 0
        pf = open_files[key]
        out = pf.read_row_group(group_of[key])
        group_of[key] += 1
        src = pq.ParquetFile(ep.data_file).read()
        where = ep.data_file
        if out.num_rows != src.num_rows:
            raise ConversionError(where, f"{src.num_rows} rows in SRC, {out.num_rows} in DST")
        start, stop = place["dataset_from_index"], place["dataset_to_index"]
        expect_index = np.arange(start, stop, dtype=np.int64)
        if not np.array_equal(out.column("index").to_numpy(), expect_index):
            raise ConversionError(where, f"episode {ep.new_index}: index not {start}..{stop - 1}")
        if not (out.column("episode_index").to_numpy() == ep.new_index).all():
            raise ConversionError(where, f"episode_index not {ep.new_index} in DST")
        src_tasks = src.column("task_index").to_numpy()
        want = np.array([remap[int(t)] for t in src_tasks], dtype=np.int64)
        if not np.array_equal(out.column("task_index").to_numpy(), want):
            raise ConversionError(where, f"episode {ep.new_index}: task_index differs")
        _compare_columns(src.select(out.column_names), out, where, ep.new_index)
        tick()


def _frames_at(path: Path, wanted: list[float], fmt: str) -> dict[float, np.ndarray]:
    """Decode ``path`` and keep the frames nearest each wanted time (within tolerance)."""
    found: dict[float, np.ndarray] = {}
    with av.open(str(path)) as container:
        s = container.streams.video[0]
        first = min(wanted)
        container.seek(max(0, round(first / s.time_base) - 1), backward=True, stream=s)
        last = max(wanted)
        for frame in container.decode(s):
            if frame.pts is None:
                continue
            t = float(frame.pts * s.time_base)
            for w in wanted:
                if abs(t - w) < TOLERANCE_S and w not in found:
                    found[w] = frame.to_ndarray(format=fmt)
            if t >= last + TOLERANCE_S:
                break
    return found


def _source_frames(path: Path, indices: list[int], fmt: str) -> dict[int, np.ndarray]:
    out: dict[int, np.ndarray] = {}
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i in indices:
                out[i] = frame.to_ndarray(format=fmt)
            if i >= max(indices):
                break
    return out


def check_videos(
    plan: Plan, tmp: Path, placements: list[dict[str, Any]], reencoded: set[str]
) -> int:
    """Frame counts per file and sampled frames per camera; return frames compared."""
    compared = 0
    n = len(plan.episodes)
    sample = sorted({0, n // 2, n - 1})
    for key in plan.layout.video_keys:
        per_file: dict[Path, int] = {}
        for ep, place in zip(plan.episodes, placements, strict=True):
            path = tmp / VIDEO_PATH.format(
                video_key=key,
                chunk_index=place[f"videos/{key}/chunk_index"],
                file_index=place[f"videos/{key}/file_index"],
            )
            per_file[path] = per_file.get(path, 0) + ep.length
        for path, expected in per_file.items():
            with av.open(str(path)) as c:
                got = c.streams.video[0].frames
            if got and got < expected:
                raise ConversionError(path, f"holds {got} frames, its episodes have {expected}")
        if key in reencoded:
            continue  # re-encoded frames differ from the source by design
        info = plan.layout.features[key].get("info") or {}
        fmt = "gray12le" if info.get("is_depth_map") or info.get("video.is_depth_map") else "rgb24"
        for i in sample:
            ep, place = plan.episodes[i], placements[i]
            ts = pq.ParquetFile(ep.data_file).read(columns=["timestamp"]).column(0).to_numpy()
            idx = sorted({0, ep.length // 2, ep.length - 1})
            src = _source_frames(ep.video_files[key], idx, fmt)
            base = place[f"videos/{key}/from_timestamp"]
            path = tmp / VIDEO_PATH.format(
                video_key=key,
                chunk_index=place[f"videos/{key}/chunk_index"],
                file_index=place[f"videos/{key}/file_index"],
            )
            wanted = {j: base + float(ts[j]) for j in idx}
            got = _frames_at(path, list(wanted.values()), fmt)
            for j in idx:
                w = wanted[j]
                if w not in got or j not in src or not np.array_equal(got[w], src[j]):
                    raise ConversionError(
                        path,
                        f"camera {key} episode {ep.new_index} frame {j} does not decode "
                        "identical to the source (bug)",
                    )
                compared += 1
    return compared
