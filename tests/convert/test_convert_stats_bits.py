"""``scripts.convert.stats``' vectorised histogram machinery against its external truths.

The converter's quantiles must equal LeRobot 0.6.1's ``RunningQuantileStats`` bit for bit;
our port never builds LeRobot's histograms: it computes bin edges for many rows at once
(``_edges``, ``_LazyEdges``), finds each value's bin arithmetically (``_segment_bins``, with a
binary search for the values the guess misses: ``_search_bins``) and counts explicit edges
without ``np.histogram`` (``_histogram``). Each piece is compared here with what it stands
for: ``np.linspace`` (the edges LeRobot builds), ``np.searchsorted`` on those edges (the bin
``np.histogram`` counts a value in), ``np.histogram`` itself; and the batched per-episode
stats (``numeric_stats_segments``) with LeRobot's own ``get_feature_stats`` on each episode,
over inputs that reach every branch: float32/float64/integer/bool columns, constant columns
(zero-step edges), values exactly on edges and on the last edge, negative ranges, tiny
ranges far from zero (repeated edges), many episodes of different lengths, a batch big
enough to be binned in blocks, columns the batched path hands to the one-episode path, and
non-finite values.

Mean and std are not LeRobot's (float32 ``E[x^2] - E[x]^2``); they are compared with NumPy
in float64 over the same rows.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from helpers import lerobot_compute_stats, lerobot_meta

from scripts.convert import stats as ours

NUM = 5001  # LeRobot's edges: np.linspace(min - 1e-10, max + 1e-10, 5000 + 1)


@pytest.fixture(scope="module")
def lerobot() -> dict:
    """get_feature_stats / RunningQuantileStats lifted from the pinned LeRobot's source."""
    return lerobot_meta.or_fail(lerobot_compute_stats.load)


def _same_as_lerobot(got: dict, ref: dict, rows: np.ndarray, what: str) -> None:
    """LeRobot's min/max/count/quantiles bit for bit (dtype, shape); mean/std NumPy float64."""
    assert list(got) == list(ref), what
    wide = rows.astype(np.float64)
    exact = {"mean": wide.mean(axis=0), "std": wide.std(axis=0)}
    for key, want in ref.items():
        if key in exact:
            assert got[key].dtype == np.float64 and got[key].shape == want.shape, (what, key)
            np.testing.assert_allclose(
                got[key], exact[key].reshape(want.shape), rtol=1e-9, atol=1e-300, err_msg=what
            )
            continue
        assert got[key].dtype == want.dtype, (what, key, got[key].dtype, want.dtype)
        assert got[key].shape == want.shape, (what, key)
        assert np.array_equal(got[key], want, equal_nan=True), (what, key, got[key], want)
        assert np.array_equal(np.signbit(got[key]), np.signbit(want)), (what, key, "zero sign")


# ---------------------------------------------------------------------------------------------
# Edges: np.linspace, row by row
# ---------------------------------------------------------------------------------------------


