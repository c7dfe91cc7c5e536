"""LeRobot 0.6.1 policy defaults the readiness checks need, and recipe loading.

Values copied from ``lerobot/policies/<type>/configuration_<type>.py`` of the pinned LeRobot
(0.6.1) so the validator can run without torch or LeRobot installed. A recipe that sets a
key overrides the default, exactly as draccus would.
"""

from __future__ import annotations

import difflib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RECIPES_DIR = REPO / "recipes"

# type -> defaults (None: the policy has no such limit).
POLICY_DEFAULTS: dict[str, dict[str, Any]] = {
    # ACTConfig: chunk_size 100, n_action_steps 100; needs an image or env state.
    "act": {
        "chunk_size": 100,
        "n_action_steps": 100,
        "max_state_dim": None,
        "max_action_dim": None,
        "language": False,
        "needs_image": False,
        "empty_cameras": 0,
    },
    # SmolVLAConfig: chunk_size 50, n_action_steps 50, max_state_dim 32, max_action_dim 32.
    "smolvla": {
        "chunk_size": 50,
        "n_action_steps": 50,
        "max_state_dim": 32,
        "max_action_dim": 32,
        "language": True,
        "needs_image": True,
        "empty_cameras": 0,
    },
    # PI0Config: chunk_size 50, n_action_steps 50, max_state_dim 32, max_action_dim 32.
    "pi0": {
        "chunk_size": 50,
        "n_action_steps": 50,
        "max_state_dim": 32,
        "max_action_dim": 32,
        "language": True,
        "needs_image": True,
        "empty_cameras": 0,
    },
    # DiffusionConfig: a horizon of 64 predicted actions (its chunk), 32 executed; like ACT it
    # needs an image or env state. Its chunk is read from `horizon` (`chunk_key`).
    "diffusion": {
        "chunk_size": None,
        "chunk_key": "horizon",
        "horizon": 64,
        "n_action_steps": 32,
        "max_state_dim": None,
        "max_action_dim": None,
        "language": False,
        "needs_image": False,
        "empty_cameras": 0,
    },
    # PI05Config: same limits as PI0.
    "pi05": {
        "chunk_size": 50,
        "n_action_steps": 50,
        "max_state_dim": 32,
        "max_action_dim": 32,
        "language": True,
        "needs_image": True,
        "empty_cameras": 0,
    },
}


class UsageError(ValueError):
    """Bad command-line input (path, recipe name): exit code 2, one clear line."""


@dataclass
class PolicySpec:
    """What the readiness checks need to know about the policy a recipe trains."""

    recipe: str
    type: str | None
    chunk_size: int | None
    n_action_steps: int | None
    max_state_dim: int | None
    max_action_dim: int | None
    language: bool
    needs_image: bool
    empty_cameras: int
    image_keys: list[str]  # keys the (pretrained) policy expects, after rename_map
    rename_map: dict[str, str]
    single_task: str | None
    pretrained_dir: Path | None
    problems: list[str]


def list_recipes(recipes_dir: Path = RECIPES_DIR) -> list[str]:
    return sorted(p.stem for p in recipes_dir.glob("*.yaml"))


def resolve_recipe(recipe: str, recipes_dir: Path = RECIPES_DIR) -> Path:
    """A recipe name (``recipes/<name>.yaml``) or a path to a YAML file."""
    p = Path(recipe)
    if p.suffix in (".yaml", ".yml") and p.is_file():
        return p
    cand = recipes_dir / f"{recipe}.yaml"
    if cand.is_file():
        return cand
    names = list_recipes(recipes_dir)
    close = difflib.get_close_matches(recipe, names, n=1, cutoff=0.4)
    prefixed = [n for n in names if n.startswith(recipe)]
    hint = f"did you mean {close[0]!r}? " if close else ""
    if prefixed and not close:
        hint = f"did you mean one of {prefixed}? "
    raise UsageError(
        f"unknown recipe {recipe!r}: {hint}known recipes: {', '.join(names) or '(none)'} "
        f"(in {recipes_dir})"
    )


