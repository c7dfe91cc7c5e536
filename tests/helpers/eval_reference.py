"""The eval numbers computed independently of scripts/eval (runs in envs/act).

Independent on purpose: frames come one at a time from ``LeRobotDataset.__getitem__``
(float images from LeRobot's own conversion), the recorded future and its padding from
LeRobot's ``delta_timestamps`` / ``action_is_pad`` (not our mask), the policy runs on a batch
of one, errors are summed in plain Python loops. Prints one JSON object.

Stochastic policies: ``SEEDS BATCH`` (optional 4th/5th arguments) follow make eval's documented
seed contract (``torch.manual_seed(s * 1_000_003 + b)`` before window b of BATCH frames, built
here by stacking ``__getitem__`` items); observation history (Diffusion's n_obs_steps) comes
from LeRobot's own ``delta_timestamps`` padding. The output adds ``mae_per_seed``.

Usage: envs/act/.venv/bin/python tests/helpers/eval_reference.py MODEL_DIR DATASET EP[,EP...]
       [SEEDS BATCH]
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path


def main() -> None:
    model_dir, root, eps = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    episodes = [int(e) for e in eps.split(",")]
    n_seeds = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    batch = int(sys.argv[5]) if len(sys.argv) > 5 else 1

    import torch
    from lerobot.configs.policies import PreTrainedConfig
    from lerobot.datasets.lerobot_dataset import LeRobotDataset, LeRobotDatasetMetadata
    from lerobot.policies.factory import get_policy_class, make_pre_post_processors

    cfg = PreTrainedConfig.from_pretrained(model_dir)
    cfg.device = "cpu"
    policy = get_policy_class(cfg.type).from_pretrained(model_dir, config=cfg).eval()
    pre, post = make_pre_post_processors(policy.config, pretrained_path=str(model_dir))
    meta = LeRobotDatasetMetadata(f"local/{root.name}", root=root)
    horizon = getattr(policy.config, "chunk_size", None) or policy.config.n_action_steps
    n_obs = int(getattr(policy.config, "n_obs_steps", 1) or 1)
    deltas = {"action": [i / meta.fps for i in range(horizon)]}
    if n_obs > 1:
        for k in policy.config.input_features:
            deltas[k] = [i / meta.fps for i in range(1 - n_obs, 1)]
    ds = LeRobotDataset(
        f"local/{root.name}",
        root=root,
        episodes=episodes,
        delta_timestamps=deltas,
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
    seed_abs = [0.0] * n_seeds
    for b, start in enumerate(range(0, len(ds), batch)):
        items = [ds[i] for i in range(start, min(len(ds), start + batch))]
        obs = {k: torch.stack([it[k] for it in items]) for k in policy.config.input_features}
        obs["task"] = [it["task"] for it in items]
        for s in range(n_seeds):
            torch.manual_seed(s * 1_000_003 + b)
            with torch.no_grad():
                chunks = post(policy.predict_action_chunk(pre(dict(obs)))).double()
            for item, chunk in zip(items, chunks, strict=True):
                target = item["action"].double()
                pad = item["action_is_pad"]
                ep = int(item["episode_index"])
                for j in range(d):
                    e = abs(float(chunk[0, j]) - float(target[0, j]))
                    first_abs[j] += e
                    first_sq += e * e
                    seed_abs[s] += e
                    per_ep.setdefault(ep, []).append(e)
                n += 1
                for h in range(min(horizon, chunk.shape[0])):
                    if not bool(pad[h]):
                        h_sum[h] += float((chunk[h] - target[h]).abs().sum())
                        h_cnt[h] += d
    frames = n // n_seeds
    out = {
        "frames": frames,
        "mae_per_seed": [v / (frames * d) for v in seed_abs],
        "mae": sum(first_abs) / (n * d),
        "rmse": math.sqrt(first_sq / (n * d)),
        "per_joint_mae": {names[j]: first_abs[j] / n for j in range(d)},
        "per_episode_mae": {str(k): sum(v) / len(v) for k, v in per_ep.items()},
        "per_horizon_mae": [h_sum[h] / h_cnt[h] for h in range(horizon) if h_cnt[h]],
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
