"""Our prediction under LeRobot's hardware-guide conditions, as nvidia-smi would total it.

Why: the guide (huggingface.co/docs/lerobot/hardware_guide, "Memory by policy group") gives peak
VRAM at batch 8 with AdamW per policy group (ACT ~2-6 GB, Diffusion ~8-14 GB, SmolVLA ~10-16 GB,
PI0-class ~24-40 GB) and names no cameras or resolution. ``make fit`` predicts *allocated*
memory; a user compares with nvidia-smi, which also shows the allocator's cached blocks, the
CUDA context and library workspaces. This module runs the fake step for a policy's LeRobot
default config (``use_amp`` false, LeRobot's default; batch 8; AdamW preset) on the shapes of
that policy's reference data, then adds each named item, so every gap has a name.

Usage (in the policy's env): python -m scripts.fit.guide --policy act|diffusion [--shapes S]
prints one JSON object. The numbers it adds are the constants below, each with its source.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from scripts.fit import predict
from scripts.fit import shapes as shapes_mod

MIB = 1024**2
GIB = 1024**3
# Reserved minus allocated at the peak (the caching allocator's cached free blocks and
# rounding: blocks > 1 MiB live in 20 MiB / 2 MiB-rounded segments, c10/cuda/
# CUDACachingAllocator.cpp). A model, not a measurement: 25 % of the allocated peak for the
# default allocator (lerobot-train sets no PYTORCH_CUDA_ALLOC_CONF; the guide's setting),
# 10 % with expandable_segments:True (ours). A GPU run of make fit MEASURE=1 replaces both.
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

# The guide names no cameras: each policy's LeRobot reference data, as its default config says.
GUIDE_SHAPES = {
    # ACT's defaults are the ALOHA sim transfer-cube config: one "top" camera at 480x640, 14-d.
    "act": shapes_mod.Shapes("aloha", 14, 14, {"observation.images.top": (3, 480, 640)}),
    # DiffusionConfig: "Defaults are configured for training with PushT": one 96x96 camera, 2-d.
    "diffusion": shapes_mod.Shapes("pusht", 2, 2, {"observation.image": (3, 96, 96)}),
}


def breakdown(policy: str, shapes: Any, batch: int = 8) -> dict[str, Any]:
    """Allocated peak (fake step), reserved model, context + workspaces, nvidia-smi range."""
    mem = predict.measure_step({"type": policy}, policy, shapes, batch)
    alloc = mem.peak / GIB
    out: dict[str, Any] = {
        "policy": policy,
        "batch": batch,
        "shapes": shapes.describe(),
        "params_total": mem.params_total,
        "allocated_gib": alloc,
        "weights_grads_adamw_gib": (mem.weights + mem.gradients + mem.optimizer) / GIB,
        "activations_gib": mem.activations / GIB,
    }
    for kind, frac in RESERVED_FRACTION.items():
        out[f"reserved_{kind}_gib"] = alloc * (1 + frac)
    lo = out["reserved_expandable_gib"] + CONTEXT_GIB[0] + CUBLAS_GIB[0]
    hi = out["reserved_default_gib"] + CONTEXT_GIB[1] + CUBLAS_GIB[1]
    out["nvidia_smi_gib"] = [lo, hi]
    out["nvidia_smi_gb"] = [lo * GIB / 1e9, hi * GIB / 1e9]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--policy", required=True, choices=sorted(GUIDE_SHAPES))
    ap.add_argument("--shapes", default=None, help="sample, gr2 or a dataset dir (default: guide)")
    ap.add_argument("--batch", type=int, default=8)
    args = ap.parse_args(argv)
    sh = shapes_mod.resolve(args.shapes) if args.shapes else GUIDE_SHAPES[args.policy]
    json.dump(breakdown(args.policy, sh, args.batch), sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
