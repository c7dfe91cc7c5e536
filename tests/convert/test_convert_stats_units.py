"""``scripts.convert.stats`` function by function, where the broader tests cannot see a change.

Each test pins one promise against an external truth: ``np.linspace`` for ``_edges`` (with an
empty arange cache, as in a fresh converter process), LeRobot 0.6.1's own
``RunningQuantileStats`` / ``get_feature_stats`` for min/max/count/quantiles (dtype, shape,
bits) on the inputs where the shortcuts differ from the plain path (a channel that is all
zero, flat pictures of a few pixels, a single pixel, float pictures, a 3-D batch), NumPy
float64 for means and stds, and the documented routes of the picture paths: which frames
``image_stats_eligible`` accepts, and that the batched picture stats equal
``image_feature_stats`` bit for bit whatever the number of channels.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import lerobot_compute_stats, lerobot_meta

from scripts.convert import stats as ours

RTOL = 1e-9  # mean/std against NumPy float64 over the same values


@pytest.fixture(scope="module")
def lerobot() -> dict:
    return lerobot_meta.or_fail(lerobot_compute_stats.load)


def _bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)


def _same(got: dict, ref: dict, values: np.ndarray, axis, factor: float, what: str) -> None:
    """LeRobot's keys, min/max/count/quantiles bit for bit; mean/std NumPy float64."""
    assert list(got) == list(ref), what
    wide = values.astype(np.float64)
    truth = {"mean": wide.mean(axis=axis) / factor, "std": wide.std(axis=axis) / factor}
    for key, want in ref.items():
        if key in truth:
            assert got[key].dtype == np.float64 and got[key].shape == want.shape, (what, key)
            np.testing.assert_allclose(
                got[key].ravel(), truth[key].ravel(), rtol=RTOL, atol=1e-300, err_msg=what
            )
            continue
        assert _bits(got[key], want), (what, key, got[key], want)


def _lerobot_image(lerobot: dict, imgs: np.ndarray, factor: float = 255.0) -> dict:
    ref = lerobot["get_feature_stats"](imgs, axis=(0, 2, 3), keepdims=True)
    return {k: v if k == "count" else np.squeeze(v / factor, axis=0) for k, v in ref.items()}


# ---------------------------------------------------------------------------------------------
# _edges with an empty arange cache
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("num", [7, 5001])
def test_edges_from_an_empty_cache_equal_linspace(
    monkeypatch: pytest.MonkeyPatch, dtype, num: int
) -> None:
    """The first call for a (dtype, num) builds ``arange(0, num)`` of that dtype and caches it."""
    monkeypatch.setattr(ours, "_ARANGE", {})
    starts = np.array([-3.5, 0.0, 2.0, 1e6, -1.0], dtype=dtype)
    stops = np.array([4.25, 1e-3, 2.0, 1e6, 5.0], dtype=dtype)  # rows 2 and 3: zero steps
    want = np.stack([np.linspace(a, b, num) for a, b in zip(starts, stops, strict=True)])
    for _ in range(2):  # a cache miss, then a hit
        got = ours._edges(starts, stops, num)
        assert got.dtype == want.dtype == dtype and got.shape == (5, num)
        assert np.array_equal(got, want)
    cached = ours._ARANGE[(np.dtype(dtype).str, num)]
    assert _bits(cached, np.arange(num, dtype=dtype))


# ---------------------------------------------------------------------------------------------
# RunningQuantileStats itself
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8, np.int64])
def test_running_quantile_stats_equal_lerobot_on_a_3d_batch(lerobot: dict, dtype) -> None:
    """A (N, H, D) batch is N*H vectors of D (``reshape(-1, shape[-1])``), count included."""
    rng = np.random.default_rng(3)
    batch = (rng.normal(size=(6, 4, 3)) * 40 + 100).astype(dtype)
    ref = lerobot["RunningQuantileStats"]()
    ref.update(batch)
    want = ref.get_statistics()
    got_rq = ours.RunningQuantileStats()
    got_rq.update(batch)
    got = got_rq.get_statistics()
    assert _bits(got["count"], np.array([24])), got["count"]
    _same(got, want, batch.reshape(-1, 3), 0, 1.0, str(dtype))


