"""The structure group (validators/structure.py) in-process, on small datasets (fast enough to
run per mutant).

References: the v2.1 dataset is the real LeRobot 0.3.3 recording (tests/fixtures/koch_v21_real);
the v3.0 one has its metadata written by LeRobot 0.6.1's own code (tests/helpers/lerobot_v30.py)
and a data file per ``data/chunk_index, file_index`` that the metadata names, holding exactly
the rows ``dataset_from_index..dataset_to_index`` (LeRobot's loader concatenates the sorted
``data/*/*.parquet`` files and indexes rows globally). The structure group reads only footers
and existence, so the data files hold the index columns only and the videos are empty files.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import FIXTURE_V21
from helpers import lerobot_meta, lerobot_v30
from helpers.lerobot_v30 import VIDEO_KEYS, flush, make_v30, recorder_rows

from validators import dataset_format as fmt
from validators import schema, structure
from validators.context import Context


@pytest.fixture(scope="module")
def lerobot() -> dict:
    return lerobot_meta.or_fail(lerobot_v30.load)


def write_data(root: Path, rel: str, start: int, stop: int, episode: int = 0) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    n = stop - start
    t = pa.table(
        {
            "index": pa.array(range(start, stop), pa.int64()),
            "episode_index": pa.array([episode] * n, pa.int64()),
            "frame_index": pa.array(range(n), pa.int64()),
        }
    )
    pq.write_table(t, path)


def make_v30_full(lerobot: dict, root: Path, rows: list[dict] | None = None) -> Path:
    make_v30(lerobot, root)
    if rows is None:
        rows = recorder_rows()
    else:
        for p in (root / "meta/episodes").glob("*/*.parquet"):
            p.unlink()
        flush(lerobot, root, rows)
    tpl, vtpl = lerobot["DEFAULT_DATA_PATH"], lerobot["DEFAULT_VIDEO_PATH"]
    spans: dict[str, tuple[int, int]] = {}  # data file -> rows of the episodes it holds
    for r in rows:
        rel = tpl.format(chunk_index=r["data/chunk_index"], file_index=r["data/file_index"])
        a, b = spans.get(rel, (r["dataset_from_index"], r["dataset_to_index"]))
        spans[rel] = (min(a, r["dataset_from_index"]), max(b, r["dataset_to_index"]))
    for rel, (a, b) in spans.items():
        write_data(root, rel, a, b)
    lerobot_v30.touch_videos(root, rows, vtpl)
    return root


@pytest.fixture
def v30(lerobot: dict, tmp_path: Path) -> Path:
    return make_v30_full(lerobot, tmp_path / "v30")


@pytest.fixture
def v21(tmp_path: Path) -> Path:
    dst = tmp_path / "v21"
    shutil.copytree(FIXTURE_V21, dst)
    return dst


def run(root: Path, **info_changes) -> Context:
    info = json.loads((root / fmt.INFO_PATH).read_text())
    info.update(info_changes)
    ctx = Context(root, info, deep=False, quick=False)
    schema.run(ctx)
    structure.run(ctx)
    return ctx


def hits(ctx: Context, check_id: str, severity: str = "error") -> list:
    out = [f for f in ctx.report.findings if f.check_id == check_id]
    assert out, [(f.check_id, f.message) for f in ctx.report.findings]
    for f in out:
        assert f.severity == severity and isinstance(f.hint, str) and f.hint
    return out


def only(ctx: Context, check_id: str, severity: str = "error"):
    assert len(ctx.report.findings) == 1, [(f.check_id, f.message) for f in ctx.report.findings]
    return hits(ctx, check_id, severity)[0]


V30_FILES = [
    "data/chunk-000/file-001.parquet",
    "data/chunk-004/file-005.parquet",
    "data/chunk-008/file-009.parquet",
]


# --- clean ------------------------------------------------------------------------------------
def test_clean_v30(v30: Path) -> None:
    ctx = run(v30)
    assert ctx.report.findings == []
    assert ctx.data_files == dict(zip(V30_FILES, [36, 50, 42], strict=True))
    assert ctx.file_rows == [(V30_FILES[0], 0, 36), (V30_FILES[1], 36, 86), (V30_FILES[2], 86, 128)]
    assert ctx.data_rows_total == 128 == ctx.info["total_frames"]
    assert set(ctx.parquet_meta) == set(V30_FILES)
    assert ctx.parquet_meta[V30_FILES[1]].num_rows == 50
    assert ctx.missing_files == set() and ctx.unreadable_data == set()


def test_clean_v21_real_recording(v21: Path) -> None:
    ctx = run(v21)
    assert ctx.report.findings == []
    rels = [f"data/chunk-000/episode_00000{i}.parquet" for i in range(3)]
    assert ctx.data_files == {r: pq.read_metadata(v21 / r).num_rows for r in rels}
    assert [s for _, s, _ in ctx.file_rows] == [0, 36, 86]
    assert ctx.data_rows_total == 128


# --- footers ----------------------------------------------------------------------------------
@pytest.mark.parametrize("version", ["v2.1", "v3.0"])
def test_unreadable_footer(lerobot: dict, tmp_path: Path, version: str) -> None:
    if version == "v3.0":
        root = make_v30_full(lerobot, tmp_path / "ds")
        rel = V30_FILES[1]
    else:
        root = tmp_path / "ds"
        shutil.copytree(FIXTURE_V21, root)
        rel = "data/chunk-000/episode_000001.parquet"
    (root / rel).write_bytes(b"not parquet at all")
    with pytest.raises(Exception, match="Parquet magic bytes not found") as exc:
        pq.read_metadata(root / rel)  # what LeRobot's pyarrow says about it
    ctx = run(root)
    f = hits(ctx, "data.unreadable_parquet")[0]
    assert f.file == rel and f.message == f"cannot open parquet: {exc.value}"
    assert "'Parquet magic bytes not found'" in f.hint and f.hint.endswith("re-convert")
    assert ctx.unreadable_data == {rel} and ctx.data_files[rel] is None
    assert ctx.data_rows_total is None
    assert [(s, e) for _, s, e in ctx.file_rows] == [(0, 36), (36, 36), (36, 78)]
    assert rel not in ctx.parquet_meta and len(ctx.parquet_meta) == 2
    ids = {f.check_id for f in ctx.report.findings}
    assert not ids & {"structure.total_frames", "structure.index_ranges"}, ids


def test_v21_footers_of_the_episodes_files_only(v21: Path) -> None:
    """v2.x: the files the episodes name, once each, in episode order; stray ones not read."""
    write_data(v21, "data/chunk-000/episode_000009.parquet", 0, 5)
    (v21 / "data/chunk-000/episode_000002.parquet").unlink()
    ctx = run(v21)
    assert list(ctx.data_files) == [
        "data/chunk-000/episode_000000.parquet",
        "data/chunk-000/episode_000001.parquet",
    ]


# --- episode indices --------------------------------------------------------------------------
def test_v30_episode_index_not_its_position(lerobot: dict, tmp_path: Path) -> None:
    rows = recorder_rows()
    rows[1]["episode_index"] = 5
    rows[2]["episode_index"] = 7
    ctx = run(make_v30_full(lerobot, tmp_path / "ds", rows))
    (f,) = hits(ctx, "structure.episode_indices")  # the first one said, then stop
    assert {g.check_id for g in ctx.report.findings} == {"structure.episode_indices"}  # no gaps
    assert f.episode == 5 and f.file is None
    assert f.message.startswith("episode at position 1 has episode_index 5: LeRobot 0.6.1")
    assert f.message.endswith("so indices must be 0..N-1")
    assert f.hint.startswith("renumber episodes 0..N-1")


def test_duplicate_episode_index(lerobot: dict, tmp_path: Path, v21: Path) -> None:
    rows = recorder_rows()
    rows[2]["episode_index"] = 1
    ctx = run(make_v30_full(lerobot, tmp_path / "ds", rows))
    msgs = [(f.episode, f.message) for f in hits(ctx, "structure.episode_indices")]
    assert msgs[0] == (1, "episode_index 1 is listed twice in the episode metadata")
    p = v21 / fmt.LEGACY_EPISODES_PATH
    lines = p.read_text().splitlines()
    p.write_text("\n".join([*lines, lines[1]]) + "\n")
    ctx = run(v21)
    (f,) = hits(ctx, "structure.episode_indices")
    assert f.episode == 1 and f.message == "episode_index 1 is listed twice in the episode metadata"
    assert f.hint.startswith("each episode must appear once")


@pytest.mark.parametrize(
    ("index", "missing"), [(13, "[1, 3, 4, 5, 6, 7, 8, 9, 10, 11]"), (5, "[1, 3, 4]")]
)
def test_v21_gaps_are_a_warning(v21: Path, index: int, missing: str) -> None:
    """LeRobot 0.3.3 datasets may skip indices (deleted episodes); v3.0 may not."""
    p = v21 / fmt.LEGACY_EPISODES_PATH
    rows = fmt.read_jsonl(p)
    rows[1]["episode_index"] = index
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    shutil.move(
        v21 / "data/chunk-000/episode_000001.parquet",
        v21 / f"data/chunk-000/episode_{index:06d}.parquet",
    )
    for vk in VIDEO_KEYS:
        d = v21 / "videos/chunk-000" / vk
        shutil.move(d / "episode_000001.mp4", d / f"episode_{index:06d}.mp4")
    ctx = run(v21)
    f = only(ctx, "structure.episode_gaps", "warning")
    assert f.file == fmt.LEGACY_EPISODES_PATH
    assert f.message == f"episode indices are not 0..2 (missing e.g. {missing})"
    assert f.hint.startswith("fine for v2.1 storage")


# --- files ------------------------------------------------------------------------------------
def test_v30_dangling_pointer(v30: Path) -> None:
    vk = VIDEO_KEYS[1]
    video = f"videos/{vk}/chunk-026/file-027.mp4"  # episode 1's second camera (6+20, 7+20)
    (v30 / video).unlink()
    (v30 / V30_FILES[2]).unlink()
    ctx = run(v30)
    fs = hits(ctx, "structure.dangling_file_index")
    assert [(f.file, f.episode, f.message) for f in fs] == [
        (video, 1, f"episode 1 points at {video} ({vk}), which does not exist"),
        (V30_FILES[2], 2, f"episode 2 points at {V30_FILES[2]} (data), which does not exist"),
    ]
    assert fs[0].hint.startswith("wrong chunk/file index in meta/episodes")
    assert fs[0].hint.endswith("re-convert")
    assert ctx.missing_files == {video, V30_FILES[2]}


def test_v30_files_shared_by_episodes_reported_once(lerobot: dict, tmp_path: Path) -> None:
    rows = recorder_rows()
    for r in rows:  # LeRobot's recorder: every episode in data/chunk-000/file-000
        r["data/chunk_index"], r["data/file_index"] = 0, 0
    root = make_v30_full(lerobot, tmp_path / "ds", rows)
    assert run(root).report.findings == []
    (root / "data/chunk-000/file-000.parquet").unlink()
    ctx = run(root)
    fs = hits(ctx, "structure.dangling_file_index")
    assert [(f.file, f.episode) for f in fs] == [("data/chunk-000/file-000.parquet", 0)]


def test_v21_missing_files(v21: Path) -> None:
    rel = "data/chunk-000/episode_000002.parquet"
    vid = f"videos/chunk-000/{VIDEO_KEYS[0]}/episode_000000.mp4"
    (v21 / rel).unlink()
    (v21 / vid).unlink()
    ctx = run(v21)
    fs = hits(ctx, "structure.missing_file")
    assert [(f.file, f.episode, f.message) for f in fs] == [
        (vid, 0, f"{vid} ({VIDEO_KEYS[0]}) is missing"),
        (rel, 2, f"{rel} (data) is missing"),
    ]
    assert fs[0].hint.startswith("restore the file from the recording")
    assert ctx.missing_files == {rel, vid}
    ids = {f.check_id for f in ctx.report.findings}
    assert "structure.total_frames" not in ids  # rows lost with the file: said once, above


@pytest.mark.parametrize("version", ["v2.1", "v3.0"])
def test_orphan_files(lerobot: dict, tmp_path: Path, version: str) -> None:
    if version == "v3.0":
        root = make_v30_full(lerobot, tmp_path / "ds")
    else:
        root = tmp_path / "ds"
        shutil.copytree(FIXTURE_V21, root)
    data = "data/chunk-009/file-000.parquet"
    write_data(root, data, 0, 0)
    video = "videos/extra/chunk-000/file-000.mp4"
    (root / video).parent.mkdir(parents=True)
    (root / video).touch()
    (root / "videos/extra/chunk-000/._file-001.mp4").touch()  # hidden: not an orphan
    (root / "videos/extra/chunk-000/notes.txt").touch()  # not a video
    ctx = run(root)
    fs = hits(ctx, "structure.orphan_file", "warning")
    assert [(f.file, f.message) for f in fs] == [
        (
            data,
            f"{data} is not referenced by any episode (LeRobot still loads every data/*/*.parquet)",
        ),
        (video, f"{video} is not referenced by any episode"),
    ]
    assert fs[0].hint == "delete it or add its episodes to the metadata"
    # without the episode metadata, nothing can be called an orphan
    if version == "v3.0":
        shutil.rmtree(root / "meta/episodes")
    else:
        (root / fmt.LEGACY_EPISODES_PATH).unlink()
    ctx = run(root)
    assert "structure.orphan_file" not in {f.check_id for f in ctx.report.findings}


# --- hidden files -----------------------------------------------------------------------------
def test_v30_hidden_parquet_in_data_fails_lerobot(v30: Path) -> None:
    """LeRobot 0.6.1 globs data/*/*.parquet with pathlib, which matches '._file-000.parquet'."""
    hidden = v30 / "data/chunk-004/._file-005.parquet"
    hidden.write_bytes(b"\x00\x05\x16\x07AppleDouble")
    assert hidden in set((v30 / "data").glob("*/*.parquet"))  # LeRobot's load_nested_dataset
    (v30 / "videos/.DS_Store").write_bytes(b"x")
    ctx = run(v30)
    f = only(ctx, "structure.hidden_file")
    assert f.file == "data/chunk-004/._file-005.parquet"
    assert f.message.startswith("1 hidden parquet file(s) in data/, e.g. data/chunk-004/._file")
    assert f.message.endswith("and fails on them")
    assert f.hint == f"delete them (macOS AppleDouble copies): find {v30} -name '._*' -delete"
    assert ctx.data_files == dict(zip(V30_FILES, [36, 50, 42], strict=True))


