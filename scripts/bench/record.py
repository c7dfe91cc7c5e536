"""Benchmark: ``make record`` vs stock ``lerobot-record`` on the simulator, one run (envs/act).

    python -m scripts.bench.record [--episodes 2] [--seconds 5] [--fps 30] [--work DIR] [--keep]

The bed is ``make record-sim``'s: the Koch follower and the Koch leader simulators on two ptys
(calibration files written by the simulators, HF_LEROBOT_CALIBRATION), two cameras ``laptop``
and ``phone`` replayed at 640x480 from a v3.0 source at FPS. On the same simulators, one after
the other: ours (``python -m scripts.record``, h264 streaming, its defaults) then stock
LeRobot 0.6.1 ``lerobot-record`` with its defaults (libsvtav1, no streaming encoding: PNG frames,
encoded at ``save_episode``), offline (``--dataset.push_to_hub=false``, a temp root),
``--display_data=false`` and ``--play_sounds=false`` (no speech synthesiser here).

Per recorder, from the episode phases only: real loop rate, p50/p99/max tick period, missed
ticks (periods > 1.5/FPS), save seconds per episode, frames stamped vs real seconds, and from
``os.wait4`` on the process: wall, CPU (user + sys) and peak RSS. Ours keeps every tick's period
beside the dataset (``journal.read_ticks``); stock keeps none, so ``record_stock.py`` times the
start of each tick (``get_observation``) without changing what it does. Never gates CI.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CAMERAS = ("laptop", "phone")


def timed(cmd: list, log: Path, env: dict) -> dict:
    """Wall, CPU and peak RSS of one process (``os.wait4``), its output to ``log``."""
    with log.open("w") as fh:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [str(c) for c in cmd], stdout=fh, stderr=fh, stdin=subprocess.DEVNULL, cwd=REPO,
            env=env,
        )  # fmt: skip
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    return {
        "exit": os.waitstatus_to_exitcode(status),
        "wall_s": round(wall, 2),
        "cpu_s": round(ru.ru_utime + ru.ru_stime, 2),
        "peak_rss_mb": round(ru.ru_maxrss / 1024, 1),
    }


def last_error(log: Path) -> str:
    """The last exception line of a log (``ConnectionError: ...``), else its last line."""
    lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    errs = [ln for ln in lines if ln.split(":")[0].endswith(("Error", "Exception"))]
    return ((errs or lines or [""])[-1])[:200]


def summary(periods: list[list[float]], fps: int, save_s: list[float], frames: list[int]) -> dict:
    """The same numbers for both recorders, from each episode's tick periods (seconds)."""
    from scripts.session.clock import percentile

    flat = [p for ep in periods for p in ep]
    limit = 1.5 / fps
    real = [sum(ep) for ep in periods]
    return {
        "episodes": len(periods),
        "ticks": len(flat),
        "rate_hz": round(len(flat) / sum(flat), 2) if flat else 0.0,
        "period_ms_p50": round(1e3 * percentile(flat, 0.5), 2),
        "period_ms_p99": round(1e3 * percentile(flat, 0.99), 2),
        "period_ms_max": round(1e3 * max(flat, default=0.0), 2),
        "missed_ticks": sum(p > limit for p in flat),
        "save_s": [round(s, 2) for s in save_s],
        "frames": frames,
        "stamped_s": [round(n / fps, 2) for n in frames],
        "real_s": [round(r, 2) for r in real],
    }


