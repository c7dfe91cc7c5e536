"""The scripted operator: labels replay / simulator episodes by a rule (tests and dry runs).

On ROBOT=sim (``sim_distance``) the final pose is the follower's last read position, and the
reference is REPLAY's recorded action at the frame its replayed cameras showed then.

Rule (issue 25 item 5): success when the follower ends within ``TOLERANCE`` of the recorded
pose. On the replay robot the follower is exactly where it was told to go, so its final pose is
the last executed action; the recorded pose is the source episode's action at the frame that
action landed on (``ReplayRobot.summary``). The distance is the mean over joints of
``|executed - recorded| / std`` with the source dataset's per-joint action std (its
``meta/stats.json``): unit-free, so one tolerance fits joints in degrees and a gripper in %.
``score`` (that distance) is stored with the episode (``rollout/score``).

Stop and next keys still work (a terminal's q stops the session); label keys are not read.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scripts.session.keys import LABEL_KEYS, Key


def source_std(dataset: str) -> list[float]:
    stats = json.loads((Path(dataset) / "meta" / "stats.json").read_text())
    return [max(float(s), 1e-6) for s in stats["action"]["std"]]


def replay_distance(robot: Any, std: list[float]) -> float | None:
    """Mean |last executed - recorded| / std over joints; None when nothing was executed."""
    rec = robot.summary()
    if not rec.get("actions") or not rec.get("recorded_actions"):
        return None
    last = rec["actions"][-1]
    ref = rec["recorded_actions"][last["frame"]]
    d = [abs(a - r) / s for a, r, s in zip(last["action"], ref, std, strict=True)]
    return sum(d) / len(d)


def source_actions(dataset: str) -> dict[int, list[list[float]]]:
    """Every recorded action of ``dataset``, per episode, in frame order (its parquet files)."""
    import pyarrow.parquet as pq

    out: dict[int, list[tuple[int, list[float]]]] = {}
    for f in sorted((Path(dataset) / "data").rglob("*.parquet")):
        t = pq.read_table(f, columns=["episode_index", "frame_index", "action"]).to_pydict()
        for e, i, a in zip(t["episode_index"], t["frame_index"], t["action"], strict=True):
            out.setdefault(int(e), []).append((int(i), [float(x) for x in a]))
    return {e: [a for _, a in sorted(rows)] for e, rows in out.items()}


def sim_distance(rollout: Any, actions: dict[int, list[list[float]]], std: list[float],
                 fps: float) -> float | None:  # fmt: skip
    """Mean |follower's last read position - recorded action| / std over joints (ROBOT=sim).

    The follower is where the simulated servos got to (lag, the motion cap), read by the last
    observation; the recorded action is the one of the frame the replayed cameras showed then
    (they start with the episode's first observation and hold the last frame).
    """
    obs, ref_ep = rollout.last_obs, actions.get(rollout.source_episode)
    names = list(rollout.client.robot.action_features)
    if not obs or not ref_ep or not rollout.action_times:
        return None
    frame = min(int((rollout.last_obs_t - rollout.cameras_t0) * fps), len(ref_ep) - 1)
    ref = ref_ep[frame]
    d = [abs(float(obs[n]) - r) / s for n, r, s in zip(names, ref, std, strict=True)]
    return sum(d) / len(d)


class ScriptedOperator:
    """``Labeller``'s interface, labels by the distance (replay or sim) <= ``tolerance``."""

    def __init__(self, terminal: Any, rollout: Any, tolerance: float,
                 log: Callable[[str], None]) -> None:  # fmt: skip
        self.terminal, self.rollout, self.tolerance, self.log = terminal, rollout, tolerance, log
        robot = rollout.client.robot
        self.sim = rollout.plan.get("robot") == "sim"
        if getattr(robot, "name", "") != "replay" and not self.sim:
            raise ValueError("OPERATOR=scripted: only replay and sim have a recorded pose here")
        dataset = rollout.plan["replay"] if self.sim else robot.config.dataset
        self.std = source_std(dataset)
        self.actions = source_actions(dataset) if self.sim else {}
        self.phase = "episode"
        self.label: str | None = None
        self.reason = ""
        self.labelled_by = ""
        self.score: float | None = None

    def start_episode(self) -> None:
        self.label, self.reason, self.labelled_by, self.phase = None, "", "", "episode"

    def __call__(self) -> list[Key]:
        keys = self.terminal.poll() if getattr(self.terminal, "active", False) else []
        return [k for k in keys if k not in LABEL_KEYS]

    def ask(self, timeout: float | None = None) -> str:
        if self.sim:
            d = sim_distance(self.rollout, self.actions, self.std, self.rollout.fps)
        else:
            d = replay_distance(self.rollout.client.robot, self.std)
        self.score = d
        self.rollout.score = d
        if d is None:
            self.label, self.reason = "aborted", "no-action"
        else:
            self.label = "success" if d <= self.tolerance else "failure"
        self.labelled_by = "scripted"
        self.log(f"scripted: distance {d if d is None else round(d, 3)} "
                 f"(tolerance {self.tolerance:g}): {self.label}")  # fmt: skip
        return self.label
