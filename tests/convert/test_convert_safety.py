"""The converter never loses data: SIGKILL at any point, bad inputs, full disks.

Crash points are hit exactly with the converter's own hook (LEROBOT_OPS_CONVERT_KILL_AT makes
it SIGKILL itself at a named stage) and loosely by killing it after a delay. After every
kill the source is byte-for-byte (and mtime) unchanged, no DST exists (or the previous
complete one does), and a re-run succeeds. Each bad input yields exactly one line
``convert: error: <file>: ...`` naming the file, exit status 1, and no DST.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import av
import pytest
from conftest import REPO, env_python, run, run_env
from test_convert import convert, sample

STAGES = (
    "after-plan",
    "mid-data",
    "after-data",
    "mid-video",
    "after-video",
    "before-verify",
    "before-publish",
)


def fingerprint(root: Path) -> dict[str, tuple[int, str]]:
    """Every file's mtime and content hash (and the directory listing)."""
    return {
        str(p.relative_to(root)): (
            p.stat().st_mtime_ns,
            hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir",
        )
        for p in sorted(root.rglob("*"))
    }


def leftovers(parent: Path, name: str) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(f".{name}."))


def error_line(proc) -> str:
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("convert: error: "), proc.stderr
    return lines[0]


@pytest.fixture
def src(tmp_path: Path) -> Path:
    return sample(tmp_path, "sample")


@pytest.mark.parametrize("stage", STAGES)
def test_sigkill_at_stage_leaves_src_intact_and_no_dst(src: Path, stage: str) -> None:
    before = fingerprint(src)
    env = {**run_env(), "LEROBOT_OPS_CONVERT_KILL_AT": stage}
    proc = convert(src, "--data-mb", "0.01", env=env)
    assert proc.returncode == -signal.SIGKILL, (stage, proc.returncode, proc.stderr)
    dst = src.parent / "sample_v30"
    assert not dst.exists()
    assert fingerprint(src) == before
    proc = convert(src, "--data-mb", "0.01")  # the next run cleans up and succeeds
    assert proc.returncode == 0, proc.stderr
    assert (dst / "meta/info.json").is_file()
    assert leftovers(src.parent, "sample_v30") == []
    assert fingerprint(src) == before


def test_sigkill_between_force_renames_keeps_previous_dst(src: Path) -> None:
    dst = src.parent / "sample_v30"
    assert convert(src).returncode == 0
    previous = fingerprint(dst)
    env = {**run_env(), "LEROBOT_OPS_CONVERT_KILL_AT": "between-renames"}
    proc = convert(src, "--force", "--data-mb", "0.01", env=env)
    assert proc.returncode == -signal.SIGKILL
    assert not dst.exists() and any(".old-" in n for n in leftovers(src.parent, "sample_v30"))
    proc = convert(src)  # the previous complete DST is put back, and is up to date
    assert proc.returncode == 0 and "is up to date" in proc.stdout, proc.stderr
    assert fingerprint(dst) == previous
    assert leftovers(src.parent, "sample_v30") == []
    proc = convert(src, "--force", "--data-mb", "0.01")
    assert proc.returncode == 0, proc.stderr
    assert fingerprint(dst) != previous


@pytest.mark.slow
def test_sigkill_at_random_times(tmp_path: Path) -> None:
    """Kill a real run after a delay, several times; DST is absent or complete, never half."""
    src = sample(tmp_path, "many_short")
    before = fingerprint(src)
    dst = tmp_path / "many_short_v30"
    cmd = [str(env_python("tools")), "-m", "scripts.convert", str(src), "--quiet"]
    cmd += ["--data-mb", "0.01", "--video-mb", "0.05", "--force"]
    for delay in (0.3, 0.8, 1.5, 2.5):
        proc = subprocess.Popen(cmd, env=run_env(), cwd=Path(__file__).parents[2])
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert fingerprint(src) == before
        if dst.exists():  # finished before the kill: must be complete
            assert (dst / "meta/info.json").is_file() and (dst / "meta/stats.json").is_file()
    proc = convert(src, "--force", "--data-mb", "0.01", "--video-mb", "0.05")
    assert proc.returncode == 0, proc.stderr
    assert leftovers(tmp_path, "many_short_v30") == []


