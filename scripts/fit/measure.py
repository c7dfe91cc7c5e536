"""``make fit MEASURE=1`` on a CUDA box: a few real steps through the same step function.

Why the same code path: a measurement is only a check of the prediction if it runs the same
build (:func:`scripts.fit.build.build`) and the same step (:func:`scripts.fit.step.train_step`)
on real CUDA tensors, with ``torch.autocast('cuda')`` and a real ``GradScaler`` in place of the
fake-mode stand-ins. The result is appended to the recipe's ``ops.measured`` by
:func:`record`, so a recipe says what was measured, on which GPU, with which LeRobot, when.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from pathlib import Path
from typing import Any


def measure_cuda(
    block: dict[str, Any], policy: str, shapes: Any, batch: int, steps: int
) -> dict[str, Any]:
    """Run ``steps`` real training steps; peak allocated/reserved and samples per second."""
    import torch

    if not torch.cuda.is_available():
        raise SystemExit("fit: MEASURE=1 needs a CUDA GPU (torch.cuda.is_available() is False)")
    import lerobot

    from scripts.fit.build import build
    from scripts.fit.step import Amp, train_step

    setup = build(block, policy, shapes, batch, device="cuda")
    amp = Amp(setup.amp_dtype, setup.grad_scaler, cuda=True)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(max(2, steps)):
        t0 = time.perf_counter()
        train_step(setup.policy, setup.batch, setup.optimizer, amp, setup.grad_clip_norm)
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    steady = times[1:] or times
    return {
        "gpu": torch.cuda.get_device_name(),
        "lerobot": lerobot.__version__,
        "torch": torch.__version__,
        "date": dt.date.today().isoformat(),
        "batch": batch,
        "steps": len(times),
        "max_allocated": torch.cuda.max_memory_allocated(),
        "max_reserved": torch.cuda.max_memory_reserved(),
        "samples_per_s": batch * len(steady) / sum(steady),
    }


def record(recipe_path: Path, m: dict[str, Any], predicted_peak: int, shapes: str) -> None:
    """Append one measurement line to ``ops.measured`` (the rest of the file is untouched)."""
    gib = 1024**3
    entry = (
        f'"{m["date"]} {m["gpu"]}, LeRobot {m["lerobot"]}, {shapes}, batch {m["batch"]}: '
        f"max allocated {m['max_allocated'] / gib:.2f} GiB (predicted "
        f"{predicted_peak / gib:.2f}), reserved {m['max_reserved'] / gib:.2f} GiB, "
        f'{m["samples_per_s"]:.1f} samples/s"'
    )
    text = recipe_path.read_text()
    lines = text.splitlines()
    try:
        i = next(k for k, ln in enumerate(lines) if re.match(r"^  measured:", ln))
    except StopIteration as exc:
        raise SystemExit(f"fit: {recipe_path}: no ops.measured line to append to") from exc
    first = lines[i].split(":", 1)[1].strip()
    if first and first not in ("not yet", "[]"):
        lines[i : i + 1] = ["  measured:", f"    - {first}"]  # scalar -> list
    elif first:
        lines[i] = "  measured:"
    j = i + 1
    while j < len(lines) and lines[j].startswith("    - "):
        j += 1
    lines.insert(j, f"    - {entry}")
    tmp = recipe_path.with_suffix(".yaml.tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(recipe_path)
