"""``make convert-many ... SLURM=1`` on the real local cluster: one array task per dataset.

The acceptance of issue 14: an inbox of three v2.1 datasets, one broken. Two convert, one
fails, each in its own array task (the failure fails only its task); the afterany report job
writes the nightly's report and exits non-zero; a rerun submits only the broken one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

from conftest import FIXTURE_V21
from helpers.slurm_cluster import Slurm, slurm  # noqa: F401  (the session's cluster)

from scripts.slurm import client


def aged_copy(dst: Path) -> Path:
    """The real v2.1 fixture, looking finished (an hour old), so SETTLE_MIN never skips it."""
    shutil.copytree(FIXTURE_V21, dst)
    then = time.time() - 3600
    for p in [dst, *dst.rglob("*")]:
        os.utime(p, (then, then))
    return dst


def fanout(s: Slurm, inbox: Path, outbox: Path):  # type: ignore[no-untyped-def]
    return s.make("convert-many", f"INBOX={inbox}", f"OUTBOX={outbox}", "SLURM=1", "WAIT=1",
                  timeout=300)  # fmt: skip


def test_fanout_converts_each_dataset_in_its_own_task_and_reruns_only_whats_left(
    slurm: Slurm,  # noqa: F811
    tmp_path: Path,
) -> None:
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    inbox.mkdir()
    outbox.mkdir()
    for name in ("good_a", "good_b"):
        aged_copy(inbox / name)
    broken = aged_copy(inbox / "broken")
    bad = broken / "data" / "chunk-000" / "episode_000001.parquet"
    st = bad.stat()
    bad.write_bytes(bad.read_bytes()[:100])
    os.utime(bad, (st.st_atime, st.st_mtime))

    first = fanout(slurm, inbox, outbox)
    log = first.stdout + first.stderr
    assert first.returncode != 0, log  # the report job failed: one dataset did
    m = re.search(r"submitted array job (\d+) \(3 task\(s\)\) and report job (\d+)", log)
    assert m, log
    array, rep = m.groups()
    tasks = {o.job: (o.state, o.exit_code) for o in client.outcomes(slurm.cluster_env(), array)}
    assert sorted(tasks.values()) == [("COMPLETED", 0), ("COMPLETED", 0), ("FAILED", 1)], tasks
    assert client.outcomes(slurm.cluster_env(), rep)[0].state == "FAILED"
    body = json.loads((outbox / "nightly-report.json").read_text())
    status = {i["name"]: i["status"] for i in body["items"]}
    assert status == {"good_a": "converted", "good_b": "converted", "broken": "failed"}, status
    reason = next(i["reason"] for i in body["items"] if i["name"] == "broken")
    assert "episode_000001.parquet" in reason
    assert (outbox / "good_a_v30" / "meta" / "info.json").is_file()
    assert not (outbox / "broken_v30").exists()
    run_dir = Path(json.loads((outbox / ".slurm" / "current.json").read_text())["dir"])
    assert (
        "2 converted, 0 up to date, 0 skipped, 1 failed"
        in (run_dir / f"report-{rep}.log").read_text()
    )  # written by the report job itself

    again = fanout(slurm, inbox, outbox)
    log = again.stdout + again.stderr
    assert again.returncode != 0, log  # the broken one still fails, and says so
    assert "1 to convert, 2 up to date" in log, log
    assert re.search(r"submitted array job \d+ \(1 task\(s\)\)", log), log
    assert "/inbox/broken ->" in log and "/inbox/good_a ->" not in log
    status = {
        i["name"]: i["status"]
        for i in json.loads((outbox / "nightly-report.json").read_text())["items"]
    }
    assert status == {"good_a": "up to date", "good_b": "up to date", "broken": "failed"}
