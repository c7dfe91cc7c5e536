"""The data group (validators/data.py) in-process, on small real datasets (fast enough to run
per mutant).

References, external to the validator:

* v2.1: the real LeRobot 0.3.3 recording in tests/fixtures/koch_v21_real (3 episodes of 36, 50,
  42 frames at 30 fps; ``action``/``observation.state`` float32[6], the five bookkeeping
  columns; timestamps are LeRobot's float32 ``frame_index / fps``).
* v3.0: metadata written by LeRobot 0.6.1's own code (tests/helpers/lerobot_v30.py), data files
  holding the same real rows, one per ``data/chunk_index, file_index`` the metadata names
  (LeRobot's loader concatenates the sorted ``data/*/*.parquet`` and indexes rows globally).
* the timestamp tolerance is LeRobotDataset's own default ``tolerance_s``, read from the pinned
  LeRobot's source.

Each test damages one thing in a copy, runs the schema, structure and data groups and compares
the data group's findings exactly (id, severity, file, episode, message); the hints are
compared once per check id.
"""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import FIXTURE_V21
from helpers import lerobot_meta, lerobot_v30
from helpers.lerobot_v30 import corrupt_column, flush, make_v30, recorder_rows

from validators import data, schema, structure
from validators import dataset_format as fmt
from validators.context import Context, DataColumns, EpisodeMeta

F0, F1, F2 = (
    "data/chunk-000/file-001.parquet",
    "data/chunk-004/file-005.parquet",
    "data/chunk-008/file-009.parquet",
)
V21 = [f"data/chunk-000/episode_00000{i}.parquet" for i in range(3)]
HINTS = {
    "data.unreadable_parquet": "restore the file or re-convert",
    "data.missing_column": "add the column or drop the feature from meta/info.json",
    "data.shape_mismatch": "the stored vectors disagree with features[...]['shape']; fix "
    "info.json or re-export the data",
    "data.dtype_mismatch": "the stored type disagrees with features[...]['dtype']; fix "
    "info.json or re-export the data",
    "data.extra_column": "undeclared columns are ignored by LeRobot; declare it or drop it",
    "data.null_values": "every frame needs its bookkeeping columns; re-export the data",
    "data.non_finite": "NaN/Inf poisons normalisation and gives a NaN loss; fix or drop the "
    "episode",
    "data.index": "LeRobot looks frames up by position, so index must be 0..N-1 in load order; "
    "re-convert (the converter rewrites it)",
    "data.episode_length": "a frame was dropped or added; fix the metadata length or restore "
    "the rows",
    "data.episode_index_mismatch": "the episode's rows and its metadata disagree; re-convert",
    "data.frame_index": "frame_index must count 0, 1, 2, ... within each episode",
    "data.timestamp_tolerance": "LeRobot raises FrameTimestampError at training time; re-time "
    "the episode (timestamp = frame_index / fps)",
    "data.timestamp_order": "timestamps must strictly increase within an episode",
    "data.unknown_task_index": "add the task to the tasks file or fix task_index; LeRobot fails "
    "looking it up",
}
STRAY_HINT = "add the episodes to the metadata or remove their rows"


@pytest.fixture(scope="module")
def lerobot() -> dict:
    try:
        return lerobot_v30.load()
    except (FileNotFoundError, LookupError) as exc:
        pytest.fail(str(exc))


def real_rows(i: int) -> pa.Table:
    return pq.read_table(FIXTURE_V21 / V21[i])


def make_v30_data(lerobot: dict, root: Path, rows: list[dict] | None = None) -> Path:
    """meta/ by LeRobot 0.6.1, each episode's real rows in the data file its metadata names."""
    make_v30(lerobot, root)
    if rows is not None:
        for p in (root / "meta/episodes").glob("*/*.parquet"):
            p.unlink()
        flush(lerobot, root, rows)
    rows = rows or recorder_rows()
    tpl, vtpl = lerobot["DEFAULT_DATA_PATH"], lerobot["DEFAULT_VIDEO_PATH"]
    for i, r in enumerate(recorder_rows()):
        path = root / tpl.format(chunk_index=r["data/chunk_index"], file_index=r["data/file_index"])
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(real_rows(i), path)
    lerobot_v30.touch_videos(root, rows, vtpl)
    return root


