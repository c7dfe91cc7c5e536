"""``make fit`` / ``make fit-all``: predict recipes' peak GPU memory (launcher, tools env).

Usage:
  python -m scripts.fit RECIPE [--dataset sample|gr2|DIR] [--batch N] [--json] [--measure]
  python -m scripts.fit --all [--dataset sample,gr2] [--readme]

Why a launcher: the prediction needs torch and LeRobot, which live in the recipe's environment
(``envs/act`` or ``envs/smolvla``, ``ops.env``), exactly as ``make train`` runs lerobot-train
there. This process stays light, starts ``python -m scripts.fit.run`` in that env, and formats
the JSON it prints. Exit: 0 all predicted to fit, 1 something does not fit, 2 usage, 4 env.

The knobs (RECIPE, BATCH, DATASET, the recipes' ``ops.gpu_gb``) are checked here first, in a
second and in one line each; only then is the environment the recipes need built (``make fit``
depends on the tools env only: building act and smolvla before a typo was reported took minutes).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from scripts.fit import report
from scripts.fit import shapes as shapes_mod
from scripts.train.recipes import REPO, RecipeError, list_recipes, load_recipe


def env_python(env: str) -> Path:
    """envs/<env>/.venv/bin/python (``ENVS_DIR`` relocates envs/, as for make train)."""
    return Path(os.environ.get("ENVS_DIR") or REPO / "envs") / env / ".venv" / "bin" / "python"


class KnobError(ValueError):
    """A make fit knob or recipe value out of range; the message is the one line to print."""


def check_batch(raw: str | None) -> int | None:
    """BATCH: an integer >= 1 (None: the recipe's batch_size)."""
    if raw is None:
        return None
    try:
        batch = int(raw)
    except ValueError:
        batch = 0
    if batch < 1:
        raise KnobError(f"BATCH={raw}: want an integer >= 1 (make fit BATCH=8)")
    return batch


def check_dataset(spec: str) -> str:
    """One DATASET entry: sample, gr2, or a directory holding meta/info.json."""
    if spec in ("sample", "gr2") or (Path(spec) / "meta" / "info.json").is_file():
        return spec
    raise KnobError(
        f"DATASET={spec}: want sample, gr2 or a dataset directory (no {Path(spec)}/meta/info.json)"
        ": make fit DATASET=sample|gr2|<dir>"
    )


def check_gpu_gb(recipe: Any) -> None:
    """``ops.gpu_gb``: a number of GB >= 0 (absent or 0: a CPU recipe)."""
    raw = recipe.ops.get("gpu_gb")
    try:
        gb = float(raw or 0)
    except (TypeError, ValueError):
        gb = -1.0
    if not math.isfinite(gb) or gb < 0:
        raise KnobError(f"{recipe.path}: ops.gpu_gb={raw!r}: want a number of GB >= 0 (e.g. 24)")


def build_env(env: str) -> None:
    """The one environment a recipe needs, built (or found current) by scripts/envs.sh.

    A relocated ``ENVS_DIR`` is only checked, as for make train.
    """
    if os.environ.get("ENVS_DIR"):
        return
    proc = subprocess.run(
        [str(REPO / "scripts" / "envs.sh"), "build", env],
        stdout=sys.stderr,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        why = (proc.stderr.strip().splitlines() or ["envs.sh failed"])[-1]
        raise SystemExit(f"fit: environment {env}: {why}")


def run_one(recipe: str, shapes: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run the prediction in the recipe's environment; its progress goes to our stderr."""
    r = load_recipe(recipe)
    py = env_python(r.env)
    if not py.exists():
        raise SystemExit(f"fit: environment {r.env} missing ({py}): run make envs")
    cmd = [str(py), "-m", "scripts.fit.run", "--recipe", recipe, "--shapes", shapes]
    if args.batch:
        cmd += ["--batch", str(args.batch)]
    if not args.no_largest:
        cmd.append("--largest")
    if args.measure:
        cmd += ["--measure", str(args.measure)]
    for ov in args.override:
        cmd += ["--override", ov]
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=env, check=False)
    if proc.returncode == 3:  # MEASURE=1 without CUDA: the child said so in one line
        raise SystemExit(3)
    if proc.returncode != 0:
        raise SystemExit(f"fit: {recipe} on {shapes} failed (exit {proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("recipe", nargs="?")
    ap.add_argument("--all", action="store_true", help="every GPU recipe (make fit-all)")
    ap.add_argument("--dataset", default=None, help="sample, gr2, a dataset dir, or a,b list")
    ap.add_argument("--batch", default=None, help="integer >= 1 (default: the recipe's)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--measure", type=int, nargs="?", const=5, default=0)
    ap.add_argument("--override", action="append", default=[], help="policy key=value")
    ap.add_argument("--no-largest", action="store_true", help="skip the largest-batch search")
    ap.add_argument("--readme", action="store_true", help="write the table into docs/fit.md")
    args = ap.parse_args(argv)
    if not args.all and not args.recipe:
        ap.error("RECIPE is required: make fit RECIPE=<name> (or make fit-all)")
    default = "sample,gr2" if args.all else "sample"
    try:
        names = [n for n in list_recipes() if not n.endswith("_cpu")] if args.all else [args.recipe]
        recipes = [load_recipe(n) for n in names]
        for r in recipes:
            check_gpu_gb(r)
        args.batch = check_batch(args.batch)
        shape_list = [check_dataset(s) for s in (args.dataset or default).split(",")]
    except (RecipeError, KnobError) as exc:
        print(f"fit: {exc}", file=sys.stderr)
        return 2
    todo = []
    for n, s in ((n, s) for n in names for s in shape_list):
        why = shapes_mod.refusal(load_recipe(n).policy, shapes_mod.resolve(s))
        if why and not args.all:
            print(f"fit: {n} on {s}: {why}: make fit RECIPE={n} DATASET=gr2|<dir>", file=sys.stderr)
            return 2
        if why:
            print(f"[fit] skipped {n} on {s}: {why}", file=sys.stderr, flush=True)
            continue
        todo.append((n, s))
    for env in dict.fromkeys(r.env for r in recipes):  # only what these recipes need
        build_env(env)
    results = []
    for i, (n, s) in enumerate(todo, 1):
        if len(todo) > 1:
            print(f"[fit] {i}/{len(todo)}: {n} on {s}", file=sys.stderr, flush=True)
        results.append(run_one(n, s, args))
    if args.json:
        print(json.dumps(results if len(results) > 1 else results[0], indent=2))
    elif args.all:
        print(report.table(results))
    else:
        for r in results:
            print(report.text(r))
    if args.readme:
        ok = report.write_readme(REPO / "docs" / "fit.md", report.table(results))
        print("docs/fit.md table " + ("updated" if ok else "markers missing"), file=sys.stderr)
    bad = [r for r in results if r["verdict"] == "does not fit"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
