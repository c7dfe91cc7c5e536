"""Policy, batch and optimizer for one recipe, built the way ``lerobot-train`` builds them.

Why not call ``lerobot-train``'s factory: it loads datasets, processors and pretrained weights
(downloads). A memory prediction needs the same *architecture* and the same step inputs, so
this module builds the real LeRobot 0.6.1 policy class from the recipe's config values with
random weights, the batch the pre-processor would hand ``policy.forward`` (normalised floats,
language tokens padded to ``tokenizer_max_length``), and the optimizer from the policy's own
preset (``get_optimizer_preset().build(get_optim_params())``), forced onto AdamW's ``foreach``
path as CUDA takes it by default.

What differs from a real run, and why it does not change memory:
- ``policy.path`` (smolvla_base, pi0_base) becomes ``policy.type`` with the same config values:
  LeRobot's defaults for SmolVLA/PI0 are the published base checkpoints' architecture. Weights
  are random; their shapes and dtypes are what loading would give.
- ACT's and Diffusion's ImageNet backbone weights are off (the same ResNet-18 shapes, random
  values); SmolVLA's ``load_vlm_weights`` builds the bfloat16
  model ``from_pretrained`` would load, without reading weights (nothing is downloaded).
- ``compile_model`` is off: ``torch.compile`` cannot trace fake-mode shims, and it does not
  increase the eager step's peak (it usually lowers it).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from scripts.fit import vlm_configs
from scripts.fit.shapes import Shapes

SMOLVLM2_500M_ID = "HuggingFaceTB/SmolVLM2-500M-Video-Instruct"
PADDED = ("smolvla", "pi0")  # policies that pad state/action to max_state_dim/max_action_dim
BACKBONE_WEIGHTS = ("act", "diffusion")  # torchvision ImageNet weights: off, nothing downloaded
# Keys of a recipe's ``policy:`` block that are launcher/loader settings, not architecture.
NOT_CONFIG = ("path", "type", "device", "push_to_hub")


@dataclass
class Setup:
    """Everything one training step needs, plus how the step must run on CUDA."""

    policy: Any
    batch: dict[str, torch.Tensor]
    optimizer: torch.optim.Optimizer
    amp_dtype: torch.dtype | None  # autocast dtype on CUDA (None: float32)
    grad_scaler: bool  # fp16 AMP uses a GradScaler (Accelerate does, for fp16 only)
    grad_clip_norm: float
    notes: list[str] = field(default_factory=list)


def policy_kwargs(
    policy_block: dict[str, Any], policy: str, shapes: Shapes
) -> tuple[dict[str, Any], list[str]]:
    """Config kwargs from a recipe's ``policy:`` block, adjusted for an offline build."""
    kw = {k: v for k, v in policy_block.items() if k not in NOT_CONFIG}
    notes: list[str] = []
    if "path" in policy_block:
        notes.append(
            f"policy.path {policy_block['path']}: built as policy.type={policy} with the same "
            "architecture, random weights"
        )
    if policy in BACKBONE_WEIGHTS:
        kw["pretrained_backbone_weights"] = None
    if policy == "smolvla" and "path" in policy_block:
        # smolvla_base's published config.json says load_vlm_weights=true: the VLM comes from
        # from_pretrained(torch_dtype="bfloat16") and the expert, built from its text config,
        # is bfloat16 too. :func:`offline_vlm` builds the same bfloat16 model, no weights.
        kw.setdefault("load_vlm_weights", True)
        notes.append("smolvla_base: load_vlm_weights=true, VLM and expert in bfloat16")
    if kw.pop("compile_model", False):
        notes.append("compile_model ignored (eager step predicted)")
    for key in ("resize_imgs_with_padding", "image_resolution", "resize_shape", "down_dims"):
        if isinstance(kw.get(key), list):
            kw[key] = tuple(kw[key])
    if policy in PADDED:
        for what, have in (("state", shapes.state_dim), ("action", shapes.action_dim)):
            knob = f"max_{what}_dim"
            if have > int(kw.get(knob, 32)):
                kw[knob] = have
                notes.append(f"{knob} raised to {have} (as make train derives it)")
    return kw, notes


def make_config(policy: str, kw: dict[str, Any], shapes: Shapes) -> Any:
    """The policy's LeRobot config class with dataset features filled in."""
    from lerobot.configs.types import FeatureType, PolicyFeature
    from lerobot.policies.factory import make_policy_config

    cfg = make_policy_config(policy, device="cpu", push_to_hub=False, **kw)
    cfg.input_features = {
        "observation.state": PolicyFeature(type=FeatureType.STATE, shape=(shapes.state_dim,)),
        **{
            k: PolicyFeature(type=FeatureType.VISUAL, shape=tuple(s))
            for k, s in shapes.cameras.items()
        },
    }
    cfg.output_features = {
        "action": PolicyFeature(type=FeatureType.ACTION, shape=(shapes.action_dim,))
    }
    return cfg


def amp_of(cfg: Any) -> tuple[torch.dtype | None, bool]:
    """Autocast dtype and grad scaler exactly as ``lerobot_train.train`` picks them on CUDA.

    Policies with a ``dtype`` field (PI0) drive Accelerate's mixed precision from it; the
    others fall back to ``use_amp`` with ``torch.get_autocast_dtype('cuda')``, float16 unless
    the user changed it. Accelerate adds a GradScaler for fp16 only.
    """
    if hasattr(cfg, "dtype"):
        dt = {"bfloat16": torch.bfloat16, "float16": torch.float16}.get(cfg.dtype)
    elif getattr(cfg, "use_amp", False):
        dt = torch.float16  # torch.get_autocast_dtype("cuda") default
    else:
        dt = None
    return dt, dt == torch.float16


