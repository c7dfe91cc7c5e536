"""The converter's data pass (``scripts/convert/data.py``), function by function, on tiny files.

Each test writes a few small episode parquet files with pyarrow in ``tmp_path`` and calls one
function of ``data.py`` directly, asserting exact outcomes: columns, types and values of the
rows written, ``data/chunk-XXX/file-YYY.parquet`` placement and roll-over points, row groups
and codec, spooled ``dataset_from/to_index``, and the exact error text naming the file.
LeRobot 0.6.1 is the reference where the converter claims to follow it: its
``update_chunk_file_indices`` is lifted from the installed source and run here, and the
``huggingface`` schema metadata is the one ``datasets`` 4.8.5 (envs/act) writes for
``get_hf_features_from_features``.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import lerobot_meta
from PIL import Image

from scripts.convert import data as data_mod
from scripts.convert.errors import ConversionError
from scripts.convert.plan import EpisodePlan, Plan
from scripts.convert.stats import image_feature_stats, numeric_stats_many
from validators.dataset_format import DatasetLayout

FPS = 30
FEATURES: dict[str, dict] = {
    "action": {"dtype": "float32", "shape": [2], "names": None},
    "observation.state": {"dtype": "float32", "shape": [3], "names": None},
    "observation.images.cam": {"dtype": "video", "shape": [48, 64, 3], "names": None},
    "timestamp": {"dtype": "float32", "shape": [1], "names": None},
    "frame_index": {"dtype": "int64", "shape": [1], "names": None},
    "episode_index": {"dtype": "int64", "shape": [1], "names": None},
    "index": {"dtype": "int64", "shape": [1], "names": None},
    "task_index": {"dtype": "int64", "shape": [1], "names": None},
}
COLUMNS = [k for k, ft in FEATURES.items() if ft["dtype"] != "video"]


def _fixed(values: np.ndarray) -> pa.Array:
    return pa.FixedSizeListArray.from_arrays(pa.array(values.ravel()), values.shape[1])


def _table(old: int, length: int, tasks: list[int] | int = 0, seed: int = 0) -> pa.Table:
    """One v2.1 episode's rows (as the recorder writes them, columns in a different order)."""
    rng = np.random.default_rng(seed * 1000 + old)
    tasks = [tasks] * length if isinstance(tasks, int) else tasks
    frames = np.arange(length, dtype=np.int64)
    return pa.table(
        {
            "observation.state": _fixed(rng.normal(size=(length, 3)).astype(np.float32)),
            "action": _fixed((rng.normal(size=(length, 2)) * 10).astype(np.float32)),
            "timestamp": pa.array((frames / FPS).astype(np.float32)),
            "frame_index": pa.array(frames),
            "episode_index": pa.array(np.full(length, old, dtype=np.int64)),
            "index": pa.array(np.arange(100 * old, 100 * old + length, dtype=np.int64)),
            "task_index": pa.array(np.array(tasks, dtype=np.int64)),
        }
    )


def _episode(root: Path, old: int, new: int, table: pa.Table, **kw) -> EpisodePlan:
    path = root / "data" / "chunk-000" / f"episode_{old:06d}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return EpisodePlan(
        old_index=old,
        new_index=new,
        length=table.num_rows,
        tasks=["t"],
        data_file=path,
        data_bytes=kw.pop("data_bytes", path.stat().st_size),
        **kw,
    )


def _plan(
    root: Path,
    episodes: list[EpisodePlan],
    features: dict | None = None,
    remap: dict[int, int] | None = None,
    chunks_size: int = 1000,
) -> Plan:
    info = {"fps": FPS, "features": features or FEATURES, "chunks_size": chunks_size}
    return Plan(
        layout=DatasetLayout(root=root, info=info),
        episodes=episodes,
        tasks=["t0", "t1"],
        task_remap=remap if remap is not None else {0: 0, 1: 1},
        has_episode_stats=True,
    )


def _source(tmp_path: Path, lengths: list[int], olds: list[int] | None = None, **kw) -> Plan:
    olds = olds if olds is not None else list(range(len(lengths)))
    eps = [
        _episode(tmp_path / "src", o, n, _table(o, k, tasks=o % 2))
        for n, (o, k) in enumerate(zip(olds, lengths, strict=True))
    ]
    return _plan(tmp_path / "src", eps, **kw)


def _err(exc: pytest.ExceptionInfo[ConversionError], file: Path, message: str) -> None:
    assert exc.value.file == str(file)
    assert exc.value.message == message
    assert str(exc.value) == f"{file}: {message}"


# ---------------------------------------------------------------------------------------------
# chunk/file index arithmetic: LeRobot's own function, lifted out of the installed package


def _lerobot_update_chunk_file_indices():
    path = lerobot_meta.SITE / "datasets" / "utils.py"
    import ast

    tree = ast.parse(path.read_text())
    body = [n for n in tree.body if lerobot_meta._wanted(n, {"update_chunk_file_indices"})]
    assert len(body) == 1, "update_chunk_file_indices not found in the pinned LeRobot"
    ns: dict = {}
    lerobot_meta._exec(path, body, ns)
    return ns["update_chunk_file_indices"]


def test_next_chunk_file_is_lerobots_update_chunk_file_indices() -> None:
    theirs = _lerobot_update_chunk_file_indices()
    for chunks_size in (1, 2, 3, 1000):
        for chunk in (0, 1, 7):
            for file in range(min(chunks_size, 5)) if chunks_size < 10 else (0, 1, 998, 999):
                got = data_mod.next_chunk_file(chunk, file, chunks_size)
                assert got == theirs(chunk, file, chunks_size), (chunk, file, chunks_size)
    assert data_mod.next_chunk_file(0, 998, 1000) == (0, 999)
    assert data_mod.next_chunk_file(0, 999, 1000) == (1, 0)
    assert data_mod.next_chunk_file(3, 0, 1) == (4, 0)
    assert data_mod.next_chunk_file(2, 1, 3) == (2, 2)


# ---------------------------------------------------------------------------------------------
# schema: info.json order, first file's types, the `huggingface` metadata LeRobot writes

