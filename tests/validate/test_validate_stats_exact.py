"""The validator's exact stats checks and the tasks-layout fix (issue 10, validator side).

Real inputs only: a v3.0 dataset with offset joints recorded by LeRobot 0.6.1's own recorder
(``tests/helpers/lerobot_record_offset.py`` in envs/act; its float32 ``E[x^2]-E[x]^2`` writes
std 0 or 10-30x too large there), the outputs of LeRobot's own v2.1 -> v3.0 converters
(0.6.1 in envs/act, 0.4.4 in envs/compat04) on the real Koch fixture, and LeRobot's
``get_feature_stats`` itself (parsed from the installed source, tests/helpers/
lerobot_compute_stats.py) for the tolerance claims. Task-layout verdicts are checked against
what LeRobot 0.6.1's ``load_tasks`` + ``tasks.iloc[i].name`` really return.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import FIXTURE_V21, REPO, env_python, run, run_env
from helpers import lerobot_compute_stats

from validators import dataset_format as fmt
from validators import stats_exact, stats_rows
from validators.context import Context
from validators.moments import segment_moments
from validators.runner import validate_dataset

HELPERS = REPO / "tests" / "helpers"
ORDINARY = ("elbow_flex.pos", "wrist_flex.pos", "wrist_roll.pos")
OFFSET = ("shoulder_pan.pos", "shoulder_lift.pos")
NEW_IDS = ("stats.std_collapsed", "stats.std_mismatch", "stats.mean_min_max_mismatch")


def _start(env: str, log: Path, *args: str | Path) -> subprocess.Popen:
    with log.open("w") as err:
        return subprocess.Popen(
            [str(env_python(env)), *map(str, args)], cwd=REPO, env=run_env(), stderr=err
        )


def _wait(proc: subprocess.Popen, log: Path, what: str) -> None:
    try:
        proc.wait(timeout=600)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"{what}: timed out")
    assert proc.returncode == 0, f"{what}: exit {proc.returncode}\n{log.read_text()[-3000:]}"


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """LeRobot's own outputs, made once per module, the three LeRobot runs in parallel:
    ``offset`` (0.6.1 recorder, with a constant gripper), ``conv06`` / ``conv04`` (0.6.1 /
    0.4.4 converter on a copy of the Koch fixture; conv04 absent without envs/compat04)."""
    root = tmp_path_factory.mktemp("stats_exact")
    out = {"offset": root / "offset", "conv06": root / "conv06"}
    recorder = HELPERS / "lerobot_record_offset.py"
    procs = [
        (
            _start("act", root / "rec.log", recorder, out["offset"], "--constant"),
            root / "rec.log",
            "LeRobot 0.6.1 recorder",
        )
    ]
    shutil.copytree(FIXTURE_V21, out["conv06"])
    args = ["-m", "lerobot.scripts.convert_dataset_v21_to_v30", "--push-to-hub", "false"]
    procs.append(
        (
            _start(
                "act", root / "c06.log", *args, "--repo-id", "local/conv06", "--root", out["conv06"]
            ),
            root / "c06.log",
            "LeRobot 0.6.1 converter",
        )
    )
    compat = REPO / "envs/compat04/.venv/bin/python"
    if compat.exists():  # 0.4.4's converter: --root is the parent, --repo-id the folder name
        (root / "w04").mkdir()
        shutil.copytree(FIXTURE_V21, root / "w04" / "conv04")
        mod = "lerobot.datasets.v30.convert_dataset_v21_to_v30"
        args04 = [
            "-m",
            mod,
            "--repo-id",
            "conv04",
            "--root",
            root / "w04",
            "--push-to-hub",
            "false",
        ]
        procs.append((_start("compat04", root / "c04.log", *args04), root / "c04.log", "0.4.4"))
        out["conv04"] = root / "w04" / "conv04"
    for proc, log, what in procs:
        _wait(proc, log, what)
    return out


def _rows(root: Path, key: str) -> tuple[np.ndarray, np.ndarray]:
    table = pq.read_table(root / fmt.DATA_PATH.format(chunk_index=0, file_index=0))
    values = np.asarray(table.column(key).to_pylist(), dtype=np.float64)
    return np.asarray(table.column("episode_index").to_pylist()), values


def _episode_stats(root: Path, key: str, stat: str) -> np.ndarray:
    table = pq.read_table(root / "meta/episodes/chunk-000/file-000.parquet")
    return np.asarray(table.column(f"stats/{key}/{stat}").to_pylist(), dtype=np.float64)


def _stats_findings(report) -> list:
    return [f for f in report.findings if f.check_id.startswith("stats.")]


# --- LeRobot 0.6.1's offset dataset ------------------------------------------------------------
def test_lerobot_recorder_really_writes_wrong_std(real: dict[str, Path]) -> None:
    """The premise: LeRobot's own recorder gets the offset joints wrong, the others right."""
    for key in ("action", "observation.state"):
        eps, rows = _rows(real["offset"], key)
        recorded = _episode_stats(real["offset"], key, "std")
        true = np.stack([rows[eps == e].std(axis=0) for e in range(len(recorded))])
        off = np.abs(recorded[:, :2] / true[:, :2] - 1)
        assert (off > 0.5).all(), (key, recorded[:, :2], true[:, :2])
        np.testing.assert_allclose(recorded[:, 2:5], true[:, 2:5], rtol=1e-3)


