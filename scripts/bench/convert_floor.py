"""The least work any converter meeting issue #3 must do on a dataset, timed on its own.

    python -m scripts.bench.convert_floor SRC [--cores N]

Why: ``cp -r`` is the I/O floor of a conversion, but a conversion that keeps its promises
cannot be that cheap. Three pieces of work cannot be skipped, whatever the implementation:

* read every source parquet file (every row is converted and checked);
* open and demux every episode's mp4 (the stream copy needs its packets, and the
  compatibility check its header).

Decoding is not on the list any more: image stats come from the source's own per-episode
stats (issue 10), so only ``--image-quantiles`` (or a v2.0 source) decodes the frames
LeRobot's image stats sample; ``--decode`` adds that work for comparison.

This runs exactly that, with the converter's own readers and partial-GOP decoder (each
already the fastest we found), and nothing else: no stats arithmetic, no writing, no
verification, no interpreter start-up. Its CPU time divided by the cores is therefore a
lower bound on the wall time of any converter built from the same libraries (pyarrow,
FFmpeg through PyAV) on this machine; ``bench_convert`` sets it beside ``cp -r``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from scripts.convert.data import read_source_file, target_schema
from scripts.convert.pipeline import depth_params
from scripts.convert.plan import make_plan
from scripts.convert.video import CameraEpisode, Decoder, episode_samples, open_input


def demux(path: Path) -> int:
    """Every packet of an mp4's video stream (what a stream copy reads); how many."""
    with open_input(path) as container:
        return sum(1 for _ in container.demux(video=0))


def floor_cpu_seconds(src: Path, decode: bool = False) -> dict[str, float]:
    """CPU seconds of each unavoidable piece of work on ``src`` (one process, one core)."""
    plan = make_plan(src)
    out: dict[str, float] = {}
    t = time.process_time()
    schema = target_schema(plan)
    for ep in plan.episodes:
        read_source_file(ep, schema)
    out["read parquet"] = time.process_time() - t
    cams = [k for k, ft in plan.layout.features.items() if ft["dtype"] == "video"]
    t = time.process_time()
    for key in cams:
        decoder = Decoder()
        depth = depth_params(plan.layout.features[key])
        for e in plan.episodes:
            if decode:
                ep = CameraEpisode(e.new_index, e.old_index, e.length, e.video_files[key])
                episode_samples(ep, decoder, depth)
            else:
                demux(e.video_files[key])
    out["open, demux" + (", decode sampled frames" if decode else "")] = time.process_time() - t
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m scripts.bench.convert_floor", description=__doc__)
    p.add_argument("src", type=Path, help="a v2.1 dataset directory")
    p.add_argument("--cores", type=int, default=os.cpu_count() or 1, help="cores to divide by")
    p.add_argument("--decode", action="store_true", help="also decode the stats' sampled frames")
    args = p.parse_args(argv)
    parts = floor_cpu_seconds(args.src, args.decode)
    total = sum(parts.values())
    for name, seconds in parts.items():
        print(f"{name}: {seconds:.2f} s CPU")
    print(f"BENCH_FLOOR_S {total / args.cores:.3f}  ({total:.2f} s CPU over {args.cores} cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
