"""One conversion from start to publish: plan, data + cameras in parallel, metadata, verify.

Order matters for safety: nothing is written until the whole source has been checked; all
writes go to a private temp directory; the tree is verified; only then is it renamed into
place. Any failure (including Ctrl-C) removes the temp directory. A SIGKILL leaves it behind,
and the next run removes it (``publish.recover``).

``LEROBOT_OPS_CONVERT_KILL_AT=<stage>`` makes the process SIGKILL itself at that stage; the
crash-safety test uses it to stop the converter at exact points. Stages: after-plan,
mid-data, after-data, mid-video, after-video, before-verify, before-publish, between-renames.
"""

from __future__ import annotations

import shutil
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from scripts.convert import data as data_mod
from scripts.convert import fingerprint, metadata, publish, source_stats, verify
from scripts.convert.aggregate import aggregate_episode_files
from scripts.convert.errors import ConversionError
from scripts.convert.killpoints import hook
from scripts.convert.plan import Plan, load_source, make_plan
from scripts.convert.stats import estimate_num_samples
from scripts.convert.video import (
    CameraEpisode,
    DepthParams,
    video_info,
)
from scripts.convert.workers import COPY, HASH, STATS, CameraPool, Task, run_task, task_loop

WORK_DIR = ".convert-work"  # per-episode metadata spools inside the temp dir


@dataclass
class Options:
    src: Path
    dst: Path
    data_mb: float = 100.0
    video_mb: float = 200.0
    jobs: int = 2
    force: bool = False
    reencode: bool = False
    image_quantiles: bool = False  # decode sampled frames for image stats (q01..q99 too)
    progress: bool = True

    def output_options(self) -> dict[str, object]:
        """The options that shape DST (recorded in its marker; a change means convert again)."""
        return {
            "data_mb": float(self.data_mb),
            "video_mb": float(self.video_mb),
            "reencode": self.reencode,
            "image_quantiles": self.image_quantiles,
        }


@dataclass
class Summary:
    src: Path
    dst: Path
    episodes: int = 0
    frames: int = 0
    tasks: int = 0
    data_files: int = 0
    meta_files: int = 0
    video_files: dict[str, int] = field(default_factory=dict)
    reencoded: list[str] = field(default_factory=list)
    src_bytes: int = 0
    dst_bytes: int = 0
    seconds: float = 0.0
    renumbered: dict[int, int] = field(default_factory=dict)
    frames_compared: int = 0
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    up_to_date: bool = False  # DST already is a conversion of SRC's current content
    replaced: bool = False  # a previous output of the converter was replaced (--force)

    def lap(self, stage: str, since: float) -> float:
        """Record how long ``stage`` took (for the summary); return now."""
        now = time.monotonic()
        self.stage_seconds[stage] = now - since
        return now


def _tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def depth_params(ft: dict[str, Any]) -> DepthParams | None:
    """Quantisation of a depth camera (LeRobot's ``depth_keys`` rule), None for RGB."""
    info = ft.get("info") or {}
    if info.get("is_depth_map") or info.get("video.is_depth_map"):
        return DepthParams.from_info(info)
    return None


def _camera_episodes(plan: Plan, key: str) -> list[CameraEpisode]:
    return [
        CameraEpisode(e.new_index, e.old_index, e.length, e.video_files[key]) for e in plan.episodes
    ]


def _camera_args(plan: Plan, tmp: Path, opts: Options, key: str) -> tuple:
    """Arguments of ``workers.camera_task`` (the copy of one camera's videos)."""
    layout = plan.layout
    eps = _camera_episodes(plan, key)
    return (key, eps, tmp, opts.video_mb, layout.chunks_size, layout.fps, opts.reencode)


STATS_SHARD_FRAMES = 2000  # sampled frames per image-stats task: enough to batch, small to share
STATS_SHARD_EPISODES = 256


def stats_shards(plan: Plan, tmp: Path, key: str) -> list[tuple]:
    """Arguments of ``workers.stats_task`` for runs of one camera's episodes, in order.

    Shards are cut by the frames LeRobot's stats sample (what decoding costs), so long and
    short episodes give tasks of similar weight.
    """
    eps = _camera_episodes(plan, key)
    depth = depth_params(plan.layout.features[key])
    shards: list[tuple] = []
    lo, frames = 0, 0
    for i, ep in enumerate(eps):
        frames += estimate_num_samples(ep.length)
        if frames >= STATS_SHARD_FRAMES or i + 1 - lo >= STATS_SHARD_EPISODES or i == len(eps) - 1:
            spool = tmp / WORK_DIR / f"stats-{key}-{len(shards):05d}.arrow"
            shards.append((key, eps[lo : i + 1], depth, spool))
            lo, frames = i + 1, 0
    return shards


