"""Readiness checks: will the recipe's policy train on this dataset (issue 4)?

Recipes are written into tmp_path in the repo's recipe format (LeRobot TrainPipelineConfig keys
plus ``ops``); the repo's own recipes are loaded too, so a recipe the validator cannot read
fails here. Datasets come from the sample generator (v2.1), the GR2 preset for 45/37-d.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from validators import dataset_format as fmt
from validators.policies import (
    POLICY_DEFAULTS,
    RECIPES_DIR,
    UsageError,
    list_recipes,
    load_policy_spec,
    resolve_recipe,
)
from validators.runner import validate_dataset

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def koch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from scripts.sample.make import PRESETS, make_dataset

    return make_dataset(tmp_path_factory.mktemp("r") / "koch", PRESETS["sample"])


@pytest.fixture(scope="module")
def gr2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from scripts.sample.make import PRESETS, make_dataset

    return make_dataset(tmp_path_factory.mktemp("r") / "gr2", PRESETS["gr2"])


def recipe(tmp_path: Path, name: str, policy: dict, **top: object) -> str:
    """Write a recipe; n_action_steps follows chunk_size unless given (LeRobot needs <=)."""
    if "chunk_size" in policy:
        policy = {"n_action_steps": policy["chunk_size"], **policy}
    cfg = {"policy": policy, "batch_size": 2, "steps": 1, **top, "ops": {"env": "act"}}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


def ids(report) -> set[str]:
    """Readiness findings about the recipe vs the features. The sample is v2.1, which
    readiness refuses as a whole (``readiness.needs_conversion``, tested on its own below);
    the other checks still describe what the converted dataset will hold."""
    return {
        f.check_id
        for f in report.findings
        if f.group == "readiness" and f.check_id != "readiness.needs_conversion"
    }


def test_v21_must_be_converted_first(koch: Path, tmp_path: Path) -> None:
    """make train refuses v2.1, so readiness says so (it used to PASS with readiness ok)."""
    from scripts.convert.pipeline import Options, convert

    act = recipe(tmp_path, "act", {"type": "act", "chunk_size": 10})
    found = [f for f in validate_dataset(koch, recipe=act).findings if f.group == "readiness"]
    assert [f.check_id for f in found] == ["readiness.needs_conversion"]
    assert found[0].severity == "error" and f"make convert SRC={koch}" in found[0].hint
    dst = tmp_path / "koch_v30"
    convert(Options(src=koch, dst=dst, jobs=1, progress=False))
    report = validate_dataset(dst, recipe=act)
    assert not [f for f in report.findings if f.group == "readiness"] and not report.errors


def test_gr2_exceeds_smolvla_default_dims(gr2: Path, tmp_path: Path) -> None:
    r = validate_dataset(gr2, recipe=recipe(tmp_path, "sv", {"type": "smolvla", "chunk_size": 10}))
    assert {"readiness.state_dim", "readiness.action_dim"} <= ids(r)
    msg = next(f for f in r.findings if f.check_id == "readiness.state_dim").message
    assert "45-d" in msg and "32" in msg


def test_raised_dims_are_ready(gr2: Path, tmp_path: Path) -> None:
    policy = {"type": "smolvla", "chunk_size": 10, "max_state_dim": 64, "max_action_dim": 64}
    assert ids(validate_dataset(gr2, recipe=recipe(tmp_path, "sv64", policy))) == set()
    # the launcher passes the values it derives instead of editing the recipe
    r = validate_dataset(
        gr2,
        recipe=recipe(tmp_path, "sv", {"type": "pi0", "chunk_size": 10}),
        policy_overrides={"max_state_dim": 45, "max_action_dim": 37},
    )
    assert ids(r) == set()


def test_act_has_no_dim_limit(gr2: Path, tmp_path: Path) -> None:
    assert (
        ids(validate_dataset(gr2, recipe=recipe(tmp_path, "a", {"type": "act", "chunk_size": 5})))
        == set()
    )


def test_missing_image_key_and_rename(koch: Path, tmp_path: Path) -> None:
    feats = {"observation.images.wrist": {"type": "VISUAL", "shape": [3, 96, 128]}}
    policy = {"type": "act", "chunk_size": 10, "input_features": feats}
    r = validate_dataset(koch, recipe=recipe(tmp_path, "cam", policy))
    assert ids(r) == {"readiness.image_keys"}
    assert "observation.images.wrist" in r.findings[0].message
    renamed = recipe(
        tmp_path,
        "cam2",
        policy,
        rename_map={"observation.images.laptop": "observation.images.wrist"},
    )
    assert ids(validate_dataset(koch, recipe=renamed)) == set()


def test_pretrained_policy_config_gives_image_keys(koch: Path, tmp_path: Path) -> None:
    """policy.path to a local checkpoint: its config.json's VISUAL inputs must be present."""
    ckpt = tmp_path / "smolvla_base"
    ckpt.mkdir()
    (ckpt / "config.json").write_text(
        json.dumps(
            {
                "type": "smolvla",
                "max_state_dim": 32,
                "chunk_size": 10,
                "n_action_steps": 10,
                "input_features": {
                    "observation.images.camera1": {"type": "VISUAL", "shape": [3, 256, 256]},
                    "observation.state": {"type": "STATE", "shape": [6]},
                },
            }
        )
    )
    r = validate_dataset(koch, recipe=recipe(tmp_path, "pre", {"path": str(ckpt)}))
    assert ids(r) == {"readiness.image_keys"}
    ok = recipe(
        tmp_path,
        "pre2",
        {"path": str(ckpt)},
        rename_map={"observation.images.laptop": "observation.images.camera1"},
    )
    assert ids(validate_dataset(koch, recipe=ok)) == set()


