"""``make smoke``: train a few steps with a recipe, then prove the checkpoint is usable.

Fails unless every logged loss is finite and the loss went down; checkpoints/last/
pretrained_model exists; it reloads with the pinned LeRobot (policy + pre/post processors);
select_action on a real dataset frame returns the dataset's action shape, finite; and the
checkpoint's image keys equal the dataset's. Runs in the tools env; training goes through
``scripts.train`` (same preflight, same command) and the reload through
``scripts.train.smoke_check``
in the recipe's environment.

Usage: python -m scripts.train.smoke [--dataset D] [--recipe act_cpu] [--steps N] [--out O]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

from scripts.train import cli as train
from scripts.train import plot_loss
from scripts.train import preflight as pf
from scripts.train.recipes import REPO, RecipeError, load_recipe

# What `make convert` writes from `make sample` (Makefile: DST = $(SAMPLE)_v30).
DEFAULT_DATASET = REPO / "data" / "sample_koch_v21_v30"
TINY_VLM = "tiny-smolvlm2"
GPU_STEPS = 20  # smoke length for a GPU recipe (its own steps are a full training run)


def say(msg: str) -> None:
    print(f"[smoke] {msg}", flush=True)


def loss_went_down(losses: list[float]) -> bool:
    """Mean of the second half below the mean of the first half (robust to one noisy step)."""
    if len(losses) < 2:
        return False
    half = len(losses) // 2
    first, second = losses[:half], losses[len(losses) - half :]
    return sum(second) / len(second) < sum(first) / len(first)


def ensure_tiny_vlm(recipe_vlm: str | None) -> None:
    """Write the tiny SmolVLM2 model the first time a smoke recipe asks for it."""
    if recipe_vlm != TINY_VLM:
        return
    dest = pf.weights_dir() / TINY_VLM
    if (dest / "config.json").is_file():
        return
    say(f"writing the tiny random SmolVLM2 model to {dest}")
    py = pf.env_dir("smolvla") / "bin" / "python"
    cmd = [str(py), "-m", "scripts.train.make_tiny_smolvla", "--out", str(dest)]
    subprocess.run(cmd, check=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})


def check_log(log: Path) -> tuple[list[str], list[float]]:
    """Loss checks on the training log; returns (failures, losses)."""
    points = plot_loss.parse_log(log.read_text(errors="replace"))
    losses = [v for _, v in points]
    fails = []
    if not losses:
        fails.append(f"{log}: no loss lines were logged")
    elif not all(math.isfinite(v) for v in losses):
        fails.append(f"non-finite loss logged: {losses}")
    elif not loss_went_down(losses):
        fails.append(f"loss did not go down over {len(losses)} steps: {losses}")
    return fails, losses


def _steps(text: str) -> int:
    """STEPS must be a positive integer (0 used to mean "the default" silently)."""
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"STEPS={text}: not an integer") from exc
    if value < 1:
        raise argparse.ArgumentTypeError(f"STEPS={text}: must be 1 or more")
    return value


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="make smoke", description=__doc__.splitlines()[0])
    ap.add_argument(
        "--dataset", type=Path, default=Path(os.environ.get("DATASET") or DEFAULT_DATASET)
    )
    ap.add_argument("--recipe", default="act_cpu")
    ap.add_argument("--steps", type=_steps, default=None, help="default: a CPU recipe's steps, 20")
    ap.add_argument("--out", type=Path, default=None, help="default outputs/smoke/<recipe>-<time>")
    args = ap.parse_args(argv)
    try:
        recipe = load_recipe(args.recipe)
    except RecipeError as exc:
        print(f"smoke: error: {exc}", file=sys.stderr)
        return pf.EXIT_USAGE
    # CPU recipes are already smoke-sized; a GPU recipe's 30k-100k steps become a short run.
    steps = args.steps or (int(recipe.config.get("steps", 10)) if recipe.is_cpu else GPU_STEPS)
    out = args.out or REPO / "outputs" / "smoke" / f"{args.recipe}-{time.strftime('%Y%m%d-%H%M%S')}"
    try:
        pf.check_env(recipe)  # builds the recipe's environment on first use
    except pf.PreflightError as exc:
        print(f"smoke: error: {exc}", file=sys.stderr)
        return exc.code
    ensure_tiny_vlm(recipe.config.get("policy", {}).get("vlm_model_name"))
    extra = [f"--steps={steps}", f"--save_freq={steps}", "--log_freq=1"]
    t0 = time.perf_counter()
    code = train.main(
        ["--recipe", args.recipe, "--dataset", str(args.dataset), "--out", str(out), "--", *extra]
    )
    train_s = time.perf_counter() - t0
    if code != 0:
        print(f"smoke: error: training failed (exit {code})", file=sys.stderr)
        return code
    fails, losses = check_log(out / "train.log")
    ckpt = out / "checkpoints" / "last" / "pretrained_model"
    facts: dict = {}
    if not ckpt.is_dir():
        fails.append(f"{ckpt}: missing after training")
    else:
        say(f"reloading {ckpt} in envs/{recipe.env}")
        py = pf.env_dir(recipe.env) / "bin" / "python"
        cmd = [str(py), "-m", "scripts.train.smoke_check", str(ckpt), str(args.dataset.resolve())]
        if os.environ.get("VIDEO_BACKEND"):
            cmd += ["--video-backend", os.environ["VIDEO_BACKEND"]]
        env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, check=False)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if not lines:
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            fails.append(f"reload with LeRobot failed: {tail}")
        else:
            facts = json.loads(lines[-1])
            fails += facts.pop("failures", [])
    total_s = time.perf_counter() - t0
    report = {
        "recipe": args.recipe,
        "dataset": str(args.dataset),
        "steps": steps,
        "losses": losses,
        "train_s": round(train_s, 1),
        "total_s": round(total_s, 1),
        **facts,
        "failures": fails,
    }
    if out.is_dir():
        (out / "smoke.json").write_text(json.dumps(report, indent=2))
    if fails:
        for f in fails:
            print(f"smoke: error: {f}", file=sys.stderr)
        return 1
    say(
        f"OK {args.recipe}: {len(losses)} steps, loss {losses[0]:.3f} -> {losses[-1]:.3f}, "
        f"{facts.get('params', 0) / 1e6:.2f} M params, action {facts.get('action_shape')}, "
        f"cameras {facts.get('checkpoint_image_keys')}; "
        f"train {train_s:.0f} s, total {total_s:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
