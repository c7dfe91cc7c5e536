"""The schema group (validators/schema.py) in-process, on metadata as LeRobot writes and reads it.

Fast (milliseconds per test: only ``meta/`` is built), so mutation testing can run it per
mutant. The references are external to the validator:

* v3.0 metadata is written by LeRobot 0.6.1's own code, lifted out of envs/act
  (tests/helpers/lerobot_v30.py): ``convert_info`` for ``info.json``, the recorder's
  ``save_episode_tasks`` DataFrame through ``write_tasks`` for ``meta/tasks.parquet``, the
  recorder's ``_flush_metadata_buffer`` for ``meta/episodes``. What LeRobot reads back
  (``load_tasks``: ``tasks.iloc[i].name``) is its own ``load_tasks`` run on the same file.
* v2.x metadata is the real LeRobot 0.3.3 recording in tests/fixtures/koch_v21_real; the
  paths the group derives must be files that recording has on disk.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import FIXTURE_V21
from helpers import lerobot_meta, lerobot_v30
from helpers.lerobot_v30 import (
    TASKS,
    VIDEO_KEYS,
    corrupt_column,
    flush,
    make_v30,
    recorder_rows,
    recorder_tasks,
)
from jsonschema import Draft202012Validator

from validators import dataset_format as fmt
from validators import schema
from validators.context import Context, VideoRef

SCHEMAS = Path(schema.__file__).parent / "schemas"


@pytest.fixture(scope="module")
def lerobot() -> dict:
    return lerobot_meta.or_fail(lerobot_v30.load)


def run(root: Path, **info_changes) -> Context:
    info = json.loads((root / fmt.INFO_PATH).read_text())
    info.update(info_changes)
    ctx = Context(root, info, deep=False, quick=False)
    schema.run(ctx)
    return ctx


def found(ctx: Context) -> list[tuple]:
    return [(f.check_id, f.severity, f.file, f.episode) for f in ctx.report.findings]


def only(ctx: Context, check_id: str):
    hits = [f for f in ctx.report.findings if f.check_id == check_id]
    assert len(hits) == 1, [(f.check_id, f.message) for f in ctx.report.findings]
    assert hits[0].severity == "error"
    assert isinstance(hits[0].hint, str) and hits[0].hint  # every finding says what to do
    return hits[0]


def v21_copy(tmp_path: Path) -> Path:
    root = tmp_path / "v21"
    shutil.copytree(FIXTURE_V21 / "meta", root / "meta")
    return root


# --- v3.0 as LeRobot writes it ---------------------------------------------------------------
def test_v30_written_by_lerobot_reads_as_lerobot_reads_it(lerobot: dict, tmp_path: Path) -> None:
    root = make_v30(lerobot, tmp_path / "ds")
    ctx = run(root)
    assert ctx.report.findings == []
    assert ctx.episodes_loaded
    lr_tasks = lerobot["load_tasks"](root)
    assert ctx.tasks == {i: lr_tasks.iloc[i].name for i in range(len(lr_tasks))}
    assert ctx.tasks == dict(enumerate(TASKS))
    # LeRobot's load_episodes: every meta/episodes file, rows by episode, stats/ dropped
    rows = recorder_rows()
    assert [e.episode_index for e in ctx.episodes] == [0, 1, 2]
    data_tpl, video_tpl = lerobot["DEFAULT_DATA_PATH"], lerobot["DEFAULT_VIDEO_PATH"]
    for ep, row in zip(ctx.episodes, rows, strict=True):
        assert ep.length == row["length"] and ep.tasks == row["tasks"]
        assert (ep.from_index, ep.to_index) == (row["dataset_from_index"], row["dataset_to_index"])
        assert (ep.data_chunk, ep.data_file) == (row["data/chunk_index"], row["data/file_index"])
        assert ep.data_path == data_tpl.format(
            chunk_index=row["data/chunk_index"], file_index=row["data/file_index"]
        )
        assert set(ep.videos) == set(VIDEO_KEYS)
        for vk in VIDEO_KEYS:
            c, f = row[f"videos/{vk}/chunk_index"], row[f"videos/{vk}/file_index"]
            want = VideoRef(
                video_tpl.format(video_key=vk, chunk_index=c, file_index=f),
                row[f"videos/{vk}/from_timestamp"],
                row[f"videos/{vk}/to_timestamp"],
                c,
                f,
            )
            assert ep.videos[vk] == want


def test_v30_bad_path_templates_fall_back_to_lerobots(lerobot: dict, tmp_path: Path) -> None:
    """A template that cannot be formatted: the episodes still locate LeRobot's default files
    (the info error itself is the schema's to report)."""
    root = make_v30(lerobot, tmp_path / "ds")
    for bad in ("data/{episode_chunk}.parquet", "data/{0}.parquet", "data/{chunk_index:q}"):
        ctx = run(root, data_path=bad, video_path=bad.replace("data", "videos"))
        ep = ctx.episodes[1]
        assert ep.data_path == lerobot["DEFAULT_DATA_PATH"].format(chunk_index=4, file_index=5)
        vk = VIDEO_KEYS[0]
        assert ep.videos[vk].path == lerobot["DEFAULT_VIDEO_PATH"].format(
            video_key=vk, chunk_index=6, file_index=7
        )


def test_v30_custom_template_is_used(lerobot: dict, tmp_path: Path) -> None:
    root = make_v30(lerobot, tmp_path / "ds")
    ctx = run(
        root,
        data_path="d/{chunk_index}-{file_index}.pq",
        video_path="v/{video_key}/{chunk_index}-{file_index}",
    )
    assert ctx.episodes[0].data_path == "d/0-1.pq"
    assert ctx.episodes[0].videos[VIDEO_KEYS[1]].path == f"v/{VIDEO_KEYS[1]}/22-23"


# --- info.json -------------------------------------------------------------------------------
def test_info_schema_errors_name_the_key_and_schema(lerobot: dict, tmp_path: Path) -> None:
    root = make_v30(lerobot, tmp_path / "ds")
    info = json.loads((root / fmt.INFO_PATH).read_text())
    del info["fps"]
    info["total_frames"] = -1
    ctx = Context(root, info, deep=False, quick=False)
    schema.check_info(ctx)
    assert [f[:3] for f in found(ctx)] == [("schema.info", "error", fmt.INFO_PATH)] * 2
    top, frames = ctx.report.findings  # sorted by path: () before ("total_frames",)
    assert top.message.startswith("(top level): ") and "'fps'" in top.message
    assert frames.message.startswith("total_frames: ") and "-1" in frames.message
    assert frames.hint == "fix meta/info.json to match validators/schemas/info_v3.0.schema.json"
    assert (SCHEMAS / "info_v3.0.schema.json").is_file()


def test_info_errors_in_path_order(tmp_path: Path) -> None:
    """Findings sorted by the key they are about, whatever order the schema checks them in."""
    root = v21_copy(tmp_path)
    ctx = run(root, total_episodes=-1, chunks_size=0, fps=0)
    keys = [f.message.split(":")[0] for f in ctx.report.findings]
    assert keys == ["chunks_size", "fps", "total_episodes"]


def test_nested_info_error_path(tmp_path: Path) -> None:
    root = v21_copy(tmp_path)
    ctx = run(root, features={"action": {"dtype": "float32", "shape": [6.5]}})
    msgs = [f.message for f in ctx.report.findings if f.check_id == "schema.info"]
    assert any(m.startswith("features/action/shape/0: ") for m in msgs), msgs


@pytest.mark.parametrize("version", ["v2.0", "v2.1"])
def test_legacy_versions_use_the_v21_schema(tmp_path: Path, version: str) -> None:
    """LeRobot 0.3.3 wrote v2.0 and v2.1 info.json alike (the real fixture passes both)."""
    root = v21_copy(tmp_path)
    assert run(root, codebase_version=version).report.findings == []
    ctx = run(root, codebase_version=version, fps="30")
    f = only(ctx, "schema.info")
    assert f.message.startswith("fps: ") and f.file == fmt.INFO_PATH
    assert f.hint.endswith("validators/schemas/info_v2.1.schema.json")


@pytest.mark.parametrize(("layout", "seen"), [("v3", "v3.0"), ("v2", "v2.1")])
def test_unknown_version_is_checked_as_the_layout_on_disk(
    lerobot: dict, tmp_path: Path, layout: str, seen: str
) -> None:
    root = make_v30(lerobot, tmp_path / "ds") if layout == "v3" else v21_copy(tmp_path)
    ctx = run(root, codebase_version="v2.5", fps=0)
    f = only(ctx, "schema.version_unsupported")
    assert f.file == fmt.INFO_PATH
    assert "'v2.5'" in f.message and f.message.endswith(f"the files look like {seen}")
    assert "(v2.0, v2.1, v3.0)" in f.message
    assert (
        f.hint
        == f'set "codebase_version" in meta/info.json to "{seen}" if the layout really is {seen}'
    )
    info = only(ctx, "schema.info")  # the rest checked against the layout's schema;
    assert info.message.startswith("fps: ")  # codebase_version is not reported twice
    assert info.hint.endswith(f"info_v{seen[1:]}.schema.json")
    assert ctx.tasks == dict(enumerate(TASKS))  # and the metadata still read as that layout


def test_null_video_path_with_videos(lerobot: dict, tmp_path: Path) -> None:
    """LeRobot's convert_info keeps video_path only when there are videos."""
    root = make_v30(lerobot, tmp_path / "ds")
    info = json.loads((root / fmt.INFO_PATH).read_text())
    assert info["video_path"] == lerobot["DEFAULT_VIDEO_PATH"]
    ctx = run(root, video_path=None)
    f = only(ctx, "schema.info")
    assert f.file == fmt.INFO_PATH
    assert f.message == f"video_path is null but features declare videos {VIDEO_KEYS}"
    assert f.hint.startswith("set video_path to the template")
    assert f.hint.endswith("(see validators/dataset_format.py)")
    assert (Path(schema.__file__).parent / "dataset_format.py").is_file()
    # no video features: LeRobot writes video_path null, and that is fine
    src = tmp_path / "novideo_src"
    shutil.copytree(FIXTURE_V21 / "meta", src / "meta")
    info = json.loads((src / fmt.INFO_PATH).read_text())
    info["features"] = {k: v for k, v in info["features"].items() if v["dtype"] != "video"}
    info["video_path"] = None
    (src / fmt.INFO_PATH).write_text(json.dumps(info))
    dst = tmp_path / "novideo"
    lerobot["convert_info"](src, dst, 100, 200)
    ctx = Context(dst, json.loads((dst / fmt.INFO_PATH).read_text()), deep=False, quick=False)
    assert ctx.info["video_path"] is None
    schema.check_info(ctx)
    assert ctx.report.findings == []


# --- column kinds ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("typ", "kind"),
    [
        (pa.int8(), "integer"),
        (pa.int64(), "integer"),
        (pa.uint32(), "integer"),
        (pa.float16(), "float"),
        (pa.float32(), "float"),
        (pa.float64(), "float"),
        (pa.string(), "string"),
        (pa.large_string(), "string"),
        (pa.list_(pa.string()), "list<string>"),
        (pa.large_list(pa.large_string()), "list<string>"),
        (pa.list_(pa.float32(), 6), "list<number>"),
        (pa.large_list(pa.int64()), "list<number>"),
        (pa.list_(pa.float64()), "list<number>"),
        (pa.list_(pa.bool_()), "list<bool>"),
        (pa.list_(pa.list_(pa.string())), "list<list<string>>"),
        (pa.bool_(), "bool"),
        (pa.binary(), "binary"),
    ],
)
def test_arrow_kind(typ: pa.DataType, kind: str) -> None:
    assert schema.arrow_kind(typ) == kind


