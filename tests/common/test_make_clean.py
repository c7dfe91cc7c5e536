"""`make clean` removes what the toolkit generated and never a user's data (issue 15, item 1;
issue 22: the arm's calibration and folders the toolkit did not create are kept and named).

Real make in a private copy of the front door (tests/helpers/repo_copy.py) with a `.env` that
points DATA_DIR at a folder holding a lab's files, as `.env.example` suggests.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from conftest import run
from helpers.repo_copy import repo_copy


def snapshot(root: Path) -> dict[str, str]:
    """Every entry under root with its content hash ("dir" for directories)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        if p.is_file()
        else "dir"
        for p in sorted(root.rglob("*"))
    }


def make(repo: Path, *args: str):
    return run(["make", *args], cwd=repo, timeout=300)


def test_clean_keeps_a_users_data_dir_byte_identical(tmp_path: Path) -> None:
    repo = repo_copy(tmp_path / "repo")
    lab = tmp_path / "lab data"  # a lab data root, with a space
    (lab / "grasp" / "meta").mkdir(parents=True)
    (lab / "grasp" / "meta" / "info.json").write_text('{"codebase_version": "v2.1"}\n')
    (lab / "thesis.txt").write_bytes(b"four years of work\n")
    (lab / "my_recordings" / "day1").mkdir(parents=True)  # a folder the toolkit did not create
    (lab / "my_recordings" / "day1" / "episode_0.bin").write_bytes(b"\x00\x01recorded")
    (repo / ".env").write_text(f'DATA_DIR="{lab}"  # the lab data root\n')
    user_files = snapshot(lab)

    built = make(repo, "convert")  # the sample and its conversion, inside the lab's root
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    sample = lab / "sample_koch_v21"
    assert (sample / "meta/info.json").is_file()
    assert (lab / "sample_koch_v21_v30/meta/info.json").is_file()
    (repo / ".pytest_cache").mkdir()
    (repo / ".cache/weights/smolvla_base").mkdir(parents=True)  # imported weights stay
    calib_dir = repo / ".cache/huggingface/lerobot/calibration"  # what make calibrate writes
    calib = calib_dir / "robots/koch_follower/koch_follower.json"
    calib.parent.mkdir(parents=True)
    calib.write_text('{"shoulder_pan": {"id": 1, "homing_offset": -1024}}\n')
    hf_datasets = repo / ".cache/huggingface/datasets/downloads"  # HF_DATASETS_CACHE: ours
    hf_datasets.mkdir(parents=True)
    (repo / ".cache/slurm").mkdir()  # make slurm-local's cluster: ours
    notes = repo / ".cache/lab-notes.txt"  # unknown to the toolkit: kept, and said so
    notes.write_text("bus 2 is flaky\n")

    dry = make(repo, "-n", "clean")
    assert "rm -rf" not in dry.stdout, dry.stdout
    listed = make(repo, "clean", "DRY_RUN=1")
    assert listed.returncode == 0 and "would remove 6 path(s):" in listed.stdout, listed.stdout
    assert "removed" not in listed.stdout and (sample / "meta/info.json").is_file()
    cleaned = make(repo, "clean")
    assert cleaned.returncode == 0, cleaned.stderr
    out = cleaned.stdout
    assert f"removed {sample}" in out
    plan = out.split("clean: removed", 1)[0]  # the list comes before the first removal
    assert f"removing 6 path(s):\n  {lab}/sample_koch_v21_v30\n  {sample}\n" in plan, out
    assert f"  {repo}/.pytest_cache\n" in plan and f"  {repo}/.cache/huggingface/datasets\n" in plan
    assert f"kept {calib_dir}: the arm's calibration (make calibrate)" in plan, out
    assert f"kept {notes}: not known to be written by this toolkit" in plan, out
    assert "my_recordings" not in out and "thesis" not in out  # DATA_DIR is not walked
    assert snapshot(lab) == user_files  # exactly the user's files, byte for byte
    assert not (repo / ".pytest_cache").exists() and not hf_datasets.exists()
    assert (repo / ".cache/weights/smolvla_base").is_dir()
    assert notes.read_text() == "bus 2 is flaky\n" and not (repo / ".cache/slurm").exists()
    assert calib.read_text() == '{"shoulder_pan": {"id": 1, "homing_offset": -1024}}\n'


def test_clean_keeps_folders_named_like_the_sample_that_it_did_not_write(tmp_path: Path) -> None:
    repo = repo_copy(tmp_path / "repo")
    lab = tmp_path / "lab"
    for name in ("sample_koch_v21", "sample_koch_v21_v30"):
        (lab / name / "meta").mkdir(parents=True)
        (lab / name / "meta" / "info.json").write_text("{}\n")
        (lab / name / "notes.txt").write_text(f"mine: {name}\n")
    (repo / ".env").write_text(f'DATA_DIR="{lab}"  # the lab data root\n')
    before = snapshot(lab)
    proc = make(repo, "clean")
    assert proc.returncode == 0, proc.stderr
    assert snapshot(lab) == before
    assert proc.stdout.count("kept ") == 2, proc.stdout
