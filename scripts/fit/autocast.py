"""CUDA's autocast casting rules, applied by hand so a CPU-only (fake) run sees CUDA's dtypes.

Why: on a CUDA box LeRobot's Accelerator wraps forward in ``torch.autocast('cuda', dtype)``
(``use_amp`` -> fp16 with a grad scaler, ``policy.dtype=bfloat16`` -> bf16). Without CUDA,
``torch.autocast('cuda')`` silently does nothing, and CPU autocast casts different ops
(FIELD-NOTES, "Fake tensors"). So this mode applies CUDA's op lists at the ``torch`` function
level: casts go through ``Tensor.to`` above autograd, exactly as CUDA autocast's ``cached_cast``
does, so backward sees the same saved tensors and gradient dtypes.

The lists are CUDA's, from aten/src/ATen/autocast_mode.cpp (torch 2.11), reduced to the ops
these policies reach through ``torch``/``torch.nn.functional``:
- lower precision (fp16/bf16): convolutions, linear, matmul family, scaled_dot_product_attention
- float32: softmax family, norms, losses, exp/log/pow family, cumsum
- promote to the widest input type: cat, stack, addcmul, addcdiv, index_put, scatter_add
Autocast also caches the low-precision copy of each trainable leaf weight for the whole
forward (one copy per weight, not per use); :class:`CudaAutocast` does the same.

Composite Python functionals (``F.multi_head_attention_forward``, used by ACT) reach the mode
as one call, and a mode is switched off while it handles a call, so their inner
``linear``/``bmm``/``softmax`` would escape the rules. Real autocast works per aten op and
sees them; here such a function is re-run with the mode on, its own first
``has_torch_function`` check answered False once so it does not come straight back.

Gradient checkpointing (PI0) recomputes the forward during backward, after the autocast
region has closed; ``torch.utils.checkpoint`` records ``torch.autocast``'s state and re-enters
it for the recompute. While this mode is on, ``torch.utils.checkpoint.checkpoint`` is wrapped
so the recompute re-enters this mode the same way.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
import torch.nn.functional as F
import torch.utils.checkpoint as ckpt
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_map

LOWER = frozenset(
    {
        "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
        "conv_transpose3d", "convolution", "prelu", "addmm", "addmv", "addr", "matmul",
        "__matmul__", "__rmatmul__", "einsum", "mm", "mv", "linear", "addbmm", "baddbmm",
        "bmm", "chain_matmul", "multi_dot", "scaled_dot_product_attention",
    }
)  # fmt: skip
FP32 = frozenset(
    {
        "acos", "asin", "cosh", "erfinv", "exp", "expm1", "log", "log10", "log2", "log1p",
        "reciprocal", "rsqrt", "sinh", "tan", "pow", "__pow__", "softplus", "layer_norm",
        "group_norm", "norm", "frobenius_norm", "nuclear_norm", "cosine_similarity",
        "nll_loss", "kl_div", "l1_loss", "smooth_l1_loss", "huber_loss", "mse_loss",
        "binary_cross_entropy_with_logits", "cross_entropy", "dist", "cdist", "renorm",
        "logsumexp", "softmax", "log_softmax", "cumsum", "cumprod", "prod", "sum",
        "interpolate", "grid_sample",
    }
)  # fmt: skip
# softmax/log_softmax/cumsum/cumprod/prod/sum are "fp32 when the input is low precision"
# (their output dtype follows), which is what a cast of the input gives.
PROMOTE = frozenset({"cat", "stack", "addcmul", "addcdiv", "index_put", "scatter_add"})
LOW = (torch.float16, torch.bfloat16)


_CHECKS = ("has_torch_function", "has_torch_function_unary", "has_torch_function_variadic")


class _OneShot:
    """``F.has_torch_function*`` that answers False once when armed, then as the original."""

    def __init__(self) -> None:
        self.armed = False
        self.orig = {n: getattr(F, n) for n in _CHECKS}

    def install(self) -> None:
        for n, fn in self.orig.items():
            setattr(F, n, self._wrap(fn))

    def uninstall(self) -> None:
        for n, fn in self.orig.items():
            setattr(F, n, fn)

    def _wrap(self, fn: Any) -> Any:
        def check(*a: Any) -> bool:
            if self.armed:
                self.armed = False
                return False
            return fn(*a)

        return check


class CudaAutocast(TorchFunctionMode):
    """``torch.autocast('cuda', dtype)`` semantics for code running on CPU (real or fake)."""

    def __init__(self, dtype: torch.dtype) -> None:
        super().__init__()
        self.dtype = dtype
        self._cache: dict[int, torch.Tensor] = {}
        self._oneshot = _OneShot()
        self._depth = 0

    def __enter__(self) -> CudaAutocast:
        if self._depth == 0:
            self._oneshot.install()
            self._orig_ckpt = ckpt.checkpoint
            ckpt.checkpoint = self._checkpoint
        self._depth += 1
        return super().__enter__()

    def __exit__(self, *exc: Any) -> Any:
        self._depth -= 1
        if self._depth == 0:
            self._oneshot.uninstall()
            ckpt.checkpoint = self._orig_ckpt
            self._cache.clear()  # as autocast clears its weight cache on leaving the region
        return super().__exit__(*exc)

    def _checkpoint(self, function: Any, *args: Any, **kwargs: Any) -> Any:
        """``torch.utils.checkpoint.checkpoint`` whose recompute re-enters this mode."""

        def run(*a: Any, **k: Any) -> Any:
            if self._depth > 0:
                return function(*a, **k)  # the forward pass itself
            with self:
                return function(*a, **k)  # the recompute in backward

        return self._orig_ckpt(run, *args, **kwargs)

    def _low(self, x: Any) -> Any:
        if not (isinstance(x, torch.Tensor) and x.is_floating_point()) or x.dtype == self.dtype:
            return x
        if x.dtype == torch.float64:
            return x  # autocast leaves float64 alone
        if x.is_leaf and x.requires_grad:
            hit = self._cache.get(id(x))
            if hit is None:
                hit = self._cache[id(x)] = x.to(self.dtype)
            return hit
        return x.to(self.dtype)

    @staticmethod
    def _fp32(x: Any) -> Any:
        if isinstance(x, torch.Tensor) and x.dtype in LOW:
            return x.float()
        return x

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        if name in LOWER:
            args, kwargs = tree_map(self._low, (args, kwargs))
        elif name in FP32 and _has_low(args):
            args, kwargs = tree_map(self._fp32, (args, kwargs))
        elif name in PROMOTE:
            args, kwargs = _promote(args, kwargs)
        elif inspect.isfunction(func) and func.__module__ == F.__name__:
            self._oneshot.armed = True  # a composite: run its body with the rules on
            with self:
                return func(*args, **kwargs)
        return func(*args, **kwargs)


def _has_low(args: Any) -> bool:
    found = []
    tree_map(lambda x: found.append(isinstance(x, torch.Tensor) and x.dtype in LOW), args)
    return any(found)


def _promote(args: Any, kwargs: dict) -> tuple[Any, dict]:
    dtypes: list[torch.dtype] = []
    tree_map(
        lambda x: (
            dtypes.append(x.dtype)
            if isinstance(x, torch.Tensor) and x.is_floating_point()
            else None
        ),
        (args, kwargs),
    )
    if len(set(dtypes)) <= 1:
        return args, kwargs
    wide = torch.float32 if torch.float32 in dtypes else dtypes[0]
    if torch.float64 in dtypes:
        wide = torch.float64
    return tree_map(
        lambda x: (
            x.to(wide)
            if isinstance(x, torch.Tensor) and x.is_floating_point() and x.dtype != wide
            else x
        ),
        (args, kwargs),
    )
