"""The stats group (validators/stats.py) in-process, fast enough to run per mutant.

References external to the validator:

* the stats themselves are the real LeRobot 0.3.3 recording's (tests/fixtures/koch_v21_real,
  ``meta/episodes_stats.jsonl``), its rows are that recording's parquet files;
* ``meta/stats.json`` is written by LeRobot 0.6.1's ``write_stats`` from LeRobot's own
  ``aggregate_feature_stats`` (tests/helpers/lerobot_meta.py, lerobot_compute_stats.py: lifted
  unchanged from envs/act), which is also what ``stats.aggregate`` claims to equal;
* the v3.0 dataset's metadata is written by LeRobot 0.6.1's ``convert_info`` and the recorder's
  ``_flush_metadata_buffer`` (tests/helpers/lerobot_v30.py), its one data file is the
  recording's three episode files concatenated (what LeRobot's converter does).

Every tolerance the group applies is probed on both sides (twice over is reported, half is not).
"""

from __future__ import annotations

import copy
import json
import shutil
import types
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import FIXTURE_V21
from helpers import lerobot_compute_stats, lerobot_v30
from helpers.lerobot_v30 import flush, recorder_tasks

from validators import dataset_format as fmt
from validators import f32, schema, stats, structure
from validators.context import Context, EpisodeMeta

ACTION_NAMES = json.loads((FIXTURE_V21 / fmt.INFO_PATH).read_text())["features"]["action"]["names"]
CAMS = ("observation.images.laptop", "observation.images.phone")
NUMERIC = ("action", "observation.state")
LENGTHS = {0: 36, 1: 50, 2: 42}
TASKS = [
    json.loads(line)["task"]
    for line in (FIXTURE_V21 / fmt.LEGACY_TASKS_PATH).read_text().splitlines()
]


@pytest.fixture(scope="module")
def lerobot() -> dict:
    ns = lerobot_v30.load()
    ns.update(lerobot_compute_stats.load())
    return ns


def episode_stats() -> dict[int, dict]:
    """The recording's per-episode stats (LeRobot 0.3.3), as the schema group loads them."""
    lines = (FIXTURE_V21 / fmt.LEGACY_EPISODES_STATS_PATH).read_text().splitlines()
    return {int(r["episode_index"]): r["stats"] for r in map(json.loads, lines)}


def lerobot_aggregate(lerobot: dict, per_episode: dict[int, dict]) -> dict[str, dict]:
    """``aggregate_feature_stats`` of LeRobot 0.6.1 for every feature, as numpy."""
    out = {}
    for key in per_episode[0]:
        fts = [{s: np.asarray(v) for s, v in st[key].items()} for st in per_episode.values()]
        out[key] = lerobot["aggregate_feature_stats"](fts)
    return out


def write_stats_json(lerobot: dict, root: Path, agg: dict) -> None:
    lerobot["write_stats"](agg, root)


def findings(ctx: Context, prefix: str = "stats.") -> list[tuple]:
    return [
        (f.check_id, f.severity, f.file, f.episode, f.message, f.hint)
        for f in ctx.report.findings
        if f.check_id.startswith(prefix)
    ]


# --- datasets -----------------------------------------------------------------------------------
@pytest.fixture
def v21(tmp_path: Path) -> Path:
    dst = tmp_path / "v21"
    shutil.copytree(FIXTURE_V21, dst, ignore=shutil.ignore_patterns("videos"))
    return dst


def episode_row(e: int, start: int, n: int, st: dict | None) -> dict:
    """One episode row as the recorder buffers it (stats flattened to stats/<key>/<stat>)."""
    row = {"episode_index": e, "tasks": [TASKS[0]], "length": n}
    row.update({"data/chunk_index": 0, "data/file_index": 0})
    row.update({"dataset_from_index": start, "dataset_to_index": start + n})
    for vk in CAMS:
        row.update({f"videos/{vk}/chunk_index": 0, f"videos/{vk}/file_index": 0})
        row[f"videos/{vk}/from_timestamp"] = start / 30
        row[f"videos/{vk}/to_timestamp"] = (start + n) / 30
    for key, ft in (st or {}).items():
        for s, v in ft.items():
            row[f"stats/{key}/{s}"] = v
    return row


def make_v30(lerobot: dict, root: Path, per_episode: dict[int, dict] | None = None) -> Path:
    """Metadata by LeRobot 0.6.1's code, stats in meta/episodes (episodes without stats in a
    file of their own: one file's rows share its columns), the recording's rows."""
    lerobot["convert_info"](FIXTURE_V21, root, 100, 200)
    lerobot["write_tasks"](recorder_tasks(TASKS), root)
    per_episode = episode_stats() if per_episode is None else per_episode
    with_stats, without, start = [], [], 0
    for e, n in LENGTHS.items():
        row = episode_row(e, start, n, per_episode.get(e))
        (with_stats if e in per_episode else without).append(row)
        start += n
    for file, rows in enumerate(r for r in (with_stats, without) if r):
        flush(lerobot, root, rows, 0, file)
    tables = [pq.read_table(p) for p in sorted((FIXTURE_V21 / "data").glob("*/*.parquet"))]
    out = root / fmt.DATA_PATH.format(chunk_index=0, file_index=0)
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.concat_tables(tables), out)
    return root


def validate(root: Path, *, quick: bool = False, **info_changes) -> Context:
    info = json.loads((root / fmt.INFO_PATH).read_text())
    info.update(info_changes)
    ctx = Context(root, info, deep=False, quick=quick)
    schema.run(ctx)
    structure.run(ctx)
    stats.run(ctx)
    return ctx


def missing(message: str, hint: str, file: str, episode: int | None = None) -> tuple:
    return ("stats.missing", "error", file, episode, message, hint)


# --- run: which files are needed ------------------------------------------------------------------
def test_v21_recording_is_clean(v21: Path) -> None:
    """v2.1 needs no stats.json (LeRobot aggregates the per-episode stats on load)."""
    for quick in (False, True):
        assert findings(validate(v21, quick=quick)) == []