def _check_dst(opts: Options) -> None:
    src, dst = opts.src.resolve(), opts.dst.resolve()
    if dst == src or src in dst.parents:
        raise ConversionError(opts.dst, "DST must not be SRC or inside it (SRC is never touched)")
    if dst in src.parents:
        raise ConversionError(opts.dst, "DST must not contain SRC")
    for name, value in (("--data-mb", opts.data_mb), ("--video-mb", opts.video_mb)):
        if not value > 0:
            raise ConversionError(name, f"must be a positive number of MB, got {value}")
    if opts.jobs < 1:
        raise ConversionError("--jobs", f"must be at least 1, got {opts.jobs}")


def _source_state(opts: Options, summary: Summary) -> fingerprint.Fingerprint | None:
    """SRC's fingerprint, or None when DST already holds a conversion of this very content.

    An existing DST must be a previous output of this converter (else refused, whatever
    ``--force`` says); if SRC changed since, it is replaced only with ``--force``.
    """
    previous = publish.previous_output(opts.dst)
    t = time.monotonic()
    fp = fingerprint.compute(opts.src, known=previous.files if previous else None)
    summary.lap("fingerprint", t)
    if previous is None:
        return fp
    wanted = opts.output_options()
    moved = {k: v for k, v in wanted.items() if previous.options.get(k, v) != v}
    if fp.digest == previous.fingerprint and not moved and not opts.force:
        summary.up_to_date = True
        if previous.converter and previous.converter != publish.converter_digest():
            summary.notes.append(
                f"written {previous.converted_at} by an earlier version of the converter; "
                "FORCE=1 converts it again with this one"
            )
        return None
    if fp.digest == previous.fingerprint and moved and not opts.force:
        was = ", ".join(f"{k} {previous.options.get(k)} -> {v}" for k, v in moved.items())
        raise ConversionError(
            opts.dst,
            f"converted from this SRC with other options ({was}); pass --force (make: "
            "FORCE=1) to convert it again with these",
        )
    if not opts.force:
        changed = fp.changed_files(previous.files)
        shown = ", ".join(changed[:3]) + (
            f" (+{len(changed) - 3} more)" if len(changed) > 3 else ""
        )
        raise ConversionError(
            opts.src,
            f"changed since {opts.dst} was converted from {previous.src} on "
            f"{previous.converted_at} ({shown}); pass --force (make: FORCE=1) to convert it "
            "again (the old output is kept until the new one is verified)",
        )
    summary.replaced = True
    why = "same content" if fp.digest == previous.fingerprint else "SRC had changed"
    summary.notes.append(f"replaced the output converted {previous.converted_at} ({why})")
    return fp


def convert(opts: Options, pool: CameraPool | None = None) -> Summary:
    """Convert ``opts.src`` into ``opts.dst``; raise ConversionError on any problem.

    Returns with ``summary.up_to_date`` set, converting nothing, when DST is already a
    complete output of this converter for SRC's current content. ``pool``: workers already
    started by the caller for a new DST (closed here, whatever happens).
    """
    t0 = time.monotonic()
    try:
        opts.dst = publish.real_dst(opts.dst)
        summary = Summary(src=opts.src, dst=opts.dst)
        summary.notes += publish.recover(opts.dst)
        _check_dst(opts)
        load_source(opts.src)  # a clear error for a source that is not a v2.x dataset, first
        # A new DST needs SRC's fingerprint only for the marker: whichever core is free
        # hashes SRC while the conversion runs (see _plan_and_convert for why that is safe).
        # An existing one (perhaps just restored by recover) may be up to date: hash first.
        fresh = not (opts.dst.exists() or opts.dst.is_symlink())
        fp = None if fresh and opts.jobs > 1 else _source_state(opts, summary)
        if fp is None and not fresh:
            summary.seconds = time.monotonic() - t0
            if pool:
                pool.close()
            return summary
        if opts.jobs > 1 and pool is None:
            pool = CameraPool(opts.jobs - 1)
        _plan_and_convert(opts, summary, pool, fp)
    except BaseException:
        if pool:  # waits for workers still starting up (<1 s), so they exit cleanly
            pool.close()
        raise
    if pool:  # every task is done
        pool.close(wait=False)
    summary.src_bytes = _tree_bytes(opts.src)
    summary.dst_bytes = _tree_bytes(opts.dst)
    summary.seconds = time.monotonic() - t0
    return summary