def test_arrow_kind_of_what_lerobot_writes(lerobot: dict, tmp_path: Path) -> None:
    """pa.Table.from_pydict (the recorder) and pandas (write_tasks) infer these types."""
    root = make_v30(lerobot, tmp_path / "ds")
    s = pq.read_schema(root / fmt.EPISODES_PATH.format(chunk_index=0, file_index=0))
    contract = schema.load_schema("episodes_v3.0.columns.json")
    for col, kind in contract["required"].items():
        assert schema.arrow_kind(s.field(col).type) == kind, col
    s = pq.read_schema(root / fmt.TASKS_PATH)
    assert schema.arrow_kind(s.field("task_index").type) == "integer"
    assert schema.arrow_kind(s.field("task").type) == "string"


def _columns(contract: dict, types_: dict[str, pa.DataType], extra: dict | None = None):
    ctx = Context(Path("/ds"), {"codebase_version": "v3.0"}, deep=False, quick=False)
    s = pa.schema(list(types_.items()))
    ok = schema.check_columns(ctx, s, contract, "schema.x", Path("/ds/meta/f.parquet"), extra or {})
    return ok, ctx.report.findings


def test_check_columns() -> None:
    contract = {"required": {"a": "integer", "t": "float"}}
    assert _columns(contract, {"a": pa.int64(), "t": pa.float32()}) == (True, [])
    # an integer where a float is expected still reads; a float where an integer is does not
    assert _columns(contract, {"a": pa.int64(), "t": pa.int32()}) == (True, [])
    ok, fs = _columns(contract, {"a": pa.float32(), "t": pa.float32()})
    assert ok is True  # present, so the file is still read
    (f,) = fs
    assert (f.check_id, f.severity, f.file) == ("schema.x", "error", "meta/f.parquet")
    assert f.message == "column 'a' has type float (float), expected integer"
    assert f.hint.endswith("with the converter")
    ok, fs = _columns(contract, {"t": pa.string()}, {"v": "float"})
    assert ok is False
    assert [f.message for f in fs] == [
        "column 'a' is missing",
        "column 't' has type string (string), expected float",
        "column 'v' is missing",
    ]
    assert all(f.file == "meta/f.parquet" and f.severity == "error" for f in fs)
    assert "'a'" in fs[0].hint and "LeRobot 0.6.1" in fs[0].hint