# what datasets 4.8.5 (envs/act) puts in the arrow schema for get_hf_features_from_features of
# {img: image, one: float32 (1,), vec: float32 (6,), a2: (2, 3), a3: uint8 (2, 3, 4),
#  a4: (1, 2, 3, 4), a5: int64 (1, 2, 3, 4, 5)}: Features(...).arrow_schema.metadata
HF_EXPECTED = {
    "img": {"_type": "Image"},
    "one": {"dtype": "float32", "_type": "Value"},
    "vec": {"feature": {"dtype": "float32", "_type": "Value"}, "length": 6, "_type": "List"},
    "a2": {"shape": [2, 3], "dtype": "float32", "_type": "Array2D"},
    "a3": {"shape": [2, 3, 4], "dtype": "uint8", "_type": "Array3D"},
    "a4": {"shape": [1, 2, 3, 4], "dtype": "float64", "_type": "Array4D"},
    "a5": {"shape": [1, 2, 3, 4, 5], "dtype": "int64", "_type": "Array5D"},
}
HF_BYTES = (
    b'{"info": {"features": {"img": {"_type": "Image"}, "one": {"dtype": "float32", "_type": '
    b'"Value"}, "vec": {"feature": {"dtype": "float32", "_type": "Value"}, "length": 6, "_type": '
    b'"List"}, "a2": {"shape": [2, 3], "dtype": "float32", "_type": "Array2D"}, "a3": {"shape": '
    b'[2, 3, 4], "dtype": "uint8", "_type": "Array3D"}, "a4": {"shape": [1, 2, 3, 4], "dtype": '
    b'"float64", "_type": "Array4D"}, "a5": {"shape": [1, 2, 3, 4, 5], "dtype": "int64", '
    b'"_type": "Array5D"}}}}'
)


def test_hf_feature_each_shape() -> None:
    shapes = {
        "img": ("image", [8, 8, 3]),
        "one": ("float32", [1]),
        "vec": ("float32", [6]),
        "a2": ("float32", [2, 3]),
        "a3": ("uint8", [2, 3, 4]),
        "a4": ("float64", [1, 2, 3, 4]),
        "a5": ("int64", [1, 2, 3, 4, 5]),
    }
    for key, (dtype, shape) in shapes.items():
        assert data_mod._hf_feature({"dtype": dtype, "shape": shape}) == HF_EXPECTED[key], key
        # LeRobot's own feature dicts hold tuples (info.json gives lists): same description
        assert data_mod._hf_feature({"dtype": dtype, "shape": tuple(shape)}) == HF_EXPECTED[key]
    # no datasets type for these: left out of the metadata (LeRobot raises on them)
    assert data_mod._hf_feature({"dtype": "float32", "shape": [1, 1, 1, 1, 1, 1]}) is None
    assert data_mod._hf_feature({"dtype": "float32", "shape": []}) is None


def test_target_schema_metadata_is_what_datasets_writes(tmp_path: Path) -> None:
    n = 2
    cols = {
        "img": pa.array([{"bytes": b"x", "path": None}] * n),
        "six": pa.array([0.0] * n),
        "one": pa.array([0.0] * n, pa.float32()),
        "vec": pa.array([[0.0] * 6] * n, pa.list_(pa.float32(), 6)),
        "a2": pa.array([[[0.0] * 3] * 2] * n),
        "a3": pa.array([[[[0] * 4] * 3] * 2] * n, pa.list_(pa.list_(pa.list_(pa.uint8())))),
        "a4": pa.array([0.0] * n),
        "a5": pa.array([0] * n),
    }
    ep = _episode(tmp_path, 0, 0, pa.table(cols))
    features = {
        "img": {"dtype": "image", "shape": [8, 8, 3]},
        "one": {"dtype": "float32", "shape": [1]},
        "cam": {"dtype": "video", "shape": [8, 8, 3]},
        "vec": {"dtype": "float32", "shape": [6]},
        "a2": {"dtype": "float32", "shape": [2, 3]},
        "a3": {"dtype": "uint8", "shape": [2, 3, 4]},
        "six": {"dtype": "float32", "shape": [1, 1, 1, 1, 1, 1]},
        "a4": {"dtype": "float64", "shape": [1, 2, 3, 4]},
        "a5": {"dtype": "int64", "shape": [1, 2, 3, 4, 5]},
    }
    schema = data_mod.target_schema(_plan(tmp_path, [ep], features))
    assert schema.names == ["img", "one", "vec", "a2", "a3", "six", "a4", "a5"]
    source = pq.read_schema(ep.data_file)
    for f in schema:
        assert f.equals(source.field(f.name)), f.name
    assert schema.metadata == {b"huggingface": HF_BYTES}
    assert json.loads(HF_BYTES)["info"]["features"] == HF_EXPECTED


def test_target_schema_takes_order_from_info_and_types_from_first_file(tmp_path: Path) -> None:
    first = _table(4, 3).cast(
        _table(4, 3).schema.set(3, pa.field("frame_index", pa.int32()))  # int32 in file one
    )
    eps = [_episode(tmp_path, 4, 0, first), _episode(tmp_path, 5, 1, _table(5, 2))]
    schema = data_mod.target_schema(_plan(tmp_path, eps))
    assert schema.names == COLUMNS  # info.json order, not the file's
    assert schema.field("frame_index").type == pa.int32()
    assert schema.field("action").type == pa.list_(pa.float32(), 2)
    assert schema.field("timestamp").type == pa.float32()


def test_target_schema_names_first_file_and_missing_column(tmp_path: Path) -> None:
    ep = _episode(tmp_path, 0, 0, _table(0, 2).drop_columns(["task_index", "frame_index"]))
    with pytest.raises(ConversionError) as exc:
        data_mod.target_schema(_plan(tmp_path, [ep]))
    _err(exc, ep.data_file, "has no column 'frame_index' (info.json lists it)")


# ---------------------------------------------------------------------------------------------
# per-episode stats helpers


def test_column_array_shapes() -> None:
    t = pa.table(
        {
            "fixed": _fixed(np.arange(6, dtype=np.float32).reshape(3, 2)),
            "var": pa.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]),
            "nested": pa.array([[[1, 2]], [[3, 4]], [[5, 6]]]),
            "flat": pa.array([1.5, 2.5, 3.5]),
            "flags": pa.array([True, False, True]),  # bool: arrow cannot hand out a view
            "pairs": pa.array([[True, False]] * 3, pa.list_(pa.bool_(), 2)),
        }
    )
    chunked = pa.concat_tables([t.slice(0, 1), t.slice(1, 2)])  # two chunks per column
    fixed = data_mod._column_array(chunked, "fixed", {"shape": [2]})
    assert fixed.dtype == np.float32 and fixed.tolist() == [[0, 1], [2, 3], [4, 5]]
    var = data_mod._column_array(chunked, "var", {"shape": [2]})
    assert var.dtype == np.float64 and var.tolist() == [[1, 2], [3, 4], [5, 6]]
    flat = data_mod._column_array(chunked, "flat", {"shape": [1]})
    assert flat.shape == (3,) and flat.tolist() == [1.5, 2.5, 3.5]
    flags = data_mod._column_array(chunked, "flags", {"shape": [1]})
    assert flags.dtype == bool and flags.tolist() == [True, False, True]
    pairs = data_mod._column_array(chunked, "pairs", {"shape": [2]})
    assert pairs.dtype == bool and pairs.tolist() == [[True, False]] * 3
    with pytest.raises(ValueError):  # one level flattened: 3 lists of 2 do not make 3 x 1 x 2
        data_mod._column_array(chunked, "nested", {"shape": [2, 2]})


