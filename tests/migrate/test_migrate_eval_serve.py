"""An old ACT (LeRobot 0.3.3) against a new one in one ``make eval``, and served (issue 28).

The old checkpoint is made in envs/legacy at the Koch-like fixture's features
(tests/helpers/migrate_make_old.py: real ACT architecture, tiny, random weights and stats); the
new one and the LeRobot-written v3.0 dataset are the deploy tests' (tests/helpers/deploy_common):
the real make eval, make serve and make robot ROBOT=replay over gRPC on loopback.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import REPO, env_python, run
from helpers import deploy_common as dc


@pytest.fixture(scope="module")
def ds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return dc.dataset(tmp_path_factory)


@pytest.fixture(scope="module")
def old(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("old_koch")
    helper = REPO / "tests/helpers/migrate_make_old.py"
    r = run([env_python("legacy"), helper, root, "--cameras", "laptop:96x128,phone:64x80"])
    assert r.returncode == 0, r.stderr[-2000:]
    return root / "old"


@pytest.fixture(scope="module")
def migrated(old: Path, ds: Path) -> Path:
    dst = old.parent / "migrated"
    r = run(["make", "migrate", f"FROM={old}", f"DST={dst}", f"DATASET={ds}", "FRAMES=6"])
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    return dst


def test_eval_ranks_old_and_new_in_one_run(
    old: Path, migrated: Path, ds: Path, tmp_path: Path, tmp_path_factory
) -> None:
    """CHECKPOINT=old,new,its migrated copy: the old one's numbers are its copy's, exactly."""
    new = dc.checkpoint(tmp_path_factory)
    out = tmp_path / "eval.json"
    ckpts = f"{old},{new},{migrated}"
    r = run(["make", "eval", f"CHECKPOINT={ckpts}", f"DATASET={ds}", "EPISODES=all",
             f"JSON={out}"], timeout=900)  # fmt: skip
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    doc = json.loads(out.read_text())
    assert [c["path"] for c in doc["checkpoints"]] == ckpts.split(",")
    assert {x["path"] for x in doc["ranking"]} == set(ckpts.split(","))
    by = {c["path"]: c for c in doc["checkpoints"]}
    o, m = by[str(old)], by[str(migrated)]
    for k in ("frames", "mae", "rmse", "per_joint_mae", "per_episode_mae", "per_horizon_mae"):
        assert o[k] == pytest.approx(m[k], rel=1e-9, abs=1e-12), k
    assert o["mae"] != pytest.approx(by[str(new)]["mae"], rel=1e-3)  # a different model
    (said,) = [n for n in doc["notes"] if n.startswith(f"{old}: LeRobot 0.3.x layout")]
    assert "migrated on the fly" in said and f"of {ds}, max abs diff" in said, said
    assert "vs LeRobot 0.3.3" in said
    assert o["model_dir"] != str(old) and not Path(o["model_dir"]).exists()  # temp copy gone
    assert "[eval]   migrate: " in r.stderr
    assert {p.name for p in old.iterdir()} == {"config.json", "model.safetensors"}


def test_eval_refuses_an_old_checkpoint_whose_migration_fails(
    old: Path, ds: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "old_wrong"
    shutil.copytree(old, bad)
    edit = [env_python("act"), REPO / "tests/helpers/migrate_edit_stats.py",
            bad / "model.safetensors", "normalize_targets.buffer_action.std", "1e-3"]  # fmt: skip
    assert run(edit).returncode == 0
    r = run(["make", "eval", f"CHECKPOINT={bad}", f"DATASET={ds}", "EPISODES=all"])
    assert r.returncode != 0
    err = [ln for ln in r.stderr.splitlines() if ln.startswith("eval: error:")]
    assert err == [
        f"eval: error: CHECKPOINT={bad}: old-layout ACT not evaluated: migrate: refused: "
        "feature 'action': std differs between normalisation modules"
    ], r.stderr[-2000:]
    assert "Traceback" not in r.stderr


def test_migrated_serves_and_drives_the_replay_robot(migrated: Path, ds: Path, tmp_path: Path):
    """make serve CHECKPOINT=migrated copy, make robot ROBOT=replay on loopback: it moves."""
    port = dc.free_port()
    server = dc.start_server(migrated, port, tmp_path / "serve")
    try:
        server.wait_for("serve: SERVING", timeout=240)
        log_dir = tmp_path / "robot"
        r = run(["make", "robot", "ROBOT=replay", f"CHECKPOINT={migrated}",
                 f"SERVER=127.0.0.1:{port}", f"DATASET={ds}", "DURATION=4", "STALL_S=5",
                 "ACTIONS_PER_CHUNK=8", f"DEPLOY_DIR={log_dir}"], timeout=300)  # fmt: skip
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
        assert "robot: moving" in r.stdout and "duration 4 s reached" in r.stdout
        rdir = dc.run_dir(log_dir)
        report = json.loads((rdir / "report.json").read_text())
        actions = json.loads((rdir / "actions.json").read_text())
        assert report["failed"] is False
        assert report["actions_performed"] > 0 and report["chunks_received"] > 0
        assert actions["actions_received"] == report["actions_performed"]
        assert all(len(a["action"]) == 6 for a in actions["actions"])
        assert "connected and ready" in server.out
    finally:
        server.stop()