# --- meta/tasks.parquet ----------------------------------------------------------------------
def _tasks_ctx(lerobot: dict, tmp_path: Path, write) -> Context:
    root = make_v30(lerobot, tmp_path / "ds")
    (root / fmt.TASKS_PATH).unlink()
    if write is not None:
        write(root / fmt.TASKS_PATH)
    return run(root)


def test_tasks_missing(lerobot: dict, tmp_path: Path) -> None:
    ctx = _tasks_ctx(lerobot, tmp_path, None)
    f = only(ctx, "structure.missing_file")
    assert f.file == fmt.TASKS_PATH and f.message == "meta/tasks.parquet is missing"
    assert lerobot["DEFAULT_TASKS_PATH"] == fmt.TASKS_PATH
    assert f.hint.startswith(f"every v3.0 dataset needs {fmt.TASKS_PATH} (task_index + task)")
    assert f.hint.endswith("re-convert")
    assert ctx.tasks is None and ctx.episodes_loaded  # the episodes are still read


def test_tasks_not_parquet(lerobot: dict, tmp_path: Path) -> None:
    ctx = _tasks_ctx(lerobot, tmp_path, lambda p: p.write_text("junk"))
    f = only(ctx, "schema.unreadable")
    assert f.file == fmt.TASKS_PATH and f.message.startswith("cannot open parquet: ")
    assert f.hint.startswith("the file is truncated or not parquet")
    assert f.hint.endswith("re-convert")
    assert ctx.tasks is None and len(ctx.episodes) == 3


