"""``make train ... NODES=N SLURM=1``: the local launcher's preflight and arguments, run by Slurm.

Why: LeRobot ships no Slurm launcher; users hand-write sbatch + srun + ``accelerate launch
--num_machines ... --machine_rank $SLURM_NODEID --main_process_ip ...`` and get it subtly
wrong. This writes that script for them, readable, from the same ``scripts.train.cli.plan`` a local
``make train`` runs (recipe, derived arguments, dataset validation, weights, OUT rules), so a
run behaves the same on one box or eight.

What the job does (see the generated ``train.sbatch``, printed before submitting):
  1. every node checks that it sees the environment, the dataset and OUT's parent (a shared
     filesystem is the one thing a real cluster must provide);
  2. ``checkpoints/last`` is repaired to the newest complete checkpoint (a previous attempt
     may have been killed mid-write), then LeRobot's own resume runs if OUT has a checkpoint,
     else a fresh run: so a requeued or resubmitted job resumes exactly as ``make train`` does;
  3. one ``srun`` task per node runs ``accelerate launch --multi_gpu --num_machines N
     --machine_rank $SLURM_NODEID --main_process_ip <first node>``: one world of all processes
     (gloo on CPU, NCCL on GPUs), each process under ``scripts.train.guard`` as a local
     ``make train`` runs it: the first NaN/Inf loss or gradient stops the job (exit 8)
     with one line, and no checkpoint of that step or later is written;
  4. LeRobot's logged world size is checked against the processes launched (the CPU trap);
  5. ``--signal=B:USR1@60`` + ``--requeue``: near the time limit (or on a preemption notice)
     the job lets a checkpoint being written finish, then requeues itself; on scancel it
     repairs ``last`` before it goes.

Why the job's files are in ``<OUT>.slurm/`` and not inside OUT: LeRobot 0.6.1 refuses to start
a fresh run in an existing output directory (``configs/train.py``), and Slurm opens the log
before the job runs, so nothing may exist in OUT before the first checkpoint.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

from scripts.slurm import client
from scripts.slurm.client import q
from scripts.train import cli as local_train
from scripts.train import guard, run
from scripts.train import preflight as pf
from scripts.train.recipes import REPO, load_recipe, parse_cli_overrides

ENV_KEYS = ("HF_HOME", "HF_DATASETS_CACHE", "HF_HUB_OFFLINE", "TORCH_HOME", "WEIGHTS_DIR",
            "PYTORCH_CUDA_ALLOC_CONF", "VIDEO_BACKEND", "ENVS_DIR")  # fmt: skip
SIGNAL_S = 60  # USR1 this long before the time limit: room for one checkpoint to finish


def say(msg: str) -> None:
    print(f"[train/slurm] {msg}", flush=True)


def job_dir(out: Path) -> Path:
    return out.with_name(f"{out.name}.slurm")


def bash_array(name: str, items: list[str]) -> str:
    """A readable bash array: one quoted word per line."""
    body = "".join(f"  {q(i)}\n" for i in items)
    return f"{name}=(\n{body})"


def resume_args(out: Path, fresh_cli: list[str], extra: list[str]) -> list[str]:
    """The resume command's arguments, from the fresh ones, by the local launcher's own rule."""
    flat = parse_cli_overrides(fresh_cli)
    backend = flat.get("dataset.video_backend")
    return local_train.resume_cli(out, flat, parse_cli_overrides(extra), backend)


def script(
    *, p: local_train.Plan, fresh: list[str] | None, resume: list[str], nodes: int, per_node: int,
    gpu: bool, args: argparse.Namespace, dataset: Path, batch: str,
) -> str:  # fmt: skip
    """The sbatch script: directives, the recipe's environment, checks, launch, world check."""
    total = nodes * per_node
    jd = job_dir(p.out)
    bindir = Path(p.cmd[0]).parent
    tools_py = pf.env_dir("tools") / "bin" / "python"
    directives = [
        f"--job-name=train-{p.recipe}",
        f"--nodes={nodes}",
        "--ntasks-per-node=1",
        f"--output={jd}/train-%j.log",
        "--open-mode=append",  # a requeued job appends to the same log
        "--requeue",
        f"--signal=B:USR1@{SIGNAL_S}",
        f"--chdir={REPO}",
    ]
    if gpu:
        directives.append(f"--gpus-per-node={per_node}")
    if args.partition:
        directives.append(f"--partition={args.partition}")
    if args.time:
        directives.append(f"--time={args.time}")
    env_lines = "\n".join(
        f"export {k}={q(p.env[k])}" for k in ENV_KEYS if p.env.get(k)
    )  # fmt: skip
    if total > 1:
        launch = (
            "# shellcheck disable=SC2016  # $SLURM_NODEID is expanded on each node\n"
            'srun --nodes="${SLURM_JOB_NUM_NODES}" --ntasks-per-node=1 --kill-on-bad-exit=1 \\\n'
            '  bash -c \'exec "$0" launch --machine_rank "${SLURM_NODEID}" "$@"\' \\\n'
            f'  "${{BIN}}/accelerate" --multi_gpu --num_machines {nodes} '
            f"--num_processes {total} \\\n"
            '  --main_process_ip "${MAIN_NODE}" --main_process_port "${MAIN_PORT}" \\\n'
            f'  -m {guard.MODULE} "${{BIN}}/lerobot-train" "${{TRAIN_ARGS[@]}}" &'
        )
    else:
        launch = (
            f'srun --nodes=1 --ntasks=1 "${{BIN}}/python" -m {guard.MODULE} '
            '"${BIN}/lerobot-train" "${TRAIN_ARGS[@]}" &'
        )
    fresh_block = (
        bash_array("FRESH_ARGS", fresh)
        if fresh is not None
        else "FRESH_ARGS=()  # submitted to resume: there is no fresh command"
    )
    submitted = " ".join(q(a) for a in shlex.split(args.slurm_args or ""))
    return f"""#!/usr/bin/env bash
# make train RECIPE={p.recipe} DATASET={dataset} OUT={p.out} NODES={nodes} SLURM=1
# Written by scripts/slurm/train.py; submitted as:
#   sbatch {submitted + " " if submitted else ""}{jd}/train.sbatch
# {nodes} node(s) x {per_node} process(es) = one world of {total}; effective batch {batch}.
# Resubmitting this file (or a requeue) resumes from {p.out}/checkpoints/last.
{chr(10).join("#SBATCH " + d for d in directives)}
set -euo pipefail

OUT={q(p.out)}
DATASET={q(dataset)}
BIN={q(bindir)}
TOOLS_PY={q(tools_py)}
export PYTHONPATH={q(REPO)}
export TQDM_DISABLE=1
{env_lines}
LOG={q(jd)}/"train-${{SLURM_JOB_ID}}.log"
MARK="[slurm] job ${{SLURM_JOB_ID}} attempt ${{SLURM_RESTART_COUNT:-0}}"
MARK+=" starts on ${{SLURM_JOB_NODELIST}}"
echo "${{MARK}} at $(date -Is)"

# 1. Every node sees the environment, the dataset and OUT's parent (shared filesystem).
FIX="put envs/, the dataset and OUT on a filesystem every node mounts"
# shellcheck disable=SC2016  # single quotes on purpose: expanded by each node's bash
srun --nodes="${{SLURM_JOB_NUM_NODES}}" --ntasks-per-node=1 bash -c \\
  'for f in "${{@:2}}"; do [[ -e "$f" ]] || {{
     echo "slurm: error: node ${{SLURMD_NODENAME}}: $f not visible: $1" >&2; exit 1; }}; done' \\
  _ "${{FIX}}" "${{BIN}}/lerobot-train" "${{DATASET}}/meta/info.json" "$(dirname "${{OUT}}")"

# 2. The newest complete checkpoint is 'last' (an earlier attempt may have died mid-write).
"${{TOOLS_PY}}" -m scripts.slurm.ckpt repair "${{OUT}}"
{fresh_block}
{bash_array("RESUME_ARGS", resume)}
if [[ -f "${{OUT}}/{run.CONFIG_IN_CKPT}" ]]; then
  echo "[slurm] resuming from ${{OUT}}/checkpoints/last ($(readlink "${{OUT}}/checkpoints/last"))"
  TRAIN_ARGS=("${{RESUME_ARGS[@]}}")
elif (( ${{#FRESH_ARGS[@]}} )); then
  echo "[slurm] fresh run into ${{OUT}}"
  TRAIN_ARGS=("${{FRESH_ARGS[@]}}")
else
  echo "slurm: error: ${{OUT}} has no checkpoint to resume: make train ... SLURM=1 again" >&2
  exit 1
fi

# 3. One task per node; accelerate forms one world across them (rank 0 on the first node).
MAIN_NODE=$(scontrol show hostnames "${{SLURM_JOB_NODELIST}}" | head -n 1)
MAIN_PORT=$(( 20000 + SLURM_JOB_ID % 20000 ))
on_usr1() {{  # time limit or preemption near: finish the checkpoint being written, requeue
  echo "[slurm] USR1 at $(date -Is): settling checkpoints, then requeueing"
  "${{TOOLS_PY}}" -m scripts.slurm.ckpt settle "${{OUT}}" --timeout {SIGNAL_S - 15} || true
  scontrol requeue "${{SLURM_JOB_ID}}"
}}
on_term() {{  # scancel / requeue: the steps are being stopped too; leave 'last' complete
  echo "[slurm] SIGTERM at $(date -Is): stopping; checkpoints/last is repaired before exit"
  [[ -z "${{STEP}}" ]] || wait "${{STEP}}" 2>/dev/null || true
  "${{TOOLS_PY}}" -m scripts.slurm.ckpt repair "${{OUT}}" || true
  "${{TOOLS_PY}}" -m scripts.slurm.ckpt keep-log "${{LOG}}" "${{OUT}}" --since "${{MARK}}" || true
  exit 143
}}
STEP=""
trap on_usr1 USR1
trap on_term TERM
{launch}
STEP=$!
code=0
while :; do  # 'wait' returns early when a trapped signal arrives: wait again
  wait "${{STEP}}" && code=0 || code=$?
  kill -0 "${{STEP}}" 2>/dev/null || break
done
echo "[slurm] training step exited ${{code}} at $(date -Is)"
# OUT/train.log gets this attempt's log, as a local run keeps it (make plot OUT=... reads it).
"${{TOOLS_PY}}" -m scripts.slurm.ckpt keep-log "${{LOG}}" "${{OUT}}" --since "${{MARK}}" || true
(( code == 0 )) || exit "${{code}}"

# 4. One world, as LeRobot itself logged it (the trap: nodes training alone exit 0 too).
"${{TOOLS_PY}}" -m scripts.slurm.ckpt world "${{LOG}}" --expect {total} --since "${{MARK}}"
"""


