"""``make rollout``: N labelled episodes per checkpoint, blind and interleaved (tools env).

Order: knobs (one line each, exit 2), then the blind schedule from SEED (printed: the order
can be reproduced; the operator's terminal shows episode numbers only), then the session:
``scripts.rollout.loop`` in envs/act (robot, deploy client, session writer), a child process
on the same terminal. The report is written here, from the dataset's journal, after the child
ends however it ends: a client killed mid-session loses the episode it was recording, and the
report says how many planned episodes are on disk and how the session ended.
``REPORT_ONLY=1`` reports a rollout dataset already on disk.

Exit codes: 0 ok, 2 bad knob / refused before the first episode, 1 anything else.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from scripts.rollout import report, schedule

ROBOTS = ("koch", "replay", "sim")
OPERATORS = ("keys", "scripted")
REPO = Path(__file__).resolve().parents[2]
ACT_PY = REPO / "envs" / "act" / ".venv" / "bin" / "python"


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
    p.add_argument("--operator", default="keys", help="keys | scripted (replay only)")
    p.add_argument("--tolerance", default="0.5", help="scripted: distance in action stds")
    p.add_argument("--replay", default="", help="replay robot: the v3.0 dataset it plays")
    p.add_argument("--robot-port", default="")
    p.add_argument("--stall-s", default="")
    p.add_argument("--server-wait", default="10")
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
    if a.operator not in OPERATORS:
        raise KnobError(f"OPERATOR={a.operator}: keys or scripted")
    if a.operator == "scripted" and a.robot == "koch":
        raise KnobError("OPERATOR=scripted: only on ROBOT=replay or sim (a person judges koch)")
    if a.robot == "sim" and not a.replay:
        raise KnobError("ROBOT=sim needs REPLAY=<v3.0 dataset>: its cameras are replayed and "
                        "its episodes are the scripted operator's reference")  # fmt: skip
    if a.replay and not (Path(a.replay) / "meta" / "info.json").is_file():
        raise KnobError(f"REPLAY={a.replay}: not a v3.0 dataset (no meta/info.json)")
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
            "reset_s": _number("RESET_S", a.reset_s, float, 0), "seed": seed,
            "tolerance": _number("TOLERANCE", a.tolerance, float, 0),
            "stall_s": _number("STALL_S", a.stall_s, float, 0.1) if a.stall_s else None,
            "server_wait": _number("SERVER_WAIT", a.server_wait, float, 0)}  # fmt: skip


def session_info(root: Path, child: dict | None = None) -> dict:
    """What the report says about the session: planned vs on disk, how it ended."""
    import json

    from scripts.session import journal

    info: dict = {"dataset": str(root), "episodes_on_disk": len(journal.read(root))}
    marker = journal.read_marker(root) or {}
    if "planned" in marker:
        info["planned"] = marker["planned"]
        info["seed"] = marker.get("seed")
    f = root / journal.SIDE / "rollout_session.json"
    if f.is_file():
        info.update(json.loads(f.read_text()))
    elif "planned" in marker:  # the control loop never wrote its end: it was killed
        info["stopped"] = "killed"
    if child:
        info.update(child)
    if info.get("stopped") == "killed" or info.get("returncode", 0) < 0:
        info["stopped"] = "killed"
        info["note"] = (
            f"the session was killed: {info['episodes_on_disk']} of "
            f"{info.get('planned', '?')} planned episodes on disk; the episode "
            "being recorded then is lost (make repair DATASET=... drops its files)"
        )
    return info


def report_only(root: Path, out: Path | None, child: dict | None = None) -> int:
    """The report of a rollout dataset already written (its journal)."""
    from scripts.report.atomic import ReportError
    from scripts.session import journal

    records = journal.read(root)
    if not records:
        log(f"error: {root}: no committed episode (not a rollout dataset, or empty)")
        return 2
    rep = report.build(records, session_info(root, child))
    out = out or root / journal.SIDE / "rollout_report.json"
    try:
        print(report.write(rep, out, out.with_suffix(".png")), flush=True)
    except ReportError as e:
        log(f"error: {e}")
        return 1
    log(f"report {out} and {out.with_suffix('.png')}")
    if rep["session"].get("note"):
        log(rep["session"]["note"])
    return 0


def run_session(a: argparse.Namespace, v: dict, root: Path, plan: list) -> int:
    """The control loop in envs/act on this terminal; then the report, whatever happened."""
    import contextlib
    import json
    import signal
    import subprocess
    import tempfile

    doc = {"dataset": str(root), "robot": a.robot, "server": a.server, "task": a.task,
           "episode_s": v["episode_s"], "reset_s": v["reset_s"], "seed": v["seed"],
           "slots": [{"number": s.number, "checkpoint": s.checkpoint} for s in plan],
           "operator": a.operator, "tolerance": v["tolerance"], "replay": a.replay,
           "robot_port": a.robot_port, "stall_s": v["stall_s"],
           "server_wait": v["server_wait"]}  # fmt: skip
    with tempfile.NamedTemporaryFile(
        "w", suffix=".json", prefix="rollout-plan-", delete=False
    ) as f:
        json.dump(doc, f)
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the child's to handle
    try:
        with contextlib.ExitStack() as stack:
            env = None
            if a.robot == "sim":
                from scripts.rollout.sim import simulated_koch

                port, env = stack.enter_context(simulated_koch())
                doc["robot_port"] = port
                Path(f.name).write_text(json.dumps(doc))
                log(f"sim: the Koch follower simulated on {port}, cameras replay {a.replay}")
            cmd = [str(ACT_PY), "-m", "scripts.rollout.loop", f.name]
            rc = subprocess.Popen(cmd, cwd=REPO, env=env).wait()
    except RuntimeError as e:  # the simulator did not start
        log(f"error: ROBOT=sim: {e}")
        return 1
    finally:
        signal.signal(signal.SIGINT, old)
        Path(f.name).unlink(missing_ok=True)
    if not root.exists():
        return rc or 1
    from scripts.session import journal

    if not journal.read(root):
        log(f"no episode saved in {root}")
        return rc or 1
    out = report_only(root, a.report, {"returncode": rc})
    return rc if rc else out


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
    return run_session(a, v, root, plan)


if __name__ == "__main__":
    sys.exit(main())
