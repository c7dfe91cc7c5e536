"""Nightly conversion as cron runs it: real make, real flock, the real crontab and cron daemon.

The acceptance of issue 15: an inbox with two good datasets (one gapped) and broken ones; the
first run converts two, fails the others with their reasons, exits non-zero and writes the
report; the second converts nothing; a changed source is converted again; a dataset still
being written is skipped; a second run while one holds the lock exits at once; cron-install
and cron-remove touch exactly one marked line of the real crontab.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from conftest import FIXTURE_V21, REPO, run
from helpers.repo_copy import repo_copy

from scripts.sample.make import PRESETS, make_dataset

# What cron gives a job: no direnv, no PYTHONPATH, a bare PATH.
CRON_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "SHELL": "/bin/sh", "LANG": "C.UTF-8"}
HOUR = 3600.0


def age(root: Path, seconds: float = HOUR) -> None:
    """Make a dataset look finished: every file last modified ``seconds`` ago."""
    then = time.time() - seconds
    for p in root.rglob("*"):
        os.utime(p, (then, then))


def nightly(inbox: Path, outbox: Path, *knobs: str, cwd: Path = REPO):
    proc = run(["make", "nightly", f"INBOX={inbox}", f"OUTBOX={outbox}", *knobs], cwd=cwd)
    proc.log = proc.stdout[-4000:] + proc.stderr[-3000:]  # type: ignore[attr-defined]
    return proc


def report(outbox: Path) -> dict[str, dict]:
    body = json.loads((outbox / "nightly-report.json").read_text())
    return {i["name"]: i for i in body["items"]}


def statuses(outbox: Path) -> dict[str, str]:
    return {name: i["status"] for name, i in report(outbox).items()}


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    box = tmp_path / "inbox"
    box.mkdir()
    shutil.copytree(FIXTURE_V21, box / "koch_real")
    make_dataset(box / "gapped", PRESETS["gapped"], progress=False)
    (box / "notes").mkdir()  # not a dataset: ignored
    age(box)
    return box


@pytest.fixture
def outbox(tmp_path: Path) -> Path:
    box = tmp_path / "outbox"
    box.mkdir()
    return box


def test_nightly_converts_by_content_and_reports(inbox: Path, outbox: Path, tmp_path: Path):
    corrupt = inbox / "corrupt"
    shutil.copytree(inbox / "koch_real", corrupt)
    bad = corrupt / "data" / "chunk-000" / "episode_000001.parquet"
    bad.write_bytes(bad.read_bytes()[:100])
    broken = inbox / "broken_info"  # item 7: a trailing comma in info.json
    shutil.copytree(inbox / "koch_real", broken)
    info = broken / "meta" / "info.json"
    info.write_text(info.read_text().rstrip().rstrip("}").rstrip() + ",\n}\n")
    age(inbox)
    notified = tmp_path / "notified"
    hook = tmp_path / "notify.sh"
    hook.write_text(f'#!/bin/sh\necho "$1" > "{notified}"\n')
    hook.chmod(0o755)

    first = nightly(inbox, outbox, f"NOTIFY={hook}")
    assert first.returncode != 0, first.log
    assert statuses(outbox) == {
        "broken_info": "failed",
        "corrupt": "failed",
        "gapped": "converted",
        "koch_real": "converted",
    }
    items = report(outbox)
    assert "info.json: not valid JSON" in items["broken_info"]["reason"]
    assert "episode_000001.parquet" in items["corrupt"]["reason"]
    assert items["gapped"]["dst_bytes"] > 0 and items["gapped"]["seconds"] > 0
    assert "2 converted, 0 up to date, 0 skipped, 2 failed" in first.stdout
    assert notified.read_text().strip() == str(outbox / "nightly-report.json")
    logs = list((outbox / ".nightly-logs").glob("nightly-*.log"))
    assert len(logs) == 1 and "FAILED: corrupt" in logs[0].read_text()
    assert "broken_info/meta/info.json: not valid JSON" in logs[0].read_text()
    manifest = json.loads((outbox / ".nightly-manifest.json").read_text())
    assert sorted(manifest) == ["gapped", "koch_real"]

    second = nightly(inbox, outbox)
    assert second.returncode != 0  # the broken ones still fail, and say so
    assert statuses(outbox)["gapped"] == statuses(outbox)["koch_real"] == "up to date"
    assert "0 converted, 2 up to date" in second.stdout, second.log

    shutil.rmtree(corrupt)
    shutil.rmtree(broken)
    episodes = inbox / "gapped" / "meta" / "episodes.jsonl"  # re-recorded / fixed in place
    episodes.write_text(episodes.read_text().replace('"length": ', '"length":  '))
    age(inbox / "gapped")
    before = (outbox / "koch_real_v30" / "meta" / "info.json").stat().st_mtime_ns
    third = nightly(inbox, outbox)
    assert third.returncode == 0, third.log
    assert statuses(outbox) == {"gapped": "converted", "koch_real": "up to date"}
    assert "source changed (meta/episodes.jsonl)" in report(outbox)["gapped"]["reason"]
    assert (outbox / "koch_real_v30" / "meta" / "info.json").stat().st_mtime_ns == before
    assert sorted(p.name for p in outbox.iterdir() if not p.name.startswith(".")) == [
        "gapped_v30",
        "koch_real_v30",
        "nightly-report.json",
    ]


def test_nightly_skips_datasets_still_being_written(inbox: Path, outbox: Path) -> None:
    fresh = inbox / "recording_now"
    make_dataset(fresh, PRESETS["many_short"], progress=False)  # just written: mtimes are now
    half = inbox / "copy_in_progress"
    (half / "data" / "chunk-000").mkdir(parents=True)  # info.json not there yet
    proc = nightly(inbox, outbox, "SETTLE_MIN=5")
    assert proc.returncode == 0, proc.log
    items = report(outbox)
    assert items["recording_now"]["status"] == "skipped"
    assert "still being written (modified 0 min ago" in items["recording_now"]["reason"]
    assert items["copy_in_progress"]["status"] == "skipped"
    assert "no meta/info.json" in items["copy_in_progress"]["reason"]
    assert not (outbox / "recording_now_v30").exists()


def test_nightly_never_replaces_an_output_without_the_marker(inbox: Path, outbox: Path) -> None:
    """An older output (before fingerprints) or someone's folder under the <name>_v30 name."""
    theirs = outbox / "gapped_v30"
    theirs.mkdir()
    (theirs / "thesis.txt").write_bytes(b"chapter 2\n")
    proc = nightly(inbox, outbox)
    assert proc.returncode == 0, proc.log
    assert statuses(outbox) == {"gapped": "skipped", "koch_real": "converted"}
    assert "move it away to convert again" in report(outbox)["gapped"]["reason"]
    assert sorted(p.name for p in theirs.iterdir()) == ["thesis.txt"]
    assert (theirs / "thesis.txt").read_bytes() == b"chapter 2\n"


