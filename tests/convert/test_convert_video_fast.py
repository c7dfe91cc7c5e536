"""The video pass's shortcuts give exactly what the plain way gives.

The stream-copy pass decodes only the groups of pictures that hold sampled frames, converts
pixels through one reused single-threaded swscale context, and computes per-episode image
stats a batch of episodes at a time. Each shortcut is compared here with the plain
computation (every frame decoded by a fresh decoder, ``frame.to_ndarray``,
``image_feature_stats`` per episode) on real encoded video: AV1 and h264 (GOP 2, as LeRobot
records), h264 with B-frames and a longer GOP, and 12-bit HEVC depth.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import av
import numpy as np
import pytest
from helpers import lerobot_compute_stats

from scripts.convert import stats as st
from scripts.convert.pipeline import depth_params
from scripts.convert.plan import load_source
from scripts.convert.video import (
    DEPTH_PIX_FMT,
    Decoder,
    DepthParams,
    _Sampler,
    auto_downsample_height_width,
    decode_runs,
    frame_array,
    open_input,
    sample_frames,
)
from scripts.sample.make import PRESETS, SampleSpec, make_dataset


def _spec(codec: str) -> SampleSpec:
    # One episode longer than 100 frames, so LeRobot's sampling skips frames (and GOPs).
    return SampleSpec(episode_lengths=(130, 7, 2), cameras={"cam": (48, 64)}, codec=codec)


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, DepthParams | None]]:
    """Every episode mp4 of AV1, h264 and GR2 (RGB + HEVC depth) datasets, with depth params."""
    root = tmp_path_factory.mktemp("video_fast")
    out: list[tuple[Path, DepthParams | None]] = []
    specs = {
        "av1": _spec("libsvtav1"),
        "h264": _spec("libx264"),
        "gr2": dataclasses.replace(PRESETS["gr2"], episode_lengths=(20, 3)),
    }
    for name, spec in specs.items():
        ds = make_dataset(root / name, spec, progress=False)
        layout = load_source(ds)
        for key in layout.video_keys:
            depth = depth_params(layout.features[key])
            out += [(p, depth) for p in sorted((ds / "videos").rglob(f"{key}/*.mp4"))]
    out.append((_bframes_h264(root / "bframes.mp4"), None))
    return out


def _bframes_h264(path: Path, n: int = 140) -> Path:
    """h264 with B-frames (display order differs from decode order) and a 12-frame GOP."""
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=30, options={"g": "12", "bf": "3", "crf": "20"})
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        for i in range(n):
            img = np.roll(base, i, axis=1)
            for packet in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in s.encode(None):
            out.mux(packet)
    return path


def _packets(path: Path) -> tuple[list[av.Packet], av.VideoStream, av.container.Container]:
    container = open_input(path)
    s = container.streams.video[0]
    return [p for p in container.demux(s) if p.pts is not None], s, container


def _to_ndarray(frame: av.VideoFrame, fmt: str) -> np.ndarray:
    """``frame.to_ndarray(format=fmt)`` on one swscale thread (the same pixels): PyAV's
    default thread pool, once created, blocks a forked process (mutmut's children) forever."""
    return frame.to_ndarray(format=fmt, threads=1)


def _reference(
    path: Path, wanted: list[int], depth: DepthParams | None, downsample=None
) -> list[np.ndarray]:
    """The plain way: a fresh decoder over every frame, ``to_ndarray`` per frame."""
    picked: dict[int, np.ndarray] = {}
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if depth is not None:
                img = depth.dequantize(_to_ndarray(frame, DEPTH_PIX_FMT))[np.newaxis]
            else:
                img = np.transpose(_to_ndarray(frame, "rgb24"), (2, 0, 1))
            picked[i] = (downsample or auto_downsample_height_width)(img)
    return [picked[i] for i in wanted]


def test_reformatter_pixels_equal_to_ndarray(videos) -> None:
    checked = 0
    for path, depth in videos:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                if depth is not None:
                    want = depth.dequantize(_to_ndarray(frame, DEPTH_PIX_FMT))[np.newaxis]
                else:
                    want = np.transpose(_to_ndarray(frame, "rgb24"), (2, 0, 1))
                got = frame_array(frame, depth)
                assert got.dtype == want.dtype and np.array_equal(got, want), path
                checked += 1
    assert checked > 300


def test_sampled_gop_decode_equals_full_decode(videos) -> None:
    """LeRobot's samples and odd subsets: same pixels as decoding every frame, fewer decoded."""
    decoder = Decoder()  # one for every file: rebinds when the codec or its header changes
    skipped = 0
    for path, depth in videos:
        packets, s, container = _packets(path)
        with container:
            n = len(packets)
            subsets = [st.sample_indices(n), [n - 1], [1], list(range(0, n, 5)), [0, n // 2]]
            for wanted in subsets:
                decoder.bind(s)
                got = sample_frames(packets, wanted, decoder, 64 * 48, depth, path)
                want = _reference(path, wanted, depth)
                assert len(got) == len(want)
                for g, w in zip(got, want, strict=True):
                    assert g.dtype == w.dtype and np.array_equal(g, w), (path, wanted)
                plan = decode_runs(packets, set(wanted))
                if depth is None:  # AV1 / h264 GOPs are closed: the skipping path is taken
                    assert plan is not None, path
                    skipped += n - sum(b - a for a, b in plan[0])
                else:  # the HEVC depth stream has leading pictures: decoded whole
                    assert plan is None, path
    assert skipped > 0


def test_open_gop_is_decoded_whole() -> None:
    """A group whose frames display before its keyframe is never skipped into."""

    class P:
        def __init__(self, pts: int, key: bool) -> None:
            self.pts, self.is_keyframe = pts, key

    closed = [P(0, True), P(2, False), P(1, False), P(3, True), P(4, False)]
    assert decode_runs(closed, {3})[0] == [(3, 4)]
    assert decode_runs(closed, {1})[0] == [(0, 3)]
    leading = [P(0, True), P(3, False), P(4, True), P(1, False), P(2, False)]
    assert decode_runs(leading, {4}) is None
    assert decode_runs([P(0, True), P(None, False)], {0}) is None


def test_fallback_counts_frames_and_names_truncation(videos) -> None:
    path, depth = videos[0]
    packets, s, container = _packets(path)
    with container:
        decoder = Decoder()
        decoder.bind(s)
        for p in packets:
            p.is_keyframe = False  # no usable plan: the whole episode is decoded
        wanted = st.sample_indices(len(packets))
        got = sample_frames(packets, wanted, decoder, 64 * 48, depth, path)
        for g, w in zip(got, _reference(path, wanted, depth), strict=True):
            assert np.array_equal(g, w)
        sampler = _Sampler([len(packets) + 5], depth)
        for frame in decoder.run(packets, 1):
            sampler.feed(frame)
        with pytest.raises(Exception, match="truncated"):
            sampler.images(path)


def _same(ref: st.Stats, got: st.Stats) -> None:
    """LeRobot's binned stats bit for bit; exact mean/std to float64 rounding (two orders)."""
    assert list(ref) == list(got)
    for k in ref:
        assert ref[k].dtype == got[k].dtype and ref[k].shape == got[k].shape, k
        if k in ("mean", "std"):
            np.testing.assert_allclose(got[k], ref[k], rtol=1e-12, atol=1e-15, err_msg=k)
        else:
            assert np.array_equal(ref[k], got[k]), (k, ref[k], got[k])


def test_batched_image_stats_bit_identical_on_decoded_frames(videos) -> None:
    batch, refs = [], []
    for path, depth in videos:
        if depth is not None:
            continue
        with av.open(str(path)) as container:
            frames = [frame_array(f, None) for f in container.decode(video=0)]
        picked = [auto_downsample_height_width(frames[i]) for i in st.sample_indices(len(frames))]
        refs.append(st.image_feature_stats(np.stack(picked)))
        batch.append(np.stack([img.transpose(1, 2, 0) for img in picked]))
    for ref, got in zip(refs, st.image_stats_batch(batch), strict=True):
        _same(ref, got)


def test_batched_image_stats_identical_on_odd_arrays() -> None:
    """Sums past 2**24, constant frames, one frame, one channel, uint16."""
    rng = np.random.default_rng(3)
    batch = [
        rng.integers(0, 256, (6, 70, 90, 3), dtype=np.uint8),
        rng.integers(0, 256, (2, 5, 5, 3), dtype=np.uint8),
        np.full((4, 9, 11, 3), 77, dtype=np.uint8),
        rng.integers(40, 43, (4, 9, 11, 3), dtype=np.uint8),
        rng.integers(0, 256, (1, 30, 40, 3), dtype=np.uint8),
        rng.integers(0, 256, (1, 1, 1, 3), dtype=np.uint8),
        rng.integers(0, 256, (1, 1, 2, 3), dtype=np.uint8),
        [f[::2, ::3] for f in rng.integers(0, 256, (3, 31, 40, 3), dtype=np.uint8)],
        rng.integers(0, 256, (3, 8, 8, 1), dtype=np.uint8),
        rng.integers(0, 4096, (3, 8, 8, 1), dtype=np.uint16),
        (rng.normal(128, 20, (6, 70, 90, 3)).clip(0, 255)).astype(np.uint8),
        rng.integers(0, 256, (6, 70, 90, 4), dtype=np.uint8),
    ]
    for a, got in zip(batch, st.image_stats_batch(batch), strict=True):
        # the old per-episode computation: a stack of channel-first views of decoded frames
        _same(st.image_feature_stats(np.stack([f.transpose(2, 0, 1) for f in a])), got)


@functools.cache
def _lerobot() -> dict:
    """The pinned LeRobot's own sample_indices / auto_downsample_height_width (its source)."""
    return lerobot_compute_stats.load()


def _old_episode_stats(path: Path, length: int, depth: DepthParams | None) -> st.Stats:
    """The per-episode stats, every frame decoded, the frames picked and strided by LeRobot's
    own ``sample_indices`` and ``auto_downsample_height_width`` (not ours: a port that drifts,
    e.g. rounding the sample positions down, must fail here)."""
    lerobot = _lerobot()
    wanted = lerobot["sample_indices"](length)
    picked = _reference(path, wanted, depth, lerobot["auto_downsample_height_width"])
    return st.image_feature_stats(np.stack(picked), is_depth=depth is not None)


@pytest.mark.parametrize(
    "spec",
    [
        # 320 px wide: LeRobot's stats downsample the frames (every 2nd pixel)
        SampleSpec(episode_lengths=(120, 5, 1, 9), cameras={"wide": (64, 320)}),
        SampleSpec(episode_lengths=(110, 4, 6), cameras={"cam": (48, 64)}, codec="libx264"),
        dataclasses.replace(PRESETS["gr2"], episode_lengths=(12, 7)),
    ],
    ids=["av1-downsampled", "h264", "gr2-depth"],
)
def test_camera_pass_rows_equal_old_per_episode_stats(
    spec: SampleSpec, tmp_path: Path, monkeypatch
) -> None:
    """The stats shards' spooled rows equal the old decode-everything computation, bit for bit."""
    import pyarrow as pa

    from scripts.convert import pipeline
    from scripts.convert.metadata import _spool_rows
    from scripts.convert.plan import make_plan
    from scripts.convert.video import camera_stats

    src = make_dataset(tmp_path / "src", spec, progress=False)
    plan = make_plan(src)
    dst = tmp_path / "dst"
    (dst / pipeline.WORK_DIR).mkdir(parents=True)
    for key in plan.layout.video_keys:
        monkeypatch.setattr(pipeline, "STATS_SHARD_EPISODES", 1)  # several shards, re-joined
        shards = pipeline.stats_shards(plan, dst, key)
        assert len(shards) > 1
        spools = [camera_stats(*sh) for sh in shards]
        rows = pa.Table.from_batches(list(_spool_rows(spools))).to_pylist()
        eps = [ep for sh in shards for ep in sh[1]]
        assert len(rows) == len(eps) == len(plan.episodes)
        depth = shards[0][2]
        for ep, row in zip(eps, rows, strict=True):
            want = _old_episode_stats(ep.path, ep.length, depth)
            for name, value in want.items():
                assert row[f"stats/{key}/{name}"] == value.tolist(), (key, ep.old_index, name)
