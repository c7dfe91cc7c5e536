"""Run in the act env: fold_resnet_norms on real LeRobot ACT and Diffusion models.

Prints one JSON line: per model, how many norms were folded and the largest relative
difference of predict_action_chunk (same seed) before vs after. The norms' running stats and
affine parameters are randomised first, so a wrong fold formula cannot hide behind identity
norms (a fresh FrozenBatchNorm2d is the identity map).
"""

from __future__ import annotations

import copy
import json
import sys

import torch
from torch import nn
from torchvision.ops.misc import FrozenBatchNorm2d

sys.path.insert(0, sys.argv[1])
from lerobot.configs.types import FeatureType, PolicyFeature

from scripts.eval.fold import fold_resnet_norms


def randomise_norms(model: nn.Module) -> None:
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, (FrozenBatchNorm2d, nn.BatchNorm2d)):
            n = m.running_mean.numel()
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) * 0.4 + 0.8)
            m.bias.data.copy_(torch.randn(n, generator=g) * 0.1)


def features(cams: dict[str, tuple[int, int, int]], state: int, action: int):
    inputs = {
        f"observation.images.{k}": PolicyFeature(FeatureType.VISUAL, v) for k, v in cams.items()
    }
    inputs["observation.state"] = PolicyFeature(FeatureType.STATE, (state,))
    return inputs, {"action": PolicyFeature(FeatureType.ACTION, (action,))}


def compare(policy: nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, float]:
    policy.eval()
    randomise_norms(policy)
    folded = copy.deepcopy(policy)
    count = fold_resnet_norms(folded)
    with torch.no_grad():
        torch.manual_seed(0)
        ref = policy.predict_action_chunk(dict(batch))
        torch.manual_seed(0)
        out = folded.predict_action_chunk(dict(batch))
    rel = ((out - ref).abs().max() / ref.abs().max()).item()  # relative to the chunk's size
    norms_left = sum(isinstance(m, (FrozenBatchNorm2d, nn.BatchNorm2d)) for m in folded.modules())
    with torch.no_grad():  # the same fold with the shift left out must be caught
        broken = copy.deepcopy(policy)
        for m in broken.modules():
            if isinstance(m, (FrozenBatchNorm2d, nn.BatchNorm2d)):
                m.running_mean.zero_()
                m.bias.data.zero_()
        torch.manual_seed(0)
        wrong = broken.predict_action_chunk(dict(batch))
    wrong_rel = ((wrong - ref).abs().max() / ref.abs().max()).item()
    return {"folded": count, "norms_left": norms_left, "max_rel": rel, "wrong_rel": wrong_rel}


def main() -> None:
    from lerobot.policies.act.configuration_act import ACTConfig
    from lerobot.policies.act.modeling_act import ACTPolicy
    from lerobot.policies.diffusion.configuration_diffusion import DiffusionConfig
    from lerobot.policies.diffusion.modeling_diffusion import DiffusionPolicy

    torch.manual_seed(0)
    cams = {"laptop": (3, 96, 128), "phone": (3, 64, 80)}
    inputs, outputs = features(cams, 6, 6)
    act = ACTPolicy(ACTConfig(input_features=inputs, output_features=outputs, dim_model=64,
                              n_heads=8, dim_feedforward=128, chunk_size=10, n_action_steps=10,
                              pretrained_backbone_weights=None, device="cpu"))  # fmt: skip
    batch = {f"observation.images.{k}": torch.rand(5, *v) for k, v in cams.items()}
    batch["observation.state"] = torch.randn(5, 6)
    result = {"act": compare(act, batch)}

    inputs, outputs = features({"front": (3, 48, 64)}, 6, 6)
    diff = DiffusionPolicy(DiffusionConfig(
        input_features=inputs, output_features=outputs, use_group_norm=False,
        pretrained_backbone_weights=None, crop_shape=None, down_dims=(32, 64),
        num_inference_steps=4, horizon=8, n_action_steps=4, device="cpu"))  # fmt: skip
    hist = {"observation.images.front": torch.rand(3, 2, 3, 48, 64),
            "observation.state": torch.randn(3, 2, 6)}  # fmt: skip
    result["diffusion_batchnorm"] = compare(diff, hist)
    torch.manual_seed(0)
    grouped = DiffusionPolicy(DiffusionConfig(
        input_features=inputs, output_features=outputs, use_group_norm=True,
        pretrained_backbone_weights=None, crop_shape=None, down_dims=(32, 64),
        num_inference_steps=4, horizon=8, n_action_steps=4, device="cpu"))  # fmt: skip
    result["diffusion_groupnorm"] = {"folded": fold_resnet_norms(grouped)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