@pytest.mark.parametrize("version", ["v2.1", "v3.0"])
def test_hidden_files_elsewhere_are_a_warning(lerobot: dict, tmp_path: Path, version: str) -> None:
    if version == "v3.0":
        root = make_v30_full(lerobot, tmp_path / "ds")
        (root / "data/._stray.parquet").write_bytes(b"x")  # not data/*/*.parquet
    else:
        root = tmp_path / "ds"
        shutil.copytree(FIXTURE_V21, root)
        (root / "data/chunk-000/._episode_000000.parquet").write_bytes(b"x")  # v2: by name
    (root / "videos/.DS_Store").write_bytes(b"x")
    ctx = run(root)
    f = only(ctx, "structure.hidden_file", "warning")
    first = sorted(p for p in (root / "data").rglob(".*"))[0].relative_to(root)
    assert f.file == str(first)
    assert f.message == (
        f"ignored 2 hidden file(s) in data/ and videos/ (1 macOS AppleDouble '._*'), e.g. "
        f"{first}: not part of the dataset"
    )
    assert f.hint == f"harmless here; to tidy up: find {root} -name '._*' -delete"


def test_hidden_directory_is_not_a_file(v30: Path) -> None:
    (v30 / "videos/.cache").mkdir()
    assert run(v30).report.findings == []


