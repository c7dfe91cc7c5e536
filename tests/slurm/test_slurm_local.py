"""``make slurm-local`` / ``slurm-local-down`` against the real daemons (Debian's Slurm 22.05).

What must hold: two real nodes run one job's tasks; a second start is a no-op; a half-dead
cluster (a slurmd killed) is repaired by the next start; stopping kills job steps too, even
those whose slurmd already died, and removes the /etc/hosts line.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from helpers.slurm_cluster import Slurm, poll, slurm  # noqa: F401  (the session's cluster)

from scripts.slurm import local, procs


def pids(s: Slurm) -> dict[str, int]:
    return {
        k: int(v)
        for k, v in json.loads((s.conf.parent / "cluster.json").read_text())["pids"].items()
    }


def test_two_nodes_and_idempotent_start(slurm: Slurm) -> None:  # noqa: F811
    """One srun over both nodes gets one task on each; a second start changes nothing."""
    assert slurm.start_s < 30, f"cluster start took {slurm.start_s:.1f} s"
    out = slurm.run(["srun", "-N2", "--ntasks-per-node=1", "bash", "-c",
                     "echo $SLURM_NODEID $SLURMD_NODENAME"])  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert sorted(out.stdout.split("\n")[:2]) == ["0 n1", "1 n2"], out.stdout
    before = pids(slurm)
    t0 = time.monotonic()
    again = slurm.make("slurm-local")
    assert again.returncode == 0 and "already up" in again.stdout, again.stdout + again.stderr
    assert time.monotonic() - t0 < 10
    assert pids(slurm) == before


def test_half_dead_cluster_is_repaired(slurm: Slurm) -> None:  # noqa: F811
    """A killed slurmd (left a zombie or gone) makes status fail; the next start repairs it."""
    victim = pids(slurm)["slurmd-n2"]
    os.kill(victim, signal.SIGKILL)
    poll(lambda: not procs.alive(victim), 10, "slurmd-n2 to die")
    status = slurm.make("slurm-local-status")
    assert status.returncode != 0 and "slurmd-n2 not running" in status.stdout, status.stdout
    fixed = slurm.make("slurm-local")
    assert fixed.returncode == 0 and "recovering a half-dead cluster" in fixed.stdout, fixed.stdout
    assert all(procs.alive(p) for p in pids(slurm).values())
    out = slurm.run(["srun", "-N2", "hostname"])
    assert out.returncode == 0 and len(out.stdout.split()) == 2, out.stderr


def test_down_kills_job_steps_even_after_their_slurmd_died(slurm: Slurm) -> None:  # noqa: F811
    """Job processes outlive a dead slurmd; slurm-local-down must still end every one."""
    job = slurm.run(["sbatch", "--parsable", "-N2", "-o", "/dev/null", "--wrap",
                     "srun --ntasks-per-node=1 sleep 600"])  # fmt: skip
    assert job.returncode == 0, job.stderr
    job_id = job.stdout.strip()

    def sleepers() -> list[int]:
        return [
            p
            for p in procs.with_env("SLURM_JOB_ID", job_id)
            if Path(procs.cmdline(p).split(" ")[0]).name == "sleep"  # not the srun lines
        ]

    found = poll(lambda: len(sleepers()) == 2 and sleepers(), 60, "two job steps running")
    os.kill(pids(slurm)["slurmd-n1"], signal.SIGKILL)
    down = slurm.make("slurm-local-down")
    assert down.returncode == 0, down.stdout + down.stderr
    assert not [p for p in found if procs.alive(p)], "job steps survived slurm-local-down"
    assert not procs.with_env("SLURM_CONF", str(slurm.conf))
    assert slurm.cluster().hosts_tag not in local.HOSTS.read_text()
    back = slurm.make("slurm-local")  # the other tests of the session use it
    assert back.returncode == 0, back.stdout + back.stderr
