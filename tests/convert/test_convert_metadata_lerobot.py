"""v3.0 metadata byte for byte as the pinned LeRobot's own code writes it (fast, in-process).

The reference is LeRobot 0.6.1's source, lifted out of envs/act (tests/helpers/lerobot_meta.py):
``convert_info`` (its v2.1 -> v3.0 converter) followed by ``update_video_info`` (re-probed
video info, as the recorder does) for ``info.json``; ``write_stats(serialize_dict)`` for
``stats.json``; the recorder's ``_flush_metadata_buffer`` (``pa.Table.from_pydict`` of the
rows' ``tolist()``) for ``meta/episodes``. The spool's contract (batches of ``SPOOL_ROWS``,
shards re-cut and lined up) is checked against the rows that went in.
"""

from __future__ import annotations

import copy
import json
import types
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import FIXTURE_V21
from helpers import lerobot_meta

from scripts.convert import metadata as md
from scripts.convert import stats as ours
from scripts.convert.chunks import MB


@pytest.fixture(scope="module")
def lerobot() -> dict:
    return lerobot_meta.or_fail(lerobot_meta.load)


# --- info.json --------------------------------------------------------------------------------

PROBE = {  # what a re-probe of the written mp4 reports (differs from the v2.1 info on purpose)
    "video.height": 96,
    "video.width": 128,
    "video.codec": "h264",
    "video.pix_fmt": "yuv420p",
    "video.fps": 30,
    "video.channels": 3,
    "has_audio": False,
}


def _sources() -> dict[str, dict]:
    """v2.1 info.json variants: the real 0.3.3 fixture and edits LeRobot's converter accepts."""
    koch = json.loads((FIXTURE_V21 / "meta/info.json").read_text())
    out = {"koch": koch}
    v = copy.deepcopy(koch)  # no video, other fps, robot type unknown, tools declared
    v["features"] = {k: f for k, f in v["features"].items() if f["dtype"] != "video"}
    v.update(fps=15, robot_type=None, video_path=None, chunks_size=50, total_videos=0)
    v["tools"] = [{"type": "function", "function": {"name": "grip", "parameters": {}}}]
    out["no_video"] = v
    v = copy.deepcopy(koch)  # info without the legacy depth flag / without any info; no chunks_size
    cams = [k for k, f in v["features"].items() if f["dtype"] == "video"]
    v["features"][cams[0]]["info"].pop("video.is_depth_map")
    v["features"][cams[1]].pop("info")
    del v["chunks_size"]
    v["robot_type"] = "koch_ünïcode"
    out["sparse_video_info"] = v
    return out


def _lerobot_info(lerobot: dict, src_info: dict, tmp: Path, data_mb, video_mb, probes) -> str:
    """LeRobot's converter's info.json, then its update_video_info re-probe, as text."""
    src, dst = tmp / "lr_src", tmp / "lr_dst"
    lerobot["write_json"](src_info, src / "meta/info.json")
    lerobot["convert_info"](src, dst, data_mb, video_mb)
    info = lerobot["load_info"](dst)
    keys = [k for k, f in info.features.items() if f["dtype"] == "video"]
    lerobot["get_video_info"] = lambda path, video_encoder=None: {
        **probes[Path(path).parent.parent.name],
        "is_depth_map": False,  # get_video_info's value without a depth encoder
    }
    meta = types.SimpleNamespace(
        features=info.features, video_keys=keys, root=dst, video_path=info.video_path, info=info
    )
    if keys:
        lerobot["update_video_info"](meta)
    lerobot["write_info"](info, dst)
    return (dst / "meta/info.json").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", list(_sources()))
