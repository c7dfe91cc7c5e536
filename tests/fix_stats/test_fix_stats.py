"""make fix-stats on a dataset LeRobot 0.6.1 recorded itself with offset joints.

The recorder (tests/helpers/lerobot_record_offset.py, real LeRobot in envs/act) writes its
float32 std: wrong for joints at 2048 +- 0.05 and 95 +- 0.01. The repaired copy must hold the
exact stats (NumPy float64 over the rows, 1e-9 relative), leave the original byte-identical,
and train: a few ACT steps through `make smoke` with finite losses.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import FIXTURE_V21, REPO, env_python, run
from helpers.train_common import tool_env

from scripts.fix_stats.clone import LINK_REFUSED

RTOL = 1e-9


def fix_stats(*args: str | Path):
    return run([env_python("tools"), "-m", "scripts.fix_stats", *args, "--quiet"], timeout=300)


def tree_digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("fixstats")
    rec = root / "rec"
    helper = REPO / "tests" / "helpers" / "lerobot_record_offset.py"
    proc = run([env_python("act"), helper, rec, "--constant"], timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    before = tree_digest(rec)
    proc = fix_stats(rec)
    assert proc.returncode == 0, proc.stderr
    return {"rec": rec, "fixed": root / "rec_fixed", "before": before, "proc": proc}


def rows(root: Path, key: str) -> tuple[np.ndarray, np.ndarray]:
    table = pa.concat_tables(pq.read_table(f) for f in sorted(root.glob("data/*/*.parquet")))
    values = np.array(table.column(key).to_pylist(), dtype=np.float32).astype(np.float64)
    return values, np.array(table.column("episode_index").to_pylist())


def episodes(root: Path) -> pa.Table:
    return pa.concat_tables(
        pq.read_table(f) for f in sorted(root.glob("meta/episodes/*/*.parquet"))
    )


def test_repaired_stats_exact_and_original_untouched(recorded: dict) -> None:
    rec, fixed = recorded["rec"], recorded["fixed"]
    assert tree_digest(rec) == recorded["before"]  # not one byte of the original changed
    meta, old_meta = episodes(fixed), episodes(rec)
    stats = json.loads((fixed / "meta/stats.json").read_text())
    for key in ("action", "observation.state"):
        values, episode = rows(fixed, key)
        for row, e in enumerate(meta.column("episode_index").to_pylist()):
            mine = values[episode == e]
            std = np.array(meta.column(f"stats/{key}/std")[row].as_py())
            np.testing.assert_allclose(std, mine.std(0), rtol=RTOL, err_msg=f"{key} ep {e}")
            mean = np.array(meta.column(f"stats/{key}/mean")[row].as_py())
            np.testing.assert_allclose(mean, mine.mean(0), rtol=RTOL, err_msg=f"{key} ep {e}")
            assert std[5] == 0.0 and (std[:5] > 0).all()  # joint 5 is constant
            # LeRobot's own quantiles are kept as its arithmetic gives them
            q50 = meta.column(f"stats/{key}/q50")[row].as_py()
            assert q50 == old_meta.column(f"stats/{key}/q50")[row].as_py()
            recorded_std = np.array(old_meta.column(f"stats/{key}/std")[row].as_py())
            assert np.abs(recorded_std[:2] / mine.std(0)[:2] - 1).max() > 0.05  # it was wrong
        np.testing.assert_allclose(stats[key]["std"], values.std(0), rtol=RTOL)
        np.testing.assert_allclose(stats[key]["mean"], values.mean(0), rtol=RTOL)
    data = next(fixed.glob("data/*/*.parquet"))
    assert data.stat().st_ino != (rec / data.relative_to(fixed)).stat().st_ino  # not linked
    assert data.stat().st_nlink == 1
    out = recorded["proc"].stdout
    assert re.search(r"^fix-stats: copied \d+ files \((reflink|copy)\) ", out, re.M), out
    assert "action: per-episode std changed in 3 of 3 episodes" in out, out
    assert "unchanged" in out and "frame_index" in out.split("  unchanged (within", 1)[1]


def unchanged_files(fixed: Path) -> list[Path]:
    """A data parquet and a video of the copy: files fix-stats takes over unchanged."""
    return [next(fixed.glob("data/*/*.parquet")), next(fixed.glob("videos/*/*/*.mp4"))]


def rewrite_in_place(path: Path) -> None:
    """What a careless tool does to a file: overwrite its first bytes and truncate it."""
    with open(path, "r+b") as f:
        f.write(b"\0" * 64)
        f.truncate(100)


def test_rewriting_the_copy_in_place_leaves_the_original(recorded: dict, tmp_path: Path) -> None:
    """Issue 22: the copy's files were hard links, so this truncated the original dataset."""
    rec, copy = recorded["rec"], tmp_path / "copy"
    proc = fix_stats(rec, "--dst", copy)
    assert proc.returncode == 0, proc.stderr
    for path in unchanged_files(copy):
        rewrite_in_place(path)
        assert path.stat().st_size == 100
    assert tree_digest(rec) == recorded["before"]  # every byte and checksum of the original


