"""The sample generator against a real LeRobot 0.3.3 recording, plus its own promises.

The structural test compares our output with ``tests/fixtures/koch_v21_real`` field by field
(names, dtypes, arrow types, codec, stats shapes) but not values or sizes, so it fails the
moment the generator drops a column, changes a dtype or nests stats differently.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pyarrow.parquet as pq
import pytest

from scripts.sample.make import PRESETS, OutputExistsError, SampleSpec, decode_barcode, make_dataset

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests" / "fixtures" / "koch_v21_real"
SIZE_KEYS = {"video.height", "video.width"}


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(
        tmp_path_factory.mktemp("gen") / "sample", PRESETS["sample"], progress=False
    )


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _layout(root: Path) -> set[str]:
    return {
        re.sub(r"\d+", "N", p.relative_to(root).as_posix()) for p in root.rglob("*") if p.is_file()
    }


def _shape(value) -> tuple[int, ...]:
    return np.asarray(value).shape


def _fields(schema) -> list[tuple[str, str, bool]]:
    """Names, full type strings (incl. list child names) and nullability: stricter than equals."""
    return [(f.name, str(f.type), f.nullable) for f in schema]


def _stream(path: Path) -> dict:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        keys = [p.is_keyframe for p in c.demux(s) if p.pts is not None]
        return {
            "codec": s.codec_context.name,
            "pix_fmt": s.codec_context.pix_fmt,
            "time_base": s.time_base,
            "rate": s.average_rate,
            "gop": keys[:6],
            "streams": [st.type for st in c.streams],
            "format": c.format.name,
        }


# --- (1) structure vs the real recording ----------------------------------------------------


def test_layout_and_jsonl_match_fixture(sample: Path) -> None:
    assert _layout(sample) == _layout(FIXTURE)
    for name in ("episodes.jsonl", "tasks.jsonl", "episodes_stats.jsonl"):
        ours, real = _jsonl(sample / "meta" / name), _jsonl(FIXTURE / "meta" / name)
        assert [list(r) for r in ours] == [list(r) for r in real], name
        for a, b in zip(ours, real, strict=True):
            assert {k: type(v) for k, v in a.items()} == {k: type(v) for k, v in b.items()}, name
    for name in ("episodes.jsonl", "tasks.jsonl", "episodes_stats.jsonl", "info.json"):
        ours, real = (sample / "meta" / name).read_bytes(), (FIXTURE / "meta" / name).read_bytes()
        assert ours.endswith(b"\n") == real.endswith(b"\n"), f"{name}: trailing newline differs"


def test_info_matches_fixture(sample: Path) -> None:
    ours = json.loads((sample / "meta/info.json").read_text())
    real = json.loads((FIXTURE / "meta/info.json").read_text())
    assert list(ours) == list(real)
    for key in ("codebase_version", "robot_type", "chunks_size", "fps", "data_path", "video_path"):
        assert ours[key] == real[key], key
    assert {k: type(v) for k, v in ours.items()} == {k: type(v) for k, v in real.items()}
    assert list(ours["features"]) == list(real["features"])
    for key, rf in real["features"].items():
        of = ours["features"][key]
        assert list(of) == list(rf), key
        assert of["dtype"] == rf["dtype"] and len(of["shape"]) == len(rf["shape"]), key
        assert type(of["names"]) is type(rf["names"]), key
        if "info" in rf:
            assert list(of["info"]) == list(rf["info"]), key
            for ik, iv in rf["info"].items():
                if ik not in SIZE_KEYS:
                    assert of["info"][ik] == iv, (key, ik)
            assert [of["info"]["video.height"], of["info"]["video.width"]] == of["shape"][:2]


def test_parquet_schema_matches_fixture(sample: Path) -> None:
    real = pq.read_schema(next((FIXTURE / "data/chunk-000").glob("*.parquet")))
    lengths = {e["episode_index"]: e["length"] for e in _jsonl(sample / "meta/episodes.jsonl")}
    for path in sorted((sample / "data").rglob("*.parquet")):
        pf = pq.ParquetFile(path)
        assert _fields(pf.schema_arrow) == _fields(real), path.name
        ours_md = {k: json.loads(v) for k, v in pf.schema_arrow.metadata.items()}
        real_md = {k: json.loads(v) for k, v in real.metadata.items()}
        assert ours_md == real_md
        assert pf.metadata.num_row_groups == 1
        assert pf.metadata.row_group(0).column(0).compression == "SNAPPY"
        table = pf.read()
        ep = int(re.search(r"(\d+)\.parquet$", path.name).group(1))
        assert table.num_rows == lengths[ep]


def test_videos_match_fixture(sample: Path) -> None:
    lengths = {e["episode_index"]: e["length"] for e in _jsonl(sample / "meta/episodes.jsonl")}
    for real_path in sorted((FIXTURE / "videos").rglob("*.mp4")):
        ours_path = sample / real_path.relative_to(FIXTURE)
        assert _stream(ours_path) == _stream(real_path), ours_path
        ep = int(re.search(r"(\d+)\.mp4$", ours_path.name).group(1))
        with av.open(str(ours_path)) as c:
            decoded = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
        assert len(decoded) == lengths[ep]
        assert [decode_barcode(f) for f in decoded] == [(ep, i) for i in range(lengths[ep])]


def test_stats_layout_matches_fixture(sample: Path) -> None:
    real = _jsonl(FIXTURE / "meta/episodes_stats.jsonl")[0]["stats"]
    ours_all = _jsonl(sample / "meta/episodes_stats.jsonl")
    info = json.loads((sample / "meta/info.json").read_text())
    for row in ours_all:
        ours = row["stats"]
        assert list(ours) == list(real)
        length = next(
            e["length"]
            for e in _jsonl(sample / "meta/episodes.jsonl")
            if e["episode_index"] == row["episode_index"]
        )
        for key, rs in real.items():
            assert list(ours[key]) == list(rs), key
            for stat, value in rs.items():
                assert _shape(ours[key][stat]) == _shape(value), (key, stat)
            assert ours[key]["count"] == [length]
            if info["features"][key]["dtype"] == "video":
                for stat in ("min", "max", "mean", "std"):
                    assert np.min(ours[key][stat]) >= 0.0 and np.max(ours[key][stat]) <= 1.0


def test_values_are_consistent(sample: Path) -> None:
    """Timestamps, indices and numeric stats agree with the parquet rows."""
    stats = {r["episode_index"]: r["stats"] for r in _jsonl(sample / "meta/episodes_stats.jsonl")}
    start = 0
    for path in sorted((sample / "data").rglob("*.parquet")):
        t = pq.read_table(path).to_pydict()
        n = len(t["index"])
        fi = np.array(t["frame_index"])
        assert (fi == np.arange(n)).all()
        assert t["index"] == list(range(start, start + n))
        ts = np.array(t["timestamp"], dtype=np.float32)
        assert (ts == (fi / 30).astype(np.float32)).all()
        ep = t["episode_index"][0]
        for key in ("action", "observation.state"):
            arr = np.array(t[key], dtype=np.float32)
            assert np.allclose(stats[ep][key]["mean"], arr.mean(axis=0), atol=1e-5)
            assert np.allclose(stats[ep][key]["min"], arr.min(axis=0))
        start += n


# --- (2) determinism ------------------------------------------------------------------------


def test_deterministic(sample: Path, tmp_path: Path) -> None:
    again = make_dataset(tmp_path / "again", PRESETS["sample"], progress=False)
    for path in sorted(p for p in sample.rglob("*") if p.is_file()):
        other = again / path.relative_to(sample)
        if path.suffix == ".mp4":
            with av.open(str(path)) as a, av.open(str(other)) as b:
                fa = [f.to_ndarray(format="rgb24") for f in a.decode(video=0)]
                fb = [f.to_ndarray(format="rgb24") for f in b.decode(video=0)]
            assert all((x == y).all() for x, y in zip(fa, fb, strict=True)), path
        else:
            assert path.read_bytes() == other.read_bytes(), path
    reseeded = make_dataset(tmp_path / "seed1", SampleSpec(seed=1), progress=False)
    first = "data/chunk-000/episode_000000.parquet"
    assert (reseeded / first).read_bytes() != (sample / first).read_bytes()


# --- (3) presets ----------------------------------------------------------------------------


def _build(tmp_path: Path, name: str) -> tuple[Path, dict]:
    root = make_dataset(tmp_path / name, PRESETS[name], progress=False)
    return root, json.loads((root / "meta/info.json").read_text())


def test_preset_gapped(tmp_path: Path) -> None:
    root, info = _build(tmp_path, "gapped")
    eps = [e["episode_index"] for e in _jsonl(root / "meta/episodes.jsonl")]
    assert eps == [0, 1, 3, 4] and info["total_episodes"] == 4
    assert [s["episode_index"] for s in _jsonl(root / "meta/episodes_stats.jsonl")] == eps
    assert not (root / "data/chunk-000/episode_000002.parquet").exists()
    t = pq.read_table(root / "data/chunk-000/episode_000003.parquet")
    assert set(t["episode_index"].to_pylist()) == {3}
    assert t["index"][0].as_py() == 36 + 50  # index stays contiguous across the gap
    vid = root / "videos/chunk-000/observation.images.phone/episode_000004.mp4"
    with av.open(str(vid)) as c:
        assert decode_barcode(next(c.decode(video=0)).to_ndarray(format="rgb24")) == (4, 0)


def test_preset_image(tmp_path: Path) -> None:
    from io import BytesIO

    from PIL import Image

    root, info = _build(tmp_path, "image")
    assert not (root / "videos").exists() and info["total_videos"] == 0
    assert info["video_path"] is None
    assert info["features"]["observation.images.laptop"]["dtype"] == "image"
    pf = pq.ParquetFile(root / "data/chunk-000/episode_000001.parquet")
    field = pf.schema_arrow.field("observation.images.laptop")
    assert str(field.type) == "struct<bytes: binary, path: string>"
    hf = json.loads(pf.schema_arrow.metadata[b"huggingface"])
    assert hf["info"]["features"]["observation.images.phone"] == {"_type": "Image"}
    cell = pf.read().column("observation.images.laptop")[5].as_py()
    assert cell["path"] == "frame_000005.png"
    img = np.array(Image.open(BytesIO(cell["bytes"])))
    assert img.shape == (96, 128, 3) and decode_barcode(img) == (1, 5)
    stats = _jsonl(root / "meta/episodes_stats.jsonl")[0]["stats"]
    assert _shape(stats["observation.images.laptop"]["mean"]) == (3, 1, 1)


def test_preset_many_short(tmp_path: Path) -> None:
    root, info = _build(tmp_path, "many_short")
    lengths = [e["length"] for e in _jsonl(root / "meta/episodes.jsonl")]
    assert len(lengths) == 60 and min(lengths) >= 3 and max(lengths) <= 8
    assert len(set(lengths)) > 1 and info["total_frames"] == sum(lengths)
    assert len(list((root / "videos").rglob("*.mp4"))) == 60 == info["total_videos"]


def test_preset_gr2_depth(tmp_path: Path) -> None:
    root, info = _build(tmp_path, "gr2")
    feats = info["features"]
    assert info["robot_type"] == "fourier_gr2"
    assert feats["observation.state"]["shape"] == [45] and feats["action"]["shape"] == [37]
    depth = feats["observation.images.head_depth"]
    assert depth["dtype"] == "video" and depth["shape"][2] == 1
    assert depth["info"]["is_depth_map"] is True and depth["info"]["video.is_depth_map"] is True
    assert depth["info"]["video.codec"] == "hevc" and depth["info"]["video.pix_fmt"] == "gray12le"
    assert feats["observation.images.head"]["info"]["video.is_depth_map"] is False
    vid = root / "videos/chunk-000/observation.images.head_depth/episode_000002.mp4"
    from scripts.sample.video import dequantize_depth_mm

    with av.open(str(vid)) as c:
        codes = [f.to_ndarray(format="gray12le") for f in c.decode(video=0)]
    assert len(codes) == 24 and codes[0].max() <= 4095
    assert [decode_barcode(dequantize_depth_mm(x)) for x in codes[:3]] == [(2, 0), (2, 1), (2, 2)]
    row = _jsonl(root / "meta/episodes_stats.jsonl")[2]
    assert row["episode_index"] == 2
    st = row["stats"]["observation.images.head_depth"]
    assert _shape(st["mean"]) == (1, 1, 1)
    # millimetres of the decoded frames (not 12-bit codes, not /255): the codes' mean is far off
    mm = np.stack([dequantize_depth_mm(x) for x in codes]).astype(np.float64)
    code_mean = float(np.mean(np.stack(codes)))
    assert abs(code_mean - mm.mean()) > 0.1 * mm.mean()  # the check below can tell them apart
    got = {k: float(np.asarray(st[k]).item()) for k in ("mean", "min", "max")}
    np.testing.assert_allclose(
        [got["mean"], got["min"], got["max"]], [mm.mean(), mm.min(), mm.max()], rtol=0.01
    )
    table = pq.read_table(root / "data/chunk-000/episode_000000.parquet")
    assert table.schema.field("observation.state").type.list_size == 45
    assert "observation.images.head_depth" not in table.column_names


def test_preset_chunked(tmp_path: Path) -> None:
    root, info = _build(tmp_path, "chunked")
    assert info["chunks_size"] == 2 and info["total_chunks"] == 3
    assert (root / "data/chunk-002/episode_000004.parquet").is_file()
    assert (root / "videos/chunk-001/observation.images.laptop/episode_000003.mp4").is_file()


def test_preset_v20(tmp_path: Path) -> None:
    root, info = _build(tmp_path, "v20")
    assert info["codebase_version"] == "v2.0"
    assert not (root / "meta/episodes_stats.jsonl").exists()
    stats = json.loads((root / "meta/stats.json").read_text())
    assert set(stats["action"]) == {"min", "max", "mean", "std"}


def test_preset_two_task(tmp_path: Path) -> None:
    root, info = _build(tmp_path, "two_task")
    assert info["total_tasks"] == 4
    episodes = _jsonl(root / "meta/episodes.jsonl")
    assert all(len(e["tasks"]) == 2 for e in episodes)
    tasks = {t["task"]: t["task_index"] for t in _jsonl(root / "meta/tasks.jsonl")}
    t = pq.read_table(root / "data/chunk-000/episode_000001.parquet")
    assert sorted(set(t["task_index"].to_pylist())) == sorted(
        tasks[x] for x in episodes[1]["tasks"]
    )


# --- (4) refusing to overwrite, CLI ---------------------------------------------------------


def test_refuses_existing_out(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    with pytest.raises(OutputExistsError, match="already exists"):
        make_dataset(out, SampleSpec(episode_lengths=(3,)), progress=False)
    assert (out / "keep.txt").read_text() == "precious"
    make_dataset(out, SampleSpec(episode_lengths=(3,)), force=True, progress=False)
    assert not (out / "keep.txt").exists() and (out / "meta/info.json").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]  # no temp dirs left behind


def test_cli(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "scripts.sample.make"]
    run = dict(cwd=REPO, capture_output=True, text=True, timeout=120)
    listed = subprocess.run([*cmd, "--list-presets"], **run)
    assert listed.returncode == 0 and set(PRESETS) <= set(listed.stdout.split())
    out = tmp_path / "cli"
    ok = subprocess.run([*cmd, "--out", str(out), "--preset", "v20"], **run)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == str(out) and "writing meta" in ok.stderr
    again = subprocess.run([*cmd, "--out", str(out)], **run)
    assert again.returncode != 0 and "already exists" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
    bad = subprocess.run([*cmd, "--out", str(tmp_path / "x"), "--preset", "nope"], **run)
    assert bad.returncode == 2 and "sample" in bad.stderr
