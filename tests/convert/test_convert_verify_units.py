"""The converter's post-write verification, function by function, on small real datasets.

Each check of ``scripts/convert/verify.py`` is made to refuse exactly the DST (or SRC, or
placement) it exists to refuse, and the refusal is pinned: its message and the file it
names (the file a user has to look at). Clean inputs pass with the counts they must report:
the episodes ticked off per batch, the frames compared per camera. Runs in-process on
datasets of a few dozen rows (issue 16: these are what ``make mutation`` runs on verify.py).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from scripts.convert import data as data_mod
from scripts.convert import verify
from scripts.convert.errors import ConversionError
from scripts.convert.plan import Plan, make_plan
from scripts.sample.make import make_dataset
from scripts.sample.spec import SampleSpec
from validators.dataset_format import DATA_PATH, VIDEO_PATH

SPEC = SampleSpec(episode_lengths=(5, 3, 8, 2, 6), cameras={}, tasks=("a", "b"))
# one episode per data file, two files per chunk: chunk and file indices differ from each other
SPLIT = SampleSpec(episode_lengths=(5, 3, 8, 2, 6), cameras={}, tasks=("a", "b"), chunks_size=2)
SPLIT_FILES = [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0)]


def _write(src: Path, dst: Path, data_mb: float = 100) -> tuple:
    plan = make_plan(src)
    digests = verify.SourceDigests(plan)
    result = data_mod.write_data(plan, dst, data_mb, dst / "spool.arrow", on_source=digests.record)
    return plan, digests, verify.spool_placements(result.spool)


def _written(tmp_path: Path, spec: SampleSpec = SPEC, data_mb: float = 100) -> tuple:
    src = make_dataset(tmp_path / "src", spec, progress=False)
    dst = tmp_path / "dst"
    plan, digests, place = _write(src, dst, data_mb)
    return plan, dst, digests, place


def _split(tmp_path: Path) -> tuple:
    plan, dst, digests, place = _written(tmp_path, SPLIT, data_mb=1e-6)
    chunks, files = place["data/chunk_index"].tolist(), place["data/file_index"].tolist()
    files = list(zip(chunks, files, strict=True))
    assert files == SPLIT_FILES  # the layout these tests are about
    return plan, dst, digests, place


def _data_path(dst: Path, chunk: int, file: int) -> Path:
    return dst / DATA_PATH.format(chunk_index=chunk, file_index=file)


def _set(table: pa.Table, name: str, values) -> pa.Table:
    i = table.column_names.index(name)
    field = table.schema.field(i)
    return table.set_column(i, field, pa.array(np.asarray(values), field.type))


def _edit(path: Path, change) -> None:
    pq.write_table(change(pq.read_table(path)), path)


def _bump_state(table: pa.Table, row: int) -> pa.Table:
    """``observation.state`` with one number changed (a fixed-size list column)."""
    col = table.column("observation.state").combine_chunks()
    flat = col.flatten().to_numpy(zero_copy_only=False).copy()
    flat[row * col.type.list_size] += 1.0
    fixed = pa.FixedSizeListArray.from_arrays(
        pa.array(flat, col.type.value_type), col.type.list_size
    )
    i = table.column_names.index("observation.state")
    return table.set_column(i, table.schema.field(i), fixed)


def _refusal(call) -> ConversionError:
    with pytest.raises(ConversionError) as exc:
        call()
    return exc.value


def _quiet(n: int) -> None:
    pass


# --- _read_rows / _read_sources ---------------------------------------------------------------


def test_read_rows_any_range_across_row_groups(tmp_path: Path) -> None:
    """Every range of a file of 5 row groups of 4 rows: exactly those rows, whichever groups
    hold them; a range running past the end gives the rows there are."""
    table = pa.table({"x": np.arange(20, dtype=np.int64) * 10})
    path = tmp_path / "t.parquet"
    pq.write_table(table, path, row_group_size=4)
    pf = pq.ParquetFile(path)
    assert pf.metadata.num_row_groups == 5
    for lo in range(20):
        for hi in range(lo + 1, 21):
            got = verify._read_rows(pf, lo, hi).column("x").to_pylist()
            assert got == list(range(lo * 10, hi * 10, 10)), (lo, hi)
    assert verify._read_rows(pf, 17, 25).column("x").to_pylist() == [170, 180, 190]
    assert verify._read_rows(pf, 16, 30).column("x").to_pylist() == [160, 170, 180, 190]


def test_read_sources_selects_orders_and_types_columns(tmp_path: Path) -> None:
    """Source files in another column order, with a column DST does not have and narrower
    types: the rows come back in DST's column order and types, files concatenated."""
    target = pa.schema([("a", pa.int64()), ("b", pa.float64())])
    odd = tmp_path / "odd.parquet"
    pq.write_table(
        pa.table(
            {
                "b": pa.array([0.5, 1.5], pa.float32()),
                "extra": ["x", "y"],
                "a": pa.array([1, 2], pa.int32()),
            }
        ),
        odd,
    )
    same = tmp_path / "same.parquet"
    pq.write_table(pa.table({"a": pa.array([3], pa.int64()), "b": [2.5]}, schema=target), same)
    narrow = tmp_path / "narrow.parquet"
    pq.write_table(
        pa.table({"a": pa.array([4], pa.int32()), "b": pa.array([3.5], pa.float32())}), narrow
    )
    got = verify._read_sources([odd, same, narrow], target)
    assert got.schema.equals(target)
    assert got.to_pydict() == {"a": [1, 2, 3, 4], "b": [0.5, 1.5, 2.5, 3.5]}


