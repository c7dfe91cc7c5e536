"""The training step, one function for the fake-tensor prediction and the real CUDA measurement.

It mirrors ``lerobot.scripts.lerobot_train.update_policy`` under Accelerate: forward and loss
inside autocast, backward (scaled for fp16), unscale + clip-grad-norm, ``optimizer.step()``,
``zero_grad()`` (grads set to None). ``Amp`` carries the only device-specific part: on CUDA it
is ``torch.autocast('cuda')`` and a real ``GradScaler``; elsewhere CUDA's autocast rules are
applied by :class:`scripts.fit.autocast.CudaAutocast` and the scaler's arithmetic is done by hand
(one multiply of the loss, one in-place multiply of every gradient, as the scaler does).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from scripts.fit.autocast import CudaAutocast

GRAD_SCALE = 65536.0  # torch.amp.GradScaler's init_scale


@dataclass
class Amp:
    """How one step handles mixed precision on the device it runs on."""

    dtype: torch.dtype | None
    scaler: bool
    cuda: bool = False
    _gs: Any = None

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.dtype is None:
            return contextlib.nullcontext()
        if self.cuda:
            return torch.autocast("cuda", dtype=self.dtype)
        return CudaAutocast(self.dtype)

    def backward(self, loss: torch.Tensor) -> None:
        if not self.scaler:
            loss.backward()
        elif self.cuda:
            self._gs = self._gs or torch.amp.GradScaler("cuda")
            self._gs.scale(loss).backward()
        else:
            (loss * GRAD_SCALE).backward()

    def unscale(self, opt: torch.optim.Optimizer) -> None:
        if not self.scaler:
            return
        if self.cuda:
            self._gs.unscale_(opt)
            return
        grads = [p.grad for g in opt.param_groups for p in g["params"] if p.grad is not None]
        if grads:
            torch._foreach_mul_(grads, 1.0 / GRAD_SCALE)

    def step(self, opt: torch.optim.Optimizer) -> None:
        if self.scaler and self.cuda:
            self._gs.step(opt)
            self._gs.update()
        else:
            opt.step()


def train_step(
    policy: Any,
    batch: dict[str, torch.Tensor],
    opt: torch.optim.Optimizer,
    amp: Amp,
    grad_clip_norm: float,
    mark: Callable[[str], None] = lambda _name: None,
) -> None:
    """One LeRobot training step; ``mark(phase)`` is called after each phase (for peaks)."""
    policy.train()
    with amp.autocast():
        loss, _ = policy.forward(batch)
    mark("forward")
    amp.backward(loss)
    del loss
    mark("backward")
    amp.unscale(opt)
    params = [p for g in opt.param_groups for p in g["params"]]
    # foreach=None: CUDA takes the foreach path by default; CPU refuses foreach=True. Either
    # way the norms are scalars and the scaling is in place, so the peak is the same.
    torch.nn.utils.clip_grad_norm_(params, grad_clip_norm if grad_clip_norm > 0 else float("inf"))
    mark("clip")
    amp.step(opt)
    mark("optimizer")
    opt.zero_grad(set_to_none=True)
