"""Write a tiny v3.0 rollout dataset with CrashSafeWriter + LabelledSink, reload it with
LeRobot 0.6.1 (run in envs/act from the repo root).

Usage: python rollout_labelled_v30.py OUT LABELS   (LABELS e.g. "A:success,B:failure,...")
Each episode: 5 frames of a 2-joint state/action (no camera, so no encoder time), its
checkpoint and label given through a Labeller whose terminal replays the key. Prints one JSON
line: what LeRobot's own ``meta.episodes`` holds in the ``rollout/`` columns.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from scripts.rollout.labels import NAMES, LabelledSink, Labeller
from scripts.session.writer import CrashSafeWriter

KEYS = {name: key for key, name in NAMES.items()}


class Replayed:
    """A terminal that types one label key when the episode asks (and no reason)."""

    active = True

    def __init__(self) -> None:
        self.next: list = []

    def poll(self) -> list:
        return []

    def wait(self, timeout: float) -> list:
        out, self.next = self.next, []
        return out

    def read_line(self, timeout: float) -> str:
        return ""


def main() -> None:
    root, plan = Path(sys.argv[1]), [p.split(":") for p in sys.argv[2].split(",")]
    names = ["j1.pos", "j2.pos"]
    feats = {
        "observation.state": {"dtype": "float32", "shape": (2,), "names": names},
        "action": {"dtype": "float32", "shape": (2,), "names": names},
    }
    w = CrashSafeWriter.create(root, fps=10, features=feats, robot_type="replay")
    term = Replayed()
    lab = Labeller(term, log=lambda s: None)
    current: dict = {}
    sink = LabelledSink(w, lab, meta=lambda: dict(current))
    for number, (ckpt, label) in enumerate(plan):
        lab.start_episode()
        current.update({"rollout/policy_id": ckpt, "rollout/number": number})
        for i in range(5):
            v = np.array([i + 0.37 * number, -i * (1 + number)], dtype=np.float32)
            sink.add({"observation.state": v, "action": v, "task": "pick"})
        term.next = [KEYS[label]]
        sink.save([0.1] * 5, {"rate_hz": 10.0, "missed_ticks": 0, "ticks": 5})
    w.finish()
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    ds = LeRobotDataset("local/check", root=root)
    eps = ds.meta.episodes
    print(json.dumps({
        "episodes": ds.num_episodes,
        "frames": len(ds),
        "labels": list(eps["rollout/label"]),
        "policy": list(eps["rollout/policy_id"]),
        "duration": [float(x) for x in eps["rollout/duration_s"]],
    }))  # fmt: skip


if __name__ == "__main__":
    main()