# --- digests ----------------------------------------------------------------------------------


def _mixed(**changes) -> pa.Table:
    cols = {
        "flag": pa.array([True, False, True]),
        "count": pa.array([1, None, 3], pa.int32()),
        "seq": pa.array([[1.0, 2.0], None, [3.0]], pa.list_(pa.float32())),
        "big": pa.array([[1], [2, 3], []], pa.large_list(pa.int64())),
        "vec": pa.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], pa.list_(pa.float64(), 2)),
        "episode_index": pa.array([0, 0, 1], pa.int64()),
        "after": pa.array([7.0, 8.0, 9.0]),
    }
    for name, values in changes.items():
        cols[name] = pa.array(values, cols[name].type)
    return pa.table(cols)


TASKS = np.array([0, 1, 1], dtype=np.int64)


def test_values_digest_sees_every_value_null_and_list_length() -> None:
    """Booleans, nullable integers, variable lists (nulls among them), large lists,
    fixed-size lists: each has a digest, and changing any value, where a null is, or how a
    list's values are split into cells changes it. So does a column after
    ``episode_index`` (the rewritten columns are skipped, not the end of the table)."""
    base = verify.values_digest(_mixed(), TASKS)
    assert base is not None
    assert verify.values_digest(_mixed(), TASKS) == base
    variants = [
        _mixed(flag=[True, True, True]),
        _mixed(count=[1, 2, 3]),
        _mixed(count=[None, 1, 3]),
        _mixed(seq=[[1.0], [2.0], [3.0]]),
        _mixed(seq=[[1.0, 2.0], [], [3.0]]),
        _mixed(seq=[[1.0], [2.0, 3.0], None]),
        _mixed(big=[[1, 2], [3], []]),
        _mixed(vec=[[1.0, 2.0], [3.0, 4.0], [5.0, 7.0]]),
        _mixed(after=[7.0, 8.0, 9.5]),
    ]
    digests = [verify.values_digest(t, TASKS) for t in variants]
    assert None not in digests
    assert len({base, *digests}) == len(variants) + 1
    assert verify.values_digest(_mixed(), np.array([0, 1, 0])) != base


def test_values_digest_skips_rewritten_columns_and_normalises_task_width() -> None:
    """``episode_index``/``index``/``task_index`` are renumbered by the writer: their values
    are not in the digest (``task_index`` enters as given, whatever its integer width)."""
    base = verify.values_digest(_mixed(), TASKS)
    assert verify.values_digest(_mixed(episode_index=[5, 5, 6]), TASKS) == base
    assert verify.values_digest(_mixed(), TASKS.astype(np.int32)) == base
    with_tasks = _mixed().append_column("task_index", pa.array([9, 9, 9], pa.int64()))
    with_index = with_tasks.append_column("index", pa.array([4, 5, 6], pa.int64()))
    assert verify.values_digest(with_index, TASKS) == base  # not even their names


