"""The old side of ``make migrate``: runs in envs/legacy (LeRobot 0.3.3), never in the act env.

``describe FROM OUT.json``: the checkpoint's config as LeRobot 0.3.3 reads it (old defaults filled
in), the fields config.json lacks, versions. ``run FROM FRAMES OUT [OUT.json]``: action chunks of
the old model (de-normalised by its own buffers) for the frames in FRAMES (safetensors, one
batch), into OUT; with OUT.json, ``describe`` too (one process: the imports cost ~5 s). With
temporal ensembling on, OUT also holds ``steps``: ``select_action`` over the frames in order, one
frame per call after a ``reset`` (the ensembler needs that history: it is not a batched chunk).
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import version
from pathlib import Path


def _config(src: Path):
    from lerobot.configs.policies import PreTrainedConfig
    from lerobot.policies.act.configuration_act import ACTConfig  # noqa: F401 (registers "act")

    return PreTrainedConfig.from_pretrained(src)


def describe(src: Path, out: Path) -> None:
    import draccus
    import torch

    cfg = _config(src)
    tmp = out.with_suffix(".cfg.json")
    with open(tmp, "w") as f, draccus.config_type("json"):
        draccus.dump(cfg, f, indent=4)
    full = json.loads(tmp.read_text())
    tmp.unlink()
    given = json.loads((src / "config.json").read_text())
    missing = sorted(k for k in full if k not in given)
    info = {
        "config": full,
        "missing_fields": {k: full[k] for k in missing},
        "versions": {"lerobot": version("lerobot"), "torch": torch.__version__},
    }
    out.write_text(json.dumps(info, indent=2))


def run(src: Path, frames: Path, out: Path, info: Path | None = None) -> None:
    import torch
    from lerobot.policies.act.modeling_act import ACTPolicy
    from safetensors.torch import load_file, save_file

    torch.manual_seed(0)
    policy = ACTPolicy.from_pretrained(src)
    policy.to("cpu").eval()
    batch = load_file(str(frames))
    with torch.inference_mode():
        chunk = policy.predict_action_chunk(batch)
        result = {"action": chunk.contiguous()}
        if policy.config.temporal_ensemble_coeff is not None:
            policy.reset()
            n = next(iter(batch.values())).shape[0]
            steps = [
                policy.select_action({k: v[t : t + 1] for k, v in batch.items()}) for t in range(n)
            ]
            result["steps"] = torch.cat(steps).contiguous()
    save_file(result, str(out))
    if info is not None:
        describe(src, info)


if __name__ == "__main__":
    cmd, *args = sys.argv[1:]
    {"describe": describe, "run": run}[cmd](*map(Path, args))
