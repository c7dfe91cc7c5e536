"""Preflight checks before lerobot-train: each failure is one line with the fix and an exit code.

Why: the users' notes are full of runs lost minutes (or hours) in to things checkable in a
second: a v2.1 dataset, an env never built, a GPU already full, weights that would be
downloaded on an offline box. Nothing here imports torch or LeRobot, so it fails fast.

Exit codes (also used by the tests):
  2 usage / unknown recipe   3 dataset not ready   4 environment not built
  5 GPU missing or too full  6 weights missing offline   7 output directory conflict
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scripts.train import gpu as gpu_mod
from scripts.train.recipes import REPO, Recipe

EXIT_USAGE = 2
EXIT_DATASET = 3
EXIT_ENV = 4
EXIT_GPU = 5
EXIT_WEIGHTS = 6
EXIT_OUTPUT = 7

# torchvision's file name for ResNet18_Weights.IMAGENET1K_V1 (torchvision/models/resnet.py).
RESNET18_FILE = "resnet18-f37072fd.pth"
PALIGEMMA_TOKENIZER = "google/paligemma-3b-pt-224"  # hard-coded in lerobot's processor_pi0.py


class PreflightError(Exception):
    """One failed check: ``str(err)`` is the one-line message, ``err.code`` the exit code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class DatasetFacts:
    """What the launcher derives from a dataset's metadata (no video decoding)."""

    root: Path
    version: str
    state_dim: int | None
    action_dim: int | None
    camera_keys: list[str]
    tasks: list[str]


def env_dir(env: str) -> Path:
    """envs/<env>/.venv; ``ENVS_DIR`` relocates envs/ (a shared install, or a test)."""
    return Path(os.environ.get("ENVS_DIR") or REPO / "envs") / env / ".venv"


def weights_dir() -> Path:
    """Where ``make weights-import`` puts models (``WEIGHTS_DIR``, default .cache/weights)."""
    return Path(os.environ.get("WEIGHTS_DIR") or REPO / ".cache" / "weights")