def test_offset_dataset_is_an_error_naming_the_repair(real: dict[str, Path]) -> None:
    report = validate_dataset(real["offset"])
    ids = {(f.check_id, f.severity, f.file) for f in report.findings}
    for want in (
        ("stats.std_collapsed", "error", "meta/episodes"),
        ("stats.std_mismatch", "error", "meta/stats.json"),
    ):
        assert want in ids, sorted(ids)
    assert not report.ok()
    stats = _stats_findings(report)
    for f in stats:
        assert not any(name in f.message for name in ORDINARY), f.message
        if f.check_id in NEW_IDS:
            assert any(name in f.message for name in OFFSET), f.message
            assert f"make fix-stats DATASET={real['offset']}" in f.hint
    # the constant gripper is a constant joint (a warning), not a collapsed std
    gripper = {f.check_id for f in stats if "gripper.pos" in f.message}
    assert gripper == {"stats.zero_variance"}, gripper


def test_quick_mode_refuses_it_from_the_metadata(real: dict[str, Path]) -> None:
    """No rows read: a std of 0 with min < max, or outside the Bhatia-Davis bound, is
    impossible; that is enough to stop the LeRobot-recorded offset dataset."""
    report = validate_dataset(real["offset"], quick=True)
    found = {f.check_id for f in report.errors}
    assert {"stats.std_collapsed", "stats.std_mismatch"} <= found, found


def test_preflight_refuses_the_unrepaired_dataset(real: dict[str, Path]) -> None:
    """``make train`` runs this module: exit 3 with the validator's finding and the repair."""
    cmd = [sys.executable, "-m", "scripts.train", "--recipe", "act_cpu"]
    proc = run([*cmd, "--dataset", real["offset"], "--dry-run"], timeout=300)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "[stats.std_collapsed]" in proc.stderr, proc.stderr
    assert f"make fix-stats DATASET={real['offset']}" in proc.stderr, proc.stderr


