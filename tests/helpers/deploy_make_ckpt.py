"""Write a tiny randomly initialised ACT checkpoint for a v3.0 dataset (runs in envs/act).

Why: the deploy tests need a real LeRobot ``pretrained_model`` directory (config.json,
model.safetensors, pre/post-processors with the dataset's stats) but not a trained one, so we
build it the way ``lerobot-train`` saves it (``make_policy`` from the dataset's metadata,
``make_pre_post_processors`` with its stats, ``save_pretrained``) without a training step:
seconds instead of a minute on a shared CPU. Sizes are the act_cpu recipe's.

Usage: envs/act/.venv/bin/python tests/helpers/deploy_make_ckpt.py DATASET OUT [--chunk 10]
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("dataset", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--chunk", type=int, default=10)
    a = p.parse_args()

    import torch
    from lerobot.datasets.lerobot_dataset import LeRobotDatasetMetadata
    from lerobot.policies.act.configuration_act import ACTConfig
    from lerobot.policies.factory import make_policy, make_pre_post_processors

    torch.manual_seed(0)
    meta = LeRobotDatasetMetadata(repo_id=f"local/{a.dataset.name}", root=a.dataset)
    cfg = ACTConfig(
        device="cpu",
        push_to_hub=False,
        pretrained_backbone_weights=None,
        chunk_size=a.chunk,
        n_action_steps=a.chunk,
        dim_model=64,
        dim_feedforward=128,
        n_encoder_layers=1,
        n_vae_encoder_layers=1,
    )
    policy = make_policy(cfg, ds_meta=meta)
    pre, post = make_pre_post_processors(policy.config, dataset_stats=meta.stats)
    out = a.out
    out.mkdir(parents=True, exist_ok=True)
    policy.save_pretrained(out)
    pre.save_pretrained(out)
    post.save_pretrained(out)
    print(out)


if __name__ == "__main__":
    main()
