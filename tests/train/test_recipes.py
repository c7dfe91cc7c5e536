"""Recipes: every one parses with the pinned LeRobot, siblings differ only in memory knobs."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from conftest import REPO, env_python, run

from scripts.train import gpu as gpu_mod
from scripts.train.recipes import (
    CPU_KNOBS,
    MEMORY_KNOBS,
    NAME_RE,
    RecipeError,
    closest,
    flatten,
    list_recipes,
    load_recipe,
    pick_for_gpu,
    to_cli,
)

REQUIRED = [
    "act_8g",
    "act_24g",
    "act_48g",
    "smolvla_12g",
    "smolvla_24g",
    "smolvla_48g",
    "smolvla_80g",
    "pi0_24g",
    "pi0_48g",
    "pi0_80g",
    "diffusion_12g",
    "diffusion_24g",
    "diffusion_48g",
    "diffusion_80g",
    "act_cpu",
    "diffusion_cpu",
    "smolvla_cpu",
]


def test_required_recipes_exist_with_header() -> None:
    names = list_recipes()
    assert set(REQUIRED) <= set(names), set(REQUIRED) - set(names)
    for name in names:
        assert NAME_RE.match(name), f"{name}: not <policy>_<vram>g / <policy>_cpu"
        text = (REPO / "recipes" / f"{name}.yaml").read_text()
        head = text.split("\n\n")[0]
        for needle in ("Environment: envs/", "make ", "Batch arithmetic", "Numbers from"):
            assert needle in head, f"{name}: header lacks '{needle}'"
        assert re.search(r"^# Measured[:( ]", text, re.M), f"{name}: no Measured line"
        recipe = load_recipe(name)
        assert recipe.config["policy"].get("push_to_hub") is False, name
        assert recipe.ops["env"] in ("act", "smolvla")


def cli_for_parse(name: str) -> list[str]:
    """The launcher's flags for a recipe; a pretrained path becomes its type (not local here)."""
    recipe = load_recipe(name)
    flat = flatten(recipe.config)
    if "policy.path" in flat:
        flat.pop("policy.path")
        flat = {"policy.type": recipe.policy, **flat}
    flat["dataset.repo_id"] = "local/x"
    return to_cli(flat)


@pytest.mark.parametrize("env", ["act", "smolvla"])
def test_every_recipe_parses_with_lerobot_train_pipeline_config(env: str, tmp_path: Path) -> None:
    todo = {n: cli_for_parse(n) for n in list_recipes() if load_recipe(n).env == env}
    # The check must be able to fail: a key LeRobot does not know.
    todo["__unknown_key__"] = [*cli_for_parse(next(iter(todo))), "--policy.no_such_knob=1"]
    spec = tmp_path / "todo.json"
    spec.write_text(json.dumps(todo))
    proc = run([env_python(env), REPO / "tests/helpers/train_parse_recipes.py", spec], timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "no_such_knob" in result.pop("__unknown_key__")
    bad = {k: v for k, v in result.items() if v != "ok"}
    assert not bad, bad


def siblings() -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for name in list_recipes():
        groups.setdefault(NAME_RE.match(name)["policy"], []).append(name)
    return groups


def diff_keys(a: dict, b: dict) -> set[str]:
    fa, fb = flatten(a), flatten(b)
    return {k for k in fa.keys() | fb.keys() if fa.get(k) != fb.get(k)}


@pytest.mark.parametrize("policy", ["act", "diffusion", "smolvla", "pi0"])
def test_siblings_differ_only_in_memory_knobs(policy: str) -> None:
    names = siblings()[policy]
    gpu = [n for n in names if not n.endswith("_cpu")]
    base = load_recipe(gpu[0])
    for name in gpu[1:]:
        extra = diff_keys(base.config, load_recipe(name).config) - MEMORY_KNOBS
        assert not extra, f"{name} vs {gpu[0]} differ in non-memory keys {sorted(extra)}"
    for name in [n for n in names if n.endswith("_cpu")]:
        extra = diff_keys(base.config, load_recipe(name).config) - MEMORY_KNOBS - CPU_KNOBS
        assert not extra, f"{name} differs from {gpu[0]} in {sorted(extra)}"


def test_pick_for_gpu_takes_largest_fitting_and_cpu_without_gpu() -> None:
    assert pick_for_gpu("smolvla", 24.0)[0] == "smolvla_24g"
    assert pick_for_gpu("smolvla", 40.0)[0] == "smolvla_24g"
    assert pick_for_gpu("smolvla", 79.6)[0] == "smolvla_80g"  # an "80 GB" card reports 79.6
    assert pick_for_gpu("act", 11.0)[0] == "act_8g"
    assert pick_for_gpu("smolvla", None)[0] == "smolvla_cpu"
    with pytest.raises(RecipeError, match="smaller than the smallest"):
        pick_for_gpu("pi0", 16.0)


@pytest.mark.skipif(bool(gpu_mod.detect()), reason="this machine has a CUDA GPU")
def test_bare_policy_name_says_which_recipe_it_picked(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "scripts.train", "--recipe", "smolvla", "--dataset", tmp_path]
    proc = run([*cmd, "--dry-run"])
    assert "RECIPE=smolvla -> smolvla_cpu: no CUDA GPU detected" in proc.stdout


def test_unknown_recipe_suggests_closest() -> None:
    assert closest("smolvla_24") == "smolvla_24g"
    with pytest.raises(RecipeError, match="did you mean act_24g"):
        load_recipe("act_24")


def test_nvidia_smi_parsing_and_budget() -> None:
    gpus = gpu_mod.parse_nvidia_smi("0, NVIDIA GeForce RTX 4090, 49140, 47000\n1, X, 24564, 2000\n")
    assert [round(g.total_gb) for g in gpus] == [48, 24]
    assert gpu_mod.check_budget(gpus, 48, 1) is None
    assert "only 2 CUDA GPU" in gpu_mod.check_budget(gpus, 24, 3)
    assert "GPU 1" in gpu_mod.check_budget(gpus, 24, 2)
    assert "no CUDA GPU" in gpu_mod.check_budget([], 8, 1)