def test_values_digest_gives_up_on_strings() -> None:
    table = _mixed().append_column("note", pa.array(["a", "b", "c"]))
    assert verify.values_digest(table, TASKS) is None


# --- renumbered_tasks / SourceDigests.record --------------------------------------------------


def test_renumbered_tasks_through_the_plan_map(tmp_path: Path) -> None:
    """Old task indices 0 and 2 (1 was deleted from tasks.jsonl) become 1 and 0; any other
    value, a gap included, is refused naming the given file."""
    where = tmp_path / "episode_000000.parquet"
    remap = {0: 1, 2: 0}
    got = verify.renumbered_tasks(np.array([0, 2, 2, 0], dtype=np.int32), remap, where)
    assert got.dtype == np.int64 and got.tolist() == [1, 0, 0, 1]
    assert verify.renumbered_tasks(np.array([], dtype=np.int64), remap, where).tolist() == []
    for bad, table in ([1], remap), ([3], remap), ([-1], remap), ([0, 2, -2], remap), ([0], {}):
        err = _refusal(lambda b=bad, t=table: verify.renumbered_tasks(np.array(b), t, where))
        assert (err.file, err.message) == (str(where), "task_index not in meta/tasks.jsonl"), bad


def test_source_digest_of_an_unknown_task_names_the_batch_first_file(tmp_path: Path) -> None:
    src = make_dataset(tmp_path / "src", SPEC, progress=False)
    plan = make_plan(src)
    episodes = plan.episodes[1:3]
    rows = pa.concat_tables([pq.read_table(e.data_file) for e in episodes])
    digests = verify.SourceDigests(plan)
    digests.record(episodes, rows)
    assert [b[:2] for b in digests.batches] == [(1, 2)]
    bad = _set(rows, "task_index", np.full(rows.num_rows, 7))
    err = _refusal(lambda: digests.record(episodes, bad))
    assert (err.file, err.message) == (
        str(episodes[0].data_file),
        "task_index not in meta/tasks.jsonl",
    )


# --- check_data_digests -----------------------------------------------------------------------


def test_digest_path_over_many_files(tmp_path: Path) -> None:
    """One data file per episode over three chunks: every episode is read back from its own
    file (one tick each), and a changed value is refused naming that file."""
    plan, dst, digests, place = _split(tmp_path)
    assert [b[:2] for b in digests.batches] == [(i, i) for i in range(5)]
    ticks: list[int] = []
    verify.check_data_digests(plan, dst, place, digests, tick=ticks.append)
    assert ticks == [1, 1, 1, 1, 1]
    path = _data_path(dst, 1, 1)
    _edit(path, lambda t: _bump_state(t, 1))
    err = _refusal(lambda: verify.check_data_digests(plan, dst, place, digests, _quiet))
    assert (err.file, err.message) == (
        str(path),
        "episodes 3..3: values differ from SRC after conversion (bug)",
    )


def test_digest_path_refuses_unchecked_episodes(tmp_path: Path) -> None:
    plan, dst, digests, place = _split(tmp_path)
    batches = list(digests.batches)
    digests.batches = [batches[0], *batches[2:]]
    err = _refusal(lambda: verify.check_data_digests(plan, dst, place, digests, _quiet))
    assert (err.file, err.message) == (str(dst / "data"), "episodes 1..1 never checked")
    digests.batches = batches[:4]
    err = _refusal(lambda: verify.check_data_digests(plan, dst, place, digests, _quiet))
    assert (err.file, err.message) == (str(dst / "data"), "episodes 4..4 never checked")
    digests.batches = []
    err = _refusal(lambda: verify.check_data_digests(plan, dst, place, digests, _quiet))
    assert (err.file, err.message) == (str(dst / "data"), "episodes 0..4 never checked")


