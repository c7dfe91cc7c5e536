"""Nightly conversion: every v2.x dataset in INBOX whose content has no verified v3.0 twin.

Runs from cron on a storage box (light `tools` env, no torch); ``scripts/nightly/nightly.sh``
holds the flock and the dated log. Each dataset is decided by its content fingerprint (file
names, sizes and hashes; ``scripts/convert/fingerprint.py``), the one ``make convert`` records
in its output (``<name>_v30/meta/.lerobot-ops-convert.json``) and uses for "up to date":
  - no ``<name>_v30`` yet                    -> converted
  - ``<name>_v30`` of the same content       -> up to date
  - the source changed since                 -> converted again (``--force``: the old output is
                                               replaced only after the new one is verified)
  - modified in the last SETTLE_MIN minutes,
    or ``meta/``/``data/`` without info.json -> skipped: still being written
  - ``<name>_v30`` without the marker        -> skipped: never replaced (an older output or
                                               someone's folder); move it away to convert
  - anything that cannot be read or converted -> failed, with the reason
Each conversion runs the same converter as ``make convert``, in its own process, so one bad
dataset is reported and the others still convert. The run writes ``OUTBOX/nightly-report.json``
and ``OUTBOX/.nightly-manifest.json`` (name -> fingerprint of what is published), prints a
summary, prunes old logs, hands the report's path to ``NOTIFY`` and exits 1 if anything failed.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from scripts.convert import fingerprint, publish
from scripts.convert.errors import ConversionError
from validators.dataset_format import INFO_PATH, LEGACY_VERSIONS

REPORT = "nightly-report.json"
MANIFEST = ".nightly-manifest.json"
LOG_GLOB = "nightly-*.log"


@dataclass
class Item:
    """One inbox folder's fate tonight."""

    name: str
    src: str
    dst: str
    status: str  # convert | converted | up to date | skipped | failed
    reason: str = ""
    force: bool = False
    seconds: float = 0.0
    src_bytes: int = 0
    dst_bytes: int = 0
    fingerprint: str = ""


@dataclass
class Run:
    inbox: str
    outbox: str
    started: str
    finished: str = ""
    items: list[Item] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for i in self.items if i.status == status)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def looks_like_dataset(root: Path) -> bool:
    return any((root / d).is_dir() for d in ("meta", "data", "videos"))


def read_version(root: Path) -> str:
    """The codebase_version; raise ValueError naming the file when info.json is broken."""
    path = root / INFO_PATH
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from exc
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text") from exc
    except OSError as exc:
        raise ValueError(f"{path}: {(exc.strerror or str(exc)).lower()}") from exc
    if not isinstance(info, dict) or not isinstance(info.get("codebase_version"), str):
        raise ValueError(f"{path}: no 'codebase_version'")
    return info["codebase_version"]


def decide(src: Path, outbox: Path, settle_s: float) -> Item | None:
    """What to do with one inbox folder (None: not a dataset at all, ignored)."""
    dst = outbox / f"{src.name}_v30"
    item = Item(src.name, str(src), str(dst), "convert")
    if not (src / INFO_PATH).exists():
        if not looks_like_dataset(src):
            return None
        item.status, item.reason = "skipped", f"still being written (no {INFO_PATH})"
        return item
    try:
        version = read_version(src)
        if version not in LEGACY_VERSIONS:
            item.status, item.reason = "skipped", f"codebase_version {version}: not v2.x"
            return item
        stats = fingerprint.stat_tree(src)
        newest = max((m for _, m in stats.values()), default=0) / 1e9
        item.src_bytes = sum(s for s, _ in stats.values())
        if time.time() - newest < settle_s:
            ago = (time.time() - newest) / 60
            item.status = "skipped"
            item.reason = (
                f"still being written (modified {ago:.0f} min ago; "
                f"waits for {settle_s / 60:.0f} min of quiet, SETTLE_MIN)"
            )
            return item
        if (dst.exists() or dst.is_symlink()) and publish.read_marker(dst) is None:
            item.status = "skipped"
            item.reason = (
                f"{dst} exists without the converter's {publish.MARKER} (converted before "
                "fingerprints, or not ours): left alone; move it away to convert again"
            )
            return item
        previous = publish.previous_output(dst)
        if previous is not None:
            fp = fingerprint.compute(src, known=previous.files)
            item.fingerprint = fp.digest
            if fp.digest == previous.fingerprint:
                item.status, item.reason = "up to date", f"converted {previous.converted_at}"
                return item
            changed = fp.changed_files(previous.files)
            item.force, item.reason = True, f"source changed ({', '.join(changed[:3])})"
    except (ValueError, ConversionError) as exc:
        item.status, item.reason = "failed", str(exc)
    return item


def plan(inbox: Path, outbox: Path, settle_s: float) -> list[Item]:
    items = []
    for src in sorted(p for p in inbox.iterdir() if p.is_dir() and not p.name.startswith(".")):
        item = decide(src, outbox, settle_s)
        if item is not None:
            items.append(item)
    return items


