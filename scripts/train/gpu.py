"""Detect CUDA GPUs and their free memory without importing torch (nvidia-smi only).

Why nvidia-smi: the launcher runs in the light tools env and must fail fast, before a
multi-second torch import in the training env. No nvidia-smi (or no driver) means no GPU.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass


@dataclass(frozen=True)
class Gpu:
    """One CUDA device as nvidia-smi reports it (memory in GiB)."""

    index: int
    name: str
    total_gb: float
    free_gb: float


def parse_nvidia_smi(text: str) -> list[Gpu]:
    """Parse ``--query-gpu=index,name,memory.total,memory.free --format=csv,noheader,nounits``."""
    gpus = []
    for line in text.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 4:
            continue
        try:
            idx, name, total, free = int(parts[0]), parts[1], float(parts[2]), float(parts[3])
        except ValueError:
            continue
        gpus.append(Gpu(index=idx, name=name, total_gb=total / 1024, free_gb=free / 1024))
    return gpus


def detect() -> list[Gpu]:
    """All visible CUDA GPUs; an empty list when nvidia-smi is missing or fails."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        proc = subprocess.run(
            [
                exe,
                "--query-gpu=index,name,memory.total,memory.free",
                "--format=csv,noheader,nounits",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    return parse_nvidia_smi(proc.stdout) if proc.returncode == 0 else []


def check_budget(gpus: list[Gpu], need_gb: float, count: int) -> str | None:
    """None when ``count`` GPUs each have ``need_gb`` free; otherwise one line saying why not.

    A recipe's budget is the card size it was written for; we ask for 90 % of it free, since
    the driver and the desktop keep a little for themselves.
    """
    if not gpus:
        return "no CUDA GPU found (nvidia-smi missing or reports none)"
    if len(gpus) < count:
        return f"GPUS={count} requested but only {len(gpus)} CUDA GPU(s) visible"
    want = need_gb * 0.9
    short = [g for g in sorted(gpus, key=lambda g: -g.free_gb)[:count] if g.free_gb < want]
    if short:
        g = short[0]
        return (
            f"GPU {g.index} ({g.name}) has {g.free_gb:.1f} GB free of {g.total_gb:.1f} GB; "
            f"the recipe budget is {need_gb:.0f} GB (needs ~{want:.1f} GB free)"
        )
    return None
