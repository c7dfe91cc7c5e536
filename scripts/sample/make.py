"""Write the toolkit's deterministic sample dataset (LeRobot v2.x, Koch-like by default).

    python -m scripts.sample.make --out DIR [--preset NAME] [--force]
    python -m scripts.sample.make --list-presets

Library use (converter/validator tests)::

    from scripts.sample.make import PRESETS, SampleSpec, decode_barcode, make_dataset
    make_dataset(tmp_path / "ds", PRESETS["gapped"])

The output matches, structurally, a dataset recorded by LeRobot 0.3.3 (the real fixture in
``tests/fixtures/koch_v21_real``); every frame carries a barcode of (episode, frame) so a
decoded frame can be identified after conversion.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from scripts.sample.frames import decode_barcode
from scripts.sample.spec import PRESETS, SampleSpec
from scripts.sample.writer import OutputExistsError, make_dataset

__all__ = ["PRESETS", "OutputExistsError", "SampleSpec", "decode_barcode", "main", "make_dataset"]

PRESET_HELP = {
    "sample": "Koch arm, 3 episodes (36/50/42 frames), 2 AV1 cameras, 2 tasks (default)",
    "gapped": "episode indices 0,1,3,4 (episode 2 deleted by hand)",
    "image": "frames stored as PNG in parquet (dtype image), no videos",
    "many_short": "60 episodes of 3-8 frames, one camera (file roll-over)",
    "gr2": "Fourier GR2: 45-d state, 37-d action, RGB + 12-bit HEVC depth camera",
    "chunked": "5 episodes with chunks_size=2 (three chunk directories)",
    "v20": "codebase_version v2.0: meta/stats.json, no episodes_stats.jsonl",
    "two_task": "4 tasks, every episode switches task half way",
}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m scripts.sample.make",
        description="Write a deterministic synthetic LeRobot v2.x dataset.",
    )
    p.add_argument("--out", type=Path, help="destination directory (must not exist)")
    p.add_argument("--preset", default="sample", help="dataset preset (default: sample)")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.add_argument("--list-presets", action="store_true", help="list presets and exit")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    return p


SAMPLE_MARKER = Path("meta") / ".lerobot-ops-sample.json"


def mark_generated(out: Path, preset: str) -> None:
    """Mark ``out`` as written by this generator: ``make clean`` removes only what it marks."""
    body = {"tool": "lerobot-ops make_sample", "preset": preset}
    (out / SAMPLE_MARKER).write_text(json.dumps(body) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.list_presets:
        for name in PRESETS:
            print(f"{name:<11} {PRESET_HELP.get(name, '')}")
        return 0
    if args.out is None:
        print("make_sample: --out DIR is required (e.g. --out data/sample)", file=sys.stderr)
        return 2
    if args.preset not in PRESETS:
        names = ", ".join(PRESETS)
        print(
            f"make_sample: unknown --preset {args.preset!r}; choose one of: {names}",
            file=sys.stderr,
        )
        return 2
    try:
        out = make_dataset(
            args.out, PRESETS[args.preset], force=args.force, progress=not args.quiet
        )
    except OutputExistsError as exc:
        print(f"make_sample: {exc}", file=sys.stderr)
        return 1
    mark_generated(out, args.preset)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
