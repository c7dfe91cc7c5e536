"""CLI: ``python -m scripts.edit OP DATASET --dst DST [KNOB=value ...] [--force]``.

What ``make edit`` runs. Knobs are passed as the Makefile names them (``EPISODES=3,7-9``,
``SPLIT=train:0.9,val:0.1``, ``HEAD=``/``TAIL=`` frames or ``0.5s``, ``TASK=``/``NEW_TASK=``,
``FEATURE=``, ``IDLE=``/``MOTION=``, ``FACTOR=``) so every error names the knob the user
typed. DATASET is one folder, or for merge several separated by commas (or ``@file`` with one
folder per line). Errors are one line
``edit: error: ...``, exit 1, nothing written.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from scripts.common.cli import cli_errors
from scripts.edit.errors import EditError
from scripts.edit.pipeline import Request, run
from scripts.edit.plan import OPS

KNOBS = (
    "EPISODES",
    "SPLIT",
    "HEAD",
    "TAIL",
    "IDLE",
    "MOTION",
    "FACTOR",
    "TASK",
    "NEW_TASK",
    "FEATURE",
)


def _datasets(value: str) -> list[Path]:
    if value.startswith("@"):
        try:
            lines = Path(value[1:]).read_text().splitlines()
        except OSError as exc:
            raise EditError(f"DATASET={value}: cannot be read ({exc.strerror})") from exc
        names = [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]
    else:
        names = [v.strip() for v in value.split(",") if v.strip()]
    if not names:
        raise EditError("DATASET is empty")
    return [Path(os.path.abspath(n)) for n in names]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="make edit", description=__doc__.splitlines()[0])
    p.add_argument("op", help=", ".join(OPS))
    p.add_argument("dataset", help="a v3.0 dataset folder (merge: a,b or @list.txt)")
    p.add_argument("--dst", required=True, type=Path, help="a new folder (FORCE=1: ours only)")
    p.add_argument("--force", action="store_true", help="replace a previous output of ours")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("knobs", nargs="*", metavar="KNOB=value", help=", ".join(KNOBS))
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_intermixed_args(argv)

    def body() -> int:
        knobs: dict[str, str] = {}
        for item in args.knobs:
            name, eq, value = item.partition("=")
            if not eq or name not in KNOBS:
                raise EditError(f"{item}: not a knob of make edit ({', '.join(KNOBS)})")
            if value:
                knobs[name] = value
        req = Request(
            args.op, _datasets(args.dataset), Path(os.path.abspath(args.dst)), knobs, args.force
        )
        progress = not args.quiet and sys.stderr.isatty()
        run(req, lambda m: print(f"edit: {m}", flush=True), progress)
        return 0

    return cli_errors("edit", (EditError,), body, path=args.dst)


if __name__ == "__main__":
    sys.exit(main())
