"""The part of ``make fit`` that runs inside the recipe's environment (torch, LeRobot).

``python -m scripts.fit.run --recipe R --shapes sample|gr2|<dataset dir> [--batch N]
[--largest] [--measure STEPS] [--override key=value ...]`` prints one JSON object on stdout:
the prediction at the recipe's batch (or ``--batch``), and with ``--largest`` the largest batch
that fits the recipe's GPU (two more fake steps: one for the slope, one to confirm). Progress
goes to stderr. :mod:`scripts.fit.__main__` starts this in ``envs/<env>`` and formats the JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import yaml

from scripts.fit import predict
from scripts.fit import shapes as shapes_mod
from scripts.train.recipes import load_recipe


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["chunk_size=10"]`` -> ``{"chunk_size": 10}`` (policy keys, YAML scalars)."""
    out: dict[str, Any] = {}
    for item in items:
        key, _, value = item.partition("=")
        out[key.removeprefix("policy.")] = yaml.safe_load(value)
    return out


def search_largest(
    block: dict[str, Any], policy: str, shapes: Any, gpu_gb: float, first: predict.StepMemory
) -> dict[str, Any]:
    """Largest batch predicted to fit: a secant search on fake steps, bracketed by verdicts.

    Peak memory is nearly affine in the batch (weights and optimizer state fixed, activations
    per sample), so a line through two predictions lands near the answer; each further step
    re-draws the line through the closest fitting and not-fitting batches until they are
    neighbours. Typically 3-5 fake steps.
    """

    def fits(peak: int) -> bool:
        return predict.verdict(peak, gpu_gb) == "fits"

    b0 = first.batch
    tried: dict[int, int] = {b0: first.peak}
    b1 = max(1, b0 // 2) if not fits(first.peak) and b0 > 1 else b0 * 2
    if b1 == b0:
        b1 = b0 + 1
    tried[b1] = predict.measure_step(block, policy, shapes, b1).peak
    for _ in range(8):
        ok = [b for b, p in tried.items() if fits(p)]
        bad = [b for b, p in tried.items() if not fits(p)]
        lo, hi = (max(ok) if ok else None), (min(bad) if bad else None)
        if lo is not None and hi is not None and hi - lo <= 1:
            break
        if lo is None and min(tried) == 1:
            break  # not even one sample fits
        pts = [lo, hi] if lo is not None and hi is not None else sorted(tried)[-2:]
        if lo is None:
            pts = sorted(tried)[:2]
        est, _per = predict.largest_batch({b: tried[b] for b in pts}, gpu_gb)
        lower = (lo or 0) + 1
        upper = hi - 1 if hi is not None else max(est, lower)
        nxt = min(max(est, lower), upper)
        if nxt in tried:
            nxt = lower if lower not in tried else upper
        if nxt in tried or nxt < 1:
            break
        tried[nxt] = predict.measure_step(block, policy, shapes, nxt).peak
    ok = [b for b, p in tried.items() if fits(p)]
    best = max(ok) if ok else 0
    bs = sorted(tried)
    _est, per = predict.largest_batch({bs[0]: tried[bs[0]], bs[-1]: tried[bs[-1]]}, gpu_gb)
    return {
        "largest_batch": best,
        "bytes_per_sample": per,
        "peak_at_largest": tried.get(best),
        "tried": {str(k): v for k, v in sorted(tried.items())},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipe", required=True)
    ap.add_argument("--shapes", default="sample", help="sample, gr2 or a dataset directory")
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--largest", action="store_true", help="also search the largest batch")
    ap.add_argument("--override", action="append", default=[], help="policy key=value")
    ap.add_argument("--measure", type=int, default=0, help="CUDA: run N real steps too")
    args = ap.parse_args(argv)

    if args.measure:
        import torch

        if not torch.cuda.is_available():  # before minutes of prediction, not after
            print("fit: MEASURE=1 needs a CUDA GPU (torch.cuda.is_available() is False); "
                  "run it on the GPU box", file=sys.stderr)  # fmt: skip
            return 3
    recipe = load_recipe(args.recipe)
    shapes = shapes_mod.resolve(args.shapes)
    block = dict(recipe.config["policy"], **parse_overrides(args.override))
    batch = args.batch or int(recipe.config["batch_size"])
    mem = predict.measure_step(block, recipe.policy, shapes, batch)
    out: dict[str, Any] = {
        "recipe": recipe.name,
        "policy": recipe.policy,
        "env": recipe.env,
        "gpu_gb": recipe.gpu_gb,
        "shapes": shapes.as_dict(),
        "shapes_text": shapes.describe(),
        "overrides": args.override,
        "prediction": mem.as_dict(),
        "need_gib": predict.need_gib(mem.peak),
        "verdict": predict.verdict(mem.peak, recipe.gpu_gb) if recipe.gpu_gb else "cpu recipe",
        "constants": {
            "cuda_context_gib": predict.CUDA_CONTEXT_GIB,
            "allocator_margin": predict.ALLOCATOR_MARGIN,
            "fit_fraction": predict.FIT_FRACTION,
        },
    }
    if args.largest and recipe.gpu_gb:
        out.update(search_largest(block, recipe.policy, shapes, recipe.gpu_gb, mem))
    if args.measure:
        from scripts.fit import measure

        out["measured"] = measure.measure_cuda(block, recipe.policy, shapes, batch, args.measure)
        if not args.override:  # a measurement of the recipe as written goes into the recipe
            measure.record(recipe.path, out["measured"], mem.peak, shapes.name)
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
