"""Inside a training job: keep ``OUT/checkpoints/last`` complete, and check the world size.

Why: a Slurm job can be killed at any moment (scancel, preemption, time limit, a node lost).
LeRobot 0.6.1 writes ``checkpoints/<step>/`` in place and then swaps the ``last`` symlink
(unlink + symlink, ``common/train_utils.py``), so a kill can leave a half-written newest
checkpoint or, for an instant, no ``last`` at all. The next attempt must resume from the newest
*complete* checkpoint, and a preemption notice (``--signal=B:USR1@60``) must let a checkpoint
that is being written finish before the job is requeued. "Complete" is judged without torch:
every file LeRobot's resume reads is there, its JSON parses, and each ``.safetensors`` is as long
as its own header says.

Why ``world``: ``accelerate launch --cpu --num_machines 2`` silently trains one model per node
(the simple launcher sets no RANK/WORLD_SIZE) and exits 0. The job reads the world size
LeRobot itself logged (``Effective batch size: B x W = ...``) and fails when W is not the
number of processes it launched.

Usage (from the sbatch script, tools env): python -m scripts.slurm.ckpt repair OUT
  | settle OUT [--timeout S] | world LOG --expect N [--since MARKER]
  | keep-log LOG OUT --since MARKER
"""

from __future__ import annotations

import argparse
import json
import os
import re
import struct
import sys
import time
from pathlib import Path

PRETRAINED = ("config.json", "train_config.json", "model.safetensors")
STATE = ("training_step.json", "optimizer_param_groups.json", "optimizer_state.safetensors",
         "rng_state.safetensors")  # fmt: skip
WORLD_RE = re.compile(r"^INFO .* Effective batch size: (\d+) x (\d+) = (\d+)", re.MULTILINE)


def say(msg: str) -> None:
    print(f"[slurm] {msg}", flush=True)