def test_v21_stats_json_by_lerobot_is_clean(lerobot: dict, v21: Path) -> None:
    write_stats_json(lerobot, v21, lerobot_aggregate(lerobot, episode_stats()))
    for quick in (False, True):
        assert findings(validate(v21, quick=quick)) == []


def test_v21_without_episode_stats(v21: Path) -> None:
    (v21 / fmt.LEGACY_EPISODES_STATS_PATH).unlink()
    assert findings(validate(v21)) == [
        missing(
            "meta/episodes_stats.jsonl is missing",
            "v2.1 keeps per-episode stats there; recompute them",
            fmt.LEGACY_EPISODES_STATS_PATH,
        )
    ]


def test_v20_needs_stats_json(v21: Path) -> None:
    """v2.0 has no per-episode stats: stats.json is all LeRobot has (and it has no count)."""
    (v21 / fmt.LEGACY_EPISODES_STATS_PATH).unlink()
    want = missing(
        "meta/stats.json is missing",
        "LeRobot normalises with it; regenerate it by aggregating the per-episode stats",
        fmt.STATS_PATH,
    )
    assert findings(validate(v21, codebase_version="v2.0")) == [want]


def test_v20_stats_json_without_count(lerobot: dict, v21: Path) -> None:
    (v21 / fmt.LEGACY_EPISODES_STATS_PATH).unlink()
    agg = lerobot_aggregate(lerobot, episode_stats())
    for st in agg.values():
        del st["count"]
    write_stats_json(lerobot, v21, agg)
    assert findings(validate(v21, codebase_version="v2.0")) == []
    # nor need a v2.1 one: LeRobot 0.6.1 aggregates the per-episode stats it loads; the
    # missing count is not an aggregate mismatch either
    shutil.copy(FIXTURE_V21 / fmt.LEGACY_EPISODES_STATS_PATH, v21 / "meta")
    assert findings(validate(v21)) == []


def test_v30_clean_and_missing_stats_json(lerobot: dict, tmp_path: Path) -> None:
    root = make_v30(lerobot, tmp_path / "v30")
    want = missing(
        "meta/stats.json is missing",
        "LeRobot normalises with it; regenerate it by aggregating the per-episode stats",
        fmt.STATS_PATH,
    )
    assert findings(validate(root)) == [want]
    write_stats_json(lerobot, root, lerobot_aggregate(lerobot, episode_stats()))
    for quick in (False, True):
        assert findings(validate(root, quick=quick)) == []
    # unreadable stats.json: its own finding, not "missing"
    (root / fmt.STATS_PATH).write_text("{")
    assert [f[0] for f in findings(validate(root))] == ["stats.unreadable"]


def test_v30_episode_without_stats(lerobot: dict, tmp_path: Path) -> None:
    per = episode_stats()
    root = make_v30(lerobot, tmp_path / "v30", {e: per[e] for e in (0, 1)})
    write_stats_json(lerobot, root, lerobot_aggregate(lerobot, per))
    got = findings(validate(root, quick=True))
    assert got[0] == missing(
        "no per-episode stats for episodes [2]", "recompute per-episode stats", "meta/episodes", 2
    )
    # stats.json aggregates all three episodes, the per-episode stats hold two
    assert [f[0] for f in got[1:]] == ["stats.aggregate_mismatch"] * 4
    # no stats columns at all: nothing per episode to check, stats.json alone
    root = make_v30(lerobot, tmp_path / "none", {})
    write_stats_json(lerobot, root, lerobot_aggregate(lerobot, per))
    assert findings(validate(root, quick=True)) == []


def test_v21_missing_episodes_listed(v21: Path) -> None:
    lines = (v21 / fmt.LEGACY_EPISODES_STATS_PATH).read_text().splitlines()
    (v21 / fmt.LEGACY_EPISODES_STATS_PATH).write_text(lines[1] + "\n")
    got = findings(validate(v21, quick=True))
    assert got == [
        missing(
            "no per-episode stats for episodes [0, 2]",
            "recompute per-episode stats",
            fmt.LEGACY_EPISODES_STATS_PATH,
            0,
        )
    ]


def test_missing_episodes_first_ten(tmp_path: Path) -> None:
    ctx = bare(tmp_path)
    ctx.episodes = [EpisodeMeta(e, 36, [], "d", 0, 36) for e in range(13)]
    ctx.episode_stats = {12: episode_stats()[0]}
    stats.run(ctx)
    want = "no per-episode stats for episodes [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]"
    assert findings(ctx)[-1][3:5] == (0, want)


# --- load_episode_stats -------------------------------------------------------------------------
def test_load_episode_stats_v30(lerobot: dict, tmp_path: Path) -> None:
    per = episode_stats()
    root = make_v30(lerobot, tmp_path / "v30")
    ctx = Context(root, json.loads((root / fmt.INFO_PATH).read_text()), deep=False, quick=False)
    got = stats.load_episode_stats(ctx)
    assert sorted(got) == [0, 1, 2]
    for e in got:
        assert got[e].keys() == per[e].keys()
        for key in per[e]:
            assert got[e][key].keys() == per[e][key].keys()
            for s in per[e][key]:
                np.testing.assert_array_equal(np.asarray(got[e][key][s]), per[e][key][s])
    # a second file (a feature name with slashes: split at the last one), a file without
    # stats columns, an unreadable one, a file that is not .parquet
    flush(lerobot, root, [episode_row(3, 128, 36, {**per[0], "a/b": {"min": [1.5]}})], 0, 1)
    flush(lerobot, root, [episode_row(7, 164, 5, None)], 1, 0)
    (root / "meta/episodes/chunk-001/file-001.parquet").write_bytes(b"PAR1 not parquet")
    shutil.copy(root / "meta/episodes/chunk-000/file-001.parquet", root / "meta/episodes/x.pq")
    # sorted before the others: an unreadable file and one without stats columns
    (root / "meta/episodes/chunk-000/0-broken.parquet").write_bytes(b"PAR1 not parquet")
    pq.write_table(pa.table({"episode_index": [8]}), root / "meta/episodes/chunk-000/a.parquet")
    got = stats.load_episode_stats(ctx)
    assert sorted(got) == [0, 1, 2, 3]
    assert got[3]["action"]["count"] == [36] and got[3]["a/b"] == {"min": [1.5]}
    assert got[3]["observation.state"]["mean"] == per[0]["observation.state"]["mean"]