@pytest.mark.parametrize(("data_mb", "video_mb"), [(100, 200), (0.5, 7.25)])
def test_info_json_equals_lerobot_converter(
    lerobot: dict, tmp_path: Path, name: str, data_mb, video_mb
) -> None:
    src = _sources()[name]
    before = copy.deepcopy(src)
    cams = [k for k, f in src["features"].items() if f["dtype"] == "video"]
    probes = {k: dict(PROBE, **{"video.width": 100 + i}) for i, k in enumerate(cams)}
    want = _lerobot_info(lerobot, src, tmp_path, data_mb, video_mb, probes)
    info, dropped = md.build_info(
        src,
        total_episodes=src["total_episodes"],
        total_frames=src["total_frames"],
        total_tasks=src["total_tasks"],
        data_mb=float(data_mb),  # the converter's CLI passes floats; LeRobot's an int
        video_mb=float(video_mb),
        video_infos=probes,
    )
    assert src == before  # the source dict is not edited
    dst = tmp_path / "ours" / "deeper"  # write_info creates meta/ and its parents
    md.write_info(info, dst)
    assert (dst / "meta/info.json").read_text(encoding="utf-8") == want
    # the keys LeRobot's DatasetInfo.from_dict would ignore (and warn about)
    assert dropped == sorted(
        set(src) - {f.name for f in lerobot["dataclasses"].fields(lerobot["DatasetInfo"])}
    )
    # LeRobot reads it back to the same dict (no unknown field, same order)
    assert lerobot["load_info"](dst).to_dict() == json.loads(want)


def test_info_json_recomputed_totals_and_legacy_depth_flag(lerobot: dict, tmp_path: Path) -> None:
    """Totals and splits from the conversion (as the recorder counts them), not the source's."""
    src = copy.deepcopy(_sources()["koch"])
    cam = next(k for k, f in src["features"].items() if f["dtype"] == "video")
    info, _ = md.build_info(
        src,
        total_episodes=7,
        total_frames=301,
        total_tasks=4,
        data_mb=100.0,
        video_mb=200.0,
        video_infos={},
    )
    edited = dict(src, total_episodes=7, total_frames=301, total_tasks=4, splits={"train": "0:7"})
    probes = {k: f["info"] for k, f in src["features"].items() if f["dtype"] == "video"}
    want = json.loads(_lerobot_info(lerobot, edited, tmp_path, 100, 200, probes))
    assert info == want
    assert info["features"][cam]["info"]["is_depth_map"] is False
    assert "video.is_depth_map" not in info["features"][cam]["info"]