def test_digest_path_refuses_a_batch_over_two_files(tmp_path: Path) -> None:
    plan, dst, _, place = _split(tmp_path)
    target = pq.read_schema(_data_path(dst, 0, 0)).remove_metadata()
    whole = verify.SourceDigests(plan)
    whole.record(plan.episodes, verify._read_sources([e.data_file for e in plan.episodes], target))
    err = _refusal(lambda: verify.check_data_digests(plan, dst, place, whole, _quiet))
    assert (err.file, err.message) == (
        str(_data_path(dst, 0, 0)),
        "episodes 0..4 span two data files (bug)",
    )


def test_digest_path_refuses_a_short_episode(tmp_path: Path) -> None:
    """meta/episodes says episode 3 ends a row early: its DST file is named, with both counts."""
    plan, dst, digests, place = _split(tmp_path)
    to = place["dataset_to_index"].copy()
    to[3] -= 1
    short = {**place, "dataset_to_index": to}
    err = _refusal(lambda: verify.check_data_digests(plan, dst, short, digests, _quiet))
    assert (err.file, err.message) == (
        str(_data_path(dst, 1, 1)),
        "episodes 3..3: 2 rows in SRC, 1 in DST",
    )


def test_both_paths_refuse_episodes_out_of_order(tmp_path: Path) -> None:
    plan, dst, digests, place = _written(tmp_path)
    order = {**place, "episode_index": place["episode_index"][::-1].copy()}
    fewer = {name: values[:4] for name, values in place.items()}
    want = (str(dst / "meta/episodes"), "episode_index is not 0..N-1 in order")
    for p in (order, fewer):
        err = _refusal(lambda p=p: verify.check_data_digests(plan, dst, p, digests, _quiet))
        assert (err.file, err.message) == want
        err = _refusal(lambda p=p: verify.check_data(plan, dst, p, _quiet))
        assert (err.file, err.message) == want


# --- check_data (re-reading SRC) --------------------------------------------------------------


def test_rereading_path_over_many_files(tmp_path: Path) -> None:
    """Files that start after row 0 and chunk indices unlike file indices: each file is read
    at its own offset; a file that lost a row is refused before its rows are compared."""
    plan, dst, _, place = _split(tmp_path)
    ticks: list[int] = []
    verify.check_data(plan, dst, place, tick=ticks.append)
    assert ticks == [1, 1, 1, 1, 1]
    path = _data_path(dst, 1, 0)
    _edit(path, lambda t: t.slice(0, 7))
    err = _refusal(lambda: verify.check_data(plan, dst, place, _quiet))
    assert (err.file, err.message) == (str(path), "7 rows, its 1 episodes have 8")


@pytest.mark.parametrize(
    ("rows", "episodes", "ticks"),
    [(8, 2, [2, 1, 2]), (1000, 2, [2, 2, 1]), (1000, 3, [3, 2]), (7, 1000, [1, 1, 1, 1, 1])],
)
def test_rereading_batches(tmp_path: Path, monkeypatch, rows: int, episodes: int, ticks) -> None:
    """A batch takes episodes while their rows fit in VERIFY_BATCH_ROWS (a batch that is
    exactly full included) and they are fewer than VERIFY_BATCH_EPISODES; one episode always.
    Lengths 5, 3, 8, 2, 6."""
    monkeypatch.setattr(verify, "VERIFY_BATCH_ROWS", rows)
    monkeypatch.setattr(verify, "VERIFY_BATCH_EPISODES", episodes)
    plan, dst, _, place = _written(tmp_path)
    got: list[int] = []
    verify.check_data(plan, dst, place, tick=got.append)
    assert got == ticks


