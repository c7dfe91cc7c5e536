"""The stages of ``make edit`` in order, one log line each, and the before/after summary.

plan (metadata only: bad input stops here, nothing written) -> per output: data, each camera,
info/tasks, stats, meta/episodes, the validator (``validators.runner``, standard mode: exact
stats included) -> marker -> rename. Killed at any point, the sources are untouched (only ever
opened for reading) and DST does not exist (or is the previous output, with FORCE=1); the next
run removes the dead run's temp folder. The crash points the tests die at are the converter's
hook (``scripts.convert.killpoints``: ``LEROBOT_OPS_CONVERT_KILL_AT=edit-data`` ...).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from scripts.convert.killpoints import hook
from scripts.edit import plan as planning
from scripts.edit import publish
from scripts.edit.data import write_data
from scripts.edit.errors import EditError
from scripts.edit.metadata import write_episode_meta, write_info_and_tasks
from scripts.edit.plan import Output, Source
from scripts.edit.stats import episode_stats, write_dataset_stats
from scripts.edit.video import write_camera


@dataclass
class Request:
    """What the user asked: OP, the source folders, DST and the op's knobs."""

    op: str
    datasets: list[Path]
    dst: Path
    knobs: dict[str, str] = field(default_factory=dict)
    force: bool = False


@dataclass
class Result:
    """What was written, for the summary and the tests."""

    outputs: list[tuple[Path, int, int, int, int]]  # path, episodes, frames, fps, tasks
    copied: int = 0  # video frames stream-copied (all cameras)
    reencoded: int = 0  # video frames re-encoded (all cameras)
    seconds: float = 0.0


def make_plan(req: Request, sources: list[Source]) -> list[Output]:
    """OP + knobs -> outputs (``plan``); an unknown OP lists the ones that exist."""
    k = req.knobs
    if req.op not in planning.OPS:
        raise EditError(f"OP={req.op}: unknown; one of {', '.join(planning.OPS)}")
    if req.op != "merge" and len(sources) != 1:
        raise EditError(f"DATASET: OP={req.op} takes one dataset (merge takes several)")
    src = sources[0]
    if req.op in ("delete", "keep"):
        return planning.plan_delete(src, k.get("EPISODES"), keep=req.op == "keep")
    if req.op == "split":
        return planning.plan_split(src, k.get("SPLIT"))
    if req.op == "merge":
        return planning.plan_merge(sources)
    if req.op == "trim":
        return planning.plan_trim(src, k.get("HEAD", ""), k.get("TAIL", ""), k.get("EPISODES"))
    if req.op == "trim-idle":
        return planning.plan_trim_idle(src, k.get("IDLE"), k.get("MOTION"), k.get("EPISODES"))
    if req.op == "fps":
        return planning.plan_fps(src, k.get("FACTOR"))
    if req.op == "rename-task":
        return planning.plan_rename_task(src, k.get("TASK"), k.get("NEW_TASK"))
    return planning.plan_drop_feature(src, k.get("FEATURE"))


def _describe(episodes: int, frames: int, fps: int, tasks: int) -> str:
    return f"{episodes} episodes, {frames} frames, {frames / fps:.1f} s at {fps} fps, {tasks} tasks"


def write_output(
    sources: list[Source], out: Output, root: Path, log: Callable[[str], None], progress: bool
) -> tuple[int, int, int]:
    """Every file of one output dataset under ``root``; returns (tasks, copied, re-encoded)."""
    where = out.name or "DST"
    n = len(out.pieces)
    with tqdm(total=n, desc=f"{where} data", unit="ep", disable=not progress) as bar:
        placed, tasks = write_data(sources, out, root, tick=bar.update)
    log(f"{where}: data: {placed[-1].stop} rows of {n} episodes renumbered")
    hook("edit-data")
    video_rows: list[dict] = [{} for _ in out.pieces]
    copied = reencoded = 0
    for key in out.video_keys:
        with tqdm(total=n, desc=f"{where} {key}", unit="ep", disable=not progress) as bar:
            cam = write_camera(sources, out, key, root, tick=bar.update)
        for row, extra in zip(video_rows, cam.rows, strict=True):
            row.update(extra)
        copied += cam.copied
        reencoded += cam.reencoded
        log(f"{where}: {key}: {cam.copied} frames stream-copied, {cam.reencoded} re-encoded")
    hook("edit-video")
    info = write_info_and_tasks(sources, out, root, placed[-1].stop, tasks)
    stats = episode_stats(root, sources, out, video_rows)
    write_episode_meta(out, root, info, placed, video_rows, stats)
    write_dataset_stats(root, list(out.features))
    log(f"{where}: meta/episodes, tasks, info.json and exact stats written")
    _validate(root, where)
    return len(tasks), copied, reencoded


def _validate(root: Path, where: str) -> None:
    from validators.runner import validate_dataset

    # format and exact stats gate the output; behaviour (make validate) judges the rows, which
    # an edit keeps as they were, so a dead joint in the source cannot block cutting it out
    report = validate_dataset(root, behaviour=False)
    if report.errors:
        first = report.errors[0]
        raise EditError(
            f"{where}/{first.file or ''}: validator [{first.check_id}] {first.message}; "
            "nothing written"
        )


def run(req: Request, log: Callable[[str], None], progress: bool = False) -> Result:
    """Plan, write into a temp folder, validate, publish; print the before/after summary."""
    t0 = time.monotonic()
    if req.op not in planning.OPS:
        raise EditError(f"OP={req.op}: unknown; one of {', '.join(planning.OPS)}")
    sources = [planning.load_source(p) for p in req.datasets]
    outputs = make_plan(req, sources)
    publish.check_paths(req.dst, req.datasets, req.force)
    fps = sources[0].layout.fps
    tasks_before = len({t for s in sources for t in s.tasks})
    eps_before = sum(len(s.episodes) for s in sources)
    log(f"before: {_describe(eps_before, sum(s.frames for s in sources), fps, tasks_before)}")
    tmp = publish.start(req.dst)
    result = Result(outputs=[])
    try:
        for out in outputs:
            root = tmp / out.name if out.name else tmp
            root.mkdir(parents=True, exist_ok=True)
            ntasks, copied, reencoded = write_output(sources, out, root, log, progress)
            result.copied += copied
            result.reencoded += reencoded
            frames = sum(p.frames for p in out.pieces)
            path = req.dst / out.name if out.name else req.dst
            out_fps = out.fps or fps
            result.outputs.append((path, len(out.pieces), frames, out_fps, ntasks))
        publish.write_marker(tmp, req.op, req.datasets, req.knobs)
        hook("edit-publish")
        publish.publish(tmp, req.dst, req.datasets, req.force, hook=hook)
    except BaseException:
        publish.discard(tmp)
        raise
    for path, eps, frames, out_fps, ntasks in result.outputs:
        log(f"after:  {_describe(eps, frames, out_fps, ntasks)}  -> {path}")
    log(
        f"video: {result.copied} frames stream-copied, {result.reencoded} re-encoded; "
        "validated; sources unchanged"
    )
    result.seconds = time.monotonic() - t0
    return result
