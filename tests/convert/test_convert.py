"""The v2.x -> v3.0 converter: faithful, LeRobot-readable, metadata as LeRobot writes it.

Real parts only: datasets come from the sample generator (and the real 0.3.3 fixture), the
converter runs as the CLI users run, and the pinned LeRobot (envs/act) loads every result and
compares EVERY frame with the source (tests/helpers/lerobot_check_converted.py). The
reference for "metadata exactly as LeRobot writes it" is LeRobot's own recorder fed the same
frames (tests/helpers/lerobot_record_reference.py).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import av
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import FIXTURE_V21, REPO, env_python, run
from helpers import lerobot_compute_stats

from scripts.sample.make import PRESETS, SampleSpec, make_dataset

HELPERS = REPO / "tests" / "helpers"
VARIANTS = ("gapped", "image", "many_short", "gr2", "v20", "two_task")


def convert(*args: str | Path, env: dict | None = None, timeout: float = 300):
    """Run the converter CLI exactly as `make convert` does."""
    cmd = [env_python("tools"), "-m", "scripts.convert", *args, "--quiet"]
    return run(cmd, timeout=timeout, **({"env": env} if env else {}))


def sample(root: Path, preset: str | SampleSpec) -> Path:
    spec = PRESETS[preset] if isinstance(preset, str) else preset
    name = preset if isinstance(preset, str) else "custom"
    return make_dataset(root / name, spec, progress=False)


def episodes_table(root: Path) -> pd.DataFrame:
    files = sorted((root / "meta" / "episodes").glob("*/*.parquet"))
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


def check_in_lerobot(*jobs: str) -> list[dict]:
    """Load each DST with the pinned LeRobot and compare every frame (one process for all)."""
    proc = run([env_python("act"), HELPERS / "lerobot_check_converted.py", *jobs], timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


# --- the sample vs LeRobot's own recorder ------------------------------------------------------


@pytest.fixture(scope="module")
def koch(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The real 0.3.3 fixture, our conversion of it, and LeRobot's recording of its frames."""
    root = tmp_path_factory.mktemp("koch")
    src = root / "koch_v21"
    shutil.copytree(FIXTURE_V21, src)
    proc = convert(src, "--image-quantiles")  # decode frames: image quantiles as the recorder's
    assert proc.returncode == 0, proc.stderr
    ref = root / "reference"
    proc = run([env_python("act"), HELPERS / "lerobot_record_reference.py", src, ref], timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {"src": src, "dst": root / "koch_v21_v30", "ref": ref, "stdout": proc.stdout}


@pytest.mark.slow
def test_episode_metadata_and_stats_equal_lerobot_recorder(koch: dict[str, Path]) -> None:
    ours, ref = episodes_table(koch["dst"]), episodes_table(koch["ref"])
    assert list(ours.columns) == list(ref.columns)
    a = pq.read_table(next((koch["dst"] / "meta/episodes").glob("*/*.parquet")))
    b = pq.read_table(next((koch["ref"] / "meta/episodes").glob("*/*.parquet")))
    assert a.schema.remove_metadata().equals(b.schema.remove_metadata())
    for col in b.column_names:  # every value, quantiles and video from/to timestamps included
        if col.endswith(("/mean", "/std")):
            # Deliberate: ours are exact (float64 centred); the recorder's float32
            # E[x^2]-E[x]^2 is ~1e-4 off on this ordinary data (and wrong on offset data,
            # see test_convert_exact_stats.py).
            mine, theirs = (np.array(t.column(col).to_pylist(), dtype=float) for t in (a, b))
            assert np.allclose(mine, theirs, rtol=2e-3, atol=1e-6), col
            continue
        assert a.column(col).to_pylist() == b.column(col).to_pylist(), col
    # stats.json: LeRobot's converter aggregates the per-episode stats in one call
    # (aggregate_stats over float64 arrays); the recorder merges episode by episode, which
    # rounds differently in the last bits.
    s_ours = json.loads((koch["dst"] / "meta/stats.json").read_text())
    s_ref = json.loads((koch["ref"] / "meta/stats.json").read_text())
    aggregate = lerobot_compute_stats.load()["aggregate_feature_stats"]
    assert set(s_ours) == set(s_ref)  # LeRobot's aggregate_stats keys come from a set
    for ft, stats in s_ours.items():
        names = [c[len(f"stats/{ft}/") :] for c in a.column_names if c.startswith(f"stats/{ft}/")]
        per_episode = [
            {k: np.array(a.column(f"stats/{ft}/{k}")[i].as_py()) for k in names}
            for i in range(a.num_rows)
        ]
        expected = {k: v.tolist() for k, v in aggregate(per_episode).items()}
        assert stats == expected, ft
        # The recorder's float32 stats: within its rounding of ours (exact) on ordinary data.
        for k, v in stats.items():
            assert np.allclose(v, s_ref[ft][k], rtol=2e-3, atol=1e-6), (ft, k)
    for feature in ("action", "observation.state", "observation.images.laptop"):
        assert {"q01", "q10", "q50", "q90", "q99"} <= set(s_ours[feature])


@pytest.mark.slow
def test_info_and_tasks_equal_lerobot_recorder(koch: dict[str, Path]) -> None:
    ours = json.loads((koch["dst"] / "meta/info.json").read_text())
    ref = json.loads((koch["ref"] / "meta/info.json").read_text())
    assert list(ours) == list(ref)
    for key in ref:
        if key != "features":
            assert ours[key] == ref[key], key
    for key, ft in ref["features"].items():
        mine = dict(ours["features"][key])
        # Deliberate: fps per feature as LeRobot's converter writes it; encoder settings
        # (video.g/crf/preset...) are only known to a recorder that encoded the video itself.
        assert mine.pop("fps", 30) == 30
        if "info" in ft:
            ref_info = {k: v for k, v in ft["info"].items() if k in mine["info"]}
            assert mine["info"] == ref_info, key
            mine.pop("info")
        assert mine == {k: v for k, v in ft.items() if k != "info"}, key
    t_ours = pd.read_parquet(koch["dst"] / "meta/tasks.parquet")
    t_ref = pd.read_parquet(koch["ref"] / "meta/tasks.parquet")
    assert t_ours.equals(t_ref) and t_ours.index.name == "task"


@pytest.mark.slow
def test_lerobot_reads_every_frame_and_windows_match_its_own(koch: dict[str, Path]) -> None:
    (result,) = check_in_lerobot(f"{koch['dst']}::{koch['src']}::{koch['ref']}")
    assert result["frames"] == 128 and result["episodes"] == 3
    assert result["windows"] == 18  # first/last 3 rows of each episode, across its edges


# --- generated variants --------------------------------------------------------------------


@pytest.fixture(scope="module")
def variants(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Each variant converted with small size targets (so files roll over) and its summary."""
    root = tmp_path_factory.mktemp("variants")
    out: dict[str, dict] = {}
    for name in VARIANTS:
        src = sample(root, name)
        proc = convert(src, "--data-mb", "0.01", "--video-mb", "0.05")
        assert proc.returncode == 0, (name, proc.stderr)
        out[name] = {"src": src, "dst": root / f"{name}_v30", "stdout": proc.stdout}
    return out


@pytest.mark.slow
def test_variants_load_in_lerobot_every_frame_identical(variants: dict[str, dict]) -> None:
    jobs = [f"{v['dst']}::{v['src']}" for v in variants.values()]
    results = {Path(r["dst"]).name: r for r in check_in_lerobot(*jobs)}
    for name in variants:
        spec = PRESETS[name]
        r = results[f"{name}_v30"]
        assert r["episodes"] == len(spec.episode_lengths), name
        assert r["frames"] == sum(spec.episode_lengths), name


def test_gaps_renumbered_everywhere_and_reported(variants: dict[str, dict]) -> None:
    v = variants["gapped"]
    assert "2 episode(s) renumbered (old->new): 3->2, 4->3" in v["stdout"]
    eps = episodes_table(v["dst"])
    assert eps["episode_index"].tolist() == [0, 1, 2, 3]
    assert eps["dataset_from_index"].tolist() == [0, 36, 86, 128]
    assert eps["dataset_to_index"].tolist() == [36, 86, 128, 158]
    data = pd.concat(pd.read_parquet(f) for f in sorted((v["dst"] / "data").glob("*/*.parquet")))
    assert data["index"].tolist() == list(range(158))
    assert sorted(set(data["episode_index"])) == [0, 1, 2, 3]
    stats = eps["stats/episode_index/max"].apply(lambda x: x[0]).tolist()
    assert stats == [0, 1, 2, 3]  # per-episode stats describe the new numbering
    info = json.loads((v["dst"] / "meta/info.json").read_text())
    assert info["total_episodes"] == 4 and info["splits"] == {"train": "0:4"}


def _rows_of(root: Path, chunk: int, file: int) -> pd.DataFrame:
    return pd.read_parquet(root / f"data/chunk-{chunk:03d}/file-{file:03d}.parquet")


def test_file_rollover_pointers_are_exact(tmp_path: Path) -> None:
    """Many short episodes, tiny targets and chunks of 3 files: every pointer must be right."""
    spec = SampleSpec(
        episode_lengths=tuple(3 + i % 4 for i in range(14)),
        cameras={"phone": (64, 80)},
        chunks_size=3,
    )
    src = sample(tmp_path, spec)
    proc = convert(src, "--data-mb", "0.004", "--video-mb", "0.012")
    assert proc.returncode == 0, proc.stderr
    dst = tmp_path / "custom_v30"
    eps = episodes_table(dst)
    data_files = sorted(p.relative_to(dst).as_posix() for p in (dst / "data").glob("*/*"))
    assert len(data_files) > 3 and "data/chunk-001/file-000.parquet" in data_files
    for chunk in range(int(eps["data/chunk_index"].max()) + 1):  # no gap in chunk/file numbers
        files = sorted((dst / f"data/chunk-{chunk:03d}").glob("*.parquet"))
        assert [f.name for f in files] == [f"file-{i:03d}.parquet" for i in range(len(files))]
        assert chunk == eps["data/chunk_index"].max() or len(files) == 3
    for _, ep in eps.iterrows():  # each episode's rows are in the file its row names
        rows = _rows_of(dst, ep["data/chunk_index"], ep["data/file_index"])
        mine = rows[rows["episode_index"] == ep["episode_index"]]
        assert len(mine) == ep["length"]
        assert mine["index"].tolist() == list(
            range(ep["dataset_from_index"], ep["dataset_to_index"])
        )
    key = "videos/observation.images.phone"
    files = eps[[f"{key}/chunk_index", f"{key}/file_index"]].apply(tuple, axis=1).tolist()
    assert len(set(files)) > 1, "video files did not roll over"
    for i in range(len(eps)):  # from_timestamp restarts at 0 in each new file, else continues
        if i == 0 or files[i] != files[i - 1]:
            assert eps[f"{key}/from_timestamp"][i] == 0.0
        else:
            assert eps[f"{key}/from_timestamp"][i] == eps[f"{key}/to_timestamp"][i - 1]
    for chunk, file in set(files):  # frames in each mp4 == frames of the episodes it claims
        with av.open(str(dst / f"{key}/chunk-{chunk:03d}/file-{file:03d}.mp4")) as c:
            got = c.streams.video[0].frames
        want = sum(eps["length"][i] for i in range(len(eps)) if files[i] == (chunk, file))
        assert got == want
    meta_files = list((dst / "meta/episodes").glob("*/*.parquet"))
    assert len(meta_files) >= 1
    results = check_in_lerobot(f"{dst}::{src}")
    assert results[0]["frames"] == sum(spec.episode_lengths)


def _assert_depth_mean_is_millimetres(dst: Path, depth: dict) -> None:
    """stats.json's depth mean is the mean of the decoded frames in millimetres, not of the
    12-bit codes they are stored as (which a 300..5000 bound would also have admitted)."""
    from scripts.sample.video import dequantize_depth_mm

    codes = []
    for mp4 in sorted((dst / "videos/observation.images.head_depth").rglob("*.mp4")):
        with av.open(str(mp4)) as c:
            codes += [f.to_ndarray(format="gray12le") for f in c.decode(video=0)]
    mm = np.stack([dequantize_depth_mm(x) for x in codes]).astype(np.float64)
    code_mean = float(np.mean(np.stack(codes)))
    assert abs(code_mean - mm.mean()) > 0.1 * mm.mean()  # the premise: the two are far apart
    assert abs(np.asarray(depth["mean"]).item() - mm.mean()) < 0.01 * mm.mean()


def test_quantiles_and_v20_stats_present(variants: dict[str, dict]) -> None:
    for name in ("v20", "gr2", "image"):
        dst = variants[name]["dst"]
        stats = json.loads((dst / "meta/stats.json").read_text())
        info = json.loads((dst / "meta/info.json").read_text())
        for key, ft in info["features"].items():
            if ft["dtype"] == "string":
                continue
            assert {"min", "max", "mean", "std", "count"} <= set(stats[key])
            # v2.1 cameras keep the source's image stats (no quantiles: no policy reads them);
            # v2.0 has none, so its frames are decoded and quantiles come with them.
            if ft["dtype"] != "video" or name == "v20":
                assert {"q01", "q50", "q99"} <= set(stats[key]), (name, key)
        eps = episodes_table(dst)
        assert "stats/action/q99" in eps.columns
    gr2 = json.loads((variants["gr2"]["dst"] / "meta/stats.json").read_text())
    assert len(gr2["observation.state"]["q50"]) == 45 and len(gr2["action"]["q50"]) == 37
    depth = gr2["observation.images.head_depth"]
    assert np.asarray(depth["mean"]).shape == (1, 1, 1)
    _assert_depth_mean_is_millimetres(variants["gr2"]["dst"], depth)
    info = json.loads((variants["gr2"]["dst"] / "meta/info.json").read_text())
    head = info["features"]["observation.images.head_depth"]["info"]
    assert head["is_depth_map"] is True and "video.is_depth_map" not in head


def test_tasks_parquet_keeps_text_as_index(variants: dict[str, dict]) -> None:
    dst = variants["two_task"]["dst"]
    tasks = pd.read_parquet(dst / "meta/tasks.parquet")
    assert tasks.index.name == "task" and tasks["task_index"].tolist() == [0, 1, 2, 3]
    assert tasks.index[0] == PRESETS["two_task"].tasks[0]
    eps = episodes_table(dst)
    assert all(len(t) == 2 for t in eps["tasks"])


def test_source_untouched_and_default_dst(tmp_path: Path) -> None:
    src = sample(tmp_path, "sample")
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in src.rglob("*") if p.is_file()}
    proc = convert(src)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "sample_v30" / "meta" / "info.json").is_file()
    after = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in src.rglob("*") if p.is_file()}
    assert before == after
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sample", "sample_v30"]
    assert "converted" in proc.stdout and "frames 128" in proc.stdout


def test_mixed_codecs_refused_unless_reencode(tmp_path: Path) -> None:
    src = sample(tmp_path, "sample")
    odd = src / "videos/chunk-000/observation.images.laptop/episode_000001.mp4"
    with av.open(str(odd)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    with av.open(str(odd), "w") as out:  # same pictures, another codec (h264)
        s = out.add_stream("libx264", rate=30, options={"g": "2"})
        s.width, s.height, s.pix_fmt = 128, 96, "yuv420p"
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    proc = convert(src)
    assert proc.returncode == 1
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith(f"convert: error: {odd}: camera observation.images.laptop episode 1")
    assert "--reencode" in line and not (tmp_path / "sample_v30").exists()
    proc = convert(src, "--reencode")
    assert proc.returncode == 0, proc.stderr
    assert "re-encoded cameras: observation.images.laptop" in proc.stdout
    with av.open(
        str(tmp_path / "sample_v30/videos/observation.images.laptop/chunk-000/file-000.mp4")
    ) as c:
        assert c.streams.video[0].frames == 128


def test_cli_help_and_jobs_one_give_same_result(tmp_path: Path) -> None:
    proc = run([env_python("tools"), "-m", "scripts.convert", "--help"])
    assert proc.returncode == 0 and "--data-mb" in proc.stdout and "--reencode" in proc.stdout
    src = sample(tmp_path, "sample")
    assert convert(src, "--dst", tmp_path / "a", "--jobs", "1").returncode == 0
    assert convert(src, "--dst", tmp_path / "b", "--jobs", "3").returncode == 0
    for rel in ("meta/stats.json", "meta/info.json"):
        assert (tmp_path / "a" / rel).read_text() == (tmp_path / "b" / rel).read_text()
    for f in (tmp_path / "a").rglob("*.mp4"):
        assert f.read_bytes() == (tmp_path / "b" / f.relative_to(tmp_path / "a")).read_bytes()


@pytest.mark.slow
def test_lerobot_train_act_runs_on_converted_dataset(koch: dict[str, Path], tmp_path: Path) -> None:
    """A few ACT steps on CPU with the pinned lerobot-train, reading our output."""
    train = env_python("act").parent / "lerobot-train"
    args = [
        "--policy.type=act",
        "--policy.device=cpu",
        "--policy.push_to_hub=false",
        "--policy.pretrained_backbone_weights=null",
        "--policy.chunk_size=10",
        "--policy.n_action_steps=10",
        "--policy.dim_model=64",
        "--policy.dim_feedforward=128",
        "--policy.n_encoder_layers=1",
        "--policy.n_vae_encoder_layers=1",
        "--batch_size=2",
        "--num_workers=0",
        "--steps=2",
        "--save_freq=2",
        "--log_freq=1",
        "--wandb.enable=false",
        "--dataset.repo_id=local/koch_v30",
        f"--dataset.root={koch['dst']}",
        "--dataset.video_backend=pyav",
        f"--output_dir={tmp_path / 'run'}",
    ]
    proc = run([train, *args], timeout=900)
    assert proc.returncode == 0, (proc.stdout[-2000:], proc.stderr[-3000:])
    assert (tmp_path / "run" / "checkpoints").is_dir()


@pytest.mark.slow
def test_lerobot_04x_reads_converted_variants(variants: dict[str, dict]) -> None:
    """The users' 0.4.x checkout reads the same output (depth video is 0.6-only: skipped)."""
    py = REPO / "envs" / "compat04" / ".venv" / "bin" / "python"
    if not py.exists():
        pytest.skip("envs/compat04 (LeRobot 0.4.x) is not built on this machine")
    names = [n for n in VARIANTS if n != "gr2"]
    dsts = [variants[n]["dst"] for n in names]
    proc = run([py, HELPERS / "lerobot_check_04x.py", *dsts], timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = [json.loads(x) for x in proc.stdout.splitlines() if x.startswith("{")]
    assert [Path(r["dst"]).name for r in results] == [f"{n}_v30" for n in names]
    for name, r in zip(names, results, strict=True):
        assert r["frames"] == sum(PRESETS[name].episode_lengths), name