def test_running_quantile_stats_refusals_name_what_is_wrong() -> None:
    """A second batch, or statistics of fewer than 2 vectors: LeRobot's message / ours, exactly."""
    one = ours.RunningQuantileStats()
    one.update(np.ones((1, 2), dtype=np.float32))
    with pytest.raises(ValueError, match=r"^Cannot compute statistics for less than 2 vectors\.$"):
        one.get_statistics()
    two = ours.RunningQuantileStats()
    two.update(np.arange(6, dtype=np.float64).reshape(3, 2))
    with pytest.raises(RuntimeError, match=r"^one batch per instance: stats are per episode$"):
        two.update(np.arange(6, dtype=np.float64).reshape(3, 2))
    with pytest.raises(ValueError, match=r"^Cannot compute statistics for less than 2 vectors\.$"):
        ours.RunningQuantileStats().get_statistics()


# ---------------------------------------------------------------------------------------------
# Pictures: shortcuts against LeRobot where they differ from the plain path
# ---------------------------------------------------------------------------------------------


def _pictures() -> dict[str, np.ndarray]:
    """(S, C, H, W) uint8 pictures the value-count shortcuts must get right."""
    rng = np.random.default_rng(11)
    zero = rng.integers(0, 256, size=(2, 3, 4, 5)).astype(np.uint8)
    zero[:, 0] = 0  # a channel that is all zero: its edges straddle 0 (max + 1e-10 matters)
    big_zero = rng.integers(0, 256, size=(3, 3, 40, 50)).astype(np.uint8)
    big_zero[:, 2] = 0
    flat = np.empty((2, 3, 3, 4), dtype=np.uint8)  # every channel constant: zero-step edges
    flat[:, 0], flat[:, 1], flat[:, 2] = 7, 200, 255
    flat_zero = flat.copy()
    flat_zero[:, 1] = 0
    return {"zero": zero, "big_zero": big_zero, "flat": flat, "flat_zero": flat_zero}


@pytest.mark.parametrize("name", list(_pictures()))
def test_picture_stats_equal_lerobot_zero_and_flat_channels(lerobot: dict, name: str) -> None:
    """Reference and batched picture paths, quantile dtypes included (q01 of few pixels)."""
    imgs = _pictures()[name]
    ref = _lerobot_image(lerobot, imgs)
    _same(ours.image_feature_stats(imgs), ref, imgs, (0, 2, 3), 255.0, f"{name} reference")
    frames = [f.transpose(1, 2, 0) for f in imgs]
    assert ours.image_stats_eligible(frames)
    (batched,) = ours.image_stats_batch([frames])
    _same(batched, ref, imgs, (0, 2, 3), 255.0, f"{name} batched")
    planes = ours.episode_planes(frames)
    (direct,) = ours.rgb_stats_planes([(planes, len(frames))])
    _same(direct, ref, imgs, (0, 2, 3), 255.0, f"{name} planes")