@pytest.mark.parametrize("column", ["task_index", "extra"])
def test_tasks_rows_unreadable(lerobot: dict, tmp_path: Path, column: str) -> None:
    """The footer opens but the rows do not: LeRobot's load_tasks (pd.read_parquet, every
    column) fails, on a column it does not use too."""
    df = recorder_tasks(TASKS).assign(extra=[1.5, 2.5])
    root = make_v30(lerobot, tmp_path / "ds", tasks=df)
    assert run(root).report.findings == []
    corrupt_column(root / fmt.TASKS_PATH, column)
    with pytest.raises(OSError):
        lerobot["load_tasks"](root)
    ctx = run(root)
    f = only(ctx, "schema.unreadable")
    assert f.file == fmt.TASKS_PATH and f.message.startswith("cannot read rows: ")
    assert f.hint == "re-convert"
    assert ctx.tasks is None and len(ctx.episodes) == 3


def test_tasks_as_lerobot_04_converter_wrote_them(lerobot: dict, tmp_path: Path) -> None:
    """An unnamed index (``__index_level_0__``): LeRobot 0.6.1's load_tasks still reads it."""
    df = pd.DataFrame({"task_index": range(2)}, index=pd.Index(TASKS))
    root = make_v30(lerobot, tmp_path / "ds", tasks=df)
    assert "__index_level_0__" in pq.read_schema(root / fmt.TASKS_PATH).names
    lr = lerobot["load_tasks"](root)
    assert [lr.iloc[i].name for i in range(2)] == TASKS
    ctx = run(root)
    assert ctx.report.findings == [] and ctx.tasks == dict(enumerate(TASKS))


def _lerobot_task_texts(lerobot: dict, path: Path) -> list:
    lr = lerobot["load_tasks"](path.parent.parent)
    return [lr.iloc[i].name for i in range(len(lr))]


