"""Per-feature reductions the behavioural checks share (validators/behaviour/rows.py ``_feature``).

Why here: every threshold is relative to a feature's spread (q99 - q01 of its rows) and step
(q99 of |x[t+1] - x[t]| within episodes). An episode with a NaN or Inf (its own finding, from the
data group) must drop out of both and be marked not finite, or one bad frame would rescale
every check. Compared with numpy on the same rows, computed another way.
"""

from __future__ import annotations

import numpy as np
import pytest

from validators.behaviour.rows import Rows, _feature
from validators.context import Context

LENGTHS = [5, 4, 6]


def layout() -> tuple[np.ndarray, np.ndarray]:
    starts = np.cumsum([0, *LENGTHS[:-1]])
    r = Rows(np.arange(3), starts, starts + np.array(LENGTHS), np.zeros(sum(LENGTHS)))
    return starts, r.inner()


def reference(values: np.ndarray, good: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """spread and step from the finite episodes only, one episode at a time (float64)."""
    eps = np.split(values.astype(np.float64), np.cumsum(LENGTHS)[:-1])
    rows = np.concatenate([eps[e] for e in good])
    q01, q99 = np.quantile(rows, [0.01, 0.99], axis=0)
    steps = np.concatenate([np.abs(np.diff(eps[e], axis=0)) for e in good])
    return q99 - q01, np.quantile(steps, 0.99, axis=0)


@pytest.fixture
def ctx(tmp_path) -> Context:
    info = {"fps": 30, "features": {"action": {"dtype": "float32", "shape": [2],
                                               "names": ["elbow", "gripper"]}}}  # fmt: skip
    return Context(tmp_path, info, deep=False, quick=False)


def values_with(bad: float | None) -> np.ndarray:
    rng = np.random.default_rng(7)
    v = np.cumsum(rng.normal(size=(sum(LENGTHS), 2)), axis=0).astype(np.float32)
    v[:, 1] *= 10
    if bad is not None:
        v[LENGTHS[0] + 2, 1] = bad  # episode 1, one value
    return v


def test_clean_feature(ctx: Context) -> None:
    v = values_with(None)
    starts, inner = layout()
    ft = _feature(ctx, "action", 2, v, starts, inner)
    eps = np.split(v.astype(np.float64), np.cumsum(LENGTHS)[:-1])
    assert ft.names == ["elbow", "gripper"] and ft.values is v
    assert ft.finite.tolist() == [True, True, True]
    assert ft.ep_min.dtype == np.float64 and ft.ep_min.shape == (3, 2)
    np.testing.assert_array_equal(ft.ep_min, [e.min(axis=0) for e in eps])
    np.testing.assert_array_equal(ft.ep_max, [e.max(axis=0) for e in eps])
    np.testing.assert_array_equal(ft.ep_range, ft.ep_max - ft.ep_min)
    spread, step = reference(v, [0, 1, 2])
    np.testing.assert_allclose(ft.spread, spread, rtol=1e-12)
    np.testing.assert_allclose(ft.step, step, rtol=1e-6)  # its diffs are taken in float32


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_episode_drops_out_of_spread_and_step(ctx: Context, bad: float) -> None:
    v = values_with(bad)
    starts, inner = layout()
    ft = _feature(ctx, "action", 2, v, starts, inner)
    assert ft.finite.tolist() == [True, False, True]
    spread, step = reference(v, [0, 2])
    np.testing.assert_allclose(ft.spread, spread, rtol=1e-12)
    np.testing.assert_allclose(ft.step, step, rtol=1e-6)  # its diffs are taken in float32
    assert np.isfinite(ft.spread).all() and np.isfinite(ft.step).all()


def test_every_episode_non_finite_gives_zero_spread_and_step(ctx: Context) -> None:
    v = values_with(None)
    v[[0, LENGTHS[0], LENGTHS[0] + LENGTHS[1]], 0] = np.nan  # one NaN in each episode
    starts, inner = layout()
    ft = _feature(ctx, "action", 2, v, starts, inner)
    assert ft.finite.tolist() == [False, False, False]
    assert ft.spread.tolist() == [0.0, 0.0] and ft.step.tolist() == [0.0, 0.0]


def test_names_fall_back_to_indices(ctx: Context) -> None:
    starts, inner = layout()
    ft = _feature(ctx, "observation.state", 2, values_with(None), starts, inner)
    assert ft.names == ["0", "1"]