def _plan_and_convert(
    opts: Options,
    summary: Summary,
    pool: CameraPool | None,
    fp: fingerprint.Fingerprint | None,
) -> None:
    """Convert into a temp tree and publish it; with ``fp`` None, SRC is hashed meanwhile.

    A fingerprint hashed during the conversion describes what was converted because SRC's
    sizes and mtimes are taken before anything is read and must be the same in the
    fingerprint and after the last read; otherwise nothing is published.
    """
    t = time.monotonic()
    before = fingerprint.snapshot(opts.src) if fp is None else None
    plan = make_plan(opts.src)
    summary.lap("plan", t)
    hook("after-plan")
    tmp = publish.make_temp(opts.dst)
    try:
        hashed = _convert_into(plan, tmp, opts, summary, pool, hash_src=fp is None)
        fp = fp or hashed
        assert fp is not None
        moved = fingerprint.unchanged_since(opts.src, fp)
        if moved is None and before is not None:
            moved = fingerprint.first_difference(before, fingerprint.stats_of(fp))
        if moved is not None:
            raise ConversionError(
                opts.src / moved, "changed while it was being converted; nothing was published"
            )
        publish.write_marker(tmp, opts.src, fp, opts.output_options())
        hook("before-publish")
        publish.publish(tmp, opts.dst, opts.force, hook=hook)
    except ConversionError as exc:
        publish.discard(tmp)
        if exc.file.startswith(str(tmp)):  # name the file as it would have been in DST
            raise ConversionError(opts.dst / Path(exc.file).relative_to(tmp), exc.message) from exc
        raise
    except OSError as exc:
        publish.discard(tmp)
        reason = exc.strerror or str(exc)
        raise ConversionError(opts.dst, f"cannot write ({reason})") from exc
    except BaseException:
        publish.discard(tmp)
        raise


