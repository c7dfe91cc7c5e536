"""CLI: ``python -m validators DATASET [--recipe NAME] [--deep|--quick] [--json] [--report F]
[--strict]``. Exit 0: no errors; 1: errors (or warnings with --strict); 2: usage error;
3: the dataset cannot be read (permissions, I/O): not a verdict on its contents."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from validators.policies import UsageError
from validators.report import GROUPS, Report

SEV = {"error": "ERROR", "warning": "WARN "}
MAX_LINES_PER_CHECK = 10


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # exit 2 with one line, like every usage error
        self.print_usage(sys.stderr)
        print(f"validate: {message}", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="python -m validators",
        description="Validate a LeRobot dataset (v2.1 or v3.0) before a GPU is booked: schema, "
        "structure, parquet data, videos, stats, and readiness for a training recipe.",
        epilog="Exit codes: 0 no errors, 1 errors (or warnings with --strict), 2 usage error, "
        "3 the dataset cannot be read (permissions, I/O).",
    )
    p.add_argument("dataset", type=Path, nargs="?", help="dataset root (holds meta/info.json)")
    p.add_argument("--recipe", help="recipe name (recipes/<name>.yaml) or path: readiness checks")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--deep", action="store_true", help="decode every video frame (slow)")
    mode.add_argument("--quick", action="store_true", help="metadata, footers and headers only")
    p.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    p.add_argument("--report", type=Path, help="also write the JSON report to this file")
    p.add_argument("--strict", action="store_true", help="warnings fail too (exit 1)")
    p.add_argument(
        "--no-behaviour", action="store_true", help="skip the behavioural checks (BEHAVIOUR=off)"
    )
    p.add_argument(
        "--thresholds", type=Path, help="YAML/JSON file overriding behavioural thresholds"
    )
    p.add_argument("--no-progress", action="store_true", help="no stage lines on stderr")
    p.add_argument("--list-checks", action="store_true", help="print every check id and exit")
    return p


def render(report: Report, elapsed: float, strict: bool) -> str:
    """The human report: a header, then findings grouped by check group and check id."""
    s = report.summary
    lines = [
        f"Dataset: {report.root}",
        f"Format: {report.version} (layout {s.get('layout', '?')}), {s.get('episodes', '?')} "
        f"episodes, {s.get('frames', '?')} frames, fps {s.get('fps', '?')}; mode {report.mode}"
        + (f"; recipe {report.recipe}" if report.recipe else ""),
        "",
    ]
    by_group: dict[str, dict[str, list]] = {}
    for f in report.findings:
        by_group.setdefault(f.group, {}).setdefault(f.check_id, []).append(f)
    for group in GROUPS:
        if group not in report.groups_run and group not in by_group:
            continue
        checks = by_group.get(group, {})
        n_err = sum(f.severity == "error" for fs in checks.values() for f in fs)
        n_warn = sum(f.severity == "warning" for fs in checks.values() for f in fs)
        status = "ok" if not checks else f"{n_err} error(s), {n_warn} warning(s)"
        t = report.timings.get(group)
        lines.append(f"[{group}] {status}" + (f"  ({t:.2f} s)" if t is not None else ""))
        for check_id, fs in sorted(checks.items()):
            extra = report.suppressed.get(check_id, 0)
            lines.append(f"  {check_id}  ({len(fs) + extra})")
            for f in fs[:MAX_LINES_PER_CHECK]:
                where = f.file or "(dataset)"
                if f.episode is not None:
                    where += f" [episode {f.episode}]"
                if f.feature:
                    where += f" {f.feature}"
                lines.append(f"    {SEV[f.severity]} {where}: {f.message}")
                lines.append(f"          hint: {f.hint}")
            if len(fs) + extra > MAX_LINES_PER_CHECK:
                lines.append(f"    ... {len(fs) + extra - MAX_LINES_PER_CHECK} more (see --json)")
    drop = report.drop_episodes()
    if drop and "behaviour" in report.groups_run:
        from scripts.episodes.select import spans

        lines += [
            "",
            f"Episodes to drop ({len(drop)}): {spans(drop)}  (every episode a finding names; "
            "with REPORT=r.json: make edit EPISODES=~@r.json keeps the others)",
        ]
    n_err, n_warn = len(report.errors), len(report.warnings)
    verdict = "PASS" if report.ok(strict) else "FAIL"
    lines += ["", f"{verdict}: {n_err} error(s), {n_warn} warning(s) in {elapsed:.2f} s"]
    return "\n".join(lines)


def report_path_problem(path: Path) -> str | None:
    """Why the JSON report cannot be written there (checked before validating), or None.

    A missing folder is not created: a typo in REPORT= should not grow a directory tree.
    """
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        return "is a directory; give a file name"
    if not parent.is_dir():
        return f"folder {parent} does not exist (create it first, or fix the path)"
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return "not writable"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list_checks:
        from validators.checks import render as render_checks

        print(render_checks())
        return 0
    if args.dataset is None:
        parser.error("the DATASET argument is required")
    from validators.readable import UnreadableError
    from validators.runner import validate_dataset

    if args.report and (problem := report_path_problem(args.report)):
        print(f"validate: error: REPORT={args.report}: {problem}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    try:
        report = validate_dataset(
            args.dataset,
            recipe=args.recipe,
            deep=args.deep,
            quick=args.quick,
            progress=not args.no_progress and not args.json,
            behaviour=not args.no_behaviour,
            thresholds=args.thresholds,
        )
    except UnreadableError as exc:
        print(f"validate: error: {exc}", file=sys.stderr)
        return 3
    except UsageError as exc:
        print(f"validate: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # read errors past the readability pass (I/O, a file that vanished)
        print(f"validate: error: {exc.filename or args.dataset}: {exc.strerror}", file=sys.stderr)
        return 3
    elapsed = time.perf_counter() - t0
    if args.report:
        tmp = args.report.with_name(args.report.name + ".tmp")
        try:
            tmp.write_text(report.to_json())
            tmp.replace(args.report)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            print(f"validate: error: REPORT={args.report}: {exc.strerror}", file=sys.stderr)
            return 2
    if args.report and any(
        f.group == "behaviour" and f.episode is not None for f in report.findings
    ):
        from validators.behaviour.plot import write_png

        png = write_png(report, args.report.with_suffix(".png"))
        if png is not None and not args.json:
            print(f"validate: per-episode traces of the flagged episodes: {png}", file=sys.stderr)
    if args.json:
        print(report.to_json())
    else:
        print(render(report, elapsed, args.strict))
    return 0 if report.ok(args.strict) else 1


if __name__ == "__main__":
    sys.exit(main())