def test_load_episode_stats_none(lerobot: dict, tmp_path: Path) -> None:
    root = make_v30(lerobot, tmp_path / "v30", {})
    ctx = Context(root, json.loads((root / fmt.INFO_PATH).read_text()), deep=False, quick=False)
    assert stats.load_episode_stats(ctx) is None
    v2 = Context(tmp_path, {"codebase_version": "v2.1"}, deep=False, quick=False)
    v2.episode_stats = {"sentinel": 1}
    assert stats.load_episode_stats(v2) is v2.episode_stats


# --- required_features, _arr --------------------------------------------------------------------
def test_required_features(tmp_path: Path) -> None:
    feats = {  # the skipped ones first: skipping one does not end the loop
        "broken": "not a dict",
        "timestamp": {"dtype": "float32", "shape": [1]},
        "task": {"dtype": "string", "shape": [1]},
        "action": {"dtype": "float32", "shape": [6]},
        "grid": {"dtype": "float32", "shape": [2, 3]},
        "scalar": {"dtype": "float64", "shape": []},
        "noshape": {"dtype": "int64"},
        "text_shape": {"dtype": "float32", "shape": ["4"]},
        "hwc": {"dtype": "video", "shape": [96, 128, 3], "names": ["height", "width", "channels"]},
        "chw": {"dtype": "image", "shape": [1, 96, 128], "names": ["channels", "height", "width"]},
        "hcw": {"dtype": "image", "shape": [96, 4, 128], "names": ["height", "channels", "width"]},
        "rgba": {"dtype": "video", "shape": [96, 128, 4]},
        "gray": {"dtype": "video", "shape": [96, 128, 1], "names": ["h", "w", "c"]},
        "chw_unnamed": {"dtype": "video", "shape": [1, 96, 128]},
        "two": {"dtype": "video", "shape": [96, 128, 2]},
        "five": {"dtype": "image", "shape": [96, 128, 5]},
        "flat": {"dtype": "image", "shape": [96, 4], "names": ["channels", "x"]},
        "dict_names": {"dtype": "image", "shape": [4, 96, 1], "names": {"channels": 0}},
        "lang": {"dtype": "language", "shape": [1]},
        "index": {"dtype": "int64", "shape": [1]},
    }
    ctx = Context(
        tmp_path, {"codebase_version": "v3.0", "features": feats}, deep=False, quick=False
    )
    assert stats.required_features(ctx) == {
        "action": (6,),
        "grid": (2, 3),
        "scalar": (1,),
        "noshape": (1,),
        "text_shape": (4,),
        "hwc": (3, 1, 1),
        "chw": (1, 1, 1),
        "hcw": (4, 1, 1),
        "rgba": (4, 1, 1),
        "gray": (1, 1, 1),
        "chw_unnamed": (3, 1, 1),
        "two": (3, 1, 1),
        "five": (3, 1, 1),
        "flat": (3, 1, 1),
        "dict_names": (1, 1, 1),
    }
    assert list(stats.required_features(ctx))[:2] == ["action", "grid"]


def test_arr() -> None:
    a = stats._arr([1, 2])
    assert a.dtype == np.float64 and a.shape == (2,)
    assert stats._arr(5).shape == (1,) and stats._arr(5)[0] == 5.0
    assert stats._arr([[[0.5]]]).shape == (1, 1, 1)
    assert stats._arr("abc") is None
    assert stats._arr({"a": 1}) is None
    assert stats._arr([[1.0], [2.0, 3.0]]) is None


# --- check_stats_dict ---------------------------------------------------------------------------
def bare(root: Path, version: str = "v2.1") -> Context:
    info = json.loads((FIXTURE_V21 / fmt.INFO_PATH).read_text())
    info["codebase_version"] = version
    return Context(root, info, deep=False, quick=True)


def check(root: Path, st: dict, episode: int | None = 1, version: str = "v2.1") -> list[tuple]:
    ctx = bare(root, version)
    where = fmt.STATS_PATH if episode is None else "W"
    lengths = None if episode is None else LENGTHS
    stats.check_stats_dict(ctx, st, stats.required_features(ctx), where, episode, lengths)
    return findings(ctx)


def ep1() -> dict:
    return copy.deepcopy(episode_stats()[1])


def test_check_stats_dict_clean(tmp_path: Path) -> None:
    assert check(tmp_path, ep1()) == []
    assert check(tmp_path, ep1(), None) == []
    st = ep1()
    for key in NUMERIC:  # quantiles are optional; given, they are checked
        st[key].update({q: st[key]["mean"] for q in fmt.QUANTILE_KEYS})
    assert check(tmp_path, st) == []


def test_check_stats_dict_missing(tmp_path: Path) -> None:
    st = ep1()
    del st["action"]
    st[CAMS[0]] = [1, 2]
    hint = "LeRobot normalises every state/action/image feature; recompute the stats"
    assert check(tmp_path, st) == [
        missing("episode 1 stats: no stats for feature 'action'", hint, "W", 1),
        missing(f"episode 1 stats: no stats for feature '{CAMS[0]}'", hint, "W", 1),
    ]
    st = ep1()
    del st["action"]["min"], st["observation.state"]["std"]
    assert check(tmp_path, st, None) == [
        missing("stats.json: 'action' has no 'min'", "recompute the stats", fmt.STATS_PATH),
        missing(
            "stats.json: 'observation.state' has no 'std'", "recompute the stats", fmt.STATS_PATH
        ),
    ]
    # count: every per-episode stats has one, and a v3.0 stats.json; a v2.x stats.json may not
    st = ep1()
    del st["action"]["count"]
    assert check(tmp_path, st, None) == []
    assert check(tmp_path, st, None, "v3.0") == [
        missing("stats.json: 'action' has no 'count'", "recompute the stats", fmt.STATS_PATH)
    ]
    assert check(tmp_path, st, 1) == [
        missing("episode 1 stats: 'action' has no 'count'", "recompute the stats", "W", 1)
    ]


