"""From a trained ``pretrained_model``, write the two checkpoints it must beat (runs in envs/act).

- ``random``: the same policy class and config, freshly initialised (``torch.manual_seed``),
  i.e. the same architecture at random init;
- ``perturbed``: the trained weights plus Gaussian noise of ``--sigma`` x each tensor's own
  standard deviation.

Both keep the trained checkpoint's processors (same normalisation stats) and train_config.json,
so only the weights differ. Written with LeRobot's ``save_pretrained``.

Usage: envs/act/.venv/bin/python tests/helpers/eval_variants.py MODEL_DIR OUT [--sigma 1.0]
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model_dir", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--sigma", type=float, default=1.0)
    a = p.parse_args()

    import torch
    from lerobot.configs.policies import PreTrainedConfig
    from lerobot.policies.factory import get_policy_class

    cfg = PreTrainedConfig.from_pretrained(a.model_dir)
    cls = get_policy_class(cfg.type)
    extras = [
        f
        for f in a.model_dir.iterdir()
        if f.name.startswith("policy_") or f.name == "train_config.json"
    ]

    def save(policy: torch.nn.Module, name: str) -> None:
        out = a.out / name
        out.mkdir(parents=True, exist_ok=True)
        policy.save_pretrained(out)
        for f in extras:
            shutil.copy2(f, out / f.name)
        print(out)

    torch.manual_seed(1)
    save(cls(cfg), "random")
    trained = cls.from_pretrained(a.model_dir, config=cfg)
    gen = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for t in trained.parameters():
            if t.numel() > 1:
                t.add_(torch.randn(t.shape, generator=gen) * t.std() * a.sigma)
    save(trained, "perturbed")


if __name__ == "__main__":
    main()
