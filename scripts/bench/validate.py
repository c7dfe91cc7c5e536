"""Benchmark: our validator vs ``lerobot-doctor`` on the same datasets, in one run.

    python -m scripts.bench.validate [--work DIR] [--episodes N] [--frames F] [--repeat R] [--keep]

Builds a clean v2.1 sample (scripts.sample.make), its v3.0 conversion (scripts.convert)
and the validator's mutation corpus (scripts.bench.corpus) from both; installs lerobot-doctor
from the package index into a throw-away venv (``uv venv`` + ``uv pip install``); runs both
tools as subprocesses on every dataset and prints wall times and what each caught, side by
side. Not a test: it prints numbers. Both tools get the same bytecode cache
(PYTHONPYCACHEPREFIX, warmed first) so neither pays for compiling its imports; the clean
datasets are timed ``--repeat`` times (best kept), each mutant once. The default size (120
episodes x ~400 frames, two small cameras) is a modest real dataset: on toy datasets both
tools spend their time importing numpy/pyarrow, not checking.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TOOLS_PY = REPO / "envs/tools/.venv/bin/python"


@dataclass
class Run:
    seconds: float
    rc: int
    data: dict | None
    stderr: str


def log(msg: str) -> None:
    print(f"[bench-validate] {msg}", file=sys.stderr, flush=True)


def env_for_runs(work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(
        PYTHONPYCACHEPREFIX=str(work / "pycache"),
        PYTHONPATH=str(REPO),
        HF_HUB_OFFLINE="1",
        HF_HOME=str(work / "hf"),
    )
    return env


def install_doctor(work: Path) -> Path:
    """lerobot-doctor in its own venv (reused if present); returns its executable."""
    venv = work / "doctor-venv"
    exe = venv / "bin/lerobot-doctor"
    if exe.exists():
        return exe
    uv = shutil.which("uv")
    if uv is None:
        raise SystemExit(
            "bench-validate: 'uv' not found on PATH (needed to install lerobot-doctor)"
        )
    log(f"installing lerobot-doctor into {venv}")
    subprocess.run([uv, "venv", "-q", "-p", str(TOOLS_PY), str(venv)], check=True, timeout=300)
    subprocess.run(
        [uv, "pip", "install", "-q", "lerobot-doctor"],
        check=True,
        timeout=600,
        env={**os.environ, "VIRTUAL_ENV": str(venv)},
    )
    return exe


def build_clean(work: Path, episodes: int, frames: int, env: dict[str, str]) -> list[Path]:
    """A v2.1 sample of ``episodes`` x ``frames`` and its v3.0 conversion."""
    from scripts.sample.make import SampleSpec, make_dataset

    v21 = work / "clean_v21"
    v30 = work / "clean_v30"
    if not v21.exists():
        log(f"writing a v2.1 sample: {episodes} episodes x {frames} frames, 2 cameras")
        spec = SampleSpec(
            episode_lengths=tuple(frames - (i % 5) for i in range(episodes)),
            cameras={"laptop": (48, 64), "phone": (32, 48)},
        )
        make_dataset(v21, spec)
    if not v30.exists():
        log("converting it to v3.0 (scripts.convert)")
        subprocess.run(
            [
                str(TOOLS_PY),
                "-m",
                "scripts.convert",
                str(v21),
                "--dst",
                str(v30),
                "--quiet",
            ],
            check=True,
            cwd=REPO,
            env=env,
            timeout=1800,
        )
    return [v21, v30]


def build_mutants(work: Path, clean: list[Path]) -> list[tuple[str, str, Path, str]]:
    """(mutation, version, path, expected check id) for the whole corpus."""
    from scripts.bench.corpus import applicable, make_mutant, version_of

    out = []
    for root in clean:
        version = version_of(root)
        for m in applicable(version):
            dst = work / "mutants" / version / m.name
            if not dst.exists():
                dst.parent.mkdir(parents=True, exist_ok=True)
                make_mutant(root, dst, m)
            out.append((m.name, version, dst, m.expect[version]))
    return out


def timed(cmd: list[str], env: dict[str, str]) -> Run:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=1800)
    seconds = time.perf_counter() - t0
    try:
        data = json.loads(proc.stdout)
    except json.JSONDecodeError:
        data = None
    return Run(seconds, proc.returncode, data, proc.stderr)


def ours(ds: Path, env: dict[str, str]) -> Run:
    return timed([str(TOOLS_PY), "-m", "validators", str(ds), "--json", "--no-progress"], env)


def doctor(exe: Path, ds: Path, env: dict[str, str]) -> Run:
    return timed([str(exe), "check", str(ds), "--json"], env)


def doctor_levels(run: Run) -> dict[str, str]:
    if run.data is None:
        return {}
    return {c["name"]: c["severity"] for c in run.data.get("checks", [])}


def doctor_verdict(run: Run, baseline: dict[str, str]) -> str:
    """What lerobot-doctor said that it did not say on the clean dataset."""
    if run.data is None:
        return f"crashed (rc {run.rc})"
    worse = []
    rank = {"PASS": 0, "INFO": 0, "WARN": 1, "FAIL": 2}
    for name, sev in doctor_levels(run).items():
        if rank.get(sev, 0) > rank.get(baseline.get(name, "PASS"), 0):
            worse.append(f"{sev}:{name}")
    return ", ".join(worse) if worse else "-"


def our_verdict(run: Run, want: str) -> tuple[bool, str]:
    if run.data is None:
        return False, f"crashed (rc {run.rc})"
    ids = sorted({f["check_id"] for f in run.data["findings"]})
    return want in ids, (want if want in ids else "MISSED " + ",".join(ids[:3]))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m scripts.bench.validate", description=__doc__)
    p.add_argument("--work", type=Path, default=REPO / ".cache/bench-validate")
    p.add_argument("--episodes", type=int, default=120, help="episodes in the clean sample")
    p.add_argument("--frames", type=int, default=400, help="frames per episode (about)")
    p.add_argument("--repeat", type=int, default=3, help="timed runs per clean dataset (best)")
    p.add_argument("--keep", action="store_true", help="keep the mutants afterwards")
    args = p.parse_args(argv)
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    env = env_for_runs(work)
    exe = install_doctor(work)
    clean = build_clean(work, args.episodes, args.frames, env)
    log("building the mutation corpus")
    mutants = build_mutants(work, clean)

    log("warming bytecode caches (not timed)")
    ours(clean[0], env)
    doctor(exe, clean[0], env)

    rows = []
    total_ours = total_doc = 0.0
    baselines: dict[str, dict[str, str]] = {}
    for ds in clean:
        o = min((ours(ds, env) for _ in range(args.repeat)), key=lambda r: r.seconds)
        d = min((doctor(exe, ds, env) for _ in range(args.repeat)), key=lambda r: r.seconds)
        version = "v3.0" if ds.name.endswith("v30") else "v2.1"
        baselines[version] = doctor_levels(d)
        total_ours += o.seconds
        total_doc += d.seconds
        n_err = None if o.data is None else o.data["errors"]
        rows.append(
            ("(clean)", version, f"{n_err} errors", o.seconds, doctor_verdict(d, {}), d.seconds)
        )
    caught_ours = caught_doc = 0
    for name, version, path, want in mutants:
        log(f"{version} {name}")
        o, d = ours(path, env), doctor(exe, path, env)
        total_ours += o.seconds
        total_doc += d.seconds
        hit, ours_text = our_verdict(o, want)
        doc_text = doctor_verdict(d, baselines[version])
        caught_ours += hit
        caught_doc += doc_text != "-"
        rows.append((name, version, ours_text, o.seconds, doc_text, d.seconds))

    head = f"{'mutation':28} {'fmt':5} {'ours (check id)':34} {'s':>6}  {'lerobot-doctor':40}"
    print(f"\n{head} {'s':>6}")
    print("-" * 126)
    for name, version, o_text, o_s, d_text, d_s in rows:
        print(f"{name:28} {version:5} {o_text[:34]:34} {o_s:6.2f}  {d_text[:40]:40} {d_s:6.2f}")
    print("-" * 126)
    n = len(mutants)
    print(
        f"mutations caught: ours {caught_ours}/{n}, lerobot-doctor {caught_doc}/{n} "
        "(doctor: any check worse than on the clean dataset)"
    )
    clean_o, clean_d = sum(r[3] for r in rows[: len(clean)]), sum(r[5] for r in rows[: len(clean)])
    print(
        f"clean datasets (best of {args.repeat}): ours {clean_o:.2f} s, lerobot-doctor "
        f"{clean_d:.2f} s (ours = {clean_o / clean_d:.2f} x doctor)"
    )
    ratio = total_ours / total_doc if total_doc else float("nan")
    print(
        f"total wall time over {len(rows)} datasets: ours {total_ours:.1f} s, "
        f"lerobot-doctor {total_doc:.1f} s (ours = {ratio:.2f} x doctor)"
    )
    if not args.keep:
        shutil.rmtree(work / "mutants", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