# --- bad inputs -----------------------------------------------------------------------------


def _assert_refused(proc, src: Path, must_name: Path | str, words: str) -> None:
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    line = error_line(proc)
    assert str(must_name) in line, line
    assert words in line, line
    dst = src.parent / f"{src.name}_v30"
    assert not dst.exists()
    assert leftovers(src.parent, dst.name) == []


def test_not_a_dataset(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    _assert_refused(convert(empty), empty, empty / "meta/info.json", "not found")
    missing = tmp_path / "nope"
    _assert_refused(convert(missing), missing, missing, "no such directory")


def test_already_v30(src: Path) -> None:
    assert convert(src).returncode == 0
    done = src.parent / "sample_v30"
    _assert_refused(convert(done), done, done / "meta/info.json", "already v3.0")


def test_missing_parquet(src: Path) -> None:
    victim = src / "data/chunk-000/episode_000001.parquet"
    victim.unlink()
    _assert_refused(convert(src), src, victim, "missing")


def test_corrupt_parquet(src: Path) -> None:
    victim = src / "data/chunk-000/episode_000002.parquet"
    victim.write_bytes(b"\x00garbage" * 200)
    _assert_refused(convert(src), src, victim, "not a readable parquet file")


def test_parquet_rows_disagree_with_episodes_jsonl(src: Path) -> None:
    meta = src / "meta/episodes.jsonl"
    meta.write_text(meta.read_text().replace('"length": 50', '"length": 51'))
    _assert_refused(convert(src), src, src / "data/chunk-000/episode_000001.parquet", "has 50 rows")


@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_truncated_mp4(src: Path, keep: float) -> None:
    victim = src / "videos/chunk-000/observation.images.phone/episode_000001.mp4"
    data = victim.read_bytes()
    victim.write_bytes(data[: int(len(data) * keep)])
    proc = convert(src)
    assert proc.returncode == 1
    line = error_line(proc)
    assert str(victim) in line, line
    assert not (src.parent / "sample_v30").exists()


def test_truncated_mp4_with_index_first(src: Path) -> None:
    """moov before mdat (faststart): the file opens, the frames at its end are gone."""
    victim = src / "videos/chunk-000/observation.images.laptop/episode_000001.mp4"
    whole = src.parent / "whole.mp4"
    with (
        av.open(str(victim)) as inp,
        av.open(str(whole), "w", options={"movflags": "faststart"}) as out,
    ):
        s = out.add_stream_from_template(inp.streams.video[0], opaque=True)
        s.time_base = inp.streams.video[0].time_base
        for packet in inp.demux(inp.streams.video[0]):
            if packet.dts is not None:
                packet.stream = s
                out.mux(packet)
    data = whole.read_bytes()
    victim.write_bytes(data[: int(len(data) * 0.6)])
    whole.unlink()
    proc = convert(src)
    assert proc.returncode == 1
    line = error_line(proc)
    assert str(victim) in line and "truncated" in line, line
    assert not (src.parent / "sample_v30").exists()


def test_missing_video(src: Path) -> None:
    victim = src / "videos/chunk-000/observation.images.laptop/episode_000002.mp4"
    victim.unlink()
    _assert_refused(convert(src), src, victim, "missing (episode 2, camera")


def test_extra_video_not_in_episodes(src: Path) -> None:
    cam = src / "videos/chunk-000/observation.images.laptop"
    extra = cam / "episode_000003.mp4"
    shutil.copy(cam / "episode_000000.mp4", extra)
    _assert_refused(convert(src), src, extra, "episode/file count mismatch")


def test_unwritable_dst(src: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    proc = convert(src, "--dst", blocker / "out")
    assert proc.returncode == 1
    assert str(blocker) in error_line(proc)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    cmd = [env_python("tools"), "-m", "scripts.convert", src, "--dst", ro / "out"]
    if os.geteuid() == 0:  # root ignores permission bits: drop the DAC capabilities, as CI runs
        assert shutil.which("setpriv"), "setpriv (util-linux) is needed to test this as root"
        cmd = ["setpriv", *NO_DAC, *cmd]
    proc = run([*cmd, "--quiet"])
    assert proc.returncode == 1 and "not writable" in error_line(proc), proc.stderr
    assert str(ro) in error_line(proc)
    assert not (ro / "out").exists() and list(ro.iterdir()) == []


def test_disk_full(src: Path, tmp_path: Path) -> None:
    """A 160 KB tmpfs as DST's parent: the write fails, the message says why, nothing is left."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=160k", "tmpfs", str(mnt)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        proc = convert(src, "--dst", mnt / "out")
        assert proc.returncode == 1
        line = error_line(proc)
        assert "No space left on device" in line or "no space left" in line.lower(), line
        assert str(mnt / "out") in line
        assert list(mnt.iterdir()) == []
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_bad_options_name_the_knob(src: Path) -> None:
    proc = convert(src, "--data-mb", "0")
    assert proc.returncode == 2 and "--data-mb" in proc.stderr
    proc = convert(src, "--jobs", "zero")
    assert proc.returncode == 2 and "--jobs" in proc.stderr
    proc = convert(src, "--dst", src / "inside")
    assert proc.returncode == 1 and "must not be SRC or inside it" in error_line(proc)


# --- only the converter's own output is ever replaced (issue 15, item 2) --------------------


def make_convert(*args: str | Path):
    """`make convert` as a user types it (real make, from the checkout)."""
    return run(["make", "convert", *(str(a) for a in args)], cwd=REPO, timeout=300)


def test_force_refuses_a_folder_the_converter_did_not_write(src: Path, tmp_path: Path) -> None:
    dst = tmp_path / "thesis"
    dst.mkdir()
    (dst / "thesis.txt").write_bytes(b"chapter 1\n")
    (dst / "meta").mkdir()
    (dst / "meta" / "info.json").write_text('{"codebase_version": "v3.0"}\n')  # even a dataset
    before = fingerprint(dst)
    for force in ("FORCE=1", "FORCE="):
        proc = make_convert(f"SRC={src}", f"DST={dst}", force)
        assert proc.returncode != 0, proc.stdout
        assert f"convert: error: {dst}: exists and is not an output of this converter" in (
            proc.stderr
        ), proc.stderr
        assert fingerprint(dst) == before
    assert leftovers(tmp_path, "thesis") == []


def test_force_replaces_a_previous_output_only_after_the_new_one_is_verified(src: Path) -> None:
    dst = src.parent / "sample_v30"
    assert convert(src).returncode == 0
    previous = fingerprint(dst)
    for name in ("tasks.jsonl", "episodes.jsonl"):  # a task renamed: a real content change
        meta = src / "meta" / name
        meta.write_text(meta.read_text().replace("Pick up the cube", "Lift the cube"))
    refused = convert(src)  # SRC changed: says so, keeps the old output
    assert refused.returncode == 1 and "changed since" in error_line(refused)
    assert "meta/tasks.jsonl" in refused.stderr and "--force" in refused.stderr
    assert fingerprint(dst) == previous
    env = {**run_env(), "LEROBOT_OPS_CONVERT_KILL_AT": "before-publish"}
    assert convert(src, "--force", env=env).returncode == -signal.SIGKILL
    assert fingerprint(dst) == previous  # killed before the swap: the old one is untouched
    proc = convert(src, "--force")
    assert proc.returncode == 0, proc.stderr
    assert "replaced the output converted" in proc.stdout
    assert b"Lift the cube" in (dst / "meta" / "tasks.parquet").read_bytes()
    assert leftovers(src.parent, "sample_v30") == []


@pytest.mark.parametrize("target_exists", [True, False])
def test_force_onto_a_symlinked_dst_lands_where_it_points(
    src: Path, tmp_path: Path, target_exists: bool
) -> None:
    store = tmp_path / "nas"
    store.mkdir()
    target = store / "koch_v30"
    if target_exists:
        assert convert(src, "--dst", target).returncode == 0
    link = tmp_path / "koch_v30"
    link.symlink_to(target)
    proc = make_convert(f"SRC={src}", f"DST={link}", "FORCE=1")
    assert proc.returncode == 0, proc.stderr
    assert link.is_symlink() and link.resolve() == target
    assert (target / "meta" / "info.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["koch_v30", "nas", "sample"]
    assert sorted(p.name for p in store.iterdir()) == ["koch_v30"]


def test_make_demo_does_not_force() -> None:
    proc = run(["make", "-n", "demo"], cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert "FORCE" not in proc.stdout and "--force" not in proc.stdout, proc.stdout


# --- unreadable files and macOS leftovers (issue 15, items 8 and 9) -------------------------

NO_DAC = (
    "--inh-caps=-dac_override,-dac_read_search",
    "--bounding-set=-dac_override,-dac_read_search",
)


@pytest.mark.parametrize(
    "victim",
    [
        "meta/info.json",
        "meta/episodes.jsonl",
        "data/chunk-000/episode_000001.parquet",
        "videos/chunk-000/observation.images.phone/episode_000001.mp4",
        "videos/chunk-000",
    ],
)
def test_unreadable_file_is_named_with_its_real_cause(src: Path, victim: str) -> None:
    """Root ignores modes, so the converter runs with the DAC capabilities dropped."""
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv missing (util-linux)")
    path = src / victim
    before = fingerprint(src)
    path.chmod(0)
    try:
        cmd = ["setpriv", *NO_DAC, env_python("tools"), "-m", "scripts.convert"]
        proc = run([*cmd, src, "--quiet"])
    finally:
        path.chmod(0o755 if path.is_dir() else 0o644)
    assert proc.returncode == 1, proc.stderr
    assert error_line(proc) == f"convert: error: {path}: permission denied"
    assert fingerprint(src) == before
    assert not (src.parent / "sample_v30").exists()
    assert leftovers(src.parent, "sample_v30") == []


@pytest.mark.parametrize(
    "victim", ["meta/tasks.jsonl", "videos/chunk-000/observation.images.phone/episode_000001.mp4"]
)
def test_unreadable_file_with_force_over_a_previous_output(src: Path, victim: str) -> None:
    """The fingerprint's cached hashes skip reading: the file must still be named as unreadable."""
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv missing (util-linux)")
    dst = src.parent / "sample_v30"
    assert convert(src).returncode == 0
    previous = fingerprint(dst)
    path = src / victim
    path.chmod(0)
    try:
        cmd = ["setpriv", *NO_DAC, env_python("tools"), "-m", "scripts.convert"]
        proc = run([*cmd, src, "--quiet", "--force"])
    finally:
        path.chmod(0o644)
    assert proc.returncode == 1, proc.stderr
    assert error_line(proc) == f"convert: error: {path}: permission denied"
    assert fingerprint(dst) == previous


def test_macos_appledouble_files_are_ignored_and_said_once(src: Path) -> None:
    cam = src / "videos/chunk-000/observation.images.laptop"
    junk = [cam / "._episode_000000.mp4", src / "data/chunk-000/._episode_000000.parquet"]
    junk.append(src / "videos/.DS_Store")
    for p in junk:
        p.write_bytes(b"\x00\x05\x16\x07" + b"\x00" * 4092)  # AppleDouble magic + padding
    before = fingerprint(src)
    proc = convert(src)
    assert proc.returncode == 0, proc.stderr
    notes = [ln for ln in proc.stdout.splitlines() if "hidden file(s)" in ln]
    assert len(notes) == 1 and "ignored 2 hidden file(s)" in notes[0], proc.stdout
    assert "2 macOS AppleDouble" in notes[0]
    dst = src.parent / "sample_v30"
    assert not [p for p in dst.rglob("*") if p.name.startswith("._")]
    assert fingerprint(src) == before


def test_other_options_or_an_older_converter_are_said(src: Path) -> None:
    dst = src.parent / "sample_v30"
    assert convert(src).returncode == 0
    proc = convert(src, "--data-mb", "50")  # same SRC, another output shape
    assert proc.returncode == 1
    assert "other options (data_mb 100.0 -> 50.0)" in error_line(proc)
    assert convert(src, "--data-mb", "50", "--force").returncode == 0
    again = convert(src, "--data-mb", "50")
    assert again.returncode == 0 and "is up to date" in again.stdout
    marker = dst / "meta" / ".lerobot-ops-convert.json"
    body = json.loads(marker.read_text())
    body["converter"] = "0000000000000000"  # as if an earlier converter wrote it
    marker.write_text(json.dumps(body))
    old = convert(src, "--data-mb", "50")
    assert old.returncode == 0 and "is up to date" in old.stdout
    assert "earlier version of the converter; FORCE=1 converts it again" in old.stdout