# --- totals -----------------------------------------------------------------------------------
@pytest.mark.parametrize("version", ["v2.1", "v3.0"])
def test_totals(lerobot: dict, tmp_path: Path, version: str) -> None:
    if version == "v3.0":
        root = make_v30_full(lerobot, tmp_path / "ds")
    else:
        root = tmp_path / "ds"
        shutil.copytree(FIXTURE_V21, root)
    ctx = run(root, total_episodes=4, total_frames=127, total_tasks=3)
    info = "meta/info.json"
    got = {f.check_id: f for f in ctx.report.findings}
    assert set(got) == {
        "structure.total_episodes",
        "structure.total_frames",
        "structure.total_tasks",
    }
    assert len(ctx.report.findings) == 3
    f = got["structure.total_episodes"]
    assert f.file == info and f.severity == "error"
    assert f.message == "total_episodes is 4 but the episode metadata lists 3"
    assert f.hint == "set total_episodes to 3"
    f = got["structure.total_frames"]
    assert f.file == info and f.severity == "error"
    assert f.message == "total_frames is 127 but the data files hold 128 rows"
    assert f.hint.startswith("set total_frames to 128")
    f = got["structure.total_tasks"]
    assert f.file == info and f.severity == "error"
    assert f.message == "total_tasks is 3 but the tasks file lists 2"
    assert f.hint == "set total_tasks to 2"
    # JSON true is not a count (bool is an int in Python); the schema group says it is wrong
    ctx = run(root, total_episodes=True, total_frames=True, total_tasks=True)
    assert {f.check_id for f in ctx.report.findings} == {"schema.info"}