def test_moments_streamed_in_batches_equal_numpy_float64(
    real: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches of 7 rows cut every episode: Chan's merge must still give numpy's float64."""
    monkeypatch.setattr(stats_rows, "BATCH_ROWS", 7)
    root = real["offset"]
    ctx = Context(root, json.loads((root / fmt.INFO_PATH).read_text()), deep=False, quick=False)
    from validators import schema, structure

    schema.run(ctx)
    structure.run(ctx)
    got = stats_rows.recompute(ctx)
    assert set(got.features) == {"action", "observation.state"} and not got.skipped
    for key, fm in got.features.items():
        eps, rows = _rows(root, key)
        for i, e in enumerate(fm.episodes):
            x = rows[eps == e]
            np.testing.assert_allclose(fm.per_episode.mean[i], x.mean(axis=0), rtol=1e-12)
            np.testing.assert_allclose(fm.per_episode.std[i], x.std(axis=0), rtol=1e-9, atol=0)
            np.testing.assert_array_equal(fm.per_episode.min[i], x.min(axis=0))
            assert int(fm.per_episode.count[i]) == len(x)
        assert fm.total is not None
        np.testing.assert_allclose(fm.total.mean, rows.mean(axis=0), rtol=1e-12)
        np.testing.assert_allclose(fm.total.std, rows.std(axis=0), rtol=1e-9)


def _write_exact_stats(root: Path) -> None:
    """What a repair writes: float64 per-episode and global mean/std/min/max from the rows."""
    meta = root / "meta/episodes/chunk-000/file-000.parquet"
    table = pq.read_table(meta)
    stats = json.loads((root / fmt.STATS_PATH).read_text())
    for key in ("action", "observation.state"):
        eps, rows = _rows(root, key)
        per = [rows[eps == e] for e in table.column("episode_index").to_pylist()]
        for stat, fn in (("mean", np.mean), ("std", np.std), ("min", np.min), ("max", np.max)):
            col = f"stats/{key}/{stat}"
            i = table.schema.get_field_index(col)
            values = pa.array(
                [fn(x, axis=0).tolist() for x in per], type=table.schema.field(i).type
            )
            table = table.set_column(i, table.schema.field(i), values)
            stats[key][stat] = fn(rows, axis=0).tolist()
    pq.write_table(table, meta)
    (root / fmt.STATS_PATH).write_text(json.dumps(stats))


def test_exact_stats_are_silent(real: dict[str, Path], tmp_path: Path) -> None:
    """Once mean/std/min/max are exact, only the truly constant gripper is left (a warning)."""
    fixed = tmp_path / "fixed"
    shutil.copytree(real["offset"], fixed)
    _write_exact_stats(fixed)
    for quick in (False, True):
        report = validate_dataset(fixed, quick=quick, behaviour=False)  # stats only
        assert {f.check_id for f in report.findings} == {"stats.zero_variance"}, [
            f.message for f in report.findings
        ]


def test_constant_dimension_with_nonzero_std_is_only_a_warning(
    real: dict[str, Path], tmp_path: Path
) -> None:
    """(x - mean) / std of a constant is 0 whatever std is: never an error."""
    ds = tmp_path / "c"
    shutil.copytree(real["offset"], ds)
    _write_exact_stats(ds)
    meta = ds / "meta/episodes/chunk-000/file-000.parquet"
    table = pq.read_table(meta)
    i = table.schema.get_field_index("stats/action/std")
    values = table.column(i).to_pylist()
    values[0][5] = 0.5  # gripper.pos is 12.5 in every row
    table = table.set_column(i, table.schema.field(i), pa.array(values, table.schema.field(i).type))
    pq.write_table(table, meta)
    report = validate_dataset(ds, behaviour=False)  # the stats group's verdict
    hits = [f for f in report.findings if f.check_id == "stats.std_mismatch"]
    assert [(f.severity, f.episode) for f in hits] == [("warning", 0)], report.findings
    assert "constant" in hits[0].message
    # stats.json still says 0 for the gripper: only the older aggregate check objects
    assert {f.check_id for f in report.errors} == {"stats.aggregate_mismatch"}, report.errors


# --- tolerances against LeRobot's own arithmetic -----------------------------------------------
def _lerobot_vs_exact(values: np.ndarray) -> stats_exact.Verdict:
    """Judge LeRobot 0.6.1's get_feature_stats (its real code) against our exact moments."""
    lerobot = lerobot_compute_stats.load()["get_feature_stats"](values, axis=0, keepdims=False)
    rec = stats_exact.Recorded(
        labels=[0],
        count=np.array([float(len(values))]),
        **{
            s: np.asarray(lerobot[s], dtype=np.float64)[None] for s in ("mean", "std", "min", "max")
        },
    )
    exact = segment_moments(values, np.array([len(values)]))
    return stats_exact.judge(rec, exact)


@pytest.mark.parametrize("frames", [80, 1000, 10_000])
def test_lerobot_float32_on_ordinary_data_is_at_most_a_warning(frames: int) -> None:
    """|mean|/std up to 40 (a Koch joint in degrees): silent; up to 100: at most a warning.
    The offset joints (2048 +- 0.05, 95 +- 0.01): an error."""
    rng = np.random.default_rng(frames)
    for ratio in (1, 10, 40, 100):
        noise = rng.normal(size=(frames, 8))
        values = (ratio * 0.7 * rng.choice([-1, 1], size=8) + 0.7 * noise).astype(np.float32)
        v = _lerobot_vs_exact(values)
        assert not v.collapsed.any(), ratio
        worst = np.nanmax(v.std_rel)
        assert worst < stats_exact.STD_ERROR_REL, (ratio, worst)
        if ratio <= 40:
            assert worst < stats_exact.STD_WARN_REL, (ratio, worst)
        assert max(np.max(d) for d in v.values.values()) < stats_exact.VALUE_WARN, ratio
    offset = np.stack(
        [2048 + rng.normal(0, 0.05, frames), 95 + rng.normal(0, 0.01, frames)], axis=1
    ).astype(np.float32)
    v = _lerobot_vs_exact(offset)
    bad = v.collapsed | (np.nan_to_num(v.std_rel) > stats_exact.STD_ERROR_REL)
    assert bad.all(), (v.collapsed, v.std_rel)


def test_bounds_hold_for_any_exact_std() -> None:
    """Quick mode's band [range/sqrt(2n), sqrt((max-mean)(mean-min))] never rejects the truth,
    even at its extremes (two spikes; two-point data)."""
    n = 50
    spikes = np.full((n, 1), 5.0)
    spikes[0], spikes[1] = 4.0, 6.0
    two_point = np.repeat([[1.0], [3.0]], [10, 40], axis=0)
    rng = np.random.default_rng(1)
    for values in (spikes, two_point, rng.normal(2048, 0.05, (n, 1)), rng.uniform(size=(n, 1))):
        m = segment_moments(values.astype(np.float32), np.array([len(values)]))
        rec = stats_exact.Recorded([0], m.count.astype(float), m.mean, m.std, m.min, m.max)
        v = stats_exact.judge_bounds(rec)
        assert not v.collapsed.any() and np.isnan(v.std_rel).all(), values[:3].ravel()


# --- v2.1 sources and LeRobot's converters -----------------------------------------------------
def _scale_v21_std(root: Path, factor: float) -> None:
    path = root / fmt.LEGACY_EPISODES_STATS_PATH
    rows = fmt.read_jsonl(path)
    rows[0]["stats"]["observation.state"]["std"][0] *= factor
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.mark.parametrize(("factor", "severity"), [(1.005, None), (1.03, "warning"), (1.5, "error")])
def test_v21_source_stats_small_difference_warns_large_errs(
    koch_v21: Path, factor: float, severity: str | None
) -> None:
    """Under 1 % silent, 1-10 % a warning, more an error; the hint is the converter."""
    assert validate_dataset(koch_v21).findings == []  # LeRobot 0.3.3's recording is exact enough
    _scale_v21_std(koch_v21, factor)
    hits = [f for f in validate_dataset(koch_v21).findings if f.check_id == "stats.std_mismatch"]
    if severity is None:
        assert hits == []
        return
    assert [(f.severity, f.episode) for f in hits] == [(severity, 0)], hits
    assert "make convert SRC=" in hits[0].hint


def test_lerobot_converter_outputs_have_no_errors(real: dict[str, Path]) -> None:
    """LeRobot 0.6.1's and 0.4.4's converters on the real Koch recording: clean in every mode
    (0.4.4's tasks.parquet keeps the text in an unnamed pandas index, __index_level_0__)."""
    names = [n for n in ("conv06", "conv04") if n in real]
    assert names[0] == "conv06"
    for name in names:
        for quick in (False, True):
            report = validate_dataset(real[name], quick=quick)
            assert report.version == "v3.0"
            assert report.findings == [], (name, [(f.check_id, f.message) for f in report.findings])
    if "conv04" in real:
        schema = pq.read_schema(real["conv04"] / fmt.TASKS_PATH)
        assert "task" not in schema.names and "__index_level_0__" in schema.names


# --- meta/tasks.parquet: accept what LeRobot 0.6.1 reads right, refuse what it misreads ---
TEXTS = ["Pick up the cube and put it in the box", "Stack the cube on the plate"]


def _tasks_variants() -> dict[str, object]:
    """Layouts written with pandas / pyarrow exactly as the named writer does."""
    import pandas as pd

    idx = [0, 1]

    def pandas_write(df: pd.DataFrame) -> object:
        return lambda p: df.to_parquet(p)

    def arrow_write(p: Path) -> None:
        pq.write_table(pa.table({"task_index": idx, "task": TEXTS}), p)

    rev = pd.DataFrame({"task_index": [1, 0]}, index=pd.Index(TEXTS[::-1], name="task"))
    multi = pd.MultiIndex.from_arrays([TEXTS, ["a", "b"]], names=["task", "kind"])
    return {  # name -> (writer, does LeRobot read it right?)
        "lerobot_named_task": pandas_write(
            pd.DataFrame({"task_index": idx}, index=pd.Index(TEXTS, name="task"))
        ),
        "lerobot04_unnamed_index": pandas_write(pd.DataFrame({"task_index": idx}, index=TEXTS)),
        "index_named_otherwise": pandas_write(
            pd.DataFrame({"task_index": idx}, index=pd.Index(TEXTS, name="instruction"))
        ),
        "plain_columns_no_pandas_metadata": arrow_write,
        "task_column_range_index": pandas_write(pd.DataFrame({"task_index": idx, "task": TEXTS})),
        "two_level_index": pandas_write(pd.DataFrame({"task_index": idx}, index=multi)),
        "rows_not_in_task_index_order": pandas_write(rev),
    }


def test_tasks_layouts_accepted_exactly_when_lerobot_reads_them_right(
    real: dict[str, Path], tmp_path: Path
) -> None:
    variants = {}
    for name, write in _tasks_variants().items():
        ds = tmp_path / name
        shutil.copytree(real["conv06"], ds)
        write(ds / fmt.TASKS_PATH)
        variants[name] = ds
    if "conv04" in real:
        variants["lerobot04_converter_output"] = real["conv04"]
    code = (
        "import json, sys; from pathlib import Path; "
        "from lerobot.datasets.io_utils import load_tasks; "
        "print(json.dumps({d: [repr(load_tasks(Path(d)).iloc[i].name) "
        "for i in range(len(load_tasks(Path(d))))] for d in sys.argv[1:]}))"
    )
    proc = run([env_python("act"), "-c", code, *map(str, variants.values())], timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    read = json.loads(proc.stdout.strip().splitlines()[-1])
    verdicts = {}
    for name, ds in variants.items():
        lerobot_right = read[str(ds)] == [repr(t) for t in TEXTS]
        report = validate_dataset(ds, quick=True)
        refused = [f for f in report.findings if f.check_id == "schema.tasks_columns"]
        assert all(f.file == fmt.TASKS_PATH and f.severity == "error" for f in refused)
        verdicts[name] = (lerobot_right, not refused)
        assert lerobot_right == (not refused), (name, read[str(ds)], refused)
        if not refused:
            assert report.findings == [], (name, report.findings)
    accepted = {n for n, (_, ok) in verdicts.items() if ok}
    assert {"lerobot_named_task", "lerobot04_unnamed_index", "index_named_otherwise"} <= accepted
    assert "plain_columns_no_pandas_metadata" not in accepted
    assert "task_column_range_index" not in accepted
    assert "rows_not_in_task_index_order" not in accepted


def test_validator_never_imports_pandas_for_tasks(real: dict[str, Path]) -> None:
    code = (
        "import sys; from validators.runner import validate_dataset; "
        f"r = validate_dataset({str(real.get('conv04', real['conv06']))!r}); "
        "sys.exit(1 if 'pandas' in sys.modules or r.findings else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