def test_episodes_shorter_than_chunk(koch: Path, tmp_path: Path) -> None:
    # sample episodes: 36, 50, 42 frames
    some = validate_dataset(
        koch,
        recipe=recipe(tmp_path, "c40", {"type": "act", "chunk_size": 40, "n_action_steps": 40}),
    )
    f = [x for x in some.findings if x.check_id == "readiness.episode_too_short"]
    assert len(f) == 1 and f[0].severity == "warning" and f[0].episode == 0
    every = validate_dataset(koch, recipe=recipe(tmp_path, "c100", {"type": "act"}))  # default 100
    f = [x for x in every.findings if x.check_id == "readiness.episode_too_short"]
    # LeRobot pads chunks past an episode's end, so even "every episode" is a warning whose
    # hint is the chunk that fits them all (the shortest episode), given as make train ARGS.
    assert len(f) == 1 and f[0].severity == "warning"
    assert "ARGS='--policy.chunk_size=36 --policy.n_action_steps=36'" in f[0].hint
    short = recipe(tmp_path, "c10", {"type": "act", "chunk_size": 10, "n_action_steps": 10})
    assert ids(validate_dataset(koch, recipe=short)) == set()


def test_no_task_text_for_language_policy(koch: Path, tmp_path: Path) -> None:
    ds = tmp_path / "notask"
    shutil.copytree(koch, ds)
    tasks = ds / fmt.LEGACY_TASKS_PATH
    rows = fmt.read_jsonl(tasks)
    tasks.write_text(
        "".join(json.dumps({**r, "task": " " * (i + 1)}) + "\n" for i, r in enumerate(rows))
    )
    sv = recipe(tmp_path, "sv", {"type": "smolvla", "chunk_size": 10})
    assert "readiness.no_task_text" in ids(validate_dataset(ds, recipe=sv))
    act = recipe(tmp_path, "act", {"type": "act", "chunk_size": 10})
    assert ids(validate_dataset(ds, recipe=act)) == set()  # ACT ignores language
    assert ids(validate_dataset(koch, recipe=sv)) == set()  # the sample has task text


def test_bad_chunk_config(koch: Path, tmp_path: Path) -> None:
    bad = recipe(tmp_path, "bad", {"type": "act", "chunk_size": 10, "n_action_steps": 20})
    r = validate_dataset(koch, recipe=bad)
    assert "readiness.recipe" in ids(r)


def test_defaults_match_lerobot_source() -> None:
    """The table is copied from LeRobot 0.6.1's configuration_*.py; re-read the source."""
    src = REPO / "envs/act/.venv/lib/python3.12/site-packages/lerobot/policies"
    if not src.is_dir():
        pytest.fail(f"{src} missing: build the act env")
    for ptype, defaults in POLICY_DEFAULTS.items():
        text = (src / ptype / f"configuration_{ptype}.py").read_text()
        keys = ["chunk_size", "n_action_steps", "max_state_dim", "max_action_dim"]
        keys += [defaults["chunk_key"]] if defaults.get("chunk_key") else []  # diffusion: horizon
        for key in keys:
            if defaults[key] is None:
                assert f"    {key}:" not in text, (ptype, key)
            else:
                assert f"    {key}: int = {defaults[key]}" in text, (ptype, key)


def test_repo_recipes_all_load() -> None:
    names = list_recipes()
    assert names, f"no recipes in {RECIPES_DIR}"
    for name in names:
        spec = load_policy_spec(resolve_recipe(name))
        assert spec.type in POLICY_DEFAULTS, (name, spec.type)
        assert spec.chunk_size, name


def test_unknown_recipe_names_closest(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="did you mean"):
        resolve_recipe("act_cpux")


def test_missing_state_for_vla(koch: Path, tmp_path: Path) -> None:
    ds = tmp_path / "nostate"
    shutil.copytree(koch, ds)
    info_file = ds / fmt.INFO_PATH
    info = json.loads(info_file.read_text())
    del info["features"]["observation.state"]
    info_file.write_text(json.dumps(info))
    sv = recipe(tmp_path, "sv", {"type": "smolvla", "chunk_size": 10})
    found = [
        f
        for f in validate_dataset(ds, recipe=sv).findings
        if f.group == "readiness" and f.check_id != "readiness.needs_conversion"
    ]
    assert [f.check_id for f in found] == ["readiness.missing_feature"]
    assert "observation.state" in found[0].message


def test_pretrained_policy_found_in_hf_cache(
    koch: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """policy.path lerobot/<name> already in the offline HF cache is read, not downloaded."""
    snap = tmp_path / "hf/hub/models--lerobot--validator_test_policy/snapshots/0123abc"
    snap.mkdir(parents=True)
    feats = {"observation.images.camera1": {"type": "VISUAL", "shape": [3, 256, 256]}}
    cfg = {"type": "smolvla", "chunk_size": 10, "n_action_steps": 10, "input_features": feats}
    (snap / "config.json").write_text(json.dumps(cfg))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("WEIGHTS_DIR", raising=False)
    r = validate_dataset(
        koch, recipe=recipe(tmp_path, "hub", {"path": "lerobot/validator_test_policy"})
    )
    assert ids(r) == {"readiness.image_keys"}
