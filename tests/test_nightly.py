"""Nightly conversion as cron runs it: minimal environment, real flock, real cron when possible."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from conftest import FIXTURE_V21, run

from scripts.make_sample import PRESETS, make_dataset

# What cron gives a job: no direnv, no PYTHONPATH, a bare PATH.
CRON_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "SHELL": "/bin/sh", "LANG": "C.UTF-8"}


def cron_line(inbox: Path, outbox: Path) -> str:
    """The command part of the crontab line `make cron-line` prints for these folders."""
    proc = run(["make", "-s", "cron-line", f"INBOX={inbox}", f"OUTBOX={outbox}", "AT=* *"])
    assert proc.returncode == 0, proc.stderr
    line = proc.stdout.strip()
    assert line.startswith("* * * * * make -C "), line
    return line.split(" ", 5)[5].replace(">/dev/null 2>&1", "").strip()


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    box = tmp_path / "inbox"
    box.mkdir()
    shutil.copytree(FIXTURE_V21, box / "koch_real")
    make_dataset(box / "gapped", PRESETS["gapped"], progress=False)
    (box / "notes").mkdir()  # not a dataset: ignored
    return box


def test_nightly_under_cron_env_converts_new_datasets_once(inbox: Path, tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    cmd = cron_line(inbox, outbox)
    env = {**CRON_ENV, "HOME": os.environ.get("HOME", str(tmp_path))}
    first = run(["sh", "-c", cmd], env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "2 to convert, 0 already converted" in first.stdout
    for name in ("koch_real", "gapped"):
        assert (outbox / f"{name}_v30" / "meta" / "info.json").is_file()
    assert not (outbox / "notes_v30").exists()
    logs = list((outbox / ".nightly-logs").glob("nightly-*.log"))
    assert logs and "ok: gapped" in logs[0].read_text()
    second = run(["sh", "-c", cmd], env=env, cwd=tmp_path)
    assert second.returncode == 0 and "0 to convert, 2 already converted" in second.stdout


def test_nightly_skips_while_another_run_holds_the_lock(inbox: Path, tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    holder = subprocess.Popen(["flock", str(outbox / ".nightly.lock"), "sleep", "60"])
    try:
        time.sleep(0.5)
        proc = run(["make", "nightly", f"INBOX={inbox}", f"OUTBOX={outbox}"])
    finally:
        holder.kill()
        holder.wait()
    assert proc.returncode == 0, proc.stderr
    assert "another conversion holds" in proc.stdout
    assert not list(outbox.glob("*_v30"))


def test_nightly_reports_a_bad_dataset_and_converts_the_rest(inbox: Path, tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    bad = inbox / "koch_real" / "data" / "chunk-000" / "episode_000001.parquet"
    bad.write_bytes(bad.read_bytes()[:100])
    proc = run(["make", "nightly", f"INBOX={inbox}", f"OUTBOX={outbox}"])
    assert proc.returncode != 0
    assert "FAILED: koch_real" in proc.stdout and "episode_000001.parquet" in proc.stdout
    assert (outbox / "gapped_v30" / "meta" / "info.json").is_file()
    assert not (outbox / "koch_real_v30").exists()


@pytest.mark.slow
def test_real_cron_runs_the_nightly_line(inbox: Path, tmp_path: Path) -> None:
    """Install the printed line in root's crontab, let the real cron daemon run it, restore."""
    if os.geteuid() != 0 or not shutil.which("cron") or not shutil.which("crontab"):
        pytest.skip("needs root, cron and crontab (apt install cron)")
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    line = f"* * * * * {cron_line(inbox, outbox)} >{tmp_path}/cron.out 2>&1\n"
    old = subprocess.run(["crontab", "-l"], capture_output=True, text=True, check=False)
    previous = old.stdout if old.returncode == 0 else ""
    subprocess.run(["crontab", "-"], input=previous + line, text=True, check=True)
    started = None
    if subprocess.run(["pgrep", "-x", "cron"], capture_output=True, check=False).returncode:
        started = subprocess.run(["cron"], check=True)
    try:
        deadline = time.time() + 150
        done = [outbox / f"{name}_v30" / "meta" / "info.json" for name in ("koch_real", "gapped")]
        while time.time() < deadline and not all(p.is_file() for p in done):
            time.sleep(2)
    finally:
        if previous:
            subprocess.run(["crontab", "-"], input=previous, text=True, check=True)
        else:
            subprocess.run(["crontab", "-r"], check=False)
        if started is not None:
            subprocess.run(["pkill", "-x", "cron"], check=False)
    out = (tmp_path / "cron.out").read_text() if (tmp_path / "cron.out").exists() else "(no output)"
    assert all(p.is_file() for p in done), (
        f"cron did not convert within 150 s; cron output:\n{out[-3000:]}"
    )
