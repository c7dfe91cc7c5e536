"""Benchmark: the behavioural checks' cost, and our validator vs lerobot-lint on defect datasets.

    python -m scripts.bench.behaviour [--work DIR] [--repeat R]

1. Cost: the validator CLI on the bench-validate clean datasets (``--work``'s clean_v21 and
   clean_v30, built by ``make bench-validate``) with and without ``--no-behaviour``, timed
   alternately ``--repeat`` times (best kept), so both see the same load.
2. Comparison: LeRobot 0.6.1 records the behaviour test's datasets (one defect each,
   tests/helpers/lerobot_record_behaviour.py, in the act env); lerobot-lint (``lelint``,
   installed from the package index into a throw-away venv under ``--work``) and our
   validator run on each; prints what each flagged and its wall time. Not a test: numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from scripts.bench.validate import REPO, TOOLS_PY, env_for_runs, log

ACT_PY = REPO / "envs/act/.venv/bin/python"


def install_lint(work: Path) -> Path:
    venv = work / "lint-venv"
    exe = venv / "bin/lelint"
    if not exe.exists():
        uv = shutil.which("uv")
        if uv is None:
            raise SystemExit("bench-behaviour: 'uv' not found on PATH (to install lerobot-lint)")
        log(f"installing lerobot-lint into {venv}")
        subprocess.run([uv, "venv", "-q", "-p", str(TOOLS_PY), str(venv)], check=True)
        env = {**os.environ, "VIRTUAL_ENV": str(venv)}
        subprocess.run([uv, "pip", "install", "-q", "lerobot-lint"], check=True, env=env)
    return exe


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=1800)
    return time.perf_counter() - t0, proc


def cpu_of(fn: Callable[[], object]) -> float:
    """CPU seconds (user + system) the child processes ``fn`` runs take: on a box shared
    with other jobs wall time swings 2-3x between runs, the work done much less."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    fn()
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime


def ours(ds: Path, env: dict[str, str], *extra: str) -> tuple[float, list[str]]:
    s, proc = timed([str(TOOLS_PY), "-m", "validators", str(ds), "--json", "--no-progress",
                     *extra], env)  # fmt: skip
    try:
        found = json.loads(proc.stdout)["findings"]
    except (json.JSONDecodeError, KeyError):
        return s, [f"crashed rc {proc.returncode}"]
    return s, sorted({f"{f['check_id']}@{f.get('episode')}" for f in found})


def lint(exe: Path, ds: Path, out: Path, env: dict[str, str]) -> tuple[float, list[str]]:
    s, proc = timed([str(exe), "check", str(ds), "--json", str(out), "--fail-on", "info"], env)
    try:
        data = json.loads(out.read_text())
    except (OSError, json.JSONDecodeError):
        return s, [f"crashed rc {proc.returncode}: {proc.stderr.strip()[-120:]}"]
    return s, sorted(_lint_findings(data))


def _lint_findings(data: object) -> set[str]:
    """'rule@episode' for every finding lelint's JSON lists (its shape: a list of dicts with
    a check name, a severity and an episode: ``findings``; info-level notes left out)."""
    out: set[str] = set()

    def walk(x: object) -> None:
        if isinstance(x, dict):
            name = x.get("rule") or x.get("rule_id") or x.get("check") or x.get("code")
            if isinstance(name, str) and ("severity" in x or "message" in x):
                sev = str(x.get("severity", "")).lower()
                if sev in ("error", "warning"):  # info: units inferred, few episodes
                    out.add(f"{name}@{x.get('episode', x.get('episode_index'))}")
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(data)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m scripts.bench.behaviour", description=__doc__)
    p.add_argument("--work", type=Path, default=REPO / ".cache/bench-validate")
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args(argv)
    work = args.work.resolve()
    env = env_for_runs(work)
    for name in ("clean_v30", "clean_v21"):
        ds = work / name
        if not ds.exists():
            log(f"{ds} missing: run make bench-validate first; skipping the cost part")
            continue
        best = {"off": [float("inf")] * 2, "on": [float("inf")] * 2}  # [wall, CPU]
        for _ in range(args.repeat):
            for mode, extra in (("off", ["--no-behaviour"]), ("on", [])):
                wall: list[float] = []
                cpu = cpu_of(lambda d=ds, e=extra, w=wall: w.append(ours(d, env, *e)[0]))
                best[mode] = [min(best[mode][0], wall[0]), min(best[mode][1], cpu)]
        (off, off_cpu), (on, on_cpu) = best["off"], best["on"]
        print(f"{name}: validator {off:.2f} s without behaviour, {on:.2f} s with "
              f"(+{100 * (on / off - 1):.0f} %); CPU {off_cpu:.2f} -> {on_cpu:.2f} s "
              f"(+{100 * (on_cpu / off_cpu - 1):.0f} %); best of {args.repeat}, "
              "alternating")  # fmt: skip
    defects = work / "behaviour-defects"
    if not defects.exists():
        log("LeRobot 0.6.1 records the defect datasets (act env)")
        subprocess.run([str(ACT_PY), str(REPO / "tests/helpers/lerobot_record_behaviour.py"),
                        str(defects)], check=True, env=env, cwd=REPO, timeout=1800)  # fmt: skip
    exe = install_lint(work)
    print(f"\n{'dataset':22} {'ours':40} {'s':>5}  {'lerobot-lint':50} {'s':>5}")
    for ds in sorted(d for d in defects.iterdir() if (d / "meta/info.json").exists()):
        o_s, o = ours(ds, env)
        l_s, lf = lint(exe, ds, work / f"lint-{ds.name}.json", env)
        o_txt = ",".join(x.removeprefix("behaviour.") for x in o) or "-"
        print(f"{ds.name:22} {o_txt[:40]:40} {o_s:5.2f}  {','.join(lf)[:50] or '-':50} {l_s:5.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
