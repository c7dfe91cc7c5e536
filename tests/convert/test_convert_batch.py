"""The converter's batched data pass equals its one-episode-at-a-time definition, bit for bit.

``write_data`` reads, rewrites, writes and computes stats for many episodes at once
(``numeric_stats_segments``, ``read_source_batch``); here each part is compared with the
per-episode computation it replaces: every stat of every episode equal to
``numeric_stats_many`` on that episode alone (values, dtypes, shapes, signs), and the written
rows and spooled episode rows equal to a reference built episode by episode from the
source files (renumbered episodes and tasks, file roll-over, batches cut inside a file).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from scripts.convert import data as data_mod
from scripts.convert import stats as stats_mod
from scripts.convert.errors import ConversionError
from scripts.convert.metadata import Spool
from scripts.convert.plan import make_plan
from scripts.convert.stats import numeric_stats_many, numeric_stats_segments
from scripts.sample.make import SampleSpec, make_dataset

LENGTHS = (1, 2, 3, 7, 100, 2, 5, 8, 9, 17, 128, 129, 300, 4, 1, 6, 3)


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal values, dtype and shape; NaNs equal; signs of zeros equal."""
    return (
        a.dtype == b.dtype
        and a.shape == b.shape
        and np.array_equal(a, b, equal_nan=True)
        and np.array_equal(np.signbit(a), np.signbit(b))
    )


def _columns(rng: np.random.Generator, lengths: tuple[int, ...]) -> dict[str, np.ndarray]:
    n = sum(lengths)
    return {
        "action": (rng.normal(size=(n, 6)) * 50).astype(np.float32),
        "observation.state": (rng.normal(size=(n, 45)) * 3 + 100).astype(np.float32),
        "one_dim32": rng.normal(size=n).astype(np.float32),
        "wide64": rng.normal(size=(n, 3)) * 1e3,
        "timestamp": np.concatenate([np.arange(k) / 30 for k in lengths]),
        "episode_index": np.repeat(np.arange(len(lengths), dtype=np.int64), lengths),
        "index": np.arange(n, dtype=np.int64),
        "big_int": rng.integers(-5, 5, size=n).astype(np.int64) + 10**12,
        "constant": np.full((n, 2), 35.0, dtype=np.float32),
        "negative": -np.abs(rng.normal(size=(n, 2))).astype(np.float32),
        "tiny_range": (1e4 + rng.normal(size=(n, 3)) * 1e-2).astype(np.float32),
        "rounded": np.round(rng.normal(size=(n, 4)) * 2).astype(np.float32),
        "one_dim_int": rng.integers(0, 3, size=n).astype(np.int64),
    }


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_segments_equal_one_episode_stats(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(seed)
    lengths = tuple(int(x) for x in rng.permutation(LENGTHS))
    arrays = _columns(rng, lengths)
    starts = np.cumsum((0, *lengths))
    rounded = arrays["rounded"]
    rounded[rounded == 0] = -0.0  # negative zeros alone: the batched path keeps their sign
    nan_ep, mixed_ep = [e for e, n in enumerate(lengths) if n >= 2][3:5]
    arrays["action"][starts[nan_ep] + 1, 2] = np.nan
    rounded[starts[mixed_ep] : starts[mixed_ep] + 2, 1] = (0.0, -0.0)  # both zeros: fallback
    calls: list[int] = []
    one_episode = stats_mod.numeric_stats_many

    def counted(arrays: dict[str, np.ndarray]) -> dict:
        calls.append(len(next(iter(arrays.values()))))
        return one_episode(arrays)

    monkeypatch.setattr(stats_mod, "numeric_stats_many", counted)
    got = numeric_stats_segments(arrays, np.array(lengths))
    monkeypatch.undo()
    fallback = {e for e, n in enumerate(lengths) if n < 2} | {nan_ep, mixed_ep}
    assert sorted(calls) == sorted(lengths[e] for e in fallback)  # everything else batched
    assert len(got) == len(lengths)
    checked = 0
    for e, n in enumerate(lengths):
        ref = numeric_stats_many({k: v[starts[e] : starts[e] + n] for k, v in arrays.items()})
        assert list(got[e]) == list(ref)
        for key, stats in ref.items():
            assert list(got[e][key]) == list(stats), (e, key)
            for stat, value in stats.items():
                assert _same_bits(got[e][key][stat], value), (e, n, key, stat)
                checked += 1
    assert checked == len(lengths) * len(arrays) * 10
    assert any(np.signbit(got[e]["rounded"]["min"]).any() for e in range(len(lengths)))


def test_segments_quantile_dtype_follows_edges() -> None:
    """A quantile at a histogram edge in every dimension keeps the edge's float32 dtype."""
    lengths = (2, 3, 50)
    values = np.concatenate(
        [np.array([[1.0], [2.0]]), np.array([[5.0], [5.0], [5.0]]), np.linspace(0, 1, 50)[:, None]]
    ).astype(np.float32)
    got = numeric_stats_segments({"x": values}, np.array(lengths))
    for e, (lo, n) in enumerate(zip(np.cumsum((0, *lengths)), lengths, strict=False)):
        ref = numeric_stats_many({"x": values[lo : lo + n]})["x"]
        for stat in ref:
            assert _same_bits(got[e]["x"][stat], ref[stat]), (e, stat)
    dtypes = {got[e]["x"][q].dtype for e in range(3) for q in ("q01", "q99")}
    assert dtypes == {np.dtype(np.float32), np.dtype(np.float64)}  # both paths exercised


def _dataset(root: Path, **kw) -> Path:
    spec = SampleSpec(
        episode_lengths=(1, 2, 3, 7, 40, 5, 5, 8, 2, 3, 6, 4, 1, 9, 3),
        episode_indices=tuple(range(0, 45, 3)),  # gaps: episodes are renumbered
        cameras={},
        tasks=("pick", "place", "push"),
        tasks_per_episode=2,
        **kw,
    )
    return make_dataset(root, spec)


def _gap_tasks(src: Path) -> None:
    """Renumber task_index 0,1,2 -> 0,2,5 in tasks.jsonl and every data file (a gapped list)."""
    remap = {0: 0, 1: 2, 2: 5}
    path = src / "meta" / "tasks.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    path.write_text(
        "".join(json.dumps({**r, "task_index": remap[r["task_index"]]}) + "\n" for r in rows)
    )
    for f in sorted(src.glob("data/*/*.parquet")):
        table = pq.read_table(f)
        i = table.column_names.index("task_index")
        old = table.column(i).to_numpy()
        new = pa.array(np.array([remap[int(t)] for t in old], dtype=np.int64))
        pq.write_table(table.set_column(i, "task_index", new), f)


