"""CLI: ``python -m scripts.fix_stats DATASET [--dst DIR]`` (what ``make fix-stats`` runs).

Stages, each a log line: copy the unchanged files (reflink, else a real copy; hard links,
read-only, only with ``--link``: see ``clone``), recompute the numeric stats from the rows
(a progress bar on a terminal), rewrite ``meta/episodes`` and ``stats.json``, validate, and
rename into place. Errors are one line ``fix-stats: error: <file>: <what>``, exit 1; the
original dataset is opened read-only and a failure leaves no DST.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from scripts.common.cli import cli_errors
from scripts.convert import publish
from scripts.convert.errors import ConversionError
from scripts.fix_stats.clone import LINK_REFUSED, Cloner, read_only_protects
from scripts.fix_stats.recompute import FixError, numeric_features, recompute
from scripts.fix_stats.rewrite import (
    CHANGED_RTOL,
    copy_tree,
    rewrite_episodes,
    write_stats_json,
)
from validators.dataset_format import STATS_PATH, V30, NotADatasetError, load_layout


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="make fix-stats",
        description="Write a copy of a v3.0 dataset with exact per-episode and dataset stats "
        "(LeRobot 0.6.x writes float32 E[x^2]-E[x]^2, wrong for features far from zero). "
        "The original is never modified.",
    )
    p.add_argument("dataset", type=Path, help="a v3.0 dataset directory (read only)")
    p.add_argument(
        "--dst", type=Path, help="where the corrected copy goes (default: <DATASET>_fixed)"
    )
    p.add_argument(
        "--images",
        action="store_true",
        help="also recompute each camera's image stats by decoding the frames LeRobot samples "
        "(default: kept as recorded)",
    )
    p.add_argument(
        "--link",
        action="store_true",
        help="hard-link the unchanged files instead of copying them (LINK=1): no extra disk, "
        "but they are the original's files, so they are made read-only in both (refused where "
        "read-only does not stop this process, as root). Default: reflink where the filesystem "
        "can, else a real copy; the log line 'copied N files (METHOD)' says which",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def log(message: str) -> None:
    print(f"fix-stats: {message}", flush=True)


def _check_paths(root: Path, dst: Path) -> None:
    try:
        layout = load_layout(root)
    except NotADatasetError as exc:
        raise FixError(root, str(exc).split(": ", 1)[-1]) from exc
    if layout.version != V30:
        raise FixError(
            root / "meta/info.json",
            f"is {layout.version}; fix-stats repairs v3.0 datasets (make convert SRC={root} "
            "converts v2.x and writes exact stats)",
        )
    real_root, real_dst = root.resolve(), dst.resolve()
    if real_dst == real_root or real_root in real_dst.parents or real_dst in real_root.parents:
        raise FixError(dst, "DST must be outside DATASET (the original is never modified)")
    if dst.exists() or dst.is_symlink():
        raise FixError(dst, "already exists; choose another DST=... (nothing is replaced)")


def _dataset_std(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def report(old: dict, new: dict, changed: dict[str, int], episodes: int) -> list[str]:
    """A line per feature whose std moved (episodes, largest move); one for the unchanged."""
    lines, unchanged = [], []
    for ft in sorted(changed):
        new_std = np.asarray(new[ft]["std"], dtype=float).ravel()
        old_std = np.asarray(old.get(ft, {}).get("std", []), dtype=float).ravel()
        moved = ""
        if old_std.shape == new_std.shape and len(new_std):
            rel = np.abs(old_std - new_std) / np.maximum(np.abs(new_std), 1e-12)
            d = int(np.argmax(rel))
            if rel[d] > CHANGED_RTOL:
                moved = (
                    f"; stats.json std[{d}] {old_std[d]:.6g} -> {new_std[d]:.6g}"
                    f" (was off by {100 * rel[d]:.3g} %)"
                )
        if not changed[ft] and not moved:
            unchanged.append(ft)
            continue
        lines.append(
            f"  {ft}: per-episode std changed in {changed[ft]} of {episodes} episodes{moved}"
        )
    if unchanged:
        lines.append(f"  unchanged (within {CHANGED_RTOL:g}): {', '.join(unchanged)}")
    return lines


def fix(
    root: Path, dst: Path, progress: bool, images: bool = False, link: bool = False
) -> list[str]:
    """Build, validate and publish the corrected copy; return the report lines."""
    _check_paths(root, dst)
    layout = load_layout(root)
    features = numeric_features(layout)
    try:
        tmp = publish.make_temp(dst)
    except ConversionError as exc:
        raise FixError(exc.file, exc.message) from exc
    try:
        if link and not read_only_protects(tmp):
            raise FixError(dst, LINK_REFUSED)
        t = time.monotonic()
        cloner = Cloner(link=link)
        copy_tree(root, tmp, cloner)
        log(f"{cloner.summary()} ({time.monotonic() - t:.1f} s)")
        total = int(layout.info.get("total_episodes") or 0)
        with tqdm(total=total, desc="stats", unit="ep", disable=not progress) as bar:
            fresh = recompute(layout, features, tick=bar.update)
        log(f"recomputed {', '.join(features)} for {len(fresh)} episodes")
        if images:
            from scripts.fix_stats.images import camera_stats

            for key in layout.video_keys:
                with tqdm(total=total, desc=key, unit="ep", disable=not progress) as bar:
                    for episode, stats in camera_stats(layout, key, tick=bar.update).items():
                        fresh.setdefault(episode, {})[key] = stats
                log(f"decoded the sampled frames of {key}: image stats recomputed")
        changed = rewrite_episodes(root, tmp, fresh)
        new = write_stats_json(root, tmp, list(layout.features))
        log("rewrote meta/episodes and meta/stats.json")
        _validate(tmp, dst)
        cloner.seal()  # last: a failed run leaves the original's modes as they were
        os.rename(tmp, dst)
    except BaseException:
        publish.discard(tmp)
        raise
    old = _dataset_std(root / STATS_PATH)
    new_json = {k: {s: np.asarray(v).tolist() for s, v in st.items()} for k, st in new.items()}
    lines = report(old, new_json, changed, len(fresh))
    if cloner.linked:
        lines.append(
            f"  note: {len(cloner.linked)} files of DST are hard links to {root}'s: both are now "
            "read-only (chmod a-w; a mode belongs to the file, not the name)"
        )
    return lines


def _validate(tmp: Path, dst: Path) -> None:
    from validators.runner import validate_dataset

    # standard mode (the exact stats check included); behaviour is make validate's verdict on
    # the rows, which fix-stats copies unchanged, so it cannot block the repair of the stats
    result = validate_dataset(tmp, behaviour=False)
    if result.errors:
        first = result.errors[0]
        # findings name files relative to the validated root (tmp): name them under dst
        where = str(dst / first.file) if first.file else str(dst)
        raise FixError(where, f"validator [{first.check_id}] {first.message}; nothing written")
    log(f"validated: {len(result.findings)} finding(s), no errors")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    root = Path(os.path.abspath(args.dataset))
    dst = Path(os.path.abspath(args.dst)) if args.dst else root.parent / f"{root.name}_fixed"

    def body() -> int:
        progress = not args.quiet and sys.stderr.isatty()
        lines = fix(root, dst, progress=progress, images=args.images, link=args.link)
        log(f"wrote {dst} (the original {root} is unchanged)")
        for line in lines:
            print(line)
        return 0

    return cli_errors("fix-stats", (FixError,), body, path=dst)


if __name__ == "__main__":
    sys.exit(main())
