"""Our prediction under published conditions, as nvidia-smi would total it, item by item.

Why: two outside sources give GPU memory figures that ``make fit`` must answer for. LeRobot's
hardware guide (huggingface.co/docs/lerobot/hardware_guide, "Memory by policy group") gives
peak VRAM at batch 8 with AdamW per policy group (ACT ~2-6 GB, Diffusion ~8-14 GB, SmolVLA
~10-16 GB, PI0-class ~24-40 GB) and names no cameras, resolution or dtype; the users' GR2 notes
(seeds/004) give their commands and figures on a 48 GB card. ``make fit`` predicts *allocated*
memory; a user reads nvidia-smi, which also shows the allocator's cached blocks, the CUDA
context and library workspaces. Each :class:`Condition` below is one published figure with the
exact config it implies; :func:`breakdown` runs the fake step for it and adds each named item,
so every gap has a name.

Usage:
  python -m scripts.fit.guide --condition NAME[,NAME...]   (in the condition's env) JSON lines
  python -m scripts.fit.guide --all [--readme]             (tools env: each in its env) table
``make fit-guide`` is the second form. The numbers added are the constants below, each with
its source.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from scripts.fit import predict
from scripts.fit import shapes as shapes_mod

REPO = Path(__file__).resolve().parents[2]
MIB = 1024**2
GIB = 1024**3
# Reserved minus allocated at the peak (the caching allocator's cached free blocks and
# rounding: blocks > 1 MiB live in 20 MiB / 2 MiB-rounded segments, c10/cuda/
# CUDACachingAllocator.cpp). A model, not a measurement: 25 % of the allocated peak for the
# default allocator (lerobot-train sets no PYTORCH_CUDA_ALLOC_CONF; the guide's setting),
# 10 % with expandable_segments:True (ours, and the users' GR2 runs). MEASURE=1 replaces both.
RESERVED_FRACTION = {"default": 0.25, "expandable": 0.10}
# CUDA context with lazy module loading (PyTorch sets CUDA_MODULE_LOADING=LAZY, PR #86509: a
# bare context measured 287 MB lazy vs 667 MB eager); cuDNN's and cuBLAS's kernels load into
# it on first use. Low / high ends of what we assume, not measured here.
CONTEXT_GIB = (0.30, 0.70)
# cuBLAS workspace: NVIDIA's cuBLAS reference (cublasSetWorkspace) recommends 4 MiB per handle
# before Hopper, 32 MiB on Hopper; PyTorch's default CUBLAS_WORKSPACE_CONFIG is ":4096:2:16:8"
# (2 x 4 MiB + 8 x 16 KiB per handle/stream) and its cuBLASLt workspace 1-32 MiB
# (PyTorch PR #120925). One training stream: ~10-70 MiB.
CUBLAS_GIB = (10 * MIB / GIB, 70 * MIB / GIB)
# cuDNN convolution workspaces: lerobot-train sets torch.backends.cudnn.benchmark=True, which
# tries algorithms with whatever workspace each asks for; no documented size. Not modelled:
# counted as an unexplained part of any gap for the ResNet policies.

SMOLVLM2 = "HuggingFaceTB/SmolVLM2-500M-Video-Instruct"


def _shapes(name: str, state: int, action: int, cams: dict[str, tuple[int, int]]) -> Any:
    return shapes_mod.Shapes(
        name, state, action, {f"observation.images.{k}": (3, h, w) for k, (h, w) in cams.items()}
    )


# The guide names no cameras: each policy's LeRobot reference data, as its docs train it.
ALOHA = _shapes("aloha", 14, 14, {"top": (480, 640)})  # ACTConfig's defaults: ALOHA sim
PUSHT = _shapes("pusht", 2, 2, {"image": (96, 96)})  # DiffusionConfig: "configured for PushT"
# SmolVLA's fine-tuning docs use lerobot/svla_so101_pickplace: SO-101 (6-d), cameras up and
# side at 480x640; SmolVLA resizes every camera to 512x512 with padding, so only the batch
# tensors (not the model's activations) depend on the stored resolution.
SO101 = _shapes("so101", 6, 6, {"up": (480, 640), "side": (480, 640)})
# PI0's LeRobot docs fine-tune on LIBERO (lerobot/libero: image and wrist_image 256x256, 8-d
# state, 7-d action); PI0 resizes to image_resolution 224x224 with padding.
LIBERO = _shapes("libero", 8, 7, {"image": (256, 256), "wrist_image": (256, 256)})


@dataclass(frozen=True)
class Condition:
    """One published figure and the LeRobot config it implies."""

    name: str
    policy: str
    env: str
    block: dict[str, Any]
    shapes: Any
    batch: int
    figure: str  # the published figure, as written
    source: str  # where it comes from and what the config reproduces
    figure_gb: tuple[float, float] | None = None  # the figure as a GB range, for the gap
    allocator: str = "default"  # "default" (lerobot-train as shipped) or "expandable"
    fp16_frozen_bn: bool = False  # what-if: FrozenBatchNorm2d buffers cast to fp16
    notes: list[str] = field(default_factory=list)


# fmt: off
CONDITIONS: list[Condition] = [
    Condition(
        "guide-act", "act", "act", {"type": "act"}, ALOHA, 8, "~2-6 GB", "guide; ACTConfig "
        "defaults (use_amp false, chunk 100, ResNet-18), ALOHA 1 x 480x640", (2, 6),
    ),
    Condition(
        "guide-diffusion", "diffusion", "act", {"type": "diffusion"}, PUSHT, 8, "~8-14 GB",
        "guide; DiffusionConfig defaults (use_amp false, U-Net 512/1024/2048, n_obs_steps 2, "
        "horizon 16), PushT 1 x 96x96", (8, 14),
    ),
    Condition(
        "guide-diffusion-gr2", "diffusion", "act", {"type": "diffusion"}, shapes_mod.gr2(), 8,
        "~8-14 GB", "guide; DiffusionConfig defaults on GR2 2 x 480x640 (larger images)",
        (8, 14),
    ),
    Condition(
        "guide-smolvla", "smolvla", "smolvla",
        {"path": "lerobot/smolvla_base", "vlm_model_name": SMOLVLM2}, SO101, 8, "~10-16 GB",
        "guide; --policy.path=lerobot/smolvla_base as LeRobot's SmolVLA docs train it "
        "(load_vlm_weights true: VLM + expert bf16; 512x512; chunk 50; frozen VLM; use_amp "
        "false), SO-101 2 x 480x640", (10, 16),
    ),
    Condition(
        "guide-smolvla-scratch", "smolvla", "smolvla",
        {"type": "smolvla", "vlm_model_name": SMOLVLM2}, SO101, 8, "~10-16 GB",
        "guide; --policy.type=smolvla, SmolVLAConfig defaults (load_vlm_weights false: the VLM "
        "built from its config in float32; otherwise as above)", (10, 16),
    ),
    Condition(
        "guide-pi0", "pi0", "smolvla", {"type": "pi0"}, LIBERO, 8, "~24-40 GB",
        "guide; PI0Config defaults (dtype float32, nothing frozen, no gradient checkpointing, "
        "224x224), LIBERO 2 x 256x256", (24, 40),
    ),
    Condition(
        "guide-pi0-bf16", "pi0", "smolvla",
        {"type": "pi0", "dtype": "bfloat16", "gradient_checkpointing": True}, LIBERO, 8,
        "~24-40 GB", "guide; PI0 with dtype bfloat16 + gradient_checkpointing (what LeRobot's "
        "PI0 docs pass), nothing frozen", (24, 40),
    ),
    Condition(
        "guide-pi0-expert", "pi0", "smolvla",
        {"type": "pi0", "dtype": "bfloat16", "gradient_checkpointing": True,
         "train_expert_only": True}, LIBERO, 8, "~24-40 GB; 24 GB tight at BS 1",
        "guide; as above with train_expert_only (PaliGemma frozen)", (24, 40),
    ),
    Condition(
        "users-act-b256", "act", "act", {"type": "act", "use_amp": True}, shapes_mod.gr2(), 256,
        "runs on 48 GB", "seed 004: --policy.type=act --policy.use_amp=true --batch_size=256 "
        "(48 GB table), GR2 RGB + depth 480x640; fp16 autocast as LeRobot 0.6.1 applies it",
        (0, 48), "expandable",
    ),
    Condition(
        "users-act-b256-fp32", "act", "act", {"type": "act", "use_amp": False},
        shapes_mod.gr2(), 256, "runs on 48 GB", "the same in float32: LeRobot 0.4.0-0.6.0 "
        "ignored use_amp for ACT (Accelerator built without mixed_precision; fixed by "
        "lerobot PR #4274, in 0.6.1)", (0, 48), "expandable",
    ),
    Condition(
        "users-act-b256-fp16bn", "act", "act", {"type": "act", "use_amp": True},
        shapes_mod.gr2(), 256, "runs on 48 GB", "what-if: the same with FrozenBatchNorm2d's "
        "affine applied in fp16, so the ResNet's activations stay fp16 (not what PyTorch "
        "does)",
        (0, 48), "expandable", fp16_frozen_bn=True,
    ),
    Condition(
        "users-smolvla-b32", "smolvla", "smolvla",
        {"type": "smolvla", "vlm_model_name": SMOLVLM2, "use_amp": True, "max_state_dim": 45,
         "max_action_dim": 37}, shapes_mod.gr2(), 32, "~15 GB (beside PI0)",
        "seed 004: --policy.type=smolvla --policy.vlm_model_name=<SmolVLM2-500M dir> "
        "--policy.max_state_dim=45 --policy.max_action_dim=37 --policy.use_amp=true "
        "--batch_size=32 (parallel row); VLM float32 from its config, fp16 autocast (0.6.1)",
        (14, 16), "expandable",
    ),
    Condition(
        "users-smolvla-b32-fp32", "smolvla", "smolvla",
        {"type": "smolvla", "vlm_model_name": SMOLVLM2, "use_amp": False, "max_state_dim": 45,
         "max_action_dim": 37}, shapes_mod.gr2(), 32, "~15 GB (beside PI0)",
        "the same in float32: LeRobot 0.4.0-0.6.0 ignored use_amp for SmolVLA (no dtype "
        "field), as for ACT", (14, 16), "expandable",
    ),
    Condition(
        "users-pi0-b8", "pi0", "smolvla",
        {"path": "lerobot/pi0_base", "dtype": "bfloat16", "gradient_checkpointing": True},
        shapes_mod.gr2(), 8, "~25 GB (beside SmolVLA, ~3 GB spare)",
        "seed 004: --policy.path=<pi0> --policy.use_amp=true --policy.gradient_checkpointing="
        "true, dtype bfloat16, --batch_size=8 (parallel row); PI0Config defaults for the rest "
        "(nothing frozen)", (24, 26), "expandable",
    ),
]
# fmt: on
BY_NAME = {c.name: c for c in CONDITIONS}


def fp16_frozen_bn(model: Any) -> None:
    """What-if: FrozenBatchNorm2d's affine applied in the input's dtype (an all-fp16 ResNet).

    torchvision computes ``scale = weight * (running_var + eps).rsqrt()`` from float32
    buffers and returns ``x * scale + bias``: under autocast the fp16 conv output times a
    float32 (1, C, 1, 1) tensor promotes to float32. Casting the buffers to fp16 would not
    change that: ``rsqrt`` is on autocast's float32 list, so ``scale`` is float32 again. This
    what-if casts ``scale`` and ``bias`` to ``x.dtype`` instead, as a hand-written fp16 model
    would; it is not what LeRobot 0.6.1 with PyTorch does.
    """
    import types

    from torchvision.ops.misc import FrozenBatchNorm2d

    def forward(self: Any, x: Any) -> Any:
        w = self.weight.reshape(1, -1, 1, 1)
        b = self.bias.reshape(1, -1, 1, 1)
        rv = self.running_var.reshape(1, -1, 1, 1)
        rm = self.running_mean.reshape(1, -1, 1, 1)
        scale = w * (rv + self.eps).rsqrt()
        bias = b - rm * scale
        return x * scale.to(x.dtype) + bias.to(x.dtype)

    for m in model.modules():
        if isinstance(m, FrozenBatchNorm2d):
            m.forward = types.MethodType(forward, m)


def breakdown(cond: Condition, batch: int | None = None) -> dict[str, Any]:
    """Allocated peak (fake step), reserved model, context + workspaces, nvidia-smi range.

    ``batch`` replaces the condition's (a quicker check of the same items; tests).
    """
    if batch:
        cond = replace(cond, batch=batch)
    prep = fp16_frozen_bn if cond.fp16_frozen_bn else None
    mem = predict.measure_step(cond.block, cond.policy, cond.shapes, cond.batch, prepare=prep)
    alloc = mem.peak / GIB
    fixed = (mem.weights + mem.gradients + mem.optimizer) / GIB
    out: dict[str, Any] = {
        "condition": cond.name,
        "policy": cond.policy,
        "batch": cond.batch,
        "shapes": cond.shapes.describe(),
        "figure": cond.figure,
        "figure_gb": cond.figure_gb,
        "source": cond.source,
        "allocator": cond.allocator,
        "params_total": mem.params_total,
        "params_trainable": mem.params_trainable,
        "weights_gib": mem.weights / GIB,
        "gradients_gib": mem.gradients / GIB,
        "optimizer_gib": mem.optimizer / GIB,
        "weights_grads_adamw_gib": fixed,
        "activations_gib": mem.activations / GIB,
        "phases_gib": {k: v / GIB for k, v in mem.phases.items()},
        "allocated_gib": alloc,
        "notes": mem.notes,
    }
    fracs = RESERVED_FRACTION if cond.allocator == "default" else {"expandable": 0.10}
    res = [alloc * (1 + f) for f in fracs.values()]
    out["reserved_gib"] = [min(res), max(res)]
    out["context_cublas_gib"] = [CONTEXT_GIB[0] + CUBLAS_GIB[0], CONTEXT_GIB[1] + CUBLAS_GIB[1]]
    lo = min(res) + out["context_cublas_gib"][0]
    hi = max(res) + out["context_cublas_gib"][1]
    out["nvidia_smi_gib"] = [lo, hi]
    out["nvidia_smi_gb"] = [lo * GIB / 1e9, hi * GIB / 1e9]
    return out


def env_python(env: str) -> Path:
    """envs/<env>/.venv/bin/python (``ENVS_DIR`` relocates envs/, as for make fit)."""
    return Path(os.environ.get("ENVS_DIR") or REPO / "envs") / env / ".venv" / "bin" / "python"


def run_all(names: list[str]) -> list[dict[str, Any]]:
    """Each env's conditions in one process of that env (imports once); JSON lines back."""
    out: dict[str, dict[str, Any]] = {}
    by_env: dict[str, list[str]] = {}
    for n in names:
        by_env.setdefault(BY_NAME[n].env, []).append(n)
    for env, todo in by_env.items():
        py = env_python(env)
        if not py.exists():
            raise SystemExit(f"fit-guide: environment {env} missing ({py}): run make envs")
        cmd = [str(py), "-m", "scripts.fit.guide", "--condition", ",".join(todo)]
        run_env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=run_env, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"fit-guide: {','.join(todo)} in envs/{env} failed")
        for line in proc.stdout.splitlines():
            if line.startswith("{"):
                r = json.loads(line)
                out[r["condition"]] = r
    return [out[n] for n in names]