def test_rereading_path_names_what_disagrees(tmp_path: Path, monkeypatch) -> None:
    """Placements that do not add up name the episode's source file; rows DST lacks name the
    DST file, with the batch's episodes and both counts."""
    plan, dst, _, place = _written(tmp_path)
    first_src = str(plan.episodes[0].data_file)
    path = str(_data_path(dst, 0, 0))
    bad = place["dataset_from_index"].copy()
    bad[2] += 1
    err = _refusal(
        lambda: verify.check_data(plan, dst, {**place, "dataset_from_index": bad}, _quiet)
    )
    assert (err.file, err.message) == (
        first_src,
        "dataset_from_index/dataset_to_index do not match lengths",
    )
    monkeypatch.setattr(verify, "VERIFY_BATCH_EPISODES", 3)
    bad = place["dataset_from_index"].copy()
    bad[3] += 1  # the second batch (episodes 3, 4) starts a row late and runs off the end
    err = _refusal(
        lambda: verify.check_data(plan, dst, {**place, "dataset_from_index": bad}, _quiet)
    )
    assert (err.file, err.message) == (path, "episodes 3..4: 8 rows in SRC, 7 in DST")


def test_rereading_path_names_rewritten_columns(tmp_path: Path) -> None:
    plan, dst, _, place = _written(tmp_path)
    first_src = str(plan.episodes[0].data_file)
    path = _data_path(dst, 0, 0)
    clean = pq.read_table(path)
    n = clean.num_rows
    cases = [
        ("index", np.arange(1, n + 1), "episodes 0..4: index not contiguous"),
        ("episode_index", np.zeros(n), "episode_index differs in DST"),
        (
            "task_index",
            1 - clean.column("task_index").to_numpy(),
            "episodes 0..4: task_index differs",
        ),
    ]
    for name, values, message in cases:
        pq.write_table(_set(clean, name, values), path)
        err = _refusal(lambda: verify.check_data(plan, dst, place, _quiet))
        assert (err.file, err.message) == (first_src, message), name


def test_rereading_path_checks_sources_against_the_plan(tmp_path: Path) -> None:
    """SRC changed after the plan was made: rows of another episode, or a task index that is
    not in tasks.jsonl, are refused naming the batch's first source file."""
    plan, dst, _, place = _written(tmp_path)
    first = plan.episodes[0].data_file
    clean = pq.read_table(first)
    pq.write_table(_set(clean, "episode_index", np.full(clean.num_rows, 9)), first)
    err = _refusal(lambda: verify.check_data(plan, dst, place, _quiet))
    assert (err.file, err.message) == (str(first), "episode_index of SRC rows not as planned")
    pq.write_table(_set(clean, "task_index", np.full(clean.num_rows, 7)), first)
    err = _refusal(lambda: verify.check_data(plan, dst, place, _quiet))
    assert (err.file, err.message) == (str(first), "task_index not in meta/tasks.jsonl")


def _renumbered_source(tmp_path: Path) -> Path:
    """A source whose tasks.jsonl has a gap (task 1 is numbered 5), whose ``index`` does not
    start at 0, and whose ``observation.state`` is listed after ``task_index``."""
    src = make_dataset(tmp_path / "src", SPEC, progress=False)
    tasks = src / "meta/tasks.jsonl"
    rows = [json.loads(line) for line in tasks.read_text().splitlines()]
    for row in rows:
        row["task_index"] = 5 if row["task_index"] == 1 else row["task_index"]
    tasks.write_text("".join(json.dumps(r) + "\n" for r in rows))
    info_path = src / "meta/info.json"
    info = json.loads(info_path.read_text())
    info["features"]["observation.state"] = info["features"].pop("observation.state")
    info_path.write_text(json.dumps(info, indent=4))
    for f in sorted((src / "data").rglob("*.parquet")):
        t = pq.read_table(f)
        t = _set(t, "task_index", np.where(t.column("task_index").to_numpy() == 1, 5, 0))
        t = _set(t, "index", t.column("index").to_numpy() + 1000)
        pq.write_table(t, f)
    return src


