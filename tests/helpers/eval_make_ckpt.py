"""Write a tiny randomly initialised Diffusion, SmolVLA or PI0 checkpoint for a v3.0 dataset.

Why: the eval tests need real ``pretrained_model`` folders of the stochastic families, saved
the way ``lerobot-train`` saves them (``make_policy`` from the dataset's metadata,
``make_pre_post_processors`` with its stats, ``save_pretrained`` of policy and processors),
without a download or a training step. Sizes:

- ``diffusion``: the diffusion_cpu recipe's small U-Net, ResNet-18 from scratch, 10 DDPM
  inference steps (runs in envs/act);
- ``smolvla``: the smolvla_cpu recipe on the tiny random SmolVLM2 of
  ``scripts.train.make_tiny_smolvla`` (``--vlm DIR``; runs in envs/smolvla);
- ``pi0``: the smallest PI0 LeRobot 0.6.1 can run: PaliGemma ``gemma_2b`` + action expert
  ``gemma_300m`` (~3.5 B parameters), ``dtype="bfloat16"`` (LeRobot's own knob: ~7 GB instead
  of ~14 GB, the vision path stays float32), 28x28 images. A 1024-wide PaliGemma builds but
  fails on the first frame (scripts/common/paligemma.py), so it cannot be used to save time.
  PaliGemma's tokenizer is replaced by the tiny VLM's tokenizer directory (``--vlm DIR``) in
  the saved preprocessor, because the real one is a hub download.

Usage: python tests/helpers/eval_make_ckpt.py KIND DATASET OUT [--vlm DIR]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def config(kind: str, vlm: Path | None):
    if kind == "diffusion":
        from lerobot.policies.diffusion.configuration_diffusion import DiffusionConfig

        return DiffusionConfig(
            device="cpu",
            push_to_hub=False,
            pretrained_backbone_weights=None,
            down_dims=(32, 64),
            diffusion_step_embed_dim=32,
            spatial_softmax_num_keypoints=16,
            horizon=16,
            n_action_steps=8,
            num_inference_steps=10,
        )
    if kind == "smolvla":
        from lerobot.policies.smolvla.configuration_smolvla import SmolVLAConfig

        return SmolVLAConfig(
            device="cpu",
            push_to_hub=False,
            vlm_model_name=str(vlm),
            load_vlm_weights=False,
            resize_imgs_with_padding=(64, 64),
            chunk_size=10,
            n_action_steps=10,
            num_steps=4,
        )
    from lerobot.policies.pi0.configuration_pi0 import PI0Config

    return PI0Config(
        device="cpu",
        push_to_hub=False,
        paligemma_variant="gemma_2b",
        action_expert_variant="gemma_300m",
        dtype="bfloat16",
        image_resolution=(28, 28),
        chunk_size=4,
        n_action_steps=4,
        num_inference_steps=2,
    )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("kind", choices=("diffusion", "smolvla", "pi0"))
    p.add_argument("dataset", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--vlm", type=Path, default=None)
    a = p.parse_args()

    import torch
    from lerobot.datasets.lerobot_dataset import LeRobotDatasetMetadata
    from lerobot.policies.factory import make_policy, make_pre_post_processors

    torch.manual_seed(0)
    meta = LeRobotDatasetMetadata(repo_id=f"local/{a.dataset.name}", root=a.dataset)
    cfg = config(a.kind, a.vlm)
    if a.kind == "pi0":
        import lerobot.processor.tokenizer_processor as tp

        # The pipeline is built with PaliGemma's tokenizer name; resolve it to the local one.
        real = tp.AutoTokenizer.from_pretrained
        tp.AutoTokenizer.from_pretrained = lambda name, *x, **k: real(str(a.vlm), *x, **k)
    policy = make_policy(cfg, ds_meta=meta)
    pre, post = make_pre_post_processors(policy.config, dataset_stats=meta.stats)
    a.out.mkdir(parents=True, exist_ok=True)
    policy.save_pretrained(a.out)
    pre.save_pretrained(a.out)
    post.save_pretrained(a.out)
    if a.kind == "pi0":  # the saved pipeline names the tokenizer it loads: the local one
        f = a.out / "policy_preprocessor.json"
        doc = json.loads(f.read_text())
        for step in doc["steps"]:
            if "tokenizer_name" in step.get("config", {}):
                step["config"]["tokenizer_name"] = str(a.vlm)
        f.write_text(json.dumps(doc, indent=2))
    print(a.out)


if __name__ == "__main__":
    main()
