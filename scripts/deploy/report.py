"""The end-of-run report of ``make robot``: JSON numbers and a PNG, from ``Metrics``.

What is measured, all on the client's clock (so no clock sync between machines is needed):
- control rate: actions performed per second between the first and the last, vs target fps;
- round trip: observation timestamp (taken when the robot was read) -> its chunk received;
- stalls: control ticks that found the action queue empty after the first action (count,
  total time), and chunks that arrived after the queue had run dry ("late");
- cold start: client process start -> first action performed;
- following: at each observation, every joint's present position against the goal last sent
  to it (``<joint>.pos`` keys in both; the policy's units), so a report shows the motors went
  where the policy asked (one control period of motion lag included);
- for the replay robot: the plugin's error between received and recorded actions per joint.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class Metrics:
    """Filled by the client's hooks (two threads), read once at the end."""

    t_process: float  # time.monotonic() when the process started its work
    lock: threading.Lock = field(default_factory=threading.Lock)
    rtt_s: list[float] = field(default_factory=list)  # per chunk
    chunk_times: list[float] = field(default_factory=list)  # monotonic, per chunk
    late_chunks: list[float] = field(default_factory=list)  # seconds the queue had been dry
    action_times: list[float] = field(default_factory=list)  # monotonic, per action performed
    queue_sizes: list[tuple[float, int]] = field(default_factory=list)
    stall_count: int = 0
    stall_s: float = 0.0
    dry_since: float | None = None  # monotonic time the queue ran dry (after first action)
    handshake_ms: float | None = None
    last_warning: float = 0.0
    follow_names: list[str] = field(default_factory=list)  # joints compared, fixed at first
    follow: list[tuple[float, list[float], list[float]]] = field(default_factory=list)

    def followed(self, goal: dict[str, Any], present: dict[str, Any]) -> None:
        """An observation after a goal: (time, goal, present) for the joints in both."""
        names = self.follow_names or sorted(k for k in goal if k.endswith(".pos") and k in present)
        if not names or not all(k in goal and k in present for k in names):
            return
        row = (
            time.monotonic(),
            [float(goal[k]) for k in names],
            [float(present[k]) for k in names],
        )
        with self.lock:
            self.follow_names = names
            self.follow.append(row)

    def chunk(self, rtt: float, queue_was_empty: bool) -> float | None:
        """Record a chunk; returns how long the queue had been dry if it arrived late."""
        now = time.monotonic()
        with self.lock:
            self.rtt_s.append(rtt)
            self.chunk_times.append(now)
            if queue_was_empty and self.dry_since is not None:
                late = now - self.dry_since
                self.late_chunks.append(late)
                return late
        return None

    def tick(self, available: bool) -> None:
        """A control tick: was there an action to perform?"""
        now = time.monotonic()
        with self.lock:
            if available or not self.action_times:
                return
            if self.dry_since is None:
                self.dry_since = now
                self.stall_count += 1

    def action(self, queue_size: int) -> None:
        now = time.monotonic()
        with self.lock:
            if self.dry_since is not None:
                self.stall_s += now - self.dry_since
                self.dry_since = None
            self.action_times.append(now)
            self.queue_sizes.append((now, queue_size))


def following(m: Metrics) -> dict[str, Any] | None:
    """|goal - present| over every joint and observation, and the joint that lagged most."""
    if not m.follow:
        return None
    goal = np.array([g for _, g, _ in m.follow])
    present = np.array([p for _, _, p in m.follow])
    err = np.abs(goal - present)
    worst = int(np.argmax(err.max(axis=0)))
    out = pct(err.ravel().tolist(), scale=1.0, digits=3) or {}
    return {
        **out,
        "worst_joint": m.follow_names[worst],
        "units": "the action's own (LeRobot's normalised joint positions)",
    }


def pct(values: list[float], scale: float = 1000.0, digits: int = 1) -> dict[str, float] | None:
    if not values:
        return None
    a = np.asarray(values) * scale
    return {
        "n": len(values),
        "p50": round(float(np.percentile(a, 50)), digits),
        "p95": round(float(np.percentile(a, 95)), digits),
        "p99": round(float(np.percentile(a, 99)), digits),
        "max": round(float(a.max()), digits),
    }