@pytest.mark.parametrize("how", ["pyarrow", "range_index", "bad_json", "json_list"])
def test_tasks_text_not_the_index(lerobot: dict, tmp_path: Path, how: str) -> None:
    def write(p: Path) -> None:
        if how == "range_index":
            pd.DataFrame({"task_index": range(2), "task": TASKS}).to_parquet(p)
            return
        t = pa.table({"task_index": [0, 1], "task": TASKS})
        if how == "bad_json":
            t = t.replace_schema_metadata({b"pandas": b"{not json"})
        elif how == "json_list":
            t = t.replace_schema_metadata({b"pandas": b'["task"]'})
        pq.write_table(t, p)

    ctx = _tasks_ctx(lerobot, tmp_path, write)
    if how in ("pyarrow", "range_index"):  # LeRobot's reading of it: row numbers, not text
        assert _lerobot_task_texts(lerobot, tmp_path / "ds" / fmt.TASKS_PATH) == [0, 1]
    f = only(ctx, "schema.tasks_columns")
    assert f.file == fmt.TASKS_PATH
    assert f.message.startswith("the task text is not the pandas index")
    assert "(no pandas metadata, or a RangeIndex)" in f.message  # pandas' class name
    assert pd.RangeIndex.__name__ == "RangeIndex"
    assert "LeRobot reads the text as tasks.iloc[i].name" in f.message
    assert f.message.endswith("would get integers")
    # the recipe is the recorder's (save_episode_tasks -> write_tasks: DataFrame.to_parquet)
    assert f.hint.startswith("write it with pandas: DataFrame({'task_index': ...}, ")
    assert "index=Index(tasks, name='task')" in f.hint and f.hint.endswith(".to_parquet(...)")
    assert ctx.tasks is None


def test_tasks_two_level_index(lerobot: dict, tmp_path: Path) -> None:
    idx = pd.MultiIndex.from_arrays([TASKS, ["a", "b"]], names=["task", "other"])

    def write(p: Path) -> None:
        pd.DataFrame({"task_index": range(2)}, index=idx).to_parquet(p)

    ctx = _tasks_ctx(lerobot, tmp_path, write)
    assert all(
        isinstance(t, tuple) for t in _lerobot_task_texts(lerobot, tmp_path / "ds" / fmt.TASKS_PATH)
    )
    f = only(ctx, "schema.tasks_columns")
    assert f.message == "a 2-level pandas index: LeRobot would read tuples as task text"
    assert f.file == fmt.TASKS_PATH and ctx.tasks is None


def test_tasks_index_not_strings(lerobot: dict, tmp_path: Path) -> None:
    def write(p: Path) -> None:
        pd.DataFrame({"task_index": range(2)}, index=pd.Index([7, 8], name="task")).to_parquet(p)

    ctx = _tasks_ctx(lerobot, tmp_path, write)
    assert _lerobot_task_texts(lerobot, tmp_path / "ds" / fmt.TASKS_PATH) == [7, 8]
    f = only(ctx, "schema.tasks_columns")
    assert (
        f.message == "the pandas index 'task' holding the task text has type int64, expected string"
    )
    assert f.file == fmt.TASKS_PATH and ctx.tasks is None
    assert f.hint.startswith("the task text must be strings") and f.hint.endswith("re-convert")


def test_tasks_index_column_absent(lerobot: dict, tmp_path: Path) -> None:
    """pandas metadata naming an index column the file does not have."""

    def write(p: Path) -> None:
        t = pa.table({"task_index": [0, 1], "text": TASKS})
        meta = {"index_columns": ["task"], "columns": []}
        pq.write_table(t.replace_schema_metadata({b"pandas": json.dumps(meta).encode()}), p)

    ctx = _tasks_ctx(lerobot, tmp_path, write)
    f = only(ctx, "schema.tasks_columns")
    assert f.message.startswith("the task text is not the pandas index")
    assert ctx.tasks is None


def test_tasks_without_task_index_column(lerobot: dict, tmp_path: Path) -> None:
    def write(p: Path) -> None:
        pd.DataFrame({"n": range(2)}, index=pd.Index(TASKS, name="task")).to_parquet(p)

    ctx = _tasks_ctx(lerobot, tmp_path, write)
    f = only(ctx, "schema.tasks_columns")
    assert f.message == "column 'task_index' is missing" and f.file == fmt.TASKS_PATH
    assert ctx.tasks is None


@pytest.mark.parametrize(
    ("indices", "messages"),
    [
        ([1, 0, 2], ["row 0 holds task_index 1", "row 1 holds task_index 0"]),
        ([0, 0, 2], ["task_index 0 appears twice"]),
    ],
)
def test_tasks_rows_out_of_order(
    lerobot: dict, tmp_path: Path, indices: list, messages: list
) -> None:
    texts = [*TASKS, "third"]
    df = pd.DataFrame({"task_index": indices}, index=pd.Index(texts, name="task"))
    ctx = _tasks_ctx(lerobot, tmp_path, df.to_parquet)
    if len(set(indices)) == len(indices):  # LeRobot gives task_index 0 the text of row 0
        lr = _lerobot_task_texts(lerobot, tmp_path / "ds" / fmt.TASKS_PATH)
        assert lr[0] != texts[indices.index(0)]
    fs = [f for f in ctx.report.findings if f.check_id == "schema.tasks_columns"]
    assert len(fs) == len(messages) == len(ctx.report.findings)
    for f, message in zip(fs, messages, strict=True):
        assert f.message.startswith(message + (":" if message.startswith("row") else ""))
        assert (f.severity, f.file) == ("error", fmt.TASKS_PATH)
        if message.startswith("row"):
            assert "tasks.iloc[i]" in f.message
            assert f.message.endswith("so episodes would get another task's text")
            assert f.hint.startswith("sort the rows by task_index")
        else:
            assert f.hint.startswith("task_index must be unique")
    # what was read: the last text per index (the rows as the file holds them)
    assert ctx.tasks == {i: t for i, t in zip(indices, texts, strict=True)}


