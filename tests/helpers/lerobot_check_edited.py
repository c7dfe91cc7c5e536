"""Load an edited dataset with the pinned LeRobot and compare every item with its source's.

Runs in envs/act. The JSON argument maps each output episode to (source root, source episode,
first kept frame[, step]): output frame i is source frame first + i x step (``OP=fps``).
For every frame LeRobot 0.6.1 returns from DST: every number but the
renumbered ones equals the source item's exactly, ``index``/``episode_index`` are the output
positions, the task text is the source's (or its rename), and every camera frame LeRobot
decodes equals the source frame LeRobot decodes from the source (same pixels, so a stream copy
shifted nothing), and ``timestamp`` is frame_index / the output's fps. Prints {"frames": N,
"episodes": E, "pixel_error": worst mean |a - b|}; exits 1 on the first mismatch.

Usage: envs/act/.venv/bin/python tests/helpers/lerobot_check_edited.py DST MAP.json [DST MAP]...
MAP.json: {"episodes": [[src, episode, start], ...], "renames": {"old": "new"},
"pixels": true}; ``pixels`` false skips the camera comparison, a number is the largest mean
absolute difference (pixels in [0, 1]) allowed per frame (a re-encoded output: close, not equal).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from lerobot.datasets.lerobot_dataset import LeRobotDataset

RENUMBERED = {"index", "episode_index", "task_index", "frame_index", "timestamp"}


def main(dst: Path, mapping: dict) -> int:
    ds = LeRobotDataset(repo_id="local/edited", root=dst)
    sources: dict[str, LeRobotDataset] = {}
    renames = mapping.get("renames", {})
    pixels = mapping.get("pixels", True)
    worst = 0.0
    n = 0
    for out_ep, (src, ep, start, *rest) in enumerate(mapping["episodes"]):
        step = rest[0] if rest else 1
        if src not in sources:
            sources[src] = LeRobotDataset(repo_id="local/src", root=src)
        sd = sources[src]
        s_from = int(sd.meta.episodes[ep]["dataset_from_index"]) + start
        d_from = int(ds.meta.episodes[out_ep]["dataset_from_index"])
        length = int(ds.meta.episodes[out_ep]["length"])
        for i in range(length):
            a, b = ds[d_from + i], sd[s_from + i * step]
            if int(a["episode_index"]) != out_ep or int(a["index"]) != d_from + i:
                return fail(f"{dst}: item {d_from + i}: episode/index not renumbered")
            if int(a["frame_index"]) != i:
                return fail(f"{dst}: item {d_from + i}: frame_index {int(a['frame_index'])}")
            if abs(float(a["timestamp"]) - i / ds.fps) > 1e-4:
                return fail(f"{dst}: item {d_from + i}: timestamp {float(a['timestamp'])}")
            if a["task"] != renames.get(b["task"], b["task"]):
                return fail(f"{dst}: item {d_from + i}: task {a['task']!r} vs {b['task']!r}")
            for key, value in b.items():
                if key in RENUMBERED or key == "task" or key not in a:
                    continue
                if key in ds.meta.video_keys and pixels is not True:
                    if pixels is not False:
                        err = float((a[key].double() - value.double()).abs().mean())
                        worst = max(worst, err)
                        if err > pixels:
                            return fail(f"{dst}: episode {out_ep} frame {i}: {key} off {err}")
                    continue
                if isinstance(value, torch.Tensor) and not torch.equal(a[key], value):
                    return fail(f"{dst}: episode {out_ep} frame {i}: {key} differs from source")
            n += 1
    if n != len(ds):
        return fail(f"{dst}: checked {n} items of {len(ds)}")
    seen = {"dst": str(dst), "frames": n, "episodes": ds.meta.total_episodes, "fps": ds.fps}
    print(json.dumps(seen | {"pixel_error": worst}))
    return 0


def fail(msg: str) -> int:
    print(f"MISMATCH: {msg}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    args = sys.argv[1:]
    for dst_arg, map_arg in zip(args[::2], args[1::2], strict=True):
        if main(Path(dst_arg), json.loads(Path(map_arg).read_text())):
            sys.exit(1)
