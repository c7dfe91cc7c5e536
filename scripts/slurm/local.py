"""``make slurm-local`` / ``make slurm-local-down``: a two-node Slurm cluster on this machine.

Why: the Slurm paths (multi-node ``make train``, conversion fan-out) must be tried on a laptop
and tested in CI against real Slurm, not a mock. Debian's slurm-wlm 22.05 is built with
MULTIPLE_SLURMD, so two ``slurmd -D -N n1|n2`` on distinct ports, both ``NodeAddr=127.0.0.1``,
make a real two-node cluster. Everything lives under ``SLURM_LOCAL_DIR`` (default
``.cache/slurm``): slurm.conf, state, spool, logs; a private munged (own key, own socket in
``/run/lerobot-ops-munge-<id>``; Slurm is pointed at it with ``AuthInfo=socket=``), so nothing
is written to /etc/slurm or /etc/munge. The one system change is a tagged ``/etc/hosts``
line making n1/n2 resolve, removed by ``down``. No systemd: the daemons are plain processes
recorded in cluster.json.

``up`` is idempotent (a healthy cluster is left alone) and recovers a half-dead one (any
daemon gone or a zombie: everything of this cluster is stopped, then started afresh).
``down`` cancels the jobs, then kills every process carrying this cluster's ``SLURM_CONF``
(daemons, slurmstepd and job processes, which outlive a dead slurmd), then munged.

Usage: python -m scripts.slurm.local up|down|status|env
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from scripts.slurm import procs

REPO = Path(__file__).resolve().parents[2]
NODES = ("n1", "n2")
PACKAGES = "slurmctld slurmd slurm-client munge"
BINARIES = ("slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "scontrol", "scancel", "munged")
HOSTS = Path("/etc/hosts")
READY_TIMEOUT_S = 60.0


class ClusterError(RuntimeError):
    """One line saying what failed and the fix."""


def say(msg: str) -> None:
    print(f"[slurm-local] {msg}", flush=True)


def missing_binaries() -> list[str]:
    """The Slurm/munge commands not on PATH (tests skip on these; ``up`` names the install)."""
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    return [b for b in BINARIES if shutil.which(b, path=path) is None]


@dataclass(frozen=True)
class Local:
    """One local cluster: its directory and its base port (slurmctld; slurmds on base+1..)."""

    root: Path
    port: int

    @classmethod
    def from_env(cls) -> Local:
        root = Path(os.environ.get("SLURM_LOCAL_DIR") or REPO / ".cache" / "slurm")
        raw = os.environ.get("SLURM_LOCAL_PORT") or "16817"
        if not raw.isdigit() or not 1024 < int(raw) < 65000:
            raise ClusterError(f"SLURM_LOCAL_PORT={raw}: must be a port 1025..64999")
        return cls(root.expanduser().resolve(), int(raw))

    @property
    def conf(self) -> Path:
        return self.root / "slurm.conf"

    @property
    def state_file(self) -> Path:
        return self.root / "cluster.json"

    @property
    def munge_dir(self) -> Path:
        """munged's files, outside the checkout: munged (as the munge user) must reach them,
        and a checkout under a 0700 home (/root) is out of its reach. One per cluster dir."""
        base = Path("/run") if os.access("/run", os.W_OK) else Path("/tmp")
        tag = hashlib.sha1(str(self.root).encode()).hexdigest()[:10]
        return base / f"lerobot-ops-munge-{tag}"

    @property
    def munge_run(self) -> Path:
        return self.munge_dir / "run"

    @property
    def munge_key_dir(self) -> Path:
        return self.munge_dir / "key"

    @property
    def socket(self) -> Path:
        return self.munge_run / "munge.socket"

    @property
    def log_dir(self) -> Path:
        return self.root / "log"

    @property
    def hosts_tag(self) -> str:
        return f"# lerobot-ops slurm-local {self.root}"

    def env(self) -> dict[str, str]:
        """The environment every daemon (and so every job process) of this cluster gets."""
        return {**os.environ, "SLURM_CONF": str(self.conf)}


# --- pieces ----------------------------------------------------------------------------------
def conf_text(c: Local, cpus: int) -> str:
    """slurm.conf as the scale-out issue found working (comments say why each line is there)."""
    nodes = "\n".join(
        f"NodeName={n} NodeAddr=127.0.0.1 Port={c.port + 1 + i} CPUs={cpus} State=UNKNOWN"
        for i, n in enumerate(NODES)
    )
    return f"""# Written by scripts/slurm/local.py (make slurm-local); regenerated on every start.