def shape(msg: str, episode: int | None = 1, file: str = "W") -> tuple:
    hint = "stats must match the feature shape (images: (channels, 1, 1))"
    return ("stats.shape_mismatch", "error", file, episode, msg, hint)


def test_check_stats_dict_order(tmp_path: Path) -> None:
    st = ep1()
    st["observation.state"]["min"], st["observation.state"]["max"] = (
        st["observation.state"]["max"],
        st["observation.state"]["min"],
    )
    assert check(tmp_path, st) == [
        (
            "stats.order",
            "error",
            "W",
            1,
            "episode 1 stats: observation.state: min > max; mean outside [min, max]",
            "the stats are inconsistent; recompute them",
        )
    ]


def test_check_stats_dict_shapes(tmp_path: Path) -> None:
    st = ep1()
    st["action"]["min"] = st["action"]["min"][:5]
    st["action"]["count"] = [50, 1]
    st["observation.state"]["q50"] = "median"
    st[CAMS[0]]["mean"] = [0.5, 0.5, 0.5]
    st[CAMS[1]]["count"] = 50  # a bare number is one value: fine
    assert check(tmp_path, st) == [
        shape("episode 1 stats: action/min has shape (5,), expected (6,)"),
        shape("episode 1 stats: action/count has shape (2,), expected (1,)"),
        shape("episode 1 stats: observation.state/q50 has shape None, expected (6,)"),
        shape(f"episode 1 stats: {CAMS[0]}/mean has shape (3,), expected (3, 1, 1)"),
    ]


def test_check_stats_dict_non_finite(tmp_path: Path) -> None:
    st = ep1()
    st["action"]["mean"][2] = float("nan")
    st["action"]["q50"] = [float("inf")] * 6
    st["action"]["min"] = st["action"]["max"]  # disordered too: not judged once non-finite
    st["action"]["count"] = [49]  # nor counted
    st[CAMS[0]]["std"] = [[[float("-inf")]], [[0.1]], [[0.1]]]
    hint = "the data behind it holds NaN/Inf or the stats were corrupted; recompute"
    nf = ("stats.non_finite", "error", "W", 1)
    assert check(tmp_path, st) == [
        (*nf, "episode 1 stats: action has NaN/Inf in mean, q50", hint),
        (*nf, f"episode 1 stats: {CAMS[0]} has NaN/Inf in std", hint),
    ]


def count(e: int, key: str, got: int, want: int) -> tuple:
    return (
        "stats.count_mismatch",
        "error",
        "W",
        e,
        f"episode {e} stats: {key}/count is {got} but the episode has {want} frames",
        "the stats were computed on other data; recompute them",
    )


def test_check_stats_dict_count(tmp_path: Path) -> None:
    st = ep1()
    st["action"]["count"] = [49]
    st["observation.state"]["count"] = [51.0]
    st[CAMS[0]]["count"] = [7]  # images: LeRobot counts the sampled frames
    assert check(tmp_path, st) == [
        count(1, "action", 49, 50),
        count(1, "observation.state", 51, 50),
    ]
    st["action"]["count"] = [50.0]
    assert check(tmp_path, st) == [count(1, "observation.state", 51, 50)]
    assert check(tmp_path, st, 7) == []  # an episode the metadata does not know
    assert check(tmp_path, st, None) == []  # stats.json: no per-episode length


# --- _check_order -------------------------------------------------------------------------------
def order(tmp_path: Path, **arrays) -> list[str]:
    ctx = bare(tmp_path)
    a = {k: np.atleast_1d(np.asarray(v, dtype=np.float64)) for k, v in arrays.items()}
    stats._check_order(ctx, "action", a, "episode 4 stats", "W", 4)
    out = findings(ctx)
    for f in out:
        assert f[:4] == ("stats.order", "error", "W", 4)
        assert f[5] == "the stats are inconsistent; recompute them"
    return [f[4] for f in out]


def msg(*problems: str) -> list[str]:
    return [f"episode 4 stats: action: {'; '.join(problems)}"]


QUANT = "quantiles not ordered min <= q01 <= ... <= q99 <= max"


@pytest.mark.parametrize("span", [0.5, 100.0])
def test_order_tolerance(tmp_path: Path, span: float) -> None:
    """The tolerance: 1e-6 x max(1, max - min) plus float32 slack at the values' magnitude
    (span for dimension 0, 10 + span for dimension 1); 2x over fails, half passes."""
    slack = [float(f32.slack(m)) for m in (span, 10.0 + span)]
    tol = stats.ORDER_ATOL * max(1.0, span) + max(slack)
    tol_ok = stats.ORDER_ATOL * max(1.0, span) + min(slack)
    mid = [span / 2, 10.0 + span / 2]
    base = {"min": [0.0, 10.0], "max": [span, 10.0 + span], "mean": mid, "std": [1.0, 0.0]}
    assert order(tmp_path, **base) == []
    for d, bad in ((2 * tol, True), (tol_ok / 2, False)):
        got = order(tmp_path, **{**base, "mean": [span + d, mid[1]]})
        assert got == (msg("mean outside [min, max]") if bad else []), (d, got)
        got = order(tmp_path, **{**base, "mean": [span / 2, 10.0 - d]})
        assert got == (msg("mean outside [min, max]") if bad else []), (d, got)
        q = {"q01": [0.0, 10.0], "q10": [span / 2 + d, mid[1]], "q50": mid}
        got = order(tmp_path, **base, **q)
        assert got == (msg(QUANT) if bad else []), (d, got)
        got = order(tmp_path, **base, q01=[-d, 10.0], q50=mid)  # below min
        assert got == (msg(QUANT) if bad else []), (d, got)
        got = order(tmp_path, **base, q50=mid, q99=[span, 10.0 + span + d])  # above max
        assert got == (msg(QUANT) if bad else []), (d, got)


