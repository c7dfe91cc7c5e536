"""``make eval ... SLURM=1``: one Slurm array task per checkpoint, then one merged report.

Why: a whole run's saved steps (``STEP=all``) or several runs take one ``make eval`` each on a
laptop; on the cluster the toolkit already drives (docs/slurm.md) each checkpoint is its own
array task. Every input is checked here first (the same plan as a local ``make eval``, so a
bad input fails in a second and nothing is submitted), and the episodes are fixed to the
plan's explicit list, so every task evaluates the same frames with the same seeds.

Jobs: array task i runs the ordinary ``python -m scripts.eval`` on checkpoint i and writes
``<run dir>/partial/<i>.json`` (the eval report schema, one checkpoint); a merge job with
``--dependency=afterok:<array>`` reads the partials and writes JSON: the same schema, the
partials' per-checkpoint entries unchanged, and the ranking over all checkpoints from the
same bootstrap (``metrics.rank`` on ``per_episode_mae`` and each episode's frame count, which
is what the bootstrap resamples). A failing checkpoint fails its task; the merge never runs
and its job is cancelled by Slurm, so no half report appears. PNG is not drawn (its traces
need every checkpoint's predictions in one process): run a local ``make eval PNG=`` on the
winners.

Usage: python -m scripts.eval.slurm --checkpoint a[,b] --dataset D [--step N|all] [eval args]
       [--nodes N] [--partition P] [--time T] [--slurm-args "..."] [--wait]
       python -m scripts.eval.slurm merge RUN_DIR        (the merge job)
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from scripts.episodes.select import spans
from scripts.episodes.table import read_episodes
from scripts.eval import cli, metrics, report
from scripts.eval.checkpoints import CheckpointError, _step_dirs
from scripts.eval.plan import make_plan
from scripts.report.atomic import ReportError
from scripts.slurm import client
from scripts.slurm.client import REPO, q

PLAN = "plan.json"


def say(msg: str) -> None:
    print(f"[eval] {msg}", flush=True)


def all_steps(spec: str) -> str:
    """``STEP=all``: every saved checkpoint folder of each run folder in ``spec``, oldest first;
    a checkpoint that is not a run folder stays as given."""
    out = []
    for given in (s.strip() for s in spec.split(",") if s.strip()):
        p = Path(given)
        if not (p / "checkpoints").is_dir():
            raise CheckpointError(f"STEP=all: {given} is not a training run folder")
        steps = _step_dirs(p)
        if not steps:
            raise CheckpointError(f"STEP=all: {given} has no saved checkpoint")
        out += [str(steps[s]) for s in sorted(steps)]
    return ",".join(out)


def parser() -> argparse.ArgumentParser:
    p = cli.parser()
    p.prog = "make eval ... SLURM=1"
    for action in p._actions:
        if action.dest == "step":
            action.type = str  # a number or "all", checked in main
    p.add_argument("--nodes", default="1", help=argparse.SUPPRESS)  # shared SLURM_FLAGS; unused
    p.add_argument("--partition", default=None)
    p.add_argument("--time", default=None)
    p.add_argument("--slurm-args", default="")
    p.add_argument("--wait", action="store_true", help="wait; exit with the merge job's status")
    return p


def sbatch_text(kind: str, run_dir: Path, args: argparse.Namespace, names: list[str]) -> str:
    """The array script (``kind='task'``, one checkpoint per index) or the merge script."""
    tools_py = Path(sys.executable)
    about = f"make eval ... SLURM=1 ({kind}); written by scripts/eval/slurm.py"
    if kind == "task":
        lines = client.batch_head(about, "eval", f"{run_dir}/eval-%A_%a.log", args.partition,
                                  args.time)  # fmt: skip
    else:
        lines = client.batch_head(about, "eval-merge", f"{run_dir}/merge-%j.log",
                                  args.partition, args.time)  # fmt: skip
    if kind == "merge":
        lines.append(f"exec {q(tools_py)} -m scripts.eval.slurm merge {q(run_dir)}")
        return "\n".join(lines) + "\n"
    lines.append("CKPTS=(" + " ".join(q(n) for n in names) + ")")
    i = '"${SLURM_ARRAY_TASK_ID}"'
    call = [q(tools_py), "-m", "scripts.eval", "--checkpoint", f'"${{CKPTS[{i}]}}"',
            "--dataset", q(args.dataset), "--episodes", q(args.fixed_episodes),
            "--seeds", str(args.seeds), "--batch", str(args.batch),
            "--json", f'{q(run_dir)}/partial/{i}.json', "--no-progress"]  # fmt: skip
    if args.device:
        call += ["--device", q(args.device)]
    lines.append("exec " + " ".join(call))
    return "\n".join(lines) + "\n"


def submit(args: argparse.Namespace) -> int:
    """Check everything, write the run dir, submit the array and the merge job."""
    try:
        if args.png:
            raise ReportError("PNG: not drawn with SLURM=1 (run a local make eval PNG= on the "
                              "checkpoints worth a look)")  # fmt: skip
        if args.step == "all":
            args.checkpoint, step = all_steps(args.checkpoint), None
        elif args.step is None:
            step = None
        else:
            step = cli._step(args.step)
        when = time.strftime("%Y%m%d-%H%M%S")
        plan = make_plan(args.checkpoint, args.dataset, args.episodes, step, {"JSON": args.json})
        if args.json is None:  # the default folder is made only once the plan holds
            args.json = REPO / "outputs" / "eval" / when / "eval.json"
            args.json.parent.mkdir(parents=True, exist_ok=True)
        opts = shlex.split(args.slurm_args or "")
        cl = client.cluster()
    except argparse.ArgumentTypeError as e:
        return cli.fail(str(e))
    except cli.EXPECTED as e:
        return cli.fail(str(e))
    except ValueError as e:
        return cli.fail(f"SLURM_ARGS={args.slurm_args}: {e}")
    except client.SlurmError as e:
        return cli.fail(str(e))
    # Resolved folders (the step STEP picked), so every task evaluates exactly what was checked.
    names = [str(ck.model_dir.resolve()) for ck in plan.checkpoints]
    args.fixed_episodes = ",".join(str(e) for e in plan.episodes)
    args.json = Path(args.json).resolve()
    args.dataset = Path(args.dataset).resolve()
    run_dir = args.json.parent / ".eval-slurm" / f"{args.json.stem}-{when}"
    (run_dir / "partial").mkdir(parents=True, exist_ok=False)
    body = {"json": str(args.json), "dataset": str(args.dataset), "paths": names,
            "given": [ck.given for ck in plan.checkpoints],
            "episodes": plan.episodes, "episodes_spec": plan.episodes_spec,
            "episodes_source": plan.episodes_source, "notes": plan.notes}  # fmt: skip
    (run_dir / PLAN).write_text(json.dumps(body, indent=2) + "\n")
    task, merge_sh = run_dir / "eval.sbatch", run_dir / "merge.sbatch"
    task.write_text(sbatch_text("task", run_dir, args, names))
    merge_sh.write_text(sbatch_text("merge", run_dir, args, names))
    for note in plan.notes:
        say(f"note: {note}")
    try:
        array, merge = client.submit_array_then(cl, task, merge_sh, len(names), opts, "afterok")
    except client.SlurmError as e:
        return cli.fail(str(e))
    say(f"submitted array job {array} ({len(names)} checkpoint(s) on episodes "
        f"{spans(plan.episodes)}, {cl.where}) and merge job {merge} (afterok)")  # fmt: skip
    say(f"logs: {run_dir}/eval-{array}_<i>.log, {run_dir}/merge-{merge}.log; report: {args.json}")
    if not args.wait:
        return 0
    try:
        client.wait(cl, merge)
        out = client.outcomes(cl, merge)[0]
    except client.SlurmError as e:
        return cli.fail(str(e))
    say(f"merge job {merge}: {out.state}, exit {out.exit_code}")
    if out.state == "COMPLETED" and out.exit_code == 0:
        print(report.table(json.loads(args.json.read_text())))
        return 0
    return out.exit_code or 1


def merge(run_dir: Path) -> int:
    """The merge job: partial reports -> one report over all checkpoints, same schema."""
    body = json.loads((run_dir / PLAN).read_text())
    parts = [json.loads((run_dir / "partial" / f"{i}.json").read_text())
             for i in range(len(body["paths"]))]  # fmt: skip
    entries = [p["checkpoints"][0] for p in parts]
    for entry, given in zip(entries, body["given"], strict=True):
        entry["path"] = given  # as the user named it (the task was given the resolved folder)
    length = {e.index: e.length for e in read_episodes(Path(body["dataset"]))}
    eps = np.array(body["episodes"], dtype=np.int64)
    frames = np.array([length[int(e)] for e in eps], dtype=np.int64)
    totals = []
    for e in entries:
        if e["frames"] != int(frames.sum()):
            return cli.fail(f"{e['path']}: {e['frames']} frames evaluated, the dataset's episodes "
                            f"hold {int(frames.sum())}")  # fmt: skip
        mae = np.array([e["per_episode_mae"][str(int(ep))] for ep in eps], dtype=np.float64)
        totals.append(metrics.EpisodeTotals(eps, mae, frames, len(e["per_joint_mae"])))
    ranked = metrics.rank([e["path"] for e in entries], [e["mae"] for e in entries], totals)

    plan = argparse.Namespace(  # the fields of a plan report.document reads
        dataset=body["dataset"], episodes_spec=body["episodes_spec"],
        episodes_source=body["episodes_source"],
        notes=[*body["notes"], f"merged from {len(parts)} Slurm array task(s) ({run_dir})"],
    )  # fmt: skip
    doc = report.document(
        plan, entries, ranked, device=parts[0]["device"],
        seconds=round(sum(p["seconds"] for p in parts), 2),
    )  # fmt: skip
    report.write(Path(body["json"]), doc)
    say(f"wrote {body['json']} ({len(entries)} checkpoints)")
    print(report.table(doc))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["merge"] and len(argv) == 2:
        return merge(Path(argv[1]))
    return submit(parser().parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
