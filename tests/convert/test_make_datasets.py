"""The main job through real `make`: re-runs, defaults built on demand, awkward paths (issue 15).

3b: a second `make convert ...` on an unchanged SRC is "up to date" and succeeds; a changed SRC
    is named and converted again only with FORCE=1.
3a: targets whose DATASET defaults to the converted sample build it on a fresh clone.
3/4: a trailing slash (tab completion), spaces, quotes and Chinese names in paths.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from conftest import REPO, run
from helpers.repo_copy import repo_copy

from scripts.sample.make import SampleSpec, make_dataset

TINY = SampleSpec(episode_lengths=(6, 5))


def make(*args: str | Path, cwd: Path = REPO, timeout: float = 600):
    proc = run(["make", *(str(a) for a in args)], cwd=cwd, timeout=timeout)
    proc.log = proc.stdout[-3000:] + proc.stderr[-3000:]  # type: ignore[attr-defined]
    return proc


@pytest.mark.slow
def test_smoke_on_a_fresh_clone_builds_the_sample_and_the_rerun_is_up_to_date(
    tmp_path: Path,
) -> None:
    repo = repo_copy(tmp_path / "repo")
    first = make("smoke", "STEPS=2", cwd=repo)  # no sample, no conversion yet (3a)
    assert first.returncode == 0, first.log
    assert (repo / "data/sample_koch_v21_v30/meta/info.json").is_file()
    again = make("convert", "validate", "smoke", "STEPS=2", cwd=repo)  # 3b
    assert again.returncode == 0, again.log
    assert "is up to date" in again.stdout and "[smoke] OK" in again.stdout


def test_train_and_validate_on_a_fresh_clone_build_the_sample(tmp_path: Path) -> None:
    repo = repo_copy(tmp_path / "repo")
    proc = make("train", "RECIPE=act_cpu", "DRY_RUN=1", cwd=repo)
    assert proc.returncode == 0, proc.log
    assert "--dataset.root=" + str(repo / "data/sample_koch_v21_v30") in proc.stdout
    proc = make("validate", cwd=repo)
    assert proc.returncode == 0 and "is up to date" in proc.stdout, proc.log


def test_rerun_is_up_to_date_and_a_changed_src_needs_force(tmp_path: Path) -> None:
    src = make_dataset(tmp_path / "grasp", TINY, progress=False)
    dst = tmp_path / "grasp_v30"
    first = make("convert", "validate", f"SRC={src}/")  # tab completion's trailing slash (3)
    assert first.returncode == 0, first.log
    assert (dst / "meta/info.json").is_file() and not (src / "_v30").exists()
    again = make("convert", "validate", f"SRC={src}/")
    assert again.returncode == 0, again.log
    assert f"{dst} is up to date" in again.stdout
    episodes = src / "meta/episodes.jsonl"
    episodes.write_text(episodes.read_text().replace('"length": 6', '"length":  6'))
    changed = make("convert", f"SRC={src}")
    assert changed.returncode != 0
    assert "changed since" in changed.stderr and "meta/episodes.jsonl" in changed.stderr
    forced = make("convert", f"SRC={src}", "FORCE=1")
    assert forced.returncode == 0 and f"converted {src} -> {dst}" in forced.stdout, forced.log


@pytest.mark.parametrize("name", ["my data/抓取 数据 ", "抓取数据", 'it\'s "odd"'])
def test_paths_with_spaces_quotes_and_chinese(tmp_path: Path, name: str) -> None:
    src = make_dataset(tmp_path / name, TINY, progress=False)
    dst = src.parent / f"{src.name}_v30"
    proc = make("convert", "validate", f"SRC={src}")
    assert proc.returncode == 0, proc.log
    assert (dst / "meta/info.json").is_file()
    assert sorted(p.name for p in src.parent.iterdir()) == sorted([src.name, dst.name])
    out = tmp_path / "out dir"
    proc = make("convert", f"SRC={src}/", f"DST={out}")
    assert proc.returncode == 0 and (out / "meta/info.json").is_file(), proc.log


def test_cron_line_quotes_paths(tmp_path: Path) -> None:
    inbox, outbox = tmp_path / "收件 箱", tmp_path / "out's box"
    proc = make("-s", "cron-line", f"INBOX={inbox}", f"OUTBOX={outbox}", "AT=15 2")
    assert proc.returncode == 0, proc.log
    line = proc.stdout.strip()
    assert line.startswith("15 2 * * * "), line
    words = shlex.split(line.split(" ", 5)[5])
    assert f"INBOX={inbox}" in words and f"OUTBOX={outbox}" in words, words


def test_cron_line_through_make_dash_c(tmp_path: Path) -> None:
    """make's own -C prints "Entering directory" on stdout: -s gives the bare line (item 11)."""
    knobs = ["cron-line", f"INBOX={tmp_path}/in", f"OUTBOX={tmp_path}/out"]
    quiet = run(["make", "-s", "-C", REPO, *knobs], cwd=tmp_path)
    assert quiet.returncode == 0 and len(quiet.stdout.splitlines()) == 1, quiet.stdout
    loud = run(["make", "-C", REPO, *knobs], cwd=tmp_path)
    assert loud.returncode == 0 and "Entering directory" in loud.stdout
    assert "use make -s -C ... cron-line (or make cron-install)" in loud.stderr
