"""make migrate (issue 28): an old-layout ACT made by LeRobot 0.3.3 -> 0.6.1, proven to 1e-5.

The checkpoints are written in envs/legacy by tests/helpers/migrate_make_old.py (real ACT
architecture, tiny dims, random weights and stats, `save_pretrained`); the migration runs the old
one in envs/legacy and the new one in envs/act on the same generated frames.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import FIXTURE_V21, REPO, env_python, run

MIGRATE = ["-m", "scripts.migrate.migrate"]


@pytest.fixture(scope="module")
def old(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("migrate")
    r = run([env_python("legacy"), REPO / "tests/helpers/migrate_make_old.py", root])
    assert r.returncode == 0, r.stderr[-2000:]
    return root


def migrate(src: Path, dst: Path, *extra: str, **kw):
    return run([env_python("act"), *MIGRATE, src, dst, "--frames", "8", *extra], **kw)


def lines(r) -> list[str]:
    return [ln for ln in r.stdout.splitlines() if ln.startswith("migrate:")]


@pytest.fixture(scope="module")
def migrated(old: Path) -> tuple[Path, object]:
    dst = old / "new"
    return dst, migrate(old / "old", dst)


def test_migrated_equivalent_to_1e5_with_cases_named(old: Path, migrated) -> None:
    dst, r = migrated
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    rep = json.loads((dst / "migration.json").read_text())
    assert rep["frames_compared"] == 8 and rep["actions_per_chunk"] == 8
    assert len(rep["max_abs_diff_per_action_dim"]) == 6
    assert rep["max_abs_diff"] <= 1e-5
    assert (
        rep["versions"]["old"]["lerobot"] == "0.3.3"
        and rep["versions"]["new"]["lerobot"] == "0.6.1"
    )
    out = "\n".join(lines(r))
    for case in (
        "config field 'dropout' missing: old default 0.1",
        "config field 'kl_weight' missing: old default 10.0",
        "buffer_observation_images_front_cam -> 'observation.images.front_cam'",
        "n_action_steps = 4 carried over (config.json)",
        "chunk_size = 8 carried over (config.json)",
        "temporal_ensemble_coeff = None carried over (0.3.3 default)",
    ):
        assert case in out
    assert {p.name for p in dst.iterdir()} >= {
        "config.json",
        "model.safetensors",
        "policy_preprocessor.json",
        "policy_postprocessor.json",
        "migration.json",
    }
    assert not list(old.glob(".new.partial-*")), "temporary folder left behind"
    assert {p.name for p in (old / "old").iterdir()} == {"config.json", "model.safetensors"}


def edit(path: Path, key: str, delta: str) -> None:
    """Make a stats buffer deliberately wrong, from the test side (no hook in product code)."""
    r = run([env_python("act"), REPO / "tests/helpers/migrate_edit_stats.py", path, key, delta])
    assert r.returncode == 0, r.stderr[-2000:]


def test_wrong_stats_refused_naming_the_feature(old: Path, migrated, tmp_path: Path) -> None:
    """A migrated copy whose observation.state std is off by 1e-3 fails the proof (CHECK=)."""
    bad = tmp_path / "bad_copy"
    shutil.copytree(migrated[0], bad)
    (pre,) = bad.glob("policy_preprocessor_step_*_normalizer_processor.safetensors")
    edit(pre, "observation.state.std", "1e-3")
    r = run(["make", "migrate", f"FROM={old / 'old'}", f"CHECK={bad}", "FRAMES=8"])
    assert r.returncode != 0
    last = lines(r)[-1]
    assert (
        last.startswith("migrate: refused: new action chunks differ")
        and "'observation.state' std (max diff 0.001)" in last
    ), last
    r = run(["make", "migrate", f"FROM={old / 'old'}", f"CHECK={migrated[0]}", "FRAMES=8"])
    assert r.returncode == 0 and "(checked, nothing written)" in lines(r)[-1], r.stdout[-2000:]
    # An old checkpoint whose training-only target buffer disagrees with the output buffer.
    src = tmp_path / "old_wrong"
    shutil.copytree(old / "old", src)
    edit(src / "model.safetensors", "normalize_targets.buffer_action.std", "1e-3")
    r = migrate(src, tmp_path / "new")
    assert r.returncode == 1
    assert lines(r) == ["migrate: refused: feature 'action': std differs between normalisation "
                        "modules"], r.stdout  # fmt: skip
    assert not (tmp_path / "new").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".new.partial-")]


def test_temporal_ensembling_proven_step_by_step(old: Path, migrated, tmp_path: Path) -> None:
    r = migrate(old / "old_te", tmp_path / "new")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    rep = json.loads((tmp_path / "new" / "migration.json").read_text())
    te = rep["temporal_ensemble"]
    assert te["coeff"] == 0.01 and te["steps_compared"] == 8
    assert len(te["max_abs_diff_per_action_dim"]) == 6 and te["max_abs_diff"] <= 1e-5
    out = "\n".join(lines(r))
    assert "n_action_steps = 1 carried over (config.json)" in out
    assert "temporal_ensemble_coeff = 0.01 carried over (config.json)" in out
    assert "temporal ensembling (coeff 0.01): 8 select_action steps agree" in out
    assert "temporal_ensemble" not in json.loads((migrated[0] / "migration.json").read_text())


def test_inf_buffers_reported(old: Path, tmp_path: Path) -> None:
    r = migrate(old / "old_inf", tmp_path / "new")
    assert r.returncode == 0, r.stdout[-2000:]
    assert "inf stats buffers (never fitted): 'action' in normalize_targets:mean/std" in r.stdout
    rep = json.loads((tmp_path / "new" / "migration.json").read_text())
    assert rep["inf_buffers"] == {"action": ["normalize_targets:mean/std"]}


def test_bad_input_one_line_each(old: Path, migrated, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    diff = tmp_path / "diffusion"
    shutil.copytree(old / "old", diff)
    cfg = json.loads((diff / "config.json").read_text())
    (diff / "config.json").write_text(json.dumps({**cfg, "type": "diffusion"}))
    cases = {
        tmp_path / "empty": "is not a checkpoint (needs config.json and model.safetensors)",
        migrated[0]: "is already a LeRobot 0.4+ checkpoint (processor files); nothing to do",
        diff: "is a 'diffusion' policy; supported: act",
    }
    for src, want in cases.items():
        r = migrate(src, tmp_path / "out")
        assert r.returncode == 1 and lines(r) == [lines(r)[0]] and want in lines(r)[0], r.stdout
    r = migrate(old / "old", migrated[0])
    assert r.returncode == 1 and "exists; choose a new folder" in lines(r)[0]
    r = run(["make", "migrate", f"FROM={old / 'old'}"])
    assert r.returncode != 0 and "DST is required: make migrate DST=<dir>" in r.stderr
    assert not (tmp_path / "out").exists()


def test_make_migrate_on_dataset_frames(tmp_path: Path) -> None:
    """The real v2.1 fixture converted to v3.0: its decoded camera frames and states, via make."""
    ds = tmp_path / "koch_v30"
    r = run(["make", "convert", f"SRC={FIXTURE_V21}", f"DST={ds}"])
    assert r.returncode == 0, r.stderr[-2000:]
    r = run(
        [
            env_python("legacy"),
            REPO / "tests/helpers/migrate_make_old.py",
            tmp_path,
            "--cameras",
            "laptop:96x128,phone:64x80",
        ]
    )
    assert r.returncode == 0, r.stderr[-2000:]
    dst = tmp_path / "new"
    r = run(
        ["make", "migrate", f"FROM={tmp_path / 'old'}", f"DST={dst}", f"DATASET={ds}", "FRAMES=6"]
    )
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    rep = json.loads((dst / "migration.json").read_text())
    assert rep["frames_source"] == str(ds) and rep["frames_compared"] == 6
    assert rep["max_abs_diff"] <= 1e-5