ClusterName=lerobotops
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort={c.port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# our own munged, not the system's /run/munge; a requeued job may start again after 10 s
# (cred_expire; the default 120 s makes every requeue wait two minutes)
AuthInfo=socket={c.socket},cred_expire=10
StateSaveLocation={c.root / "state"}
SlurmdSpoolDir={c.root / "spool"}/%n
SlurmctldPidFile={c.root / "slurmctld.pid"}
SlurmdPidFile={c.root / "slurmd-%n.pid"}
SlurmctldLogFile={c.log_dir / "slurmctld.log"}
SlurmdLogFile={c.log_dir / "slurmd-%n.log"}
# no cgroups on a laptop or in a container
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
# else every job waits ~3 s before it starts, and a requeued one up to a minute more
SchedulerParameters=batch_sched_delay=0,sched_interval=5
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MailProg=/bin/true
MpiDefault=none
ReturnToService=2
# finished jobs stay visible to scontrol (exit codes) for an hour: there is no accounting
MinJobAge=3600
KillWait=30
{nodes}
PartitionName=local Nodes={",".join(NODES)} Default=YES MaxTime=INFINITE State=UP
"""


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def hosts_add(c: Local) -> None:
    """Make n1/n2 resolve (slurmd -N looks its own name up) with one tagged line."""
    try:
        lines = HOSTS.read_text().splitlines()
        if any(ln.endswith(c.hosts_tag) for ln in lines):
            return
        with HOSTS.open("a") as fh:
            fh.write(f"127.0.0.1 {' '.join(NODES)} {c.hosts_tag}\n")
    except OSError as exc:
        raise ClusterError(
            f"{HOSTS}: cannot add the node names ({exc.strerror}): run as root"
        ) from exc


def hosts_remove(c: Local) -> None:
    """Drop our tagged line (in place: /etc/hosts may be a bind mount that cannot be renamed)."""
    try:
        lines = HOSTS.read_text().splitlines(keepends=True)
    except OSError:
        return
    kept = [ln for ln in lines if not ln.rstrip("\n").endswith(c.hosts_tag)]
    if kept != lines:
        HOSTS.write_text("".join(kept))


def read_state(c: Local) -> dict[str, int]:
    try:
        return {k: int(v) for k, v in json.loads(c.state_file.read_text())["pids"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def munged_pid(c: Local) -> int | None:
    """Our munged, from its pid file, only if that pid really is munged on our socket."""
    try:
        pid = int((c.munge_run / "munged.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if procs.alive(pid) and str(c.socket) in procs.cmdline(pid) else None


def start_munged(c: Local) -> int:
    """A private munged as the munge user: own key (0400 in a 0700 dir), own socket dir (0755)."""
    try:
        munge = pwd.getpwnam("munge")
    except KeyError as exc:
        raise ClusterError(f"no 'munge' user: apt-get install {PACKAGES}") from exc
    c.munge_key_dir.mkdir(parents=True, exist_ok=True)
    c.munge_run.mkdir(parents=True, exist_ok=True)
    key = c.munge_key_dir / "munge.key"
    if not key.is_file():
        key.write_bytes(os.urandom(1024))
    c.munge_dir.chmod(0o755)
    for path, mode in ((c.munge_key_dir, 0o700), (key, 0o400), (c.munge_run, 0o755)):
        os.chown(path, munge.pw_uid, munge.pw_gid)
        os.chmod(path, mode)
    c.socket.unlink(missing_ok=True)
    log = c.log_dir / "munged.out"  # what munged prints before its own log is open
    cmd = [
        "munged", "--foreground", f"--socket={c.socket}", f"--key-file={key}",
        f"--pid-file={c.munge_run / 'munged.pid'}", f"--log-file={c.munge_dir / 'munged.log'}",
        f"--seed-file={c.munge_key_dir / 'munged.seed'}",
    ]  # fmt: skip
    with log.open("ab") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=out, user=munge.pw_uid, group=munge.pw_gid,
            start_new_session=True, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    wait_for(lambda: c.socket.exists() or not procs.alive(proc.pid), 10, "munged's socket")
    if not procs.alive(proc.pid):
        raise ClusterError(f"munged did not start: {tail(c.munge_dir / 'munged.log')}")
    return proc.pid


def spawn(c: Local, name: str, cmd: list[str]) -> int:
    """One Slurm daemon in the foreground (-D) of its own session, output to log/<name>.out."""
    with (c.log_dir / f"{name}.out").open("ab") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=out, env=c.env(), start_new_session=True,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
    return proc.pid


def wait_for(check, timeout_s: float, what: str) -> None:  # type: ignore[no-untyped-def]
    """Poll ``check()`` every 50 ms; ClusterError naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise ClusterError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.05)


def tail(path: Path, n: int = 3) -> str:
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return f"({path} missing)"
    return " | ".join(lines[-n:]) or f"({path} empty)"


def node_states(c: Local) -> dict[str, str]:
    """{node: state} from sinfo (empty when slurmctld does not answer)."""
    try:
        out = subprocess.run(
            ["sinfo", "-h", "-N", "-o", "%N %T"], env=c.env(), capture_output=True,
            text=True, timeout=10, check=False,
        ).stdout  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return {}
    return dict(ln.split(None, 1) for ln in out.splitlines() if len(ln.split()) == 2)