def convert(item: Item, extra: list[str]) -> None:
    """Run the converter on one dataset; fill in the outcome."""
    cmd = [sys.executable, "-m", "scripts.convert", item.src, "--dst", item.dst]
    cmd += ["--quiet", *(["--force"] if item.force else []), *extra]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    item.seconds = round(time.monotonic() - t0, 2)
    sys.stdout.write(proc.stdout)
    errors = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    if proc.returncode == 0:
        item.status = "converted"
        dst = Path(item.dst)
        item.dst_bytes = sum(p.stat().st_size for p in dst.rglob("*") if p.is_file())
        marker = publish.read_marker(dst)
        item.fingerprint = marker.fingerprint if marker else ""
    else:
        item.status = "failed"
        item.reason = errors[-1] if errors else f"converter exited {proc.returncode}"
        item.reason = item.reason.removeprefix("convert: error: ")


def write_json(path: Path, body: object) -> None:
    """Temp file beside, then rename: a reader never sees half a report."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(body, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def update_manifest(outbox: Path, run: Run) -> None:
    path = outbox / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        manifest = {}
    for item in run.items:
        if item.status in ("converted", "up to date") and item.fingerprint:
            manifest[item.name] = {
                "src": item.src,
                "dst": item.dst,
                "fingerprint": item.fingerprint,
                "checked": run.finished,
            }
    write_json(path, manifest)


def prune_logs(log_dir: Path | None, keep: int) -> None:
    if log_dir is None or not log_dir.is_dir():
        return
    logs = sorted(log_dir.glob(LOG_GLOB), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in logs[keep:]:
        old.unlink(missing_ok=True)


def notify(command: str, report: Path) -> None:
    if not command.strip():
        return
    try:
        proc = subprocess.run([*shlex.split(command), str(report)], check=False, timeout=300)
        if proc.returncode != 0:
            print(f"nightly: warning: NOTIFY={command} exited {proc.returncode}", file=sys.stderr)
    except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
        print(f"nightly: warning: NOTIFY={command} failed: {exc}", file=sys.stderr)


def summary(run: Run, report: Path) -> str:
    counts = ", ".join(
        f"{run.count(s)} {s}" for s in ("converted", "up to date", "skipped", "failed")
    )
    lines = [f"nightly {run.finished}: {counts} (report: {report})"]
    for i in run.items:
        extra = f" ({i.seconds:.1f} s, {i.dst_bytes / 1024**2:.1f} MB)" if i.seconds else ""
        why = f": {i.reason}" if i.reason else ""
        lines.append(f"  {i.status:<10} {i.name}{extra}{why}")
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--inbox", type=Path, required=True, help="folder of v2.x datasets")
    p.add_argument("--outbox", type=Path, required=True, help="where <name>_v30 goes")
    p.add_argument("--dry-run", action="store_true", help="list what would be converted")
    p.add_argument(
        "--settle-minutes",
        type=float,
        default=float(os.environ.get("SETTLE_MIN") or 10),
        help="skip a dataset modified this recently (default: $SETTLE_MIN or 10)",
    )
    p.add_argument("--notify", default=os.environ.get("NOTIFY", ""), help="gets the report path")
    p.add_argument("--log-dir", type=Path, help="prune old nightly-*.log files here")
    p.add_argument("--keep-logs", type=int, default=30, help="logs kept (default 30)")
    return p


def main(argv: list[str] | None = None) -> int:
    args, extra = parser().parse_known_args(argv)
    for knob, path in (("INBOX", args.inbox), ("OUTBOX", args.outbox)):
        if not path.is_dir():
            print(f"nightly: error: {knob}={path} is not a directory", file=sys.stderr)
            return 2
    run = Run(str(args.inbox), str(args.outbox), _now())
    run.items = plan(args.inbox, args.outbox, args.settle_minutes * 60)
    todo = [i for i in run.items if i.status == "convert"]
    print(
        f"nightly {run.started}: {len(todo)} to convert, {run.count('up to date')} up to date, "
        f"{run.count('skipped')} skipped, {run.count('failed')} failed before converting",
        flush=True,
    )
    for item in todo:
        print(f"nightly: converting {item.src} -> {item.dst}", flush=True)
        if args.dry_run:
            continue
        convert(item, extra)
        word = "ok" if item.status == "converted" else "FAILED"
        print(f"nightly: {word}: {item.name} {item.reason}".rstrip(), flush=True)
    run.finished = _now()
    report = args.outbox / REPORT
    if not args.dry_run:
        write_json(report, {**asdict(run), "items": [asdict(i) for i in run.items]})
        update_manifest(args.outbox, run)
    print(summary(run, report), flush=True)
    for item in run.items:
        if item.status == "failed":
            print(f"nightly: error: {item.src}: {item.reason}", file=sys.stderr)
    prune_logs(args.log_dir, args.keep_logs)
    if not args.dry_run:
        notify(args.notify, report)
    return 1 if run.count("failed") else 0


if __name__ == "__main__":
    sys.exit(main())
