"""``make convert-many INBOX=... OUTBOX=... SLURM=1``: the nightly conversion as a Slurm array.

Why: a backlog of hundreds of v2.1 datasets converts one at a time in the nightly run; on a
cluster each dataset can be its own array task. What to convert is decided exactly as the
local nightly decides it (``scripts.nightly.run.plan``: content fingerprints, settle time, the
converter's marker), so a rerun submits only what is left: datasets already converted are
"up to date" and never submitted again.

Jobs: one array task per dataset to convert (``scripts.slurm.fanout_job task``), each writing its
outcome to ``<run dir>/results/<i>.json``; then one report job with
``--dependency=afterany:<array>`` (it runs however the tasks ended) writing the same
``OUTBOX/nightly-report.json`` and manifest as the local run and exiting 1 when anything
failed. A failing dataset fails its own task only. Everything of one fan-out (plan, scripts,
logs, results) is in ``OUTBOX/.slurm/<time>/``; while a fan-out's jobs are still queued a new
one submits nothing (the Slurm counterpart of the nightly's flock).

Usage: python -m scripts.slurm.fanout --inbox DIR --outbox DIR [--settle-minutes M]
       [--partition P] [--time T] [--slurm-args "..."] [--notify CMD] [--wait] [--dry-run]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from dataclasses import asdict
from pathlib import Path

from scripts.nightly import run as nightly
from scripts.slurm import client, fanout_job
from scripts.slurm.client import q

REPO = Path(__file__).resolve().parents[2]
CURRENT = ".slurm/current.json"


def say(msg: str) -> None:
    print(f"[convert-many] {msg}", flush=True)


def sbatch_text(kind: str, run_dir: Path, args: argparse.Namespace) -> str:
    """The array script (``kind='task'``) or the report script, both calling fanout_job."""
    tools_py = Path(sys.executable)
    about = (f"make convert-many INBOX={args.inbox} OUTBOX={args.outbox} SLURM=1 ({kind}); "
             "written by scripts/slurm/fanout.py")  # fmt: skip
    if kind == "task":
        lines = client.batch_head(about, "convert", f"{run_dir}/convert-%A_%a.log",
                                  args.partition, args.time, ("--cpus-per-task=1",))  # fmt: skip
    else:
        lines = client.batch_head(about, "convert-report", f"{run_dir}/report-%j.log",
                                  args.partition, args.time)  # fmt: skip
    call = f"{q(tools_py)} -m scripts.slurm.fanout_job {kind} {q(run_dir)}"
    if kind == "task":
        lines.append(f'exec {call} --index "${{SLURM_ARRAY_TASK_ID}}"')
    else:
        notify = f" --notify {q(args.notify)}" if args.notify else ""
        lines.append(f'exec {call} --array-job "${{ARRAY_JOB:-}}"{notify}')
    return "\n".join(lines) + "\n"


def still_running(cl: client.Cluster, outbox: Path) -> list[str]:
    """Job ids of the previous fan-out into this OUTBOX that are still queued or running."""
    try:
        jobs = json.loads((outbox / CURRENT).read_text())["jobs"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    return [j for j in jobs if client.active(cl, str(j))]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="make convert-many ... SLURM=1", description=__doc__)
    p.add_argument("--inbox", type=Path, required=True)
    p.add_argument("--outbox", type=Path, required=True)
    p.add_argument("--settle-minutes", type=float,
                   default=float(os.environ.get("SETTLE_MIN") or 10))  # fmt: skip
    p.add_argument("--partition", default=None)
    p.add_argument("--time", default=None)
    p.add_argument("--slurm-args", default="")
    p.add_argument("--notify", default=os.environ.get("NOTIFY", ""))
    p.add_argument("--wait", action="store_true", help="wait; exit with the report job's status")
    p.add_argument("--dry-run", action="store_true", help="list what would be submitted")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    for knob, path in (("INBOX", args.inbox), ("OUTBOX", args.outbox)):
        if not path.is_dir():
            print(f"convert-many: error: {knob}={path} is not a directory", file=sys.stderr)
            return 2
    args.inbox, args.outbox = args.inbox.resolve(), args.outbox.resolve()
    try:
        opts = shlex.split(args.slurm_args or "")
        cl = client.cluster()
        busy = still_running(cl, args.outbox)
    except ValueError as exc:
        print(f"convert-many: error: SLURM_ARGS={args.slurm_args}: {exc}", file=sys.stderr)
        return 2
    except client.SlurmError as exc:
        print(f"convert-many: error: {exc}", file=sys.stderr)
        return 2
    if busy:
        say(f"the previous fan-out into {args.outbox} is still running (jobs {', '.join(busy)}): "
            "nothing submitted")  # fmt: skip
        return 0
    run = nightly.Run(str(args.inbox), str(args.outbox), nightly._now())
    run.items = nightly.plan(args.inbox, args.outbox, args.settle_minutes * 60)
    todo = [i for i, item in enumerate(run.items) if item.status == "convert"]
    say(f"{len(todo)} to convert, {run.count('up to date')} up to date, "
        f"{run.count('skipped')} skipped, {run.count('failed')} failed before converting "
        f"(on {cl.where})")  # fmt: skip
    for i in todo:
        say(f"  {run.items[i].src} -> {run.items[i].dst}")
    if args.dry_run:
        return 0
    run_dir = args.outbox / ".slurm" / time.strftime("%Y%m%d-%H%M%S")
    run_dir.mkdir(parents=True, exist_ok=False)
    (run_dir / "results").mkdir()
    body = {**asdict(run), "items": [asdict(i) for i in run.items], "todo": todo}
    nightly.write_json(run_dir / fanout_job.PLAN, body)
    if not todo:  # nothing to submit: the report is written here, as the report job would
        say("nothing to convert: no job submitted")
        return fanout_job.report(run_dir, array_job="", notify=args.notify)
    task, report = run_dir / "convert.sbatch", run_dir / "report.sbatch"
    task.write_text(sbatch_text("task", run_dir, args))
    report.write_text(sbatch_text("report", run_dir, args))
    try:
        array, rep = client.submit_array_then(cl, task, report, len(todo), opts, "afterany",
                                              ("--export=ALL,ARRAY_JOB={array}",))  # fmt: skip
    except client.SlurmError as exc:
        print(f"convert-many: error: {exc}", file=sys.stderr)
        return 1
    nightly.write_json(args.outbox / CURRENT, {"jobs": [array, rep], "dir": str(run_dir)})
    say(f"submitted array job {array} ({len(todo)} task(s)) and report job {rep} (afterany)")
    say(f"logs: {run_dir}/convert-{array}_<i>.log, {run_dir}/report-{rep}.log; "
        f"report: {args.outbox / nightly.REPORT}")  # fmt: skip
    if not args.wait:
        return 0
    try:
        client.wait(cl, rep)
        out = client.outcomes(cl, rep)[0]
    except client.SlurmError as exc:
        print(f"convert-many: error: {exc}", file=sys.stderr)
        return 1
    log = run_dir / f"report-{rep}.log"
    if log.is_file():
        sys.stdout.write(log.read_text(errors="replace"))
    say(f"report job {rep}: {out.state}, exit {out.exit_code}")
    return out.exit_code if out.state in ("COMPLETED", "FAILED") else (out.exit_code or 1)


if __name__ == "__main__":
    sys.exit(main())
