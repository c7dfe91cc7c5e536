"""A rollout session's report: per-checkpoint success rates, the A/B test, timing (scripts/report).

Built from the dataset's journal (``scripts.session.journal``: one committed line per saved
episode, its ``extra`` = the ``rollout/...`` columns of its ``meta/episodes`` row), so a
session that was killed reports exactly the episodes on disk and a resumed one all of them.
Schema: ``validators/schemas/rollout_report.schema.json``. The PNG: success rate per
checkpoint with its 95 % Wilson interval, and every episode's duration coloured by label.

Stalls and server RTT are the control loop's (``rollout/stalls``, ``rollout/rtt_ms_p50``):
``null`` where the episode did not measure them, never a made-up zero.
"""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

from scripts.report import jsonfile, png, table
from scripts.rollout import stats

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "validators" / "schemas" / "rollout_report.schema.json"
COLOURS = {"success": "#228833", "failure": "#cc3311", "partial": "#ccbb44", "aborted": "#bbbbbb"}


def _episode(rec: dict) -> dict:
    x, t = rec.get("extra") or {}, rec.get("timing") or {}
    return {
        "episode_index": rec["episode_index"],
        "number": x.get("rollout/number"),
        "checkpoint": x.get("rollout/policy_id", "?"),
        "label": x.get("rollout/label", "aborted"),
        "reason": x.get("rollout/reason", "") or ("unlabelled" if "rollout/label" not in x else ""),
        "labelled_by": x.get("rollout/labelled_by", ""),
        "frames": rec.get("length", 0),
        "duration_s": x.get("rollout/duration_s", 0.0),
        "rate_hz": t.get("rate_hz", 0.0),
        "missed_ticks": t.get("missed_ticks", 0),
        "stalls": x.get("rollout/stalls"),
        "rtt_ms_p50": x.get("rollout/rtt_ms_p50"),
    }


def build(records: list[dict], session: dict) -> dict:
    """The report object from journal records (``journal.read``) and the session's numbers."""
    episodes = [_episode(r) for r in records]
    rates = stats.rates(episodes)
    per = [
        {"checkpoint": r.checkpoint, "success": r.success, "failure": r.failure,
         "partial": r.partial, "aborted": r.aborted, "attempts": r.attempts, "rate": r.rate,
         "ci95": list(r.ci95)}
        for r in rates
    ]  # fmt: skip
    comparisons = [stats.compare(a, b) for a, b in combinations(rates, 2)]
    rtts = [e["rtt_ms_p50"] for e in episodes if e["rtt_ms_p50"] is not None]
    stalls = [e["stalls"] for e in episodes if e["stalls"] is not None]
    loop = {
        "rate_hz_mean": round(sum(e["rate_hz"] for e in episodes) / len(episodes), 3)
        if episodes
        else None,
        "missed_ticks": sum(e["missed_ticks"] for e in episodes),
        "stalls": sum(stalls) if stalls else None,
        "server_rtt_ms_p50_median": sorted(rtts)[len(rtts) // 2] if rtts else None,
    }
    aborted = [{"episode_index": e["episode_index"], "reason": e["reason"] or "aborted"}
               for e in episodes if e["label"] == "aborted"]  # fmt: skip
    return {"checkpoints": per, "comparisons": comparisons, "episodes": episodes,
            "aborted": aborted, "loop": loop, "session": session}  # fmt: skip


def write(report: dict, out_json: Path, out_png: Path) -> str:
    """Write the JSON and the PNG; returns the table for the terminal."""
    jsonfile.write_json(out_json, report, SCHEMA)
    plt = png.pyplot()
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    per = report["checkpoints"]
    names = [Path(c["checkpoint"]).name or c["checkpoint"] for c in per]
    rate = [c["rate"] or 0.0 for c in per]
    err = [[r - c["ci95"][0] for r, c in zip(rate, per, strict=True)],
           [c["ci95"][1] - r for r, c in zip(rate, per, strict=True)]]  # fmt: skip
    a.bar(range(len(per)), rate, yerr=err, capsize=6, color="#4477aa")
    a.set_xticks(range(len(per)), names)
    a.set_ylim(0, 1)
    a.set_ylabel("success rate (95 % Wilson interval)")
    a.set_title(report["comparisons"][0]["verdict"] if report["comparisons"] else "one checkpoint")
    eps = report["episodes"]
    b.bar([e["episode_index"] for e in eps], [e["duration_s"] for e in eps],
          color=[COLOURS.get(e["label"], "#000000") for e in eps])  # fmt: skip
    b.set_xlabel("episode (session order)")
    b.set_ylabel("duration (s)")
    b.set_title("green success, red failure, yellow partial, grey aborted")
    fig.tight_layout()
    png.save_figure(fig, out_png)
    rows = [
        [c["checkpoint"], c["success"], c["failure"], c["partial"], c["aborted"],
         "-" if c["rate"] is None else f"{c['rate']:.2f}",
         f"{c['ci95'][0]:.2f}..{c['ci95'][1]:.2f}"]
        for c in per
    ]  # fmt: skip
    text = table.render(["checkpoint", "s", "f", "p", "aborted", "rate", "95 % CI"], rows)
    for c in report["comparisons"]:
        text += f"\n{c['a']} vs {c['b']}: Fisher exact: {c['verdict']}"
    key = report["session"].get("stop_key")
    if key and key.get("actions_after_poll_before_key"):
        text += (
            f"\nstop key ({key['phase']}): {key['actions_after_key']} goal writes after it "
            f"was read; the last at most {key['latency_ms_max']:.1f} ms "
            f"({key['latency_ticks_max']:.2f} ticks of {key['tick_ms']:g} ms) after the press"
        )
    elif key:
        text += (f"\nstop key ({key['phase']}): no goal write after the press "
                 f"(latency_ms_max {key['latency_ms_max']})")  # fmt: skip
    return text