# Root without the capabilities that let it write read-only files: plain DAC rules apply.
NO_DAC = "-dac_override,-dac_read_search,-fowner"
AS_USER = ["setpriv", f"--inh-caps={NO_DAC}", f"--bounding-set={NO_DAC}"]


# rewrite_in_place in a process of its own; prints the files it was refused
WRITER = """
import sys
for p in sys.argv[1:]:
    try:
        with open(p, "r+b") as f:
            f.write(bytes(64))
            f.truncate(100)
    except PermissionError:
        print("refused", p)
"""


def as_user(*cmd: object) -> list:
    return [*AS_USER, *cmd] if os.geteuid() == 0 else list(cmd)


def test_link_makes_the_copy_read_only_and_refuses_where_that_protects_nothing(
    recorded: dict, tmp_path: Path
) -> None:
    """--link: an in-place write into the copy fails instead of reaching the original.

    Tests run as root here, whom read-only does not stop: the tool refuses --link (tried, one
    line, nothing written); the same run without root's DAC capabilities (setpriv, still uid
    0, so the interpreter under /root stays readable) is what a normal user gets.
    """
    rec = tmp_path / "rec"
    shutil.copytree(recorded["rec"], rec)  # its modes change: not the module's recording
    before = tree_digest(rec)
    if os.geteuid() == 0:
        proc = fix_stats(rec, "--dst", tmp_path / "refused", "--link")
        assert proc.returncode == 1, proc.stdout
        assert proc.stderr == f"fix-stats: error: {tmp_path / 'refused'}: {LINK_REFUSED}\n"
        assert not (tmp_path / "refused").exists() and not list(tmp_path.glob(".*tmp-*"))
    copy = tmp_path / "linked"
    cmd = as_user(env_python("tools"), "-m", "scripts.fix_stats", rec, "--dst", copy, "--link")
    proc = run([*cmd, "--quiet"], timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"^fix-stats: copied \d+ files \(hard link, read-only\) ", proc.stdout, re.M)
    assert "both are now read-only" in proc.stdout
    writer = WRITER
    targets = unchanged_files(copy)
    own = copy / "mine.txt"  # control: the same process may write a writable file there
    own.write_bytes(b"x")
    out = run(as_user(sys.executable, "-c", writer, *targets, own), timeout=60, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [f"refused {p}" for p in targets], out.stdout
    assert own.stat().st_size == 100  # the write itself worked where the mode allowed it
    assert tree_digest(rec) == before
    assert all(not (rec / p.relative_to(copy)).stat().st_mode & 0o222 for p in targets)


@pytest.mark.skipif(not Path("/dev/shm").is_dir(), reason="no tmpfs at /dev/shm")
def test_link_across_filesystems_copies_and_says_so(tmp_path: Path) -> None:
    """A link refused (EXDEV: /tmp -> tmpfs) falls back to a reflink or copy, counted apart."""
    import tempfile

    from scripts.fix_stats.clone import Cloner

    (tmp_path / "a.bin").write_bytes(b"a" * 4096)
    (tmp_path / "b.bin").write_bytes(b"b")
    cloner = Cloner(link=True)
    cloner.put(tmp_path / "a.bin", tmp_path / "a.link")
    with tempfile.TemporaryDirectory(dir="/dev/shm") as other:
        if os.stat(other).st_dev == tmp_path.stat().st_dev:
            pytest.skip("/dev/shm is on the same filesystem as the tests' tmp")
        cloner.put(tmp_path / "b.bin", Path(other) / "b.bin")
        assert (Path(other) / "b.bin").read_bytes() == b"b"
        assert os.stat(Path(other) / "b.bin").st_nlink == 1
    assert cloner.linked == [tmp_path / "a.link"]
    assert cloner.summary() in (
        "copied 2 files (copy: 1; hard link, read-only: 1)",
        "copied 2 files (hard link, read-only: 1; reflink: 1)",
    )
    cloner.seal()
    assert not (tmp_path / "a.bin").stat().st_mode & 0o222  # one inode: the source too


@pytest.mark.slow
def test_repaired_dataset_trains(recorded: dict, tmp_path: Path) -> None:
    """A few ACT steps on CPU through make smoke's own code: finite, decreasing loss."""
    out = tmp_path / "smoke"
    cmd = [sys.executable, "-m", "scripts.train.smoke", "--dataset", recorded["fixed"]]
    cmd += ["--out", out]
    proc = run(cmd, env=tool_env(), timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((out / "smoke.json").read_text())
    assert report["failures"] == []


def test_bad_inputs_one_line_and_nothing_lost(recorded: dict, tmp_path: Path) -> None:
    rec = recorded["rec"]
    proc = fix_stats(FIXTURE_V21, "--dst", tmp_path / "x")
    assert proc.returncode == 1 and "is v2.1; fix-stats repairs v3.0" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not (tmp_path / "x").exists()
    mine = tmp_path / "thesis"
    mine.mkdir()
    (mine / "thesis.txt").write_text("four years")
    proc = fix_stats(rec, "--dst", mine)
    assert proc.returncode == 1 and "already exists" in proc.stderr
    assert (mine / "thesis.txt").read_text() == "four years" and len(list(mine.iterdir())) == 1
    proc = fix_stats(rec, "--dst", rec / "inside")
    assert proc.returncode == 1 and "outside DATASET" in proc.stderr
    proc = fix_stats(tmp_path / "nope")
    assert proc.returncode == 1 and proc.stderr.startswith("fix-stats: error:")
    assert tree_digest(rec) == recorded["before"]
    assert not list(tmp_path.glob(".*tmp-*")) and not list(rec.parent.glob(".*tmp-*"))


def test_a_validator_error_names_the_file_under_dst(recorded: dict, tmp_path: Path) -> None:
    """The copy fails validation: the error names the file where DST would have it.

    The validator's findings are relative to the tree it checked, so replacing the staging
    path in them (what this did before) left a bare ``videos/...`` path in the message.
    """
    import shutil

    from scripts.fix_stats.__main__ import _validate
    from scripts.fix_stats.recompute import FixError

    staged = tmp_path / ".staged"
    shutil.copytree(recorded["fixed"], staged)
    (mp4,) = sorted(staged.glob("videos/*/*/*.mp4"))[:1]
    mp4.write_bytes(mp4.read_bytes()[: mp4.stat().st_size // 3])  # truncated
    dst = tmp_path / "out"
    with pytest.raises(FixError) as err:
        _validate(staged, dst)
    assert str(err.value).startswith(f"{dst / mp4.relative_to(staged)}: validator ["), err.value
    assert not dst.exists()


def test_images_recomputed_from_the_videos_equal_the_converters(tmp_path: Path) -> None:
    """IMAGES=1 decodes each episode's sampled frames from the concatenated v3.0 videos.

    External check: the converter's --image-quantiles stats came from the same frames in the
    v2.1 source's per-episode files (the copy is bit-identical), so every image stat,
    quantiles included, must come out the same; and the report says no camera's std moved.
    """
    import shutil

    src = tmp_path / "src"
    shutil.copytree(FIXTURE_V21, src)
    cmd = [env_python("tools"), "-m", "scripts.convert", src, "--image-quantiles"]
    assert run([*cmd, "--quiet"], timeout=300).returncode == 0
    converted = tmp_path / "src_v30"
    proc = fix_stats(converted, "--images", "--dst", tmp_path / "fixed")
    assert proc.returncode == 0, proc.stderr
    assert "image stats recomputed" in proc.stdout
    before, after = episodes(converted), episodes(tmp_path / "fixed")
    cams = [c for c in before.column_names if c.startswith("stats/observation.images.")]
    assert any(c.endswith("/q50") for c in cams)
    for col in cams:
        got = np.array(after.column(col).to_pylist(), dtype=float)
        want = np.array(before.column(col).to_pylist(), dtype=float)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15, err_msg=col)
    moved = [line for line in proc.stdout.splitlines() if line.startswith("  observation.images")]
    assert not moved and "observation.images.laptop" in proc.stdout.split("  unchanged (within")[1]