def test_order_constant_float32_mean_is_not_outside(tmp_path: Path) -> None:
    """Issue 27: LeRobot 0.6.1's recorder on a joint held at 60.675701 writes min = max =
    float32(60.675701) and mean 60.675743 (its float32 sum); a real violation still fails."""
    value = float(np.float32(60.675701))
    base = {"min": [value], "max": [value], "std": [0.0], "count": [60]}
    assert order(tmp_path, **base, mean=[60.675743]) == []
    assert order(tmp_path, **base, mean=[60.68]) == msg("mean outside [min, max]")
    assert order(tmp_path, **base, mean=[60.67]) == msg("mean outside [min, max]")
    # the slack grows with the frames summed (the drift is ~n/7 ulps): 10,000 frames
    drift = value + 1433 * float(f32.spacing(value))
    assert order(tmp_path, **{**base, "count": [10_000]}, mean=[drift]) == []
    assert order(tmp_path, **base, mean=[drift]) == msg("mean outside [min, max]")


def test_order_min_above_max(tmp_path: Path) -> None:
    base = {"min": [0.0], "max": [0.0], "mean": [0.0], "std": [0.0]}
    assert order(tmp_path, **{**base, "min": [0.5e-6]}) == []
    got = order(tmp_path, **{**base, "min": [2e-6], "mean": [1e-6]})
    assert got == msg("min > max")
    big = {"min": [1001.0], "max": [1.0], "mean": [1001.0], "std": [1.0]}
    assert order(tmp_path, **big) == msg("min > max", "mean outside [min, max]")


def test_order_exact_edges(tmp_path: Path) -> None:
    """Exactly the tolerance over is not over (max + atol and hi + atol are exact here)."""
    assert order(tmp_path, min=[0.0], max=[-1e-6], mean=[-0.5e-6], std=[0.0]) == []
    q = {"q01": [-0.4], "q10": [0.0], "q50": [-1e-6]}
    assert order(tmp_path, min=[-0.5], max=[0.5], mean=[0.0], std=[0.1], **q) == []


def test_order_std_and_combined(tmp_path: Path) -> None:
    base = {"min": [0.0, 1.0], "max": [2.0, 3.0], "mean": [1.0, 2.0], "std": [0.5, 0.0]}
    assert order(tmp_path, **{**base, "std": [0.5, -1e-12]}) == msg("std < 0")
    got = order(
        tmp_path, min=[3.0, 1.0], max=[2.0, 3.0], mean=[9.0, 2.0], std=[-1.0, 0.0], q50=[1, 2]
    )
    assert got == msg("min > max", "mean outside [min, max]", "std < 0", QUANT)
    # incomplete: nothing to compare (the missing stat is reported by check_stats_dict)
    for drop in ("min", "max", "mean", "std"):
        part = {k: v for k, v in {**base, "min": [9.0, 9.0]}.items() if k != drop}
        assert order(tmp_path, **part) == [], drop
    # quantiles present only in part: the ones given are checked in order
    assert order(tmp_path, **base, q10=[0.5, 1.5], q90=[1.5, 2.5]) == []
    assert order(tmp_path, **base, q10=[1.5, 1.5], q90=[0.5, 2.5]) == msg(QUANT)


# --- aggregate / check_aggregate -----------------------------------------------------------------
def test_aggregate_is_lerobots(lerobot: dict) -> None:
    per = episode_stats()
    want = lerobot_aggregate(lerobot, per)
    for key in per[0]:
        got = stats.aggregate([st[key] for st in per.values()])
        assert set(got) == {"min", "max", "mean", "std", "count"}
        for s, v in got.items():
            assert v.shape == np.asarray(want[key][s]).shape, (key, s)
            np.testing.assert_allclose(v, want[key][s], rtol=1e-12, atol=0)
    # uneven counts weigh the means
    a = {"min": [0.0], "max": [1.0], "mean": [0.0], "std": [1.0], "count": [1]}
    b = {"min": [0.0], "max": [4.0], "mean": [4.0], "std": [0.0], "count": [3]}
    got = stats.aggregate([a, b])
    ref = lerobot["aggregate_feature_stats"](
        [{k: np.asarray(v, dtype=np.float64) for k, v in s.items()} for s in (a, b)]
    )
    assert got["mean"][0] == 3.0 == ref["mean"][0]
    assert got["std"][0] == pytest.approx(np.sqrt((1 + 9 + 3 * 1) / 4)) == ref["std"][0]
    assert got["count"][0] == 4


def agg_check(root: Path, agg: dict, per: dict | None = None) -> list[tuple]:
    ctx = bare(root)
    stats.check_aggregate(ctx, agg, episode_stats() if per is None else per)
    return findings(ctx)


def mismatch(key: str, *stats_off: str) -> tuple:
    return (
        "stats.aggregate_mismatch",
        "error",
        fmt.STATS_PATH,
        None,
        f"stats.json: {key} {', '.join(stats_off)} disagree with the aggregate of the "
        "per-episode stats",
        "stats.json is stale (episodes changed after it was written); re-aggregate it",
    )


def test_check_aggregate_tolerance(lerobot: dict, tmp_path: Path) -> None:
    """np.allclose(rtol=1e-4, atol=1e-4 x (max - min)); count: atol 0.5."""
    agg = lerobot_aggregate(lerobot, episode_stats())
    assert agg_check(tmp_path, agg) == []
    w = agg["action"]
    span = np.maximum(1e-6, np.abs(w["max"] - w["min"]))
    tol = 1e-4 * span + 1e-4 * np.abs(w["mean"])
    for factor, bad in ((2.0, True), (0.5, False), (-2.0, True), (-0.5, False)):
        for s in ("min", "max", "mean", "std"):
            t = 1e-4 * span + 1e-4 * np.abs(w[s])
            for dim in range(6):  # |value| from 0.4 to 26 x the span: rtol and atol both count
                off = copy.deepcopy(agg)
                off["action"][s] = w[s] + factor * t * (np.arange(6) == dim)
                want = [mismatch("action", s)] if bad else []
                assert agg_check(tmp_path, off) == want, (s, factor, dim)
    assert tol.shape == (6,)
    total = 128
    for d, bad in ((1.0, True), (-1.0, True), (0.25, False), (-0.25, False)):
        off = copy.deepcopy(agg)
        off["observation.state"]["count"] = np.array([total + d])
        assert agg_check(tmp_path, off) == ([mismatch("observation.state", "count")] if bad else [])
    # several stats off: named in order; images too
    off = copy.deepcopy(agg)
    off[CAMS[1]]["mean"] = agg[CAMS[1]]["mean"] + 0.01
    off[CAMS[1]]["count"] = np.array([3])
    off["action"]["max"] = agg["action"]["max"] + 1
    off["action"]["std"] = agg["action"]["std"] * 2
    assert agg_check(tmp_path, off) == [
        mismatch("action", "max", "std"),
        mismatch(CAMS[1], "mean", "count"),
    ]


