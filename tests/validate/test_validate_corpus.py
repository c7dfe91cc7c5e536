"""The validator against real clean datasets and a corpus of mutated copies (issue 4).

Clean inputs: a v2.1 sample (scripts.sample.make, structurally LeRobot 0.3.3's recorder) and
a v3.0 dataset written by LeRobot 0.6.1's own recorder (tests/helpers/lerobot_record_v30.py,
run in the act env), so we prove we accept LeRobot's real output. Every mutation must be
caught with its check id; clean data must produce no finding at all, in every mode.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from scripts.bench.corpus import (
    EXTRA_MUTATIONS,
    MUTATIONS,
    NEAR_THRESHOLD,
    WITHIN_TOLERANCE,
    Mutation,
    make_mutant,
    version_of,
)
from validators import dataset_format as fmt
from validators.runner import validate_dataset

REPO = Path(__file__).resolve().parents[2]
ACT_PY = REPO / "envs/act/.venv/bin/python"
FIXTURE_V21 = REPO / "tests/fixtures/koch_v21_real"


def _make_v21(out: Path) -> Path:
    try:
        from scripts.sample.make import PRESETS, make_dataset
    except ImportError:  # sample generator not there yet: LeRobot 0.3.3's real output
        shutil.copytree(FIXTURE_V21, out)
        return out
    make_dataset(out, PRESETS["sample"])
    return out


@pytest.fixture(scope="session")
def clean_v21(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _make_v21(tmp_path_factory.mktemp("clean") / "v21")


@pytest.fixture(scope="session")
def clean_v30(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A v3.0 dataset written by LeRobot 0.6.1 itself (LeRobotDataset.create ... finalize)."""
    out = tmp_path_factory.mktemp("clean") / "v30"
    assert ACT_PY.exists(), f"{ACT_PY} missing: build the act env (make envs)"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(out.parent / "hf")}
    proc = subprocess.run(
        [str(ACT_PY), str(REPO / "tests/helpers/lerobot_record_v30.py"), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out


@pytest.fixture(params=["v2.1", "v3.0"])
def clean(request: pytest.FixtureRequest) -> Path:
    return request.getfixturevalue("clean_v21" if request.param == "v2.1" else "clean_v30")


def _tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        h.update(str(p.relative_to(root)).encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


# --- clean data: silent in every mode -------------------------------------------------------
@pytest.mark.parametrize("mode", ["quick", "standard", "deep"])
def test_clean_dataset_has_no_findings(clean: Path, mode: str) -> None:
    report = validate_dataset(clean, quick=mode == "quick", deep=mode == "deep")
    assert report.findings == [], [f.check_id + ": " + f.message for f in report.findings]
    assert report.version == version_of(clean)
    behaviour = [] if mode == "quick" else ["behaviour"]  # reads rows: not in quick mode
    assert report.groups_run == ["schema", "structure", "data", "video", "stats", *behaviour]


@pytest.mark.parametrize("behaviour", [True, False])
def test_each_data_file_read_once(
    clean: Path, behaviour: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 27's cost budget: with the behaviour group on, the data group's read feeds the
    stats and behaviour groups (each data file's rows are read once); off, the stats group
    streams its own second read. Same findings either way (none on a clean dataset)."""
    import pyarrow.parquet as pq

    reads: dict[str, int] = {}

    class Counting(pq.ParquetFile):  # the real reader, counting row reads per file
        def __init__(self, source: Path, *args: object, **kwargs: object) -> None:
            super().__init__(source, *args, **kwargs)
            self._rel = str(Path(source).relative_to(clean))

        def read(self, *args: object, **kwargs: object) -> object:
            reads[self._rel] = reads.get(self._rel, 0) + 1
            return super().read(*args, **kwargs)

        def iter_batches(self, *args: object, **kwargs: object) -> object:
            reads[self._rel] = reads.get(self._rel, 0) + 1
            return super().iter_batches(*args, **kwargs)

    monkeypatch.setattr(pq, "ParquetFile", Counting)
    report = validate_dataset(clean, behaviour=behaviour)
    assert report.findings == [], [f.check_id + ": " + f.message for f in report.findings]
    data = {rel: n for rel, n in reads.items() if rel.startswith("data/")}
    assert data, reads
    assert set(data.values()) == {1 if behaviour else 2}, data


def test_lerobot_writes_what_we_expect(clean_v30: Path) -> None:
    """The reference really is LeRobot's v3.0 layout (guards the test's own premise)."""
    info = json.loads((clean_v30 / fmt.INFO_PATH).read_text())
    assert info["codebase_version"] == "v3.0"
    assert (clean_v30 / fmt.DATA_PATH.format(chunk_index=0, file_index=0)).is_file()
    assert (clean_v30 / fmt.TASKS_PATH).is_file()
    assert (clean_v30 / fmt.STATS_PATH).is_file()


def test_validation_never_writes(clean_v30: Path) -> None:
    before = _tree_digest(clean_v30)
    validate_dataset(clean_v30, deep=True)
    assert _tree_digest(clean_v30) == before


# --- the mutation corpus --------------------------------------------------------------------
CASES = [
    pytest.param(version, m, id=f"{version}-{m.name}")
    for m in (*MUTATIONS, *EXTRA_MUTATIONS, *NEAR_THRESHOLD)
    for version in (fmt.V21, fmt.V30)
    if version in m.expect
]


@pytest.mark.parametrize(("version", "mutation"), CASES)
def test_mutation_is_caught(
    version: str, mutation: Mutation, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    clean = request.getfixturevalue("clean_v21" if version == fmt.V21 else "clean_v30")
    mutant = make_mutant(clean, tmp_path / "mutant", mutation)
    report = validate_dataset(mutant)
    want = mutation.expect[version]
    hits = [f for f in report.findings if f.check_id == want]
    assert hits, f"{want} not reported; got {sorted(report.check_ids)}"
    assert hits[0].severity == mutation.severity
    assert hits[0].hint and hits[0].message
    if mutation.severity == "error":
        assert not report.ok()
    else:
        # a warning mutant breaks nothing else, except what a behavioural check rightly calls
        # an error in the mutated rows (zero_variance: a joint constant in every episode)
        errors = [f.check_id for f in report.errors if f.check_id != "behaviour.dead_joint"]
        assert errors == [] and not report.ok(strict=True)


@pytest.mark.parametrize(
    ("version", "mutation"),
    [
        pytest.param(version, m, id=f"{version}-{m.name}")
        for m in WITHIN_TOLERANCE
        for version in (fmt.V21, fmt.V30)
        if version in m.expect
    ],
)
def test_within_tolerance_is_not_flagged(
    version: str, mutation: Mutation, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The other side of each NEAR_THRESHOLD case: about half the tolerance is not an error
    (a tolerance tightened by 2x fails here, one loosened by 2x fails there)."""
    clean = request.getfixturevalue("clean_v21" if version == fmt.V21 else "clean_v30")
    report = validate_dataset(make_mutant(clean, tmp_path / "mutant", mutation))
    want = mutation.expect[version]
    hits = [f for f in report.findings if f.check_id == want]
    if mutation.severity == "error":
        assert hits == [], [f.message for f in hits]
    else:
        assert hits and {f.severity for f in hits} == {"warning"}, [f.message for f in hits]


@pytest.mark.parametrize(
    "name", ["truncated_video", "video_wrong_fps", "corrupt_parquet_footer", "nan_action"]
)
def test_mutations_caught_in_deep_mode(name: str, clean_v30: Path, tmp_path: Path) -> None:
    mutation = next(m for m in MUTATIONS if m.name == name)
    report = validate_dataset(make_mutant(clean_v30, tmp_path / "m", mutation), deep=True)
    assert mutation.expect[fmt.V30] in report.check_ids


@pytest.mark.parametrize(
    ("name", "want"),
    [
        ("truncated_video", "video.truncated"),
        ("wrong_total_frames", "structure.total_frames"),
        ("corrupt_parquet_footer", "data.unreadable_parquet"),
        ("video_wrong_size", "video.size_mismatch"),
    ],
)
def test_quick_mode_still_catches_metadata_faults(
    name: str, want: str, clean_v30: Path, tmp_path: Path
) -> None:
    mutation = next(m for m in MUTATIONS if m.name == name)
    report = validate_dataset(make_mutant(clean_v30, tmp_path / "m", mutation), quick=True)
    assert want in report.check_ids


def test_deep_decode_error_is_reported(clean_v30: Path, tmp_path: Path) -> None:
    """Garbage inside the media data (not a truncation): only decoding can see it."""
    mutant = tmp_path / "m"
    shutil.copytree(clean_v30, mutant)
    video = sorted((mutant / "videos").glob("**/*.mp4"))[0]
    data = bytearray(video.read_bytes())
    mdat = data.find(b"mdat")
    for i in range(mdat + 200, min(len(data) - 8, mdat + 1200)):
        data[i] = 0xFF
    video.write_bytes(bytes(data))
    assert validate_dataset(mutant).findings == []  # the container itself is intact
    deep = validate_dataset(mutant, deep=True)
    assert deep.check_ids == {"video.decode_error"}, deep.check_ids


def test_gapped_v21_is_a_warning_not_an_error(tmp_path: Path) -> None:
    from scripts.sample.make import PRESETS, make_dataset

    ds = make_dataset(tmp_path / "gapped", PRESETS["gapped"])
    report = validate_dataset(ds)
    assert report.ok()
    assert report.check_ids == {"structure.episode_gaps"}


def test_renumbered_v30_episodes_are_an_error(clean_v30: Path, tmp_path: Path) -> None:
    """v3.0 is looked up by position: an episode_index that is not 0..N-1 is fatal."""
    from scripts.bench.corpus import _edit_episodes_meta

    mutant = tmp_path / "m"
    shutil.copytree(clean_v30, mutant)
    _edit_episodes_meta(mutant, "episode_index", 2, 5)
    assert "structure.episode_indices" in validate_dataset(mutant).check_ids


def test_orphan_file_is_a_warning(clean_v30: Path, tmp_path: Path) -> None:
    mutant = tmp_path / "m"
    shutil.copytree(clean_v30, mutant)
    src = sorted((mutant / "videos").glob("**/*.mp4"))[0]
    shutil.copy(src, src.with_name("file-009.mp4"))
    report = validate_dataset(mutant)
    assert report.check_ids == {"structure.orphan_file"}
    assert report.ok()


def test_split_data_pointing_at_wrong_file(clean_v30: Path, tmp_path: Path) -> None:
    """LeRobot's own converter bug: an episode recorded in the previous file at a split."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    mutant = tmp_path / "m"
    shutil.copytree(clean_v30, mutant)
    path = mutant / fmt.DATA_PATH.format(chunk_index=0, file_index=0)
    table = pq.ParquetFile(path).read()
    eps = table.column("episode_index").to_pylist()
    cut = eps.index(2)
    pq.write_table(table.slice(0, cut), path)
    pq.write_table(table.slice(cut), mutant / fmt.DATA_PATH.format(chunk_index=0, file_index=1))
    del pa
    report = validate_dataset(mutant)  # metadata still says episode 2 lives in file-000
    assert "structure.episode_file_mismatch" in report.check_ids


def test_does_not_import_torch_lerobot_or_pandas(clean_v30: Path) -> None:
    code = (
        "import sys; from validators.runner import validate_dataset; "
        f"r = validate_dataset({str(clean_v30)!r}, deep=True); "
        "bad = [m for m in ('torch', 'lerobot', 'pandas') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad or r.findings else 0)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --- the CLI ----------------------------------------------------------------------------------
def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "validators", "--no-progress", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def test_cli_clean_exit_0_and_names_version(clean: Path) -> None:
    proc = _cli(str(clean))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"Format: {version_of(clean)}" in proc.stdout
    assert "PASS" in proc.stdout


def test_cli_errors_exit_1_grouped_with_ids(clean_v30: Path, tmp_path: Path) -> None:
    mutation = next(m for m in MUTATIONS if m.name == "jittered_timestamp")
    mutant = make_mutant(clean_v30, tmp_path / "m", mutation)
    report_file = tmp_path / "report.json"
    proc = _cli(str(mutant), "--report", str(report_file))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "[data]" in proc.stdout and "data.timestamp_tolerance" in proc.stdout
    assert "hint:" in proc.stdout and "[episode 1]" in proc.stdout
    saved = json.loads(report_file.read_text())
    assert saved["format_version"] == "v3.0"
    assert any(f["check_id"] == "data.timestamp_tolerance" for f in saved["findings"])


def test_cli_json_and_strict(clean_v21: Path, tmp_path: Path) -> None:
    mutation = next(m for m in MUTATIONS if m.name == "zero_variance")
    mutant = make_mutant(clean_v21, tmp_path / "m", mutation)
    # a joint constant in every episode is also behaviour.dead_joint (an error): off here
    proc = _cli(str(mutant), "--json", "--no-behaviour")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["format_version"] == "v2.1" and data["errors"] == 0 and data["warnings"] == 1
    f = data["findings"][0]
    assert set(f) == {"check_id", "severity", "file", "episode", "message", "hint"}
    assert _cli(str(mutant), "--strict", "--no-behaviour").returncode == 1


def test_cli_usage_errors_exit_2(clean_v21: Path, tmp_path: Path) -> None:
    proc = _cli(str(tmp_path / "nope"))
    assert proc.returncode == 2 and "no such directory" in proc.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = _cli(str(empty))
    assert proc.returncode == 2 and "meta/info.json" in proc.stderr
    proc = _cli(str(clean_v21), "--recipe", "smolvla_12")
    assert proc.returncode == 2
    assert "unknown recipe 'smolvla_12'" in proc.stderr and "did you mean" in proc.stderr
    assert _cli(str(clean_v21), "--deep", "--quick").returncode == 2


def test_cli_help() -> None:
    proc = _cli("--help")
    assert proc.returncode == 0
    for flag in ("--recipe", "--deep", "--json", "--report", "--strict", "--quick"):
        assert flag in proc.stdout


# --- the MP4 sample-table reader ------------------------------------------------------------
def _demux_pts(path: Path) -> list[float]:
    import av

    with av.open(str(path)) as c:
        s = c.streams.video[0]
        tb = float(s.time_base)
        return sorted(p.pts * tb for p in c.demux(s) if p.pts is not None and p.size)


def test_mp4_index_matches_pyav(clean_v21: Path, clean_v30: Path, tmp_path: Path) -> None:
    """Timestamps from the sample tables equal what PyAV demuxes (AV1 + the GR2's HEVC depth)."""
    import numpy as np

    from scripts.sample.make import PRESETS, make_dataset
    from validators.mp4_index import read_video_index

    gr2 = make_dataset(tmp_path / "gr2", PRESETS["gr2"])
    files = [
        p for root in (clean_v21, clean_v30, gr2) for p in sorted(root.glob("videos/**/*.mp4"))
    ]
    assert len(files) >= 6
    for path in files:
        index = read_video_index(path)
        assert index is not None, path
        want = _demux_pts(path)
        assert index.samples == len(want), path
        np.testing.assert_allclose(index.pts_s, want, atol=1e-9, err_msg=str(path))
        assert index.data_end <= index.file_size
    cut = tmp_path / "cut.mp4"
    data = files[-1].read_bytes()
    cut.write_bytes(data[: len(data) * 7 // 10])
    index = read_video_index(cut)
    assert index is None or index.data_end > index.file_size


# --- robustness: garbage in, findings out (never a traceback) --------------------------------
def _info_edit(fn: Callable[[dict], object]) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        p = root / fmt.INFO_PATH
        d = json.loads(p.read_text())
        fn(d)
        p.write_text(json.dumps(d))

    return apply


def _garbage_meta(root: Path) -> None:
    if (root / "meta/episodes").is_dir():
        for p in (root / "meta/episodes").glob("*/*.parquet"):
            p.write_bytes(b"not parquet")
    else:
        (root / fmt.LEGACY_EPISODES_PATH).write_text('{"episode_index": "a", "tasks": 1}\n')


def _wrong_types(root: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    for p in sorted((root / "data").glob("*/*.parquet")):
        t = pq.ParquetFile(p).read()
        ts = pa.array([str(x) for x in t.column("timestamp").to_pylist()])
        t = t.set_column(t.schema.get_field_index("timestamp"), "timestamp", ts)
        nulls = pa.array([None] * t.num_rows, type=pa.int64())
        t = t.set_column(t.schema.get_field_index("episode_index"), "episode_index", nulls)
        pq.write_table(t, p)


NASTY = {
    "features_not_a_mapping": _info_edit(lambda d: d.update(features=[1, 2])),
    "feature_not_a_mapping": _info_edit(lambda d: d["features"].update(action=5)),
    "fps_null": _info_edit(lambda d: d.update(fps=None)),
    "bad_path_template": _info_edit(lambda d: d.update(data_path="data/{nope}.parquet")),
    "stats_strings": lambda r: (r / fmt.STATS_PATH).write_text(
        json.dumps({"action": {k: "x" for k in ("min", "max", "mean", "std", "count")}})
    ),
    "garbage_episode_metadata": _garbage_meta,
    "wrong_column_types": _wrong_types,
    "no_data_dir": lambda r: shutil.rmtree(r / "data"),
}


@pytest.mark.parametrize("name", sorted(NASTY))
def test_garbage_gives_findings_not_tracebacks(name: str, clean: Path, tmp_path: Path) -> None:
    mutant = tmp_path / "m"
    shutil.copytree(clean, mutant)
    NASTY[name](mutant)
    for mode in ({}, {"quick": True}):
        report = validate_dataset(mutant, **mode)
        assert report.errors, (name, mode)


# --- every converter output validates clean -------------------------------------------------
@pytest.mark.slow
def test_converter_outputs_have_no_findings(tmp_path: Path) -> None:
    """The converter's v3.0 output of every sample preset is clean (quick and standard)."""
    from scripts.sample.make import PRESETS, make_dataset

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for preset in PRESETS:
        src = make_dataset(tmp_path / preset, PRESETS[preset])
        assert validate_dataset(src).errors == [], preset  # the v2.x input itself
        dst = tmp_path / f"{preset}_v30"
        cmd = [sys.executable, "-m", "scripts.convert", str(src), "--dst", str(dst)]
        proc = subprocess.run(
            [*cmd, "--quiet", "--jobs", "1"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stderr[-1500:]
        for mode in ({}, {"quick": True}):
            report = validate_dataset(dst, **mode)
            assert report.version == "v3.0"
            assert report.findings == [], (preset, [f.message for f in report.findings])


def test_check_catalogue_matches_code() -> None:
    """Every id the code can report is in validators/checks.py and vice versa."""
    import re

    from validators.checks import CHECKS

    pattern = re.compile(r'"((?:schema|structure|data|video|stats|readiness)\.[a-z_]+)"')
    used = set()
    for path in (REPO / "validators").glob("*.py"):
        if path.name == "checks.py":
            continue
        used |= set(pattern.findall(path.read_text()))
    info_keys = {"video.codec", "video.fps", "video.height", "video.width", "video.pix_fmt"}
    used -= info_keys | {"stats.json"}  # info.json keys and a file name, not check ids
    from validators.behaviour.thresholds import CHECKS as BEHAVIOUR

    used |= {f"behaviour.{name}" for name in BEHAVIOUR}  # reported as f"behaviour.{name}"
    assert used == set(CHECKS)
    assert _cli("--list-checks").stdout.count("\n") == len(CHECKS)


def test_every_check_id_has_a_firing_test() -> None:
    """The corpus above plus the targeted tests in this file and test_validate_readiness.py
    make every catalogued check fire at least once."""
    from validators.checks import CHECKS

    fired = {cid for m in (*MUTATIONS, *EXTRA_MUTATIONS) for cid in m.expect.values()}
    elsewhere = {
        "video.decode_error",  # test_deep_decode_error_is_reported
        "structure.episode_indices",  # test_renumbered_v30_episodes_are_an_error
        "structure.orphan_file",  # test_orphan_file_is_a_warning
        "structure.episode_file_mismatch",  # test_split_data_pointing_at_wrong_file
        "structure.episode_gaps",  # test_gapped_v21_is_a_warning_not_an_error
        "readiness.recipe",  # test_validate_readiness.py from here on
        "readiness.missing_feature",
        "readiness.state_dim",
        "readiness.action_dim",
        "readiness.image_keys",
        "readiness.episode_too_short",
        "readiness.no_task_text",
        "readiness.needs_conversion",
        "structure.hidden_file",  # test_validate_hardening.py
        "data.slow_loop",  # tests/record/test_record_loop.py (a recording on a slow bus)
    }
    from validators.behaviour.thresholds import CHECKS as BEHAVIOUR

    elsewhere |= {f"behaviour.{name}" for name in BEHAVIOUR}  # test_validate_behaviour.py
    assert fired | elsewhere == set(CHECKS), set(CHECKS) - fired - elsewhere