def test_timestamp_values_exact_or_widened() -> None:
    frames = np.arange(7, dtype=np.int64)
    exact = pa.table({"timestamp": (frames / FPS).astype(np.float32), "frame_index": frames})
    got = data_mod._timestamp_values(exact, FPS)
    assert got.dtype == np.float64 and np.array_equal(got, frames / FPS)
    assert not np.array_equal(got, (frames / FPS).astype(np.float32).astype(np.float64))
    # stored values that are not frame_index / fps: widened as stored
    off = (frames / FPS + 0.5).astype(np.float32)
    shifted = pa.table({"timestamp": off, "frame_index": frames})
    got = data_mod._timestamp_values(shifted, FPS)
    assert got.dtype == np.float64 and np.array_equal(got, off.astype(np.float64))
    # wrong fps: not the recorder's values
    got = data_mod._timestamp_values(exact, 10)
    assert np.array_equal(got, (frames / FPS).astype(np.float32).astype(np.float64))
    alone = pa.table({"timestamp": (frames / FPS).astype(np.float32)})
    got = data_mod._timestamp_values(alone, FPS)
    assert got.dtype == np.float64
    assert np.array_equal(got, (frames / FPS).astype(np.float32).astype(np.float64))


def test_batch_timestamp_values_decided_per_episode() -> None:
    lengths = np.array([3, 4, 2])
    frames = np.concatenate([np.arange(k) for k in lengths]).astype(np.int64)
    exact = frames / FPS
    stored = exact.astype(np.float32)
    stored[4] += np.float32(0.25)  # the second episode is not frame_index / fps
    t = pa.table({"timestamp": stored, "frame_index": frames})
    got = data_mod._batch_timestamp_values(t, FPS, lengths)
    want = np.concatenate([exact[:3], stored[3:7].astype(np.float64), exact[7:]])
    assert got.dtype == np.float64 and np.array_equal(got, want)
    # each part equals the one-episode definition
    for lo, hi in ((0, 3), (3, 7), (7, 9)):
        one = data_mod._timestamp_values(t.slice(lo, hi - lo), FPS)
        assert np.array_equal(got[lo:hi], one)
    alone = pa.table({"timestamp": stored})
    got = data_mod._batch_timestamp_values(alone, FPS, lengths)
    assert got.dtype == np.float64 and np.array_equal(got, stored.astype(np.float64))


def _png(rgb: np.ndarray, mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    img = Image.fromarray(rgb if mode == "RGB" else rgb[..., 0])
    img.save(buf, format="PNG")
    return buf.getvalue()


def test_decode_image_channels_first_rgb() -> None:
    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3) * 7
    got = data_mod._decode_image({"bytes": _png(rgb), "path": "f.png"})
    assert got.dtype == np.uint8 and got.shape == (3, 2, 3)
    assert np.array_equal(got, rgb.transpose(2, 0, 1))
    grey = data_mod._decode_image({"bytes": _png(rgb, "L"), "path": None})
    assert grey.shape == (3, 2, 3)  # converted to RGB: three equal planes
    assert all(np.array_equal(grey[c], rgb[..., 0]) for c in range(3))
    for cell in (None, {}, {"bytes": None, "path": "f.png"}):
        with pytest.raises(ValueError, match=r"^image cell without embedded bytes$"):
            data_mod._decode_image(cell)


def _image_table(frames: list[np.ndarray | None]) -> pa.Table:
    cells = [None if f is None else {"bytes": _png(f), "path": None} for f in frames]
    return pa.table({"img": pa.array(cells, data_mod_image_type())})


def data_mod_image_type() -> pa.DataType:
    return pa.struct([("bytes", pa.binary()), ("path", pa.string())])


def test_image_stats_samples_frames_and_names_the_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    frames = [rng.integers(0, 256, size=(4, 6, 3), dtype=np.uint8) for _ in range(5)]
    t = _image_table(frames)
    ft = {"dtype": "image", "shape": [4, 6, 3]}
    got = data_mod._image_stats(t, "img", ft, tmp_path / "ep.parquet")
    want = image_feature_stats(np.stack([f.transpose(2, 0, 1) for f in frames]))
    assert list(got) == list(want)
    for k in want:
        assert np.array_equal(got[k], want[k]) and got[k].dtype == want[k].dtype, k
    depth = data_mod._image_stats(
        t, "img", {**ft, "info": {"is_depth_map": True}}, tmp_path / "ep.parquet"
    )
    assert np.allclose(depth["max"], want["max"] * 255) and depth["max"].max() > 2
    plain = data_mod._image_stats(t, "img", {**ft, "info": None}, tmp_path / "ep.parquet")
    assert np.array_equal(plain["max"], want["max"])
    bad = _image_table([frames[0], None, frames[2]])
    with pytest.raises(ConversionError) as exc:
        data_mod._image_stats(bad, "img", ft, tmp_path / "ep.parquet")
    _err(
        exc,
        tmp_path / "ep.parquet",
        "column 'img': unreadable image (image cell without embedded bytes)",
    )
    garbage = pa.table({"img": pa.array([{"bytes": b"not a png", "path": None}])})
    with pytest.raises(ConversionError, match=r"column 'img': unreadable image \(cannot identify"):
        data_mod._image_stats(garbage, "img", ft, tmp_path / "ep.parquet")


def _assert_stats_equal(got: dict, want: dict) -> None:
    assert list(got) == list(want)
    for key in want:
        assert list(got[key]) == list(want[key]), key
        for stat in want[key]:
            a, b = got[key][stat], want[key][stat]
            assert a.dtype == b.dtype and np.array_equal(a, b), (key, stat)


