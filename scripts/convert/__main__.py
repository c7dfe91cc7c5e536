"""Convert a LeRobot v2.1 (or v2.0) dataset to v3.0, offline, without touching the source.

    python -m scripts.convert SRC [--dst DST] [--data-mb N] [--video-mb N]
                                         [--jobs N] [--force] [--reencode]

DST defaults to ``<SRC>_v30``. Without SRC the embedded sample (tests/fixtures/koch_v21_real,
written by LeRobot 0.3.3's recorder) is converted into ``data/koch_v21_real_v30``. Output is
written to ``.<DST>.tmp-<pid>`` beside DST, verified, then renamed into place. Episode gaps are
closed (renumbered 0..N-1) and the mapping is printed. Errors are one line,
``convert: error: <file>: <what>``, with exit status 1 (2 for bad options).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from scripts.common.cli import cli_errors
from scripts.convert.errors import ConversionError
from scripts.convert.nopandas import block_pandas

if TYPE_CHECKING:  # imported in main(), after the workers are started
    from scripts.convert.pipeline import Summary
    from scripts.convert.workers import CameraPool

REPO = Path(__file__).resolve().parents[2]
EMBEDDED_SAMPLE = REPO / "tests" / "fixtures" / "koch_v21_real"


def _positive_mb(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from exc
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from exc
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="convert",
        description="Convert a LeRobot v2.1/v2.0 dataset to v3.0 (offline, atomic, verified).",
    )
    p.add_argument(
        "src",
        nargs="?",
        type=Path,
        help="v2.x dataset directory (default: the embedded sample)",
    )
    p.add_argument("--dst", type=Path, help="output directory (default: <SRC>_v30)")
    p.add_argument(
        "--data-mb", type=_positive_mb, default=100, help="target size of data files (default 100)"
    )
    p.add_argument(
        "--video-mb",
        type=_positive_mb,
        default=200,
        help="target size of video files (default 200)",
    )
    p.add_argument(
        "--jobs",
        type=_positive_int,
        default=max(1, min(os.cpu_count() or 1, 8)),
        help="parallel workers: data in one, cameras in the others (default: CPU count, max 8)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="convert again over a previous output of this converter (kept until the new one "
        "is verified); never replaces a folder the converter did not write",
    )
    p.add_argument(
        "--reencode",
        action="store_true",
        help="re-encode a camera whose episodes differ in codec/size/pixel format "
        "(default: refuse, naming the odd episode)",
    )
    p.add_argument(
        "--image-quantiles",
        action="store_true",
        help="decode the sampled frames for image stats with quantiles (default: reuse the "
        "source's per-episode image stats; no policy of LeRobot 0.6.1 reads image quantiles)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def format_summary(s: Summary) -> str:
    mb = 1024**2
    videos = ", ".join(f"{k}: {n}" for k, n in s.video_files.items()) or "none"
    if s.renumbered:
        pairs = sorted(s.renumbered.items())
        shown = ", ".join(f"{o}->{n}" for o, n in pairs[:20])
        more = f" (+{len(pairs) - 20} more)" if len(pairs) > 20 else ""
        renum = f"{len(pairs)} episode(s) renumbered (old->new): {shown}{more}"
    else:
        renum = "episode indices unchanged (already 0..N-1)"
    lines = [
        f"converted {s.src} -> {s.dst}",
        f"  episodes {s.episodes}, frames {s.frames}, tasks {s.tasks}",
        f"  files: data {s.data_files}, episodes-meta {s.meta_files}, videos per camera {videos}",
        f"  size: {s.src_bytes / mb:.2f} MB -> {s.dst_bytes / mb:.2f} MB, time {s.seconds:.1f} s "
        f"({', '.join(f'{k} {v:.1f}' for k, v in s.stage_seconds.items())})",
        f"  {renum}",
        f"  verified: every row; {s.frames_compared} sampled video frames identical",
    ]
    if s.reencoded:
        lines.append(f"  re-encoded cameras: {', '.join(s.reencoded)}")
    lines += [f"  note: {n}" for n in s.notes]
    return "\n".join(lines)


def _quiet_libav() -> None:
    """FFmpeg's own log lines would break the one-line error contract; errors still raise."""
    import av

    av.logging.set_level(av.logging.PANIC)
    os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 (used by --reencode) prints a banner


def _start_workers(dst: Path, jobs: int) -> CameraPool | None:
    """Spawn the camera workers before this process imports the converter (PyAV, numpy,
    pyarrow: ~0.3 s), so both imports run at once. Only for a new DST: an existing one may
    be up to date, with nothing for workers to do."""
    if jobs < 2 or dst.exists() or dst.is_symlink():
        return None
    from scripts.convert.workers import CameraPool

    return CameraPool(jobs - 1)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    block_pandas()
    src = args.src
    dst = args.dst
    if src is None:
        src = EMBEDDED_SAMPLE
        dst = dst or REPO / "data" / f"{EMBEDDED_SAMPLE.name}_v30"
    src = Path(os.path.abspath(src))
    dst = Path(os.path.abspath(dst)) if dst else src.parent / f"{src.name}_v30"
    pool = _start_workers(dst, args.jobs)
    from scripts.convert.pipeline import Options, convert

    _quiet_libav()
    opts = Options(
        src=src,
        dst=dst,
        data_mb=args.data_mb,
        video_mb=args.video_mb,
        jobs=args.jobs,
        force=args.force,
        reencode=args.reencode,
        image_quantiles=args.image_quantiles,
        progress=not args.quiet,
    )

    def body() -> int:
        summary = convert(opts, pool)
        if summary.up_to_date:
            print(
                f"convert: {summary.dst} is up to date (a verified conversion of {summary.src} "
                "as it is now); nothing to do"
            )
            for note in summary.notes:
                print(f"  note: {note}")
            return 0
        print(format_summary(summary))
        for warning in summary.warnings:
            print(f"convert: warning: {warning}", file=sys.stderr)
        return 0

    interrupted = "nothing was published"
    return cli_errors("convert", (ConversionError,), body, path=dst, interrupted=interrupted)


if __name__ == "__main__":
    sys.exit(main())
