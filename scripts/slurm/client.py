"""Talking to Slurm: which cluster, submit, job state and exit code, wait by polling squeue.

Why our own wait: ``sbatch --wait`` polls at 2 s, 10 s, then 42 s, so a 30 s job can take a
minute to be noticed; we poll ``squeue`` every second. Why ``scontrol`` for the exit code:
a cluster without accounting (the local one, many small ones) has no ``sacct``; finished jobs
stay in slurmctld for ``MinJobAge`` (an hour on the local cluster), ``sacct`` is the fallback.

Which cluster: ``SLURM_CONF`` when set (the user chose); else the local cluster of
``make slurm-local`` when it is up; else the system's configuration (a real login node).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from scripts.slurm import local

REPO = Path(__file__).resolve().parents[2]
ACTIVE = ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED", "RESIZING", "SUSPENDED")


class SlurmError(RuntimeError):
    """One line: what Slurm said and what to do."""


@dataclass(frozen=True)
class Cluster:
    """The environment Slurm commands run with, and a phrase saying which cluster that is."""

    env: dict[str, str]
    where: str


def cluster() -> Cluster:
    """Pick the cluster (see the module docstring); SlurmError when no Slurm is installed."""
    if shutil.which("sbatch") is None:
        raise SlurmError(
            "sbatch not found: run this on the cluster's login node, or try it here with "
            f"apt-get install {local.PACKAGES} and make slurm-local"
        )
    env = dict(os.environ)
    if env.get("SLURM_CONF"):
        return Cluster(env, f"SLURM_CONF={env['SLURM_CONF']}")
    c = local.Local.from_env()
    if local.healthy(c)[0]:
        env["SLURM_CONF"] = str(c.conf)
        return Cluster(env, f"the local cluster (make slurm-local, {c.conf})")
    return Cluster(env, "the system's Slurm configuration")


def run(cl: Cluster, cmd: list[str], timeout: float = 60) -> str:
    """Run a Slurm command; SlurmError with its own message when it fails."""
    try:
        proc = subprocess.run(
            cmd, env=cl.env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise SlurmError(f"{cmd[0]} did not answer in {timeout:.0f} s ({cl.where})") from exc
    if proc.returncode != 0:
        why = proc.stderr.strip() or proc.stdout.strip() or f"exit {proc.returncode}"
        lines = why.splitlines()
        said = [ln for ln in lines if re.search(r"error|invalid|unrecognized", ln, re.I)]
        raise SlurmError(f"{cmd[0]}: {(said or lines)[0]} ({cl.where})")
    return proc.stdout


def submit(cl: Cluster, script: Path, args: list[str] | None = None) -> str:
    """``sbatch --parsable``; returns the job id (without a cluster suffix)."""
    out = run(cl, ["sbatch", "--parsable", *(args or []), str(script)])
    job = out.strip().split(";")[0]
    if not job.isdigit():
        raise SlurmError(f"sbatch printed no job id: {out.strip()!r}")
    return job


def q(value: object) -> str:
    """A value quoted for the bash of a batch script."""
    return shlex.quote(str(value))


def batch_head(
    about: str, job_name: str, output: Path | str, partition: str | None, time_limit: str | None,
    extra: tuple[str, ...] = (),
) -> list[str]:  # fmt: skip
    """The first lines every array/follow-up script of the toolkit shares: shebang, a comment
    saying which make command wrote it, the #SBATCH directives, strict bash, the repo on
    PYTHONPATH (tasks run ``python -m scripts...`` from the repo on a shared filesystem)."""
    lines = ["#!/usr/bin/env bash", f"# {about}", f"#SBATCH --job-name={job_name}",
             f"#SBATCH --output={output}", "#SBATCH --ntasks=1",
             *(f"#SBATCH {d}" for d in extra)]  # fmt: skip
    if partition:
        lines.append(f"#SBATCH --partition={partition}")
    if time_limit:
        lines.append(f"#SBATCH --time={time_limit}")
    return [*lines, f"#SBATCH --chdir={REPO}", "set -euo pipefail", f"export PYTHONPATH={q(REPO)}"]


def submit_array_then(
    cl: Cluster, task: Path, then: Path, n: int, opts: list[str], after: str,
    then_args: tuple[str, ...] = (),
) -> tuple[str, str]:  # fmt: skip
    """Submit ``task`` as an array of ``n`` and ``then`` with ``--dependency=<after>:<array>``.

    ``after`` is ``afterok`` (the follow-up needs every task: Slurm cancels it when one fails,
    so no half result appears) or ``afterany`` (the follow-up reports however the tasks ended).
    ``{array}`` in ``then_args`` becomes the array's job id
    (``--export=ALL,ARRAY_JOB={array}``).
    Returns (array job id, follow-up job id)."""
    array = submit(cl, task, [*opts, f"--array=0-{n - 1}"])
    kill = "yes" if after == "afterok" else "no"
    follow = submit(cl, then, [*opts, f"--dependency={after}:{array}",
                               f"--kill-on-invalid-dep={kill}",
                               *(a.replace("{array}", array) for a in then_args)])  # fmt: skip
    return array, follow


def active(cl: Cluster, job: str) -> list[str]:
    """States of the job's (or array's) tasks still in the queue."""
    out = run(cl, ["squeue", "-h", "-j", job, "-o", "%T"], timeout=30)
    return [s for s in out.split() if s]


@dataclass(frozen=True)
class Outcome:
    """A finished job (array tasks each): Slurm state and the exit code of its batch script."""

    job: str
    state: str
    exit_code: int


def outcomes(cl: Cluster, job: str) -> list[Outcome]:
    """Final states of a job or of every task of an array job."""
    try:
        out = run(cl, ["scontrol", "-o", "show", "job", job], timeout=30)
    except SlurmError:
        out = ""
    found = []
    for line in out.splitlines():
        fields = dict(re.findall(r"(\w+)=(\S*)", line))
        if "JobState" not in fields:
            continue
        code = int(fields.get("ExitCode", "0:0").split(":")[0] or 0)
        sig = int(([*fields.get("ExitCode", "0:0").split(":"), "0"])[1] or 0)
        task = fields.get("ArrayTaskId")
        name = f"{fields.get('ArrayJobId', job)}_{task}" if task else fields.get("JobId", job)
        found.append(Outcome(name, fields["JobState"], code or (128 + sig if sig else 0)))
    if found:
        return found
    sacct = run(cl, ["sacct", "-n", "-X", "-P", "-j", job, "-o", "JobID,State,ExitCode"])
    for line in sacct.splitlines():
        jid, st, code = ([*line.split("|"), "", "", "0:0"])[:3]
        found.append(Outcome(jid, st.split()[0], int(code.split(":")[0] or 0)))
    if not found:
        raise SlurmError(f"job {job}: unknown to scontrol and sacct")
    return found


def wait(cl: Cluster, job: str, timeout_s: float | None = None, poll_s: float = 1.0) -> None:
    """Return once ``job`` (all its array tasks) has left the queue; SlurmError on timeout."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        states = active(cl, job)
        if not states:
            return
        if deadline is not None and time.monotonic() > deadline:
            raise SlurmError(f"job {job} still {states[0]} after {timeout_s:.0f} s")
        time.sleep(poll_s)


def partition_nodes(cl: Cluster, partition: str | None) -> tuple[int, list[str]]:
    """(nodes in the partition, GRES strings of its nodes) for the preflight."""
    cmd = ["sinfo", "-h", "-N", "-o", "%N %G %P"]
    if partition:
        cmd += ["-p", partition]
    rows = [ln.split() for ln in run(cl, cmd).splitlines() if ln.strip()]
    names = {r[0] for r in rows}
    if not partition:  # the default partition is marked with '*'
        rows = [r for r in rows if len(r) > 2 and r[2].endswith("*")] or rows
        names = {r[0] for r in rows}
    return len(names), [r[1] for r in rows if len(r) > 1]


def gpus_in(gres: str) -> int:
    """GPUs a node's GRES string offers: ``gpu:4``, ``gpu:a100:8(S:0-1)``, ``(null)`` -> 0."""
    total = 0
    for part in gres.split(","):
        m = re.match(r"gpu(?::[^:(]+)?:(\d+)", part)
        if m:
            total += int(m.group(1))
    return total