@contextlib.contextmanager
def offline_vlm(vlm_model_name: str | None) -> Iterator[None]:
    """Answer SmolVLA's ``from_pretrained`` calls for SmolVLM2-500M from :mod:`vlm_configs`.

    A local directory (e.g. the tiny SmolVLM2 of ``make_tiny_smolvla``) is read as usual.
    """
    if not vlm_model_name or Path(vlm_model_name).is_dir():
        yield
        return
    if vlm_model_name != SMOLVLM2_500M_ID:
        raise ValueError(
            f"policy.vlm_model_name {vlm_model_name}: no offline config known; pass a local "
            f"directory or {SMOLVLM2_500M_ID}"
        )
    from lerobot.policies.smolvla import smolvlm_with_expert as swe

    saved = swe.AutoConfig, swe.AutoProcessor, swe.AutoModelForImageTextToText

    class _Config:
        @staticmethod
        def from_pretrained(*_a: Any, **_k: Any) -> Any:
            return vlm_configs.smolvlm2_500m_config()

    class _Processor:
        @staticmethod
        def from_pretrained(*_a: Any, **_k: Any) -> Any:
            return vlm_configs.smolvlm2_processor_stub()

    class _Model:
        @staticmethod
        def from_pretrained(*_a: Any, torch_dtype: Any = None, **_k: Any) -> Any:
            """What from_pretrained(torch_dtype=...) builds: the model and its configs in it."""
            config = vlm_configs.smolvlm2_500m_config()
            model = swe.SmolVLMForConditionalGeneration(config=config)
            if torch_dtype is not None:
                dtype = getattr(torch, torch_dtype) if isinstance(torch_dtype, str) else torch_dtype
                model.to(dtype)
                for c in (model.config, model.config.text_config, model.config.vision_config):
                    c.dtype = dtype
            return model

    swe.AutoConfig, swe.AutoProcessor, swe.AutoModelForImageTextToText = (
        _Config,
        _Processor,
        _Model,
    )
    try:
        yield
    finally:
        swe.AutoConfig, swe.AutoProcessor, swe.AutoModelForImageTextToText = saved


def build_policy(policy: str, cfg: Any) -> Any:
    """The real LeRobot policy class, randomly initialised, in train mode."""
    from lerobot.policies.factory import get_policy_class

    with offline_vlm(getattr(cfg, "vlm_model_name", None)):
        model = get_policy_class(policy)(cfg)
    if policy == "pi0":
        vlm_configs.tie_paligemma_lm_head(model)
    model.train()
    return model


def make_batch(cfg: Any, policy: str, shapes: Shapes, batch: int) -> dict[str, torch.Tensor]:
    """What the pre-processor hands ``policy.forward`` (values random; shapes are the point).

    Diffusion reads ``n_obs_steps`` frames of state and of every camera per sample (its
    ``observation_delta_indices``) and a ``horizon`` of actions, so its inputs carry a time axis.
    """
    obs = (int(cfg.n_obs_steps),) if policy == "diffusion" else ()
    out: dict[str, torch.Tensor] = {
        "observation.state": torch.randn(batch, *obs, shapes.state_dim),
    }
    for key, (c, h, w) in shapes.cameras.items():
        out[key] = torch.rand(batch, *obs, c, h, w)
    chunk = int(cfg.horizon if policy == "diffusion" else cfg.chunk_size)
    out["action"] = torch.randn(batch, chunk, shapes.action_dim)
    out["action_is_pad"] = torch.zeros(batch, chunk, dtype=torch.bool)
    if policy in PADDED:
        n = int(cfg.tokenizer_max_length)  # SmolVLA pads to the longest task: an upper bound
        vocab = 100  # any valid id: the tiny test VLM has 400 tokens
        out["observation.language.tokens"] = torch.randint(0, vocab, (batch, n))
        out["observation.language.attention_mask"] = torch.ones(batch, n, dtype=torch.bool)
    return out


def make_optimizer(model: Any, cfg: Any) -> tuple[torch.optim.Optimizer, float]:
    """The policy's optimizer preset on the ``foreach`` path, and its grad-clip norm."""
    preset = cfg.get_optimizer_preset()
    opt = preset.build(model.get_optim_params())
    for group in opt.param_groups:
        group["foreach"] = True  # CUDA's default; CPU's default (False) has no big temporaries
    return opt, float(getattr(preset, "grad_clip_norm", 0.0) or 0.0)


def init_optimizer_state(opt: torch.optim.Optimizer) -> None:
    """Create AdamW's state as its first step would, so the step measured is a steady one."""
    for group in opt.param_groups:
        for p in group["params"]:
            if p.requires_grad and not opt.state[p]:
                opt.state[p] = {
                    "step": torch.tensor(0.0, dtype=torch.float32),
                    "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                    "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format),
                }


def build(
    recipe_policy: dict[str, Any], policy: str, shapes: Shapes, batch: int, device: str = "cpu"
) -> Setup:
    """Policy, batch and optimizer (with state) for ``batch`` samples of ``shapes``.

    ``device="cuda"`` is the measurement path: the same objects, moved to the GPU before the
    optimizer and its state are created (as ``lerobot-train`` orders it).
    """
    kw, notes = policy_kwargs(recipe_policy, policy, shapes)
    cfg = make_config(policy, kw, shapes)
    model = build_policy(policy, cfg)
    if device != "cpu":
        model.to(device)
    opt, clip = make_optimizer(model, cfg)
    init_optimizer_state(opt)
    amp, scaler = amp_of(cfg)
    data = {k: v.to(device) for k, v in make_batch(cfg, policy, shapes, batch).items()}
    return Setup(model, data, opt, amp, scaler, clip, notes)
