"""Which PI0/PI0.5 PaliGemma sizes LeRobot 0.6.1 can actually run, checked from config.json alone.

Why: LeRobot 0.6.1 accepts ``paligemma_variant="gemma_300m"`` (its config validates it, the
model builds, weights load), but ``PaliGemmaWithExpertModel.__init__`` hard-codes the image
projection to 2048 wide (``vision_config.projection_dim = 2048``), so a 1024-wide Gemma fails on
the first frame inside ``embed_prefix`` ("Expected size 2048 but got size 1024"): minutes of
building a model, then a traceback. Pure Python (no torch), so ``make eval``, ``make serve``,
``make robot`` and ``make train`` refuse such a config in well under a second, before loading.
"""

from __future__ import annotations

from typing import Any

# lerobot/policies/<type>/modeling_<type>.py: get_gemma_config widths, and the line (0.6.1)
# that sets vision_config.projection_dim = 2048.
WIDTH = {"gemma_300m": 1024, "gemma_2b": 2048}
PROJECTION = 2048
DEFECT_LINE = {"pi0": 222, "pi05": 219}
DEFAULT_VARIANT = "gemma_2b"  # PI0Config / PI05Config default


def refusal(cfg: dict[str, Any], where: str) -> str | None:
    """One line saying why this policy config cannot run, or None if it can.

    ``cfg``: a policy config (``config.json`` of a checkpoint, or a training run's policy
    options); ``where``: what to name in the message (the config.json path, or the knob).
    """
    ptype = cfg.get("type")
    if ptype not in DEFECT_LINE:
        return None
    variant = cfg.get("paligemma_variant") or DEFAULT_VARIANT
    if variant not in WIDTH:
        return (
            f"{where}: paligemma_variant {variant!r} is not one LeRobot 0.6.1 knows "
            f"({', '.join(WIDTH)}); use paligemma_variant=gemma_2b"
        )
    if WIDTH[variant] == PROJECTION:
        return None
    return (
        f"{where}: {ptype} with paligemma_variant {variant!r} (width {WIDTH[variant]}) cannot "
        f"run in LeRobot 0.6.1: lerobot/policies/{ptype}/modeling_{ptype}.py:"
        f"{DEFECT_LINE[ptype]} hard-codes the image projection to {PROJECTION} "
        f"(vision_config.projection_dim), so the first frame fails in embed_prefix; "
        f"use paligemma_variant=gemma_2b (action_expert_variant gemma_300m is fine)"
    )