def test_v21_total_videos(v21: Path) -> None:
    assert run(v21, total_videos=6).report.findings == []
    f = only(run(v21, total_videos=5), "structure.total_videos")
    assert f.file == fmt.INFO_PATH
    assert f.message == "total_videos is 5, expected 6 (3 episodes x 2 cameras)"
    assert f.hint == "set total_videos to 6"


def test_v30_total_videos(lerobot: dict, tmp_path: Path) -> None:
    """LeRobot 0.6.1's convert_info drops total_videos (asserted below); a value copied from
    v2.1 (episodes x cameras) or the number of files referenced is accepted, anything else is a
    warning (LeRobot 0.6.1 never reads it)."""
    rows = recorder_rows()
    for r in rows:  # the recorder's layout: every episode's video in one file per camera
        for vk in VIDEO_KEYS:
            r[f"videos/{vk}/chunk_index"], r[f"videos/{vk}/file_index"] = 0, 0
    root = make_v30_full(lerobot, tmp_path / "ds", rows)
    assert "total_videos" not in json.loads((root / fmt.INFO_PATH).read_text())
    assert run(root).report.findings == []
    assert run(root, total_videos=2).report.findings == []  # files referenced
    assert run(root, total_videos=6).report.findings == []  # 3 episodes x 2 cameras
    f = only(run(root, total_videos=3), "structure.total_videos", "warning")
    assert f.file == fmt.INFO_PATH
    assert f.message == "total_videos is 3; the metadata references 2 files"
    assert f.hint.startswith("LeRobot 0.6.1 ignores total_videos")
    shutil.rmtree(root / "meta/episodes")  # not loaded: nothing to compare with
    ctx = run(root, total_videos=3)
    assert "structure.total_videos" not in {f.check_id for f in ctx.report.findings}


