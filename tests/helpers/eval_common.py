"""Inputs of the eval tests, built once per session: a camera-free dataset and a run trained on
it by lerobot-train (with held-out episodes), its random-init and perturbed twins.

The trained run is real ``lerobot-train`` output (a run folder with two checkpoints and
``checkpoints/last``), trained with ``--dataset.eval_split=0.2`` so ``make eval`` defaults to
the episodes it held out. Tiny ACT without cameras (no ResNet): ~150 steps beat chance.
"""

from __future__ import annotations

from pathlib import Path

from conftest import env_python, run
from helpers.train_common import HELPERS, cached

TRAIN_STEPS = 150
SAVE_FREQ = 75
EVAL_SPLIT = 0.2
# 12 episodes, tasks alternating: last ceil(6 x 0.2) = 2 of each task held out
HELD_OUT = [8, 9, 10, 11]

ACT_TINY = [
    "--policy.type=act",
    "--policy.device=cpu",
    "--policy.push_to_hub=false",
    "--policy.use_vae=false",
    "--policy.chunk_size=10",
    "--policy.n_action_steps=10",
    "--policy.dim_model=64",
    "--policy.dim_feedforward=128",
    "--policy.n_encoder_layers=1",
    "--policy.n_decoder_layers=1",
    "--policy.optimizer_lr=0.001",
    "--batch_size=32",
    "--num_workers=0",
    "--log_freq=25",
    "--wandb.enable=false",
]


def _check(proc, what: str) -> None:
    if proc.returncode != 0:
        raise AssertionError(f"{what} failed: {proc.stdout[-1500:]}{proc.stderr[-2500:]}")


def state_dataset(factory) -> Path:
    def build(p: Path) -> None:
        _check(
            run([env_python("act"), HELPERS / "eval_make_dataset.py", p], timeout=300), "dataset"
        )

    return cached(factory, "eval_state_v30", build)


def trained_run(factory) -> Path:
    """The run folder (built once per session; ``cached`` keys on a config.json inside)."""
    ds = state_dataset(factory)
    out = factory.getbasetemp() / "train-cache" / "eval_run"
    if (out / "checkpoints" / "last" / "pretrained_model" / "config.json").is_file():
        return out
    cmd = [
        env_python("act").parent / "lerobot-train",
        *ACT_TINY,
        f"--steps={TRAIN_STEPS}",
        f"--save_freq={SAVE_FREQ}",
        f"--dataset.eval_split={EVAL_SPLIT}",
        f"--dataset.root={ds}",
        f"--dataset.repo_id=local/{ds.name}",
        f"--output_dir={out}",
    ]
    proc = run(cmd, timeout=900)
    _check(proc, "lerobot-train")
    (out / "train.log").write_text(proc.stdout + proc.stderr)
    return out


def variants(factory) -> dict[str, Path]:
    """``random`` (same architecture, fresh init) and ``perturbed`` (trained + noise)."""
    model = trained_run(factory) / "checkpoints" / "last" / "pretrained_model"

    def build(p: Path) -> None:
        proc = run([env_python("act"), HELPERS / "eval_variants.py", model, p.parent], timeout=300)
        _check(proc, "eval_variants")

    base = factory.getbasetemp() / "train-cache" / "eval_variants"
    cached(factory, "eval_variants/random", build)
    return {"random": base / "random", "perturbed": base / "perturbed"}