def ours(a, bed: dict, work: Path, env: dict) -> dict:
    from scripts.session import journal

    root = work / "ours"
    cmd = [sys.executable, "-m", "scripts.record", "--dataset", root, "--task", "bench",
           "--robot-port", bed["follower"], "--teleop-port", bed["leader"],
           "--cameras", "replay", "--replay", bed["replay"], "--episodes", a.episodes,
           "--episode-s", a.seconds, "--reset-s", a.reset, "--fps", a.fps,
           "--report", work / "ours-report.json", "--no-camera-check"]  # fmt: skip
    # --no-camera-check: stock has no camera-rate preflight (a loaded box fails ours' there)
    proc = timed(cmd, work / "ours.log", env)
    if proc["exit"] != 0:
        sys.exit(f"bench-record: ours failed (exit {proc['exit']}); see {work / 'ours.log'}")
    rep = json.loads((work / "ours-report.json").read_text())
    eps = rep["episodes"]
    periods = [journal.read_ticks(root, e["episode_index"]) for e in eps]
    s = summary(periods, a.fps, [e["save_s"] for e in eps], [e["frames"] for e in eps])
    redo = rep["session"]["rerecorded"]  # discarded (e.g. the encoder dropped frames), redone
    return {**s, **proc, "saved": len(eps), "rerecorded": redo, "codec": "h264", "streaming": True}


def stock(a, bed: dict, work: Path, env: dict) -> dict:
    cams = {
        n: {"type": "replay", "dataset": bed["replay"], "key": n, "width": 640, "height": 480,
            "fps": a.fps}
        for n in CAMERAS
    }  # fmt: skip
    out = work / "stock-ticks.json"
    cmd = [sys.executable, REPO / "scripts" / "bench" / "record_stock.py", out, "--",
           "--robot.type=koch_follower", f"--robot.port={bed['follower']}", "--robot.id=koch",
           f"--robot.cameras={json.dumps(cams)}", "--teleop.type=koch_leader",
           f"--teleop.port={bed['leader']}", "--teleop.id=koch_leader",
           "--dataset.repo_id=local/bench", f"--dataset.root={work / 'stock'}",
           "--dataset.single_task=bench", f"--dataset.num_episodes={a.episodes}",
           f"--dataset.episode_time_s={a.seconds}", f"--dataset.reset_time_s={a.reset}",
           f"--dataset.fps={a.fps}", "--dataset.push_to_hub=false", "--display_data=false",
           "--play_sounds=false"]  # fmt: skip
    failed_starts: list[str] = []
    for _ in range(3):  # stock has no connect retry: a ping lost under load ends it at start
        out.unlink(missing_ok=True)
        proc = timed(cmd, work / "stock.log", env)
        data = json.loads(out.read_text()) if out.is_file() else {"episodes": []}
        if data["episodes"]:
            break
        failed_starts.append(last_error(work / "stock.log"))
        print(f"bench-record: stock ended before its first tick: {failed_starts[-1]}", flush=True)
    else:
        sys.exit(f"bench-record: stock failed 3 times (exit {proc['exit']}); see {work}/stock.log")
    proc["failed_starts"] = failed_starts
    if proc["exit"] != 0:  # e.g. one bus read timed out: stock ends the session; kept as a result
        proc["error"] = last_error(work / "stock.log")
        print(f"bench-record: stock exited {proc['exit']}: {proc['error']}", flush=True)
    eps = data["episodes"]
    periods = [[b - t for t, b in zip(e["ticks"], e["ticks"][1:], strict=False)] for e in eps]
    saves = [e["save_s"] for e in eps if e["save_s"] is not None]
    s = summary(periods, a.fps, saves, [len(e["ticks"]) for e in eps])
    saved = sum(e["save_s"] is not None for e in eps)
    return {**s, **proc, "saved": saved, "rerecorded": None, "codec": "libsvtav1",
            "streaming": False}  # fmt: skip


def start_bed(work: Path, env: dict, fps: int) -> tuple[dict, list]:
    from scripts.record import replay_source
    from scripts.record.sim import start_sim

    calib = work / "calibration"
    replay = replay_source.ensure(work / f"replay-640x480-{fps}fps", 640, 480, fps)
    procs: list = []
    f, fport = start_sim(["--robot", "koch", "--lag-ms", "60", "--priority", "rt",
                          "--write-calibration", str(calib / "robots/koch_follower/koch.json")],
                         env)  # fmt: skip
    procs.append(f)
    leader, lport = start_sim(
        ["--robot", "koch_leader", "--human", "300", "--priority", "rt", "--write-calibration",
         str(calib / "teleoperators/koch_leader/koch_leader.json")], env,
    )  # fmt: skip
    procs.append(leader)
    return {"follower": fport, "leader": lport, "replay": str(replay)}, procs


