"""Command line of ``make eval`` (shared by the launcher and the runner) and its error policy.

Every expected failure is one line ``eval: error: ...`` on stderr and exit 2: no traceback,
nothing written (outputs are renamed into place only at the very end), the dataset and the
checkpoints are only ever read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from scripts.episodes.table import EpisodeError
from scripts.eval.checkpoints import CheckpointError
from scripts.report.atomic import ReportError

EXPECTED: tuple[type[Exception], ...] = (CheckpointError, EpisodeError, ReportError)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, like every usage error
        print(f"eval: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"want a whole number >= 1, got {text!r}")
    return value


def _step(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"STEP wants a step number, got {text!r}") from None


def parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="make eval",
        description="Offline evaluation: rank checkpoints by how well their predicted action "
        "chunks match the recorded actions of held-out episodes (dataset units).",
    )
    p.add_argument("--checkpoint", required=True, help="a[,b,...]: pretrained_model, "
                   "checkpoint or run folder")  # fmt: skip
    p.add_argument("--dataset", required=True, type=Path, help="v3.0 dataset root")
    p.add_argument("--episodes", default=None, help="3,7-9 | last:10%% | heldout | @report.json")
    p.add_argument("--step", type=_step, default=None, help="checkpoint step of a run folder")
    p.add_argument("--seeds", type=_positive, default=1, help="samples for stochastic policies")
    p.add_argument("--json", type=Path, default=None, help="write the JSON report here")
    p.add_argument("--png", type=Path, default=None, help="write the PNG here")
    p.add_argument("--batch", type=_positive, default=32, help="frames per forward pass")
    p.add_argument("--device", default=None, help="auto | cpu | cuda | cuda:1 (auto: cuda if any)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    # The launcher's: {given: migrated copy} for old-layout ACT checkpoints (scripts/eval/legacy).
    p.add_argument("--migrated", type=json.loads, default={}, help=argparse.SUPPRESS)
    return p


def fail(message: str) -> int:
    print(f"eval: error: {message}", file=sys.stderr)
    return 2