# --- meta/episodes ---------------------------------------------------------------------------
def test_episodes_missing(lerobot: dict, tmp_path: Path) -> None:
    root = make_v30(lerobot, tmp_path / "ds")
    shutil.rmtree(root / "meta/episodes")
    ctx = run(root)
    f = only(ctx, "structure.missing_file")
    pattern = lerobot["DEFAULT_EPISODES_PATH"].format(chunk_index=0, file_index=0)
    pattern = pattern.replace("chunk-000", "chunk-*").replace("file-000", "file-*")
    assert f.file == "meta/episodes"
    assert f.message == f"no {pattern} although total_episodes > 0"
    assert f.hint.startswith("LeRobot cannot locate any episode") and f.hint.endswith("re-convert")
    assert not ctx.episodes_loaded and ctx.episodes == []
    ctx = run(root, total_episodes=0)  # an empty dataset: nothing to miss
    assert ctx.report.findings == [] and ctx.episodes_loaded


@pytest.mark.parametrize("fault", ["not_parquet", "rows_unreadable", "column_missing"])
def test_episodes_file_broken(lerobot: dict, tmp_path: Path, fault: str) -> None:
    """A broken first file: reported by name, the next file still read, and the episode
    metadata marked incomplete."""
    root = make_v30(lerobot, tmp_path / "ds")
    bad = root / fmt.EPISODES_PATH.format(chunk_index=0, file_index=0)
    rel = "meta/episodes/chunk-000/file-000.parquet"
    if fault == "not_parquet":
        bad.write_bytes(b"PAR1 not really")
        check_id, message = "schema.unreadable", "cannot open parquet: "
    elif fault == "rows_unreadable":
        corrupt_column(bad, "length")
        check_id, message = "schema.unreadable", "cannot read rows: "
    else:
        bad.unlink()
        flush(lerobot, root, [{k: v for k, v in recorder_rows()[2].items() if k != "length"}])
        check_id, message = "schema.episodes_columns", "column 'length' is missing"
    ctx = run(root)
    f = only(ctx, check_id)
    assert f.file == rel and f.message.startswith(message)
    assert len(ctx.report.findings) == 1
    if fault == "rows_unreadable":
        assert f.hint == "re-convert"
    elif fault == "not_parquet":
        assert f.hint.endswith("re-convert")
    assert ctx.episodes_loaded is False
    assert [e.episode_index for e in ctx.episodes] == [0, 1]


def test_episodes_missing_video_column(lerobot: dict, tmp_path: Path) -> None:
    root = make_v30(lerobot, tmp_path / "ds")
    col = f"videos/{VIDEO_KEYS[1]}/to_timestamp"
    rows = [{k: v for k, v in r.items() if k != col} for r in recorder_rows()[2:]]
    path = flush(lerobot, root, rows, 0, 0)
    ctx = run(root)
    f = only(ctx, "schema.episodes_columns")
    assert f.message == f"column {col!r} is missing" and f.file == ctx.rel(path)
    assert not ctx.episodes_loaded


def test_episodes_unreadable_stats_column(lerobot: dict, tmp_path: Path) -> None:
    """LeRobot's load_episodes reads every column (Dataset.from_parquet) before it drops
    stats/*, so an unreadable stats column fails it (checked in envs/act: DatasetGenerationError):
    the file is reported, though the rows the group keeps (no stats/) would read."""
    root = make_v30(lerobot, tmp_path / "ds")
    bad = root / fmt.EPISODES_PATH.format(chunk_index=0, file_index=0)
    corrupt_column(bad, "stats/")
    keep = [c for c in pq.read_schema(bad).names if not c.startswith("stats/")]
    pq.read_table(bad, columns=keep)  # the kept columns alone read fine
    ctx = run(root)
    f = only(ctx, "schema.unreadable")
    assert f.file == "meta/episodes/chunk-000/file-000.parquet"
    assert f.message.startswith("cannot read rows: ")
    assert ctx.episodes_loaded is False and [e.episode_index for e in ctx.episodes] == [0, 1]