def healthy(c: Local) -> tuple[bool, str]:
    """(up, why not): every daemon alive per /proc and both nodes usable per sinfo."""
    pids = read_state(c)
    if not pids:
        return False, "not started"
    dead = [name for name, pid in pids.items() if not procs.alive(pid)]
    if dead:
        return False, f"{', '.join(dead)} not running"
    states = node_states(c)
    bad = [n for n in NODES if not states.get(n, "").startswith(("idle", "alloc", "mix"))]
    if bad:
        return False, "nodes " + ", ".join(f"{n}={states.get(n, '?')}" for n in bad)
    return True, ""


# --- commands --------------------------------------------------------------------------------
def up(c: Local) -> int:
    """Start (or keep) the cluster; prints how to point the Slurm commands at it."""
    missing = missing_binaries()
    if missing:
        raise ClusterError(
            f"{', '.join(missing)} not installed: apt-get install {PACKAGES}, then make slurm-local"
        )
    if os.geteuid() != 0:
        raise ClusterError("the local cluster runs slurmd/munged as root: sudo make slurm-local")
    ok, why = healthy(c)
    if ok:
        say(f"already up ({', '.join(NODES)}); SLURM_CONF={c.conf}")
        return 0
    if read_state(c) or procs.with_env("SLURM_CONF", str(c.conf)) or munged_pid(c):
        say(f"recovering a half-dead cluster ({why}): stopping what is left, starting afresh")
        down(c, quiet=True)
    busy = [p for p in range(c.port, c.port + 1 + len(NODES)) if not port_free(p)]
    if busy:
        raise ClusterError(
            f"port(s) {', '.join(map(str, busy))} in use: pick another SLURM_LOCAL_PORT=<base>"
        )
    t0 = time.monotonic()
    for sub in ("state", "log", *(f"spool/{n}" for n in NODES)):
        (c.root / sub).mkdir(parents=True, exist_ok=True)
    c.conf.write_text(conf_text(c, max(2, os.cpu_count() or 2)))
    hosts_add(c)
    pids = {"munged": start_munged(c)}
    pids["slurmctld"] = spawn(c, "slurmctld", ["slurmctld", "-D", "-c", "-f", str(c.conf)])
    for n in NODES:
        pids[f"slurmd-{n}"] = spawn(c, f"slurmd-{n}", ["slurmd", "-D", "-N", n, "-f", str(c.conf)])
    c.state_file.write_text(json.dumps({"pids": pids, "conf": str(c.conf)}, indent=1))
    with contextlib.suppress(ClusterError):  # judged just below, with the logs
        wait_for(lambda: healthy(c)[0] or not all(map(procs.alive, pids.values())),
                 READY_TIMEOUT_S, "both nodes to be idle")  # fmt: skip
    ok, why = healthy(c)
    if not ok:
        logs = "; ".join(
            f"{p.name}: {tail(p, 1)}" for p in sorted(c.log_dir.glob("*.log"))
        )  # fmt: skip
        down(c, quiet=True)
        raise ClusterError(f"cluster did not come up ({why}); logs {c.log_dir}: {logs}")
    say(f"up in {time.monotonic() - t0:.1f} s: nodes {', '.join(NODES)} on 127.0.0.1, "
        f"ports {c.port}..{c.port + len(NODES)}")  # fmt: skip
    say(f"use it: export SLURM_CONF={c.conf}   (make targets find it themselves)")
    return 0


def down(c: Local, quiet: bool = False) -> int:
    """Cancel jobs, kill every process of this cluster, stop munged, drop the hosts line."""
    if read_state(c) and c.conf.is_file():
        subprocess.run(["scancel", "--full", "--quiet", "-u", pwd.getpwuid(os.getuid()).pw_name],
                       env=c.env(), capture_output=True, timeout=15, check=False)  # fmt: skip
    ours = procs.with_env("SLURM_CONF", str(c.conf))
    ours += [p for p in read_state(c).values() if procs.alive(p) and p not in ours]
    killed = procs.terminate(ours, grace_s=10)
    for _ in range(3):  # a dying slurmstepd or job script may have forked meanwhile
        late = procs.with_env("SLURM_CONF", str(c.conf))
        if not late:
            break
        ours += late
        killed += procs.terminate(late, grace_s=2)
    pid = munged_pid(c)
    if pid:
        procs.terminate([pid])
    if not munged_pid(c):
        shutil.rmtree(c.munge_dir, ignore_errors=True)  # key and socket: a new key next time
    hosts_remove(c)
    c.state_file.unlink(missing_ok=True)
    if not quiet:
        more = f" ({len(killed)} needed SIGKILL)" if killed else ""
        say(f"down: {len(ours)} process(es) of this cluster stopped{more}, munged stopped, "
            f"{HOSTS} line removed")  # fmt: skip
    return 0


def status(c: Local) -> int:
    ok, why = healthy(c)
    say(f"up: SLURM_CONF={c.conf}" if ok else f"down ({why})")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="make slurm-local", description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=("up", "down", "status", "env"))
    args = ap.parse_args(argv)
    try:
        c = Local.from_env()
        if args.command == "env":
            print(f"export SLURM_CONF={c.conf}")
            return 0
        return {"up": up, "down": down, "status": status}[args.command](c)
    except ClusterError as exc:
        print(f"slurm-local: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
