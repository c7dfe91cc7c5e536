"""Run in envs/act: show that weights put in place by `make weights-import` load in LeRobot.

make  OUT.pth POLICY_DIR   write a random torchvision ResNet-18 state dict (torchvision's file
                           name) and a tiny ACT policy saved by LeRobot's save_pretrained
load  TORCH_HOME POLICY_DIR  build LeRobot's ACT with pretrained_backbone_weights=
                           ResNet18_Weights.IMAGENET1K_V1 (torchvision reads TORCH_HOME) and
                           ACTPolicy.from_pretrained(POLICY_DIR); print one JSON line of facts
"""

from __future__ import annotations

import json
import sys

import torch
import torchvision
from lerobot.configs.types import FeatureType, PolicyFeature
from lerobot.policies.act.configuration_act import ACTConfig
from lerobot.policies.act.modeling_act import ACTPolicy
from safetensors.torch import load_file


def config(backbone: str | None) -> ACTConfig:
    return ACTConfig(
        input_features={
            "observation.state": PolicyFeature(type=FeatureType.STATE, shape=(6,)),
            "observation.images.cam": PolicyFeature(type=FeatureType.VISUAL, shape=(3, 64, 64)),
        },
        output_features={"action": PolicyFeature(type=FeatureType.ACTION, shape=(6,))},
        pretrained_backbone_weights=backbone,
        dim_model=32, n_heads=2, dim_feedforward=64, n_encoder_layers=1, n_decoder_layers=1,
        chunk_size=4, n_action_steps=4, use_vae=False, device="cpu",
    )  # fmt: skip


def main() -> None:
    cmd, a, b = sys.argv[1:4]
    torch.manual_seed(0)
    if cmd == "make":
        torch.save(torchvision.models.resnet18(weights=None).state_dict(), a)
        ACTPolicy(config(None)).save_pretrained(b)
        return
    torch.hub.set_dir(f"{a}/hub")
    own = torch.load(f"{a}/hub/checkpoints/resnet18-f37072fd.pth", weights_only=True)
    built = ACTPolicy(config("ResNet18_Weights.IMAGENET1K_V1"))
    conv1 = built.model.backbone.conv1.weight
    loaded = ACTPolicy.from_pretrained(b)
    saved = load_file(f"{b}/model.safetensors")
    state = loaded.state_dict()
    batch = {
        "observation.state": torch.zeros(1, 6),
        "observation.images.cam": torch.rand(1, 3, 64, 64),
    }
    loaded.eval()
    action = loaded.select_action(batch)
    print(
        json.dumps(
            {
                "backbone_is_imported_file": bool(torch.equal(conv1, own["conv1.weight"])),
                "policy_equals_imported_file": sorted(saved) == sorted(state)
                and all(torch.equal(saved[k], state[k]) for k in saved),
                "action_shape": list(action.shape),
                "action_finite": bool(torch.isfinite(action).all()),
            }
        )
    )


if __name__ == "__main__":
    main()
