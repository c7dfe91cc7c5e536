"""Nightly conversion: every v2.x dataset in INBOX that has no complete v3.0 twin in OUTBOX.

Runs from cron on a storage box (light `tools` env, no torch). Each dataset is converted by the
same converter `make convert` uses, in its own process, so one bad dataset is reported and
skipped instead of stopping the night. A dataset counts as done only when the converter has
published ``OUTBOX/<name>_v30/meta/info.json`` (it renames into place after verification), so a
run killed half-way is simply redone the next night. ``scripts/nightly.sh`` holds the flock.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from validators.dataset_format import INFO_PATH, LEGACY_VERSIONS, V30


@dataclass(frozen=True)
class Job:
    src: Path
    dst: Path


def version_of(root: Path) -> str | None:
    """The dataset's codebase_version, or None when it is not a readable dataset."""
    try:
        return json.loads((root / INFO_PATH).read_text()).get("codebase_version")
    except (OSError, ValueError, AttributeError):
        return None


def plan(inbox: Path, outbox: Path) -> tuple[list[Job], list[Path]]:
    """(datasets to convert, datasets already converted); non-datasets are ignored."""
    todo: list[Job] = []
    done: list[Path] = []
    for src in sorted(p for p in inbox.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if version_of(src) not in LEGACY_VERSIONS:
            continue
        dst = outbox / f"{src.name}_v30"
        if version_of(dst) == V30:
            done.append(dst)
        else:
            todo.append(Job(src, dst))
    return todo, done


def convert(job: Job, extra: list[str]) -> tuple[bool, str]:
    """Run the converter on one dataset; return (ok, its last stderr line)."""
    cmd = [sys.executable, "-m", "scripts.convert_v21_to_v30", str(job.src), "--dst", str(job.dst)]
    proc = subprocess.run([*cmd, *extra], capture_output=True, text=True, check=False)
    sys.stdout.write(proc.stdout)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    return proc.returncode == 0, (lines[-1] if lines else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inbox", type=Path, required=True, help="folder of v2.x datasets")
    parser.add_argument("--outbox", type=Path, required=True, help="where <name>_v30 goes")
    parser.add_argument("--dry-run", action="store_true", help="list what would be converted")
    args, extra = parser.parse_known_args(argv)
    for knob, path in (("INBOX", args.inbox), ("OUTBOX", args.outbox)):
        if not path.is_dir():
            print(f"nightly: error: {knob}={path} is not a directory", file=sys.stderr)
            return 2
    todo, done = plan(args.inbox, args.outbox)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    print(f"nightly {stamp}: {len(todo)} to convert, {len(done)} already converted")
    failed = []
    for job in todo:
        print(f"nightly: converting {job.src} -> {job.dst}", flush=True)
        if args.dry_run:
            continue
        ok, last = convert(job, extra)
        print(f"nightly: {'ok' if ok else 'FAILED'}: {job.src.name} {last}", flush=True)
        if not ok:
            failed.append(f"{job.src}: {last}")
    for line in failed:
        print(f"nightly: error: {line}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
