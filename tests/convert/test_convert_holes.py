"""Converter promises that no other test held (issue 16): each test here fails on a small,
plausible change of the converter that the rest of the suite let through.

- image-stats sampling: which frames LeRobot samples is LeRobot's ``sample_indices`` (its
  source text, executed in isolation), not our port; so is the striding of wide frames;
- stream copy: an episode whose pixel format or time base differs from episode 0 is refused
  (a stream copy would mislabel its pixels or its timestamps), naming what differs;
- verification: a DST mp4 holding fewer frames than its episodes is refused, even when the
  missing frames are none of the sampled ones the picture check decodes.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pandas as pd
import pytest
from conftest import env_python, run
from helpers import lerobot_compute_stats

from scripts.convert import stats as ours
from scripts.convert import verify
from scripts.convert.errors import ConversionError
from scripts.convert.plan import make_plan
from scripts.convert.video import StreamProps
from scripts.sample.make import make_dataset
from scripts.sample.spec import SampleSpec


@pytest.fixture(scope="module")
def lerobot() -> dict:
    try:
        return lerobot_compute_stats.load()
    except FileNotFoundError as exc:
        pytest.fail(str(exc))


def convert(*args: str | Path):
    cmd = [env_python("tools"), "-m", "scripts.convert", *args, "--quiet"]
    return run(cmd, timeout=300)


# --- image-stats sampling == LeRobot's ---------------------------------------------------------


def test_sample_indices_equal_lerobot(lerobot: dict) -> None:
    """Every episode length up to 3,000 frames and long ones: the same frames as LeRobot's."""
    lengths = [*range(1, 3001), 4999, 10_000, 12_345, 100_000, 250_001]
    for n in lengths:
        assert ours.estimate_num_samples(n) == lerobot["estimate_num_samples"](n), n
        assert ours.sample_indices(n) == lerobot["sample_indices"](n), n
    # the lengths include ones where rounding to nearest and rounding down pick other frames
    floor = [
        np.linspace(0, n - 1, ours.estimate_num_samples(n)).astype(int).tolist() for n in lengths
    ]
    assert sum(ours.sample_indices(n) != f for n, f in zip(lengths, floor, strict=True)) > 1000


@pytest.mark.parametrize(
    "hw",
    [(48, 64), (96, 299), (299, 96), (64, 300), (300, 64), (240, 320), (480, 640), (720, 1280)],
)
def test_downsampling_equals_lerobot(lerobot: dict, hw: tuple[int, int]) -> None:
    img = np.arange(3 * hw[0] * hw[1], dtype=np.int64).reshape(3, *hw).astype(np.uint8)
    got = ours.auto_downsample_height_width(img)
    want = lerobot["auto_downsample_height_width"](img)
    assert got.shape == want.shape and np.array_equal(got, want), hw


# --- stream copy refuses what it would corrupt ------------------------------------------------

SPEC = SampleSpec(episode_lengths=(6, 5, 4, 7, 5), cameras={"cam": (48, 64)})


def _reencode(path: Path, *, pix_fmt: str = "yuv420p", container_opts: dict | None = None) -> None:
    """Same pictures, same codec and settings as the sample, one property changed."""
    with av.open(str(path)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    with av.open(str(path), "w", options=container_opts or {}) as out:
        s = out.add_stream("libsvtav1", 30, options={"g": "2", "crf": "30", "preset": "12"})
        s.width, s.height, s.pix_fmt = 64, 48, pix_fmt
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(p)
        for p in s.encode():
            out.mux(p)


def test_stream_props_name_every_property() -> None:
    base = StreamProps("av1", 64, 48, "yuv420p", 1 / 15360, "h")  # type: ignore[arg-type]
    for name, other in [
        ("codec", "h264"),
        ("width", 66),
        ("height", 50),
        ("pix_fmt", "yuv444p"),
        ("time_base", 1 / 90000),
        ("header", "x"),
    ]:
        changed = StreamProps(**{**base.__dict__, name: other})
        assert [d.split()[0] for d in base.differences(changed)] == [name]
    assert base.differences(StreamProps(**base.__dict__)) == []


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"pix_fmt": "yuv420p10le"}, "pix_fmt yuv420p10le vs yuv420p"),
        ({"container_opts": {"video_track_timescale": "90000"}}, "time_base 1/90000 vs 1/15360"),
    ],
    ids=["pix_fmt", "time_base"],
)
def test_stream_copy_refuses_other_pix_fmt_or_time_base(
    tmp_path: Path, change: dict, named: str
) -> None:
    src = make_dataset(tmp_path / "src", SPEC, progress=False)
    odd = src / "videos/chunk-000/observation.images.cam/episode_000002.mp4"
    _reencode(odd, **change)
    proc = convert(src, "--dst", tmp_path / "dst")
    assert proc.returncode == 1, proc.stdout
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith(f"convert: error: {odd}: camera observation.images.cam episode 2")
    assert named in line and "--reencode" in line
    assert not (tmp_path / "dst").exists()