def gap(r: dict[str, Any]) -> str:
    """Where our nvidia-smi range sits against the figure (GB)."""
    if not r.get("figure_gb"):
        return "-"
    f_lo, f_hi = r["figure_gb"]
    lo, hi = r["nvidia_smi_gb"]
    if hi < f_lo:
        return f"{f_lo - hi:.1f}-{f_lo - lo:.1f} GB below"
    if lo > f_hi:
        return f"{lo - f_hi:.1f}-{hi - f_hi:.1f} GB above"
    return "overlaps"


TABLE_HEAD = (
    "| condition | figure | params (trainable) | weights+grads+AdamW | activations | allocated "
    "peak | reserved | + context, cuBLAS | nvidia-smi, ours | vs figure |\n"
    "|---|---|---|---|---|---|---|---|---|---|"
)
BEGIN = "<!-- fit-guide:begin (make fit-guide writes this table) -->"
END = "<!-- fit-guide:end -->"


def table(results: list[dict[str, Any]]) -> str:
    """One markdown row per condition; GiB unless marked GB."""
    from scripts.fit.report import human_params

    rows = [TABLE_HEAD]
    for r in results:
        rows.append(
            f"| `{r['condition']}` (batch {r['batch']}) | {r['figure']} | "
            f"{human_params(r['params_total'])} ({human_params(r['params_trainable'])}) | "
            f"{r['weights_grads_adamw_gib']:.2f} | {r['activations_gib']:.2f} | "
            f"{r['allocated_gib']:.2f} | {r['reserved_gib'][0]:.2f}-{r['reserved_gib'][1]:.2f} | "
            f"+{r['context_cublas_gib'][0]:.2f}-{r['context_cublas_gib'][1]:.2f} | "
            f"{r['nvidia_smi_gb'][0]:.1f}-{r['nvidia_smi_gb'][1]:.1f} GB | {gap(r)} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--condition", help="comma list of: " + ", ".join(BY_NAME))
    ap.add_argument("--all", action="store_true", help="every condition, each in its env")
    ap.add_argument("--batch", type=int, default=None, help="with --condition: replace its batch")
    ap.add_argument("--json", action="store_true", help="with --all: JSON instead of a table")
    ap.add_argument("--readme", action="store_true", help="with --all: write docs/fit.md")
    args = ap.parse_args(argv)
    if args.all:
        results = run_all(list(BY_NAME))
        print(json.dumps(results, indent=2) if args.json else table(results))
        if args.readme:
            from scripts.fit.report import write_between

            ok = write_between(REPO / "docs" / "fit.md", BEGIN, END, table(results))
            print("docs/fit.md guide table " + ("updated" if ok else "markers missing"),
                  file=sys.stderr)  # fmt: skip
        return 0
    names = (args.condition or "").split(",")
    bad = [n for n in names if n not in BY_NAME]
    if bad:
        print(f"fit-guide: --condition {bad[0]!r}: want one of {', '.join(BY_NAME)}",
              file=sys.stderr)  # fmt: skip
        return 2
    for n in names:
        print(json.dumps(breakdown(BY_NAME[n], args.batch)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