def _edge_rows(dtype) -> tuple[np.ndarray, np.ndarray]:
    """(starts, stops) of every kind of row: varying, negative, constant, subnormal deltas."""
    rng = np.random.default_rng(7)
    tiny = np.finfo(dtype).smallest_subnormal
    lo = (rng.normal(size=12) * 100).astype(dtype)
    hi = lo + np.abs(rng.normal(size=12) * 50).astype(dtype)
    starts = [*lo, -9.0, -1e-3, 3.0, 1e7, 0.0, 0.0, 0.0, 2.5, -4.0]
    stops = [*hi, -2.0, -1e-4, 3.0, 1e7, 7 * tiny, 4000 * tiny, 5000 * tiny, 2.5, 4.0]
    # 3.0 and 1e7: zero range (step 0, delta 0); 7 and 4000 tiny: delta != 0 but step 0
    return np.array(starts, dtype=dtype), np.array(stops, dtype=dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_edges_equal_linspace(dtype) -> None:
    """``_edges`` and ``_LazyEdges.at`` give ``np.linspace(start, stop, 5001)`` for each row."""
    starts, stops = _edge_rows(dtype)
    want = np.stack([np.linspace(a, b, NUM) for a, b in zip(starts, stops, strict=True)])
    assert want.dtype == dtype
    step_zero = (stops - starts) / (NUM - 1) == 0
    assert step_zero.any() and (step_zero & (stops != starts)).any() and not step_zero.all()
    _check_edges(starts, stops, want, step_zero)


@pytest.mark.parametrize(
    ("start_dtype", "stop_dtype"),
    [
        (np.float32, np.float64),
        (np.float64, np.float32),
        (np.float16, np.float16),
        (np.int64, np.int64),
        (np.int32, np.float32),
    ],
)
def test_edges_equal_linspace_other_dtypes(start_dtype, stop_dtype) -> None:
    """The dtype np.linspace picks (float16 stays, integers widen) and its int-safe delta."""
    starts = np.array([-3, 0, 5, -100, 7], dtype=start_dtype)
    stops = np.array([4, 0, 9, -90, 7], dtype=stop_dtype)
    if start_dtype == np.int64:  # stop - start overflows int64: np.linspace subtracts as float
        starts = np.append(starts, -(2**62) - 12345).astype(np.int64)
        stops = np.append(stops, 2**62 + 6789).astype(np.int64)
    pairs = zip(starts, stops, strict=True)
    want = np.stack([np.linspace(a, b, NUM) for a, b in pairs])
    _check_edges(starts, stops, want, starts == stops)


def _check_edges(starts, stops, want, step_zero) -> None:
    got = ours._edges(starts, stops, NUM)
    assert got.dtype == want.dtype and np.array_equal(got, want, equal_nan=True)
    lazy = ours._LazyEdges(starts, stops, NUM)
    everywhere = lazy.take((slice(None), np.newaxis)).at(np.arange(NUM))
    assert everywhere.dtype == want.dtype and np.array_equal(everywhere, want)
    # scattered positions, one per (row, position) pair, through take() with a fancy index
    rng = np.random.default_rng(1)
    rows = rng.integers(0, len(starts), 4000)
    cols = rng.integers(0, NUM, 4000)
    cols[:20] = NUM - 1
    cols[20:40] = 0
    picked = lazy.take((rows,)).at(cols)
    assert picked.dtype == want.dtype and np.array_equal(picked, want[rows, cols])
    # only the rows with a non-zero step: at() without its zero-step branch
    varying = np.flatnonzero(~step_zero)
    sub = lazy.take((varying[:, np.newaxis],)).at(np.arange(NUM))
    assert np.array_equal(sub, want[varying])
    if starts.dtype.kind != "f":
        return
    # LeRobot's own call: around a column's min and max
    mins, maxs = starts, np.maximum(stops, starts)
    got = ours._edges(mins - 1e-10, maxs + 1e-10, NUM)
    for i in range(len(mins)):
        assert np.array_equal(got[i], np.linspace(mins[i] - 1e-10, maxs[i] + 1e-10, NUM)), i


# ---------------------------------------------------------------------------------------------
# Bins: searchsorted(linspace, v, "right") - 1, the last edge in the last bin
# ---------------------------------------------------------------------------------------------


def _bin_cases() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows (starts, stops) and per-value (row, value): values on, beside and between edges."""
    rng = np.random.default_rng(3)
    starts = np.array([-5.0, 10.0, 7.0, 1e4 - 0.02, -300.0, 0.0, -1e-3], dtype=np.float32)
    stops = np.array([5.0, 11.0, 7.0, 1e4 + 0.02, -299.0, 1.0, 1e-3], dtype=np.float32)
    # row 2 is constant (every edge equal), row 3 repeats edges (step < ulp of 1e4)
    edges = np.stack([np.linspace(a, b, NUM) for a, b in zip(starts, stops, strict=True)])
    rows, values = [], []
    for r in range(len(starts)):
        on = edges[r, rng.integers(0, NUM, 300)]
        ends = edges[r, [0, 1, 2, NUM - 3, NUM - 2, NUM - 1]]
        beside = np.concatenate(
            [np.nextafter(on, np.float32(np.inf)), np.nextafter(on, np.float32(-np.inf))]
        )
        between = rng.uniform(starts[r], stops[r], 300).astype(np.float32)
        vals = np.concatenate([on, ends, ends, beside, between])
        vals = vals[(vals >= edges[r, 0]) & (vals <= edges[r, -1])]
        rows.append(np.full(len(vals), r))
        values.append(vals)
    return starts, stops, np.concatenate(rows), np.concatenate(values)


def _want_bins(starts, stops, rows, values, last_in_last: bool) -> np.ndarray:
    out = np.empty(len(values), dtype=np.int64)
    for r in range(len(starts)):
        edges = np.linspace(starts[r], stops[r], NUM)
        sel = rows == r
        b = np.searchsorted(edges, values[sel], side="right") - 1
        if last_in_last:
            b[values[sel] == edges[-1]] = NUM - 2
        out[sel] = b
    return out


@pytest.mark.filterwarnings("error")  # zero steps divide by zero: silently, as documented
def test_segment_bins_equal_searchsorted() -> None:
    """Every value's bin is ``np.histogram``'s: the guess, its checks and the search agree."""
    starts, stops, rows, values = _bin_cases()
    rows, values = _with_outside(starts, stops, rows, values)
    want = _want_bins(starts, stops, rows, values, last_in_last=True)
    got = ours._segment_bins(values, ours._LazyEdges(starts, stops, NUM).take((rows,)))
    bad = np.flatnonzero(got != want)
    assert not len(bad), (rows[bad[:5]], values[bad[:5]], got[bad[:5]], want[bad[:5]])
    # the same rule for float64 columns (LeRobot keeps float64 edges for them)
    s64, e64 = starts.astype(np.float64), stops.astype(np.float64)
    v64 = values.astype(np.float64)
    want = _want_bins(s64, e64, rows, v64, last_in_last=True)
    got = ours._segment_bins(v64, ours._LazyEdges(s64, e64, NUM).take((rows,)))
    assert np.array_equal(got, want)
    # float64 far outside a tiny range: (v - start) / step overflows to inf
    s_t, e_t = np.array([0.0, 1.0]), np.array([1e-300, 1.0])
    r_t = np.array([0, 0, 0, 1, 1, 1])
    v_t = np.array([1e300, -1e300, 5e-301, 1.0, 1e300, -1e300])
    want = _want_bins(s_t, e_t, r_t, v_t, last_in_last=True)
    got = ours._segment_bins(v_t, ours._LazyEdges(s_t, e_t, NUM).take((r_t,)))
    assert np.array_equal(got, want)
    # every bin of a varying row is reached by its lower edge
    row = np.linspace(starts[0], stops[0], NUM)
    lazy0 = ours._LazyEdges(starts[:1], stops[:1], NUM).take((np.zeros(NUM, dtype=np.int64),))
    assert np.array_equal(ours._segment_bins(row, lazy0), [*range(NUM - 1), NUM - 2])


def _with_outside(starts, stops, rows, values) -> tuple[np.ndarray, np.ndarray]:
    """Add values below the first and above the last edge of every row."""
    extra_rows = np.arange(len(starts)).repeat(6)
    up, down = np.float32(np.inf), np.float32(-np.inf)
    outside = np.stack(
        [
            starts - 1,
            starts - 1e-3,
            np.nextafter(starts, down),
            np.nextafter(stops, up),
            stops + 1e-3,
            stops + 1,
        ],
        axis=1,
    ).ravel()
    return np.concatenate([rows, extra_rows]), np.concatenate([values, outside.astype(np.float32)])


def test_search_bins_equal_searchsorted() -> None:
    """The binary search is ``searchsorted(edges, v, "right") - 1``, outside the range too."""
    starts, stops, rows, values = _bin_cases()
    rows, values = _with_outside(starts, stops, rows, values)
    want = _want_bins(starts, stops, rows, values, last_in_last=False)
    got = ours._search_bins(values, ours._LazyEdges(starts, stops, NUM).take((rows,)))
    assert got.dtype == np.int64 and np.array_equal(got, want)
    assert (want == -1).any() and (want == NUM - 1).any()


def test_sorted_bins_equal_searchsorted_and_refuse_outside_values() -> None:
    """``_sorted_bins``: np.histogram's bins, sorted; a value outside the edges is a bug."""
    starts, stops, rows, values = _bin_cases()
    edges = ours._edges(starts, stops, NUM)
    want = _want_bins(starts, stops, rows, values, last_in_last=True)
    width = min(np.bincount(rows))
    columns = np.stack([values[rows == r][:width] for r in range(len(starts))])
    want = np.stack([want[rows == r][:width] for r in range(len(starts))])
    assert np.array_equal(ours._sorted_bins(columns, edges), np.sort(want.T, axis=0))
    for r, bad in ((0, starts[0] - 1), (1, np.nextafter(stops[1], np.float32(np.inf)))):
        outside = columns.copy()
        outside[r, 3] = bad  # below the first edge only, or above the last edge only
        with pytest.raises(AssertionError, match=r"^a value outside its histogram's edges$"):
            ours._sorted_bins(outside, edges)


# ---------------------------------------------------------------------------------------------
# Counting explicit edges: np.histogram
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_histogram_equal_numpy(dtype) -> None:
    rng = np.random.default_rng(5)
    for lo, hi in ((-3.0, 4.0), (10.0, 10.5), (-20.0, -19.0)):
        edges = np.linspace(dtype(lo), dtype(hi), NUM)
        values = np.concatenate(
            [
                edges[rng.integers(0, NUM, 500)],  # on edges (counted in the bin above)
                edges[[0, 0, -1, -1, -1]],  # first and last edge (the last bin is closed)
                rng.uniform(lo, hi, 2000).astype(dtype),
                np.array([lo - 1, hi + 1, lo - 1], dtype=dtype),  # outside: not counted
            ]
        )
        rng.shuffle(values)
        want = np.histogram(values, bins=edges)[0]
        got = ours._histogram(values, edges)
        assert np.array_equal(got, want), (lo, hi)
        assert got.sum() == len(values) - 3
    ints = rng.integers(0, 256, 5000)
    ints[:7] = 255
    for lo, hi in ((0.0, 255.0), (-1e-10, 255 + 1e-10), (3.0, 250.0)):
        edges = np.linspace(dtype(lo), dtype(hi), NUM)
        want = np.histogram(ints.astype(dtype), bins=edges)[0]
        got = ours._histogram_small_ints(np.bincount(ints), edges)
        assert np.array_equal(got, want), (lo, hi)


# ---------------------------------------------------------------------------------------------
# Per-episode stats of a batch of episodes: LeRobot's get_feature_stats on each episode
# ---------------------------------------------------------------------------------------------

LENGTHS = (1, 2, 3, 5, 2, 17, 64, 1, 301, 8, 40, 2, 999, 4, 130)


def _columns(rng: np.random.Generator, lengths: tuple[int, ...]) -> dict[str, np.ndarray]:
    n = sum(lengths)
    grid = np.round(rng.normal(size=(n, 3)) * 4) / 4
    return {
        "f32": (rng.normal(size=(n, 6)) * 50).astype(np.float32),
        "f32_one": rng.normal(size=n).astype(np.float32),
        "f64": rng.normal(size=(n, 3)) * 1e3,
        "f64_one": np.concatenate([np.arange(k) / 30 for k in lengths]),
        "negative32": (-np.abs(rng.normal(size=(n, 2))) - 5).astype(np.float32),
        "negative64": -np.abs(rng.normal(size=(n, 2))) * 1e-3 - 1,
        "const32": np.full((n, 2), 35.0, dtype=np.float32),
        "const64": np.full(n, -2.5),
        "const_big32": np.full(n, 1.0e7, dtype=np.float32),
        "tiny_range32": (1e4 + rng.normal(size=(n, 2)) * 1e-2).astype(np.float32),
        "grid32": grid.astype(np.float32),  # many ties, values on a coarse grid
        "grid64": grid + 0.0,
        "i64": rng.integers(-50, 50, size=(n, 2)),
        "i64_one": np.arange(n, dtype=np.int64),
        "big_int": rng.integers(-5, 5, size=n) + 10**12,
        "i32": rng.integers(-1000, 1000, size=(n, 2)).astype(np.int32),
        "i16": rng.integers(-300, 300, size=n).astype(np.int16),
        "i8": rng.integers(-100, 100, size=(n, 2)).astype(np.int8),
        "u32": rng.integers(0, 70000, size=n).astype(np.uint32),
        "f16": (rng.normal(size=(n, 2)) * 10).astype(np.float16),
        "flag": rng.integers(0, 2, size=n).astype(np.bool_),
        # 0.0 and -0.0 in one episode: the sign of min/max follows LeRobot's comparison order
        "zeros32": rng.choice(np.array([0.0, -0.0, 1.5, -2.0], np.float32), size=(n, 2)),
        "negzero64": rng.choice(np.array([-0.0, 3.0, 4.0]), size=n),  # only -0.0: kept
    }


def _check_segments(lerobot: dict, arrays: dict, lengths: tuple[int, ...], what: str) -> None:
    got = ours.numeric_stats_segments(arrays, np.array(lengths))
    assert len(got) == len(lengths), what
    lo = 0
    for e, n in enumerate(lengths):
        assert list(got[e]) == list(arrays), (what, e)
        for key, values in arrays.items():
            rows = values[lo : lo + n]
            ref = lerobot["get_feature_stats"](rows, axis=0, keepdims=rows.ndim == 1)
            _same_as_lerobot(got[e][key], ref, rows, f"{what} episode {e} ({n} rows) {key}")
        lo += n


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_segments_equal_lerobot(lerobot: dict, seed: int) -> None:
    """Every episode of a batch (1 to 999 rows, every column kind) == LeRobot on it alone."""
    rng = np.random.default_rng(seed)
    lengths = tuple(int(x) for x in rng.permutation(LENGTHS))
    _check_segments(lerobot, _columns(rng, lengths), lengths, f"seed {seed}")


def test_segments_one_column_kind_at_a_time(lerobot: dict) -> None:
    """Each column alone in a batch (its own dtype group, its own edges and blocks)."""
    rng = np.random.default_rng(9)
    lengths = (3, 70, 2, 11)
    for key, values in _columns(rng, lengths).items():
        _check_segments(lerobot, {key: values}, lengths, key)


def test_segments_binned_in_blocks_equal_lerobot(lerobot: dict) -> None:
    """A batch of more than 2**19 rows is binned one dimension at a time; same stats."""
    rng = np.random.default_rng(4)
    lengths = (300_000, 2, 262_200, 5)
    n = sum(lengths)
    arrays = {
        "a": (rng.normal(size=(n, 2)) * 20).astype(np.float32),
        "b": np.round(rng.normal(size=n) * 3).astype(np.float32),
    }
    arrays["a"][:, 1] = np.abs(arrays["a"][:, 1])
    _check_segments(lerobot, arrays, lengths, "blocks")


def test_segments_unsupported_columns_equal_lerobot(lerobot: dict) -> None:
    """Columns the batched path does not take (pixels, long double) still give LeRobot's stats."""
    rng = np.random.default_rng(6)
    lengths = (4, 1, 50, 9)
    n = sum(lengths)
    base = {"f32": (rng.normal(size=(n, 2)) * 5).astype(np.float32)}
    for key, values in {
        "u8": rng.integers(0, 256, size=(n, 3)).astype(np.uint8),
        "u16": rng.integers(0, 4096, size=n).astype(np.uint16),
        "f128": (rng.normal(size=(n, 2)) * 5).astype(np.longdouble),
    }.items():
        _check_segments(lerobot, {**base, key: values}, lengths, key)


def test_segments_zero_length_and_empty() -> None:
    """No episodes: no stats; rows that do not add up to the lengths: refused."""
    assert ours.numeric_stats_segments({"a": np.zeros((0, 2), np.float32)}, np.array([])) == []
    with pytest.raises(ValueError, match=r"^a: 4 rows, but the lengths sum to 5$"):
        ours.numeric_stats_segments({"a": np.zeros((4, 2), np.float32)}, np.array([2, 3]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nonfinite_columns_equal_lerobot(lerobot: dict, dtype) -> None:
    """inf, -inf, NaN (LeRobot counts them with np.histogram on non-finite edges): same stats."""
    rng = np.random.default_rng(8)
    rows = 40
    data = (rng.normal(size=(rows, 5)) * 10).astype(dtype)
    data[3, 0] = np.inf
    data[[5, 9], 1] = -np.inf
    data[7, 2] = np.nan
    data[:, 3] = 2.0  # a finite constant column next to them
    with np.errstate(invalid="ignore", over="ignore"):
        ref = lerobot["get_feature_stats"](data, axis=0, keepdims=False)
        _same_as_lerobot(ours.numeric_feature_stats(data), ref, data, "one feature")
        _same_as_lerobot(ours.numeric_stats_many({"x": data})["x"], ref, data, "many")
        other = (data[:, 3:] * 3).astype(np.float64 if dtype == np.float32 else np.float32)
        both = ours.numeric_stats_many({"x": data, "other": other})  # two dtype groups
        _same_as_lerobot(both["x"], ref, data, "many, first group")
        ref_other = lerobot["get_feature_stats"](other, axis=0, keepdims=False)
        _same_as_lerobot(both["other"], ref_other, other, "many, second group")
        for j in range(3):
            col = data[:, j]
            ref = lerobot["get_feature_stats"](col, axis=0, keepdims=True)
            _same_as_lerobot(ours.numeric_feature_stats(col), ref, col, f"column {j}")
        lengths = (rows, 6, 30)
        batch = np.concatenate([data, data[:6], np.abs(data[6:36])])
        _check_segments(lerobot, {"x": batch, "y": batch[:, 3]}, lengths, "segments")


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return (
        a.dtype == b.dtype
        and a.shape == b.shape
        and np.array_equal(a, b, equal_nan=True)
        and np.array_equal(np.signbit(a), np.signbit(b))
    )


def test_segments_nonfinite_and_huge_ranges_quietly_equal_one_episode_path() -> None:
    """Episodes the batched path hands to ``numeric_stats_many``: the same stats, no warnings.

    LeRobot itself fails on a range that overflows (``np.histogram``: bins must increase), so
    the reference here is the batched path's specification, ``numeric_stats_many`` on the
    episode alone. The batched arithmetic over such episodes is silenced: the only
    floating-point warnings are those the one-episode path raises on them itself.
    """
    rng = np.random.default_rng(10)
    lengths = (5, 4, 6, 3, 7, 2, 8, 3, 4)
    n = sum(lengths)
    f32 = (rng.normal(size=(n, 3)) * 4).astype(np.float32)
    f32[6, 0] = np.nan  # episode 1
    f32[10, 1] = np.inf  # episode 2
    f32[12, 2] = -np.inf  # episode 2
    f32[[15, 16], 0] = (-3e38, 3e38)  # episode 3: max - min overflows float32
    f32[36, 1] = -np.inf  # episode 7, right after a finite one (6): bins below 0 next to it
    f32[38:42, 2] = np.inf  # episode 8: a column of +inf only (inf - inf ranges)
    f64 = rng.normal(size=(n, 2))
    f64[[20, 21], 1] = (-1.7e308, 1.7e308)  # episode 4
    arrays = {"f32": f32, "f64": f64, "i64": rng.integers(-9, 9, n)}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = ours.numeric_stats_segments(arrays, np.array(lengths))
    batched = {(w.filename, w.lineno, str(w.message)) for w in caught}
    lo = 0
    one_by_one: set = set()
    for e, rows in enumerate(lengths):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ref = ours.numeric_stats_many({k: v[lo : lo + rows] for k, v in arrays.items()})
        one_by_one |= {(w.filename, w.lineno, str(w.message)) for w in caught}
        for key in arrays:
            assert list(got[e][key]) == list(ref[key])
            for stat, value in ref[key].items():
                assert _same_bits(got[e][key][stat], value), (e, key, stat)
        lo += rows
    assert batched <= one_by_one, batched - one_by_one


def test_to_jsonable_round_trips_through_json() -> None:
    """What stats.json holds reads back as the same numbers, shapes and keys."""
    rng = np.random.default_rng(2)
    stats = {
        "action": ours.numeric_feature_stats((rng.normal(size=(9, 3)) * 7).astype(np.float32)),
        "index": ours.numeric_feature_stats(np.arange(9, dtype=np.int64)),
        "cam": ours.image_feature_stats(rng.integers(0, 256, (2, 3, 8, 8)).astype(np.uint8)),
    }
    back = json.loads(json.dumps(ours.to_jsonable(stats)))
    assert list(back) == list(stats)
    for ft, ft_stats in stats.items():
        assert list(back[ft]) == list(ft_stats), ft
        for key, value in ft_stats.items():
            again = np.array(back[ft][key])
            assert again.shape == value.shape and np.array_equal(again, value), (ft, key)


@pytest.mark.filterwarnings("ignore::numpy.exceptions.ComplexWarning")
def test_batched_paths_taken_for_the_columns_they_support(monkeypatch: pytest.MonkeyPatch) -> None:
    """Which columns share the batched work (the speed the converter relies on).

    The batched paths are specified to give the one-episode results, so the path a column
    takes is only visible in what gets called: the real one-episode functions are wrapped
    (not replaced) to record their calls. ``numeric_stats_segments`` calls
    ``numeric_stats_many`` only for episodes of fewer than 2 rows when every column is a
    1-D/2-D bool, integer (not uint8/uint16 pixels) or float32/float64-working column, and for
    every episode otherwise; ``numeric_stats_many`` calls ``numeric_feature_stats`` only for
    single rows, pixels and non-finite groups.
    """
    many_calls: list[int] = []
    feature_calls: list[int] = []
    real_many, real_feature = ours.numeric_stats_many, ours.numeric_feature_stats

    def many(arrays: dict) -> dict:
        many_calls.append(len(next(iter(arrays.values()))))
        return real_many(arrays)

    def feature(values: np.ndarray) -> dict:
        feature_calls.append(len(values))
        return real_feature(values)

    monkeypatch.setattr(ours, "numeric_stats_many", many)
    monkeypatch.setattr(ours, "numeric_feature_stats", feature)
    rng = np.random.default_rng(12)
    lengths = (2, 1, 3, 7)
    for key, values in _columns(rng, lengths).items():
        if values.dtype.kind == "f":
            values = values + values.dtype.type(0)  # no -0.0 next to 0.0 (that falls back)
        many_calls.clear()
        ours.numeric_stats_segments({key: values}, np.array(lengths))
        assert many_calls == [1], key  # only the 1-row episode
    n = sum(lengths)
    base = (rng.normal(size=(n, 2)) * 5).astype(np.float32)
    for key, values in {
        "u8": rng.integers(0, 256, size=(n, 3)).astype(np.uint8),
        "u16": rng.integers(0, 4096, size=n).astype(np.uint16),
        "f128": base.astype(np.longdouble),
        "c64": base.astype(np.complex64),  # not a LeRobot feature; at least not the batch's
    }.items():
        many_calls.clear()
        ours.numeric_stats_segments({"f32": base, key: values}, np.array(lengths))
        assert many_calls == list(lengths), key  # every episode on its own
    zeros = np.array([1.0, 0.0, 2.0, -0.0, 0.0, -0.0, -0.0, 5.0, 6.0, -0.0, 7.0, 8.0, 9.0])
    many_calls.clear()  # episode 2 has 0.0 and -0.0: its min's sign needs LeRobot's order
    ours.numeric_stats_segments({"z": zeros, "f32": base}, np.array(lengths))
    assert many_calls == [1, 3]
    huge = base.copy()
    huge[[3, 4], 1] = (-3e38, 3e38)  # episode 2's range overflows float32
    many_calls.clear()
    with np.errstate(over="ignore", invalid="ignore"):
        ours.numeric_stats_segments({"huge": huge, "f64": base[:, 0] + 0.0}, np.array(lengths))
    assert many_calls == [1, 3]
    feature_calls.clear()
    ours.numeric_stats_many({"a": base[:2], "b": base[:2, 0], "c": base[:2].astype(np.int64)})
    assert feature_calls == []  # two rows, finite, no pixels: stacked
    ours.numeric_stats_many({"a": base[:1], "u8": np.zeros((2, 3), np.uint8)})
    assert feature_calls == [1, 2]