@pytest.fixture(scope="module")
def clean_v30(lerobot: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_v30_data(lerobot, tmp_path_factory.mktemp("clean") / "v30")


@pytest.fixture
def v30(clean_v30: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(clean_v30, tmp_path / "v30"))


@pytest.fixture
def v21(tmp_path: Path) -> Path:
    dst = tmp_path / "v21"
    shutil.copytree(FIXTURE_V21, dst)
    return dst


def run(root: Path, *, quick: bool = False, **info_changes) -> Context:
    info = json.loads((root / fmt.INFO_PATH).read_text())
    info.update(info_changes)
    ctx = Context(root, info, deep=False, quick=quick)
    schema.run(ctx)
    structure.run(ctx)
    data.run(ctx)
    return ctx


def found(ctx: Context) -> list[tuple]:
    """The data group's findings (and structure's unreadable-footer one, which shares its id)."""
    out = []
    for f in ctx.report.findings:
        if f.check_id.startswith("data."):
            hint = STRAY_HINT if f.file is None and f.episode is None else HINTS[f.check_id]
            if f.check_id != "data.unreadable_parquet" or not f.message.startswith("cannot open"):
                assert f.hint == hint, (f.check_id, f.hint)
            out.append((f.check_id, f.severity, f.file, f.episode, f.message))
    return out


def edit(root: Path, rel: str, **columns) -> None:
    """Rewrite one data file with some columns replaced (None drops one, new names append)."""
    t = pq.read_table(root / rel)
    for name, col in columns.items():
        if name in t.column_names:
            i = t.column_names.index(name)
            t = t.remove_column(i) if col is None else t.set_column(i, name, col)
        elif col is not None:
            t = t.append_column(name, col)
    pq.write_table(t, root / rel)


def column(root: Path, rel: str, name: str) -> list:
    return pq.read_table(root / rel, columns=[name]).column(name).to_pylist()


def set_info(root: Path, **features) -> None:
    """Change ``features`` in meta/info.json (None removes one)."""
    p = root / fmt.INFO_PATH
    info = json.loads(p.read_text())
    for k, v in features.items():
        if v is None:
            info["features"].pop(k)
        else:
            info["features"][k] = v
    p.write_text(json.dumps(info, indent=4))


# --- clean --------------------------------------------------------------------------------------
def test_lerobot_default_tolerance_is_ours() -> None:
    """LeRobotDataset(tolerance_s=...)'s default in the pinned LeRobot is fmt.TOLERANCE_S."""
    src = (lerobot_meta.SITE / "datasets/lerobot_dataset.py").read_text()
    (cls,) = [
        n for n in ast.parse(src).body if isinstance(n, ast.ClassDef) and n.name == "LeRobotDataset"
    ]
    (init,) = [n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"]
    names = [a.arg for a in init.args.args]
    defaults = dict(
        zip(names[len(names) - len(init.args.defaults) :], init.args.defaults, strict=True)
    )
    assert ast.literal_eval(defaults["tolerance_s"]) == fmt.TOLERANCE_S == 1e-4


def test_clean_v30(v30: Path) -> None:
    ctx = run(v30)
    assert ctx.report.findings == []
    d = ctx.data
    assert d.file_starts == [(F0, 0, 36), (F1, 36, 86), (F2, 86, 128)]
    real = pa.concat_tables([real_rows(i) for i in range(3)])
    for c in data.BOOK_KEEPING:
        got = getattr(d, c)
        assert got.dtype == (np.float64 if c == "timestamp" else np.int64), c
        assert got.tolist() == real.column(c).to_pylist(), c
    assert d.index.tolist() == list(range(128))
    assert data.check_schemas(ctx, list(ctx.data_files)) == ["action", "observation.state"]


def test_clean_v21_real_recording(v21: Path) -> None:
    ctx = run(v21)
    assert ctx.report.findings == []
    assert ctx.data.file_starts == [(V21[0], 0, 36), (V21[1], 36, 86), (V21[2], 86, 128)]
    assert [(e.from_index, e.to_index) for e in ctx.episodes] == [(0, 36), (36, 86), (86, 128)]


# --- schemas ------------------------------------------------------------------------------------
def test_quick_mode_checks_schemas_only(v30: Path) -> None:
    action = real_rows(1).column("action").to_pylist()
    action[3][0] = float("nan")
    edit(v30, F1, action=pa.array(action, pa.list_(pa.float32(), 6)), zeta=pa.array([1] * 50))
    ctx = run(v30, quick=True)
    assert found(ctx) == [
        (
            "data.extra_column",
            "warning",
            F1,
            None,
            f"column 'zeta' is not declared in features in {F1}",
        )
    ]
    assert ctx.data is None
    ctx = run(v30)
    assert [f[0] for f in found(ctx)] == ["data.extra_column", "data.non_finite"]


def test_missing_and_extra_columns(v30: Path) -> None:
    for rel in (F0, F1, F2):
        edit(v30, rel, **{"observation.state": None})
    edit(v30, F2, zeta=pa.array([1] * 42), alpha=pa.array([1.5] * 42), action=None)
    ctx = run(v30)
    assert found(ctx) == [
        (
            "data.missing_column",
            "error",
            F0,
            None,
            f"column 'observation.state' declared in features is missing in {F0} (+2 more files)",
        ),
        (
            "data.missing_column",
            "error",
            F2,
            None,
            f"column 'action' declared in features is missing in {F2}",
        ),
        (
            "data.extra_column",
            "warning",
            F2,
            None,
            f"column 'alpha' is not declared in features in {F2}",
        ),
        (
            "data.extra_column",
            "warning",
            F2,
            None,
            f"column 'zeta' is not declared in features in {F2}",
        ),
    ]


STRUCT_IMG = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
F32 = pa.float32()


@pytest.mark.parametrize(
    ("feature", "values", "typ", "message"),
    [
        # shapes: fixed-size lists must match, variable lists of the right depth pass
        ({"dtype": "float32", "shape": [6]}, [[1.0] * 6], pa.list_(F32, 6), None),
        ({"dtype": "float32", "shape": [6]}, [[1.0] * 6], pa.list_(F32), None),
        ({"dtype": "float32", "shape": [6]}, [[1.0] * 6], pa.large_list(F32), None),
        (
            {"dtype": "float32", "shape": [7]},
            [[1.0] * 6],
            pa.list_(F32, 6),
            "shape [6] (features say [7])",
        ),
        (
            {"dtype": "float32", "shape": [1]},
            [[1.0] * 6],
            pa.list_(F32, 6),
            "shape [6] (features say [1])",
        ),
        ({"dtype": "float32", "shape": [1]}, [1.0], F32, None),
        ({"dtype": "float32", "shape": None}, [1.0], F32, None),
        ({"dtype": "float32"}, [1.0], F32, None),
        ({"dtype": "float32", "shape": [6]}, [1.0], F32, "shape [1] (features say [6])"),
        (
            {"dtype": "float32", "shape": [6]},
            [[[1.0]]],
            pa.list_(pa.list_(F32)),
            "shape ['?', '?'] (features say [6])",
        ),
        (
            {"dtype": "float32", "shape": [2, 3]},
            [[[1.0] * 3] * 2],
            pa.list_(pa.list_(F32, 3), 2),
            None,
        ),
        (
            {"dtype": "float32", "shape": [2, 3]},
            [[[1.0] * 3] * 2],
            pa.list_(pa.list_(F32, 3)),
            None,
        ),
        (
            {"dtype": "float32", "shape": [2, 3]},
            [[[1.0] * 2] * 3],
            pa.list_(pa.list_(F32, 2), 3),
            "shape [3, 2] (features say [2, 3])",
        ),
        (
            {"dtype": "float32", "shape": [2, 3]},
            [[[1.0] * 2] * 3],
            pa.list_(pa.list_(F32, 2)),
            "shape ['?', 2] (features say [2, 3])",
        ),
        # leaf types
        (
            {"dtype": "float32", "shape": [6]},
            [[1.0] * 6],
            pa.list_(pa.float64(), 6),
            "double (features say float32)",
        ),
        ({"dtype": "float64", "shape": [1]}, [1.0], pa.float64(), None),
        ({"dtype": "int64", "shape": [1]}, [1], pa.int32(), "int32 (features say int64)"),
        ({"dtype": "bool", "shape": [1]}, [True], pa.bool_(), None),
        ({"dtype": "string", "shape": [1]}, ["a"], pa.string(), None),
        ({"dtype": "string", "shape": [1]}, ["a"], pa.large_string(), None),
        ({"dtype": "string", "shape": [1]}, [1], pa.int64(), "int64 (expected string)"),
        (
            {"dtype": "string", "shape": [1]},
            [["a"]],
            pa.list_(pa.string()),
            "shape ['?'] (features say [1])",
        ),
        # images are HF datasets' Image(): struct<bytes, path>
        ({"dtype": "image", "shape": [4, 4, 3]}, [{"bytes": b"x", "path": None}], STRUCT_IMG, None),
        (
            {"dtype": "image", "shape": [4, 4, 3]},
            [b"x"],
            pa.binary(),
            "binary (expected struct<bytes, path>)",
        ),
        (
            {"dtype": "image", "shape": [4, 4, 3]},
            [{"path": "a"}],
            pa.struct([("path", pa.string())]),
            "struct<path: string> (expected struct<bytes, path>)",
        ),
        # no column expected
        ({"dtype": "video", "shape": [4, 4, 3]}, [1], pa.int64(), None),
        ({"dtype": "language", "shape": [1]}, [1], pa.int64(), None),
        ({"dtype": "no-such-dtype", "shape": [1]}, [1], pa.int64(), None),
    ],
)
def test_column_types(
    tmp_path: Path, feature: dict, values: list, typ, message: str | None
) -> None:
    """check_schemas on one file per case, its footer read from disk (no parquet_meta)."""
    rels = ["data/chunk-000/file-000.parquet", "data/chunk-000/file-001.parquet"]
    for rel in rels:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table({"x": pa.array(values * 2, typ)}), tmp_path / rel)
    feats = {"x": feature, "y": {"dtype": "int64", "shape": [1]}}  # y: missing, checked after x
    ctx = Context(
        tmp_path, {"codebase_version": "v3.0", "features": feats}, deep=False, quick=False
    )
    floats = data.check_schemas(ctx, rels)
    got = found(ctx)
    y = f"column 'y' declared in features is missing in {rels[0]} (+1 more files)"
    assert got.pop() == ("data.missing_column", "error", rels[0], None, y)
    if feature["dtype"] in ("video", "language", "no-such-dtype"):  # declared, no column
        assert got == [] and floats == []
        return
    if message is None:
        assert got == []
        leaf = data._describe(typ)[1]
        assert floats == (["x"] if pa.types.is_floating(leaf) else [])
        return
    kind = "data.shape_mismatch" if message.startswith("shape") else "data.dtype_mismatch"
    assert got == [
        (kind, "error", rels[0], None, f"column 'x' has {message} in {rels[0]} (+1 more files)")
    ]
    assert floats == []


def test_non_dict_feature_is_skipped_not_the_rest(tmp_path: Path) -> None:
    rel = "data/chunk-000/file-000.parquet"
    (tmp_path / rel).parent.mkdir(parents=True)
    pq.write_table(pa.table({"a": pa.array([1.0], pa.float64())}), tmp_path / rel)
    feats = {
        "junk": "not a feature",
        "b": {"dtype": "int64", "shape": [1]},
        "a": {"dtype": "float64"},
    }
    ctx = Context(
        tmp_path, {"codebase_version": "v3.0", "features": feats}, deep=False, quick=False
    )
    assert data.check_schemas(ctx, [rel]) == ["a"]
    assert found(ctx) == [
        (
            "data.missing_column",
            "error",
            rel,
            None,
            f"column 'b' declared in features is missing in {rel}",
        )
    ]


def test_schemas_from_structure_footers_and_unreadable_ones(v30: Path) -> None:
    """With structure's footers the files are not opened again; without, a bad one is said."""
    ctx = run(v30)
    (v30 / F1).unlink()  # its footer is in ctx.parquet_meta
    assert data.check_schemas(ctx, [F0, F1, F2]) == ["action", "observation.state"]
    assert found(ctx) == []
    (v30 / F0).write_bytes(b"not parquet")
    ctx = Context(v30, ctx.info, deep=False, quick=False)
    with pytest.raises(Exception) as exc:
        pq.read_schema(v30 / F0)
    edit(v30, F2, zeta=pa.array([1] * 42))
    assert data.check_schemas(ctx, [F0, F2]) == ["action", "observation.state"]
    assert found(ctx) == [
        ("data.unreadable_parquet", "error", F0, None, f"cannot read schema: {exc.value}"),
        (
            "data.extra_column",
            "warning",
            F2,
            None,
            f"column 'zeta' is not declared in features in {F2}",
        ),
    ]
    assert ctx.unreadable_data == {F0}


# --- reading rows -------------------------------------------------------------------------------
def test_unreadable_footer_said_once_rows_not_checked_by_position(v30: Path) -> None:
    (v30 / F1).write_bytes(b"not parquet at all")
    ctx = run(v30)
    f = found(ctx)
    assert [x[:3] for x in f] == [("data.unreadable_parquet", "error", F1)]
    assert f[0][4].startswith("cannot open parquet: ")  # structure's
    assert ctx.data.file_starts == [(F0, 0, 36), (F2, 36, 78)]


def test_unreadable_rows(v30: Path) -> None:
    """The footer opens, the action pages do not: reported once, that episode left alone."""
    corrupt_column(v30 / F1, "action")
    with pytest.raises(Exception) as exc:
        pq.ParquetFile(v30 / F1).read(columns=["action"])
    ctx = run(v30)
    assert found(ctx) == [
        ("data.unreadable_parquet", "error", F1, None, f"cannot read rows: {exc.value}")
    ]
    assert ctx.unreadable_data == {F1}
    assert ctx.data.file_starts == [(F0, 0, 36), (F2, 36, 78)]
    assert ctx.data.index.tolist() == list(range(36)) + list(range(86, 128))


def test_only_needed_columns_are_read(v30: Path) -> None:
    """Columns that are neither bookkeeping nor float features (images, ints) are never read."""
    set_info(v30, count={"dtype": "int64", "shape": [1]})
    for rel, n in ((F0, 36), (F1, 50), (F2, 42)):
        edit(v30, rel, count=pa.array(range(n), pa.int64()))
    corrupt_column(v30 / F1, "count")
    assert found(run(v30)) == []


def test_all_rows_unreadable(v30: Path) -> None:
    for rel in (F0, F1, F2):
        corrupt_column(v30 / rel, "timestamp")
    ctx = run(v30)
    assert [x[:3] for x in found(ctx)] == [
        ("data.unreadable_parquet", "error", r) for r in (F0, F1, F2)
    ]
    assert ctx.data is None


def test_v21_rows_are_the_files_not_the_metadata_lengths(v21: Path) -> None:
    """v2.x: an episode's rows are its own file; a wrong length says so and nothing else."""
    p = v21 / fmt.LEGACY_EPISODES_PATH
    lines = p.read_text().splitlines()
    lines[0] = lines[0].replace('"length": 36', '"length": 40')
    p.write_text("\n".join(lines) + "\n")
    ctx = run(v21)
    assert found(ctx) == [
        (
            "data.episode_length",
            "error",
            V21[0],
            0,
            "episode 0: metadata length is 40 but the data holds 36 rows",
        )
    ]
    assert [(e.from_index, e.to_index) for e in ctx.episodes] == [(0, 36), (36, 86), (86, 128)]


def test_v21_missing_file(v21: Path) -> None:
    (v21 / V21[1]).unlink()
    edit(v21, V21[2], frame_index=pa.array([0, 0, *range(2, 42)], pa.int64()))
    ctx = run(v21)
    # structure says it is missing; the episodes after it are still checked, and index is not
    # compared with row positions (rows are missing)
    assert found(ctx) == [
        (
            "data.frame_index",
            "error",
            V21[2],
            2,
            "episode 2: frame_index is not 0..41 (row 1 holds 0)",
        )
    ]
    assert [(e.from_index, e.to_index) for e in ctx.episodes] == [(0, 36), (36, 86), (36, 78)]


# --- bookkeeping columns ------------------------------------------------------------------------
def test_float_frame_index_is_read_as_numbers(v30: Path) -> None:
    edit(v30, F1, frame_index=pa.array(range(50), pa.float64()))
    assert found(run(v30)) == [
        (
            "data.dtype_mismatch",
            "error",
            F1,
            None,
            f"column 'frame_index' has double (features say int64) in {F1}",
        )
    ]


def test_int_timestamp_is_read_as_numbers(v30: Path) -> None:
    edit(v30, F0, timestamp=pa.array([i // 30 for i in range(36)], pa.int32()))  # 0 s, 1 s
    got = found(run(v30))
    assert got == [
        (
            "data.dtype_mismatch",
            "error",
            F0,
            None,
            f"column 'timestamp' has int32 (features say float32) in {F0}",
        ),
        (
            "data.timestamp_tolerance",
            "error",
            F0,
            0,
            "episode 0: frame 1 has timestamp 0.000000 s, expected 0.033333 (off by 3.33e-02 s > "
            "tolerance_s 0.0001); 34 frame(s) off",
        ),
        (
            "data.timestamp_order",
            "error",
            F0,
            0,
            "episode 0: timestamps do not increase at frame 1",
        ),
    ]


def test_non_numeric_task_index(v30: Path) -> None:
    edit(v30, F1, task_index=pa.array(["1"] * 50))
    assert found(run(v30)) == [
        (
            "data.dtype_mismatch",
            "error",
            F1,
            None,
            f"column 'task_index' has string (features say int64) in {F1}",
        ),
        (
            "data.unknown_task_index",
            "error",
            F1,
            1,
            "episode 1: task_index -1 is not in the tasks file",
        ),
    ]


def test_missing_timestamp_column(v30: Path) -> None:
    edit(v30, F1, timestamp=None)
    ctx = run(v30)
    ts = ctx.data.timestamp  # the video group reads these too
    assert ts.dtype == np.float64 and np.isnan(ts[36:86]).all() and not np.isnan(ts[:36]).any()
    assert found(ctx) == [
        (
            "data.missing_column",
            "error",
            F1,
            None,
            f"column 'timestamp' declared in features is missing in {F1}",
        ),
        (
            "data.timestamp_tolerance",
            "error",
            F1,
            1,
            "episode 1: frame 0 has timestamp nan s, expected 0.000000 (off by nan s > tolerance_s "
            "0.0001); 50 frame(s) off",
        ),
        (
            "data.timestamp_order",
            "error",
            F1,
            1,
            "episode 1: timestamps do not increase at frame 1",
        ),
    ]


def test_missing_episode_index_column(v30: Path) -> None:
    edit(v30, F1, episode_index=None)
    assert found(run(v30)) == [
        (
            "data.missing_column",
            "error",
            F1,
            None,
            f"column 'episode_index' declared in features is missing in {F1}",
        ),
        (
            "data.episode_length",
            "error",
            F1,
            1,
            "episode 1: metadata length is 50 but the data holds 0 rows",
        ),
        (
            "data.episode_index_mismatch",
            "error",
            F1,
            1,
            "episode 1: row 36 of its range holds episode_index -1",
        ),
    ]


def test_no_episode_index_at_all(v30: Path) -> None:
    for rel in (F0, F1, F2):
        edit(v30, rel, episode_index=None)
    got = [x for x in found(run(v30)) if x[0] == "data.episode_length"]
    assert [x[4] for x in got] == [
        f"episode {e}: metadata length is {n} but the data holds 0 rows"
        for e, n in ((0, 36), (1, 50), (2, 42))
    ]


def test_null_bookkeeping_values(v30: Path) -> None:
    fi = list(range(50))
    fi[3] = fi[4] = None
    ts = real_rows(1).column("timestamp").to_pylist()
    ts[5] = None
    edit(v30, F1, frame_index=pa.array(fi, pa.int64()), timestamp=pa.array(ts, pa.float32()))
    assert found(run(v30)) == [
        ("data.null_values", "error", F1, None, "column 'frame_index' has 2 null value(s)"),
        ("data.null_values", "error", F1, None, "column 'timestamp' has 1 null value(s)"),
        (
            "data.frame_index",
            "error",
            F1,
            1,
            "episode 1: frame_index is not 0..49 (row 3 holds -1)",
        ),
        (
            "data.timestamp_tolerance",
            "error",
            F1,
            1,
            "episode 1: frame 5 has timestamp nan s, expected 0.166667 (off by nan s > tolerance_s "
            "0.0001); 1 frame(s) off",
        ),
        (
            "data.timestamp_order",
            "error",
            F1,
            1,
            "episode 1: timestamps do not increase at frame 5",
        ),
    ]


# --- NaN / Inf ----------------------------------------------------------------------------------
def test_non_finite_in_features_not_in_timestamp_or_ints(v30: Path) -> None:
    set_info(v30, count={"dtype": "int64", "shape": [1]}, grip={"dtype": "float64", "shape": [1]})
    for rel, n in ((F0, 36), (F1, 50), (F2, 42)):
        edit(v30, rel, count=pa.array(range(n), pa.int64()), grip=pa.array([0.5] * n, pa.float64()))
    action = real_rows(1).column("action").to_pylist()
    action[7][5] = float("nan")
    action[9][0] = float("-inf")
    state = real_rows(1).column("observation.state").to_pylist()
    state[0][2] = float("inf")
    grip = [0.5] * 50
    grip[49] = float("nan")
    count = list(range(50))
    count[2] = None  # NaN once read, but not a float feature
    edit(
        v30,
        F1,
        action=pa.array(action, pa.list_(F32, 6)),
        **{"observation.state": pa.array(state, pa.list_(F32, 6))},
        grip=pa.array(grip, pa.float64()),
        count=pa.array(count, pa.int64()),
    )
    assert found(run(v30)) == [
        (
            "data.non_finite",
            "error",
            F1,
            1,
            "'action' has NaN/Inf in 2 row(s) of episode 1 (first at row 7 of the file)",
        ),
        (
            "data.non_finite",
            "error",
            F1,
            1,
            "'grip' has NaN/Inf in 1 row(s) of episode 1 (first at row 49 of the file)",
        ),
        (
            "data.non_finite",
            "error",
            F1,
            1,
            "'observation.state' has NaN/Inf in 1 row(s) of episode 1 (first at row 0 of the file)",
        ),
    ]


def test_non_finite_grouped_by_episode(tmp_path: Path) -> None:
    ctx = Context(tmp_path, {"codebase_version": "v3.0"}, deep=False, quick=False)
    two = pa.list_(pa.float64(), 2)
    col = pa.chunked_array(
        [
            pa.array([[0.0, 1.0], [np.nan, 1.0]], two),
            pa.array([[0.0, np.inf], [1.0, 1.0], [0.0, np.nan]], two),
        ]
    )
    data._scan_non_finite(ctx, "f.parquet", "v", col, np.array([3, 3, 4, 4, 4]))
    data._scan_non_finite(ctx, "g.parquet", "w", pa.array([np.nan]), np.array([7]))
    data._scan_non_finite(ctx, "h.parquet", "w", pa.array([1.0, 2.0]), np.array([7, 7]))
    data._scan_non_finite(ctx, "i.parquet", "w", pa.array([], pa.float64()), np.array([], int))
    assert found(ctx) == [
        (
            "data.non_finite",
            "error",
            "f.parquet",
            3,
            "'v' has NaN/Inf in 1 row(s) of episode 3 (first at row 1 of the file)",
        ),
        (
            "data.non_finite",
            "error",
            "f.parquet",
            4,
            "'v' has NaN/Inf in 2 row(s) of episode 4 (first at row 2 of the file)",
        ),
        (
            "data.non_finite",
            "error",
            "g.parquet",
            7,
            "'w' has NaN/Inf in 1 row(s) of episode 7 (first at row 0 of the file)",
        ),
    ]


@pytest.mark.parametrize("typ", [pa.list_(F32), pa.large_list(F32)])
def test_non_finite_in_ragged_rows(tmp_path: Path, typ) -> None:
    """Variable-length lists pass the schema check; their rows hold different numbers of values
    (this used to crash on a reshape, or miss the NaN when there were fewer values than rows)."""
    ctx = Context(tmp_path, {"codebase_version": "v3.0"}, deep=False, quick=False)
    nan = np.nan
    for rel, rows, eps in [
        ("a", [[nan], [], []], [0, 0, 1]),
        ("b", [[1.0, 2.0], [nan]], [0, 1]),
        ("c", [[1.0], [nan, 1.0, 1.0]], [0, 1]),
        ("d", [[1.0], None, [2.0, 3.0], [4.0, nan]], [5, 5, 5, 6]),
    ]:
        data._scan_non_finite(ctx, rel, "v", pa.array(rows, typ), np.array(eps))
    inf = np.inf
    nested = pa.array([[[1.0], [2.0, 3.0]], [[nan]], [[4.0, 5.0, inf]]], pa.list_(typ))
    data._scan_non_finite(ctx, "e", "v", nested.slice(1), np.array([8, 9]))
    assert [(f.file, f.episode, f.message) for f in ctx.report.findings] == [
        ("a", 0, "'v' has NaN/Inf in 1 row(s) of episode 0 (first at row 0 of the file)"),
        ("b", 1, "'v' has NaN/Inf in 1 row(s) of episode 1 (first at row 1 of the file)"),
        ("c", 1, "'v' has NaN/Inf in 1 row(s) of episode 1 (first at row 1 of the file)"),
        ("d", 6, "'v' has NaN/Inf in 1 row(s) of episode 6 (first at row 3 of the file)"),
        ("e", 8, "'v' has NaN/Inf in 1 row(s) of episode 8 (first at row 0 of the file)"),
        ("e", 9, "'v' has NaN/Inf in 1 row(s) of episode 9 (first at row 1 of the file)"),
    ]


def test_non_finite_in_a_variable_length_column(v30: Path) -> None:
    action = real_rows(1).column("action").to_pylist()
    action[4] = action[4][:3]
    action[6][1] = float("nan")
    edit(v30, F1, action=pa.array(action, pa.list_(F32)))
    assert found(run(v30)) == [
        (
            "data.non_finite",
            "error",
            F1,
            1,
            "'action' has NaN/Inf in 1 row(s) of episode 1 (first at row 6 of the file)",
        ),
    ]


# --- index --------------------------------------------------------------------------------------
def test_index_not_the_row_position(v30: Path, v21: Path) -> None:
    edit(v30, F2, index=pa.array(range(42), pa.int64()))  # file-local, as v2.x files may be
    edit(v21, V21[2], index=pa.array(range(42), pa.int64()))
    msg = "column 'index' is not the row position from row 86 on (holds 0; 42 rows differ)"
    assert found(run(v30)) == [("data.index", "error", F2, 2, msg)]
    assert found(run(v21)) == [("data.index", "warning", V21[2], 2, msg)]


# --- episodes -----------------------------------------------------------------------------------
def test_rows_of_the_wrong_episode(v30: Path) -> None:
    eps = [1] * 48 + [2, 2]
    fi = list(range(50))
    fi[10] = 99  # not said: the episode's rows are already wrong
    edit(v30, F1, episode_index=pa.array(eps, pa.int64()), frame_index=pa.array(fi, pa.int64()))
    fi = list(range(42))
    fi[5], fi[6] = 6, 5
    edit(v30, F2, frame_index=pa.array(fi, pa.int64()))
    assert found(run(v30)) == [
        (
            "data.episode_length",
            "error",
            F1,
            1,
            "episode 1: metadata length is 50 but the data holds 48 rows",
        ),
        (
            "data.episode_index_mismatch",
            "error",
            F1,
            1,
            "episode 1: row 84 of its range holds episode_index 2",
        ),
        (
            "data.episode_length",
            "error",
            F2,
            2,
            "episode 2: metadata length is 42 but the data holds 44 rows",
        ),
        ("data.frame_index", "error", F2, 2, "episode 2: frame_index is not 0..41 (row 5 holds 6)"),
    ]


def test_episode_without_rows(v30: Path) -> None:
    edit(v30, F2, episode_index=pa.array([1] * 42, pa.int64()))
    assert found(run(v30)) == [
        (
            "data.episode_length",
            "error",
            F1,
            1,
            "episode 1: metadata length is 50 but the data holds 92 rows",
        ),
        (
            "data.episode_length",
            "error",
            F2,
            2,
            "episode 2: metadata length is 42 but the data holds 0 rows",
        ),
        (
            "data.episode_index_mismatch",
            "error",
            F2,
            2,
            "episode 2: row 86 of its range holds episode_index 1",
        ),
    ]


def test_stray_episode_index(v30: Path) -> None:
    eps = [2] * 40 + [5, 7]
    edit(v30, F2, episode_index=pa.array(eps, pa.int64()))
    assert found(run(v30)) == [
        (
            "data.episode_length",
            "error",
            F2,
            2,
            "episode 2: metadata length is 42 but the data holds 40 rows",
        ),
        (
            "data.episode_index_mismatch",
            "error",
            F2,
            2,
            "episode 2: row 126 of its range holds episode_index 5",
        ),
        (
            "data.episode_index_mismatch",
            "error",
            None,
            None,
            "data rows carry episode_index values absent from the metadata: [5, 7]",
        ),
    ]


def test_finding_names_the_file_holding_the_rows(lerobot: dict, tmp_path: Path) -> None:
    """Episode 2's metadata points at episode 1's file; its rows are in file-009."""
    rows = recorder_rows()
    rows[2]["data/chunk_index"], rows[2]["data/file_index"] = 4, 5
    root = make_v30_data(lerobot, tmp_path / "ds", rows)
    edit(root, F2, frame_index=pa.array([0, 2, *range(2, 42)], pa.int64()))
    assert [x for x in found(run(root)) if x[0] == "data.frame_index"] == [
        ("data.frame_index", "error", F2, 2, "episode 2: frame_index is not 0..41 (row 1 holds 2)")
    ]


def test_unknown_task_index(v30: Path) -> None:
    ti = [0] * 42
    ti[3] = 7
    ti[4] = 2
    edit(v30, F2, task_index=pa.array(ti, pa.int64()))
    assert found(run(v30)) == [
        (
            "data.unknown_task_index",
            "error",
            F2,
            2,
            "episode 2: task_index 7 is not in the tasks file",
        )
    ]
    (v30 / fmt.TASKS_PATH).unlink()  # no tasks file: schema says so, nothing to compare with
    assert found(run(v30)) == []


# --- timestamps ---------------------------------------------------------------------------------
def shifted(i: int, shifts: dict[int, float]) -> pa.Array:
    """Episode i's real float32 timestamps with some frames moved by ``shifts`` seconds."""
    ts = real_rows(i).column("timestamp").to_pylist()
    for f, dt in shifts.items():
        ts[f] += dt
    return pa.array(ts, pa.float32())


def test_timestamp_tolerance_near_the_threshold(v30: Path) -> None:
    tol = fmt.TOLERANCE_S
    edit(v30, F1, timestamp=shifted(1, {3: tol / 2, 4: -tol / 2}))  # within: not said
    edit(v30, F2, timestamp=shifted(2, {10: 2 * tol, 11: -2 * tol, 12: 2 * tol}))
    assert found(run(v30)) == [
        (
            "data.timestamp_tolerance",
            "error",
            F2,
            2,
            "episode 2: frame 10 has timestamp 0.333533 s, expected 0.333333 (off by 2.00e-04 s > "
            "tolerance_s 0.0001); 3 frame(s) off",
        )
    ]


def direct(
    tmp_path: Path, fps: float, episodes: list[tuple[int, int, int]], ts: list, **kw
) -> list:
    """check_episodes on given columns: episodes as (episode_index, from, to), one file."""
    n = len(ts)
    ep_col = kw.get("ep_col")
    if ep_col is None:
        ep_col = np.full(n, -1, np.int64)
        for e, a, b in episodes:
            ep_col[a:b] = e
    fi = kw.get("fi")
    if fi is None:
        fi = np.zeros(n, np.int64)
        for _, a, b in episodes:
            fi[a:b] = np.arange(b - a)
    ctx = Context(tmp_path, {"codebase_version": "v3.0", "fps": fps}, deep=False, quick=False)
    ctx.episodes = [EpisodeMeta(e, b - a, [], "f.parquet", a, b) for e, a, b in episodes]
    ctx.episodes_loaded = kw.get("loaded", True)
    ctx.tasks = kw.get("tasks", {0: "a task"})
    ctx.data = DataColumns(
        index=np.arange(n),
        episode_index=ep_col,
        frame_index=fi,
        timestamp=np.array(ts, np.float64),
        task_index=np.zeros(n, np.int64),
        file_starts=[("f.parquet", 0, n)],
    )
    data.check_episodes(ctx)
    return [(f.check_id, f.episode, f.message) for f in ctx.report.findings]


def test_timestamp_exactly_at_the_tolerance(tmp_path: Path) -> None:
    """float64 timestamps reach the bound exactly: off == tolerance_s passes, one ulp more not."""
    tol = fmt.TOLERANCE_S
    over = float(np.nextafter(tol, 1.0))
    got = direct(tmp_path, 30, [(0, 0, 2), (1, 2, 4)], [tol, 1 / 30, over, 1 / 30])
    assert got == [
        (
            "data.timestamp_tolerance",
            1,
            "episode 1: frame 0 has timestamp 0.000100 s, expected 0.000000 (off by 1.00e-04 s > "
            "tolerance_s 0.0001); 1 frame(s) off",
        )
    ]


def test_fps_one_and_fps_zero(tmp_path: Path) -> None:
    ts = [0.0, 1.0, 2.0002]
    tol_msg = (
        "episode 0: frame 2 has timestamp 2.000200 s, expected 2.000000 (off by 2.00e-04 s > "
        "tolerance_s 0.0001); 1 frame(s) off"
    )
    assert direct(tmp_path, 1, [(0, 0, 3)], ts) == [("data.timestamp_tolerance", 0, tol_msg)]
    assert direct(tmp_path, 0, [(0, 0, 3)], [0.0, 5.0, 1.0]) == []  # no fps: nothing to compare


def test_timestamp_order(tmp_path: Path) -> None:
    """At 100 kHz a repeated or swapped timestamp stays within the tolerance of its grid point."""
    ts = [0.0, 1e-5, 1e-5, 3e-5, 1e-5, 0.0, 0.0]  # episodes 0..3, 4..6, 6..7
    got = direct(tmp_path, 100_000, [(0, 0, 4), (1, 4, 6), (2, 6, 7)], ts)
    assert got == [
        ("data.timestamp_order", 0, "episode 0: timestamps do not increase at frame 2"),
        ("data.timestamp_order", 1, "episode 1: timestamps do not increase at frame 1"),
    ]


def test_episode_range_outside_the_data_is_not_read(tmp_path: Path) -> None:
    """Episode 1 claims rows 3..20 of 8: only its length is said; episode 2 is still checked."""
    fi = np.array([0, 1, 2, 0, 0, 0, 1, 1])
    ep_col = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    got = direct(tmp_path, 0, [(0, 0, 3), (1, 3, 20), (2, 5, 8)], [0.0] * 8, fi=fi, ep_col=ep_col)
    assert got == [
        ("data.episode_length", 1, "episode 1: metadata length is 17 but the data holds 2 rows"),
        ("data.frame_index", 2, "episode 2: frame_index is not 0..2 (row 2 holds 1)"),
    ]


def test_stray_episodes_first_ten(tmp_path: Path) -> None:
    ep_col = np.array([0, 0, *range(21, 9, -1)])
    got = direct(tmp_path, 0, [(0, 0, 2)], [0.0] * 14, ep_col=ep_col)
    assert got == [
        (
            "data.episode_index_mismatch",
            None,
            "data rows carry episode_index values absent from the metadata: "
            "[10, 11, 12, 13, 14, 15, 16, 17, 18, 19]",
        )
    ]
    assert direct(tmp_path, 0, [(0, 0, 2)], [0.0] * 14, ep_col=ep_col, loaded=False) == []


def test_no_valid_episode_index(tmp_path: Path) -> None:
    got = direct(tmp_path, 0, [(0, 0, 2)], [0.0] * 2, ep_col=np.array([-1, -1]))
    assert got == [
        ("data.episode_length", 0, "episode 0: metadata length is 2 but the data holds 0 rows"),
        ("data.episode_index_mismatch", 0, "episode 0: row 0 of its range holds episode_index -1"),
    ]


def test_empty_tasks_file(tmp_path: Path) -> None:
    got = direct(tmp_path, 0, [(0, 0, 2)], [0.0] * 2, tasks={})
    assert got == [
        ("data.unknown_task_index", 0, "episode 0: task_index 0 is not in the tasks file")
    ]


def test_progress_bar_only_for_many_files(tmp_path: Path) -> None:
    from tqdm import tqdm

    ctx = Context(tmp_path, {}, deep=False, quick=False)
    items = iter(range(3))
    ctx.progress = True
    assert data._progress(ctx, items, "data", 20) is items
    bar = data._progress(ctx, items, "data", 21)
    assert isinstance(bar, tqdm)
    try:
        got = (bar.desc, bar.unit, bar.total, bar.leave, list(bar))
    finally:
        bar.close()
    assert got == ("data", "file", 21, False, [0, 1, 2])
    ctx.progress = False
    assert data._progress(ctx, items, "data", 21) is items


def test_read_columns_shows_progress_over_many_files(tmp_path: Path, capsys) -> None:
    """The CLI's progress bar: 21 files (more than 20), one row each, read in load order."""
    rels = [f"data/chunk-000/file-{i:03d}.parquet" for i in range(21)]
    (tmp_path / "data/chunk-000").mkdir(parents=True)
    for i, rel in enumerate(rels):
        cols = {c: pa.array([i], pa.int64()) for c in data.BOOK_KEEPING if c != "timestamp"}
        pq.write_table(pa.table({**cols, "timestamp": pa.array([0.0], F32)}), tmp_path / rel)
    ctx = Context(tmp_path, {"codebase_version": "v3.0", "fps": 30}, deep=False, quick=False)
    ctx.progress = True
    data.read_columns(ctx, rels, [])
    err = capsys.readouterr().err
    assert "data:   0%|" in err and " 0/21 " in err and "file/s]" in err, err
    assert ctx.data.index.tolist() == list(range(21))
    assert ctx.data.file_starts == [(rel, i, i + 1) for i, rel in enumerate(rels)]


def test_long_episode_float32_timestamps(tmp_path: Path) -> None:
    """LeRobot stores timestamp = frame_index / fps as float32; past 2048 s float32 rounding
    alone is more than tolerance_s away from the exact time, so the grid is float32 too."""
    n = 61_500  # 34 min at 30 fps
    ts = (np.arange(n) / 30).astype(np.float32)
    exact_off = np.abs(ts.astype(np.float64) - np.arange(n) / 30)
    assert exact_off.max() > fmt.TOLERANCE_S  # the premise
    assert direct(tmp_path, 30, [(0, 0, n)], ts) == []