# --- v3.0 row ranges --------------------------------------------------------------------------
def _ranges(lerobot: dict, root: Path, edit) -> Context:
    rows = recorder_rows()
    make_v30_full(lerobot, root, rows)  # the data as the right ranges say
    edit(rows)
    for p in (root / "meta/episodes").glob("*/*.parquet"):
        p.unlink()
    flush(lerobot, root, rows)
    return run(root)


def test_range_length_mismatch(lerobot: dict, tmp_path: Path) -> None:
    def edit(rows):
        rows[1]["length"] = 49

    ctx = _ranges(lerobot, tmp_path / "ds", edit)
    (f,) = hits(ctx, "structure.index_ranges")
    assert f.episode == 1
    assert f.message == "episode 1: dataset_to_index - dataset_from_index = 50 but length is 49"
    assert f.hint.startswith("rewrite meta/episodes so that to - from == length")


def test_range_overlap_and_gap(lerobot: dict, tmp_path: Path) -> None:
    def edit(rows):
        rows[1]["dataset_from_index"] -= 2  # overlaps episode 0 (and length disagrees)
        rows[1]["dataset_to_index"] -= 2
        rows[2]["dataset_from_index"] += 3  # a gap after episode 1
        rows[2]["dataset_to_index"] += 3

    ctx = _ranges(lerobot, tmp_path / "ds", edit)
    fs = hits(ctx, "structure.index_ranges")
    assert [(f.episode, f.message) for f in fs] == [
        (1, "episode 1: rows [34, 84) overlap the previous episode, which ends at 36"),
        (2, "episode 2: starts at row 89 but the previous episode ends at 84 (a gap of 5 rows)"),
        (None, "episode ranges end at row 131 but the data holds 128 rows"),
    ]
    assert fs[0].hint.startswith("episode row ranges must not overlap")
    assert fs[1].hint.startswith("episode row ranges must be contiguous")
    assert fs[2].hint.startswith("the episode metadata does not cover the data")
    # episode 1's rows [34, 84) are not all in its file (rows [36, 86))
    (f,) = hits(ctx, "structure.episode_file_mismatch")
    assert f.episode == 1 and f.file == V30_FILES[1]
    assert f.message == (
        f"episode 1: rows [34, 84) are not in {V30_FILES[1]}, which holds rows [36, 86)"
    )
    assert "(the bug of LeRobot's own converter at file splits)" in f.hint
    assert f.hint.endswith("re-convert with scripts.convert")
    assert (Path(structure.__file__).parents[1] / "scripts/convert/__main__.py").is_file()


