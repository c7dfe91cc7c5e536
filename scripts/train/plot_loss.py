"""Training curves from a lerobot-train log: loss and eval loss, grad norm, memory; one PNG.

Why from the log: it is the one artefact every run leaves (no wandb offline), it survives
resumes (the launcher appends), and it is readable on a storage box without torch.
What LeRobot 0.6.1 writes there (``lerobot_train.py``): every ``log_freq`` steps a
MetricsTracker line ``step:10 smpl:40 ep:1 epch:0.44 loss:60.789 grdn:12.3 lr:1.0e-05 ...
[mem_gb:3.21]`` (``mem_gb`` only when CUDA is present); every ``eval_steps`` with held-out
episodes (``make train HOLDOUT=``) a line ``step 10: eval_loss=58.1234``. The PNG has the
loss panel (train and eval loss), then a grad-norm and a memory panel when the log has them.
Usage: python -m scripts.train.plot_loss OUT [--png FILE]   (OUT = run dir or a train.log)
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path
from typing import Any

# lerobot 0.6.1 MetricsTracker line: "step:10 smpl:40 ep:1 epch:0.44 loss:60.789 grdn:..."
# step/smpl may carry K/M suffixes (format_big_number): "step:1K smpl:8K".
LINE_RE = re.compile(r"\bstep:(?P<step>[0-9.]+[KMBT]?)\s.*?\bloss:(?P<loss>\S+)")
SUFFIX = {"": 1, "K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}
# From step 1000 on, "step:2K" stands for 1500..2499: the exact step is rebuilt from the log
# frequency (the launcher's --log_freq=N, or the config dump's 'log_freq': N) and LeRobot's
# exact "Checkpoint policy after step N" lines (a resumed run restarts from the last one).
LOG_FREQ_RE = re.compile(r"(?:--log_freq=|'log_freq': )(\d+)")
CHECKPOINT_RE = re.compile(r"Checkpoint policy after step (\d+)")
EVAL_RE = re.compile(r"\bstep (\d+): eval_loss=(\S+)")
# Other values of a MetricsTracker line, by LeRobot's meter names (AverageMeter("grdn", ...)).
LINE_METERS = {"grad_norm": re.compile(r"\bgrdn:(\S+)"), "mem_gb": re.compile(r"\bmem_gb:(\S+)")}
SERIES = ("loss", "eval_loss", "grad_norm", "mem_gb")
LAUNCH_PREFIX = "[train] "  # the launcher's header, written at every (re)start


def parse_number(text: str) -> float:
    """``12``, ``1K``, ``2.5M`` -> float."""
    unit = text[-1] if text[-1] in "KMBT" else ""
    return float(text[: len(text) - len(unit)]) * SUFFIX[unit]


def lerobot_format(num: float) -> str:
    """LeRobot 0.6.1's ``format_big_number(num)`` (precision 0), as its log lines show steps."""
    for suffix in ("", "K", "M", "B", "T"):
        if abs(num) < 1000.0:
            return f"{num:.0f}{suffix}"
        num /= 1000.0
    return f"{num:.0f}Q"


def exact_step(raw: str, prev: int | None, log_freq: int | None) -> int:
    """The step a ``step:<raw>`` line stands for: the next logged step when it fits."""
    if raw.isdigit():
        return int(raw)
    if prev is not None and log_freq and lerobot_format(prev + log_freq) == raw:
        return prev + log_freq
    return int(parse_number(raw))


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def parse_series(text: str) -> dict[str, list[tuple[int, float]]]:
    """Every curve in the log, ``SERIES`` keys; a resumed run's repeated steps keep the latest."""
    curves: dict[str, dict[int, float]] = {k: {} for k in SERIES}
    log_freq: int | None = None
    prev: int | None = None
    checkpoint: int | None = None
    for line in text.replace("\r", "\n").splitlines():
        if line.startswith(LAUNCH_PREFIX):
            prev = checkpoint  # a (re)start continues from the last checkpoint
        if m := LOG_FREQ_RE.search(line):
            log_freq = int(m[1])
        if m := CHECKPOINT_RE.search(line):
            checkpoint = prev = int(m[1])
            continue
        if m := EVAL_RE.search(line):  # LeRobot writes this step in full
            curves["eval_loss"][int(m[1])] = _float(m[2])
            continue
        m = LINE_RE.search(line)
        if not m:
            continue
        prev = exact_step(m["step"], prev, log_freq)
        curves["loss"][prev] = _float(m["loss"])
        for key, meter in LINE_METERS.items():
            if v := meter.search(line):
                curves[key][prev] = _float(v[1])
    return {k: sorted(v.items()) for k, v in curves.items()}