def _reference(plan, schema: pa.Schema, limit: float) -> tuple[pa.Table, list[dict]]:
    """Rows and spool rows built one episode at a time, as the old per-episode writer did."""
    tables, rows = [], []
    chunk = file = size = start = 0
    opened = False
    for ep in plan.episodes:
        if opened and size + ep.data_bytes >= limit:
            chunk, file = data_mod.next_chunk_file(chunk, file, plan.layout.chunks_size)
            size = 0
        opened = True
        t = pq.read_table(ep.data_file).select(schema.names)
        n = t.num_rows
        names = t.column_names
        t = t.set_column(
            names.index("episode_index"), "episode_index", pa.array(np.full(n, ep.new_index))
        )
        t = t.set_column(names.index("index"), "index", pa.array(np.arange(start, start + n)))
        tasks = [plan.task_remap[int(x)] for x in t.column("task_index").to_numpy()]
        t = t.set_column(names.index("task_index"), "task_index", pa.array(tasks, pa.int64()))
        t = t.cast(schema)
        stats = data_mod.episode_stats(t, plan.layout.features, ep.data_file, plan.layout.fps)
        tables.append(t)
        rows.append(
            {
                "episode_index": ep.new_index,
                "tasks": ep.tasks,
                "length": ep.length,
                "data/chunk_index": chunk,
                "data/file_index": file,
                "dataset_from_index": start,
                "dataset_to_index": start + n,
                "stats": stats,
            }
        )
        size += ep.data_bytes
        start += n
    return pa.concat_tables(tables), rows


def _bitwise_equal(a: pa.Table, b: pa.Table) -> None:
    assert a.schema.equals(b.schema), (a.schema, b.schema)
    for name in a.column_names:
        x, y = a.column(name).combine_chunks(), b.column(name).combine_chunks()
        while pa.types.is_list(x.type) or pa.types.is_fixed_size_list(x.type):
            assert x.type == y.type, name
            x, y = x.flatten(), y.flatten()
        if pa.types.is_floating(x.type):
            assert x.type == y.type, name
            xs, ys = x.to_numpy(zero_copy_only=False), y.to_numpy(zero_copy_only=False)
            assert np.array_equal(xs.view(f"u{xs.itemsize}"), ys.view(f"u{ys.itemsize}")), name
        else:
            assert x.equals(y), name


