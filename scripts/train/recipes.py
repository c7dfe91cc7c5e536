"""Training recipes: load, list, pick by GPU size, and turn into lerobot-train arguments.

A recipe (``recipes/<policy>_<vram>g.yaml``) holds LeRobot ``TrainPipelineConfig`` keys plus one
toolkit-only mapping ``ops:`` (env, policy, gpu_gb, measured, source). The launcher strips
``ops:`` and hands the rest to ``lerobot-train`` as ``--key=value`` flags, so the printed
command is complete and can be pasted by hand. Runs in the light tools env (PyYAML, no torch).
"""

from __future__ import annotations

import copy
import difflib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
RECIPES_DIR = REPO / "recipes"
NAME_RE = re.compile(r"^(?P<policy>[a-z0-9]+)_(?P<size>\d+g|cpu)$")

# Keys sibling recipes of one policy may differ in: the memory levers (and ops bookkeeping).
MEMORY_KNOBS = frozenset(
    {
        "batch_size",
        "num_workers",
        "prefetch_factor",
        "policy.use_amp",
        "policy.dtype",
        "policy.gradient_checkpointing",
        "policy.freeze_vision_encoder",
        "policy.train_expert_only",
        "policy.resize_imgs_with_padding",
        "policy.image_resolution",
        "policy.chunk_size",
        "policy.n_action_steps",
        "policy.compile_model",
        "policy.resize_shape",
    }
)
# Extra keys a *_cpu smoke recipe may change (stated in each CPU recipe's header).
CPU_KNOBS = frozenset(
    {
        "policy.device",
        "policy.path",
        "policy.type",
        "policy.pretrained_backbone_weights",
        "policy.vlm_model_name",
        "policy.load_vlm_weights",
        "policy.dim_model",
        "policy.dim_feedforward",
        "policy.n_encoder_layers",
        "policy.n_vae_encoder_layers",
        "policy.optimizer_lr",
        "policy.optimizer_lr_backbone",
        "policy.scheduler_warmup_steps",
        "policy.down_dims",
        "policy.diffusion_step_embed_dim",
        "policy.spatial_softmax_num_keypoints",
        "policy.horizon",
        "steps",
        "save_freq",
        "log_freq",
    }
)
ENVS = ("act", "smolvla")


class RecipeError(ValueError):
    """A recipe is unknown or malformed; the message is one line with the fix."""


@dataclass(frozen=True)
class Recipe:
    """One recipe file: the LeRobot config (``ops`` removed) and the toolkit's ``ops``."""

    name: str
    path: Path
    config: dict[str, Any]
    ops: dict[str, Any]

    @property
    def env(self) -> str:
        return str(self.ops["env"])

    @property
    def policy(self) -> str:
        return str(self.ops["policy"])

    @property
    def gpu_gb(self) -> float:
        return float(self.ops.get("gpu_gb") or 0)

    @property
    def is_cpu(self) -> bool:
        return self.name.endswith("_cpu")


def list_recipes(recipes_dir: Path = RECIPES_DIR) -> list[str]:
    """Names of all recipes, sorted by policy then GPU size (cpu first)."""

    def key(name: str) -> tuple[str, float]:
        m = NAME_RE.match(name)
        if not m:
            return (name, 0.0)
        size = m["size"]
        return (m["policy"], -1.0 if size == "cpu" else float(size[:-1]))

    return sorted((p.stem for p in recipes_dir.glob("*.yaml")), key=key)


def closest(name: str, recipes_dir: Path = RECIPES_DIR) -> str | None:
    """The known recipe name nearest to ``name`` (for "did you mean ...")."""
    hits = difflib.get_close_matches(name, list_recipes(recipes_dir), n=1, cutoff=0.4)
    return hits[0] if hits else None


