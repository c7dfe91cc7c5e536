"""Fold each ResNet batch norm into the convolution before it, for evaluation only.

Why: ACT's (and Diffusion's) image backbone is a torchvision ResNet whose norms are frozen
(``FrozenBatchNorm2d``; Diffusion's ``BatchNorm2d`` in eval mode). A frozen norm is an affine
map per channel, ``y = x * s + t``, so ``norm(conv(x))`` equals one convolution with weights
``W * s`` and bias ``b * s + t``. On a CPU that removes four elementwise passes per norm (20 in
a ResNet18), and with ``channels_last`` weights oneDNN's convolutions run without layout
reorders: together about 15-20 % of ``make eval``'s time on the act_cpu sizes (docs/eval.md).

The algebra is exact; only float32 rounding differs: on the act_cpu checkpoint the chunks
equal LeRobot's unfolded forward to ~2e-6 relative (tests hold ``make eval`` to an independent
LeRobot computation at 1e-4). Only pairs whose order the code fixes are folded: those
torchvision's ResNet, BasicBlock and Bottleneck ``forward`` apply (conv1/bn1, conv2/bn2,
conv3/bn3) and adjacent children of an ``nn.Sequential`` or ``IntermediateLayerGetter`` (the
stems, each ``downsample``); a norm that still trains (``training`` or no running stats) is
left alone, as is every other module. The robot (``make serve``) runs the policy unfolded,
as LeRobot does.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

PAIRS = (("conv1", "bn1"), ("conv2", "bn2"), ("conv3", "bn3"))


def _affine(norm: nn.Module) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(scale, shift) of a frozen per-channel norm, or None if it is not one."""
    from torchvision.ops.misc import FrozenBatchNorm2d

    if isinstance(norm, FrozenBatchNorm2d):
        scale = norm.weight * (norm.running_var + norm.eps).rsqrt()  # its own forward's formula
        return scale, norm.bias - norm.running_mean * scale
    if isinstance(norm, nn.BatchNorm2d) and not norm.training and norm.track_running_stats:
        weight = norm.weight if norm.affine else torch.ones_like(norm.running_var)
        bias = norm.bias if norm.affine else torch.zeros_like(norm.running_mean)
        scale = weight / torch.sqrt(norm.running_var + norm.eps)  # F.batch_norm's eval formula
        return scale, bias - norm.running_mean * scale
    return None


def _folded(conv: nn.Conv2d, scale: torch.Tensor, shift: torch.Tensor) -> nn.Conv2d:
    new = nn.Conv2d(
        conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
        conv.dilation, conv.groups, bias=True, padding_mode=conv.padding_mode,
        device=conv.weight.device, dtype=conv.weight.dtype,
    )  # fmt: skip
    new.weight.copy_(conv.weight * scale.reshape(-1, 1, 1, 1))
    bias = conv.bias if conv.bias is not None else torch.zeros_like(shift)
    new.bias.copy_(bias * scale + shift)
    new.requires_grad_(False)
    return new.to(memory_format=torch.channels_last)  # oneDNN's and cuDNN's fastest layout


def _fold_pair(owner: nn.Module, conv_name: str, norm_name: str) -> int:
    conv, norm = getattr(owner, conv_name, None), getattr(owner, norm_name, None)
    if not isinstance(conv, nn.Conv2d) or norm is None:
        return 0
    affine = _affine(norm)
    if affine is None:
        return 0
    setattr(owner, conv_name, _folded(conv, *affine))
    setattr(owner, norm_name, nn.Identity())
    return 1


def _in_order(module: nn.Module) -> list[tuple[str, str]]:
    """Adjacent (first, second) child names of a container that runs its children in order."""
    from torchvision.models._utils import IntermediateLayerGetter

    keep: set[str] = set()
    if isinstance(module, IntermediateLayerGetter):  # ACT's backbone: a ResNet's children
        keep = set(module.return_layers)  # a returned conv output must stay the conv's own
    elif type(module) is not nn.Sequential:
        return []
    names = list(module._modules)
    return [(a, b) for a, b in itertools.pairwise(names) if a not in keep]


@torch.no_grad()
def fold_resnet_norms(model: nn.Module) -> int:
    """Fold every frozen norm that directly follows its convolution inside ``model``.

    Where "directly follows" is known from the code: torchvision's ResNet, BasicBlock and
    Bottleneck forwards (conv1/bn1, conv2/bn2, conv3/bn3), and adjacent children of an
    ``nn.Sequential`` or ``IntermediateLayerGetter`` (ACT's and Diffusion's stems, each
    ``downsample``). Returns how many norms were folded (20 for a ResNet18).
    """
    from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

    folded = 0
    for module in list(model.modules()):
        if isinstance(module, (ResNet, BasicBlock, Bottleneck)):
            for conv_name, norm_name in PAIRS:
                folded += _fold_pair(module, conv_name, norm_name)
        for conv_name, norm_name in _in_order(module):
            folded += _fold_pair(module, conv_name, norm_name)
    return folded