@pytest.mark.parametrize("batch_episodes", [4, 256])
def test_write_data_equals_per_episode_reference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batch_episodes: int
) -> None:
    src = _dataset(tmp_path / "src")
    _gap_tasks(src)
    plan = make_plan(src)
    assert plan.renumbered and any(o != n for o, n in plan.task_remap.items())
    monkeypatch.setattr(data_mod, "BATCH_EPISODES", batch_episodes)
    sizes = [ep.data_bytes for ep in plan.episodes]
    data_mb = sum(sizes[:4]) / data_mod.MB  # roll over every few episodes; first at size == limit
    out = tmp_path / "out"
    closed: list[Path] = []
    ticks: list[int] = []
    result = data_mod.write_data(
        plan,
        out,
        data_mb,
        tmp_path / "spool.arrow",
        on_episode=lambda ep: ticks.append(ep.new_index),
        on_file_closed=closed.append,
    )
    schema = data_mod.target_schema(plan)
    expected, rows = _reference(plan, schema, data_mb * data_mod.MB)
    files = sorted(out.glob("data/*/*.parquet"))
    assert result.episodes == len(plan.episodes)
    assert result.files == len(files) == rows[-1]["data/file_index"] + 1 >= 3
    assert closed == files and ticks == list(range(len(plan.episodes)))
    written = pa.concat_tables([pq.read_table(f) for f in files])
    assert written.schema.metadata == schema.metadata
    _bitwise_equal(written, expected)
    for f in files:  # each file holds exactly the episodes the roll-over rule put there
        idx = int(f.stem.split("-")[1])
        want = sum(r["length"] for r in rows if r["data/file_index"] == idx)
        assert pq.read_metadata(f).num_rows == want
    ref_spool = Spool(tmp_path / "ref.arrow", plan.layout.features)
    for row in rows:
        ref_spool.add(row)
    ref_spool.close()
    got = pa.ipc.open_file(str(result.spool)).read_all()
    _bitwise_equal(got, pa.ipc.open_file(str(tmp_path / "ref.arrow")).read_all())


def test_write_data_image_dtype_equals_reference(tmp_path: Path) -> None:
    src = make_dataset(
        tmp_path / "src",
        SampleSpec(episode_lengths=(1, 3, 2, 5), image_dtype=True, cameras={"phone": (64, 80)}),
    )
    plan = make_plan(src)
    result = data_mod.write_data(plan, tmp_path / "out", 100, tmp_path / "spool.arrow")
    schema = data_mod.target_schema(plan)
    expected, rows = _reference(plan, schema, 100 * data_mod.MB)
    written = pq.read_table(tmp_path / "out" / "data" / "chunk-000" / "file-000.parquet")
    _bitwise_equal(written, expected)
    ref_spool = Spool(tmp_path / "ref.arrow", plan.layout.features)
    for row in rows:
        ref_spool.add(row)
    ref_spool.close()
    got = pa.ipc.open_file(str(result.spool)).read_all()
    assert "stats/observation.images.phone/mean" in got.column_names
    _bitwise_equal(got, pa.ipc.open_file(str(tmp_path / "ref.arrow")).read_all())


def _break(src: Path, how: str) -> Path:
    """Damage the 6th episode's file (inside a batch) after planning; return the file."""
    victim = sorted(src.glob("data/*/*.parquet"))[5]
    if how == "corrupt":  # pages overwritten after planning (the footer was fine then)
        raw = victim.read_bytes()
        victim.write_bytes(raw[:4] + b"\xff" * (len(raw) // 2) + raw[4 + len(raw) // 2 :])
        return victim
    table = pq.read_table(victim)
    column = "episode_index" if how == "episode" else "task_index"
    i = table.column_names.index(column)
    bad = pa.array(np.full(table.num_rows, 7 if how == "episode" else 9, dtype=np.int64))
    pq.write_table(table.set_column(i, column, bad), victim)
    return victim


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("corrupt", "not a readable parquet file"),
        ("episode", "episode_index column holds [7], expected 15"),
        ("task", "task_index 9 is not in meta/tasks.jsonl"),
    ],
)
def test_batch_errors_name_the_file(tmp_path: Path, how: str, message: str) -> None:
    src = _dataset(tmp_path / "src")
    plan = make_plan(src)
    victim = _break(src, how)
    schema = data_mod.target_schema(plan)
    with pytest.raises(ConversionError) as err:
        data_mod.read_source_batch(plan.episodes, schema, plan.task_remap)
    assert str(victim) in str(err.value) and message in str(err.value)
    with pytest.raises(ConversionError) as err:
        data_mod.write_data(plan, tmp_path / "out", 100, tmp_path / "spool.arrow")
    assert str(victim) in str(err.value) and message in str(err.value)


def test_read_source_batch_keeps_source_values(tmp_path: Path) -> None:
    src = _dataset(tmp_path / "src")
    plan = make_plan(src)
    schema = data_mod.target_schema(plan)
    got = data_mod.read_source_batch(plan.episodes[2:9], schema)
    want = pa.concat_tables(
        [pq.read_table(ep.data_file).select(schema.names) for ep in plan.episodes[2:9]]
    ).cast(schema)
    assert got.schema.equals(schema, check_metadata=True)
    _bitwise_equal(got, want)
    shutil.rmtree(tmp_path / "src")
