"""``make train``: preflight, derive dataset-specific arguments, run lerobot-train from a recipe.

Runs in the light tools env (no torch) so every check fails in about a second; lerobot-train
itself runs from the recipe's environment (envs/act or envs/smolvla), under ``guard`` (stops
at the first non-finite loss or gradient). The exact command is printed first; ``--dry-run``
prints only. ``--holdout``/``--eval-every`` (HOLDOUT, EVAL_EVERY): see ``holdout``. Output
goes to the terminal and <OUT>/train.log; an <OUT> holding a checkpoint resumes; a finished
run is not clobbered without ``--force``.

Usage: python -m scripts.train --recipe R --dataset D [--out O] [--gpus N] [--dry-run]
       [--force] [--holdout X] [--eval-every N] [-- --key=value ...]  (extras: LeRobot overrides)
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scripts.common import paligemma
from scripts.episodes.table import EpisodeError, read_episodes
from scripts.train import derive, guard, holdout, run
from scripts.train import gpu as gpu_mod
from scripts.train import options as train_options
from scripts.train import preflight as pf
from scripts.train.recipes import (
    NAME_RE,
    REPO,
    RecipeError,
    load_recipe,
    merged,
    parse_cli_overrides,
    pick_for_gpu,
    to_cli,
)


@dataclass
class Plan:
    """Everything decided before launch: the command, where it runs and what was derived."""

    recipe: str
    out: Path
    cmd: list[str]
    env: dict[str, str]
    mode: str  # fresh | resume
    out_kind: str  # what OUT held: fresh | resume | finished | failed_start
    notes: list[str] = field(default_factory=list)


def say(msg: str) -> None:
    print(f"[train] {msg}", flush=True)


def resolve_recipe_name(name: str) -> str:
    """``smolvla`` (no size) -> the largest recipe fitting the detected GPU; says which."""
    from scripts.train.recipes import list_recipes

    if NAME_RE.match(name) or not any(r.startswith(f"{name}_") for r in list_recipes()):
        return name  # a full name, or unknown: load_recipe says "did you mean"
    gpus = gpu_mod.detect()
    gb = max((g.total_gb for g in gpus), default=None)
    picked, why = pick_for_gpu(name, gb)
    say(f"RECIPE={name} -> {picked}: {why}")
    return picked


def default_out(recipe: str, dataset: Path) -> Path:
    return REPO / "outputs" / "train" / f"{recipe}-{dataset.resolve().name}"


def video_backend(flat: dict[str, Any], env: str) -> str | None:
    """The user's --dataset.video_backend, else $VIDEO_BACKEND, else the foundation's choice.

    ``scripts.common.video_backend`` probes torchcodec once per environment and caches the answer
    beside the venv; we ask it in the recipe's env (cheap once cached) so LeRobot never
    prints its long torchcodec traceback on a box without FFmpeg's shared libraries.
    """
    chosen = flat.get("dataset.video_backend") or os.environ.get("VIDEO_BACKEND")
    if chosen:
        return str(chosen)
    py = pf.env_dir(env) / "bin" / "python"
    proc = subprocess.run(
        [str(py), "-m", "scripts.common.video_backend", "--quiet"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=300,
        check=False,
    )
    out = proc.stdout.strip().splitlines()
    return out[-1] if proc.returncode == 0 and out else None


def child_env() -> dict[str, str]:
    """Offline by default; expandable segments against fragmentation (users' 48 GB notes)."""
    env = dict(os.environ)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("PYTORCH_CUDA_ALLOC_CONF", "expandable_segments:True")
    env.setdefault("TORCH_HOME", str(pf.torch_home()))
    # scripts.train.guard runs in the recipe's env from this checkout
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    if not sys.stdout.isatty():  # cron, CI, a pipe: no progress bars at all
        env.setdefault("TQDM_DISABLE", "1")
    return env


def _unrunnable_policy(name: str, flat: dict[str, Any], policy: str) -> str | None:
    """Why LeRobot 0.6.1 cannot run the chosen policy options (PI0 PaliGemma width), or None."""
    pretrained = pf.pretrained_config(flat)  # a local policy.path; {} otherwise
    own = {k[len("policy.") :]: v for k, v in flat.items() if k.startswith("policy.")}
    chosen = {**pretrained, **own}
    chosen["type"] = own.get("type") or pretrained.get("type") or policy
    where = (
        f"{flat.get('policy.path')}/config.json"
        if pretrained and "policy.paligemma_variant" not in flat
        else f"RECIPE={name}: policy.paligemma_variant (recipe or ARGS)"
    )
    return paligemma.refusal(chosen, where)


def plan(args: argparse.Namespace) -> Plan:
    """Run every preflight check and build the command; raise PreflightError on a failure."""
    try:
        name = resolve_recipe_name(args.recipe)
        recipe = load_recipe(name)
        overrides = parse_cli_overrides(args.extra)
    except RecipeError as exc:
        raise pf.PreflightError(pf.EXIT_USAGE, str(exc)) from exc
    flat = merged(recipe, overrides)
    try:  # knobs first: a typo costs a second, not an env check
        split = holdout.parse_holdout(args.holdout)
        every = holdout.parse_eval_every(args.eval_every)
        split_default = holdout.recipe_default(recipe.ops, recipe.path)
    except holdout.HoldoutError as exc:
        raise pf.PreflightError(pf.EXIT_USAGE, str(exc)) from exc
    if args.gpus < 1:
        raise pf.PreflightError(pf.EXIT_USAGE, f"GPUS={args.gpus}: must be 1 or more")
    if args.gpus > 1 and (recipe.is_cpu or flat.get("policy.device") == "cpu"):
        raise pf.PreflightError(
            pf.EXIT_USAGE,
            f"GPUS={args.gpus} with CPU recipe {name}: drop GPUS or pick a GPU recipe",
        )
    unrunnable = _unrunnable_policy(name, flat, recipe.policy)
    if unrunnable:  # a second, not a booked GPU and a model build ending in a traceback
        raise pf.PreflightError(pf.EXIT_USAGE, unrunnable)
    # Machine first (env, GPU), then data, then weights: the cheapest, broadest checks first.
    bindir = pf.check_env(recipe)
    if overrides:  # typos in ARGS fail here, not after the GPU is booked
        bad = train_options.unknown(list(overrides), train_options.options(bindir.parent))
        if bad:
            raise pf.PreflightError(pf.EXIT_USAGE, bad[0])
    notes: list[str] = []
    try:
        pf.check_gpu(recipe, flat, args.gpus)
    except pf.PreflightError as exc:  # a dry run still shows the command (laptop, busy GPU)
        if not (args.dry_run and exc.code == pf.EXIT_GPU):
            raise
        notes.append(f"warning: {exc} (a real run stops here, exit {exc.code})")
    dataset = Path(args.dataset).expanduser().resolve()
    facts = pf.check_dataset(dataset)
    for key, value in pf.check_weights(flat, recipe.policy).items():
        if flat.get(key) != value:
            notes.append(f"{key}: {flat.get(key)} -> local {value}")
        flat[key] = value
    pretrained = pf.pretrained_config(flat)
    policy = str(flat.get("policy.type") or pretrained.get("type") or recipe.policy)
    dim_updates, dim_notes = derive.dims(facts, flat, policy, pretrained)
    flat.update(dim_updates)
    notes += dim_notes
    mapping, cam_notes = derive.rename_map(facts, flat, pretrained)
    if mapping:
        flat["rename_map"] = mapping
    notes += cam_notes
    derive.task_text(facts, policy)
    policy_overrides = {k[len("policy.") :]: v for k, v in flat.items() if k.startswith("policy.")}
    ignore = frozenset({"readiness.image_keys"}) if mapping else frozenset()
    pf.validate(dataset, name, policy_overrides, ignore)

    out = Path(args.out).expanduser().resolve() if args.out else default_out(name, dataset)
    steps = int(flat.get("steps", 100_000))
    state = run.out_state(out, steps)
    mode = "fresh"
    if state.kind == "finished" and not args.force:
        raise pf.PreflightError(
            pf.EXIT_OUTPUT,
            f"OUT={out} is a finished run (step {state.last_step} of {steps}): pick another OUT, "
            "ask for more steps (ARGS='--steps=N') to continue it, or FORCE=1 to start over "
            "(the old run is kept as OUT.prev-<time>)",
        )
    if state.kind == "foreign":
        raise pf.PreflightError(
            pf.EXIT_OUTPUT,
            f"OUT={out} exists and holds no LeRobot checkpoint: pick another OUT (nothing there "
            "is touched)",
        )
    if state.kind == "resume":
        mode = "resume"
        notes.append(f"resuming from checkpoint step {state.last_step} towards {steps}")
    try:
        held = holdout.decide(
            recipe=name,
            recipe_default=split_default,
            holdout=split,
            eval_every=every,
            flat=flat,
            episodes=read_episodes(dataset),
            resumed_config=holdout.resumed_config(out / run.CONFIG_IN_CKPT)
            if mode == "resume"
            else None,
        )
    except EpisodeError as exc:
        raise pf.PreflightError(pf.EXIT_DATASET, f"DATASET={dataset}: {exc}") from exc
    except holdout.HoldoutError as exc:
        raise pf.PreflightError(pf.EXIT_USAGE, str(exc)) from exc
    notes.append(held.note)
    flat.update(held.updates)
    if mode == "resume" and held.eval_every is not None:
        overrides = {**overrides, "eval_steps": held.eval_every}

    flat.update(
        {
            "dataset.root": str(dataset),
            "policy.push_to_hub": False,
            "output_dir": str(out),
        }
    )
    if not flat.get("dataset.repo_id"):
        flat["dataset.repo_id"] = derive.repo_id_for(facts)
    backend = video_backend(flat, recipe.env)
    if backend:
        flat["dataset.video_backend"] = backend
    cli = resume_cli(out, flat, overrides, backend) if mode == "resume" else to_cli(flat)

    exe = [str(bindir / "lerobot-train")]
    if args.gpus > 1:
        accel = bindir / "accelerate"
        if not accel.is_file():
            raise pf.PreflightError(
                pf.EXIT_ENV, f"GPUS={args.gpus}: {accel} missing: run make envs"
            )
        exe = [str(accel), "launch", "--multi_gpu", f"--num_processes={args.gpus}", *exe]
    bs = int(flat.get("batch_size", 8))
    notes.append(f"effective batch: {bs} per process x {args.gpus} GPU(s) = {bs * args.gpus}")
    return Plan(
        recipe=name,
        out=out,
        cmd=exe + cli,
        env=child_env(),
        mode=mode,
        out_kind=state.kind,
        notes=notes,
    )


def resume_cli(
    out: Path, flat: dict[str, Any], overrides: dict[str, Any], backend: str | None
) -> list[str]:
    """LeRobot's resume: the checkpoint's own train_config.json plus what must change.

    Everything else comes from the checkpoint (LeRobot's rule); we re-pass the step target,
    the dataset location (it may have moved) and the user's overrides. A ``policy.path`` must
    not be passed: LeRobot would load that instead of the checkpoint.
    """
    keep = {k: v for k, v in overrides.items() if k not in ("policy.path", "policy.type")}
    keep["steps"] = flat.get("steps")
    keep["dataset.root"] = flat["dataset.root"]
    if backend:
        keep["dataset.video_backend"] = backend
    cfg = out / run.CONFIG_IN_CKPT
    return [f"--config_path={cfg}", "--resume=true", *to_cli(keep)]


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="make train", description=__doc__.splitlines()[0], add_help=True
    )
    ap.add_argument("--recipe", required=True, help="recipe name (act_24g ...) or a policy name")
    ap.add_argument("--dataset", required=True, help="a LeRobot v3.0 dataset directory")
    ap.add_argument("--out", default=None, help="run directory (default outputs/train/...)")
    ap.add_argument("--gpus", type=int, default=1, help="GPUs for accelerate (default 1)")
    ap.add_argument("--dry-run", action="store_true", help="print the command only")
    ap.add_argument("--force", action="store_true", help="start over on a finished OUT")
    ap.add_argument("--holdout", default=None, help="eval_split in [0, 0.5) (HOLDOUT; 0 = off)")
    ap.add_argument("--eval-every", default=None, help="steps between eval losses (EVAL_EVERY)")
    return ap