def parse_log(text: str) -> list[tuple[int, float]]:
    """All (step, loss) pairs in order; a resumed run's repeated steps keep the latest value."""
    return parse_series(text)["loss"]


def _log_scale_ok(values: list[float]) -> bool:
    finite = [v for v in values if math.isfinite(v)]
    return bool(finite) and min(finite) > 0


def plot(
    points: list[tuple[int, float]],
    png: Path,
    title: str,
    extra: dict[str, list[tuple[int, float]]] | None = None,
) -> Path:
    """Write the curves to ``png``: loss (+ eval loss), then grad norm and memory if given."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    extra = extra or {}
    panels = [k for k in ("grad_norm", "mem_gb") if extra.get(k)]
    fig, axes = plt.subplots(1 + len(panels), 1, figsize=(7, 4 + 2.2 * len(panels)),
                             sharex=True, squeeze=False)  # fmt: skip
    ax = axes[0][0]
    mark = "." if len(points) < 50 else ""
    ax.plot([s for s, _ in points], [v for _, v in points], marker=mark, label="train loss")
    evals = extra.get("eval_loss") or []
    if evals:
        ax.plot([s for s, _ in evals], [v for _, v in evals], marker="o", label="eval loss "
                "(held-out episodes)")  # fmt: skip
        ax.legend()
    ax.set_ylabel("loss")
    ax.set_title(title)
    if _log_scale_ok([v for _, v in points + evals]):
        ax.set_yscale("log")
    labels = {"grad_norm": "grad norm (before clipping)", "mem_gb": "peak GPU memory (GB)"}
    for i, key in enumerate(panels, start=1):
        pa = axes[i][0]
        series = extra[key]
        pa.plot([s for s, _ in series], [v for _, v in series], marker=mark, color=f"C{i + 1}")
        pa.set_ylabel(labels[key])
        if key == "grad_norm" and _log_scale_ok([v for _, v in series]):
            pa.set_yscale("log")
    for row in axes:
        row[0].grid(True, alpha=0.3)
    axes[-1][0].set_xlabel("step")
    return save_figure(fig, png)


def save_figure(fig: Any, png: Path) -> Path:
    """Write ``fig`` to ``png`` via a temp file renamed at the end, then free it.

    A crash mid-write leaves the previous picture, never half of one.
    """
    import matplotlib.pyplot as plt

    fig.tight_layout()
    tmp = png.with_name(f".{png.name}.tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(png)
    return png


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path, help="run directory (holding train.log) or a log file")
    ap.add_argument("--png", type=Path, default=None, help="default: <run dir>/loss.png")
    args = ap.parse_args(argv)
    log = args.out / "train.log" if args.out.is_dir() else args.out
    if not log.is_file():
        print(
            f"plot_loss: error: {log}: no such log (OUT must be a make train run dir)",
            file=sys.stderr,
        )
        return 2
    series = parse_series(log.read_text(errors="replace"))
    points = series["loss"]
    if not points:
        print(f"plot_loss: error: {log}: no 'step:N ... loss:X' lines yet", file=sys.stderr)
        return 3
    png = args.png or log.parent / "loss.png"
    title = f"{log.parent.name}: {len(points)} points, last loss {points[-1][1]:.4g}"
    try:
        plot(points, png, title, series)
    except OSError as exc:  # a read-only run dir, a full disk: one line, the PNG path named
        reason = (exc.strerror or str(exc)).lower()
        print(
            f"plot_loss: error: {png}: cannot write ({reason}); pass --png elsewhere",
            file=sys.stderr,
        )
        return 4

    also = "".join(
        f"; {what}" for key, what in (("eval_loss", f"eval loss {len(series['eval_loss'])} points"),
                                      ("grad_norm", "grad norm"), ("mem_gb", "memory"))
        if series[key]
    )  # fmt: skip
    print(f"loss curve: {png} ({len(points)} points, step {points[0][0]}..{points[-1][0]}{also})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