def _weights_dirs() -> list[Path]:
    dirs = []
    if os.environ.get("WEIGHTS_DIR"):
        dirs.append(Path(os.environ["WEIGHTS_DIR"]))
    dirs.append(REPO / ".cache" / "weights")
    return dirs


def _pretrained_dir(path_value: str) -> Path | None:
    """Where a ``policy.path`` lives locally, if it does (offline: never downloaded here)."""
    p = Path(path_value).expanduser()
    if (p / "config.json").is_file():
        return p
    name = path_value.rstrip("/").split("/")[-1]
    for d in _weights_dirs():
        if (d / name / "config.json").is_file():
            return d / name
    # the Hugging Face hub cache (offline: only what is already there)
    hf_home = Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface"))
    repo_dir = hf_home / "hub" / ("models--" + path_value.strip("/").replace("/", "--"))
    snapshots = sorted((repo_dir / "snapshots").glob("*/config.json"))
    return snapshots[-1].parent if snapshots else None


def load_policy_spec(path: Path, overrides: dict[str, Any] | None = None) -> PolicySpec:
    """Read a recipe YAML (top-level TrainPipelineConfig keys + ``ops``) into a PolicySpec."""
    import yaml

    problems: list[str] = []
    try:
        cfg = yaml.safe_load(path.read_text()) or {}
    except (yaml.YAMLError, OSError) as exc:
        raise UsageError(f"{path}: not readable YAML ({exc})") from exc
    if not isinstance(cfg, dict):
        raise UsageError(f"{path}: a recipe must be a YAML mapping")
    policy = dict(cfg.get("policy") or {})
    policy.update(overrides or {})
    ops = cfg.get("ops") or {}
    pretrained: dict[str, Any] = {}
    pdir = None
    if policy.get("path"):
        pdir = _pretrained_dir(str(policy["path"]))
        if pdir is not None:
            try:
                pretrained = json.loads((pdir / "config.json").read_text())
            except (OSError, json.JSONDecodeError):
                problems.append(f"{pdir / 'config.json'} is not readable JSON")
    ptype = policy.get("type") or pretrained.get("type") or ops.get("policy")
    if ptype is None:
        ptype = path.stem.split("_")[0]
    defaults = POLICY_DEFAULTS.get(str(ptype))
    if defaults is None:
        problems.append(
            f"policy type {ptype!r} has no readiness defaults (known: {', '.join(POLICY_DEFAULTS)})"
        )
        defaults = {k: None for k in POLICY_DEFAULTS["act"]} | {
            "language": False,
            "needs_image": False,
            "empty_cameras": 0,
        }

    def pick(key: str) -> Any:
        for src in (policy, pretrained):
            if key in src and src[key] is not None:
                return src[key]
        return defaults.get(key)

    rename = cfg.get("rename_map") or {}
    image_keys: list[str] = []
    feats = policy.get("input_features") or pretrained.get("input_features") or {}
    if isinstance(feats, dict):
        image_keys = [
            k
            for k, v in feats.items()
            if isinstance(v, dict)
            and str(v.get("type", "")).upper().endswith("VISUAL")
            and "empty_camera" not in k
        ]
    image_keys += [k for k in ops.get("image_keys") or [] if k not in image_keys]
    dataset_cfg = cfg.get("dataset") or {}
    return PolicySpec(
        recipe=path.stem,
        type=str(ptype),
        chunk_size=pick(defaults.get("chunk_key") or "chunk_size"),
        n_action_steps=pick("n_action_steps"),
        max_state_dim=pick("max_state_dim"),
        max_action_dim=pick("max_action_dim"),
        language=bool(defaults.get("language")),
        needs_image=bool(defaults.get("needs_image")),
        empty_cameras=int(pick("empty_cameras") or 0),
        image_keys=image_keys,
        rename_map={str(k): str(v) for k, v in rename.items()} if isinstance(rename, dict) else {},
        single_task=dataset_cfg.get("single_task") if isinstance(dataset_cfg, dict) else None,
        pretrained_dir=pdir,
        problems=problems,
    )
