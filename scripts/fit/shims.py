"""The small patches a LeRobot training step needs to run on fake tensors; each says why.

Fake tensors carry no data, so anything that *reads values* during the step must be answered
without data. Every patch is active only inside :func:`fake_shims` and only changes behaviour
for fake tensors (real tensors, e.g. the CPU agreement test, take the original code path):

1. ``Tensor.item`` / ``tolist`` / ``numpy``: policies log ``loss.item()`` and per-dim losses
   (``.cpu().numpy().tolist()``) inside ``forward``, and AdamW reads its step count; fake
   scalars answer 1 (AdamW divides by ``1 - beta ** step``), arrays zeros. Host values only:
   no device memory is involved.
2. ``torch.distributions`` argument validation reads values (``constraint.check(x).all()``);
   SmolVLA/PI0 sample the flow-matching time from a Beta. Validation is switched off.
3. SmolVLM's vision embedding writes position ids through a boolean mask
   (``position_ids[mask] = pos_ids[mask]``), whose output shape depends on data. LeRobot always
   passes ``patch_attention_mask=None`` (all patches real), where that write is ``position_ids =
   pos_ids``; the patched forward does exactly that and nothing else.
4. ``Module.to(dtype)`` (PI0 casts itself to bfloat16 in its constructor) swaps each fake
   parameter in place with ``torch.utils.swap_tensors``, which fails on fake tensors. The
   shim converts instead by replacing each floating parameter/buffer with a new one of the
   target dtype (same requires_grad), one conversion per distinct tensor so ties survive;
   ``.to("cpu")`` of a fake (already cpu) module is a no-op.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch._subclasses.fake_tensor import FakeTensor


def _one_like(t: torch.Tensor) -> Any:
    """1 in ``t``'s kind: AdamW's bias correction divides by ``1 - beta ** step.item()``."""
    if t.dtype == torch.bool:
        return True
    return 1 if not t.is_floating_point() and not t.is_complex() else 1.0


@contextlib.contextmanager
def fake_shims() -> Iterator[None]:
    """Apply shims 1-4 for the duration of a fake-mode build and step."""
    orig_item, orig_tolist, orig_numpy = torch.Tensor.item, torch.Tensor.tolist, torch.Tensor.numpy

    def item(self: torch.Tensor) -> Any:
        return _one_like(self) if isinstance(self, FakeTensor) else orig_item(self)

    def tolist(self: torch.Tensor) -> Any:
        if isinstance(self, FakeTensor):
            return np.zeros(tuple(self.shape)).tolist() if self.dim() else _one_like(self)
        return orig_tolist(self)

    def numpy(self: torch.Tensor, *a: Any, **kw: Any) -> np.ndarray:
        if isinstance(self, FakeTensor):
            return np.zeros(tuple(self.shape), dtype=np.float32)
        return orig_numpy(self, *a, **kw)

    validate = torch.distributions.Distribution._validate_args
    orig_to = torch.nn.Module.to

    def to(self: torch.nn.Module, *args: Any, **kwargs: Any) -> torch.nn.Module:
        device, dtype, _nb, _fmt = torch._C._nn._parse_to(*args, **kwargs)
        fake = any(isinstance(p, FakeTensor) for p in self.parameters())
        if not fake or (device is not None and device.type != "cpu"):
            return orig_to(self, *args, **kwargs)
        return self if dtype is None else _cast_module(self, dtype)

    restore_vision = _patch_smolvlm_vision()
    torch.Tensor.item, torch.Tensor.tolist, torch.Tensor.numpy = item, tolist, numpy
    torch.nn.Module.to = to
    torch.distributions.Distribution.set_default_validate_args(False)
    try:
        yield
    finally:
        torch.Tensor.item, torch.Tensor.tolist, torch.Tensor.numpy = (
            orig_item,
            orig_tolist,
            orig_numpy,
        )
        torch.nn.Module.to = orig_to
        torch.distributions.Distribution.set_default_validate_args(validate)
        restore_vision()


def _cast_module(root: torch.nn.Module, dtype: torch.dtype) -> torch.nn.Module:
    """Shim 4: ``root.to(dtype)`` for fake parameters, keeping tied tensors tied."""
    done: dict[int, torch.Tensor] = {}
    with torch.no_grad():
        for mod in root.modules():
            for key, p in list(mod._parameters.items()):
                if p is None or not p.is_floating_point():
                    continue
                if id(p) not in done:
                    done[id(p)] = torch.nn.Parameter(p.to(dtype), requires_grad=p.requires_grad)
                mod._parameters[key] = done[id(p)]
            for key, buf in list(mod._buffers.items()):
                if buf is not None and buf.is_floating_point():
                    mod._buffers[key] = buf.to(dtype)
    return root


def _patch_smolvlm_vision() -> Any:
    """Shim 3: SmolVLM vision embeddings without the data-dependent boolean-mask write."""
    try:
        from transformers.models.smolvlm import modeling_smolvlm as m
    except ImportError:  # envs/act has no transformers: nothing to patch
        return lambda: None
    cls = m.SmolVLMVisionEmbeddings
    orig = cls.forward

    def forward(
        self: Any, pixel_values: torch.Tensor, patch_attention_mask: torch.Tensor
    ) -> torch.Tensor:
        if not isinstance(pixel_values, FakeTensor):
            return orig(self, pixel_values, patch_attention_mask)
        batch_size, _, max_im_h, max_im_w = pixel_values.shape
        embeddings = self.patch_embedding(pixel_values).flatten(2).transpose(1, 2)
        n_h, n_w = max_im_h // self.patch_size, max_im_w // self.patch_size
        boundaries = torch.arange(
            1 / self.num_patches_per_side, 1.0, 1 / self.num_patches_per_side,
            device=pixel_values.device,
        )  # fmt: skip
        h = torch.arange(n_h, device=pixel_values.device, dtype=torch.float32) / n_h
        w = torch.arange(n_w, device=pixel_values.device, dtype=torch.float32) / n_w
        h = torch.clamp(h, max=1.0 - 1e-6).to(pixel_values.dtype)
        w = torch.clamp(w, max=1.0 - 1e-6).to(pixel_values.dtype)
        bh = torch.bucketize(h, boundaries, right=True)
        bw = torch.bucketize(w, boundaries, right=True)
        pos = (bh[:, None] * self.num_patches_per_side + bw[None, :]).reshape(1, -1)
        position_ids = pos.expand(batch_size, -1).contiguous()
        return embeddings + self.position_embedding(position_ids)

    cls.forward = forward

    def restore() -> None:
        cls.forward = orig

    return restore