def test_check_aggregate_constant_dimension(tmp_path: Path) -> None:
    """A constant dimension (max == min): the tolerance floor is 1e-4 x 1e-6."""
    one = {"min": [0.0, 0.0], "max": [1.0, 0.0], "mean": [0.5, 0.0], "std": [0.1, 0.0]}
    per = {e: {"action": {**one, "count": [n]}} for e, n in LENGTHS.items()}
    for e in per:
        per[e]["observation.state"] = per[e]["action"]
    agg = {"action": {**one, "count": [128]}}
    assert agg_check(tmp_path, agg, per) == []
    for d, bad in ((2e-10, True), (0.5e-10, False)):
        off = {"action": {**one, "mean": [0.5, d], "count": [128]}}
        assert agg_check(tmp_path, off, per) == ([mismatch("action", "mean")] if bad else [])


def test_check_aggregate_symmetric_range(tmp_path: Path) -> None:
    """The tolerance scales with max - min (2 here), not with |max + min| (0 here)."""
    one = {"min": [-1.0], "max": [1.0], "mean": [0.0], "std": [0.5]}
    per = {e: {"action": {**one, "count": [n]}} for e, n in LENGTHS.items()}
    for d, bad in ((4e-4, True), (1e-4, False)):  # atol 1e-4 x 2
        off = {"action": {**one, "mean": [d], "count": [128]}}
        assert agg_check(tmp_path, off, per) == ([mismatch("action", "mean")] if bad else [])


def test_check_aggregate_skip_goes_on(lerobot: dict, tmp_path: Path) -> None:
    """A feature or stat that cannot be compared is skipped, the next ones still are."""
    per = episode_stats()
    agg = lerobot_aggregate(lerobot, per)
    state_off = copy.deepcopy(agg)
    state_off["observation.state"]["mean"] = agg["observation.state"]["mean"] + 1
    want = [mismatch("observation.state", "mean")]
    off = copy.deepcopy(state_off)
    off["action"] = "not a dict"
    assert agg_check(tmp_path, off) == want
    per2 = copy.deepcopy(per)
    del per2[1]["action"]["count"]
    assert agg_check(tmp_path, state_off, per2) == want
    off = copy.deepcopy(state_off)
    del off["observation.state"]["min"]  # the first stat: absent
    assert agg_check(tmp_path, off) == want
    off = copy.deepcopy(state_off)
    off["observation.state"]["min"] = [0.0, 1.0]  # the first stat: wrong shape
    assert agg_check(tmp_path, off) == want


def test_check_aggregate_skips(lerobot: dict, tmp_path: Path) -> None:
    per = episode_stats()
    agg = lerobot_aggregate(lerobot, per)
    off = copy.deepcopy(agg)
    off["action"]["mean"] = [1.0] * 5  # shape: reported by check_stats_dict
    off["action"]["std"] = "x"
    off["action"]["min"] = None
    off["observation.state"] = "not a dict"
    assert agg_check(tmp_path, off) == []
    per2 = copy.deepcopy(per)
    del per2[1]["action"]["count"]  # cannot aggregate: reported per episode
    per2[0]["observation.state"]["mean"] = [0.0] * 5
    for e in per2:
        del per2[e][CAMS[0]]
    off = copy.deepcopy(agg)
    off["action"]["mean"] = agg["action"]["mean"] + 1
    off[CAMS[0]]["mean"] = agg[CAMS[0]]["mean"] + 1
    assert agg_check(tmp_path, off, per2) == []
    # a non-finite aggregate (NaN in an episode): that episode's own finding, no comparison
    per3 = copy.deepcopy(per)
    per3[2]["action"]["mean"][0] = float("nan")
    off = copy.deepcopy(agg)
    off["action"]["mean"] = agg["action"]["mean"] + 1
    off["action"]["max"] = agg["action"]["max"] + 1
    assert agg_check(tmp_path, off, per3) == [mismatch("action", "max")]


# --- varying_dims / check_zero_variance ----------------------------------------------------------
def zero(key: str, label: list, file: str | None = fmt.STATS_PATH) -> tuple:
    return (
        "stats.zero_variance",
        "warning",
        file,
        None,
        f"{key}: dimension(s) {label} never change (std ~0)",
        "MEAN_STD normalisation divides by std: drop the dimension or use MIN_MAX/identity",
    )


def zv(root: Path, agg, per, varying=None, features=None) -> list[tuple]:
    ctx = bare(root)
    if features is not None:
        ctx.info["features"] = features
    stats.check_zero_variance(ctx, agg, per, varying)
    return findings(ctx)


