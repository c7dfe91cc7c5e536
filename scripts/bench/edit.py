"""Benchmark: ``make edit`` vs LeRobot 0.6.1's ``lerobot-edit-dataset``, same input, same ops.

    python -m scripts.bench.edit [--copies 7] [--work DIR] [--keep]

The input is the sample (``scripts.sample.make``, 3 episodes, 2 AV1 cameras) converted to
v3.0 and merged with itself ``--copies`` times (21 episodes by default): both tools read the
same folder. Three operations, each run by both tools side by side in one run (ours, then
theirs, on a warm page cache):

* delete 10 %: the first round(N / 10) episodes;
* split 90/10: ours ``SPLIT=train:0.9,val:0.1``, theirs ``--operation.splits`` the same;
  expected counts are round(N x 0.9) / the rest (LeRobot's ``int()`` gives 18/3 of 21, #2547,
  and is reported as a totals mismatch);
* merge two: the two halves of the split (ours' split output, the same folders for both).

LeRobot runs offline on local roots (``--root``/``--new_root``, ``HF_HUB_OFFLINE=1``) in the
act env. Wall time and peak RSS come from ``os.wait4`` on each process. Each output is judged
by the same checks: episodes and frames as expected, numeric rows equal the source's
(renumbered columns aside), exact float64 stats in ``meta/stats.json``, and the validator.
Prints one line per operation; never gates CI.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[2]
TOOLS = REPO / "envs" / "tools" / ".venv" / "bin" / "python"
ACT = REPO / "envs" / "act" / ".venv" / "bin" / "python"
SKIP = ("index", "episode_index", "task_index")


def timed(cmd: list, log: Path) -> tuple[float, float, int]:
    """(wall s, peak RSS MB, exit code) of one command, its output to ``log``."""
    env = dict(os.environ, PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1")
    with log.open("w") as fh:
        t0 = time.perf_counter()
        proc = subprocess.Popen([str(c) for c in cmd], stdout=fh, stderr=fh, cwd=REPO, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss / 1024, proc.returncode


def rows(root: Path) -> pa.Table:
    files = sorted((root / "data").glob("*/*.parquet"))
    return pa.concat_tables(pq.read_table(f) for f in files)


def check(out: Path, src_rows: pa.Table, episodes: list[int]) -> str:
    """'ok' or the first failed check: episodes/frames, rows, exact stats, validator."""
    from validators.runner import validate_dataset

    if not (out / "meta" / "info.json").is_file():
        return "no output"
    got = rows(out)
    src_ep = src_rows["episode_index"].to_numpy()
    want = src_rows.filter(pa.array(np.isin(src_ep, episodes)))
    info = json.loads((out / "meta" / "info.json").read_text())
    if (info["total_episodes"], info["total_frames"]) != (len(episodes), want.num_rows):
        return f"totals {info['total_episodes']} ep / {info['total_frames']} frames"
    if got.num_rows != want.num_rows:
        return f"{got.num_rows} rows, want {want.num_rows}"
    for name in ("action", "observation.state", "frame_index", "timestamp"):
        # values, not arrow types: a list<float> and a fixed_size_list column may hold the same
        if not np.array_equal(
            np.asarray(got[name].to_pylist()), np.asarray(want[name].to_pylist())
        ):
            return f"rows differ ({name})"
    stats = json.loads((out / "meta" / "stats.json").read_text())
    for ft in ("action", "observation.state"):
        v = np.asarray(got[ft].to_pylist(), dtype=np.float64)
        if not np.allclose(stats[ft]["mean"], v.mean(0), rtol=1e-9, atol=1e-12):
            return f"stats {ft} mean inexact"
        if not np.allclose(stats[ft]["std"], v.std(0), rtol=1e-6, atol=1e-9):
            return f"stats {ft} std inexact"
    report = validate_dataset(out, behaviour=False)
    if report.errors:
        return f"validator: {report.errors[0].check_id}"
    return "ok"


def build(work: Path, copies: int) -> Path:
    sample, v30, src = work / "sample", work / "sample_v30", work / "src"
    steps = [
        [TOOLS, "-m", "scripts.sample.make", "--out", sample, "--quiet"],
        [TOOLS, "-m", "scripts.convert", sample, "--dst", v30, "--quiet"],
        [TOOLS, "-m", "scripts.edit", "merge", ",".join([str(v30)] * copies), "--dst", src],
    ]
    for cmd in steps:
        if timed(cmd, work / "build.log")[2]:
            sys.exit(f"bench-edit: building the input failed; see {work / 'build.log'}")
    return src


def lerobot(src_args: list, op: list) -> list:
    return [ACT, "-m", "lerobot.scripts.lerobot_edit_dataset", *src_args, *op]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--copies", type=int, default=7, help="sample copies merged (3 episodes each)")
    p.add_argument("--work", type=Path, default=None, help="work folder (default: a temp dir)")
    p.add_argument("--keep", action="store_true", help="keep the work folder")
    args = p.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-edit-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"bench-edit: building the input in {work} ...", flush=True)
    src = build(work, args.copies)
    src_rows = rows(src)
    n = len(np.unique(src_rows["episode_index"].to_numpy()))
    gone = list(range(round(n / 10)))
    n_train = round(n * 0.9)
    train, val = list(range(n_train)), list(range(n_train, n))
    o, t = work / "ours", work / "theirs"
    o.mkdir(exist_ok=True)
    t.mkdir(exist_ok=True)
    base = ["--repo_id", "local/src", "--root", src]
    ops = [
        (
            "delete 10%",
            [TOOLS, "-m", "scripts.edit", "delete", src, "--dst", o / "del",
             f"EPISODES={','.join(map(str, gone))}", "--quiet"],
            lerobot(base, ["--new_repo_id", "local/del", "--new_root", t / "del",
                           "--operation.type", "delete_episodes",
                           "--operation.episode_indices", json.dumps(gone)]),
            [(o / "del", t / "del", [e for e in range(n) if e not in gone])],
        ),
        (
            "split 90/10",
            [TOOLS, "-m", "scripts.edit", "split", src, "--dst", o / "split",
             "SPLIT=train:0.9,val:0.1", "--quiet"],
            lerobot(base, ["--new_root", t / "split", "--operation.type", "split",
                           "--operation.splits", '{"train": 0.9, "val": 0.1}']),
            [(o / "split/train", t / "split/train", train),
             (o / "split/val", t / "split/val", val)],
        ),
        (
            "merge two",
            [TOOLS, "-m", "scripts.edit", "merge", f"{o / 'split/train'},{o / 'split/val'}",
             "--dst", o / "merge", "--quiet"],
            [ACT, "-m", "lerobot.scripts.lerobot_edit_dataset", "--new_repo_id", "local/merge",
             "--new_root", t / "merge", "--operation.type", "merge",
             "--operation.repo_ids", "['local/train', 'local/val']",
             "--operation.roots", str([str(o / "split/train"), str(o / "split/val")])],
            [(o / "merge", t / "merge", list(range(n)))],
        ),
    ]  # fmt: skip
    results = []
    print(f"input: {n} episodes, {src_rows.num_rows} frames (the machine may be loaded)")
    header = f"{'operation':<12} {'ours s':>7} {'theirs s':>9} {'ratio':>6} {'ours MB':>8} "
    print(header + f"{'theirs MB':>10}  ours / theirs correct")
    for name, ours_cmd, theirs_cmd, outs in ops:
        slug = name.split()[0]
        ow, orss, orc = timed(ours_cmd, work / f"ours-{slug}.log")
        tw, trss, trc = timed(theirs_cmd, work / f"theirs-{slug}.log")
        verdict_o = "; ".join(check(a, src_rows, eps) for a, _, eps in outs)
        verdict_t = "; ".join(check(b, src_rows, eps) for _, b, eps in outs)
        verdict_o += f" (exit {orc})" if orc else ""
        verdict_t += f" (exit {trc})" if trc else ""
        results.append(dict(op=name, ours_s=ow, theirs_s=tw, ours_mb=orss, theirs_mb=trss,
                            ours=verdict_o, theirs=verdict_t))  # fmt: skip
        print(f"{name:<12} {ow:7.2f} {tw:9.2f} {tw / ow:5.1f}x {orss:8.0f} {trss:10.0f}  "
              f"{verdict_o} / {verdict_t}", flush=True)  # fmt: skip
    (work / "bench-edit.json").write_text(json.dumps(results, indent=1))
    print(f"bench-edit: {work / 'bench-edit.json'}; logs ours-*.log, theirs-*.log")
    if not args.keep and args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
