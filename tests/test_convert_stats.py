"""Our numpy port of LeRobot's statistics equals the pinned LeRobot's code, bit for bit.

The converter cannot import LeRobot (it runs in the light tools env), so ``scripts.convert.stats``
re-implements ``RunningQuantileStats`` (with exact shortcuts) and ``aggregate_feature_stats``
(pairwise). Here the pinned LeRobot's own source text for those two is executed in isolation
(its module imports torch, so the functions are lifted out of the file) and compared with the
port on many shapes and dtypes, including constant columns, single rows and uint8/uint16
pictures.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import lerobot_compute_stats

from scripts.convert import stats as ours
from scripts.convert.aggregate import aggregate_episode_files
from scripts.convert.metadata import (
    Spool,
    episode_column_order,
    spool_stats_keys,
    spooled_tables,
    write_episodes,
)


@pytest.fixture(scope="module")
def lerobot() -> dict:
    """RunningQuantileStats / aggregate_feature_stats / get_feature_stats from the pinned file."""
    try:
        return lerobot_compute_stats.load()
    except FileNotFoundError as exc:
        pytest.fail(str(exc))


def _same(a: dict, b: dict, what: str) -> None:
    assert list(a) == list(b), what
    for k in b:
        assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape, (what, k)
        assert np.array_equal(a[k], b[k], equal_nan=True), (what, k, a[k], b[k])


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.bool_])
@pytest.mark.parametrize("rows", [1, 2, 3, 8, 301])
def test_numeric_stats_equal_lerobot(lerobot: dict, dtype, rows: int) -> None:
    rng = np.random.default_rng(rows)
    for dims in (1, 6, 45):
        data = (rng.normal(size=(rows, dims)) * 50).astype(dtype)
        if dims == 1:
            data = data[:, 0]  # shape-(1,) features arrive as (N,)
        ref = lerobot["get_feature_stats"](data, axis=0, keepdims=data.ndim == 1)
        _same(ours.numeric_feature_stats(data), ref, f"{dtype} {rows}x{dims}")
    const = np.full((rows, 3), 7, dtype=dtype)
    _same(
        ours.numeric_feature_stats(const),
        lerobot["get_feature_stats"](const, axis=0, keepdims=False),
        "constant",
    )


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("frames", [1, 5, 40])
def test_image_stats_equal_lerobot(lerobot: dict, dtype, frames: int) -> None:
    rng = np.random.default_rng(frames)
    high = 256 if dtype == np.uint8 else 4096
    imgs = rng.integers(3, high, size=(frames, 3 if dtype == np.uint8 else 1, 24, 32)).astype(dtype)
    ref = lerobot["get_feature_stats"](imgs, axis=(0, 2, 3), keepdims=True)
    factor = 255.0 if dtype == np.uint8 else 1.0
    ref = {k: v if k == "count" else np.squeeze(v / factor, axis=0) for k, v in ref.items()}
    _same(ours.image_feature_stats(imgs, is_depth=dtype != np.uint8), ref, str(dtype))


def test_stats_json_aggregate_equals_lerobot_converter(lerobot: dict, tmp_path: Path) -> None:
    """stats.json = LeRobot's ``aggregate_feature_stats`` over the per-episode stats as written.

    The per-episode rows go through the real spool (Arrow IPC) and meta/episodes files, as in
    a conversion; the reference takes the same rows as float64 arrays, as LeRobot's converter
    casts ``episodes_stats.jsonl``, and runs the pinned LeRobot function on the list.
    """
    rng = np.random.default_rng(3)
    makers = {
        "f32": lambda: ours.numeric_feature_stats(
            rng.normal(size=(int(rng.integers(1, 9)), 6)).astype(np.float32)
        ),
        "i64": lambda: ours.numeric_feature_stats(rng.integers(0, 99, int(rng.integers(1, 9)))),
        "img": lambda: ours.image_feature_stats(
            rng.integers(0, 255, (int(rng.integers(1, 4)), 3, 8, 10)).astype(np.uint8)
        ),
    }
    features = {name: {} for name in makers}
    rows = [{"episode_index": i, "stats": {n: m() for n, m in makers.items()}} for i in range(2500)]
    spool = Spool(tmp_path / "spool.arrow", features)
    for row in rows:
        spool.add(row)
    order = episode_column_order(features, [], spool_stats_keys([spool.close()]))
    write_episodes(spooled_tables([spool.path], order), tmp_path, 0.05, 1000)  # several files
    files = sorted((tmp_path / "meta/episodes").glob("*/*.parquet"))
    assert len(files) > 1
    got = aggregate_episode_files(files, list(makers))
    for name in makers:
        as_json = [
            {k: np.array(np.asarray(v).tolist()) for k, v in r["stats"][name].items()} for r in rows
        ]
        _same(got[name], lerobot["aggregate_feature_stats"](as_json), name)


@pytest.mark.parametrize("rows", [2, 7, 100, 1200])
def test_numeric_stats_equal_lerobot_awkward_columns(lerobot: dict, rows: int) -> None:
    """Ties, huge and tiny magnitudes, constant columns next to varying ones (zero-step edges)."""
    rng = np.random.default_rng(rows + 11)
    cols = [
        rng.integers(0, 3, rows).astype(np.float32),  # many ties
        np.full(rows, 1.0e7, np.float32),  # constant: linspace step is zero in float32
        rng.normal(size=rows).astype(np.float32) * 1e-6,
        rng.normal(size=rows).astype(np.float32) * 1e6,
        np.linspace(-1, 1, rows, dtype=np.float32),
        np.full(rows, -3.25, np.float32),
    ]
    data = np.stack(cols, axis=1)
    for arr in (data, data.astype(np.float64), (data * 1000).astype(np.int64)):
        ref = lerobot["get_feature_stats"](arr, axis=0, keepdims=False)
        _same(ours.numeric_feature_stats(arr), ref, f"{arr.dtype} {rows}")
        for j in range(arr.shape[1]):
            col = arr[:, j]
            ref = lerobot["get_feature_stats"](col, axis=0, keepdims=True)
            _same(ours.numeric_feature_stats(col), ref, f"{arr.dtype} {rows} col {j}")


@pytest.mark.parametrize("rows", [1, 2, 5, 64, 700])
def test_many_features_at_once_equal_lerobot(lerobot: dict, rows: int) -> None:
    """An episode's numeric columns done together (as the converter does) == one by one."""
    rng = np.random.default_rng(rows)
    arrays = {
        "action": (rng.normal(size=(rows, 6)) * 30).astype(np.float32),
        "observation.state": (rng.normal(size=(rows, 45)) * 3).astype(np.float32),
        "timestamp": np.arange(rows) / 30,
        "frame_index": np.arange(rows, dtype=np.int64),
        "episode_index": np.full(rows, 7, dtype=np.int64),
        "flag": rng.integers(0, 2, rows).astype(np.bool_),
        "const32": np.full((rows, 2), 1.0e7, np.float32),
    }
    got = ours.numeric_stats_many(arrays)
    assert list(got) == list(arrays)
    for key, values in arrays.items():
        ref = lerobot["get_feature_stats"](values, axis=0, keepdims=values.ndim == 1)
        _same(got[key], ref, f"{key} {rows}")


@pytest.mark.parametrize("frames", [1, 2, 7, 100])
def test_camera_frame_stats_equal_lerobot(lerobot: dict, frames: int) -> None:
    """Sampled RGB frames as the converter stacks them (several sizes, flat and busy pictures)."""
    rng = np.random.default_rng(frames + 5)
    for h, w in ((64, 80), (96, 128)):
        imgs = rng.integers(0, 256, size=(frames, 3, h, w)).astype(np.uint8)
        imgs[:, 1] //= 7  # a narrow channel
        imgs[:, 2, : h // 2] = 255  # a channel with a large flat area
        ref = lerobot["get_feature_stats"](imgs, axis=(0, 2, 3), keepdims=True)
        ref = {k: v if k == "count" else np.squeeze(v / 255.0, axis=0) for k, v in ref.items()}
        _same(ours.image_feature_stats(imgs), ref, f"{frames}x{h}x{w}")