def test_single_pixel_picture_equal_lerobot(lerobot: dict) -> None:
    """One pixel: LeRobot's fewer-than-2 fallback (quantiles are its float32 mean)."""
    imgs = np.array([[[[3]], [[250]], [[0]]]], dtype=np.uint8)  # (1, 3, 1, 1)
    ref = _lerobot_image(lerobot, imgs)
    _same(ours.image_feature_stats(imgs), ref, imgs, (0, 2, 3), 255.0, "one pixel")
    assert not ours.image_stats_eligible([imgs[0].transpose(1, 2, 0)])


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_pictures_equal_lerobot(lerobot: dict, channels: int, dtype) -> None:
    """Float pictures (no value counts possible) take the plain path, scaled or not."""
    rng = np.random.default_rng(channels)
    imgs = (rng.random(size=(3, channels, 6, 7)) * 255).astype(dtype)
    ref = _lerobot_image(lerobot, imgs)
    _same(ours.image_feature_stats(imgs), ref, imgs, (0, 2, 3), 255.0, "scaled")
    ref = _lerobot_image(lerobot, imgs, 1.0)
    _same(ours.image_feature_stats(imgs, is_depth=True), ref, imgs, (0, 2, 3), 1.0, "depth")


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_single_channel_pictures_are_the_numeric_stats_of_their_pixels(dtype) -> None:
    """One channel (grey, depth): exactly ``RunningQuantileStats`` over the pixel column."""
    rng = np.random.default_rng(5)
    high = 256 if dtype == np.uint8 else 5000
    imgs = rng.integers(0, high, size=(9, 1, 37, 41)).astype(dtype)
    rq = ours.RunningQuantileStats()
    rq.update(imgs.reshape(-1, 1))
    for is_depth, factor in ((False, 255.0), (True, 1.0)):
        got = ours.image_feature_stats(imgs, is_depth=is_depth)
        want = {
            k: v if k == "count" else v.reshape(-1, 1, 1) / factor
            for k, v in rq.get_statistics().items()
        }
        want["count"] = np.array([9])
        assert list(got) == list(want)
        for key, value in want.items():
            assert _bits(got[key], value), (key, is_depth, got[key], value)


@pytest.mark.parametrize("channels", [2, 3, 4])
def test_batched_pictures_equal_reference_bit_for_bit(channels: int) -> None:
    """``image_stats_batch`` = ``image_feature_stats`` of the stack, for 2 to 4 channels.

    Both sum the value counts (the std's last bit depends on the order of the sums: an
    in-order sum over the pixels differs from it for some of these episodes).
    """
    rng = np.random.default_rng(channels)
    sizes = (5, 1, 12, 3, 7, 9, 2, 11, 4, 6)
    episodes = [rng.integers(0, 256, size=(s, 29, 31, channels)).astype(np.uint8) for s in sizes]
    episodes[1][..., 0] = 9
    got = ours.image_stats_batch(episodes)
    for e, frames in enumerate(episodes):
        want = ours.image_feature_stats(np.stack([f.transpose(2, 0, 1) for f in frames]))
        assert list(got[e]) == list(want)
        for key, value in want.items():
            assert _bits(got[e][key], value), (channels, e, key, got[e][key], value)


def test_image_stats_eligible_exactly_the_value_count_path() -> None:
    """uint8, channel last, several channels, at least two pixel rows, all frames alike."""
    u8 = np.zeros((2, 3, 3), dtype=np.uint8)
    assert not ours.image_stats_eligible([])
    assert not ours.image_stats_eligible(np.zeros((0, 2, 3, 3), dtype=np.uint8))
    assert ours.image_stats_eligible([u8])
    assert ours.image_stats_eligible(np.zeros((4, 2, 3, 3), dtype=np.uint8))
    assert ours.image_stats_eligible([np.zeros((2, 3, 2), dtype=np.uint8)])  # two channels
    assert not ours.image_stats_eligible([np.zeros((2, 3, 1), dtype=np.uint8)])  # grey
    assert not ours.image_stats_eligible([np.zeros((2, 3), dtype=np.uint8)])
    assert not ours.image_stats_eligible([np.zeros((1, 2, 3, 3), dtype=np.uint8)])
    # pixel rows: frames * height * width, at least 2
    assert ours.image_stats_eligible([np.zeros((1, 2, 3), dtype=np.uint8)])  # 1 x 1 x 2
    assert ours.image_stats_eligible([np.zeros((2, 1, 3), dtype=np.uint8)])  # 1 x 2 x 1
    assert ours.image_stats_eligible([np.zeros((1, 1, 3), dtype=np.uint8)] * 2)  # 2 x 1 x 1
    assert not ours.image_stats_eligible([np.zeros((1, 1, 3), dtype=np.uint8)])
    # every frame uint8 and of the first one's shape
    assert not ours.image_stats_eligible([u8, u8.astype(np.uint16)])
    assert not ours.image_stats_eligible([u8.astype(np.uint16)] * 2)
    assert not ours.image_stats_eligible([u8, np.zeros((3, 3, 3), dtype=np.uint8)])
    assert not ours.image_stats_eligible([u8, u8.astype(np.float32)])