def test_episode_stats_features_and_values(tmp_path: Path) -> None:
    t = _table(0, 6).select(COLUMNS)
    t = t.append_column("note", pa.array(["x"] * 6))
    features = {
        **FEATURES,
        "note": {"dtype": "string", "shape": [1]},
        "lang": {"dtype": "language", "shape": [1]},
    }
    got = data_mod.episode_stats(t, features, tmp_path / "e.parquet", FPS)
    numeric = {k: data_mod._column_array(t, k, FEATURES[k]) for k in COLUMNS if k != "timestamp"}
    numeric["timestamp"] = np.arange(6) / FPS
    want = numeric_stats_many({k: numeric[k] for k in COLUMNS})
    _assert_stats_equal(got, want)
    assert got["timestamp"]["max"].dtype == np.float64 and got["timestamp"]["max"] == 5 / FPS
    # an image-dtype column with a frame that will not decode: the error names the file
    broken = t.append_column("img", pa.array([None] * 6, data_mod_image_type()))
    features["img"] = {"dtype": "image", "shape": [4, 6, 3]}
    with pytest.raises(ConversionError) as exc:
        data_mod.episode_stats(broken, features, tmp_path / "e.parquet", FPS)
    _err(
        exc,
        tmp_path / "e.parquet",
        "column 'img': unreadable image (image cell without embedded bytes)",
    )


