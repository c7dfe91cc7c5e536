"""Predict a recipe's peak GPU memory: one fake-tensor training step, bytes by category.

The prediction is the peak of *allocated* memory (what ``torch.cuda.max_memory_allocated``
reports) during a steady training step: weights, AdamW state and the batch exist before the
step; activations, gradients and the optimizer's temporaries come and go inside it. What CUDA
needs beyond allocated memory is added as two named constants (:data:`CUDA_CONTEXT_GIB`,
:data:`ALLOCATOR_MARGIN`) before comparing with the recipe's GPU.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

GIB = 1024**3
# The CUDA context (driver state, kernels of torch/cuBLAS/cuDNN loaded lazily) lives outside
# PyTorch's allocator: a bare `torch.cuda.init()` shows ~0.3-0.5 GiB in nvidia-smi with CUDA 12
# lazy module loading, ~0.6-0.8 GiB once cuBLAS/cuDNN handles exist (PyTorch docs, "CUDA
# memory management"; commonly reported sizes, not measured here: no GPU).
CUDA_CONTEXT_GIB = 0.75
# Reserved minus allocated: the caching allocator keeps freed blocks and rounds segments
# (2 MiB / 20 MiB); with expandable_segments:True (our default) fragmentation stays small.
# 10 % of the allocated peak is the margin we add; a GPU measurement should replace it.
ALLOCATOR_MARGIN = 0.10
# "fits" leaves 10 % of the card free, the same rule as make train's free-memory preflight
# (scripts/train/gpu.py: check_budget asks for 90 % of the budget free).
FIT_FRACTION = 0.90


@dataclass
class StepMemory:
    """Bytes of one training step, by category (all rounded as the CUDA allocator rounds)."""

    batch: int
    params_total: int
    params_trainable: int
    weights: int
    gradients: int
    optimizer: int
    inputs: int
    activations: int
    phases: dict[str, int]
    peak: int
    seconds: float
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def need_gib(peak: int) -> float:
    """What the card must hold for an allocated peak of ``peak`` bytes."""
    return peak / GIB * (1 + ALLOCATOR_MARGIN) + CUDA_CONTEXT_GIB


def verdict(peak: int, gpu_gb: float) -> str:
    """``fits`` (within 90 % of the card), ``tight`` (within the card) or ``does not fit``."""
    need = need_gib(peak)
    if need <= FIT_FRACTION * gpu_gb:
        return "fits"
    return "tight" if need <= gpu_gb else "does not fit"


def _log(msg: str) -> None:
    print(f"[fit] {msg}", file=sys.stderr, flush=True)


def measure_step(
    policy_block: dict[str, Any],
    policy: str,
    shapes: Any,
    batch: int,
    *,
    fake: bool = True,
    round_to: int | None = None,
    policy_overrides: dict[str, Any] | None = None,
    prepare: Callable[[Any], None] | None = None,
) -> StepMemory:
    """Build and run one step under the live-bytes tracker; fake tensors unless ``fake=False``.

    ``fake=False`` runs the same step on real CPU tensors (the agreement test). ``round_to``
    defaults to the CUDA allocator's 512-byte blocks. ``prepare(model)`` changes the built
    model before the step (a what-if of :mod:`scripts.fit.guide`, e.g. fp16 frozen buffers).
    """
    import contextlib

    import torch
    from torch._subclasses.fake_tensor import FakeTensorMode

    from scripts.fit import build as b
    from scripts.fit.shims import fake_shims
    from scripts.fit.step import Amp, train_step
    from scripts.fit.tracker import CUDA_BLOCK, LiveBytes, storage_bytes

    rt = CUDA_BLOCK if round_to is None else round_to
    block = dict(policy_block, **(policy_overrides or {}))
    t0 = time.perf_counter()
    torch.manual_seed(0)
    ctx = contextlib.ExitStack()
    with ctx:
        if fake:
            ctx.enter_context(fake_shims())
            ctx.enter_context(FakeTensorMode())
        setup = b.build(block, policy, shapes, batch)
        model, opt = setup.policy, setup.optimizer
        if prepare is not None:
            prepare(model)
        params = list(model.parameters())
        trainable = [p for p in params if p.requires_grad]
        state = [t for s in opt.state.values() for t in s.values() if torch.is_tensor(t)]
        tracker = LiveBytes(rt)
        tracker.add([*params, *model.buffers(), *state, *setup.batch.values()])
        base = tracker.live
        tracker.reset_peak()
        amp = Amp(setup.amp_dtype, setup.grad_scaler)
        _log(f"{policy} batch {batch}: built in {time.perf_counter() - t0:.0f} s, stepping")
        with tracker:
            train_step(model, setup.batch, opt, amp, setup.grad_clip_norm, tracker.mark)
        grads = sum((p.numel() * p.element_size() + rt - 1) // rt * rt for p in trainable)
        mem = StepMemory(
            batch=batch,
            params_total=sum(p.numel() for p in params),
            params_trainable=sum(p.numel() for p in trainable),
            weights=storage_bytes([*params, *model.buffers()], rt),
            gradients=grads,
            optimizer=storage_bytes(state, rt),
            inputs=storage_bytes(setup.batch.values(), rt),
            activations=max(0, tracker.marks["forward"] - base),
            phases=dict(tracker.marks),
            peak=max(tracker.marks.values()),
            seconds=time.perf_counter() - t0,
            notes=setup.notes,
        )
    _log(f"{policy} batch {batch}: peak {mem.peak / GIB:.2f} GiB ({mem.seconds:.0f} s)")
    return mem


def largest_batch(fit_at: dict[int, int], gpu_gb: float) -> tuple[int, float]:
    """The largest batch whose peak fits, from peaks at two or more batch sizes.

    Peak memory is affine in the batch (weights and optimizer state fixed, activations per
    sample), so two predictions give the slope; returns (batch, bytes per sample).
    """
    (b1, p1), (b2, p2) = sorted(fit_at.items())[:1] + sorted(fit_at.items())[-1:]
    per = (p2 - p1) / (b2 - b1) if b2 != b1 else float(p1) / max(b1, 1)
    fixed = p1 - per * b1
    budget = (FIT_FRACTION * gpu_gb - CUDA_CONTEXT_GIB) / (1 + ALLOCATOR_MARGIN) * GIB
    if per <= 0:
        return 0, per
    return max(0, int((budget - fixed) // per)), per