def test_range_first_episode_not_at_zero(lerobot: dict, tmp_path: Path) -> None:
    def edit(rows):
        for r in rows:
            r["dataset_from_index"] += 1
            r["dataset_to_index"] += 1

    ctx = _ranges(lerobot, tmp_path / "ds", edit)
    msgs = [f.message for f in hits(ctx, "structure.index_ranges")]
    assert msgs == [
        "episode 0: starts at row 1 but the previous episode ends at 0 (a gap of 1 rows)",
        "episode ranges end at row 129 but the data holds 128 rows",
    ]
    # the last episode runs past the data: said by index_ranges, not as a file mismatch
    mism = [
        f.episode for f in ctx.report.findings if f.check_id == "structure.episode_file_mismatch"
    ]
    assert mism == [0, 1]


def test_episode_in_the_wrong_file(lerobot: dict, tmp_path: Path) -> None:
    """The bug of LeRobot's own converter at file splits: the right rows, the wrong file."""

    def edit(rows):
        rows[2]["data/chunk_index"], rows[2]["data/file_index"] = 4, 5

    ctx = _ranges(lerobot, tmp_path / "ds", edit)
    fs = hits(ctx, "structure.episode_file_mismatch")
    assert [(f.episode, f.file) for f in fs] == [(2, V30_FILES[1])]
    assert fs[0].message == (
        f"episode 2: rows [86, 128) are not in {V30_FILES[1]}, which holds rows [36, 86)"
    )
    assert fs[0].hint.startswith("data/chunk_index and data/file_index point at the wrong file")