def test_rewritten_columns_are_checked_against_the_plan_only(tmp_path: Path) -> None:
    """Renumbered tasks and a shifted source ``index`` pass both paths (DST's values are
    held to the plan, not to SRC's); a changed value in a column that comes after the
    rewritten ones in the schema is still found by both."""
    src = _renumbered_source(tmp_path)
    dst = tmp_path / "dst"
    plan, digests, place = _write(src, dst)
    assert plan.task_remap == {0: 0, 5: 1}
    path = _data_path(dst, 0, 0)
    names = pq.read_schema(path).names
    assert names.index("observation.state") > names.index("task_index")
    assert set(pq.read_table(path).column("task_index").to_pylist()) == {0, 1}
    verify.check_data(plan, dst, place, _quiet)
    verify.check_data_digests(plan, dst, place, digests, _quiet)
    _edit(path, lambda t: _bump_state(t, 20))
    err = _refusal(lambda: verify.check_data(plan, dst, place, _quiet))
    assert (err.file, err.message) == (
        str(path),
        "episodes 0..4: column 'observation.state' differs after conversion (bug)",
    )
    err = _refusal(lambda: verify.check_data_digests(plan, dst, place, digests, _quiet))
    assert (err.file, err.message) == (
        str(path),
        "episodes 0..4: values differ from SRC after conversion (bug)",
    )


# --- same_placements --------------------------------------------------------------------------


def test_same_placements(tmp_path: Path) -> None:
    where = tmp_path / "meta/episodes"
    checked = {"a": np.array([0, 5]), "b": np.array([5, 9])}
    verify.same_placements({**checked, "c": np.array([1])}, checked, where)
    for meta, name in (({"a": checked["a"]}, "b"), ({**checked, "a": np.array([0, 4])}, "a")):
        err = _refusal(lambda m=meta: verify.same_placements(m, checked, where))
        assert (err.file, err.message) == (
            str(where),
            f"column {name!r} disagrees with the written data (bug)",
        )


# --- a whole conversion: placements, validator, videos ----------------------------------------

CAMERAS = SampleSpec(
    episode_lengths=(6, 7, 6, 6, 6), cameras={"a": (48, 64), "b": (32, 48)}, seed=3
)
KEY_A, KEY_B = "observation.images.a", "observation.images.b"


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> tuple[Path, Path]:
    from scripts.convert.pipeline import Options, convert

    root = tmp_path_factory.mktemp("converted")
    src = make_dataset(root / "src", CAMERAS, progress=False)
    dst = root / "dst"
    convert(Options(src=src, dst=dst, jobs=1, progress=False))
    return src, dst


@pytest.fixture
def copy(converted, tmp_path: Path) -> tuple[Plan, Path]:
    """A private copy of the converted pair (tests edit SRC and DST) and SRC's plan."""
    src, dst = (tmp_path / "src", tmp_path / "dst")
    shutil.copytree(converted[0], src)
    shutil.copytree(converted[1], dst)
    return make_plan(src), dst


def test_placements_read_back_from_meta_episodes(converted) -> None:
    place = verify.placements(converted[1])
    per_camera = ("chunk_index", "file_index", "from_timestamp", "to_timestamp")
    assert set(place) == {
        "episode_index",
        "dataset_from_index",
        "dataset_to_index",
        "data/chunk_index",
        "data/file_index",
        *(f"videos/{k}/{c}" for k in (KEY_A, KEY_B) for c in per_camera),
    }
    assert place["episode_index"].tolist() == [0, 1, 2, 3, 4]
    assert place["dataset_from_index"].tolist() == [0, 6, 13, 19, 25]
    assert place["dataset_to_index"].tolist() == [6, 13, 19, 25, 31]


def test_validator_note_on_a_clean_dataset(converted, tmp_path: Path) -> None:
    assert verify.run_validator(converted[1], tmp_path / "pub") == (
        "validator: 0 finding(s), no errors"
    )


def test_validator_missing_is_a_note(converted, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "validators.runner", None)  # as if not installed
    assert verify.run_validator(converted[1], tmp_path / "pub") == (
        "validator: validators.runner not installed yet, structural checks skipped"
    )