# --- v2.x jsonl ------------------------------------------------------------------------------
def test_v21_real_recording(tmp_path: Path) -> None:
    root = FIXTURE_V21
    ctx = run(root)
    assert ctx.report.findings == [] and ctx.episodes_loaded
    rows = fmt.read_jsonl(root / fmt.LEGACY_TASKS_PATH)
    assert ctx.tasks == {r["task_index"]: r["task"] for r in rows}
    eps = fmt.read_jsonl(root / fmt.LEGACY_EPISODES_PATH)
    start = 0
    for ep, row in zip(ctx.episodes, eps, strict=True):
        assert (ep.episode_index, ep.length, ep.tasks) == (
            row["episode_index"],
            row["length"],
            row["tasks"],
        )
        assert (ep.from_index, ep.to_index) == (start, start + row["length"])
        start += row["length"]
        assert (root / ep.data_path).is_file()  # the recording's own files
        for vk in VIDEO_KEYS:
            assert (root / ep.videos[vk].path).is_file()
            assert ep.videos[vk].from_ts == 0.0
            assert ep.videos[vk].to_ts == row["length"] / 30
    stats = fmt.read_jsonl(root / fmt.LEGACY_EPISODES_STATS_PATH)
    assert ctx.episode_stats == {r["episode_index"]: r["stats"] for r in stats}


def test_v21_chunks_and_templates(tmp_path: Path) -> None:
    """LeRobot 0.3.3: episode_chunk = episode_index // chunks_size."""
    root = v21_copy(tmp_path)
    ctx = run(root, chunks_size=2)
    assert [e.data_path for e in ctx.episodes] == [
        fmt.LEGACY_DATA_PATH.format(episode_chunk=c, episode_index=i)
        for i, c in ((0, 0), (1, 0), (2, 1))
    ]
    assert ctx.episodes[2].videos[VIDEO_KEYS[0]].path == (
        f"videos/chunk-001/{VIDEO_KEYS[0]}/episode_000002.mp4"
    )
    ctx = run(root, data_path="{chunk_index}", video_path="{0}")  # v3.0 templates in a v2.1
    assert ctx.episodes[1].data_path == "data/chunk-000/episode_000001.parquet"
    assert ctx.episodes[1].videos[VIDEO_KEYS[1]].path == (
        f"videos/chunk-000/{VIDEO_KEYS[1]}/episode_000001.mp4"
    )
    ctx = run(
        root,
        chunks_size=2,
        data_path="d/{episode_chunk}/{episode_index}",
        video_path="v/{video_key}/{episode_chunk}/{episode_index}",
    )
    assert ctx.episodes[2].data_path == "d/1/2"
    assert ctx.episodes[2].videos[VIDEO_KEYS[1]].path == f"v/{VIDEO_KEYS[1]}/1/2"
    ctx = run(root, fps=0)  # no fps: no duration to derive (the info error says why)
    assert ctx.episodes[0].videos[VIDEO_KEYS[0]].to_ts == 0.0


def test_v21_episodes_out_of_order(tmp_path: Path) -> None:
    root = v21_copy(tmp_path)
    p = root / fmt.LEGACY_EPISODES_PATH
    lines = p.read_text().splitlines()
    p.write_text("\n".join(reversed(lines)) + "\n")
    ctx = run(root)
    assert [e.episode_index for e in ctx.episodes] == [0, 1, 2]
    assert [(e.from_index, e.to_index) for e in ctx.episodes] == [(0, 36), (36, 86), (86, 128)]


