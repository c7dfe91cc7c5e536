"""``make bench-eval``: frames/s of make eval's batched path vs a naive per-frame loop.

Both in one process, on the same frames and checkpoint, side by side:

- ours: ``FrameSource`` windows (one video decode per camera per batch) and
  ``predict_action_chunk`` on BATCH frames;
- naive: ``LeRobotDataset[i]`` then ``policy.reset()`` + ``select_action`` for every frame
  (reset, so each frame gets a fresh prediction: what a per-frame offline loop must do).

Peak RSS (ru_maxrss) is printed after each part (it only grows, so the naive part runs first).
Never gates CI: a shared box changes the numbers; the ratio is the point.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import torch


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    from scripts.eval import cli
    from scripts.eval.frames import FrameSource, load_policy, pick_device, predict, video_backend
    from scripts.eval.plan import make_plan

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--dataset", required=True, type=Path)
    p.add_argument("--episodes", default="all")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--device", default=None)
    args = p.parse_args(argv)
    try:
        plan = make_plan(args.checkpoint, args.dataset, args.episodes)
    except cli.EXPECTED as e:
        return cli.fail(str(e))
    ck = plan.checkpoints[0]
    device = pick_device(args.device)
    backend = video_backend()
    loaded = load_policy(ck, device)
    source = FrameSource(plan.dataset, plan.episodes, backend)
    n = len(source)
    print(f"[bench-eval] {ck.given} ({ck.policy_type}) on {n} frames, device {device}, "
          f"video {backend}, torch threads {torch.get_num_threads()}")  # fmt: skip

    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    ds = LeRobotDataset(f"local/{plan.dataset.name}", root=plan.dataset, episodes=plan.episodes,
                        video_backend=backend)  # fmt: skip
    t0 = time.perf_counter()
    with torch.no_grad():
        for i in range(n):
            item = ds[i]
            obs = {k: item[k].unsqueeze(0) for k in loaded.input_keys}
            obs["task"] = [item["task"]]
            loaded.policy.reset()
            loaded.post(loaded.policy.select_action(loaded.pre(obs)))
    naive_s = time.perf_counter() - t0
    naive_rss = rss_mb()
    t0 = time.perf_counter()
    predict(loaded, source, args.batch, [0])
    ours_s = time.perf_counter() - t0
    ours_rss = rss_mb()
    print(f"{'':28}{'frames/s':>10}{'seconds':>10}{'peak RSS MB':>13}")
    print(f"{'naive select_action loop':28}{n / naive_s:10.1f}{naive_s:10.2f}{naive_rss:13.0f}")
    print(f"{f'make eval (batch {args.batch})':28}{n / ours_s:10.1f}{ours_s:10.2f}{ours_rss:13.0f}")
    print(f"ratio: {naive_s / ours_s:.1f}x (goal >= 5x on CPU for ACT)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