def test_nightly_skips_while_another_run_holds_the_lock(inbox: Path, outbox: Path) -> None:
    holder = subprocess.Popen(["flock", str(outbox / ".nightly.lock"), "sleep", "60"])
    try:
        time.sleep(0.5)
        t0 = time.monotonic()
        proc = nightly(inbox, outbox)
        took = time.monotonic() - t0
    finally:
        holder.kill()
        holder.wait()
    assert proc.returncode == 0, proc.log
    assert "another conversion holds" in proc.stdout and took < 10
    assert not list(outbox.glob("*_v30"))


def test_nightly_logs_are_dated_and_old_ones_pruned(tmp_path: Path, outbox: Path) -> None:
    empty = tmp_path / "empty_inbox"
    empty.mkdir()
    logs = outbox / ".nightly-logs"
    logs.mkdir()
    for day in range(1, 36):  # 35 nights of logs, the oldest first
        old = logs / f"nightly-202610{day:02d}-021500.log"
        old.write_text("old night\n")
        os.utime(old, (time.time() - (40 - day) * 86400,) * 2)
    proc = nightly(empty, outbox)
    assert proc.returncode == 0, proc.log
    kept = sorted(p.name for p in logs.glob("nightly-*.log"))
    assert len(kept) == 30, kept
    assert kept[0] == "nightly-20261007-021500.log"  # the 6 oldest went
    assert any(name.startswith(f"nightly-{time.strftime('%Y%m%d')}") for name in kept)


