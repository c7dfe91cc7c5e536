"""Read converted datasets with LeRobot 0.4.x (envs/compat04): the users' older v3.0 reader.

Loads each DST, reads the first and last row of every episode plus the middle of the
dataset (index must equal the row, cameras must decode), and one window with
``delta_timestamps`` at the very first row (padding flags must mark the two steps before
the episode). Prints one JSON line per dataset; exits 1 on the first failure.

Usage: envs/compat04/.venv/bin/python tests/helpers/lerobot_check_04x.py DST [DST ...]
"""

from __future__ import annotations

import json
import sys
import warnings

warnings.filterwarnings("ignore")

from lerobot.datasets.lerobot_dataset import LeRobotDataset  # noqa: E402


def check(root: str) -> dict:
    ds = LeRobotDataset("local/converted", root=root, video_backend="pyav")
    n = len(ds)
    rows = {0, n // 2, n - 1}
    for ep in ds.meta.episodes:
        rows |= {int(ep["dataset_from_index"]), int(ep["dataset_to_index"]) - 1}
    cams = ds.meta.camera_keys
    for i in sorted(rows):
        item = ds[i]
        if int(item["index"]) != i:
            raise AssertionError(f"{root}: row {i} has index {int(item['index'])}")
        for cam in cams:
            if item[cam].ndim != 3:
                raise AssertionError(f"{root}: row {i} camera {cam} shape {tuple(item[cam].shape)}")
    fps = ds.fps
    win = LeRobotDataset(
        "local/converted",
        root=root,
        video_backend="pyav",
        delta_timestamps={"action": [k / fps for k in range(-2, 3)]},
    )
    pad = win[0]["action_is_pad"].tolist()
    if pad != [True, True, False, False, False]:
        raise AssertionError(f"{root}: action_is_pad at row 0 is {pad}")
    return {"dst": root, "frames": n, "rows_read": len(rows), "cameras": len(cams)}


def main() -> None:
    for root in sys.argv[1:]:
        try:
            print(json.dumps(check(root)), flush=True)
        except Exception as exc:  # one line naming the dataset, then stop
            print(f"FAILED {root}: {exc!r}", file=sys.stderr)
            sys.exit(1)


if __name__ == "__main__":
    main()
