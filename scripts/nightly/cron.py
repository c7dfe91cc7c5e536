"""The crontab line for the nightly conversion, and installing / removing exactly that line.

    python -m scripts.nightly.cron line    --inbox DIR --outbox DIR [--at "15 2 * * *"]
    python -m scripts.nightly.cron install --inbox DIR --outbox DIR [--at "15 2 * * *"]
    python -m scripts.nightly.cron remove

Why: ``crontab -`` replaces a user's whole crontab, so install reads the current one, drops
any line carrying this checkout's marker, appends one new line and writes it back: every other
line is kept, installing twice leaves one line, remove takes out only ours. The line runs make
from an empty environment (``env -i``, as cron's own is unpredictable; make reads ``.env``)
and appends all output to ``<repo>/logs/nightly-cron.log``, so a night that fails before
nightly's own logs exist (OUTBOX not mounted) still leaves a trace. Paths are shell-quoted,
and ``%`` (a newline to cron) is escaped.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CRON_PATH = "/usr/local/bin:/usr/bin:/bin"
LOG = Path("logs") / "nightly-cron.log"


class CronError(Exception):
    """One line for the user."""


def marker(repo: Path) -> str:
    return f"# lerobot-ops nightly: {repo}"


def schedule(at: str) -> str:
    """Five cron fields; two (minute hour) get '* * *' appended."""
    fields = at.split()
    if len(fields) == 2:
        fields += ["*", "*", "*"]
    if len(fields) != 5:
        raise CronError(f'AT={at!r}: give "minute hour" or five cron fields ("15 2 * * *")')
    return " ".join(fields)


def line(repo: Path, inbox: Path, outbox: Path, at: str) -> str:
    q = shlex.quote
    home = os.environ.get("HOME", "/")
    cmd = (
        f"cd {q(str(repo))} && mkdir -p logs && env -i HOME={q(home)} PATH={CRON_PATH} "
        f"LANG=C.UTF-8 make -s nightly INBOX={q(str(inbox))} OUTBOX={q(str(outbox))} "
        f">>{q(str(LOG))} 2>&1 {marker(repo)}"
    )
    return f"{schedule(at)} {cmd.replace('%', chr(92) + '%')}"


def current_crontab() -> str:
    try:
        proc = subprocess.run(["crontab", "-l"], capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise CronError("crontab not found: install cron (apt install cron)") from exc
    if proc.returncode != 0:
        if "no crontab" in proc.stderr.lower():
            return ""
        raise CronError(f"crontab -l failed: {proc.stderr.strip()}")
    return proc.stdout


def write_crontab(text: str) -> None:
    proc = subprocess.run(["crontab", "-"], input=text, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise CronError(f"crontab - refused the new table: {proc.stderr.strip()}")


def without_ours(text: str, repo: Path) -> tuple[list[str], int]:
    mark = marker(repo).replace("%", "\\%")
    lines = text.splitlines()
    kept = [ln for ln in lines if not ln.rstrip().endswith(mark)]
    return kept, len(lines) - len(kept)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="nightly_cron", description=__doc__.splitlines()[0])
    p.add_argument("action", choices=["line", "install", "remove"])
    p.add_argument("--inbox", type=Path)
    p.add_argument("--outbox", type=Path)
    p.add_argument("--at", default="15 2 * * *")
    p.add_argument("--repo", type=Path, default=REPO)
    args = p.parse_args(argv)
    repo = args.repo.absolute()
    try:
        if args.action == "remove":
            kept, dropped = without_ours(current_crontab(), repo)
            write_crontab("".join(f"{ln}\n" for ln in kept))
            print(f"cron: removed {dropped} nightly line(s) of {repo}; {len(kept)} other(s) kept")
            return 0
        for knob in ("inbox", "outbox"):
            if not getattr(args, knob):
                raise CronError(f"{knob.upper()} is required: make cron-{args.action} "
                                f"INBOX=<dir> OUTBOX=<dir>")  # fmt: skip
        new = line(repo, args.inbox.absolute(), args.outbox.absolute(), args.at)
        if args.action == "line":
            print(new)
            return 0
        kept, dropped = without_ours(current_crontab(), repo)
        write_crontab("".join(f"{ln}\n" for ln in [*kept, new]))
        verb = "replaced" if dropped else "installed"
        print(f"cron: {verb} the nightly line ({len(kept)} other line(s) kept):\n{new}")
    except CronError as exc:
        print(f"cron: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