def test_file_mismatch_skips_unreadable_and_missing(lerobot: dict, tmp_path: Path) -> None:
    def edit(rows):
        rows[2]["data/chunk_index"], rows[2]["data/file_index"] = 4, 5

    root = tmp_path / "ds"
    ctx = _ranges(lerobot, root, edit)
    assert hits(ctx, "structure.episode_file_mismatch")
    (root / V30_FILES[1]).write_bytes(b"junk")
    ctx = run(root)
    assert "structure.episode_file_mismatch" not in {f.check_id for f in ctx.report.findings}


@pytest.mark.parametrize("first", ["unreadable", "missing", "past_the_end"])
def test_file_mismatch_after_a_skipped_episode(lerobot: dict, tmp_path: Path, first: str) -> None:
    """An earlier episode that cannot be placed does not hide a later one in the wrong file."""

    def edit(rows):
        rows[2]["data/chunk_index"], rows[2]["data/file_index"] = 4, 5
        if first == "past_the_end":
            rows[0]["dataset_to_index"] = 500

    root = tmp_path / "ds"
    if first == "unreadable":
        ctx = _ranges(lerobot, root, edit)
        (root / V30_FILES[0]).write_bytes(b"junk")
    elif first == "missing":
        ctx = _ranges(lerobot, root, edit)
        (root / V30_FILES[0]).unlink()
    ctx = _ranges(lerobot, root, edit) if first == "past_the_end" else run(root)
    fs = hits(ctx, "structure.episode_file_mismatch")
    # without file 0's rows, LeRobot's global row numbers of the later files shift down: episode
    # 1 is out of its file too; with file 0 missing the data ends at row 92, before episode 2
    want = {"unreadable": [1, 2], "missing": [1], "past_the_end": [2]}[first]
    assert [f.episode for f in fs] == want


def test_v21_ranges_not_checked(v21: Path) -> None:
    """v2.x stores no row ranges: they are derived from the lengths, so always contiguous."""
    p = v21 / fmt.LEGACY_EPISODES_PATH
    rows = fmt.read_jsonl(p)
    rows[0]["length"] = 30
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ids = {f.check_id for f in run(v21).report.findings}
    assert not ids & {"structure.index_ranges", "structure.episode_file_mismatch"}


# --- splits -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("splits", "bad"),
    [
        ({"train": "0:3"}, []),
        ({"train": "0:2", "val": "2:3"}, []),
        ({"train": "3:3"}, []),
        ({"train": "0:4"}, ["train"]),
        ({"train": "2:1", "val": "0:3", "test": "-1:2"}, ["train", "test"]),
        ({"train": "0-3"}, []),  # the schema group reports the format
        ({"train": "a:b"}, []),
        ({"train": "0:1:2"}, []),
        ({"train": "0-3", "val": "0:9"}, ["val"]),
    ],
)
def test_splits(v21: Path, splits: dict, bad: list) -> None:
    ctx = Context(
        v21,
        {**json.loads((v21 / fmt.INFO_PATH).read_text()), "splits": splits},
        deep=False,
        quick=False,
    )
    structure.check_splits(ctx)
    fs = ctx.report.findings
    assert [f.message for f in fs] == [
        f"split {name!r} = {splits[name]!r} is outside 0:3" for name in bad
    ]
    for f in fs:
        assert (f.check_id, f.severity, f.file) == ("structure.splits", "warning", fmt.INFO_PATH)
        assert f.hint == 'set splits to {"train": "0:3"}'


def test_splits_skipped_without_a_count(v21: Path) -> None:
    for info in ({"splits": {"train": "0:9"}}, {"splits": ["0:9"], "total_episodes": 3}):
        ctx = Context(v21, info, deep=False, quick=False)
        structure.check_splits(ctx)
        assert ctx.report.findings == []
