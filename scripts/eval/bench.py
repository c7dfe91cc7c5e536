"""``make bench-eval``: frames/s of make eval's batched path vs a naive per-frame loop.

Both in one process, on the same frames and checkpoint, side by side:

- ours: ``FrameSource`` windows (one video decode per camera per batch) and
  ``predict_action_chunk`` on BATCH frames;
- naive: ``LeRobotDataset[i]`` then ``policy.reset()`` + ``select_action`` for every frame
  (reset, so each frame gets a fresh prediction: what a per-frame offline loop must do).

Each part is warmed up once untimed (oneDNN builds its kernels on the first call of each
shape; timing that would count set-up against whichever part runs first), then the two parts
alternate ``--repeat`` times and the median ratio is reported with every pair, so a burst of
load from another job shows up as a spread rather than a verdict.
Peak RSS (ru_maxrss) is printed after each part of the first pair (it only grows, so the
naive part runs first). Never gates CI: a shared box changes the numbers; the ratio is the
point. Ours is ``make eval``'s path exactly: the same loaded (folded) policy, the same
``predict``; the naive loop uses the policy as LeRobot loads it, unfolded.

Why a "work" section: the ratio has a ceiling set by the device, not by the code. Both parts
do the same arithmetic per frame (counted by ``torch.utils.flop_counter`` on one batch), so
dividing it by the device's float32 matmul rate, measured in the same run before and after
the pairs, gives the frames/s a perfect implementation could reach and so the largest ratio
this device allows. The counts are nominal (a convolution's padding taps included), so a
kernel that skips padding can show a little above 100 % of the matmul rate.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

import torch


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def work_per_frame(loaded, obs: dict, frames: int) -> tuple[float, float]:
    """(convolution, other) FLOPs of one frame's ``predict_action_chunk``, as torch counts them."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        loaded.policy.predict_action_chunk(loaded.pre(dict(obs)))
    counts = counter.get_flop_counts().get("Global", {})
    conv = sum(n for op, n in counts.items() if "convolution" in str(op))
    return conv / frames, (counter.get_total_flops() - conv) / frames


def matmul_rate(device: str, size: int = 2048, reps: int = 8) -> float:
    """FLOP/s of a float32 ``size``-square matmul on ``device``: the compute ceiling."""
    a, b = (torch.randn(size, size, device=device) for _ in range(2))

    def sync() -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    for _ in range(2):
        a @ b
    sync()
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    sync()
    return 2 * size**3 * reps / (time.perf_counter() - t0)


def print_ceiling(conv: float, other: float, rate: float, naive_fps: float, our_fps: float) -> None:
    """Where the two parts stand against the device's compute ceiling (module docstring)."""
    work = conv + other
    best_fps = rate / work
    print(f"work: {work / 1e6:.1f} MFLOP a frame (convolutions {conv / 1e6:.1f}, "
          f"other {other / 1e6:.1f}; torch.utils.flop_counter)")  # fmt: skip
    print(f"float32 matmul rate of this device, measured in this run: {rate / 1e9:.1f} GFLOP/s")
    for name, fps in (("naive", naive_fps), ("make eval", our_fps)):
        print(f"{name}: {fps * work / 1e9:.0f} GFLOP/s, {100 * fps / best_fps:.0f} % of that rate")
    print(f"ceiling: at that rate make eval would run {best_fps:.0f} frames/s, "
          f"{best_fps / naive_fps:.1f}x this run's naive loop")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    from scripts.eval import cli
    from scripts.eval.frames import (
        FrameSource,
        load_policy,
        obs_steps,
        pick_device,
        predict,
        video_backend,
    )
    from scripts.eval.plan import make_plan

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--dataset", required=True, type=Path)
    p.add_argument("--episodes", default="all")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--device", default=None)
    p.add_argument("--repeat", type=int, default=3)
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
    stock = load_policy(ck, device, fold=False).policy  # as LeRobot runs it

    @torch.no_grad()
    def naive(frames: range) -> None:
        for i in frames:
            item = ds[i]
            obs = {k: item[k].unsqueeze(0) for k in loaded.input_keys}
            obs["task"] = [item["task"]]
            stock.reset()
            loaded.post(stock.select_action(loaded.pre(obs)))

    naive(range(1))  # warm-up, untimed
    predict(loaded, source, args.batch, [0])
    frames = min(n, args.batch)
    first = source.batch(0, frames, loaded.input_keys, obs_steps(loaded))
    conv, other = work_per_frame(loaded, first, frames)
    rates = [matmul_rate(device)]
    print(f"{'':28}{'frames/s':>10}{'seconds':>10}{'peak RSS MB':>13}")
    ratios, naive_times, our_times = [], [], []
    for rep in range(max(1, args.repeat)):
        t0 = time.perf_counter()
        naive(range(n))
        naive_s = time.perf_counter() - t0
        naive_rss = rss_mb()
        t0 = time.perf_counter()
        predict(loaded, source, args.batch, [0])
        ours_s = time.perf_counter() - t0
        rss = f"{naive_rss:13.0f}" if rep == 0 else ""
        print(f"{'naive select_action loop':28}{n / naive_s:10.1f}{naive_s:10.2f}{rss}")
        rss = f"{rss_mb():13.0f}" if rep == 0 else ""
        print(f"{f'make eval (batch {args.batch})':28}{n / ours_s:10.1f}{ours_s:10.2f}{rss}")
        ratios.append(naive_s / ours_s)
        naive_times.append(naive_s)
        our_times.append(ours_s)
    rates.append(matmul_rate(device))
    pairs = ", ".join(f"{r:.1f}x" for r in ratios)
    print(
        f"ratio: {statistics.median(ratios):.1f}x median of {len(ratios)} ({pairs}); "
        "goal >= 5x on CPU for ACT"
    )
    print_ceiling(conv, other, max(rates), statistics.median(n / t for t in naive_times),
                  statistics.median(n / t for t in our_times))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
