"""Structure group: the files the metadata implies exist, totals match what is on disk,
pointers resolve, and episode row ranges tile the data exactly.

Only parquet footers are read here (row counts), never row data, so this group is cheap
and runs in quick mode too.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from validators import dataset_format as fmt
from validators.context import Context


def run(ctx: Context) -> None:
    read_data_footers(ctx)
    check_episode_indices(ctx)
    check_files(ctx)
    check_hidden(ctx)
    check_totals(ctx)
    if ctx.is_v3:
        check_ranges_v3(ctx)
    check_splits(ctx)


def data_files_on_disk(ctx: Context) -> list[Path]:
    """Data parquet files in the order LeRobot loads them (sorted ``data/*/*.parquet``).

    Hidden ones are left to :func:`check_hidden` (LeRobot would load them, and fail).
    """
    return sorted(p for p in (ctx.root / "data").glob("*/*.parquet") if not fmt.is_hidden(p.name))


def check_hidden(ctx: Context) -> None:
    """Hidden files in data/ and videos/ (macOS AppleDouble ``._*``, ``.DS_Store``), said once.

    Ignored, as the converter ignores them: nothing refers to them. Except a hidden
    ``*.parquet`` in a v3.0 ``data/`` folder: LeRobot 0.6.1 globs ``data/*/*.parquet`` with
    pathlib, which matches hidden names, and fails on an AppleDouble file.
    """
    hidden = [
        p for top in ("data", "videos") for p in sorted((ctx.root / top).rglob(".*")) if p.is_file()
    ]
    if not hidden:
        return
    loaded = [
        p
        for p in hidden
        if ctx.is_v3 and p.parent.parent == ctx.root / "data" and p.suffix == ".parquet"
    ]
    if loaded:
        ctx.add(
            "structure.hidden_file",
            "error",
            f"{len(loaded)} hidden parquet file(s) in data/, e.g. {ctx.rel(loaded[0])}: LeRobot "
            "0.6.1 loads every data/*/*.parquet, hidden ones too, and fails on them",
            f"delete them (macOS AppleDouble copies): find {ctx.root} -name '._*' -delete",
            file=ctx.rel(loaded[0]),
        )
        return
    apple = sum(p.name.startswith("._") for p in hidden)
    ctx.add(
        "structure.hidden_file",
        "warning",
        f"ignored {len(hidden)} hidden file(s) in data/ and videos/ ({apple} macOS AppleDouble "
        f"'._*'), e.g. {ctx.rel(hidden[0])}: not part of the dataset",
        f"harmless here; to tidy up: find {ctx.root} -name '._*' -delete",
        file=ctx.rel(hidden[0]),
    )


def read_data_footers(ctx: Context) -> None:
    """Row counts of every data file, from the footer; unreadable footers are findings."""
    import pyarrow.parquet as pq

    if ctx.is_v3:
        paths = data_files_on_disk(ctx)
    else:
        seen: dict[str, None] = {}
        for ep in ctx.episodes:
            seen.setdefault(ep.data_path, None)
        paths = [ctx.root / p for p in seen if (ctx.root / p).is_file()]

    def footer(path: Path) -> Any:
        try:
            return pq.read_metadata(path)
        except Exception as exc:  # any arrow/OS error: LeRobot cannot read it either
            return exc

    ctx.data_files = {}
    with ThreadPoolExecutor(max_workers=4) as pool:
        footers = list(pool.map(footer, paths))
    for path, md in zip(paths, footers, strict=True):
        rel = ctx.rel(path)
        if not isinstance(md, Exception):
            ctx.parquet_meta[rel] = md
            ctx.data_files[rel] = md.num_rows
        else:
            exc = md
            ctx.unreadable_data.add(rel)
            ctx.data_files[rel] = None
            ctx.add(
                "data.unreadable_parquet",
                "error",
                f"cannot open parquet: {exc}",
                "the file is truncated or corrupt (LeRobot fails with 'Parquet magic bytes not "
                "found'); restore it from the source dataset or re-convert",
                file=rel,
            )
    # global row starts in load order (v3.0: sorted glob; v2.x: episode order)
    starts, row = [], 0
    for rel, n in ctx.data_files.items():
        starts.append((rel, row, row + (n or 0)))
        row += n or 0
    ctx.file_rows = starts
    ctx.data_rows_total = row if not ctx.unreadable_data else None


def check_episode_indices(ctx: Context) -> None:
    seen: set[int] = set()
    for pos, ep in enumerate(ctx.episodes):
        if ep.episode_index in seen:
            ctx.add(
                "structure.episode_indices",
                "error",
                f"episode_index {ep.episode_index} is listed twice in the episode metadata",
                "each episode must appear once; remove the duplicate row",
                episode=ep.episode_index,
            )
        seen.add(ep.episode_index)
        if ep.episode_index != pos and ctx.is_v3:
            ctx.add(
                "structure.episode_indices",
                "error",
                f"episode at position {pos} has episode_index {ep.episode_index}: LeRobot 0.6.1 "
                "looks episodes up by position, so indices must be 0..N-1",
                "renumber episodes 0..N-1 (the converter does this for gapped v2.1 datasets)",
                episode=ep.episode_index,
            )
            break
    if not ctx.is_v3 and ctx.episodes:
        idx = [e.episode_index for e in ctx.episodes]
        if idx != list(range(len(idx))):
            missing = sorted(set(range(max(idx) + 1)) - set(idx))[:10]
            ctx.add(
                "structure.episode_gaps",
                "warning",
                f"episode indices are not 0..{len(idx) - 1} (missing e.g. {missing})",
                "fine for v2.1 storage; the converter renumbers them to 0..N-1 for v3.0",
                file=fmt.LEGACY_EPISODES_PATH,
            )


def _exists(ctx: Context, rel: str, cache: dict[str, bool]) -> bool:
    if rel not in cache:
        cache[rel] = (ctx.root / rel).is_file()
    return cache[rel]


def check_files(ctx: Context) -> None:
    cache: dict[str, bool] = {}
    reported: set[str] = set()
    check_id = "structure.dangling_file_index" if ctx.is_v3 else "structure.missing_file"
    for ep in ctx.episodes:
        refs = [("data", ep.data_path)] + [(vk, v.path) for vk, v in ep.videos.items()]
        for what, rel in refs:
            if _exists(ctx, rel, cache) or rel in reported:
                continue
            reported.add(rel)
            if ctx.is_v3:
                msg = f"episode {ep.episode_index} points at {rel} ({what}), which does not exist"
                hint = "wrong chunk/file index in meta/episodes, or the file is lost; re-convert"
            else:
                msg = f"{rel} ({what}) is missing"
                hint = "restore the file from the recording or drop the episode from the metadata"
            ctx.add(check_id, "error", msg, hint, file=rel, episode=ep.episode_index)
    ctx.missing_files = {rel for rel, ok in cache.items() if not ok}
    # Orphans: files on disk nobody points at.
    referenced = set(cache)
    on_disk = [ctx.rel(p) for p in data_files_on_disk(ctx)]
    on_disk += [
        ctx.rel(p) for p in (ctx.root / "videos").glob("**/*.mp4") if not fmt.is_hidden(p.name)
    ]
    for rel in sorted(set(on_disk) - referenced):
        if not ctx.episodes_loaded:
            break
        ctx.add(
            "structure.orphan_file",
            "warning",
            f"{rel} is not referenced by any episode"
            + (" (LeRobot still loads every data/*/*.parquet)" if rel.startswith("data/") else ""),
            "delete it or add its episodes to the metadata",
            file=rel,
        )


def _int(ctx: Context, key: str) -> int | None:
    v = ctx.info.get(key)
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def check_totals(ctx: Context) -> None:
    info_file = fmt.INFO_PATH
    total_eps = _int(ctx, "total_episodes")
    if ctx.episodes_loaded and total_eps is not None and total_eps != len(ctx.episodes):
        ctx.add(
            "structure.total_episodes",
            "error",
            f"total_episodes is {total_eps} but the episode metadata lists {len(ctx.episodes)}",
            f"set total_episodes to {len(ctx.episodes)}",
            file=info_file,
        )
    total_frames = _int(ctx, "total_frames")
    if total_frames is not None and ctx.data_rows_total is not None:
        missing_data = any(ep.data_path in ctx.missing_files for ep in ctx.episodes)
        if total_frames != ctx.data_rows_total and not missing_data:
            ctx.add(
                "structure.total_frames",
                "error",
                f"total_frames is {total_frames} but the data files hold "
                f"{ctx.data_rows_total} rows",
                f"set total_frames to {ctx.data_rows_total} (or restore the missing rows)",
                file=info_file,
            )
    total_tasks = _int(ctx, "total_tasks")
    if ctx.tasks is not None and total_tasks is not None and total_tasks != len(ctx.tasks):
        ctx.add(
            "structure.total_tasks",
            "error",
            f"total_tasks is {total_tasks} but the tasks file lists {len(ctx.tasks)}",
            f"set total_tasks to {len(ctx.tasks)}",
            file=info_file,
        )
    total_videos = _int(ctx, "total_videos")
    if total_videos is not None and ctx.episodes_loaded:
        if ctx.is_v3:
            expected = len({v.path for ep in ctx.episodes for v in ep.videos.values()})
            alt = len(ctx.episodes) * len(ctx.video_keys)  # LeRobot's converter copies v2.1's
            if total_videos not in (expected, alt):
                ctx.add(
                    "structure.total_videos",
                    "warning",
                    f"total_videos is {total_videos}; the metadata references {expected} files",
                    "LeRobot 0.6.1 ignores total_videos; drop it or set it right",
                    file=info_file,
                )
        else:
            expected = len(ctx.episodes) * len(ctx.video_keys)
            if total_videos != expected:
                ctx.add(
                    "structure.total_videos",
                    "error",
                    f"total_videos is {total_videos}, expected {expected} "
                    f"({len(ctx.episodes)} episodes x {len(ctx.video_keys)} cameras)",
                    f"set total_videos to {expected}",
                    file=info_file,
                )


def check_ranges_v3(ctx: Context) -> None:
    """dataset_from/to_index must be contiguous, non-overlapping, and cover every data row."""
    prev_to = 0
    for ep in ctx.episodes:
        e = ep.episode_index
        if ep.to_index - ep.from_index != ep.length:
            ctx.add(
                "structure.index_ranges",
                "error",
                f"episode {e}: dataset_to_index - dataset_from_index = "
                f"{ep.to_index - ep.from_index} but length is {ep.length}",
                "rewrite meta/episodes so that to - from == length",
                episode=e,
            )
        if ep.from_index < prev_to:
            ctx.add(
                "structure.index_ranges",
                "error",
                f"episode {e}: rows [{ep.from_index}, {ep.to_index}) overlap the previous "
                f"episode, which ends at {prev_to}",
                "episode row ranges must not overlap; recompute them from the lengths",
                episode=e,
            )
        elif ep.from_index > prev_to:
            ctx.add(
                "structure.index_ranges",
                "error",
                f"episode {e}: starts at row {ep.from_index} but the previous episode ends at "
                f"{prev_to} (a gap of {ep.from_index - prev_to} rows)",
                "episode row ranges must be contiguous; recompute them from the lengths",
                episode=e,
            )
        prev_to = ep.to_index
    if ctx.episodes and ctx.data_rows_total is not None and prev_to != ctx.data_rows_total:
        ctx.add(
            "structure.index_ranges",
            "error",
            f"episode ranges end at row {prev_to} but the data holds {ctx.data_rows_total} rows",
            "the episode metadata does not cover the data; re-convert",
        )
    # Each episode's rows must lie inside the file its data/chunk_index, file_index names.
    spans = {rel: (a, b) for rel, a, b in ctx.file_rows}
    for ep in ctx.episodes:
        span = spans.get(ep.data_path)
        if span is None or ep.data_path in ctx.unreadable_data:
            continue
        if ctx.data_rows_total is not None and ep.to_index > ctx.data_rows_total:
            continue  # rows missing altogether: structure.index_ranges says so
        if not (span[0] <= ep.from_index and ep.to_index <= span[1]):
            ctx.add(
                "structure.episode_file_mismatch",
                "error",
                f"episode {ep.episode_index}: rows [{ep.from_index}, {ep.to_index}) are not in "
                f"{ep.data_path}, which holds rows [{span[0]}, {span[1]})",
                "data/chunk_index and data/file_index point at the wrong file (the bug of "
                "LeRobot's own converter at file splits); re-convert with "
                "scripts.convert",
                file=ep.data_path,
                episode=ep.episode_index,
            )


def check_splits(ctx: Context) -> None:
    splits = ctx.info.get("splits")
    total = _int(ctx, "total_episodes")
    if not isinstance(splits, dict) or total is None:
        return
    for name, spec in splits.items():
        try:
            a, b = (int(x) for x in str(spec).split(":"))
        except ValueError:
            continue  # the schema group reports the format
        if not 0 <= a <= b <= total:
            ctx.add(
                "structure.splits",
                "warning",
                f"split {name!r} = {spec!r} is outside 0:{total}",
                f'set splits to {{"train": "0:{total}"}}',
                file=fmt.INFO_PATH,
            )
