"""Which ``pretrained_model`` folder a CHECKPOINT names, and whether its files can be loaded.

Pure Python (json only), so the launcher refuses a bad CHECKPOINT in the tools env in a
fraction of a second, before torch is imported. Accepted forms, as ``lerobot-train`` writes
them (``<run>/checkpoints/<step>/pretrained_model``, ``checkpoints/last`` a symlink):

- a ``pretrained_model`` folder (config.json + model.safetensors);
- a checkpoint folder (holds ``pretrained_model/``);
- a training run folder (holds ``checkpoints/``): its ``last`` checkpoint, or ``STEP=N``.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scripts.common import paligemma
from scripts.deploy.checkpoint import POLICY_ENV

PRETRAINED = "pretrained_model"
# Policy types whose chunk is sampled (noise / flow matching): evaluated over SEEDS samples.
STOCHASTIC = {"smolvla", "pi0", "pi05", "diffusion"}


class CheckpointError(ValueError):
    """A CHECKPOINT that cannot be evaluated; the message is one line naming the file."""


@dataclass(frozen=True)
class Checkpoint:
    """One resolved checkpoint: what the user typed and what will be loaded."""

    given: str
    model_dir: Path
    step: int | None
    config: dict[str, Any] = field(repr=False)
    train_config: dict[str, Any] | None = field(repr=False)

    @property
    def policy_type(self) -> str:
        return str(self.config.get("type"))

    @property
    def stochastic(self) -> bool:
        return self.policy_type in STOCHASTIC

    @property
    def env(self) -> str:
        return POLICY_ENV[self.policy_type]

    @property
    def rename_map(self) -> dict[str, str]:
        return dict((self.train_config or {}).get("rename_map") or {})


def _step_dirs(run: Path) -> dict[int, Path]:
    ck = run / "checkpoints"
    return {int(p.name): p for p in ck.iterdir() if p.is_dir() and p.name.isdigit()}


def _step_of(ckpt_dir: Path) -> int | None:
    """LeRobot's training_state/training_step.json, else the folder's number."""
    f = ckpt_dir / "training_state" / "training_step.json"
    try:
        return int(json.loads(f.read_text())["step"])
    except (OSError, ValueError, KeyError, TypeError):
        name = ckpt_dir.resolve().name
        return int(name) if name.isdigit() else None


def locate(given: str, step: int | None = None) -> tuple[Path, int | None]:
    """(pretrained_model folder, step) for ``given``; ``CheckpointError`` if it names none."""
    p = Path(given).expanduser()
    if not p.exists():
        raise CheckpointError(f"CHECKPOINT={given}: no such file or folder")
    is_run = (p / "checkpoints").is_dir()
    if step is not None and not is_run:
        raise CheckpointError(
            f"STEP={step}: {given} is not a training run folder (STEP picks a checkpoint of a run)"
        )
    if is_run:
        steps = _step_dirs(p)
        if not steps:
            raise CheckpointError(
                f"CHECKPOINT={given}: run folder with no checkpoint in {p / 'checkpoints'} "
                "(training saved none yet: wait for save_freq, or name another run)"
            )
        if step is not None:
            if step not in steps:
                have = ", ".join(str(s) for s in sorted(steps))
                raise CheckpointError(f"STEP={step}: {given} has no such checkpoint (steps {have})")
            ck = steps[step]
        else:
            last = p / "checkpoints" / "last"
            ck = last if last.is_dir() else steps[max(steps)]
        return ck / PRETRAINED, _step_of(ck)
    if (p / PRETRAINED).is_dir():
        return p / PRETRAINED, _step_of(p)
    if (p / "config.json").is_file():
        return p, _step_of(p.parent) if p.name == PRETRAINED else None
    raise CheckpointError(
        f"CHECKPOINT={given}: not a pretrained_model folder (config.json), a checkpoint folder "
        "(pretrained_model/) or a training run folder (checkpoints/)"
    )


def check_safetensors(path: Path) -> None:
    """The header of a .safetensors file parses and its tensors fit in the file.

    Catches truncated copies and overwritten files in microseconds, with a line naming the
    file, instead of a loader traceback deep inside torch.
    """
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise CheckpointError(
                    f"{path}: corrupted safetensors file ({size} bytes, no header)"
                )
            (n,) = struct.unpack("<Q", head)
            if n > size - 8 or n > 100_000_000:
                raise CheckpointError(
                    f"{path}: corrupted safetensors file (header says {n} bytes, file has {size})"
                )
            header = json.loads(f.read(n))
    except OSError as e:
        raise CheckpointError(f"{path}: cannot be read ({e.strerror})") from e
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path}: corrupted safetensors file (header is not JSON)") from e
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: corrupted safetensors file (header is not an object)")
    end = max(
        (int(t["data_offsets"][1]) for k, t in header.items() if k != "__metadata__"), default=0
    )
    if 8 + n + end > size:
        raise CheckpointError(
            f"{path}: corrupted safetensors file (truncated: tensors need {8 + n + end} bytes, "
            f"file has {size})"
        )


def _json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except OSError as e:
        raise CheckpointError(f"{path}: cannot be read ({e.strerror})") from e
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{path}: not JSON ({e})") from e


def resolve(given: str, step: int | None = None, migrated: str | None = None) -> Checkpoint:
    """Locate, read the configs and check the weight files of one CHECKPOINT.

    ``migrated``: the folder holding this old-layout checkpoint's migrated copy, loaded instead
    (the step stays the one of the checkpoint given).
    """
    model_dir, found_step = locate(given, step)
    if migrated is not None:
        model_dir = Path(migrated)
    cfg_path = model_dir / "config.json"
    if not cfg_path.is_file():
        raise CheckpointError(f"{model_dir}: no config.json (an incomplete checkpoint)")
    cfg = _json(cfg_path)
    if cfg.get("type") not in POLICY_ENV:
        raise CheckpointError(
            f"{cfg_path}: policy type {cfg.get('type')!r} is not evaluated here "
            f"(supported: {', '.join(sorted(POLICY_ENV))})"
        )
    bad = paligemma.refusal(cfg, str(cfg_path))
    if bad:
        raise CheckpointError(bad)
    weights = sorted(model_dir.glob("*.safetensors"))
    if not (model_dir / "model.safetensors").is_file():
        raise CheckpointError(f"{model_dir}: no model.safetensors (an incomplete checkpoint)")
    for w in weights:
        check_safetensors(w)
    tc_path = model_dir / "train_config.json"
    train_cfg = _json(tc_path) if tc_path.is_file() else None
    return Checkpoint(given, model_dir, found_step, cfg, train_cfg)


def resolve_all(
    spec: str, step: int | None = None, migrated: dict[str, str] | None = None
) -> list[Checkpoint]:
    """``a,b,...`` -> resolved checkpoints; all must run in one environment."""
    names = [s.strip() for s in spec.split(",") if s.strip()]
    if not names:
        raise CheckpointError("CHECKPOINT is empty")
    out = [resolve(n, step, (migrated or {}).get(n)) for n in names]
    envs = {c.env for c in out}
    if len(envs) > 1:
        which = ", ".join(f"{c.given} ({c.policy_type} -> envs/{c.env})" for c in out)
        raise CheckpointError(
            f"CHECKPOINT: these need different environments ({which}); evaluate them in "
            "separate make eval runs with the same EPISODES, or use one policy family"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m scripts.eval.checkpoints env CKPT[,CKPT] [STEP]``: the env that runs them."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (2, 3) or args[0] != "env":
        print(
            "usage: python -m scripts.eval.checkpoints env CKPT[,CKPT...] [STEP]", file=sys.stderr
        )
        return 2
    try:
        cks = resolve_all(args[1], int(args[2]) if len(args) == 3 else None)
    except CheckpointError as e:
        print(f"eval: error: {e}", file=sys.stderr)
        return 2
    print(cks[0].env)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
