"""Our numpy port of LeRobot's statistics: LeRobot's own where it is right, exact where not.

The converter cannot import LeRobot (it runs in the light tools env), so ``scripts.convert.stats``
re-implements ``RunningQuantileStats`` (with exact shortcuts) and ``aggregate_feature_stats``
(pairwise). Here the pinned LeRobot's own source text for those two is executed in isolation
(its module imports torch, so the functions are lifted out of the file) and compared with the
port on many shapes and dtypes, including constant columns, single rows and uint8/uint16
pictures: min, max, count and quantiles bit for bit. Mean and std are compared with NumPy in
float64 over the same values instead, because LeRobot's (float32 ``E[x^2] - E[x]^2``) are
wrong for features far from zero: the offset tests show both.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import lerobot_compute_stats, lerobot_meta

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
    return lerobot_meta.or_fail(lerobot_compute_stats.load)


EXACT_RTOL = 1e-9  # the bar for mean/std against NumPy float64 over the rows


def _same(a: dict, b: dict, what: str, data: np.ndarray, axis: int | tuple = 0) -> None:
    """LeRobot's stats ``b`` bit for bit, except mean/std: NumPy float64 over ``data``."""
    assert list(a) == list(b), what
    wide = data.astype(np.float64)
    truth = {"mean": wide.mean(axis=axis), "std": wide.std(axis=axis)}
    for k in b:
        if k in truth:
            want = truth[k].reshape(a[k].shape) / (255.0 if data.dtype == np.uint8 else 1.0)
            assert a[k].dtype == np.float64 and a[k].shape == b[k].shape, (what, k)
            np.testing.assert_allclose(a[k], want, rtol=EXACT_RTOL, atol=1e-300, err_msg=what)
            continue
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
        _same(ours.numeric_feature_stats(data), ref, f"{dtype} {rows}x{dims}", data)
    const = np.full((rows, 3), 7, dtype=dtype)
    _same(
        ours.numeric_feature_stats(const),
        lerobot["get_feature_stats"](const, axis=0, keepdims=False),
        "constant",
        const,
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
    got = ours.image_feature_stats(imgs, is_depth=dtype != np.uint8)
    _same(got, ref, str(dtype), imgs, axis=(0, 2, 3))


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
        ref = lerobot["aggregate_feature_stats"](as_json)
        assert list(got[name]) == list(ref)
        for k in ref:  # the same float64 parallel formula on the same per-episode values
            assert np.array_equal(got[name][k], ref[k]), (name, k)


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
        _same(ours.numeric_feature_stats(arr), ref, f"{arr.dtype} {rows}", arr)
        for j in range(arr.shape[1]):
            col = arr[:, j]
            ref = lerobot["get_feature_stats"](col, axis=0, keepdims=True)
            _same(ours.numeric_feature_stats(col), ref, f"{arr.dtype} {rows} col {j}", col)


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
        _same(got[key], ref, f"{key} {rows}", values)


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
        _same(ours.image_feature_stats(imgs), ref, f"{frames}x{h}x{w}", imgs, axis=(0, 2, 3))


OFFSET_COLUMNS = {"at 2048 +- 0.05": (2048.0, 0.05), "at 95 +- 0.01": (95.0, 0.01)}


@pytest.mark.parametrize("rows", [30, 81, 300])
def test_offset_features_exact_where_lerobot_is_not(lerobot: dict, rows: int) -> None:
    """Raw Dynamixel ticks: LeRobot's float32 ``E[x^2]-E[x]^2`` collapses, ours is exact.

    External truth is NumPy in float64 over the same float32 values; the LeRobot reference
    shows the defect is real (its std is 0 or far off), so this test would fail on a port that
    copied LeRobot's arithmetic.
    """
    rng = np.random.default_rng(rows)
    cols = [c + s * rng.standard_normal(rows) for c, s in OFFSET_COLUMNS.values()]
    data = np.stack(cols, axis=1).astype(np.float32)
    truth = data.astype(np.float64).std(axis=0)
    lerobot_std = lerobot["get_feature_stats"](data, axis=0, keepdims=False)["std"]
    assert (np.abs(lerobot_std / truth - 1) > 0.05).any(), lerobot_std  # the defect
    for got in (
        ours.numeric_feature_stats(data),
        ours.numeric_stats_many({"a": data})["a"],
        ours.numeric_stats_segments({"a": np.concatenate([data, data])}, np.array([rows] * 2))[1][
            "a"
        ],
    ):
        np.testing.assert_allclose(got["std"], truth, rtol=EXACT_RTOL)
        np.testing.assert_allclose(got["mean"], data.astype(np.float64).mean(0), rtol=1e-12)


def test_flat_images_exact() -> None:
    """Image stats cannot cancel: integer pixels' mean/std come from exact value counts.

    A picture that is nearly flat at a large value (grey 250 +- 1 over many pixels) is the
    image analogue of an offset joint; float32 sums of squares over ~10^6 pixels would lose
    its variance. Ours equals NumPy float64, for the batched path and the reference path.
    """
    rng = np.random.default_rng(1)
    imgs = (250 + rng.integers(-1, 2, size=(100, 3, 96, 128))).astype(np.uint8)
    truth = imgs.astype(np.float64).std(axis=(0, 2, 3)) / 255.0
    got = ours.image_feature_stats(imgs)
    np.testing.assert_allclose(got["std"].ravel(), truth, rtol=EXACT_RTOL)
    batched = ours.image_stats_batch([imgs.transpose(0, 2, 3, 1)])[0]
    np.testing.assert_allclose(batched["std"].ravel(), truth, rtol=EXACT_RTOL)
    np.testing.assert_allclose(
        batched["mean"].ravel(), imgs.astype(np.float64).mean(axis=(0, 2, 3)) / 255, rtol=1e-12
    )
