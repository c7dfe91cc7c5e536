"""The eval numbers computed independently of scripts/eval (runs in envs/act).

Independent on purpose: frames come one at a time from ``LeRobotDataset.__getitem__``
(float images from LeRobot's own conversion), the recorded future and its padding from
LeRobot's ``delta_timestamps`` / ``action_is_pad`` (not our mask), the policy runs on a batch
of one, errors are summed in plain Python loops. Prints one JSON object.

Usage: envs/act/.venv/bin/python tests/helpers/eval_reference.py MODEL_DIR DATASET EP[,EP...]
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path


def main() -> None:
    model_dir, root, eps = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    episodes = [int(e) for e in eps.split(",")]

    import torch
    from lerobot.configs.policies import PreTrainedConfig
    from lerobot.datasets.lerobot_dataset import LeRobotDataset, LeRobotDatasetMetadata
    from lerobot.policies.factory import get_policy_class, make_pre_post_processors

    cfg = PreTrainedConfig.from_pretrained(model_dir)
    cfg.device = "cpu"
    policy = get_policy_class(cfg.type).from_pretrained(model_dir, config=cfg).eval()
    pre, post = make_pre_post_processors(policy.config, pretrained_path=str(model_dir))
    meta = LeRobotDatasetMetadata(f"local/{root.name}", root=root)
    horizon = policy.config.chunk_size
    ds = LeRobotDataset(
        f"local/{root.name}",
        root=root,
        episodes=episodes,
        delta_timestamps={"action": [i / meta.fps for i in range(horizon)]},
        video_backend="pyav",
    )
    d = meta.features["action"]["shape"][0]
    names = meta.features["action"]["names"]
    first_abs = [0.0] * d
    first_sq = 0.0
    n = 0
    per_ep: dict[int, list[float]] = {}
    h_sum = [0.0] * horizon
    h_cnt = [0] * horizon
    for i in range(len(ds)):
        item = ds[i]
        obs = {k: item[k].unsqueeze(0) for k in policy.config.input_features}
        obs["task"] = [item["task"]]
        with torch.no_grad():
            chunk = post(policy.predict_action_chunk(pre(obs)))[0].double()
        target = item["action"].double()
        pad = item["action_is_pad"]
        ep = int(item["episode_index"])
        for j in range(d):
            e = abs(float(chunk[0, j]) - float(target[0, j]))
            first_abs[j] += e
            first_sq += e * e
            per_ep.setdefault(ep, []).append(e)
        n += 1
        for h in range(horizon):
            if not bool(pad[h]):
                h_sum[h] += float((chunk[h] - target[h]).abs().sum())
                h_cnt[h] += d
    out = {
        "frames": n,
        "mae": sum(first_abs) / (n * d),
        "rmse": math.sqrt(first_sq / (n * d)),
        "per_joint_mae": {names[j]: first_abs[j] / n for j in range(d)},
        "per_episode_mae": {str(k): sum(v) / len(v) for k, v in per_ep.items()},
        "per_horizon_mae": [h_sum[h] / h_cnt[h] for h in range(horizon) if h_cnt[h]],
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