def split_extra(argv: list[str]) -> tuple[list[str], list[str]]:
    if "--" in argv:
        i = argv.index("--")
        return argv[:i], argv[i + 1 :]
    return argv, []


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    own, extra = split_extra(argv)
    args = build_parser().parse_args(own)
    args.extra = extra
    try:
        p = plan(args)
    except pf.PreflightError as exc:
        print(f"train: error: {exc}", file=sys.stderr)
        return exc.code
    say(f"recipe {p.recipe}, {p.mode} run, OUT={p.out}")
    for note in p.notes:
        say(note)
    cmd = guard.command(p.cmd)  # stops at the first NaN/Inf loss or gradient (guard.py)
    shown = shlex.join(cmd)
    print(shown, flush=True)
    if args.dry_run:
        return 0
    if p.out_kind == "failed_start":
        run.clear_failed_start(p.out)
    elif p.out_kind == "finished":
        say(f"FORCE: previous run kept at {run.move_aside(p.out)}")
    header = f"[train] {shown}\n"
    code = run.run_logged(cmd, p.out, p.env, header)
    launch = {"recipe": p.recipe, "cmd": cmd, "mode": p.mode, "exit_code": code}
    if p.out.is_dir():
        (p.out / "launch.json").write_text(json.dumps(launch, indent=2))
    from scripts.train import plot_loss

    plot_loss.main([str(p.out)])
    if code not in (0, guard.EXIT_NONFINITE):  # the guard's own line said it all
        print(
            f"train: error: lerobot-train exited with {code}; see {p.out / 'train.log'}",
            file=sys.stderr,
        )
    return code


if __name__ == "__main__":
    sys.exit(main())