def test_zero_variance(lerobot: dict, tmp_path: Path) -> None:
    per = episode_stats()
    agg = lerobot_aggregate(lerobot, per)
    assert zv(tmp_path, agg, per) == []
    off = copy.deepcopy(agg)
    off["action"]["std"] = np.array([0.0, 1.0, 1e-8, 2e-8, 0.5e-8, 1.0])
    assert zv(tmp_path, off, per) == [zero("action", [ACTION_NAMES[i] for i in (0, 2, 4)])]
    # dimensions known to vary are std_collapsed's, not constant joints
    # ... and dimensions known constant count as such up to float32 noise at their mean
    # (2e-8 here; LeRobot writes 6e-6 for a joint held at 60.675701), not an absolute 1e-8
    moving = {"action": np.array([True, False, False, False, False, False])}
    want = [zero("action", [ACTION_NAMES[i] for i in (2, 3, 4)])]
    assert zv(tmp_path, off, per, moving) == want
    wrong_shape = {"action": np.array([True, True])}
    assert zv(tmp_path, off, per, wrong_shape) == [zero("action", ACTION_NAMES[0:5:2])]
    # no stats.json: the per-episode stats aggregated; no file to name
    per0 = copy.deepcopy(per)
    for st in per0.values():
        st["observation.state"]["std"][1] = 0.0
        st["observation.state"]["mean"][1] = 7.0
    assert zv(tmp_path, None, per0) == [zero("observation.state", [ACTION_NAMES[1]], None)]
    # stats.json without the feature: the per-episode stats stand in
    assert zv(tmp_path, {}, per0) == [zero("observation.state", [ACTION_NAMES[1]])]
    assert zv(tmp_path, None, None) == [] and zv(tmp_path, None, {}) == []
    # a non-finite std is stats.non_finite's
    off["action"]["std"][1] = np.nan
    assert zv(tmp_path, off, per) == []
    off["action"]["std"] = None
    assert zv(tmp_path, off, per) == []
    per1 = copy.deepcopy(per0)
    del per1[1]["observation.state"]["count"]
    assert zv(tmp_path, None, per1) == []
    per2 = copy.deepcopy(per0)
    del per2[1]["observation.state"]
    assert zv(tmp_path, None, per2) == [zero("observation.state", [ACTION_NAMES[1]], None)]


def test_zero_variance_names_and_features(tmp_path: Path) -> None:
    feats = {  # skipped ones first: skipping does not end the loop
        "txt": {"dtype": "string", "shape": [1]},
        "nan": {"dtype": "float32", "shape": [3]},
        "a": {"dtype": "float32", "shape": [3], "names": ["x", "y"]},
        "b": {"dtype": "float32", "shape": [2], "names": {"motors": ["p", "q"]}},
        "grid": {"dtype": "float32", "shape": [2, 2]},
        "img": {"dtype": "image", "shape": [8, 8, 3]},
        "cam": {"dtype": "video", "shape": [8, 8, 3]},
        "lang": {"dtype": "language", "shape": [1]},
        "timestamp": {"dtype": "float32", "shape": [1]},
        "junk": 3,
    }
    z = {"std": [0.0, 0.0, 0.0]}
    agg = {k: {"std": [[0.0, 1.0], [1.0, 0.0]] if k == "grid" else z["std"]} for k in feats}
    agg["nan"]["std"] = [0.0, float("nan"), 0.0]  # non-finite: stats.non_finite's
    assert zv(tmp_path, agg, None, features=feats) == [
        zero("a", ["x", "y", "2"]),
        zero("b", ["0", "1", "2"]),
        zero("grid", ["0", "3"]),
    ]


def test_varying_dims(lerobot: dict, tmp_path: Path) -> None:
    per = episode_stats()
    agg = lerobot_aggregate(lerobot, per)
    ctx = bare(tmp_path)
    got = stats.varying_dims(ctx, agg, per, None)
    assert set(got) == set(NUMERIC) and all(v.tolist() == [True] * 6 for v in got.values())
    const = copy.deepcopy(per)
    for st in const.values():
        st["action"]["min"][3] = st["action"]["max"][3] = 1.0
    agg2 = copy.deepcopy(agg)
    agg2["action"]["min"][3] = agg2["action"]["max"][3] = 1.0
    want = [True, True, True, False, True, True]
    assert stats.varying_dims(ctx, agg2, const, None)["action"].tolist() == want
    assert stats.varying_dims(ctx, None, const, None)["action"].tolist() == want
    assert stats.varying_dims(ctx, agg2, None, None)["action"].tolist() == want
    assert stats.varying_dims(ctx, agg, const, None)["action"].tolist() == [True] * 6
    assert stats.varying_dims(ctx, None, None, None) == {}
    # rows, when recomputed, decide: a dimension varies if any episode's rows do
    fm = types.SimpleNamespace(
        per_episode=types.SimpleNamespace(
            min=np.array([[0.0, 1.0], [0.0, 1.0]]), max=np.array([[0.0, 1.0], [1.0, 1.0]])
        )
    )
    rows = types.SimpleNamespace(features={"action": fm})
    got = stats.varying_dims(ctx, agg2, const, rows)
    assert got["action"].tolist() == [True, False]
    assert got["observation.state"].tolist() == [True] * 6


def test_run_files_findings_where_they_are(lerobot: dict, v21: Path, tmp_path: Path) -> None:
    """stats.json findings name stats.json; per-episode ones the per-episode file and episode;
    counts are compared with the episode lengths."""
    per = episode_stats()
    agg = lerobot_aggregate(lerobot, per)
    agg["action"]["mean"] = agg["action"]["mean"][:5]
    write_stats_json(lerobot, v21, agg)
    lines = (v21 / fmt.LEGACY_EPISODES_STATS_PATH).read_text().splitlines()
    r = json.loads(lines[1])
    r["stats"]["observation.state"]["count"] = [49]
    lines[1] = json.dumps(r)
    (v21 / fmt.LEGACY_EPISODES_STATS_PATH).write_text("\n".join(lines) + "\n")
    got = findings(validate(v21, quick=True))
    assert got[:2] == [
        shape("stats.json: action/mean has shape (5,), expected (6,)", None, fmt.STATS_PATH),
        (
            "stats.count_mismatch",
            "error",
            fmt.LEGACY_EPISODES_STATS_PATH,
            1,
            "episode 1 stats: observation.state/count is 49 but the episode has 50 frames",
            "the stats were computed on other data; recompute them",
        ),
    ]
    per[1]["action"]["count"] = [51]
    root = make_v30(lerobot, tmp_path / "v30", per)
    write_stats_json(lerobot, root, lerobot_aggregate(lerobot, episode_stats()))
    got = findings(validate(root, quick=True))
    assert [f[:4] for f in got][:1] == [("stats.count_mismatch", "error", "meta/episodes", 1)]