def build_parser() -> argparse.ArgumentParser:
    ap = local_train.build_parser()
    ap.prog = "make train ... SLURM=1"
    ap.add_argument("--nodes", default="1", help="nodes (NODES)")
    ap.add_argument("--partition", default=None, help="Slurm partition (PARTITION)")
    ap.add_argument("--time", default=None, help="time limit, e.g. 2-00:00:00 (TIME)")
    ap.add_argument("--slurm-args", default="", help="extra sbatch options (SLURM_ARGS)")
    ap.add_argument("--wait", action="store_true", help="wait and exit with the job's status")
    return ap


def check_partition(cl: client.Cluster, args: argparse.Namespace, nodes: int,
                    per_node: int, gpu: bool) -> None:  # fmt: skip
    """The partition has the nodes, and (GPU recipes) each has the GPUs: fail before queueing."""
    have, gres = client.partition_nodes(cl, args.partition)
    where = f"partition {args.partition}" if args.partition else "the default partition"
    if have == 0:
        raise pf.PreflightError(
            pf.EXIT_USAGE, f"PARTITION={args.partition or ''}: {where} has no nodes ({cl.where})"
        )
    if nodes > have:
        raise pf.PreflightError(
            pf.EXIT_USAGE,
            f"NODES={nodes}: {where} has {have} node(s): NODES={have} or another PARTITION=",
        )
    if gpu:
        most = max((client.gpus_in(g) for g in gres), default=0)
        if most < per_node:
            raise pf.PreflightError(
                pf.EXIT_GPU,
                f"GPUS={per_node}: the nodes of {where} have at most {most} GPU(s) each "
                f"(sinfo %G): GPUS={most} or another PARTITION=" if most else
                f"GPUS={per_node}: {where} offers no GPUs (sinfo %G): a GPU partition "
                f"(PARTITION=...) or a *_cpu recipe",
            )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    own, extra = local_train.split_extra(argv)
    args = build_parser().parse_args(own)
    args.extra = extra
    if not str(args.nodes).isdigit() or int(args.nodes) < 1:
        print(f"train: error: NODES={args.nodes}: a whole number of nodes, 1 or more "
              "(make train ... NODES=2 SLURM=1)", file=sys.stderr)  # fmt: skip
        return pf.EXIT_USAGE
    nodes = int(args.nodes)
    try:
        slurm_opts = shlex.split(args.slurm_args or "")
    except ValueError as exc:
        print(f"train: error: SLURM_ARGS={args.slurm_args}: {exc}", file=sys.stderr)
        return pf.EXIT_USAGE
    try:
        cl = client.cluster()
        # The local plan, judged from the login node: no GPU is needed here (dry_run lets the
        # GPU check warn); the partition check below asks Slurm for the nodes' GPUs instead.
        gpus = args.gpus
        local_args = argparse.Namespace(**{**vars(args), "gpus": 1, "dry_run": True})
        p = local_train.plan(local_args)
        recipe = load_recipe(p.recipe)
        cpu = recipe.is_cpu or any(a == "--policy.device=cpu" for a in p.cmd)
        if cpu and gpus > 1:
            raise pf.PreflightError(
                pf.EXIT_USAGE,
                f"GPUS={gpus} with CPU recipe {p.recipe}: one process per node on CPU; drop GPUS",
            )
        per_node = 1 if cpu else gpus
        try:
            check_partition(cl, args, nodes, per_node, gpu=not cpu)
        except pf.PreflightError as exc:  # a dry run still shows the script (as make train)
            if not (args.dry_run and exc.code == pf.EXIT_GPU):
                raise
            p.notes.append(f"note: {exc} (a real submission stops here, exit {exc.code})")
    except (pf.PreflightError, client.SlurmError) as exc:
        code = exc.code if isinstance(exc, pf.PreflightError) else pf.EXIT_USAGE
        print(f"train: error: {exc}", file=sys.stderr)
        return code
    total = nodes * per_node
    bs = next((int(a.split("=", 1)[1]) for a in p.cmd if a.startswith("--batch_size=")), None)
    bs = bs or int(recipe.config.get("batch_size", 8))
    batch = f"{bs} per process x {total} process(es) = {bs * total}"
    cli = p.cmd[1:]
    if p.mode == "fresh":
        fresh, resume = cli, resume_args(p.out, cli, args.extra)
    else:
        fresh, resume = None, cli
    dataset = Path(args.dataset).expanduser().resolve()
    text = script(p=p, fresh=fresh, resume=resume, nodes=nodes, per_node=per_node,
                  gpu=not cpu, args=args, dataset=dataset, batch=batch)  # fmt: skip
    say(f"recipe {p.recipe}, {p.mode} run, OUT={p.out}, on {cl.where}")
    for note in p.notes:
        if not note.startswith(("effective batch", "warning: ")):  # ours replace both
            say(note)
    say(f"effective batch: {batch} ({nodes} node(s) x {per_node})")
    jd = job_dir(p.out)
    sbatch = jd / "train.sbatch"
    if args.dry_run:
        print(text, flush=True)
        say(f"dry run: nothing written or submitted (would write {sbatch})")
        return 0
    if p.out_kind == "failed_start":
        run.clear_failed_start(p.out)
    elif p.out_kind == "finished":
        say(f"FORCE: previous run kept at {run.move_aside(p.out)}")
    jd.mkdir(parents=True, exist_ok=True)
    sbatch.write_text(text)
    sbatch.chmod(0o755)
    print(f"----- {sbatch} -----\n{text}-----", flush=True)
    try:
        job = client.submit(cl, sbatch, slurm_opts)
    except client.SlurmError as exc:
        print(f"train: error: {exc}: check SLURM_ARGS, PARTITION, TIME", file=sys.stderr)
        return pf.EXIT_USAGE
    log = jd / f"train-{job}.log"
    say(f"submitted job {job}; follow: tail -F {log}   stop: scancel {job}")
    if not args.wait:
        return 0
    return wait(cl, job, log)


def wait(cl: client.Cluster, job: str, log: Path) -> int:
    """WAIT=1: poll squeue (not sbatch --wait: it polls up to 42 s apart), print the outcome."""
    t0 = time.monotonic()
    seen = ""
    try:
        while True:
            states = client.active(cl, job)
            if not states:
                break
            if states[0] != seen:
                seen = states[0]
                say(f"job {job}: {seen} ({time.monotonic() - t0:.0f} s)")
            time.sleep(1.0)
    except KeyboardInterrupt:
        say(f"stopped waiting; job {job} goes on (scancel {job} to stop it)")
        return 130
    except client.SlurmError as exc:
        print(f"train: error: {exc}", file=sys.stderr)
        return 1
    out = client.outcomes(cl, job)[0]
    say(f"job {job}: {out.state}, exit {out.exit_code}, {time.monotonic() - t0:.0f} s; log: {log}")
    if out.exit_code != 0 or out.state != "COMPLETED":
        tail = log.read_text(errors="replace").splitlines()[-15:] if log.is_file() else []
        print("\n".join(tail), file=sys.stderr)
        print(f"train: error: job {job} ended {out.state} (exit {out.exit_code}); see {log}",
              file=sys.stderr)  # fmt: skip
        return out.exit_code or 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
