"""Load recordings with LeRobot 0.6.1 (run in envs/act) and say what it sees.

Usage: python record_load.py DATASET...
Prints one JSON line {dataset: {"episodes", "frames", "lengths", "index_ok", "first_image"}
or {"error": "..."}}: episode lengths from LeRobot's own reader, whether the global frame
index runs 0..N-1 in order, and the shape of one decoded camera frame of the last episode.
"""

from __future__ import annotations

import json
import sys
from collections import Counter


def check(root: str) -> dict:
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    try:
        ds = LeRobotDataset("local/check", root=root)
        eps = [int(e) for e in ds.hf_dataset["episode_index"]]
        index = [int(i) for i in ds.hf_dataset["index"]]
        item = ds[len(ds) - 1]
        cam = next(k for k in item if k.startswith("observation.images."))
        counts = Counter(eps)
        return {
            "episodes": ds.num_episodes,
            "frames": len(ds),
            "lengths": [counts[e] for e in sorted(counts)],
            "episode_ids": sorted(counts),
            "index_ok": index == list(range(len(index))),
            "first_image": list(item[cam].shape),
        }
    except Exception as e:  # the test prints it
        return {"error": f"{type(e).__name__}: {e}"}


def main() -> None:
    print(json.dumps({root: check(root) for root in sys.argv[1:]}))


if __name__ == "__main__":
    main()