def safetensors_ok(path: Path) -> bool:
    """The file is exactly as long as its header's largest data offset says (no torch needed)."""
    try:
        with path.open("rb") as fh:
            (n,) = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(n))
        end = max((int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"),
                  default=0)  # fmt: skip
        return path.stat().st_size == 8 + n + end
    except (OSError, ValueError, KeyError, TypeError, struct.error):
        return False


def incomplete(ckpt: Path) -> str | None:
    """Why ``ckpt`` cannot be resumed from, or None when it is complete."""
    for sub, names in (("pretrained_model", PRETRAINED), ("training_state", STATE)):
        for name in names:
            f = ckpt / sub / name
            if not f.is_file():
                return f"{sub}/{name} missing"
            if f.suffix == ".safetensors" and not safetensors_ok(f):
                return f"{sub}/{name} truncated"
            if f.suffix == ".json":
                try:
                    json.loads(f.read_text())
                except (OSError, ValueError):
                    return f"{sub}/{name} unreadable"
    return None


def step_dirs(out: Path) -> list[Path]:
    """``checkpoints/<step>`` directories, oldest first."""
    root = out / "checkpoints"
    if not root.is_dir():
        return []
    return sorted((p for p in root.iterdir() if p.name.isdigit() and p.is_dir()),
                  key=lambda p: int(p.name))  # fmt: skip


def point_last(out: Path, target: Path) -> None:
    """Atomically make ``checkpoints/last`` a relative link to ``target`` (rename over it)."""
    last = out / "checkpoints" / "last"
    tmp = last.with_name(f".last.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target.name)
    os.replace(tmp, last)


def repair(out: Path) -> int:
    """Point ``last`` at the newest complete checkpoint; set incomplete newer ones aside."""
    dirs = step_dirs(out)
    good = [d for d in dirs if incomplete(d) is None]
    stamp = time.strftime("%Y%m%d-%H%M%S")
    if not dirs:
        if out.is_dir() and any(out.iterdir()):  # an attempt died before its first checkpoint
            aside = out.with_name(f"{out.name}.incomplete-{stamp}")
            out.rename(aside)
            say(f"{out} holds no checkpoint: moved to {aside.name}; a fresh start")
        else:
            say(f"no checkpoint in {out}: a fresh start")
        return 0
    for d in dirs:
        if d not in good and (not good or int(d.name) > int(good[-1].name)):
            why = incomplete(d)
            aside = d.with_name(f".incomplete-{d.name}-{stamp}")
            d.rename(aside)
            say(f"checkpoint {d.name} was cut short ({why}): moved to {aside.name}")
    last = out / "checkpoints" / "last"
    if not good:  # LeRobot refuses an existing OUT on a fresh start: keep it, under a new name
        aside = out.with_name(f"{out.name}.incomplete-{stamp}")
        out.rename(aside)
        say(f"no complete checkpoint in {out}: moved to {aside.name}; the run starts afresh")
        return 0
    if not last.is_symlink() or os.readlink(last) != good[-1].name:
        point_last(out, good[-1])
        say(f"checkpoints/last -> {good[-1].name} (the newest complete checkpoint)")
    else:
        say(f"checkpoints/last = {good[-1].name}, complete")
    return 0


def settle(out: Path, timeout_s: float) -> int:
    """Wait (bounded) until no checkpoint is being written: the newest is complete and last."""
    deadline = time.monotonic() + timeout_s
    while True:
        dirs = step_dirs(out)
        last = out / "checkpoints" / "last"
        newest = dirs[-1] if dirs else None
        if newest is None or (
            incomplete(newest) is None and last.is_symlink() and os.readlink(last) == newest.name
        ):
            say(f"no checkpoint being written (last: {newest.name if newest else 'none'})")
            return 0
        if time.monotonic() > deadline:
            say(f"checkpoint {newest.name} still incomplete after {timeout_s:.0f} s")
            return 1
        time.sleep(0.5)


def world(log: Path, expect: int, since: str | None) -> int:
    """Exit 1 unless LeRobot logged a world of ``expect`` processes (after ``since``)."""
    try:
        text = log.read_text(errors="replace")
    except OSError as exc:
        print(f"slurm: error: {log}: {exc.strerror}", file=sys.stderr)
        return 1
    if since and since in text:
        text = text[text.rindex(since) :]
    sizes = [int(m.group(2)) for m in WORLD_RE.finditer(text)]
    if not sizes:
        print(f"slurm: error: {log}: LeRobot never logged its world size "
              "('Effective batch size: B x W'): the run did not start",
              file=sys.stderr)  # fmt: skip
        return 1
    if any(s != expect for s in sizes) or len(sizes) != 1:
        print(
            f"slurm: error: {log}: LeRobot logged world size(s) {sizes}, expected one world of "
            f"{expect} processes: the nodes trained separately (accelerate's simple launcher?); "
            "this run's checkpoints are not a multi-node result",
            file=sys.stderr,
        )
        return 1
    per = WORLD_RE.search(text)[1]  # type: ignore[index]
    say(f"one world of {expect} processes, as LeRobot logged it (batch {per} x {expect})")
    return 0


def keep_log(log: Path, out: Path, since: str) -> int:
    """Append this attempt's part of the job log to OUT/train.log, as a local run keeps it.

    Why: ``make plot OUT=...`` and a later local ``make train`` read OUT/train.log; the Slurm
    log lives beside OUT (LeRobot refuses a fresh run in an existing OUT).
    """
    if not out.is_dir():
        return 0
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return 0
    if since in text:
        text = text[text.rindex(since) :]
    with (out / "train.log").open("a", encoding="utf-8") as fh:
        fh.write(text if text.endswith("\n") else text + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m scripts.slurm.ckpt", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("repair").add_argument("out", type=Path)
    s = sub.add_parser("settle")
    s.add_argument("out", type=Path)
    s.add_argument("--timeout", type=float, default=45.0)
    w = sub.add_parser("world")
    w.add_argument("log", type=Path)
    w.add_argument("--expect", type=int, required=True)
    w.add_argument("--since", default=None)
    k = sub.add_parser("keep-log")
    k.add_argument("log", type=Path)
    k.add_argument("out", type=Path)
    k.add_argument("--since", required=True)
    args = ap.parse_args(argv)
    if args.cmd == "keep-log":
        return keep_log(args.log, args.out, args.since)
    if args.cmd == "repair":
        return repair(args.out)
    if args.cmd == "settle":
        return settle(args.out, args.timeout)
    return world(args.log, args.expect, args.since)


if __name__ == "__main__":
    sys.exit(main())