@pytest.mark.parametrize(
    ("rel", "check_id"),
    [
        (fmt.LEGACY_TASKS_PATH, "schema.tasks_columns"),
        (fmt.LEGACY_EPISODES_PATH, "schema.episodes_columns"),
        (fmt.LEGACY_EPISODES_STATS_PATH, "schema.episodes_stats_columns"),
    ],
)
def test_v21_jsonl_rows_against_their_schema(tmp_path: Path, rel: str, check_id: str) -> None:
    root = v21_copy(tmp_path)
    p = root / rel
    rows = fmt.read_jsonl(p)
    rows[1] = {"episode_index": 1, "junk": 1} if rel != fmt.LEGACY_TASKS_PATH else {"task": 5}
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ctx = run(root)
    hits = [f for f in ctx.report.findings if f.check_id == check_id]
    assert hits and all(f.message.startswith("line 2: ") for f in hits)
    assert all(f.file == rel and f.severity == "error" for f in hits)
    assert len(hits) <= 3  # at most three errors per line
    name = {
        fmt.LEGACY_TASKS_PATH: "tasks_v2.1.schema.json",
        fmt.LEGACY_EPISODES_PATH: "episodes_v2.1.schema.json",
        fmt.LEGACY_EPISODES_STATS_PATH: "episodes_stats_v2.1.schema.json",
    }[rel]
    assert hits[0].hint == f"each line must match validators/schemas/{name}"
    assert (SCHEMAS / name).is_file()
    if rel == fmt.LEGACY_TASKS_PATH:
        assert hits[0].episode is None
        assert ctx.tasks == {0: TASKS[0]}  # the bad row is skipped
    elif rel == fmt.LEGACY_EPISODES_PATH:
        assert hits[0].episode == 1
        assert [e.episode_index for e in ctx.episodes] == [0, 2]
    else:
        assert hits[0].episode == 1 and set(ctx.episode_stats) == {0, 2}


def test_v21_jsonl_line_with_many_errors(tmp_path: Path) -> None:
    root = v21_copy(tmp_path)
    p = root / fmt.LEGACY_EPISODES_PATH
    row = {"episode_index": -1, "tasks": [1, 2, 3], "length": "x"}
    p.write_text(json.dumps(row) + "\n")
    want = Draft202012Validator(schema.load_schema("episodes_v2.1.schema.json"))
    assert len(list(want.iter_errors(row))) == 5
    ctx = run(root)
    hits = [f for f in ctx.report.findings if f.check_id == "schema.episodes_columns"]
    assert len(hits) == 3  # the first three of a line: one bad writer does not flood the report


def test_v21_jsonl_not_json(tmp_path: Path) -> None:
    root = v21_copy(tmp_path)
    (root / fmt.LEGACY_TASKS_PATH).write_text('{"task_index": 0, "task": "a"}\n{oops\n')
    ctx = run(root)
    f = only(ctx, "schema.unreadable")
    assert f.file == fmt.LEGACY_TASKS_PATH and "2" in f.message
    assert f.hint == "fix or regenerate this file"
    assert ctx.tasks is None


def test_v21_non_object_line(tmp_path: Path) -> None:
    root = v21_copy(tmp_path)
    (root / fmt.LEGACY_EPISODES_PATH).write_text("[1, 2]\n")
    ctx = run(root)
    hits = [f for f in ctx.report.findings if f.check_id == "schema.episodes_columns"]
    assert hits and hits[0].episode is None


def test_v21_duplicate_task_index(tmp_path: Path) -> None:
    root = v21_copy(tmp_path)
    (root / fmt.LEGACY_TASKS_PATH).write_text(
        '{"task_index": 0, "task": "a"}\n{"task_index": 0, "task": "b"}\n'
    )
    ctx = run(root)
    f = only(ctx, "schema.tasks_columns")
    assert f.message == "task_index 0 appears twice" and f.file == fmt.LEGACY_TASKS_PATH
    assert f.hint == "task_index must be unique"
    assert ctx.tasks == {0: "b"}


@pytest.mark.parametrize("rel", [fmt.LEGACY_TASKS_PATH, fmt.LEGACY_EPISODES_PATH])
def test_v21_missing_jsonl(tmp_path: Path, rel: str) -> None:
    root = v21_copy(tmp_path)
    (root / rel).unlink()
    ctx = run(root)
    f = only(ctx, "structure.missing_file")
    assert f.file == rel and f.message == f"{rel} is missing"
    assert f.hint.startswith("a v2.x dataset lists its") and f.hint.endswith(f"in {rel}")
    if rel == fmt.LEGACY_EPISODES_PATH:
        assert not ctx.episodes_loaded and ctx.episode_stats is None
    else:
        assert ctx.tasks is None and ctx.episodes_loaded


def test_v20_has_no_episode_stats(tmp_path: Path) -> None:
    """v2.0 (LeRobot before 0.3) kept aggregated meta/stats.json, no episodes_stats.jsonl."""
    root = v21_copy(tmp_path)
    (root / fmt.LEGACY_EPISODES_STATS_PATH).write_text("{oops\n")
    ctx = run(root, codebase_version="v2.0")
    assert ctx.report.findings == [] and ctx.episode_stats is None
    assert only(run(root), "schema.unreadable").file == fmt.LEGACY_EPISODES_STATS_PATH
    (root / fmt.LEGACY_EPISODES_STATS_PATH).unlink()
    ctx = run(root)
    assert ctx.report.findings == [] and ctx.episode_stats is None
