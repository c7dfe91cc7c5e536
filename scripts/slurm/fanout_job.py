"""What the fan-out's jobs run on the nodes: one conversion per array task, then the report.

Why separate from ``fanout``: these run inside Slurm jobs, possibly on other machines, reading
only the run directory the submit side wrote (``plan.json``) and writing only their own result
file; the report job merges them with the plan's other items into the local nightly's
``nightly-report.json`` and manifest, with the nightly's own functions, so both paths write the
same report. A task that left no result (cancelled, timed out, node lost) is reported as failed
with the reason, never silently dropped.

Usage (from the generated sbatch scripts):
  python -m scripts.slurm.fanout_job task RUN_DIR --index I
  python -m scripts.slurm.fanout_job report RUN_DIR [--array-job J] [--notify CMD]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path

from scripts.nightly import run as nightly

PLAN = "plan.json"


def load(run_dir: Path) -> tuple[nightly.Run, list[int]]:
    body = json.loads((run_dir / PLAN).read_text(encoding="utf-8"))
    run = nightly.Run(body["inbox"], body["outbox"], body["started"])
    run.items = [nightly.Item(**i) for i in body["items"]]
    return run, list(body["todo"])


def task(run_dir: Path, index: int) -> int:
    """Convert the plan's ``index``-th dataset to convert; exit 1 when it failed."""
    run, todo = load(run_dir)
    item = run.items[todo[index]]
    cpus = os.environ.get("SLURM_CPUS_PER_TASK") or "1"  # the converter's workers: what we got
    print(f"convert-many: converting {item.src} -> {item.dst} ({cpus} cpu)", flush=True)
    nightly.convert(item, ["--jobs", cpus])
    nightly.write_json(run_dir / "results" / f"{index}.json", asdict(item))
    word = "ok" if item.status == "converted" else "FAILED"
    print(f"convert-many: {word}: {item.name} {item.reason}".rstrip(), flush=True)
    return 0 if item.status == "converted" else 1


def report(run_dir: Path, array_job: str, notify: str) -> int:
    """The nightly's report and manifest from the plan and the tasks' results."""
    run, todo = load(run_dir)
    for index, at in enumerate(todo):
        result = run_dir / "results" / f"{index}.json"
        try:
            run.items[at] = nightly.Item(**json.loads(result.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            item = run.items[at]
            item.status = "failed"
            task = f"{array_job}_{index}" if array_job else f"#{index}"
            item.reason = (f"array task {task} left no result (cancelled, out of time or its node "
                           f"lost): see {run_dir}/convert-{task}.log")  # fmt: skip
    run.finished = nightly._now()
    out = Path(run.outbox) / nightly.REPORT
    nightly.write_json(out, {**asdict(run), "items": [asdict(i) for i in run.items]})
    nightly.update_manifest(Path(run.outbox), run)
    print(nightly.summary(run, out), flush=True)
    for item in run.items:
        if item.status == "failed":
            print(f"convert-many: error: {item.src}: {item.reason}", file=sys.stderr)
    nightly.notify(notify, out)
    return 1 if run.count("failed") else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m scripts.slurm.fanout_job", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("task")
    t.add_argument("run_dir", type=Path)
    t.add_argument("--index", type=int, required=True)
    r = sub.add_parser("report")
    r.add_argument("run_dir", type=Path)
    r.add_argument("--array-job", default="")
    r.add_argument("--notify", default="")
    args = ap.parse_args(argv)
    if args.cmd == "task":
        return task(args.run_dir, args.index)
    return report(args.run_dir, args.array_job, args.notify)


if __name__ == "__main__":
    sys.exit(main())