def test_validator_runs_quick_structural_checks_only(copy, tmp_path: Path) -> None:
    """Rows out of order (found only by standard mode's row reads) and a wrong stats count
    (found only by the stats group): the converter's quick structural run passes both."""
    from validators.runner import validate_dataset

    _, dst = copy
    _edit(_data_path(dst, 0, 0), lambda t: _set(t, "index", t.column("index").to_numpy()[::-1]))
    stats = json.loads((dst / "meta/stats.json").read_text())
    stats["action"]["count"] = [999]
    (dst / "meta/stats.json").write_text(json.dumps(stats))
    standard = validate_dataset(dst, groups=verify.STRUCTURAL_GROUPS)
    assert [f.check_id for f in standard.errors] == ["data.index"]
    every = validate_dataset(dst, quick=True)
    assert [f.check_id for f in every.errors] == ["stats.aggregate_mismatch"]
    assert verify.run_validator(dst, tmp_path / "pub") == "validator: 0 finding(s), no errors"


def test_validator_error_names_the_file_under_dst(copy, tmp_path: Path) -> None:
    """The first error, its check id and message, and how many more; the file is named where
    it will be published (the validated tree is a staging copy)."""
    _, tmp = copy
    pub = tmp_path / "pub"
    info = json.loads((tmp / "meta/info.json").read_text())
    info["total_episodes"] = 7
    (tmp / "meta/info.json").write_text(json.dumps(info, indent=4))
    err = _refusal(lambda: verify.run_validator(tmp, pub))
    assert err.file == str(pub / "meta/info.json")
    assert err.message == (
        "validator [structure.total_episodes] total_episodes is 7 but the episode metadata "
        "lists 5; nothing was published"
    )
    for mp4 in sorted((tmp / "videos").rglob("*.mp4")):
        mp4.unlink()
    err = _refusal(lambda: verify.run_validator(tmp, pub))
    first = f"videos/{KEY_A}/chunk-000/file-000.mp4"
    assert err.file == str(pub / first)
    assert err.message.endswith(" (+2 more); nothing was published"), err.message
    info["total_episodes"] = 5
    (tmp / "meta/info.json").write_text(json.dumps(info, indent=4))
    err = _refusal(lambda: verify.run_validator(tmp, pub))
    assert (err.file, err.message) == (
        str(pub / first),
        f"validator [structure.dangling_file_index] episode 0 points at {first} ({KEY_A}), "
        "which does not exist (+1 more); nothing was published",
    )


def test_video_frame_counts_and_sampled_frames(copy) -> None:
    """Both cameras: 3 episodes x 3 frames each; a re-encoded camera's pictures are not
    compared (the other camera's still are); an mp4 holding fewer frames than its episodes
    is refused naming it."""
    plan, dst = copy
    place = verify.placements(dst)
    assert plan.layout.video_keys == [KEY_A, KEY_B]
    assert verify.check_videos(plan, dst, place, set()) == 18
    assert verify.check_videos(plan, dst, place, {KEY_A}) == 9
    assert verify.check_videos(plan, dst, place, {KEY_A, KEY_B}) == 0
    plan.episodes[1].length += 4
    err = _refusal(lambda: verify.check_videos(plan, dst, place, {KEY_A, KEY_B}))
    path = dst / VIDEO_PATH.format(video_key=KEY_A, chunk_index=0, file_index=0)
    assert (err.file, err.message) == (str(path), "holds 31 frames, its episodes have 35")


def _frame_error(key: str, episode: int, frame: int) -> str:
    return (
        f"camera {key} episode {episode} frame {frame} "
        "does not decode identical to the source (bug)"
    )


def test_video_check_samples_first_middle_last(copy) -> None:
    """Episodes 0, 2, 4 of 5 and frames 0, 3, 5 of 6 are the ones compared: a sampled frame
    SRC cannot show at its timestamp is refused by name, the frames between are not looked at."""
    plan, dst = copy
    place = verify.placements(dst)
    path = str(dst / VIDEO_PATH.format(video_key=KEY_A, chunk_index=0, file_index=0))
    ep2 = plan.episodes[2].data_file
    clean = pq.read_table(ep2)

    def far(rows: list[int], table: pa.Table = clean) -> pa.Table:
        ts = table.column("timestamp").to_numpy().copy()
        ts[rows] += 100.0
        return _set(table, "timestamp", ts)

    for j in (0, 3, 5):
        pq.write_table(far([j]), ep2)
        err = _refusal(lambda: verify.check_videos(plan, dst, place, {KEY_B}))
        assert (err.file, err.message) == (path, _frame_error(KEY_A, 2, j))
    pq.write_table(far([1, 2, 4]), ep2)
    for other in (1, 3):
        f = plan.episodes[other].data_file
        t = pq.read_table(f)
        pq.write_table(far(list(range(t.num_rows)), t), f)
    assert verify.check_videos(plan, dst, place, {KEY_B}) == 9


