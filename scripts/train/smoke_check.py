"""Reload a checkpoint with the pinned LeRobot and run select_action on a real dataset frame.

Runs inside the recipe's environment (envs/act or envs/smolvla), called by ``scripts.train.smoke``.
Why: a checkpoint that trains but cannot be reloaded, or that wants other camera names than
the dataset has, fails at deployment time on the robot; this finds it on the training box.
Prints one JSON object (the facts checked) on the last line; exit 1 when a check fails.

Usage: python -m scripts.train.smoke_check CKPT_DIR DATASET_ROOT [--video-backend pyav]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def observation_from_item(item: dict, input_keys: list[str]) -> dict:
    """One dataset frame as a batch of one, the way a robot observation reaches the policy."""
    import torch

    obs = {}
    for key in input_keys:
        value = item[key]
        if isinstance(value, torch.Tensor):
            obs[key] = value.unsqueeze(0)
    obs["task"] = [item.get("task", "")]
    return obs


def check(ckpt: Path, root: Path, video_backend: str | None) -> dict:
    """Load policy + processors from ``ckpt``; one select_action on frame 0 of ``root``."""
    import torch
    from lerobot.configs.policies import PreTrainedConfig
    from lerobot.datasets.lerobot_dataset import LeRobotDataset
    from lerobot.policies.factory import get_policy_class, make_pre_post_processors

    t0 = time.perf_counter()
    cfg = PreTrainedConfig.from_pretrained(ckpt)
    cfg.device = "cpu" if not torch.cuda.is_available() else cfg.device
    train_cfg = json.loads((ckpt / "train_config.json").read_text())
    rename = train_cfg.get("rename_map") or {}
    policy = get_policy_class(cfg.type).from_pretrained(ckpt, config=cfg)
    policy.eval()
    pre, post = make_pre_post_processors(
        policy.config,
        pretrained_path=str(ckpt),
        preprocessor_overrides={
            "device_processor": {"device": cfg.device},
            "rename_observations_processor": {"rename_map": rename},
        },
        postprocessor_overrides={"device_processor": {"device": cfg.device}},
    )
    load_s = time.perf_counter() - t0
    ds = LeRobotDataset(f"local/{root.name}", root=root, video_backend=video_backend)
    item = ds[0]
    data_cams = list(ds.meta.camera_keys)
    ckpt_cams = sorted(cfg.image_features)
    expected_cams = sorted(rename.get(k, k) for k in data_cams)
    obs = observation_from_item(item, [*data_cams, "observation.state"])
    policy.reset()
    with torch.no_grad():
        action = post(policy.select_action(pre(obs)))
    action = action.detach().float().cpu()
    action_dim = int(ds.meta.features["action"]["shape"][0])
    n_params = sum(p.numel() for p in policy.parameters())
    return {
        "policy_type": cfg.type,
        "params": n_params,
        "load_s": round(load_s, 2),
        "action_shape": list(action.shape),
        "expected_action_shape": [1, action_dim],
        "action_finite": bool(torch.isfinite(action).all()),
        "checkpoint_image_keys": ckpt_cams,
        "dataset_image_keys": expected_cams,
    }


def failures(facts: dict) -> list[str]:
    """Each failed fact as one line."""
    out = []
    if facts["action_shape"] != facts["expected_action_shape"]:
        out.append(
            f"select_action returned shape {facts['action_shape']}, "
            f"dataset action is {facts['expected_action_shape']}"
        )
    if not facts["action_finite"]:
        out.append("select_action returned non-finite values")
    if facts["checkpoint_image_keys"] != facts["dataset_image_keys"]:
        out.append(
            f"checkpoint image keys {facts['checkpoint_image_keys']} != dataset's "
            f"{facts['dataset_image_keys']} (after the run's rename_map)"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ckpt", type=Path, help="checkpoints/last/pretrained_model")
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--video-backend", default=None)
    args = ap.parse_args(argv)
    facts = check(args.ckpt, args.dataset, args.video_backend)
    facts["failures"] = failures(facts)
    print(json.dumps(facts))
    return 1 if facts["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