def load_recipe(name: str, recipes_dir: Path = RECIPES_DIR) -> Recipe:
    """Read ``recipes/<name>.yaml``; unknown names list what exists and the closest match."""
    path = recipes_dir / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(list_recipes(recipes_dir))
        near = closest(name, recipes_dir)
        hint = f"did you mean {near}? " if near else ""
        raise RecipeError(f"recipe '{name}' not found in {recipes_dir}: {hint}known: {known}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise RecipeError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("ops"), dict):
        raise RecipeError(f"{path}: needs a top-level 'ops:' mapping (env, policy, gpu_gb)")
    ops = data.pop("ops")
    if ops.get("env") not in ENVS:
        raise RecipeError(f"{path}: ops.env must be one of {', '.join(ENVS)}")
    if "policy" not in ops:
        raise RecipeError(f"{path}: ops.policy (act, smolvla, pi0 ...) is missing")
    return Recipe(name=name, path=path, config=data, ops=ops)


def pick_for_gpu(
    policy: str, gpu_gb: float | None, recipes_dir: Path = RECIPES_DIR
) -> tuple[str, str]:
    """The largest ``<policy>_<N>g`` recipe with N <= ``gpu_gb``; ``<policy>_cpu`` without GPU.

    Returns (recipe name, one sentence saying why), so the launcher can tell the user.
    """
    sized = []
    for name in list_recipes(recipes_dir):
        m = NAME_RE.match(name)
        if m and m["policy"] == policy and m["size"] != "cpu":
            sized.append((float(m["size"][:-1]), name))
    if not sized and not (recipes_dir / f"{policy}_cpu.yaml").is_file():
        raise RecipeError(
            f"no recipes for policy '{policy}' in {recipes_dir}: known: "
            + ", ".join(list_recipes(recipes_dir))
        )
    if gpu_gb is None:
        if (recipes_dir / f"{policy}_cpu.yaml").is_file():
            return f"{policy}_cpu", "no CUDA GPU detected (nvidia-smi), so the CPU recipe"
        raise RecipeError(f"no CUDA GPU detected and no {policy}_cpu recipe: pass RECIPE=<name>")
    fitting = [(gb, n) for gb, n in sorted(sized) if gb <= gpu_gb + 0.5]
    if not fitting:
        smallest = sorted(sized)[0]
        raise RecipeError(
            f"GPU has {gpu_gb:.0f} GB, smaller than the smallest {policy} recipe "
            f"({smallest[1]}, {smallest[0]:.0f} GB): use a bigger GPU or write a smaller recipe"
        )
    _gb, name = fitting[-1]
    return name, f"the largest {policy} recipe that fits the detected {gpu_gb:.0f} GB GPU"


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"policy": {"type": "act"}}`` -> ``{"policy.type": "act"}`` (lists stay values)."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        full = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value and key != "rename_map":
            out.update(flatten(value, full))
        else:
            out[full] = value
    return out


def format_value(value: Any) -> str:
    """A value as draccus reads it on the command line (bools lower case, None as null)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def to_cli(flat: dict[str, Any]) -> list[str]:
    """``--key=value`` flags in a stable order (policy.path/type first, as users write them)."""
    first = [k for k in ("policy.path", "policy.type") if k in flat]
    rest = [k for k in flat if k not in first]
    return [f"--{k}={format_value(flat[k])}" for k in first + rest]


def parse_cli_overrides(args: list[str]) -> dict[str, Any]:
    """``["--steps=6", "--policy.device=cpu"]`` -> ``{"steps": 6, "policy.device": "cpu"}``.

    Values are read as YAML scalars (``6`` -> 6, ``true`` -> True, ``null`` -> None) so they
    compare with recipe values. Only ``--key=value`` is accepted: the launcher has to know
    which key each value belongs to.
    """
    out: dict[str, Any] = {}
    for arg in args:
        if not arg.startswith("--") or "=" not in arg:
            raise RecipeError(
                f"extra argument '{arg}': write LeRobot overrides as --key=value "
                "(e.g. ARGS='--steps=2000 --batch_size=16')"
            )
        key, value = arg[2:].split("=", 1)
        try:
            out[key] = yaml.safe_load(value) if value != "" else ""
        except yaml.YAMLError:
            out[key] = value
    return out


def merged(recipe: Recipe, overrides: dict[str, Any]) -> dict[str, Any]:
    """The recipe's flat config with overrides applied; ``policy.type`` drops ``policy.path``.

    LeRobot refuses ``--policy.path`` together with ``--policy.type``: when the user names a
    type, they mean "not the pretrained checkpoint", so the recipe's path goes.
    """
    flat = flatten(copy.deepcopy(recipe.config))
    if "policy.type" in overrides:
        flat.pop("policy.path", None)
    if "policy.path" in overrides:
        flat.pop("policy.type", None)
    flat.update(overrides)
    return flat