# --- verification counts every frame -----------------------------------------------------------


def _drop_episode_frames(path: Path, t0: float, t1: float) -> int:
    """Rewrite ``path`` (stream copy) without the packets shown in [t0, t1); return dropped.

    Bounds are moved half a frame (30 fps) down: a frame's time and ``to_timestamp`` are
    rounded differently."""
    tmp = path.with_suffix(".tmp.mp4")
    dropped = 0
    with av.open(str(path)) as src, av.open(str(tmp), "w") as out:
        s = src.streams.video[0]
        o = out.add_stream_from_template(template=s, opaque=True)
        o.time_base = s.time_base
        for p in src.demux(s):
            if p.dts is None:
                continue
            if p.pts is not None and t0 - 1 / 60 <= float(p.pts * s.time_base) < t1 - 1 / 60:
                dropped += 1
                continue
            p.stream = o
            out.mux(p)
    tmp.replace(path)
    return dropped


def test_dst_mp4_missing_frames_refused(tmp_path: Path) -> None:
    """Episode 3 (not among the first/middle/last the picture check decodes) loses its frames."""
    src = make_dataset(tmp_path / "src", SPEC, progress=False)
    dst = tmp_path / "dst"
    proc = convert(src, "--dst", dst)
    assert proc.returncode == 0, proc.stderr
    plan = make_plan(src)
    eps = pd.concat(pd.read_parquet(f) for f in sorted((dst / "meta/episodes").rglob("*.parquet")))
    key = "observation.images.cam"
    place = {
        f"videos/{key}/{c}": eps[f"videos/{key}/{c}"].to_numpy()
        for c in ("chunk_index", "file_index", "from_timestamp", "to_timestamp")
    }
    assert verify.check_videos(plan, dst, place, set()) > 0  # the intact DST passes
    mp4 = next((dst / "videos" / key).rglob("*.mp4"))
    n = len(plan.episodes)
    assert 3 not in {0, n // 2, n - 1}
    t0, t1 = place[f"videos/{key}/from_timestamp"][3], place[f"videos/{key}/to_timestamp"][3]
    assert _drop_episode_frames(mp4, t0, t1) == SPEC.episode_lengths[3]
    with pytest.raises(ConversionError, match=r"holds 20 frames, its episodes have 27"):
        verify.check_videos(plan, dst, place, set())


# --- stats columns read back from meta/episodes (found by make mutation) -----------------------


def test_stats_column_to_numpy_edge_shapes() -> None:
    """One episode, none, and a column in several chunks: (E, *shape) every time."""
    import pyarrow as pa

    from scripts.convert.aggregate import column_to_numpy

    one = pa.array([[[1.0], [2.0], [3.0]]])  # one episode's (3, 1) stat
    assert column_to_numpy(one).shape == (1, 3, 1)
    assert column_to_numpy(one).tolist() == [[[1.0], [2.0], [3.0]]]
    empty = column_to_numpy(pa.array([], type=pa.list_(pa.float64())))
    assert empty.shape == (0,)
    chunked = pa.chunked_array([pa.array([[1.0, 2.0]]), pa.array([[3.0, 4.0], [5.0, 6.0]])])
    assert column_to_numpy(chunked).tolist() == [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]


def test_aggregate_image_stats_one_file_equal_lerobot(lerobot: dict, tmp_path: Path) -> None:
    """stats.json from one meta/episodes file, image stats (C, 1, 1) and a feature with no
    stats columns listed first: LeRobot's aggregate_feature_stats on the same episodes."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from scripts.convert.aggregate import aggregate_episode_files

    rng = np.random.default_rng(7)
    shapes = {"observation.images.cam": (3, 1, 1), "action": (2,)}
    episodes = []
    for n in (5, 9, 4):
        ep = {}
        for ft, shape in shapes.items():
            lo = rng.random(shape)
            ep[ft] = {
                "min": lo,
                "max": lo + 1,
                "mean": lo + rng.random(shape),
                "std": rng.random(shape),
                "count": np.array([n]),
                **{q: lo + rng.random(shape) for q in ("q01", "q10", "q50", "q90", "q99")},
            }
        episodes.append(ep)
    cols = {
        f"stats/{ft}/{k}": pa.array([ep[ft][k].tolist() for ep in episodes])
        for ft in shapes
        for k in episodes[0][ft]
    }
    path = tmp_path / "file-000.parquet"
    pq.write_table(pa.table({"episode_index": [0, 1, 2], **cols}), path)
    got = aggregate_episode_files([path], ["task", *shapes])
    assert list(got) == list(shapes)
    for ft in shapes:
        want = lerobot["aggregate_feature_stats"]([ep[ft] for ep in episodes])
        assert sorted(got[ft]) == sorted(want), ft
        for k, v in want.items():
            assert got[ft][k].shape == v.shape, (ft, k)
            np.testing.assert_allclose(got[ft][k], v, rtol=1e-12, err_msg=f"{ft} {k}")
