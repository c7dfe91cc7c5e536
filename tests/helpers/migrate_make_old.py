"""Write a tiny old-layout ACT checkpoint with LeRobot 0.3.3 (run in envs/legacy only).

``python tests/helpers/migrate_make_old.py DIR [--cameras name:HxW,...]``: the real ACT
architecture (ResNet18 backbone, untrained) with tiny transformer dims, random weights (seed 0),
stats buffers from a small random dataset, saved with ``save_pretrained``. The default camera
``front_cam`` has an underscore: the case LeRobot's own extraction renames. Writes ``DIR/old``
(``dropout``, ``kl_weight`` and ``temporal_ensemble_coeff`` removed from config.json, so 0.3.3's
defaults apply) and ``DIR/old_inf`` (the same model with ``normalize_targets`` left unfitted, inf,
as in a checkpoint whose target stats were never loaded) and ``DIR/old_te`` (the same weights with
temporal ensembling on: ``temporal_ensemble_coeff=0.01``, ``n_action_steps=1``). One process:
imports cost ~10 s.
"""

import argparse
import dataclasses
import json
from pathlib import Path

import torch
from lerobot.configs.types import FeatureType, PolicyFeature
from lerobot.policies.act.configuration_act import ACTConfig
from lerobot.policies.act.modeling_act import ACTPolicy

p = argparse.ArgumentParser()
p.add_argument("dir", type=Path)
p.add_argument("--cameras", default="front_cam:32x40", help="name:HxW,... (a dataset's cameras)")
a = p.parse_args()

torch.manual_seed(0)
state = "observation.state"
cams = {
    f"observation.images.{c.split(':')[0]}": c.split(":")[1].split("x")
    for c in a.cameras.split(",")
}
cfg = ACTConfig(
    input_features={
        state: PolicyFeature(FeatureType.STATE, (6,)),
        **{k: PolicyFeature(FeatureType.VISUAL, (3, int(h), int(w))) for k, (h, w) in cams.items()},
    },
    output_features={"action": PolicyFeature(FeatureType.ACTION, (6,))},
    chunk_size=8,
    n_action_steps=4,
    dim_model=32,
    n_heads=2,
    dim_feedforward=64,
    n_encoder_layers=1,
    n_decoder_layers=1,
    n_vae_encoder_layers=1,
    latent_dim=8,
    pretrained_backbone_weights=None,
    device="cpu",
)
# "A small dataset": 200 random frames of joint-like values, stats as LeRobot computes them.
x = torch.randn(200, 6) * torch.tensor([30.0, 20, 25, 40, 15, 5]) + torch.tensor(
    [0.0, 90, -45, 10, 0, 30]
)
y = x + torch.randn(200, 6)
stats = {
    state: {"mean": x.mean(0), "std": x.std(0), "min": x.min(0).values, "max": x.max(0).values},
    "action": {"mean": y.mean(0), "std": y.std(0), "min": y.min(0).values, "max": y.max(0).values},
    **{
        cam: {
            "mean": torch.tensor([0.48, 0.45, 0.40]).view(3, 1, 1),
            "std": torch.tensor([0.23, 0.22, 0.22]).view(3, 1, 1),
        }
        for cam in cams
    },
}
policy = ACTPolicy(cfg, dataset_stats=stats)
policy.save_pretrained(a.dir / "old")
c = json.loads((a.dir / "old" / "config.json").read_text())
for k in ("dropout", "kl_weight", "temporal_ensemble_coeff"):
    c.pop(k)
(a.dir / "old" / "config.json").write_text(json.dumps(c, indent=4))
te = ACTPolicy(
    dataclasses.replace(cfg, temporal_ensemble_coeff=0.01, n_action_steps=1), dataset_stats=stats
)
te.load_state_dict(policy.state_dict())
te.save_pretrained(a.dir / "old_te")
for buf in policy.normalize_targets.buffer_action.values():
    buf.data.fill_(torch.inf)
policy.save_pretrained(a.dir / "old_inf")
