"""A session's report: JSON (schema-checked, atomic), PNG and a terminal table (scripts/report).

The JSON holds one entry per episode of the dataset's journal (so a resumed recording reports
all its episodes, each with the loop timing it was recorded with) and the session's own
numbers; schema: ``validators/schemas/record_report.schema.json``. The PNG: the histogram of
every tick's real period (with 1/FPS marked) and the frames per episode (slow ones in red).
"""

from __future__ import annotations

from pathlib import Path

from scripts.report import jsonfile, png, table
from scripts.session import journal
from scripts.session.clock import SLOW_FRACTION

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "validators" / "schemas" / "record_report.schema.json"


def build(root: Path, fps: int, session: dict) -> dict:
    """The report object for the recording at ``root``."""
    episodes = []
    for rec in journal.read(root):
        t = rec.get("timing", {})
        episodes.append(
            {
                "episode_index": rec["episode_index"],
                "frames": rec["length"],
                "rate_hz": t.get("rate_hz", 0.0),
                "period_ms_p99": t.get("period_ms_p99", 0.0),
                "period_ms_max": t.get("period_ms_max", 0.0),
                "missed_ticks": t.get("missed_ticks", 0),
                "slow": bool(t.get("slow")),
                "save_s": rec.get("save_s", 0.0),
            }
        )
    return {
        "dataset": str(root),
        "fps": fps,
        "slow_below_hz": round(SLOW_FRACTION * fps, 3),
        "episodes": episodes,
        "slow_episodes": [e["episode_index"] for e in episodes if e["slow"]],
        "session": session,
    }


def write(root: Path, report: dict, out_json: Path, out_png: Path) -> str:
    """Write the JSON and the PNG; returns the table for the terminal."""
    jsonfile.write_json(out_json, report, SCHEMA)
    plt = png.pyplot()
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    periods = [
        1e3 * p for e in report["episodes"] for p in journal.read_ticks(root, e["episode_index"])
    ]
    if periods:
        a.hist(periods, bins=60, color="#4477aa")
    a.axvline(
        1e3 / report["fps"],
        color="k",
        linestyle="--",
        label=f"1/FPS = {1e3 / report['fps']:.1f} ms",
    )
    a.set_xlabel("real loop period (ms)")
    a.set_ylabel("ticks")
    a.set_yscale("log")
    a.legend()
    a.set_title("every tick of every episode")
    idx = [e["episode_index"] for e in report["episodes"]]
    colors = ["#cc3311" if e["slow"] else "#4477aa" for e in report["episodes"]]
    b.bar(idx, [e["frames"] for e in report["episodes"]], color=colors)
    b.set_xlabel("episode")
    b.set_ylabel("frames")
    b.set_title("frames per episode (red: below 95 % of FPS)")
    fig.tight_layout()
    png.save_figure(fig, out_png)
    rows = [
        [str(e["episode_index"]), str(e["frames"]), f"{e['rate_hz']:.2f}",
         f"{e['period_ms_p99']:.1f}", str(e["missed_ticks"]), f"{e['save_s']:.2f}",
         "SLOW" if e["slow"] else "ok"]
        for e in report["episodes"]
    ]  # fmt: skip
    headers = ["episode", "frames", "Hz", "p99 ms", "missed", "save s", "rate"]
    return table.render(headers, rows)