def test_video_check_refuses_a_frame_missing_from_dst(copy) -> None:
    plan, dst = copy
    place = verify.placements(dst)
    key = f"videos/{KEY_A}/from_timestamp"
    late = {**place, key: place[key] + 100.0}
    err = _refusal(lambda: verify.check_videos(plan, dst, late, {KEY_B}))
    path = dst / VIDEO_PATH.format(video_key=KEY_A, chunk_index=0, file_index=0)
    assert (err.file, err.message) == (str(path), _frame_error(KEY_A, 0, 0))


def _lossless(path: Path, luma: np.ndarray, chroma: int) -> None:
    """An mp4 of these luma planes (frames, h, w) and one flat chroma value, losslessly."""
    import av

    n, h, w = luma.shape
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=30, options={"qp": "0", "preset": "ultrafast"})
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.thread_count = 1
        for i in range(n):
            planes = np.full((h * 3 // 2, w), chroma, dtype=np.uint8)
            planes[:h] = luma[i]
            frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
            frame.pts = i
            c.mux(s.encode(frame))
        c.mux(s.encode(None))


@pytest.mark.parametrize(
    ("info", "compared"),
    [
        (None, None),
        ({"video.codec": "h264"}, None),
        ({"is_depth_map": True}, 3),
        ({"video.is_depth_map": True}, 3),
    ],
    ids=["no-info", "colour", "depth", "video.depth"],
)
def test_video_check_compares_depth_as_gray_and_colour_as_rgb(
    tmp_path: Path, info: dict | None, compared: int | None
) -> None:
    """DST frames with SRC's luma but other chroma: a colour camera's frames differ (compared
    as rgb24), a depth camera's do not (compared as gray12le, what its pixels mean)."""
    spec = SampleSpec(episode_lengths=(4,), cameras={"cam": (32, 48)})
    src = make_dataset(tmp_path / "src", spec, progress=False)
    plan = make_plan(src)
    (key,) = plan.layout.video_keys
    plan.layout.features[key].pop("info", None)
    if info is not None:
        plan.layout.features[key]["info"] = info
    luma = np.random.default_rng(0).integers(16, 236, (4, 32, 48), dtype=np.uint8)
    _lossless(plan.episodes[0].video_files[key], luma, 128)
    dst = tmp_path / "dst"
    out = dst / VIDEO_PATH.format(video_key=key, chunk_index=0, file_index=0)
    out.parent.mkdir(parents=True)
    _lossless(out, luma, 90)
    place = {
        f"videos/{key}/chunk_index": np.array([0]),
        f"videos/{key}/file_index": np.array([0]),
        f"videos/{key}/from_timestamp": np.array([0.0]),
    }
    if compared is not None:
        assert verify.check_videos(plan, dst, place, set()) == compared
    else:
        err = _refusal(lambda: verify.check_videos(plan, dst, place, set()))
        assert (err.file, err.message) == (str(out), _frame_error(key, 0, 0))


def test_validator_error_without_a_file_names_dst(copy, tmp_path: Path) -> None:
    """An error about no file in particular (an episode listed twice) names DST itself."""
    _, tmp = copy
    pub = tmp_path / "pub"
    episodes = next((tmp / "meta/episodes").rglob("*.parquet"))
    _edit(episodes, lambda t: _set(t, "episode_index", [0, 0, 2, 3, 4]))
    err = _refusal(lambda: verify.run_validator(tmp, pub))
    assert (err.file, err.message) == (
        str(pub),
        "validator [structure.episode_indices] episode_index 0 is listed twice in the episode "
        "metadata (+1 more); nothing was published",
    )