def summarise(m: Metrics, *, fps: float, actions_per_chunk: int, extra: dict[str, Any]) -> dict:
    acts = m.action_times
    if m.dry_since is not None:  # a stall still open when the run stopped
        m.stall_s += time.monotonic() - m.dry_since
        m.dry_since = None
    rate = (len(acts) - 1) / (acts[-1] - acts[0]) if len(acts) > 1 and acts[-1] > acts[0] else 0
    return {
        "target_fps": fps,
        "achieved_hz": round(rate, 2),
        "rate_ratio": round(rate / fps, 3) if fps else None,
        "actions_performed": len(acts),
        "chunks_received": len(m.rtt_s),
        "chunks_late": len(m.late_chunks),
        "late_ms": pct(m.late_chunks),
        "stalls": {"count": m.stall_count, "total_s": round(m.stall_s, 3)},
        "round_trip_ms": pct(m.rtt_s),
        "chunk_duration_ms": round(1000 * actions_per_chunk / fps, 1),
        "handshake_ms": m.handshake_ms,
        "first_action_after_start_s": round(acts[0] - m.t_process, 2) if acts else None,
        "goal_present_error": following(m),
        **extra,
    }


def write(report: dict, m: Metrics, run_dir: Path, replay: dict | None) -> Path:
    """report.json (atomic) and report.png beside it; returns the JSON path."""
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "report.json"
    tmp = path.with_suffix(".json.part")
    tmp.write_text(json.dumps(report, indent=2) + "\n")
    os.replace(tmp, path)
    try:
        plot(m, run_dir / "report.png", replay)
    except Exception as e:  # a missing plot must not hide the numbers
        print(f"robot: warning: report.png not drawn ({type(e).__name__}: {e})")
    return path


def plot(m: Metrics, out: Path, replay: dict | None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = ["rtt", "queue"] + (["follow"] if m.follow else [])
    panels += ["replay"] if replay and replay.get("actions") else []
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 3 * len(panels)))
    ax = axes[0]
    ax.hist(np.asarray(m.rtt_s) * 1000, bins=30)
    ax.set_xlabel("round trip observation -> chunk (ms)")
    ax.set_ylabel("chunks")
    ax = axes[1]
    if m.queue_sizes:
        t0 = m.queue_sizes[0][0]
        ax.plot([t - t0 for t, _ in m.queue_sizes], [q for _, q in m.queue_sizes])
    ax.set_xlabel("time (s)")
    ax.set_ylabel("action queue size")
    if m.follow:
        ax = axes[panels.index("follow")]
        t0 = m.follow[0][0]
        t = [r[0] - t0 for r in m.follow]
        goal = np.array([g for _, g, _ in m.follow])
        present = np.array([p for _, _, p in m.follow])
        moved = np.argsort(np.ptp(goal, axis=0))[::-1][:3]  # the joints that moved most
        for j in moved:
            line = ax.plot(t, goal[:, j], label=f"{m.follow_names[j]} goal")[0]
            ax.plot(t, present[:, j], ".", color=line.get_color(), label="present")
        ax.set_xlabel("time (s)")
        ax.set_ylabel("goal vs present")
        ax.legend(fontsize=6)
    if replay and replay.get("actions"):
        ax = axes[panels.index("replay")]
        acts = replay["actions"]
        got = np.array([a["action"] for a in acts])
        t = [a["t"] for a in acts]
        ref = np.asarray(replay.get("recorded_actions") or [])
        for j in range(min(3, got.shape[1])):
            line = ax.plot(t, got[:, j], label=f"{replay['action_names'][j]} received")[0]
            if len(ref):
                frames = [a["frame"] for a in acts]
                ax.plot(t, ref[frames, j], "--", color=line.get_color(), label="recorded")
        ax.set_xlabel("time (s)")
        ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    plt.close(fig)


def one_line(r: dict) -> str:
    """The run in one line; a run that performed no action says so instead of printing None."""
    if not r.get("actions_performed"):
        return (
            f"no action executed ({r['chunks_received']} chunks received, "
            f"target {r['target_fps']} fps)"
        )
    rtt = r.get("round_trip_ms") or {}
    trip = (
        f"round trip p50 {rtt['p50']} ms p95 {rtt['p95']} ms p99 {rtt['p99']} ms"
        if rtt
        else "round trip not measured"
    )
    return (
        f"{r['achieved_hz']} Hz of {r['target_fps']} target ({100 * (r['rate_ratio'] or 0):.0f}%); "
        f"{trip}; {r['chunks_late']} of {r['chunks_received']} chunks late; "
        f"{r['stalls']['count']} stalls ({r['stalls']['total_s']} s); "
        f"first action {r['first_action_after_start_s']} s after start"
        + (
            f"; goal-present error p95 {f['p95']} max {f['max']} ({f['worst_joint']})"
            if (f := r.get("goal_present_error"))
            else ""
        )
    )