def test_batch_stats_with_images_keeps_feature_order(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    lengths = [2, 3]
    n = sum(lengths)
    frames = [rng.integers(0, 256, size=(4, 6, 3), dtype=np.uint8) for _ in range(n)]
    base = pa.concat_tables([_table(0, 2), _table(1, 3)]).select(COLUMNS)
    t = base.append_column("img", _image_table(frames).column("img"))
    features = {"img": {"dtype": "image", "shape": [4, 6, 3]}, **FEATURES}
    eps = [
        EpisodePlan(0, 0, 2, [], tmp_path / "a.parquet", 1),
        EpisodePlan(1, 1, 3, [], tmp_path / "b.parquet", 1),
    ]
    got = data_mod.batch_stats(t, features, eps, FPS)
    assert len(got) == 2
    for e, (lo, k) in enumerate(((0, 2), (2, 3))):
        want = data_mod.episode_stats(t.slice(lo, k), features, eps[e].data_file, FPS)
        assert list(got[e]) == ["img", *COLUMNS]
        _assert_stats_equal(got[e], want)
    # an unreadable frame in the second episode names that episode's file
    cells = [{"bytes": _png(f), "path": None} for f in frames[:3]] + [None, None]
    broken = base.append_column("img", pa.array(cells, data_mod_image_type()))
    with pytest.raises(ConversionError) as exc:
        data_mod.batch_stats(broken, features, eps, FPS)
    assert exc.value.file == str(tmp_path / "b.parquet")


def test_batch_stats_without_images_in_feature_order(tmp_path: Path) -> None:
    eps = [
        EpisodePlan(0, 0, 2, [], tmp_path / "a.parquet", 1),
        EpisodePlan(1, 1, 1, [], tmp_path / "b.parquet", 1),
    ]
    t = pa.concat_tables([_table(0, 2), _table(1, 1)]).select(COLUMNS)
    t = t.append_column("note", pa.array(["a", "b", "c"]))
    t = t.append_column("lang", pa.array(["x", "y", "z"]))
    features = {
        "note": {"dtype": "string", "shape": [1]},
        **FEATURES,
        "lang": {"dtype": "language", "shape": [1]},
    }
    got = data_mod.batch_stats(t, features, eps, FPS)
    for e, (lo, k) in enumerate(((0, 2), (2, 1))):
        assert list(got[e]) == COLUMNS  # no stats of text columns (nor of videos)
        _assert_stats_equal(got[e], data_mod.episode_stats(t.slice(lo, k), features, None, FPS))


# ---------------------------------------------------------------------------------------------
# reading source files: checks, error texts


def test_read_source_file_selects_and_types(tmp_path: Path) -> None:
    plan = _source(tmp_path, [3, 4])
    schema = data_mod.target_schema(plan)
    for ep in plan.episodes:
        got = data_mod.read_source_file(ep, schema)
        assert got.schema.equals(schema, check_metadata=False)
        assert got.equals(pq.read_table(ep.data_file).select(COLUMNS))
    # a later file types a column differently (int32): cast to the first file's types
    t = _table(2, 5)
    t = t.set_column(3, "frame_index", t.column("frame_index").cast(pa.int32()))
    t = t.append_column("extra", pa.array(range(5)))
    ep = _episode(tmp_path / "src", 2, 2, t)
    got = data_mod.read_source_file(ep, schema)
    assert got.schema.equals(schema, check_metadata=False)
    assert got.column("frame_index").to_pylist() == [0, 1, 2, 3, 4]


def test_read_source_file_small_and_large_paths_agree(tmp_path: Path) -> None:
    plan = _source(tmp_path, [5])
    schema = data_mod.target_schema(plan)
    ep = plan.episodes[0]
    small = data_mod.read_source_file(ep, schema)
    ep.data_bytes = data_mod._SMALL_FILE + 1  # as if the file were big: file-backed reader
    big = data_mod.read_source_file(ep, schema)
    assert small.equals(big) and small.schema.equals(big.schema, check_metadata=True)


def test_read_source_file_reads_small_files_from_memory(tmp_path: Path) -> None:
    """The two readers say different things about a file gone since planning."""
    plan = _source(tmp_path, [5])
    schema = data_mod.target_schema(plan)
    ep = plan.episodes[0]
    ep.data_file.unlink()
    for nbytes in (0, data_mod._SMALL_FILE):
        ep.data_bytes = nbytes
        with pytest.raises(ConversionError) as exc:
            data_mod.read_source_file(ep, schema)
        _err(
            exc,
            ep.data_file,
            f"not a readable parquet file ([Errno 2] No such file or directory: '{ep.data_file}')",
        )
    ep.data_bytes = data_mod._SMALL_FILE + 1
    with pytest.raises(ConversionError) as exc:
        data_mod.read_source_file(ep, schema)
    assert exc.value.file == str(ep.data_file)
    assert exc.value.message.startswith("not a readable parquet file (")
    assert "Failed to open local file" in exc.value.message  # arrow's reader, not open()


def test_read_source_file_errors_name_the_file(tmp_path: Path) -> None:
    plan = _source(tmp_path, [3, 4])
    schema = data_mod.target_schema(plan)
    ep = plan.episodes[1]
    ep.length = 5
    with pytest.raises(ConversionError) as exc:
        data_mod.read_source_file(ep, schema)
    _err(exc, ep.data_file, "has 4 rows but meta/episodes.jsonl says length 5")

    ep = _episode(tmp_path, 7, 0, _table(7, 2).drop_columns(["task_index", "action"]))
    with pytest.raises(ConversionError) as exc:
        data_mod.read_source_file(ep, schema)
    _err(exc, ep.data_file, "lacks column(s) ['action', 'task_index']")

    t = _table(8, 2)
    t = t.set_column(2, "timestamp", pa.array(["a", "b"]))
    ep = _episode(tmp_path, 8, 0, t)
    with pytest.raises(ConversionError) as exc:
        data_mod.read_source_file(ep, schema)
    assert exc.value.file == str(ep.data_file)
    assert exc.value.message.startswith("column types differ from the first episode (")
    assert "Failed to parse string: " in exc.value.message

    t = _table(9, 2)
    t = t.set_column(1, "action", _fixed(np.zeros((2, 3), dtype=np.float32)))
    ep = _episode(tmp_path, 9, 0, t)
    with pytest.raises(ConversionError) as exc:  # 3 numbers where the first file has 2
        data_mod.read_source_file(ep, schema)
    assert exc.value.file == str(ep.data_file)
    assert exc.value.message.startswith("column types differ from the first episode (")
    assert "Size of FixedSizeList is not the same" in exc.value.message

    for size in (None, 0):
        ep = _episode(tmp_path, 10, 0, _table(10, 2))
        ep.data_file.write_bytes(b"PAR1 not parquet" if size is None else b"")
        with pytest.raises(ConversionError) as exc:
            data_mod.read_source_file(ep, schema)
        assert exc.value.file == str(ep.data_file)
        assert exc.value.message.startswith("not a readable parquet file (")


def test_first_bad_episode() -> None:
    lengths = np.array([2, 3, 1])
    want = [0, 0, 1, 1, 1, 2]
    for row in range(6):
        bad = np.zeros(6, dtype=bool)
        bad[row] = True
        bad[5] = True  # a later flag never moves the answer
        assert data_mod._first_bad_episode(bad, lengths) == want[row], row
        assert isinstance(data_mod._first_bad_episode(bad, lengths), int)


def test_as_int_values() -> None:
    for ints in (np.array([3, -1, 7], dtype=np.int32), np.array([3, 1, 7], dtype=np.uint16)):
        values, invalid = data_mod._as_int_values(ints)
        assert values.dtype == np.int64 and values.tolist() == ints.tolist()
        assert invalid.dtype == bool and invalid.tolist() == [False] * 3
    floats = np.array([1.0, np.nan, 2.5, np.inf, -3.0, -np.inf])
    values, invalid = data_mod._as_int_values(floats)
    assert values.dtype == np.int64 and values.tolist() == [1, -1, -1, -1, -3, -1]
    assert invalid.tolist() == [False, True, True, True, False, True]


def test_read_source_batch_values_and_metadata(tmp_path: Path) -> None:
    plan = _source(tmp_path, [3, 1, 4], olds=[2, 5, 9])
    schema = data_mod.target_schema(plan)
    got = data_mod.read_source_batch(plan.episodes, schema, iter([1, 0]))
    want = pa.concat_tables([pq.read_table(ep.data_file).select(COLUMNS) for ep in plan.episodes])
    assert got.schema.equals(schema, check_metadata=True)
    assert got.schema.metadata == schema.metadata
    assert got.column("episode_index").to_pylist() == [2] * 3 + [5] + [9] * 4  # still old
    assert got.equals(want.replace_schema_metadata(schema.metadata))
    assert all(c.num_chunks == 1 for c in got.columns)
    one = data_mod.read_source_batch(plan.episodes[1:2], schema)
    assert one.schema.metadata == schema.metadata and one.num_rows == 1
    assert one.column("episode_index").to_pylist() == [5]


def test_read_source_batch_episode_index_error(tmp_path: Path) -> None:
    eps = [_episode(tmp_path, 0, 0, _table(0, 2)), _episode(tmp_path, 1, 1, _table(1, 3))]
    held = [1, 4, 3]  # the second file's episode_index column, wrong in two of three rows
    t = _table(2, 3)
    t = t.set_column(4, "episode_index", pa.array(np.array(held, dtype=np.int64)))
    eps.append(_episode(tmp_path, 2, 2, t))
    eps.append(_episode(tmp_path, 3, 3, _table(3, 1)))
    plan = _plan(tmp_path, eps)
    schema = data_mod.target_schema(plan)
    with pytest.raises(ConversionError) as exc:
        data_mod.read_source_batch(plan.episodes, schema)
    _err(exc, eps[2].data_file, "episode_index column holds [1, 3, 4], expected 2")
    # many distinct values: the first five, sorted
    t = _table(2, 8).set_column(4, "episode_index", pa.array(np.arange(8, 0, -1)))
    eps[2] = _episode(tmp_path, 2, 2, t)
    with pytest.raises(ConversionError) as exc:
        data_mod.read_source_batch(eps, schema)
    _err(exc, eps[2].data_file, "episode_index column holds [1, 2, 3, 4, 5], expected 2")
    # a file that claims an old index of its neighbour, alone in the batch
    alone = EpisodePlan(4, 0, 1, [], eps[3].data_file, eps[3].data_bytes)
    with pytest.raises(ConversionError) as exc:
        data_mod.read_source_batch([alone], schema)
    _err(exc, eps[3].data_file, "episode_index column holds [3], expected 4")


def test_read_source_batch_task_index_errors(tmp_path: Path) -> None:
    eps = [_episode(tmp_path, 0, 0, _table(0, 2, tasks=[0, 1]))]
    eps.append(_episode(tmp_path, 1, 1, _table(1, 3, tasks=[1, 2, 0])))
    eps.append(_episode(tmp_path, 2, 2, _table(2, 2, tasks=[7, 2])))
    plan = _plan(tmp_path, eps)
    schema = data_mod.target_schema(plan)
    with pytest.raises(ConversionError) as exc:
        data_mod.read_source_batch(eps, schema, [0, 1])
    _err(exc, eps[1].data_file, "task_index 2 is not in meta/tasks.jsonl")
    got = data_mod.read_source_batch(eps, schema, [0, 1, 2, 7])  # all known: fine
    assert got.column("task_index").to_pylist() == [0, 1, 1, 2, 0, 7, 2]
    # a null task_index (read as NaN) is not a task either
    t = _table(3, 3)
    t = t.set_column(6, "task_index", pa.array([0, None, 1], pa.int64()))
    eps.append(_episode(tmp_path, 3, 3, t))
    with pytest.raises(ConversionError) as exc:
        data_mod.read_source_batch(eps, schema, {0, 1, 2, 7})
    _err(exc, eps[3].data_file, "task_index None is not in meta/tasks.jsonl")
    # ... even when tasks.jsonl lists a task_index -1 (the placeholder of unreadable values)
    with pytest.raises(ConversionError) as exc:
        data_mod.read_source_batch(eps, schema, [-1, 0, 1, 2, 7])
    _err(exc, eps[3].data_file, "task_index None is not in meta/tasks.jsonl")
    # without task indices the values are not checked
    assert data_mod.read_source_batch(eps, schema).num_rows == 10


def test_read_source_batch_float_task_index(tmp_path: Path) -> None:
    """A float task_index column: whole values are tasks, 1.5 is not."""
    t = _table(0, 3)
    t = t.set_column(6, "task_index", pa.array([0.0, 1.0, 1.0]))
    eps = [_episode(tmp_path, 0, 0, t)]
    t = _table(1, 2).set_column(6, "task_index", pa.array([1.0, 1.5]))
    eps.append(_episode(tmp_path, 1, 1, t))
    features = {**FEATURES, "task_index": {"dtype": "float64", "shape": [1]}}
    plan = _plan(tmp_path, eps, features)
    schema = data_mod.target_schema(plan)
    assert data_mod.read_source_batch(eps[:1], schema, [0, 1]).num_rows == 3
    with pytest.raises(ConversionError) as exc:
        data_mod.read_source_batch(eps, schema, [0, 1])
    _err(exc, eps[1].data_file, "task_index 1.5 is not in meta/tasks.jsonl")


# ---------------------------------------------------------------------------------------------
# rewriting: episode_index, index, task_index


def test_int_column() -> None:
    where = Path("/x/ep.parquet")
    values = np.array([1, 2, 3], dtype=np.int64)
    same = data_mod._int_column(values, pa.field("index", pa.int64()), where)
    assert same.type == pa.int64() and same.to_pylist() == [1, 2, 3]
    narrow = data_mod._int_column(values, pa.field("index", pa.int32()), where)
    assert narrow.type == pa.int32() and narrow.to_pylist() == [1, 2, 3]
    with pytest.raises(ConversionError) as exc:
        data_mod._int_column(np.array([1, 300]), pa.field("index", pa.int8()), where)
    assert exc.value.file == str(where)
    assert exc.value.message.startswith("column 'index': cannot hold ")
    assert "300" in exc.value.message
    with pytest.raises(ConversionError, match=r"^/x/ep\.parquet: column 'f': cannot hold "):
        data_mod._int_column(values, pa.field("f", pa.struct([("a", pa.int8())])), where)


def test_rewrite_batch_renumbers(tmp_path: Path) -> None:
    eps = [
        _episode(tmp_path, 3, 1, _table(3, 2, tasks=[2, 0])),
        _episode(tmp_path, 8, 2, _table(8, 3, tasks=[0, 2, 2])),
    ]
    plan = _plan(tmp_path, eps, remap={0: 0, 2: 1})
    schema = data_mod.target_schema(plan)
    source = data_mod.read_source_batch(eps, schema, plan.task_remap)
    got = data_mod.rewrite_batch(source, eps, 40, plan, schema)
    assert got.schema.equals(schema, check_metadata=True)
    assert got.column("episode_index").to_pylist() == [1, 1, 2, 2, 2]
    assert got.column("index").to_pylist() == [40, 41, 42, 43, 44]
    assert got.column("task_index").to_pylist() == [1, 0, 0, 1, 1]
    for name in ("action", "observation.state", "timestamp", "frame_index"):
        assert got.column(name).equals(source.column(name)), name


def test_rewrite_batch_remap_without_fixed_point(tmp_path: Path) -> None:
    eps = [_episode(tmp_path, 0, 0, _table(0, 4, tasks=[3, 5, 5, 3]))]
    plan = _plan(tmp_path, eps, remap={3: 0, 5: 1})
    schema = data_mod.target_schema(plan)
    source = data_mod.read_source_batch(eps, schema, plan.task_remap)
    got = data_mod.rewrite_batch(source, eps, 0, plan, schema)
    assert got.column("task_index").to_pylist() == [0, 1, 1, 0]


def test_rewrite_batch_narrow_columns_name_the_file(tmp_path: Path) -> None:
    """New values a narrow source type cannot hold: the error names the batch's first file."""
    t = _table(0, 2, tasks=[0, 1])
    for name in ("episode_index", "task_index"):
        i = t.column_names.index(name)
        t = t.set_column(i, name, t.column(name).cast(pa.int8()))
    eps = [_episode(tmp_path, 0, 300, t), _episode(tmp_path, 1, 301, _table(1, 1))]
    plan = _plan(tmp_path, eps)
    schema = data_mod.target_schema(plan)
    source = data_mod.read_source_batch(eps, schema)
    with pytest.raises(ConversionError) as exc:
        data_mod.rewrite_batch(source, eps, 0, plan, schema)
    assert exc.value.file == str(eps[0].data_file)
    assert exc.value.message.startswith("column 'episode_index': cannot hold ")
    for ep, new in zip(eps, (0, 1), strict=True):
        ep.new_index = new
    plan = _plan(tmp_path, eps, remap={0: 0, 1: 200})
    with pytest.raises(ConversionError) as exc:
        data_mod.rewrite_batch(source, eps, 0, plan, schema)
    assert exc.value.file == str(eps[0].data_file)
    assert exc.value.message.startswith("column 'task_index': cannot hold ")


def test_rewrite_batch_keeps_task_index_when_remap_is_identity(tmp_path: Path) -> None:
    eps = [_episode(tmp_path, 0, 0, _table(0, 3, tasks=[1, 0, 1]))]
    t = _table(0, 3, tasks=[1, 0, 1])
    t = t.set_column(6, "task_index", t.column("task_index").cast(pa.int32()))
    eps = [_episode(tmp_path, 0, 0, t)]
    plan = _plan(tmp_path, eps, remap={0: 0, 1: 1})
    schema = data_mod.target_schema(plan)
    source = data_mod.read_source_batch(eps, schema)
    got = data_mod.rewrite_batch(source, eps, 0, plan, schema)
    assert got.column("task_index").type == pa.int32()
    assert got.column("task_index").to_pylist() == [1, 0, 1]


@pytest.mark.parametrize(
    ("values", "bad"),
    [([0, 1], 1), ([2, 5], 5), ([0, -1], -1), ([0, None], None), ([4, 2], 4)],
)
def test_rewrite_batch_unknown_task_names_the_file(
    tmp_path: Path, values: list, bad: int | None
) -> None:
    eps = [
        _episode(tmp_path, 0, 0, _table(0, 2, tasks=[0, 2])),
        _episode(tmp_path, 1, 1, _table(1, 2).set_column(6, "task_index", pa.array(values))),
    ]
    plan = _plan(tmp_path, eps, remap={0: 0, 2: 1, 3: 2})
    schema = data_mod.target_schema(plan)
    source = data_mod.read_source_batch(eps, schema)
    with pytest.raises(ConversionError) as exc:
        data_mod.rewrite_batch(source, eps, 0, plan, schema)
    _err(exc, eps[1].data_file, f"task_index {bad} is not in meta/tasks.jsonl")


def test_rewrite_batch_index_too_big_for_the_column(tmp_path: Path) -> None:
    t = _table(0, 3)
    t = t.set_column(5, "index", t.column("index").cast(pa.int16()))
    eps = [_episode(tmp_path, 0, 0, t)]
    plan = _plan(tmp_path, eps)
    schema = data_mod.target_schema(plan)
    source = data_mod.read_source_batch(eps, schema)
    got = data_mod.rewrite_batch(source, eps, 32765, plan, schema)
    assert got.column("index").to_pylist() == [32765, 32766, 32767]
    with pytest.raises(ConversionError) as exc:
        data_mod.rewrite_batch(source, eps, 32766, plan, schema)
    assert exc.value.file == str(eps[0].data_file)
    assert exc.value.message.startswith("column 'index': cannot hold ")


# ---------------------------------------------------------------------------------------------
# batches and roll-over


def _fake(lengths: list[int], sizes: list[int]) -> list[EpisodePlan]:
    return [
        EpisodePlan(i, i, k, [], Path(f"/e{i}"), b)
        for i, (k, b) in enumerate(zip(lengths, sizes, strict=True))
    ]


def _shape(batches) -> list[tuple[bool, list[int]]]:
    return [(new, [ep.old_index for ep in batch]) for new, batch in batches]


def _recorder_files(episodes: list[EpisodePlan], limit: float) -> list[int]:
    """Which data file each episode lands in, by the rule LeRobot applies per episode."""
    out, file, size, opened = [], 0, 0, False
    for ep in episodes:
        if opened and size + ep.data_bytes >= limit:
            file, size = file + 1, 0
        opened = True
        size += ep.data_bytes
        out.append(file)
    return out


def test_plan_batches_roll_over_at_the_limit() -> None:
    eps = _fake([1] * 6, [10, 20, 30, 5, 100, 1])
    got = _shape(data_mod.plan_batches(eps, 60))
    # 10+20+30 = 60 >= 60: the third starts a new file; 100 alone exceeds the limit
    assert got == [(True, [0, 1]), (True, [2, 3]), (True, [4]), (True, [5])]
    assert _shape(data_mod.plan_batches(eps, 61)) == [
        (True, [0, 1, 2]),
        (True, [3]),
        (True, [4]),
        (True, [5]),
    ]
    # a new file's size starts from nothing: 30 + 30 = 60 < 61 stays in one file
    assert _shape(data_mod.plan_batches(_fake([1] * 3, [50, 30, 30]), 61)) == [
        (True, [0]),
        (True, [1, 2]),
    ]
    # the first episode never rolls, even above the limit
    assert _shape(data_mod.plan_batches(_fake([1, 1], [500, 1]), 100)) == [
        (True, [0]),
        (True, [1]),
    ]
    assert _shape(data_mod.plan_batches(_fake([3], [500]), 100)) == [(True, [0])]
    for limit in (1, 15, 31, 60, 61, 165, 166, 10**6):
        files = _recorder_files(eps, limit)
        placed, file = [], -1
        for new, batch in data_mod.plan_batches(eps, limit):
            file += new
            placed += [file] * len(batch)
        assert placed == files, limit


def test_plan_batches_cut_at_batch_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(data_mod, "BATCH_EPISODES", 3)
    monkeypatch.setattr(data_mod, "BATCH_ROWS", 10)
    monkeypatch.setattr(data_mod, "BATCH_BYTES", 100)
    big = 10**9
    eps = _fake([1] * 7, [1] * 7)
    assert _shape(data_mod.plan_batches(eps, big)) == [
        (True, [0, 1, 2]),
        (False, [3, 4, 5]),
        (False, [6]),
    ]
    eps = _fake([4, 6, 1, 9, 2], [1] * 5)  # 4+6 = 10 rows fit; 1 more does not
    assert _shape(data_mod.plan_batches(eps, big)) == [
        (True, [0, 1]),
        (False, [2, 3]),
        (False, [4]),
    ]
    eps = _fake([1] * 4, [50, 50, 1, 99])  # 100 bytes fit; 101 do not
    assert _shape(data_mod.plan_batches(eps, big)) == [(True, [0, 1]), (False, [2, 3])]
    eps = _fake([11, 1], [1, 1])  # one episode above the row limit is a batch of its own
    assert _shape(data_mod.plan_batches(eps, big)) == [(True, [0]), (False, [1])]
    # a roll-over and a full batch at the same episode: one new-file batch
    eps = _fake([1] * 5, [10] * 5)
    assert _shape(data_mod.plan_batches(eps, 30)) == [
        (True, [0, 1]),
        (True, [2, 3]),
        (True, [4]),
    ]
    assert _shape(data_mod.plan_batches(_fake([1] * 4, [10] * 4), 40)) == [
        (True, [0, 1, 2]),
        (True, [3]),
    ]
    # after a batch cut inside a file, the file's size keeps counting
    eps = _fake([1] * 5, [10] * 5)
    assert _shape(data_mod.plan_batches(eps, 45)) == [
        (True, [0, 1, 2]),
        (False, [3]),
        (True, [4]),
    ]


def test_plan_batches_default_limits() -> None:
    assert data_mod.BATCH_EPISODES == 256
    assert data_mod.BATCH_ROWS == 65536
    assert data_mod.BATCH_BYTES == 64 * 1024**2
    assert data_mod.MB == 1024**2
    assert data_mod._SMALL_FILE == 8 * 1024**2
    eps = _fake([1] * 257, [1] * 257)
    assert [len(b) for _, b in data_mod.plan_batches(eps, 10**9)] == [256, 1]
    eps = _fake([65536, 1, 65535, 1], [1] * 4)
    assert [len(b) for _, b in data_mod.plan_batches(eps, 10**9)] == [1, 2, 1]
    eps = _fake([1] * 3, [32 * 1024**2, 32 * 1024**2, 1])
    assert [len(b) for _, b in data_mod.plan_batches(eps, 10**12)] == [2, 1]
    assert list(data_mod.plan_batches([], 10)) == []


# ---------------------------------------------------------------------------------------------
# write_data end to end (in-process, tiny files)


def _spool(path: Path) -> pa.Table:
    return pa.ipc.open_file(str(path)).read_all()


def test_write_data_files_chunks_and_spool(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(data_mod, "BATCH_EPISODES", 2)
    plan = _source(tmp_path, [3, 2, 4, 1, 2], olds=[1, 4, 6, 7, 9], chunks_size=2)
    sizes = [ep.data_bytes for ep in plan.episodes]
    # file 0: episodes 0,1,2 (two batches); then every episode rolls: 3 | 4
    data_mb = (sum(sizes[:3]) + 1) / data_mod.MB
    for ep in plan.episodes[3:]:
        ep.data_bytes = sum(sizes[:3]) + 1
    out = tmp_path / "out"
    closed, ticks, seen = [], [], []
    result = data_mod.write_data(
        plan,
        out,
        data_mb,
        tmp_path / "spool" / "data.arrow",
        on_episode=lambda ep: ticks.append(ep.old_index),
        on_file_closed=lambda p: closed.append(p.relative_to(out).as_posix()),
        on_source=lambda batch, t: seen.append(
            ([ep.old_index for ep in batch], t.column("episode_index").to_pylist())
        ),
    )
    files = ["data/chunk-000/file-000.parquet", "data/chunk-000/file-001.parquet"]
    files.append("data/chunk-001/file-000.parquet")
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.parquet")) == files
    assert closed == files
    assert ticks == [1, 4, 6, 7, 9]
    assert seen == [
        ([1, 4], [1, 1, 1, 4, 4]),
        ([6], [6] * 4),
        ([7], [7]),
        ([9], [9, 9]),
    ]
    assert (result.files, result.episodes) == (3, 5)
    assert result.spool == tmp_path / "spool" / "data.arrow"
    schema = data_mod.target_schema(plan)
    rows = []
    for rel, row_groups in zip(files, ([5, 4], [1], [2]), strict=True):
        f = pq.ParquetFile(out / rel)
        assert f.schema_arrow.equals(schema, check_metadata=True)
        meta = f.metadata
        assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == row_groups
        for i in range(meta.num_row_groups):
            for c in range(meta.num_columns):
                col = meta.row_group(i).column(c)
                assert col.compression == "SNAPPY"
                assert col.has_dictionary_page, (rel, c)
        rows.append(f.read())
    written = pa.concat_tables(rows)
    assert written.column("index").to_pylist() == list(range(12))
    assert (
        written.column("episode_index").to_pylist() == [0] * 3 + [1] * 2 + [2] * 4 + [3] + [4] * 2
    )
    assert written.column("task_index").to_pylist() == [1] * 3 + [0] * 2 + [0] * 4 + [1] + [1] * 2
    source = pa.concat_tables([pq.read_table(ep.data_file).select(COLUMNS) for ep in plan.episodes])
    for name in ("action", "observation.state", "timestamp", "frame_index"):
        assert written.column(name).equals(source.column(name)), name
    spool = _spool(result.spool)
    assert spool.column("episode_index").to_pylist() == [0, 1, 2, 3, 4]
    assert spool.column("length").to_pylist() == [3, 2, 4, 1, 2]
    assert spool.column("data/chunk_index").to_pylist() == [0, 0, 0, 0, 1]
    assert spool.column("data/file_index").to_pylist() == [0, 0, 0, 1, 0]
    assert spool.column("dataset_from_index").to_pylist() == [0, 3, 5, 9, 10]
    assert spool.column("dataset_to_index").to_pylist() == [3, 5, 9, 10, 12]
    assert spool.column("tasks").to_pylist() == [["t"]] * 5
    ts = spool.column("stats/timestamp/max").to_pylist()
    assert ts == [[2 / FPS], [1 / FPS], [3 / FPS], [0.0], [1 / FPS]]
    assert spool.column("stats/index/min").to_pylist() == [[0], [3], [5], [9], [10]]
    assert "stats/observation.images.cam/min" not in spool.column_names


def test_write_data_one_file_and_default_data_path(tmp_path: Path) -> None:
    plan = _source(tmp_path, [2, 3])
    result = data_mod.write_data(plan, tmp_path / "out", 100, tmp_path / "s.arrow")
    assert (result.files, result.episodes) == (1, 2)
    files = list((tmp_path / "out").rglob("*.parquet"))
    assert files == [tmp_path / "out" / "data" / "chunk-000" / "file-000.parquet"]
    meta = pq.read_metadata(files[0])
    assert meta.num_row_groups == 1 and meta.num_rows == 5


def test_write_data_closes_the_file_on_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(data_mod, "BATCH_EPISODES", 1)
    plan = _source(tmp_path, [2, 3, 2])
    plan.episodes[2].length = 9  # the third file disagrees with episodes.jsonl
    closed: list[Path] = []
    with pytest.raises(ConversionError) as exc:
        data_mod.write_data(
            plan, tmp_path / "out", 100, tmp_path / "s.arrow", on_file_closed=closed.append
        )
    _err(exc, plan.episodes[2].data_file, "has 2 rows but meta/episodes.jsonl says length 9")
    path = tmp_path / "out" / "data" / "chunk-000" / "file-000.parquet"
    assert closed == []  # nothing reported as complete
    assert pq.read_table(path).column("index").to_pylist() == [0, 1, 2, 3, 4]  # footer written


def test_write_data_one_row_group_per_batch_above_arrows_default(tmp_path: Path) -> None:
    """An episode longer than arrow's default row group (1Mi rows) is still one row group."""
    n = 1024 * 1024 + 1
    t = pa.table(
        {
            "episode_index": pa.array(np.zeros(n, dtype=np.int64)),
            "index": pa.array(np.arange(n, dtype=np.int64)),
            "task_index": pa.array(np.zeros(n, dtype=np.int64)),
        }
    )
    features = {k: {"dtype": "int64", "shape": [1]} for k in t.column_names}
    plan = _plan(tmp_path, [_episode(tmp_path, 0, 0, t)], features, remap={0: 0})
    data_mod.write_data(plan, tmp_path / "out", 100, tmp_path / "s.arrow")
    meta = pq.read_metadata(tmp_path / "out" / "data" / "chunk-000" / "file-000.parquet")
    assert (meta.num_row_groups, meta.num_rows) == (1, n)