def _convert_into(
    plan: Plan,
    tmp: Path,
    opts: Options,
    summary: Summary,
    pool: CameraPool | None,
    hash_src: bool = False,
) -> fingerprint.Fingerprint | None:
    """Write everything into ``tmp`` and verify it; return SRC's fingerprint if asked to."""
    layout = plan.layout
    n = len(plan.episodes)
    cams = layout.video_keys
    disable = not opts.progress
    t = time.monotonic()
    depth_keys = {k for k in cams if depth_params(layout.features[k])}
    src_stats = source_stats.load(plan, opts.image_quantiles, depth_keys)
    decoded = [k for k in cams if k in src_stats.decode]
    shards = {k: stats_shards(plan, tmp, k) for k in decoded}
    for k in cams:
        if k in src_stats.images:
            summary.notes.append(f"{k}: image stats from the source's episodes_stats.jsonl")
        else:
            summary.notes.append(f"{k}: image stats decoded ({src_stats.decode[k]})")
    all_shards = [sh for k in decoded for sh in shards[k]]
    bars = {
        "videos": tqdm(total=n * len(cams), desc="videos", unit="ep", disable=disable or not cams),
        "stats": tqdm(
            total=n * len(decoded), desc="image stats", unit="ep", disable=disable or not decoded
        ),
    }

    def on_progress(kind: str, k: int) -> None:
        bars[kind].update(k)

    if pool:
        pool.on_progress = on_progress
    tasks: list[Task] = [(COPY, _camera_args(plan, tmp, opts, k)) for k in cams]
    if hash_src:  # after the copies (they decide the wall time), before the stats shards
        tasks.append((HASH, (opts.src,)))
    tasks += [(STATS, sh) for sh in all_shards]
    try:
        loops: list[Future] = []
        if pool:  # every worker claims tasks (copies first) until none is left
            loops = [pool.submit(task_loop, tasks) for _ in range(pool.workers)]
        dbar = bars["data"] = tqdm(total=n, desc="data", unit="ep", disable=disable)
        digests = verify.SourceDigests(plan)
        closed: list[Path] = []

        def file_closed(path: Path) -> None:
            closed.append(path)
            if len(closed) == 1:
                hook("mid-data")

        data_result = data_mod.write_data(
            plan,
            tmp,
            opts.data_mb,
            tmp / WORK_DIR / "data.arrow",
            on_episode=lambda _: dbar.update(1),
            on_file_closed=file_closed,
            on_source=digests.record,
        )
        dbar.close()
        hook("after-data")
        # Check every written row against SRC now, while the camera workers are still busy
        # (placements from the data spool; meta/episodes is compared with them below).
        tv = time.monotonic()
        data_place = verify.spool_placements(data_result.spool)
        vbar2 = bars["verify"] = tqdm(total=n, desc="verify data", unit="ep", disable=disable)
        if digests.usable:
            verify.check_data_digests(plan, tmp, data_place, digests, tick=vbar2.update)
        else:  # a column type without a digest (image cells): re-read the sources
            verify.check_data(plan, tmp, data_place, tick=vbar2.update)
        vbar2.close()
        summary.stage_seconds["verify-data"] = time.monotonic() - tv
        if pool:  # this core is free now: claim the copies and shards nobody has started
            done = task_loop(tasks, pool.next_shard, progress=on_progress)
            for future in loops:
                done.update(future.result())
            pool.on_progress = lambda kind, k: None
        else:
            done = {i: run_task(task, on_progress) for i, task in enumerate(tasks)}
        results = {k: done[i] for i, k in enumerate(cams)}
        hashed = done[len(cams)] if hash_src else None
    except BaseException:
        if pool:  # stop the workers before the caller removes the temp directory
            pool.close(abort=True)
        raise
    finally:  # also on errors: a bar left open prints itself after the error line at exit
        for bar in bars.values():
            bar.close()
    t = summary.lap("data+videos", t)
    hook("after-video")
    # Sampled frames are decoded in a worker while this process writes the metadata and runs
    # the validator (on two cameras that is most of a second nobody waited for before).
    video_place = verify.camera_placements({k: results[k].spool for k in cams})
    reencoded = {k for k, r in results.items() if r.reencoded}
    video_check = (
        pool.submit(verify.check_videos, plan, tmp, video_place, reencoded) if pool else None
    )

    infos = {k: video_info(results[k].files[0]) for k in cams}
    info, dropped = metadata.build_info(
        layout.info,
        total_episodes=n,
        total_frames=plan.total_frames,
        total_tasks=len(plan.tasks),
        data_mb=opts.data_mb,
        video_mb=opts.video_mb,
        video_infos=infos,
    )
    metadata.write_info(info, tmp)
    metadata.write_tasks(plan.tasks, tmp)
    for k in cams:
        if results[k].episodes != n:
            raise ConversionError(tmp / WORK_DIR, f"camera {k}: {results[k].episodes} of {n} rows")
    spools: list[metadata.SpoolSource] = [data_result.spool]
    for k in cams:
        if k in src_stats.images:
            stats_spool = metadata.Spool(tmp / WORK_DIR / f"stats-{k}-source.arrow", {k: {}})
            for ep_stats in src_stats.images[k]:
                stats_spool.add({"stats": {k: ep_stats}})
            spools += [results[k].spool, stats_spool.close()]
        else:
            spools += [results[k].spool, [sh[3] for sh in shards[k]]]
    order = metadata.episode_column_order(
        layout.features, list(cams), metadata.spool_stats_keys(spools)
    )
    tables = metadata.spooled_tables(spools, order)
    summary.meta_files = metadata.write_episodes(tables, tmp, opts.data_mb, layout.chunks_size)
    episode_files = sorted((tmp / "meta" / "episodes").glob("*/*.parquet"))
    metadata.write_stats(aggregate_episode_files(episode_files, list(layout.features)), tmp)
    stale = source_stats.summarise(source_stats.cross_check(plan, src_stats, episode_files))
    if stale:
        summary.warnings.append(stale)
    shutil.rmtree(tmp / WORK_DIR)
    t = summary.lap("metadata", t)
    hook("before-verify")

    placements = verify.placements(tmp)
    verify.same_placements(placements, data_place | video_place, tmp / "meta" / "episodes")
    summary.notes.append(verify.run_validator(tmp, opts.dst))
    t = summary.lap("validator", t)
    if video_check is None:
        summary.frames_compared = verify.check_videos(plan, tmp, video_place, reencoded)
    else:
        summary.frames_compared = video_check.result()
    summary.lap("verify", t)

    summary.episodes = n
    summary.frames = plan.total_frames
    summary.tasks = len(plan.tasks)
    summary.data_files = data_result.files
    summary.video_files = {k: len(r.files) for k, r in results.items()}
    summary.reencoded = sorted(reencoded)
    summary.renumbered = plan.renumbered
    if dropped:
        summary.notes.append(f"dropped v2.x info.json keys: {', '.join(dropped)}")
    if plan.ignored:
        apple = sum(Path(f).name.startswith("._") for f in plan.ignored)
        summary.notes.append(
            f"ignored {len(plan.ignored)} hidden file(s) in data/ and videos/ ({apple} macOS "
            f"AppleDouble '._*'), e.g. {plan.ignored[0]}: not part of the dataset, not copied"
        )
    if not plan.has_episode_stats:
        summary.notes.append("source has no episodes_stats.jsonl (v2.0): stats computed")
    return hashed
