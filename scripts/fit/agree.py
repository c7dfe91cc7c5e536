"""Real tensors vs fake tensors: the same step on CPU, counted by the same tracker.

Why: the prediction is only as good as fake mode's storage sizes, dtypes and lifetimes. On CPU
both can run, so a small model at batch 2 is stepped twice - once on real tensors (values,
allocations and frees happen) and once on fake ones - and the peaks of every phase must agree
byte for byte (raw bytes, no CUDA rounding). Used by tests/fit/test_fit_*.py.

Usage (in the recipe's env): python -m scripts.fit.agree --recipe act_cpu [--batch 2]
       [--override key=value ...]    prints {"fake": {...}, "real": {...}} as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys

from scripts.fit import predict
from scripts.fit import shapes as shapes_mod
from scripts.fit.run import parse_overrides
from scripts.train.recipes import load_recipe


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipe", required=True)
    ap.add_argument("--shapes", default="sample")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--override", action="append", default=[])
    args = ap.parse_args(argv)
    r = load_recipe(args.recipe)
    sh = shapes_mod.resolve(args.shapes)
    ov = parse_overrides(args.override)
    out = {}
    for kind in ("fake", "real"):
        m = predict.measure_step(
            r.config["policy"], r.policy, sh, args.batch,
            fake=kind == "fake", round_to=1, policy_overrides=ov,
        )  # fmt: skip
        out[kind] = m.as_dict()
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