def torch_home() -> Path:
    """torch.hub's rule: $TORCH_HOME, else $XDG_CACHE_HOME/torch, else ~/.cache/torch."""
    if os.environ.get("TORCH_HOME"):
        return Path(os.environ["TORCH_HOME"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(xdg).expanduser() / "torch"


def hf_hub_cache() -> Path:
    """huggingface_hub's cache: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or "~/.cache/huggingface"
    return Path(home).expanduser() / "hub"


# --- dataset ---------------------------------------------------------------------------------
def read_dataset(root: Path) -> DatasetFacts:
    """Read info.json and tasks.parquet; raise PreflightError(3) when it is not a dataset."""
    from validators.dataset_format import NotADatasetError, load_layout

    try:
        layout = load_layout(root)
    except NotADatasetError as exc:
        raise PreflightError(EXIT_DATASET, f"DATASET: {exc}") from exc
    feats = layout.features

    def dim(key: str) -> int | None:
        shape = feats.get(key, {}).get("shape")
        return int(shape[0]) if shape else None

    cams = [k for k, ft in feats.items() if ft.get("dtype") in ("video", "image")]
    tasks: list[str] = []
    tasks_file = root / "meta" / "tasks.parquet"
    if tasks_file.is_file():
        import pandas as pd

        df = pd.read_parquet(tasks_file)
        tasks = [str(t) for t in df.index] if "task" not in df.columns else list(df["task"])
    return DatasetFacts(
        root=root,
        version=layout.version,
        state_dim=dim("observation.state"),
        action_dim=dim("action"),
        camera_keys=cams,
        tasks=tasks,
    )


def check_dataset(root: Path) -> DatasetFacts:
    """The dataset exists and is v3.0; returns what the launcher derives arguments from."""
    if not root.is_dir():
        raise PreflightError(EXIT_DATASET, f"DATASET={root}: no such directory")
    facts = read_dataset(root)
    if facts.version != "v3.0":
        raise PreflightError(
            EXIT_DATASET,
            f"DATASET={root}: codebase_version {facts.version or '?'}, LeRobot 0.6.1 trains on "
            f"v3.0 only: convert it first (make convert SRC={root})",
        )
    return facts


def validate(
    root: Path,
    recipe_name: str,
    policy_overrides: dict[str, Any],
    ignore: frozenset[str] = frozenset(),
) -> None:
    """The validator in quick mode with the recipe's readiness checks; errors stop the run.

    ``policy_overrides`` are the values the launcher will pass (raised dims, local paths), so
    readiness is judged on the command that actually runs; ``ignore`` drops check ids the
    launcher has already settled itself (e.g. camera names it maps with rename_map).
    """
    try:
        from validators.runner import validate_dataset
    except ImportError:
        return  # the validator is not in this checkout: the version check above still ran
    try:
        report = validate_dataset(
            root, recipe=recipe_name, quick=True, policy_overrides=policy_overrides
        )
    except ValueError as exc:  # validators.policies.UsageError
        raise PreflightError(EXIT_DATASET, f"DATASET={root}: {exc}") from exc
    errors = [f for f in report.errors if f.check_id not in ignore]
    if not errors:
        errors = non_finite(root)
    if errors:
        first = errors[0]
        where = f" ({first.file})" if first.file else ""
        more = f" (+{len(errors) - 1} more: make validate DATASET={root} RECIPE={recipe_name})"
        raise PreflightError(
            EXIT_DATASET,
            f"DATASET={root}: [{first.check_id}]{where} {first.message}; fix: {first.hint}"
            + (more if len(errors) > 1 else ""),
        )


def non_finite(root: Path) -> list[Any]:
    """The validator's NaN/Inf findings (``data.non_finite``) for every float feature.

    Why: quick mode stops the data group after the schemas, so a dry run passed data that
    ``make validate`` rejects and the run died later on a NaN loss. The scan is the
    validator's own (standard-mode data group: only bookkeeping and float columns are read).
    """
    from validators.runner import validate_dataset

    report = validate_dataset(root, groups=("schema", "structure", "data"))
    return [f for f in report.errors if f.check_id == "data.non_finite"]


# --- environment, GPU ---------------------------------------------------------------------------
def check_env(recipe: Recipe) -> Path:
    """The recipe's environment, built on first use; returns its bin directory.

    With the repo's own envs/ the builder runs every time: it returns at once when the lock is
    unchanged and rebuilds when it changed. A relocated ``ENVS_DIR`` is only checked.
    """
    if not os.environ.get("ENVS_DIR"):
        build = [str(REPO / "scripts" / "envs.sh"), "build", recipe.env]
        proc = subprocess.run(build, stdout=sys.stderr, stderr=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            why = (proc.stderr.strip().splitlines() or ["envs.sh failed"])[-1]
            raise PreflightError(
                EXIT_ENV, f"environment '{recipe.env}' for recipe {recipe.name}: {why}"
            )
    exe = env_dir(recipe.env) / "bin" / "lerobot-train"
    if not exe.is_file():
        raise PreflightError(
            EXIT_ENV,
            f"environment '{recipe.env}' for recipe {recipe.name} is not built "
            f"({exe} missing): run make envs",
        )
    return exe.parent


def check_gpu(recipe: Recipe, flat: dict[str, Any], gpus_wanted: int) -> list[gpu_mod.Gpu]:
    """GPU recipes need ``gpus_wanted`` CUDA GPUs with the recipe's budget free."""
    if recipe.is_cpu or str(flat.get("policy.device", "cuda")) == "cpu":
        return []
    gpus = gpu_mod.detect()
    why = gpu_mod.check_budget(gpus, recipe.gpu_gb, gpus_wanted)
    if why:
        if gpus and len(gpus) < gpus_wanted:
            fix = f"GPUS={len(gpus)} (this machine has {len(gpus)} GPU(s))"
        elif gpus:
            fix = f"a smaller recipe, free the GPU, or RECIPE={recipe.policy}_cpu"
        else:
            fix = f"run on a machine with an NVIDIA GPU and driver, or RECIPE={recipe.policy}_cpu"
        raise PreflightError(EXIT_GPU, f"recipe {recipe.name}: {why}: {fix}")
    return gpus


# --- weights ---------------------------------------------------------------------------------
def hub_snapshot(repo_id: str) -> Path | None:
    """A complete-looking snapshot of ``repo_id`` in the HF hub cache, if any."""
    base = hf_hub_cache() / ("models--" + repo_id.replace("/", "--")) / "snapshots"
    if not base.is_dir():
        return None
    snaps = sorted(
        (p for p in base.iterdir() if (p / "config.json").exists()), key=os.path.getmtime
    )
    return snaps[-1] if snaps else None


def resolve_model_dir(value: str, what: str, knob: str, need: tuple[str, ...]) -> Path:
    """A local directory for a hub id or path: as given, $WEIGHTS_DIR/<name>, or the HF cache.

    ``need`` names files that must exist in it (e.g. config.json). Raises PreflightError(6)
    naming every place looked at and the import command.
    """
    looked: list[Path] = []
    candidates = [Path(value).expanduser(), weights_dir() / Path(value).name]
    for cand in candidates:
        looked.append(cand)
        if cand.is_dir() and all((cand / f).exists() for f in need):
            return cand.resolve()
    if "/" in value and not Path(value).is_absolute():
        snap = hub_snapshot(value)
        looked.append(hf_hub_cache() / ("models--" + value.replace("/", "--")))
        if snap is not None and all((snap / f).exists() for f in need):
            return snap
    raise PreflightError(
        EXIT_WEIGHTS,
        f"{knob}={value}: {what} not found offline (looked in "
        + ", ".join(str(p) for p in dict.fromkeys(looked))
        + f"; need {', '.join(need)}): make weights-import FROM=<dir or archive>, "
        f"or ARGS='--{knob}=<local dir>'",
    )


def check_weights(flat: dict[str, Any], policy: str) -> dict[str, Any]:
    """Every file the run would download must already be local; returns overrides to apply.

    The overrides point hub ids at the local directories found, so LeRobot never goes online.
    """
    updates: dict[str, Any] = {}
    path = flat.get("policy.path")
    if path:
        local = resolve_model_dir(
            str(path), f"pretrained {policy} policy", "policy.path", ("config.json",)
        )
        if not (local / "model.safetensors").exists():
            raise PreflightError(
                EXIT_WEIGHTS,
                f"policy.path={path}: {local} has no model.safetensors: "
                "make weights-import FROM=<complete policy dir>",
            )
        updates["policy.path"] = str(local)
    if policy in ("act", "diffusion"):  # both default to torchvision's ImageNet ResNet-18
        weights = flat.get("policy.pretrained_backbone_weights", "ResNet18_Weights.IMAGENET1K_V1")
        if weights and not path:
            expected = torch_home() / "hub" / "checkpoints" / RESNET18_FILE
            if str(weights) != "ResNet18_Weights.IMAGENET1K_V1":
                raise PreflightError(
                    EXIT_WEIGHTS,
                    f"policy.pretrained_backbone_weights={weights}: only ResNet-18 ImageNet "
                    "weights are checked offline; use ResNet18_Weights.IMAGENET1K_V1 or null",
                )
            if not expected.is_file():
                raise PreflightError(
                    EXIT_WEIGHTS,
                    f"policy.pretrained_backbone_weights={weights}: {expected} missing (TORCH_HOME="
                    f"{torch_home()}): make weights-import FROM=<{RESNET18_FILE}>, or "
                    "ARGS='--policy.pretrained_backbone_weights=null' to train from scratch",
                )
    if policy == "smolvla":
        base = _pretrained_config(Path(updates["policy.path"])) if path else {}
        vlm = flat.get("policy.vlm_model_name") or base.get("vlm_model_name")
        vlm = vlm or "HuggingFaceTB/SmolVLM2-500M-Video-Instruct"
        need = ("config.json", "tokenizer_config.json")
        local = resolve_model_dir(str(vlm), "SmolVLM2 model", "policy.vlm_model_name", need)
        load = flat.get("policy.load_vlm_weights", base.get("load_vlm_weights", False))
        if load and not list(local.glob("*.safetensors")):
            raise PreflightError(
                EXIT_WEIGHTS,
                f"policy.vlm_model_name={vlm}: {local} has no *.safetensors but "
                "load_vlm_weights=true: import the full model (make weights-import FROM=<dir>)",
            )
        updates["policy.vlm_model_name"] = str(local)
    if policy == "pi0" and hub_snapshot(PALIGEMMA_TOKENIZER) is None:
        where = hf_hub_cache() / ("models--" + PALIGEMMA_TOKENIZER.replace("/", "--"))
        raise PreflightError(
            EXIT_WEIGHTS,
            f"PI0's processor reads the tokenizer {PALIGEMMA_TOKENIZER} from the HF cache: "
            f"{where} missing: make weights-import FROM=<HF cache dir or archive holding it>",
        )
    return updates


def _pretrained_config(policy_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((policy_dir / "config.json").read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def pretrained_config(flat: dict[str, Any]) -> dict[str, Any]:
    """The pretrained policy's config.json (after resolution), or {} when training from scratch."""
    path = flat.get("policy.path")
    return _pretrained_config(Path(path)) if path else {}
