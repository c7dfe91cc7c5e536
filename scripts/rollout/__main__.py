"""``make rollout``: N labelled episodes per checkpoint, blind and interleaved (tools env).

Order: knobs (one line each, exit 2), then the blind schedule from SEED (printed: the order
can be reproduced; the operator's terminal shows episode numbers only), then the session.

Not yet: the policy control loop (each episode driven through ``make serve`` with
``scripts.deploy.client``'s pieces and recorded by ``scripts.session``). Until it exists the
command stops after the schedule with one line saying so (exit 3) instead of pretending.
``REPORT_ONLY=1`` reports a rollout dataset already on disk (its journal's ``rollout/``
columns, as ``LabelledSink`` wrote them).

Exit codes: 0 ok, 2 bad knob, 3 not yet (the control loop), 1 anything else.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from scripts.rollout import report, schedule

ROBOTS = ("koch", "replay", "sim")
NOT_YET = (
    "not yet: the policy control loop through make serve (issue 25 item 3) is not built; "
    "the schedule, label keys, the writer's rollout/ columns and the report are"
)


class KnobError(ValueError):
    """A knob that cannot work (one line)."""


def log(msg: str) -> None:
    print(f"rollout: {msg}", file=sys.stderr, flush=True)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="make rollout", description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", required=True, help="a[,b,...] pretrained_model folders")
    p.add_argument("--robot", default="replay")
    p.add_argument("--server", default="127.0.0.1:8080")
    p.add_argument("--episodes", default="")
    p.add_argument("--episode-s", default="30")
    p.add_argument("--reset-s", default="10")
    p.add_argument("--task", default="")
    p.add_argument("--dataset", type=Path, required=True)
    p.add_argument("--seed", default="")
    p.add_argument("--report-only", action="store_true")
    p.add_argument("--report", type=Path, default=None, help="report JSON (PNG beside it)")
    return p


def _number(knob: str, text: str, kind: type, lo: float) -> float:
    try:
        value = kind(text)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise KnobError(f"{knob}={text!r}: not {what}") from None
    if value < lo:
        raise KnobError(f"{knob}={text}: must be >= {lo:g}")
    return value


def check(a: argparse.Namespace) -> dict:
    """Every knob, before anything connects; returns the parsed values."""
    if a.robot not in ROBOTS:
        raise KnobError(f"ROBOT={a.robot}: unknown robot (known: {', '.join(ROBOTS)})")
    ckpts = [c.strip() for c in a.checkpoint.split(",") if c.strip()]
    if not ckpts:
        raise KnobError("CHECKPOINT is empty: make rollout CHECKPOINT=a[,b]")
    for c in ckpts:
        if not (Path(c) / "config.json").is_file():
            raise KnobError(f"CHECKPOINT {c}: no config.json there (a pretrained_model folder)")
    if not a.episodes:
        raise KnobError("EPISODES is required: make rollout EPISODES=<episodes per checkpoint>")
    episodes = int(_number("EPISODES", a.episodes, int, 1))
    if not re.fullmatch(r"[^\s:]+:\d{1,5}", a.server):
        raise KnobError(f"SERVER={a.server}: expected host:port (make serve prints it)")
    if not a.task.strip():
        raise KnobError('TASK is empty: make rollout TASK="what the policy should do"')
    seed = int(_number("SEED", a.seed, int, 0)) if a.seed else schedule.new_seed()
    return {"checkpoints": [str(Path(c).resolve()) for c in ckpts], "episodes": episodes,
            "episode_s": _number("EPISODE_S", a.episode_s, float, 0.1),
            "reset_s": _number("RESET_S", a.reset_s, float, 0), "seed": seed}  # fmt: skip


def report_only(root: Path, out: Path | None) -> int:
    """The report of a rollout dataset already written (its journal)."""
    from scripts.report.atomic import ReportError
    from scripts.session import journal

    records = journal.read(root)
    if not records:
        log(f"error: {root}: no committed episode (not a rollout dataset, or empty)")
        return 2
    rep = report.build(records, {"dataset": str(root), "episodes_on_disk": len(records)})
    out = out or root / journal.SIDE / "rollout_report.json"
    try:
        print(report.write(rep, out, out.with_suffix(".png")), flush=True)
    except ReportError as e:
        log(f"error: {e}")
        return 1
    log(f"report {out} and {out.with_suffix('.png')}")
    return 0


def main(argv: list[str] | None = None) -> int:
    a = parser().parse_args(argv)
    if a.report_only:
        return report_only(Path(a.dataset).resolve(), a.report)
    try:
        v = check(a)
    except KnobError as e:
        log(f"error: {e}")
        return 2
    root = Path(a.dataset).resolve()
    if root.exists():
        log(f"error: DATASET={root} exists: give a new folder (REPORT_ONLY=1 reports it)")
        return 2
    plan = schedule.plan(v["checkpoints"], v["episodes"], v["seed"])
    log(f"seed {v['seed']} (SEED={v['seed']} reproduces this order); {len(plan)} episodes, "
        f"{v['episodes']} per checkpoint, order blind to the operator")  # fmt: skip
    for slot in plan:
        log(f"  {schedule.blind_line(slot, len(plan))}")
    log(NOT_YET)
    return 3


if __name__ == "__main__":
    sys.exit(main())
