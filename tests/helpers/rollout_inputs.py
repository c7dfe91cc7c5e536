"""Inputs of the rollout tests: a small Koch-like v3.0 dataset, a trained tiny ACT on it and its
random-init twin (runs in envs/act).

Why not lerobot-train: with cameras it decodes video per sample (7-10 s a step on the shared
2-core box). Here every frame is decoded once with LeRobot's own LeRobotDataset, then LeRobot's
ACT (real architecture, ResNet-18 backbone without pretrained weights) is trained by its own
``forward`` loss on in-memory batches through its own preprocessor, and saved with
``save_pretrained`` like lerobot-train does. One 24x32 camera keeps the backbone cheap. The
action is a smooth curve per joint (gripper 50 +- 10, inside its 0..100; no faster than the
Koch profile's motion cap) held still for the last quarter of the episode, the state the action
one frame earlier (a follower lags its goal), and the image says where on the curve the episode
is; trained with a noisy state, so the policy reads the phase from the image and on the
simulator (ROBOT=sim, state = the follower's own position) does not chase itself. A few
hundred steps learn it; the random twin keeps the same processors (same stats), only its
weights differ.

Usage: envs/act/.venv/bin/python tests/helpers/rollout_inputs.py OUT [--steps 300]
       [--episodes 6] [--frames 36]
Writes OUT/dataset, OUT/trained, OUT/random; prints a JSON line with the final training loss.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

JOINTS = [
    f"{j}.pos"
    for j in ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper")
]
H, W = 24, 32
CHUNK = 10


def image(t: float, ep: int) -> np.ndarray:
    img = np.zeros((H, W, 3), dtype=np.uint8)
    img[..., 0] = np.linspace(0, 200, W, dtype=np.uint8)[None, :]
    img[..., 1] = (ep * 40) % 255
    y, x = int((H - 6) * t), int((W - 6) * (1 - t))
    img[y : y + 6, x : x + 6] = 255
    return img


def make_dataset(out: Path, episodes: int, frames: int) -> None:
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    feats = {
        "action": {"dtype": "float32", "shape": (6,), "names": JOINTS},
        "observation.state": {"dtype": "float32", "shape": (6,), "names": JOINTS},
        "observation.images.laptop": {
            "dtype": "video",
            "shape": (H, W, 3),
            "names": ["height", "width", "channels"],
        },
    }
    ds = LeRobotDataset.create(repo_id=f"local/{out.name}", fps=30, features=feats, root=out,
                               robot_type="koch_follower", use_videos=True)  # fmt: skip
    rng = np.random.default_rng(0)
    # at most ~2.5 normalised units per frame: the Koch profile's cap is 5 per tick
    scale = np.array([20.0, 15.0, 15.0, 10.0, 25.0, 10.0], dtype=np.float32)
    move = frames - frames // 4  # then the arm holds its final pose (the task is done)
    offset = np.array([0, 0, 0, 0, 0, 50.0], dtype=np.float32)  # the gripper is 0..100
    for ep in range(episodes):
        phase = rng.uniform(0, 1, size=6).astype(np.float32)
        prev = None
        for i in range(frames):
            t = min(1.0, i / max(1, move - 1))
            action = (offset + scale * np.sin(2 * np.pi * (0.6 * t + phase))).astype(np.float32)
            # the follower one frame behind its goal, as a real arm (and the simulator) lags
            state = action if prev is None else prev
            ds.add_frame({"action": action, "observation.state": state,
                          "observation.images.laptop": image(t, ep), "task": "track"})  # fmt: skip
            prev = action
        ds.save_episode()
    ds.finalize()


def train(root: Path, out: Path, steps: int) -> float:
    import torch
    from lerobot.datasets.lerobot_dataset import LeRobotDataset, LeRobotDatasetMetadata
    from lerobot.policies.act.configuration_act import ACTConfig
    from lerobot.policies.factory import make_policy, make_pre_post_processors

    torch.manual_seed(0)
    meta = LeRobotDatasetMetadata(repo_id=f"local/{root.name}", root=root)
    ds = LeRobotDataset(repo_id=f"local/{root.name}", root=root, video_backend="pyav")
    items = [ds[i] for i in range(len(ds))]
    ep = torch.tensor([int(it["episode_index"]) for it in items])
    state = torch.stack([it["observation.state"] for it in items])
    img = torch.stack([it["observation.images.laptop"] for it in items])
    act = torch.stack([it["action"] for it in items])
    n = len(items)
    idx = torch.arange(n)[:, None] + torch.arange(CHUNK)[None, :]
    idx = idx.clamp(max=n - 1)
    pad = (ep[idx] != ep[:, None]) | (torch.arange(n)[:, None] + torch.arange(CHUNK) >= n)
    # a padded step repeats the episode's last action (LeRobot pads with the edge frame)
    last = {int(e): int((ep == e).nonzero().max()) for e in ep.unique()}
    idx = torch.where(pad, torch.tensor([last[int(e)] for e in ep])[:, None], idx)
    chunks = act[idx]

    def config(seed: int) -> ACTConfig:
        torch.manual_seed(seed)
        return ACTConfig(device="cpu", push_to_hub=False, pretrained_backbone_weights=None,
                         chunk_size=CHUNK, n_action_steps=CHUNK, dim_model=64, use_vae=False,
                         dim_feedforward=128, n_encoder_layers=1, n_decoder_layers=1)  # fmt: skip

    policy = make_policy(config(0), ds_meta=meta)
    pre, post = make_pre_post_processors(policy.config, dataset_stats=meta.stats)
    opt = torch.optim.AdamW(policy.parameters(), lr=1e-3, weight_decay=1e-4)
    policy.train()
    gen = torch.Generator().manual_seed(0)
    loss_value = float("nan")
    for _ in range(steps):
        b = torch.randint(0, n, (16,), generator=gen)
        batch = pre({"observation.state": state[b], "observation.images.laptop": img[b],
                     "action": chunks[b], "task": ["track"] * len(b)})  # fmt: skip
        # noisy state (0.3 std): the policy must read the phase from the image, so on the
        # simulator, where the state is the follower's own lagging position, it does not just
        # chase itself
        noise = 0.3 * torch.randn(batch["observation.state"].shape, generator=gen)
        batch["observation.state"] = batch["observation.state"] + noise
        batch["action_is_pad"] = pad[b]
        loss, _ = policy.forward(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss_value = float(loss)
    for name, model in (("trained", policy), ("random", make_policy(config(1), ds_meta=meta))):
        d = out / name
        d.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(d)
        pre.save_pretrained(d)
        post.save_pretrained(d)
    return loss_value


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--episodes", type=int, default=6)
    p.add_argument("--frames", type=int, default=36)
    a = p.parse_args()
    t0 = time.perf_counter()
    make_dataset(a.out / "dataset", a.episodes, a.frames)
    loss = train(a.out / "dataset", a.out, a.steps)
    print(json.dumps({"loss": loss, "seconds": round(time.perf_counter() - t0, 1)}))


if __name__ == "__main__":
    main()