def test_two_nightly_runs_at_once_one_works_the_other_exits(inbox: Path, outbox: Path) -> None:
    cmd = ["make", "nightly", f"INBOX={inbox}", f"OUTBOX={outbox}"]
    first = subprocess.Popen(
        cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lock = outbox / ".nightly.lock"
    deadline = time.time() + 60
    while time.time() < deadline and (
        not lock.exists() or run(["flock", "-n", lock, "true"]).returncode == 0
    ):
        time.sleep(0.05)
    second = nightly(inbox, outbox)
    out, _ = first.communicate(timeout=600)
    assert second.returncode == 0 and "another conversion holds" in second.stdout, second.log
    assert first.returncode == 0, out[-3000:]
    assert "2 converted" in out
    assert statuses(outbox) == {"gapped": "converted", "koch_real": "converted"}


# --- cron ---------------------------------------------------------------------------------


def cron_command(repo: Path, inbox: Path, outbox: Path) -> str:
    """The command part of the line `make cron-line` prints for this checkout."""
    proc = run(["make", "-s", "cron-line", f"INBOX={inbox}", f"OUTBOX={outbox}"], cwd=repo)
    assert proc.returncode == 0, proc.stderr
    line = proc.stdout.strip()
    assert line.startswith("15 2 * * * cd "), line
    return line.split(" ", 5)[5]


def test_cron_line_runs_from_an_empty_env_and_logs_even_without_outbox(
    inbox: Path, outbox: Path, tmp_path: Path
) -> None:
    repo = repo_copy(tmp_path / "repo")
    cmd = cron_command(repo, inbox, outbox)
    assert "env -i " in cmd
    first = run(["sh", "-c", cmd], env=CRON_ENV, cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    assert first.stdout == ""  # everything went to the log
    cron_log = repo / "logs" / "nightly-cron.log"
    assert "2 converted, 0 up to date" in cron_log.read_text()
    missing = tmp_path / "nas_not_mounted"
    proc = run(["sh", "-c", cron_command(repo, inbox, missing)], env=CRON_ENV, cwd=tmp_path)
    assert proc.returncode != 0
    assert f"OUTBOX={missing} is not a directory" in cron_log.read_text()


def crontab_text() -> str | None:
    proc = subprocess.run(["crontab", "-l"], capture_output=True, text=True, check=False)
    return proc.stdout if proc.returncode == 0 else None


def restore_crontab(saved: str | None) -> None:
    if saved is None:
        subprocess.run(["crontab", "-r"], capture_output=True, check=False)
    else:
        subprocess.run(["crontab", "-"], input=saved, text=True, check=True)


@pytest.fixture
def real_crontab():
    """The real user crontab, restored afterwards exactly as it was."""
    if shutil.which("crontab") is None:
        pytest.skip("crontab missing (apt install cron)")
    saved = crontab_text()
    try:
        yield
    finally:
        restore_crontab(saved)


def test_cron_install_adds_one_marked_line_and_remove_takes_only_it(
    real_crontab: None, inbox: Path, outbox: Path, tmp_path: Path
) -> None:
    repo = repo_copy(tmp_path / "repo")
    users = "MAILTO=me@lab\n# backups\n0 4 * * * /usr/bin/true nightly backup\n"
    subprocess.run(["crontab", "-"], input=users, text=True, check=True)
    for _ in range(2):  # installing twice leaves one line
        proc = run(
            ["make", "cron-install", f"INBOX={inbox}", f"OUTBOX={outbox}", "AT=15 2 * * *"],
            cwd=repo,
        )
        assert proc.returncode == 0, proc.stderr
    table = crontab_text() or ""
    ours = [ln for ln in table.splitlines() if ln.endswith(f"# lerobot-ops nightly: {repo}")]
    assert len(ours) == 1 and ours[0].startswith("15 2 * * * cd "), table
    assert table.startswith(users), table
    proc = run(["make", "cron-remove"], cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert crontab_text() == users


@pytest.mark.slow
def test_real_cron_runs_the_installed_line(
    real_crontab: None, inbox: Path, outbox: Path, tmp_path: Path
) -> None:
    """cron-install with AT='* *', let the real cron daemon run it within two minutes."""
    if os.geteuid() != 0 or not shutil.which("cron"):
        pytest.skip("needs root and cron (apt install cron)")
    repo = repo_copy(tmp_path / "repo")
    proc = run(["make", "cron-install", f"INBOX={inbox}", f"OUTBOX={outbox}", "AT=* *"], cwd=repo)
    assert proc.returncode == 0, proc.stderr
    started = None
    if subprocess.run(["pgrep", "-x", "cron"], capture_output=True, check=False).returncode:
        started = subprocess.Popen(["cron", "-f"])
    try:
        deadline = time.time() + 150
        done = [outbox / f"{name}_v30" / "meta" / "info.json" for name in ("koch_real", "gapped")]
        while time.time() < deadline and not all(p.is_file() for p in done):
            time.sleep(2)
    finally:
        if started is not None:
            started.terminate()
            started.wait()
    log = repo / "logs" / "nightly-cron.log"
    out = log.read_text() if log.exists() else "(no log)"
    assert all(p.is_file() for p in done), f"cron did not convert within 150 s:\n{out[-3000:]}"


def test_nightly_slurm_fans_out_like_convert_many() -> None:
    """make nightly SLURM=1 submits the Slurm fan-out (one array task per dataset), else runs
    the local flock-guarded conversion; `make -n` shows which without running either."""
    local = run(["make", "-n", "nightly", "INBOX=/in box", "OUTBOX=/out"], cwd=REPO)
    expected = "scripts/nightly/nightly.sh '/in box' '/out'"
    assert expected in local.stdout, local.stdout + local.stderr
    assert "slurm.fanout" not in local.stdout
    fanned = run(["make", "-n", "nightly", "INBOX=/in box", "OUTBOX=/out", "SLURM=1"], cwd=REPO)
    assert fanned.returncode == 0, fanned.stderr
    assert "-m scripts.slurm.fanout --inbox '/in box' --outbox '/out'" in fanned.stdout
    assert "nightly.sh" not in fanned.stdout