ROWS = [
    ("exit code", "exit"),
    ("episodes saved", "saved"),
    ("episodes discarded, redone", "rerecorded"),
    ("real loop rate (Hz)", "rate_hz"),
    ("p50 tick period (ms)", "period_ms_p50"),
    ("p99 tick period (ms)", "period_ms_p99"),
    ("max tick period (ms)", "period_ms_max"),
    ("missed ticks (> 1.5/FPS)", "missed_ticks"),
    ("save per episode (s)", "save_s"),
    ("frames stamped (s)", "stamped_s"),
    ("real episode time (s)", "real_s"),
    ("CPU user+sys (s)", "cpu_s"),
    ("wall (s)", "wall_s"),
    ("peak RSS (MB)", "peak_rss_mb"),
]


def table(res: dict) -> str:
    lines = [f"{'':26} {'ours (h264, streaming)':>26} {'stock (libsvtav1, PNG)':>26}"]
    for label, key in ROWS:
        o, s = res["ours"][key], res["stock"][key]
        lines.append(f"{label:26} {json.dumps(o):>26} {json.dumps(s):>26}")
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="make bench-record", description=__doc__.splitlines()[0])
    p.add_argument("--episodes", type=int, default=2)
    p.add_argument("--seconds", type=float, default=5.0, help="seconds per episode")
    p.add_argument("--reset", type=float, default=1.0, help="reset seconds between episodes")
    p.add_argument("--fps", type=int, default=30)
    p.add_argument("--work", type=Path, default=None, help="work folder (default: a temp dir)")
    p.add_argument("--out", type=Path, default=None, help="JSON (default: WORK/bench-record.json)")
    p.add_argument("--keep", action="store_true", help="keep the work folder")
    return p


def main(argv: list[str] | None = None) -> int:
    a = parser().parse_args(argv)
    for knob, v, lo in (("--episodes", a.episodes, 1), ("--seconds", a.seconds, 0.5),
                        ("--fps", a.fps, 1)):  # fmt: skip
        if v < lo:
            print(f"bench-record: error: {knob}={v}: must be >= {lo}", file=sys.stderr)
            return 2
    work = (a.work or Path(tempfile.mkdtemp(prefix="bench-record-"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    for d in ("ours", "stock"):
        shutil.rmtree(work / d, ignore_errors=True)
    env = dict(os.environ, PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1",
               HF_LEROBOT_CALIBRATION=str(work / "calibration"))  # fmt: skip
    print(f"bench-record: simulators and a 640x480 replay source in {work} ...", flush=True)
    bed, procs = start_bed(work, env, a.fps)
    from scripts.record.sim import stop

    try:
        print("bench-record: ours (python -m scripts.record) ...", flush=True)
        res = {"ours": ours(a, bed, work, env)}
        print("bench-record: stock lerobot-record ...", flush=True)
        res["stock"] = stock(a, bed, work, env)
    finally:
        for p in reversed(procs):
            stop(p)
    res["setup"] = {"episodes": a.episodes, "episode_s": a.seconds, "reset_s": a.reset,
                    "fps": a.fps, "cameras": "2 x 640x480 replay", "cpus": os.cpu_count(),
                    "loadavg_1m": round(os.getloadavg()[0], 2)}  # fmt: skip
    out = a.out or work / "bench-record.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(res, indent=2) + "\n")
    tmp.replace(out)
    print(table(res))
    print(f"bench-record: load average {res['setup']['loadavg_1m']} on {os.cpu_count()} cores; "
          f"JSON {out}", flush=True)  # fmt: skip
    if not a.keep and a.work is None and a.out is not None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