def _scale_std(path: Path, factor: float, episode: int | None) -> None:
    """Multiply action's std by ``factor``: in stats.json (episode None) or one episode."""
    if episode is None:
        d = json.loads(path.read_text())
        d["action"]["std"] = [v * factor for v in d["action"]["std"]]
        path.write_text(json.dumps(d))
        return
    lines = path.read_text().splitlines()
    r = json.loads(lines[episode])
    r["stats"]["action"]["std"] = [v * factor for v in r["stats"]["action"]["std"]]
    lines[episode] = json.dumps(r)
    path.write_text("\n".join(lines) + "\n")


def test_run_judges_every_source(lerobot: dict, v21: Path) -> None:
    """The exact checks (stats_exact) see the per-episode stats and stats.json, with the
    recomputed rows in standard mode."""
    write_stats_json(lerobot, v21, lerobot_aggregate(lerobot, episode_stats()))
    _scale_std(v21 / fmt.LEGACY_EPISODES_STATS_PATH, 1.5, 2)
    where = {
        (f[0], f[2], f[3]) for f in findings(validate(v21)) if f[0] != "stats.aggregate_mismatch"
    }
    assert where == {("stats.std_mismatch", fmt.LEGACY_EPISODES_STATS_PATH, 2)}
    _scale_std(v21 / fmt.LEGACY_EPISODES_STATS_PATH, 1 / 1.5, 2)
    _scale_std(v21 / fmt.STATS_PATH, 1.5, None)
    where = {
        (f[0], f[2], f[3]) for f in findings(validate(v21)) if f[0] != "stats.aggregate_mismatch"
    }
    assert where == {("stats.std_mismatch", fmt.STATS_PATH, None)}


def _constant_in_stats(v21: Path, moving_rows: bool) -> None:
    """gripper.pos of action recorded as constant (min = max = mean, std 0) in every
    episode's stats; in the rows it is constant too, or it still moves."""
    if not moving_rows:
        for p in sorted((v21 / "data").glob("*/*.parquet")):
            t = pq.read_table(p)
            col = np.stack(t["action"].to_numpy(zero_copy_only=False))
            col[:, 5] = 4.0
            arr = pa.FixedSizeListArray.from_arrays(pa.array(col.reshape(-1), pa.float32()), 6)
            pq.write_table(t.set_column(t.schema.get_field_index("action"), "action", arr), p)
    lines = []
    for r in map(json.loads, (v21 / fmt.LEGACY_EPISODES_STATS_PATH).read_text().splitlines()):
        a = r["stats"]["action"]
        a["min"][5] = a["max"][5] = a["mean"][5] = 4.0
        a["std"][5] = 0.0
        lines.append(json.dumps(r))
    (v21 / fmt.LEGACY_EPISODES_STATS_PATH).write_text("\n".join(lines) + "\n")


def test_run_rows_decide_what_varies(v21: Path) -> None:
    """Stats that call a moving joint constant: the recomputed rows (standard mode) show it
    moves, so it is a collapsed std (stats_exact), not a constant joint; quick mode has only
    the stats to go by."""
    _constant_in_stats(v21, moving_rows=True)
    ids = {f[0] for f in findings(validate(v21))}
    assert "stats.zero_variance" not in ids and "stats.std_collapsed" in ids, ids
    assert findings(validate(v21, quick=True)) == [zero("action", ["gripper.pos"], None)]


def test_run_zero_variance_any_source_varies(lerobot: dict, v21: Path) -> None:
    """Quick mode: a dimension is known to vary when any recorded stats (stats.json or an
    episode's) has min < max there."""
    per = episode_stats()
    agg = lerobot_aggregate(lerobot, per)
    agg["action"]["std"][5] = 0.0  # stats.json: std 0, min < max
    write_stats_json(lerobot, v21, agg)
    got = [f[0] for f in findings(validate(v21, quick=True))]
    assert got == ["stats.aggregate_mismatch", "stats.std_collapsed"], got  # not zero_variance
    _constant_in_stats(v21, moving_rows=True)  # the episodes: constant; stats.json: varies
    got = [f[0] for f in findings(validate(v21, quick=True))]
    assert "stats.zero_variance" not in got, got
    # stats.json constant too, the episodes vary
    v = v21.parent / "v21b"
    shutil.copytree(FIXTURE_V21, v, ignore=shutil.ignore_patterns("videos"))
    agg["action"]["min"][5] = agg["action"]["max"][5] = agg["action"]["mean"][5] = 4.0
    write_stats_json(lerobot, v, agg)
    got = [f[0] for f in findings(validate(v, quick=True))]
    assert "stats.zero_variance" not in got, got
    # both constant: a constant joint, filed under stats.json
    _constant_in_stats(v, moving_rows=True)
    got = findings(validate(v, quick=True))
    assert zero("action", ["gripper.pos"]) in got, got


def test_run_zero_variance_from_rows(lerobot: dict, v21: Path) -> None:
    """A joint held constant in the rows and std 0 in the stats: a warning naming it; the same
    std 0 on a joint that moves is not a constant joint."""
    for p in sorted((v21 / "data").glob("*/*.parquet")):
        t = pq.read_table(p)
        col = np.stack(t["action"].to_numpy(zero_copy_only=False))
        col[:, 5] = 4.0
        arr = pa.FixedSizeListArray.from_arrays(pa.array(col.reshape(-1), pa.float32()), 6)
        t = t.set_column(t.schema.get_field_index("action"), "action", arr)
        pq.write_table(t, p)
    lines = []
    for r in map(json.loads, (v21 / fmt.LEGACY_EPISODES_STATS_PATH).read_text().splitlines()):
        a = r["stats"]["action"]
        a["min"][5] = a["max"][5] = a["mean"][5] = 4.0
        a["std"][5] = 0.0
        lines.append(json.dumps(r))
    (v21 / fmt.LEGACY_EPISODES_STATS_PATH).write_text("\n".join(lines) + "\n")
    for quick in (False, True):
        got = findings(validate(v21, quick=quick))
        assert got == [zero("action", ["gripper.pos"], None)], quick