def test_stats_json_equals_lerobot_write_stats(lerobot: dict, tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    stats = {
        "action": ours.numeric_feature_stats(rng.normal(size=(40, 6)).astype(np.float32)),
        "episode_index": ours.numeric_feature_stats(np.full(40, 3, np.int64)),
        "observation.images.ü": ours.image_feature_stats(
            rng.integers(0, 255, (3, 3, 8, 10)).astype(np.uint8)
        ),
    }
    md.write_stats(stats, tmp_path / "ours")
    lerobot["write_stats"](stats, tmp_path / "ref")
    text = (tmp_path / "ours/meta/stats.json").read_text(encoding="utf-8")
    assert text == (tmp_path / "ref/meta/stats.json").read_text(encoding="utf-8")
    back = lerobot["cast_stats_to_numpy"](json.loads(text))
    for ft, ft_stats in stats.items():
        for k, v in ft_stats.items():
            assert np.array_equal(back[ft][k], np.atleast_1d(v)), (ft, k)


def test_meta_files_into_an_existing_meta_dir(lerobot: dict, tmp_path: Path) -> None:
    """info.json, tasks.parquet, stats.json share meta/ (and a resumed run rewrites them)."""
    import pandas as pd

    stats = {"x": ours.numeric_feature_stats(np.arange(6.0))}
    for tasks in (["a", "b"], ["c"]):  # the second round replaces every file
        md.write_info({"codebase_version": "v3.0", "tasks": tasks}, tmp_path)
        md.write_tasks(tasks, tmp_path)
        md.write_stats(stats, tmp_path)
    assert lerobot["load_json"](tmp_path / "meta/info.json")["tasks"] == ["c"]
    assert lerobot["cast_stats_to_numpy"](lerobot["load_json"](tmp_path / "meta/stats.json"))["x"][
        "max"
    ].tolist() == [5.0]
    tasks = pd.read_parquet(tmp_path / "meta/tasks.parquet")  # LeRobot's load_tasks
    assert list(tasks.index) == ["c"] and tasks["task_index"].tolist() == [0]
    assert pq.read_schema(tmp_path / "meta/tasks.parquet").field("task_index").type == pa.int64()


def test_json_is_utf8_whatever_the_locale(lerobot: dict, tmp_path: Path) -> None:
    """LeRobot's load_json reads UTF-8: a non-UTF-8 process locale must not change the bytes."""
    import locale

    info = {"robot_type": "kóch ü", "features": {"état": {"dtype": "float32"}}}
    lerobot["write_json"](info, tmp_path / "ref.json")
    old = locale.setlocale(locale.LC_CTYPE)
    try:
        locale.setlocale(locale.LC_CTYPE, "C")  # ASCII, standing in for any non-UTF-8 locale
        md.write_info(info, tmp_path)
    finally:
        locale.setlocale(locale.LC_CTYPE, old)
    assert (tmp_path / "meta/info.json").read_bytes() == (tmp_path / "ref.json").read_bytes()
    assert lerobot["load_json"](tmp_path / "meta/info.json") == info


# --- meta/episodes rows -----------------------------------------------------------------------

VALUES = {
    "bool": lambda rng, s: rng.integers(0, 2, s).astype(bool),
    "uint8": lambda rng, s: rng.integers(0, 255, s).astype(np.uint8),
    "int64": lambda rng, s: rng.integers(-5, 5, s),
    "float32": lambda rng, s: rng.normal(size=s).astype(np.float32),
    "float64": lambda rng, s: rng.normal(size=s),
}


@pytest.mark.parametrize("kind", list(VALUES))
@pytest.mark.parametrize("shape", [(1,), (3,), (3, 1, 1), (2, 2)])
def test_nested_array_is_arrows_inference(kind: str, shape: tuple) -> None:
    """As the recorder's ``pa.Table.from_pydict`` of ``tolist()`` values infers them."""
    rng = np.random.default_rng(len(shape))
    values = [VALUES[kind](rng, shape) for _ in range(4)]
    got = md.nested_array(values)
    want = pa.array([v.tolist() for v in values])
    assert got.type == want.type and got.to_pylist() == want.to_pylist()


def _episode_rows(n: int, rng: np.random.Generator) -> list[dict]:
    return [
        {
            "episode_index": i,
            "tasks": ["pick", "place"][: 1 + i % 2],
            "length": 10 + i,
            "data/chunk_index": 0,
            "data/file_index": i // 7,
            "dataset_from_index": 10 * i,
            "dataset_to_index": 10 * i + 10,
            "stats": {
                "flag": ours.numeric_feature_stats(rng.integers(0, 2, 5).astype(bool)),
                "state": ours.numeric_feature_stats(rng.normal(size=(5, 3)).astype(np.float32)),
                "index": ours.numeric_feature_stats(rng.integers(0, 9, 5)),
            },
        }
        for i in range(n)
    ]


@pytest.mark.parametrize("n", [1, 23])
def test_episodes_file_equals_lerobot_recorder_flush(lerobot: dict, tmp_path: Path, n: int) -> None:
    """Spool -> write_episodes == the recorder's buffered ``_flush_metadata_buffer`` writes."""
    rows = _episode_rows(n, np.random.default_rng(n))
    features = {"absent": {}, "flag": {}, "state": {}, "index": {}}  # 'absent' has no stats
    spool = md.Spool(tmp_path / "work/deep/meta.arrow", features)
    for row in rows:
        spool.add(row)
    assert spool.count == n
    order = md.episode_column_order(features, [], md.spool_stats_keys([spool.close()]))
    assert (
        md.write_episodes(md.spooled_tables([spool.path], order), tmp_path / "ours", 100, 1000) == 1
    )
    ours_file = tmp_path / "ours/meta/episodes/chunk-000/file-000.parquet"

    recorder = types.SimpleNamespace(root=tmp_path / "ref", _pq_writer=None, _metadata_buffer=[])
    for lo in range(0, n, 10):  # metadata_buffer_size=10
        for row in rows[lo : lo + 10]:
            ep = {k: v for k, v in row.items() if k != "stats"}
            ep.update(
                {f"stats/{ft}/{k}": v for ft, s in row["stats"].items() for k, v in s.items()}
            )
            ep.update({"meta/episodes/chunk_index": 0, "meta/episodes/file_index": 0})
            recorder._metadata_buffer.append({k: [v] for k, v in ep.items()})
        lerobot["_flush_metadata_buffer"](recorder)
    recorder._pq_writer.close()
    ref_file = tmp_path / "ref/meta/episodes/chunk-000/file-000.parquet"

    a, b = pq.read_table(ours_file), pq.read_table(ref_file)
    assert a.schema.remove_metadata().equals(b.schema.remove_metadata())
    assert a.to_pylist() == b.to_pylist()
    ma, mb = pq.ParquetFile(ours_file).metadata, pq.ParquetFile(ref_file).metadata
    for j in range(ma.num_columns):  # same codec and dictionary encoding as the recorder
        ca, cb = ma.row_group(0).column(j), mb.row_group(0).column(j)
        assert ca.compression == cb.compression == "SNAPPY", ca.path_in_schema
        assert ca.has_dictionary_page == cb.has_dictionary_page, ca.path_in_schema


def test_episode_column_order_is_the_recorders() -> None:
    """``save_episode``: index, tasks, length, then ``episode_metadata`` (data, frame range,
    each camera's videos/*), then ``flatten_dict({"stats": ...})`` in feature order."""
    features = {"action": {}, "cam.a": {}, "state": {}, "cam.b": {}}
    stats = {"state": ["min", "max"], "cam.a": ["mean"], "action": ["count"], "other": ["x"]}
    got = md.episode_column_order(features, ["cam.a", "cam.b"], stats)
    videos = [
        f"videos/{c}/{k}"
        for c in ("cam.a", "cam.b")
        for k in ("chunk_index", "file_index", "from_timestamp", "to_timestamp")
    ]
    assert got == [
        "episode_index",
        "tasks",
        "length",
        "data/chunk_index",
        "data/file_index",
        "dataset_from_index",
        "dataset_to_index",
        *videos,
        "stats/action/count",
        "stats/cam.a/mean",
        "stats/state/min",
        "stats/state/max",
    ]


# --- spools -----------------------------------------------------------------------------------


def _spool(path: Path, lo: int, hi: int, *, gap: range = range(0)) -> Path:
    """Rows lo..hi-1 with ``x`` = 2*i; rows in ``gap`` have no value (a null-typed batch)."""
    spool = md.Spool(path, {})
    for i in range(lo, hi):
        spool.add({"episode_index": i, "x": None if i in gap else 2 * i})
    return spool.close()


def test_spool_batches_of_spool_rows(tmp_path: Path) -> None:
    """One record batch per SPOOL_ROWS rows, whatever type a later batch infers."""
    n = 2 * md.SPOOL_ROWS + 5
    path = _spool(tmp_path / "a/b/s.arrow", 0, n, gap=range(md.SPOOL_ROWS, n))
    with pa.ipc.open_file(pa.OSFile(str(path))) as reader:
        sizes = [reader.get_batch(i).num_rows for i in range(reader.num_record_batches)]
        assert reader.schema.field("x").type == pa.int64()
        table = reader.read_all()
    assert sizes == [md.SPOOL_ROWS, md.SPOOL_ROWS, 5]
    assert table.column("episode_index").to_pylist() == list(range(n))
    assert table.column("x").to_pylist() == [2 * i if i < md.SPOOL_ROWS else None for i in range(n)]


def test_shards_recut_and_joined(tmp_path: Path) -> None:
    """Shards (runs of episodes) re-cut to SPOOL_ROWS and lined up with a single spool."""
    n = md.SPOOL_ROWS + 350
    cut = 700
    single = md.Spool(tmp_path / "single.arrow", {})
    for i in range(n):
        single.add({"y": -i})
    single.close()
    shards = [
        _spool(tmp_path / "s0.arrow", 0, cut),
        _spool(tmp_path / "s1.arrow", cut, n, gap=range(cut, n)),  # null-typed x: cast
    ]
    joined = list(md._spool_batches([single.path, shards]))
    assert [t.num_rows for t in joined] == [md.SPOOL_ROWS, n - md.SPOOL_ROWS]
    table = pa.concat_tables(joined, promote_options="permissive")  # as write_episodes does
    assert table.column_names == ["y", "episode_index", "x"]
    assert table.column("y").to_pylist() == [-i for i in range(n)]
    assert table.column("episode_index").to_pylist() == list(range(n))
    assert table.column("x").to_pylist() == [2 * i if i < cut else None for i in range(n)]
    assert md.spool_stats_keys([single.path, shards]) == {}


def test_spool_stats_keys_of_shards(tmp_path: Path) -> None:
    paths = []
    for i, ft in enumerate(("a.b", "c")):
        spool = md.Spool(tmp_path / f"{ft}-{i}.arrow", {ft: {}})
        spool.add({"stats": {ft: {"min": np.zeros(2), "max": np.ones(2)}}})
        paths.append(spool.close())
    other = md.Spool(tmp_path / "other.arrow", {})
    other.add({"stats": {}})
    assert md.spool_stats_keys([paths[0], [paths[1], other.close()]]) == {
        "a.b": ["min", "max"],
        "c": ["min", "max"],
    }


@pytest.mark.parametrize("short", [0, 1])
def test_spools_that_disagree_are_refused(tmp_path: Path, short: int) -> None:
    n = md.SPOOL_ROWS + 3
    full = _spool(tmp_path / "full.arrow", 0, n)
    part = _spool(tmp_path / "part.arrow", 0, n - 1 if short else md.SPOOL_ROWS)
    with pytest.raises(RuntimeError, match=r"^metadata spools disagree on row counts$"):
        list(md._spool_batches([full, part]))


# --- meta/episodes roll-over edges ------------------------------------------------------------


def _tables(n: int) -> list[pa.Table]:
    return [pa.table({"episode_index": np.arange(lo, lo + 10)}) for lo in range(0, n, 10)]


def _placement(root: Path) -> list[tuple[str, list[int]]]:
    return [
        (str(p.relative_to(root)), pq.read_table(p).column("episode_index").to_pylist())
        for p in sorted((root / "meta/episodes").glob("*/*.parquet"))
    ]


@pytest.mark.parametrize("extra", [0, 1])
def test_roll_over_exactly_at_the_limit(tmp_path: Path, extra: int) -> None:
    """The recorder rolls when current + next buffer >= the limit: at equality, not below."""
    tables = _tables(40)
    t = tables[0].nbytes
    limit = 2 * t + 16 * 10 + extra  # first buffer (+ its two int64 columns) + the second
    md.write_episodes(iter(tables), tmp_path, limit / MB, 1000)
    if extra == 0:  # every second buffer reaches the limit: one buffer per file
        want = [(f"meta/episodes/chunk-000/file-{i:03d}.parquet", [i]) for i in range(4)]
    else:  # two buffers fit (a new file starts empty), the third rolls
        want = [("meta/episodes/chunk-000/file-000.parquet", [0, 1])]
        want += [("meta/episodes/chunk-000/file-001.parquet", [2, 3])]
    assert [
        (name, sorted({e // 10 for e in episodes})) for name, episodes in _placement(tmp_path)
    ] == want


def test_first_buffer_above_the_limit_opens_file_zero(tmp_path: Path) -> None:
    tables = _tables(30)
    files = md.write_episodes(iter(tables), tmp_path, 1 / MB, 2)
    assert files == 3
    assert _placement(tmp_path) == [
        ("meta/episodes/chunk-000/file-000.parquet", list(range(10))),
        ("meta/episodes/chunk-000/file-001.parquet", list(range(10, 20))),
        ("meta/episodes/chunk-001/file-000.parquet", list(range(20, 30))),
    ]


def test_buffers_of_different_types_in_one_file(tmp_path: Path) -> None:
    """A buffer whose column is all-null (null type) joins the file's typed column."""
    tables = [
        pa.table({"episode_index": np.arange(10), "x": np.arange(10.0)}),
        pa.table({"episode_index": np.arange(10, 20), "x": pa.nulls(10)}),
    ]
    md.write_episodes(iter(tables), tmp_path, 100, 1000)
    (path,) = (tmp_path / "meta/episodes").glob("*/*.parquet")
    t = pq.read_table(path)
    assert t.schema.field("x").type == pa.float64()
    assert t.column("x").to_pylist() == [float(i) for i in range(10)] + [None] * 10
