"""scripts/convert/video.py function by function, on tiny real mp4s (issue 16, mutation testing).

Every file here is a few frames of (mostly) 64x48 video written with PyAV in ``tmp_path``:
frame ``i`` is a flat picture of grey level ``16 + 16 * (i % 14)``, so a decoded frame says
which one it is. Where the converter promises LeRobot's behaviour (how the recorder
concatenates episodes, the from/to timestamps it records, the ``video.*`` info keys, depth
dequantisation) the reference is LeRobot 0.6.1's own code, lifted by
tests/helpers/lerobot_video.py.

Pixel conversions here run on one swscale thread (``threads=1``): PyAV's default thread
pool, once created, blocks a forked process, and mutmut runs each mutant in a fork.
"""

from __future__ import annotations

import functools
import hashlib
import shutil
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pyarrow as pa
import pytest
from helpers import lerobot_video
from helpers.tiny_av import mux, silence

from scripts.convert import video as vd
from scripts.convert.errors import ConversionError
from scripts.convert.metadata import _spool_rows
from scripts.convert.stats import image_feature_stats, sample_indices
from scripts.convert.video import (
    SMALL_EPISODE_PIXELS,
    CameraEpisode,
    Decoder,
    DepthParams,
    StreamProps,
    _checked_packets,
    _EpisodeRows,
    _Sampler,
    as_fraction,
    decode_runs,
    frame_array,
    frames_near,
    open_input,
    probe,
    sample_frames,
)

H264 = {"g": "2", "crf": "23"}
AV1 = {"g": "2", "crf": "30", "preset": "12"}
X265 = {"g": "2", "x265-params": "lossless=1:bframes=0:log-level=error"}  # as the sample's depth


def _level(i: int) -> int:
    return 16 + 16 * (i % 14)


def _id(img: np.ndarray) -> int:
    """Which frame (modulo 14) a decoded (C, H, W) picture is."""
    return round((float(img.mean()) - 16) / 16)


def _mp4(
    path: Path,
    n: int,
    *,
    codec: str = "libx264",
    size: tuple[int, int] = (48, 64),
    pix_fmt: str = "yuv420p",
    rate: int = 30,
    options: dict[str, str] | None = None,
    container: dict[str, str] | None = None,
    fmt: str | None = None,
    audio: bool = False,
) -> Path:
    """``n`` flat frames (frame i at grey level ``_level(i)``), optionally with an aac track."""
    h, w = size
    if options is None:
        options = AV1 if codec == "libsvtav1" else H264 if codec == "libx264" else {}
    with av.open(str(path), "w", format=fmt, options=container or {}) as out:
        s = out.add_stream(codec, rate=rate, options=options)
        s.width, s.height, s.pix_fmt = w, h, pix_fmt
        a = out.add_stream("aac", rate=16000) if audio else None
        for i in range(n):
            img = np.full((h, w, 3), _level(i), dtype=np.uint8)
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)
        if a is not None:  # half a second: audio frames interleave with the video's
            for k in range(8):
                mux(out, a, silence(16000, k * 1024))
            mux(out, a)
    return path


def _audio_only(path: Path) -> Path:
    with av.open(str(path), "w", format="mp4") as out:
        a = out.add_stream("aac", rate=16000)
        mux(out, a, silence(16000, 0))
        mux(out, a)
    return path


def _ids(frames) -> list[int]:
    """Which frame each decoded picture is (its grey level)."""
    return [_id(frame_array(f, None)) for f in frames]


def _decoded(path: Path) -> list[av.VideoFrame]:
    with av.open(str(path)) as c:
        return list(c.decode(video=0))


def _packets(path: Path) -> list[tuple[int | None, int | None]]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return [(p.pts, p.dts) for p in c.demux(s) if p.dts is not None or p.pts is not None]


def _demuxed(path: Path):
    container = open_input(path)
    s = container.streams.video[0]
    return container, s, [p for p in container.demux(s) if p.pts is not None]


@functools.cache
def _lerobot() -> dict:
    return lerobot_video.load()


def _message(exc: pytest.ExceptionInfo, path: Path) -> str:
    assert exc.value.file == str(path)
    return exc.value.message


# --- stream properties ------------------------------------------------------------------------


def test_probe_reads_every_property(tmp_path: Path) -> None:
    h264 = _mp4(tmp_path / "a.mp4", 3)
    with av.open(str(h264)) as c:
        extradata = c.streams.video[0].codec_context.extradata
    assert extradata
    assert probe(h264) == StreamProps(
        "h264", 64, 48, "yuv420p", Fraction(1, 15360), hashlib.sha1(extradata).hexdigest()[:12]
    )
    av1 = probe(_mp4(tmp_path / "b.mp4", 2, codec="libsvtav1", size=(24, 32)))
    assert (av1.codec, av1.width, av1.height) == ("av1", 32, 24)
    assert isinstance(av1.time_base, Fraction) and isinstance(av1.width, int)
    # a codec without a header: the hash of nothing
    mjpeg = probe(_mp4(tmp_path / "c.mp4", 2, codec="mjpeg", pix_fmt="yuvj420p"))
    assert (mjpeg.codec, mjpeg.header) == ("mjpeg", hashlib.sha1(b"").hexdigest()[:12])


def test_differences_name_other_then_self() -> None:
    a = StreamProps("av1", 64, 48, "yuv420p", Fraction(1, 15360), "abc")
    b = StreamProps("h264", 32, 48, "yuv444p", Fraction(1, 90000), "abd")
    assert a.differences(b) == [
        "codec h264 vs av1",
        "width 32 vs 64",
        "pix_fmt yuv444p vs yuv420p",
        "time_base 1/90000 vs 1/15360",
        "header abd vs abc",
    ]
    c = StreamProps("av1", 64, 50, "yuv420p", Fraction(1, 15360), "abc")
    assert a.differences(c) == ["height 50 vs 48"]
    assert a.differences(a) == []


def test_as_fraction(tmp_path: Path) -> None:
    with av.open(str(_mp4(tmp_path / "a.mp4", 2))) as c:
        s = c.streams.video[0]
        assert type(s.time_base).__name__ != "Fraction"  # PyAV's own rational
        assert as_fraction(s.time_base) == Fraction(1, 15360)
        assert as_fraction(s.base_rate) == Fraction(30)
    for nothing in (None, Fraction(0), 0):
        got = as_fraction(nothing)
        assert got == 0 and isinstance(got, Fraction)


def test_open_input_falls_back_to_probing(tmp_path: Path) -> None:
    mp4 = _mp4(tmp_path / "a.mp4", 2)
    with open_input(mp4) as c:
        assert c.format.name == "mp4"  # named, not probed (probing says "mov,mp4,...")
        assert c.streams.video[0].frames == 2
    mkv = _mp4(tmp_path / "b.mp4", 3, fmt="matroska")  # named .mp4, holds matroska
    with open_input(mkv) as c:
        assert c.format.name == "matroska,webm"
        assert len([f for f in c.decode(video=0)]) == 3


def test_probe_names_the_file(tmp_path: Path) -> None:
    audio = _audio_only(tmp_path / "audio.mp4")
    with pytest.raises(ConversionError) as exc:
        probe(audio)
    assert _message(exc, audio) == "has no video stream"
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 10)
    with pytest.raises(ConversionError) as exc:
        probe(junk)
    assert _message(exc, junk).startswith("not a readable mp4 (")
    missing = tmp_path / "missing.mp4"
    with pytest.raises(ConversionError) as exc:
        probe(missing)
    assert _message(exc, missing).startswith("not a readable mp4 (")
    odd = _unknown_codec(tmp_path)
    with pytest.raises(ConversionError) as exc:
        probe(odd)
    assert _message(exc, odd) == "has a video codec FFmpeg cannot decode"
    with open_input(odd) as c, pytest.raises(ConversionError) as exc:
        _checked_packets(CameraEpisode(0, 0, 2, odd), c, None)
    assert _message(exc, odd) == "has a video codec FFmpeg cannot decode"


def _unknown_codec(tmp_path: Path) -> Path:
    """A matroska video track whose codec id FFmpeg does not know (PyAV: no codec context)."""
    data = _mp4(tmp_path / "known.mkv", 2, fmt="matroska").read_bytes()
    assert data.count(b"V_MPEG4/ISO/AVC") == 1
    odd = tmp_path / "odd.mp4"
    odd.write_bytes(data.replace(b"V_MPEG4/ISO/AVC", b"V_MPEG4/ISO/XYZ"))
    with av.open(str(odd)) as c:
        assert c.streams.video and c.streams.video[0].codec_context is None
    return odd


# --- depth -----------------------------------------------------------------------------------


def test_depth_params_from_info() -> None:
    info = {
        "video.depth_min": 1,
        "video.depth_max": 20,
        "video.shift": 2,
        "video.use_log": 0,
        "depth_unit": "m",
    }
    got = DepthParams.from_info(info)
    assert got == DepthParams(1.0, 20.0, 2.0, False, "m")
    assert [type(v) for v in vars(got).values()] == [float, float, float, bool, str]
    assert DepthParams.from_info({}) == DepthParams(0.01, 10.0, 3.5, True, "mm")
    assert DepthParams.from_info({"depth_unit": None}).unit == "mm"


@pytest.mark.parametrize(
    "params",
    [
        DepthParams(),
        DepthParams(unit="m"),
        DepthParams(use_log=False),
        DepthParams(use_log=False, unit="m"),
        DepthParams(0.0, 100.0, 3.5, False, "mm"),  # past 65.535 m: clipped to uint16
        DepthParams(-1.0, 10.0, 3.5, False, "mm"),  # below 0 mm: clipped to 0
        DepthParams(0.2, 70.0, 1.0, True, "mm"),
        DepthParams(0.3, 5.0, 0.5, True, "m"),
    ],
)
def test_dequantize_equals_lerobot(params: DepthParams) -> None:
    codes = np.arange(4096, dtype=np.uint16).reshape(64, 64)
    want = _lerobot()["dequantize_depth"](
        codes,
        depth_min=params.depth_min,
        depth_max=params.depth_max,
        shift=params.shift,
        use_log=params.use_log,
        output_unit=params.unit,
        output_tensor=False,
    )
    got = params.dequantize(codes)
    assert got.shape == (64, 64)
    assert got.dtype == want.dtype and np.array_equal(got[np.newaxis], want)


def test_depth_frame_array_from_a_yuv_stream(tmp_path: Path) -> None:
    """Depth codes are the frame's 12-bit luma, whatever the stream's pixel format: a
    yuv420p12le stream is read as gray12le first, as LeRobot's ``dequantize_depth`` does."""
    path = _mp4(tmp_path / "d.mp4", 2, codec="libx265", pix_fmt="yuv420p12le", options=X265)
    depth = DepthParams()
    for frame in _decoded(path):
        assert frame.format.name == "yuv420p12le"
        codes = frame.to_ndarray(format="gray12le", threads=1)
        want = _lerobot()["dequantize_depth"](codes, output_tensor=False)
        got = frame_array(frame, depth)
        assert got.shape == (1, 48, 64) and got.dtype == np.uint16
        assert np.array_equal(got, want)


# --- frames near a time ----------------------------------------------------------------------


def _pts(frame: av.VideoFrame) -> int:
    assert isinstance(frame, av.VideoFrame)
    return frame.pts


def test_frames_near_keeps_frames_within_tolerance(tmp_path: Path) -> None:
    # time base 1/30: every frame one tick, every frame a keyframe
    path = _mp4(
        tmp_path / "t30.mp4", 8, options={"g": "1"}, container={"video_track_timescale": "30"}
    )
    assert frames_near(path, [0.0, 0.1], _pts) == {0.0: 0, 0.1: 3}
    assert frames_near(path, [0.1], _pts) == {0.1: 3}  # seeks to before frame 3, not after
    assert frames_near(path, [0.2, 0.1, 0.2], _pts) == {0.1: 3, 0.2: 6}
    assert frames_near(path, [0.1 + 5e-5], _pts) == {0.1 + 5e-5: 3}
    # LeRobot's rule is strict: |t - w| < 1e-4 (here exactly 1e-4 away)
    assert abs(0.0 - 1e-4) == vd.TOLERANCE_S
    assert frames_near(path, [1e-4], _pts) == {}
    assert frames_near(path, [0.05], _pts) == {}
    frames = frames_near(path, [0.1, 0.2], lambda f: frame_array(f, None))
    assert [_id(a) for a in frames.values()] == [3, 6]


def test_frames_near_seeks_back_to_a_keyframe(tmp_path: Path) -> None:
    path = _mp4(tmp_path / "g2.mp4", 8)  # keyframes every 2nd frame, 1/15360
    assert frames_near(path, [0.1], _pts) == {0.1: 1536}  # frame 3, after keyframe 2
    assert frames_near(path, [7 / 30], _pts) == {7 / 30: 3584}


def test_frames_near_fine_time_base(tmp_path: Path) -> None:
    """A time base finer than microseconds: the seek is in the stream's units."""
    path = _mp4(
        tmp_path / "t1e7.mp4",
        50,
        rate=25,
        options={"g": "2"},
        container={"video_track_timescale": "10000000"},
    )
    assert frames_near(path, [0.2], _pts) == {0.2: 2_000_000}


def test_frames_near_reads_only_the_video(tmp_path: Path) -> None:
    path = _mp4(tmp_path / "av.mp4", 8, audio=True)
    assert frames_near(path, [0.0, 0.1], _pts) == {0.0: 0, 0.1: 1536}
    # audio packets at 1024 * k in their time base: the video's frames 2k share the number
    wanted = [k / 15 for k in range(4)]
    assert frames_near(path, wanted, _pts) == {w: 1024 * k for k, w in enumerate(wanted)}


# --- sampler and decoder ---------------------------------------------------------------------


def test_sampler_picks_wanted_frames_in_order(tmp_path: Path) -> None:
    path = _mp4(tmp_path / "a.mp4", 5)
    frames = _decoded(path)
    sampler = _Sampler([0, 2, 2], None)
    for f in frames:
        sampler.feed(f)
    got = sampler.images(path)
    assert len(got) == 3
    for g, i in zip(got, [0, 2, 2], strict=True):
        assert np.array_equal(g, frame_array(frames[i], None))
    assert sampler.seen == 5
    short = _Sampler([0, 2, 4, 9], None)
    for f in frames:
        short.feed(f)
    with pytest.raises(ConversionError) as exc:
        short.images(path)
    assert _message(exc, path) == "decoded 5 frames, episode needs 10 (truncated?)"
    assert len(short.picked) == 3


def test_sampler_depth_frames(tmp_path: Path) -> None:
    path = _mp4(tmp_path / "d.mp4", 3, codec="libx265", pix_fmt="gray12le", options=X265)
    frames = _decoded(path)
    depth = DepthParams()
    sampler = _Sampler([1], depth)
    for f in frames:
        sampler.feed(f)
    (got,) = sampler.images(path)
    assert got.dtype == np.uint16 and np.array_equal(got, frame_array(frames[1], depth))


def test_decoder_contexts_and_rebinding(tmp_path: Path) -> None:
    h264 = _mp4(tmp_path / "a.mp4", 5)
    av1 = _mp4(tmp_path / "b.mp4", 4, codec="libsvtav1")
    d = Decoder()
    assert d._codec is None and d._contexts == {}
    c1, s1, p1 = _demuxed(h264)
    with c1:
        d.bind(s1)
        assert d._codec == ("h264", s1.codec_context.extradata)
        frames = d.run(p1, SMALL_EPISODE_PIXELS)  # not above the threshold: one thread
        assert _ids(frames) == [0, 1, 2, 3, 4]
        assert [f.pts for f in frames] == [0, 512, 1024, 1536, 2048]
        assert list(d._contexts) == [False]
        ctx = d._contexts[False]
        assert ctx.thread_count == 1 and ctx.thread_type.name == "SLICE"
        assert _ids(d.run(p1[2:4], 1)) == [2, 3]  # drained and flushed: runs again
        frames = d.run(p1, SMALL_EPISODE_PIXELS + 1)
        assert _ids(frames) == [0, 1, 2, 3, 4]
        assert sorted(d._contexts) == [False, True]
        assert d._contexts[True].thread_type.name == "AUTO"
        d.bind(s1)  # same codec and header: contexts kept
        assert d._contexts[False] is ctx
    c2, s2, p2 = _demuxed(av1)
    with c2:
        d.bind(s2)
        assert d._codec == ("libdav1d", s2.codec_context.extradata)
        assert _ids(d.run(p2, 1)) == [0, 1, 2, 3]
        assert list(d._contexts) == [False]


def test_decode_runs_plans() -> None:
    class P:
        def __init__(self, pts: int | None, key: bool) -> None:
            self.pts, self.is_keyframe = pts, key

    # three closed groups of two, display order = decode order
    g = [P(0, True), P(1, False), P(2, True), P(3, False), P(4, True), P(5, False)]
    assert decode_runs(g, {0}) == ([(0, 1)], [0, 1, 2, 3, 4, 5])
    assert decode_runs(g, {1, 2}) == ([(0, 3)], [0, 1, 2, 3, 4, 5])  # adjacent groups merged
    assert decode_runs(g, {1, 5}) == ([(0, 2), (4, 6)], [0, 1, 2, 3, 4, 5])
    assert decode_runs(g, {3}) == ([(2, 4)], [0, 1, 2, 3, 4, 5])
    assert decode_runs(g, set()) == ([], [0, 1, 2, 3, 4, 5])
    assert decode_runs(g, {5}) == ([(4, 6)], [0, 1, 2, 3, 4, 5])
    # B-frames inside groups: display positions by timestamp rank
    b = [P(0, True), P(3, False), P(1, False), P(2, False), P(4, True), P(6, False), P(5, False)]
    assert decode_runs(b, {1}) == ([(0, 3)], [0, 3, 1, 2, 4, 6, 5])
    assert decode_runs(b, {5}) == ([(4, 7)], [0, 3, 1, 2, 4, 6, 5])
    assert decode_runs(b, {6}) == ([(4, 6)], [0, 3, 1, 2, 4, 6, 5])
    # decoded whole: empty, no leading keyframe, a missing or repeated timestamp, a group
    # reaching into the next one's display range
    assert decode_runs([], {0}) is None
    assert decode_runs([P(0, False), P(1, True)], {0}) is None
    assert decode_runs([P(0, True), P(None, False)], {0}) is None
    assert decode_runs([P(0, True), P(0, False)], {0}) is None
    assert decode_runs([P(0, True), P(2, False), P(1, True)], {0}) is None
    assert decode_runs([P(1, True), P(0, False), P(2, True)], {2}) is None
    assert decode_runs([P(0, True), P(1, True), P(3, False), P(2, True)], {0}) is None
    # a group ending past its range, the next one starting in place but reaching back
    assert decode_runs([P(0, True), P(3, False), P(2, True), P(1, False), P(4, False)], {0}) is None


def _bframes(path: Path, n: int = 12) -> Path:
    return _mp4(path, n, options={"g": "6", "bf": "2", "crf": "23"})


def test_sample_frames_plans_runs_and_falls_back(tmp_path: Path) -> None:
    path = _bframes(tmp_path / "b.mp4")
    want_ids = [0, 4, 7, 11]
    # the plan: only the groups holding wanted frames, in display order
    c, s, packets = _demuxed(path)
    with c:
        assert decode_runs(packets, set(want_ids)) is not None
        d = Decoder()
        d.bind(s)
        got = sample_frames(packets, want_ids, d, 10, None, path)
        assert [_id(a) for a in got] == want_ids
        assert list(d._contexts) == [False]
        # a run's pixels are its length times a frame's: above the threshold, threaded
        sample_frames(packets, [1], d, SMALL_EPISODE_PIXELS // 2 + 1, None, path)
        assert sorted(d._contexts) == [False, True]
    # timestamps in decode order: the plan's runs come back in another order, so the whole
    # episode is decoded and frames counted (display order)
    c, s, packets = _demuxed(path)
    with c:
        for i, p in enumerate(packets):
            p.pts = i * 512
        assert decode_runs(packets, set(want_ids)) is not None
        d = Decoder()
        d.bind(s)
        got = sample_frames(packets, want_ids, d, 10, None, path)
        assert [_id(a) for a in got] == want_ids
    c, s, packets = _demuxed(path)
    with c:  # no plan at all: the fallback's pixels per run decide threading too
        packets[0].is_keyframe = False
        d = Decoder()
        d.bind(s)
        got = sample_frames(packets, [3], d, SMALL_EPISODE_PIXELS // 12 + 1, None, path)
        assert [_id(a) for a in got] == [3]
        assert list(d._contexts) == [True]


class _Counting(Decoder):
    """The real decoder, noting how many packets each run hands it and its pixel count."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[int, int]] = []

    def run(self, packets: list[av.Packet], pixels: int) -> list[av.VideoFrame]:
        self.calls.append((len(packets), pixels))
        return super().run(packets, pixels)


def test_sample_frames_decodes_only_the_groups_it_needs(tmp_path: Path) -> None:
    path = _mp4(tmp_path / "g2.mp4", 10)  # groups of 2
    c, s, packets = _demuxed(path)
    with c:
        d = _Counting()
        d.bind(s)
        got = sample_frames(packets, [3, 8], d, 7, None, path)
        assert [_id(a) for a in got] == [3, 8]
        assert d.calls == [(2, 14), (1, 7)]  # frames 2-3, then 8 (9 not needed)


def test_sample_frames_depth_by_runs(tmp_path: Path) -> None:
    path = _mp4(tmp_path / "d.mp4", 6, codec="libx265", pix_fmt="gray12le", options=X265)
    frames = _decoded(path)
    depth = DepthParams()
    c, s, packets = _demuxed(path)
    with c:
        assert decode_runs(packets, {1, 4}) is not None  # closed groups: decoded by runs
        d = Decoder()
        d.bind(s)
        got = sample_frames(packets, [1, 4], d, 64 * 48, depth, path)
    for g, i in zip(got, [1, 4], strict=True):
        assert g.dtype == np.uint16 and np.array_equal(g, frame_array(frames[i], depth))


def _trimmed(src: Path, dst: Path) -> Path:
    """``src`` one frame early: its first frame shows before 0, so the mp4's edit list trims
    it (the demuxer flags that packet discard): the file counts it, the decoder gives no
    frame for it."""
    with av.open(str(src)) as c, av.open(str(dst), "w") as out:
        s = c.streams.video[0]
        o = out.add_stream_from_template(template=s, opaque=True)
        o.time_base = s.time_base
        for p in c.demux(s):
            if p.dts is not None:
                p.pts, p.dts, p.stream = p.pts - 512, p.dts - 512, o
                out.mux(p)
    return dst


def test_decoder_dropping_a_frame_is_named(tmp_path: Path) -> None:
    path = _trimmed(_mp4(tmp_path / "a.mp4", 5), tmp_path / "t.mp4")
    with av.open(str(path)) as c:
        assert c.streams.video[0].frames == 5 and len(list(c.decode(video=0))) == 4
    with pytest.raises(ConversionError) as exc:
        vd.episode_samples(CameraEpisode(0, 0, 5, path), Decoder(), None)
    assert _message(exc, path) == "decoded 4 frames, episode needs 5 (truncated?)"


def test_sample_frames_downsamples_wide_frames(tmp_path: Path) -> None:
    path = _mp4(tmp_path / "w.mp4", 3, size=(32, 320))
    c, s, packets = _demuxed(path)
    with c:
        d = Decoder()
        d.bind(s)
        (got,) = sample_frames(packets, [2], d, 320 * 32, None, path)
        assert got.shape == (3, 16, 160)
        assert np.array_equal(got, frame_array(_decoded(path)[2], None)[:, ::2, ::2])


# --- per-episode image stats rows ------------------------------------------------------------


class _Sink:
    """What the spool receives, in order (a Spool's only interface here is ``add``)."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def add(self, row: dict) -> None:
        self.rows.append(row)


def _same_stats(got: dict, want: dict) -> None:
    assert list(got) == list(want)
    for k in want:
        assert got[k].dtype == want[k].dtype and got[k].shape == want[k].shape, k
        np.testing.assert_allclose(got[k], want[k], rtol=1e-12, atol=1e-15, err_msg=k)


def test_episode_rows_batch_rgb_and_compute_others_at_once() -> None:
    rng = np.random.default_rng(0)
    rgb = [list(rng.integers(0, 256, (n, 3, 6, 8), dtype=np.uint8)) for n in (2, 3, 1)]
    gray = list(rng.integers(0, 256, (2, 1, 6, 8), dtype=np.uint8))  # one channel: at once
    sink = _Sink()
    rows = _EpisodeRows("cam", sink, None)
    rows.add({"i": 0}, rgb[0])
    rows.add({"i": 1}, gray)
    rows.add({"i": 2}, rgb[1])
    assert sink.rows == []  # rgb stats wait for their batch; the others wait their turn
    rows.flush()
    rows.add({"i": 3}, rgb[2])
    rows.flush()
    assert [r["i"] for r in sink.rows] == [0, 1, 2, 3]
    for row, picked in zip(sink.rows, [rgb[0], gray, rgb[1], rgb[2]], strict=True):
        assert list(row["stats"]) == ["cam"]
        _same_stats(row["stats"]["cam"], image_feature_stats(np.stack(picked)))
    rows.flush()
    assert len(sink.rows) == 4  # nothing left to write twice


def test_episode_rows_depth_written_at_once() -> None:
    rng = np.random.default_rng(1)
    sink = _Sink()
    rows = _EpisodeRows("depth", sink, DepthParams())
    picked = list(rng.integers(0, 10000, (3, 1, 4, 5), dtype=np.uint16))
    rows.add({"i": 0}, picked)
    assert [r["i"] for r in sink.rows] == [0]
    _same_stats(
        sink.rows[0]["stats"]["depth"], image_feature_stats(np.stack(picked), is_depth=True)
    )
    # a depth camera's frames are never batched, even uint8 RGB-shaped ones
    rgb_like = list(rng.integers(0, 256, (2, 3, 4, 5), dtype=np.uint8))
    rows.add({"i": 1}, rgb_like)
    assert [r["i"] for r in sink.rows] == [0, 1]
    _same_stats(
        sink.rows[1]["stats"]["depth"], image_feature_stats(np.stack(rgb_like), is_depth=True)
    )


def test_episode_rows_flush_at_batch_size() -> None:
    rng = np.random.default_rng(2)
    sink = _Sink()
    rows = _EpisodeRows("cam", sink, None)
    for i in range(vd.STATS_BATCH_EPISODES - 1):
        rows.add({"i": i}, [rng.integers(0, 256, (3, 1, 2), dtype=np.uint8)])
    assert sink.rows == []
    rows.add({"i": 255}, [rng.integers(0, 256, (3, 1, 2), dtype=np.uint8)])
    assert [r["i"] for r in sink.rows] == list(range(vd.STATS_BATCH_EPISODES))
    # the count starts again: one more episode waits
    rows.add({"i": 256}, [rng.integers(0, 256, (3, 1, 2), dtype=np.uint8)])
    assert len(sink.rows) == vd.STATS_BATCH_EPISODES


def test_episode_rows_flush_at_batch_bytes() -> None:
    """Two episodes of 16 MiB of planes each: written when the second one arrives."""
    half = vd.STATS_BATCH_BYTES // 2
    frame = np.zeros((2, 4096, half // (2 * 4096)), dtype=np.uint8)  # (C, H, W), 16 MiB
    frame[0, 0, 0] = 255
    assert frame.nbytes == half
    sink = _Sink()
    rows = _EpisodeRows("cam", sink, None)
    rows.add({"i": 0}, [frame])
    assert sink.rows == []
    rows.add({"i": 1}, [frame])
    assert [r["i"] for r in sink.rows] == [0, 1]
    assert sink.rows[0]["stats"]["cam"]["max"].ravel().tolist() == [1.0, 0.0]
    rows.add({"i": 2}, [frame[:, :2048]])  # 8 MiB after a flush: waits
    assert len(sink.rows) == 2


def test_episode_rows_one_byte_short_of_the_batch_waits() -> None:
    """2**25 - 1 bytes of planes (31 channels of 601 x 1801) wait, first and after a flush."""
    frame = np.zeros((31, 601, 1801), dtype=np.uint8)
    assert frame.nbytes == vd.STATS_BATCH_BYTES - 1
    sink = _Sink()
    rows = _EpisodeRows("cam", sink, None)
    rows.add({"i": 0}, [frame])
    assert sink.rows == []
    rows.flush()
    assert len(sink.rows) == 1
    rows.add({"i": 1}, [frame])
    assert len(sink.rows) == 1


# --- file plan, mux -------------------------------------------------------------------------


def _sized(tmp_path: Path, sizes: list[int]) -> list[CameraEpisode]:
    eps = []
    for i, size in enumerate(sizes):
        p = tmp_path / f"ep{i}.bin"
        p.write_bytes(b"x" * size)
        eps.append(CameraEpisode(i, i, 1, p))
    return eps


def test_plan_files_rolls_over_like_lerobot(tmp_path: Path) -> None:
    eps = _sized(tmp_path, [4, 4, 3, 4, 9, 1, 1])
    # size + next >= limit starts a new file; chunks_size 2: two files per chunk
    assert vd._plan_files(eps, 8, 2) == [(0, 0), (0, 1), (0, 1), (1, 0), (1, 1), (2, 0), (2, 0)]
    assert vd._plan_files(eps, 100, 2) == [(0, 0)] * 7
    assert vd._plan_files(eps[4:5], 1, 2) == [(0, 0)]  # first episode never rolls over
    assert vd._plan_files(eps[:3], 7.5, 1000) == [(0, 0), (0, 1), (0, 1)]  # 4 + 3 < 7.5
    assert vd._plan_files(eps[:3], 8, 1000) == [(0, 0), (0, 1), (0, 1)]  # 4 + 3 < 8
    assert vd._plan_files([eps[0], eps[2]], 8, 1000) == [(0, 0), (0, 0)]
    (tmp_path / "t").mkdir()
    three = _sized(tmp_path / "t", [3, 3, 3])  # sizes add up: 3 + 3 + 3 >= 8
    assert vd._plan_files(three, 8, 1000) == [(0, 0), (0, 0), (0, 1)]


def test_mux_failure_names_the_destination(tmp_path: Path) -> None:
    src = _mp4(tmp_path / "a.mp4", 60, size=(96, 128))
    with av.open(str(src)) as c, av.open("/dev/full", "w", format="mp4") as out:
        s = c.streams.video[0]
        o = out.add_stream_from_template(template=s, opaque=True)
        o.time_base = s.time_base
        with pytest.raises(ConversionError) as exc:
            for p in c.demux(s):
                if p.dts is not None:
                    p.stream = o
                    vd._mux(out, p)
        assert _message(exc, Path("/dev/full")) == "cannot write (No space left on device)"


# --- per-episode checks ----------------------------------------------------------------------


def test_checked_packets(tmp_path: Path) -> None:
    path = _mp4(tmp_path / "a.mp4", 3)
    ref = probe(path)
    with open_input(path) as c:
        s, packets = _checked_packets(CameraEpisode(0, 0, 3, path), c, ref)
        assert s is c.streams.video[0]
        assert [p.pts for p in packets] == [0, 512, 1024]
    with open_input(path) as c:
        assert len(_checked_packets(CameraEpisode(0, 0, 2, path), c, None)[1]) == 3
    with open_input(path) as c, pytest.raises(ConversionError) as exc:
        _checked_packets(CameraEpisode(0, 0, 4, path), c, ref)
    assert _message(exc, path) == "has 3 frames but the episode has 4 (truncated?)"
    other = StreamProps("h264", 32, 48, ref.pix_fmt, ref.time_base, ref.header)
    ep = CameraEpisode(1, 7, 3, path)
    with open_input(path) as c, pytest.raises(vd._Mismatch) as mismatch:
        _checked_packets(ep, c, other)
    assert mismatch.value.ep is ep and mismatch.value.diff == ["width 64 vs 32"]
    assert mismatch.value.args == (path,)
    audio = _audio_only(tmp_path / "audio.mp4")
    with open_input(audio) as c, pytest.raises(ConversionError) as exc:
        _checked_packets(CameraEpisode(0, 0, 1, audio), c, None)
    assert _message(exc, audio) == "has no video stream"
    both = _mp4(tmp_path / "av.mp4", 3, audio=True)
    with open_input(both) as c:
        s, packets = _checked_packets(CameraEpisode(0, 0, 3, both), c, None)
        assert [(p.stream.index, p.pts) for p in packets] == [(0, 0), (0, 512), (0, 1024)]


def test_checked_packets_counts_packets_without_frame_count(tmp_path: Path) -> None:
    """Matroska has no frame count; B-frames there carry a pts and no dts."""
    mkv = _mp4(tmp_path / "k.mp4", 4, fmt="matroska", options={"g": "12", "bf": "2"})
    with open_input(mkv) as c:
        s, packets = _checked_packets(CameraEpisode(0, 0, 4, mkv), c, None)
        assert s.frames == 0
        assert sorted(p.pts for p in packets) == [0, 33, 67, 100]
        assert any(p.dts is None for p in packets)
    with open_input(mkv) as c, pytest.raises(ConversionError) as exc:
        _checked_packets(CameraEpisode(0, 0, 5, mkv), c, None)
    assert _message(exc, mkv) == "holds 4 frames but the episode has 5 (truncated?)"


def _junk(dst: Path) -> Path:
    """Not a video at all: neither the mp4 demuxer nor probing opens it."""
    dst.write_bytes(bytes(range(256)) * 8)
    return dst


def test_remux_episode_shifts_timestamps(tmp_path: Path) -> None:
    a = _mp4(tmp_path / "a.mp4", 3)
    b = _mp4(tmp_path / "b.mp4", 2)
    ref = probe(a)
    out_path = tmp_path / "out.mp4"
    with av.open(str(a)) as tc, av.open(str(out_path), "w") as out:
        o = out.add_stream_from_template(template=tc.streams.video[0], opaque=True)
        o.time_base = tc.streams.video[0].time_base
        assert vd._remux_episode(CameraEpisode(0, 0, 3, a), out, o, 0, ref) == 1536
        assert vd._remux_episode(CameraEpisode(1, 1, 2, b), out, o, 1536, ref) == 1024
    assert _packets(out_path) == [(i * 512, (i - 1) * 512) for i in range(5)]
    assert _ids(_decoded(out_path)) == [0, 1, 2, 0, 1]


def test_remux_episode_keeps_b_frame_decode_times(tmp_path: Path) -> None:
    a = _bframes(tmp_path / "a.mp4", 8)
    src = _packets(a)
    assert any(pts != dts for pts, dts in src)  # decode order differs from display order
    # the stream lasts its edit list's 266 ms (movie time scale 1/1000), not 8 * 512 ticks:
    # LeRobot's duration (and so its next from_timestamp) is the same
    assert round(_lerobot()["get_video_duration_in_s"](a) * 15360) == 4086
    ref = probe(a)
    out_path = tmp_path / "out.mp4"
    with av.open(str(a)) as tc, av.open(str(out_path), "w") as out:
        o = out.add_stream_from_template(template=tc.streams.video[0], opaque=True)
        o.time_base = tc.streams.video[0].time_base
        assert vd._remux_episode(CameraEpisode(0, 0, 8, a), out, o, 0, ref) == 4086
        assert vd._remux_episode(CameraEpisode(1, 1, 8, a), out, o, 4086, ref) == 4086
    assert _packets(out_path) == src + [(p + 4086, d + 4086) for p, d in src]
    assert _ids(_decoded(out_path)) == list(range(8)) * 2


def test_remux_episode_duration_is_the_stream_duration(tmp_path: Path) -> None:
    """MPEG-TS (opened by probing): frames start at 1/30 s; the episode lasts its stream's
    duration, as LeRobot's ``get_video_duration_in_s`` reads it, not to its last frame's end."""
    ts = _mp4(tmp_path / "t.mp4", 3, fmt="mpegts")
    with av.open(str(ts)) as c:
        s = c.streams.video[0]
        assert s.duration == 9000 and [p.pts for p in c.demux(s)][:3] == [3000, 6000, 9000]
    assert _lerobot()["get_video_duration_in_s"](ts) == 0.1
    with av.open(str(ts)) as tc, av.open(str(tmp_path / "o.mkv"), "w") as out:
        o = out.add_stream_from_template(template=tc.streams.video[0], opaque=True)
        o.time_base = tc.streams.video[0].time_base
        assert vd._remux_episode(CameraEpisode(0, 0, 3, ts), out, o, 0, probe(ts)) == 9000


def test_remux_episode_duration_from_packets_without_stream_duration(tmp_path: Path) -> None:
    mkv = _mp4(tmp_path / "k.mp4", 4, fmt="matroska")
    ref = probe(mkv)
    with av.open(str(mkv)) as tc, av.open(str(tmp_path / "o.mkv"), "w") as out:
        assert not tc.streams.video[0].duration
        o = out.add_stream_from_template(template=tc.streams.video[0], opaque=True)
        o.time_base = tc.streams.video[0].time_base
        # last frame shown at 100 ms for 33 ms
        assert vd._remux_episode(CameraEpisode(0, 0, 4, mkv), out, o, 0, ref) == 133


def test_remux_episode_errors_name_the_episode(tmp_path: Path) -> None:
    a = _mp4(tmp_path / "a.mp4", 3)
    bad = _junk(tmp_path / "bad.mp4")
    ref = probe(a)
    with av.open(str(a)) as tc, av.open(str(tmp_path / "o.mp4"), "w") as out:
        o = out.add_stream_from_template(template=tc.streams.video[0], opaque=True)
        with pytest.raises(ConversionError) as exc:
            vd._remux_episode(CameraEpisode(0, 0, 3, bad), out, o, 0, ref)
        assert _message(exc, bad).startswith("damaged or truncated mp4 (")
        with pytest.raises(ConversionError) as exc:
            vd._remux_episode(CameraEpisode(0, 0, 9, a), out, o, 0, ref)
        assert _message(exc, a) == "has 3 frames but the episode has 9 (truncated?)"
        other = StreamProps("av1", 64, 48, ref.pix_fmt, ref.time_base, ref.header)
        with pytest.raises(vd._Mismatch) as mismatch:
            vd._remux_episode(CameraEpisode(0, 0, 3, a), out, o, 0, other)
        assert mismatch.value.diff == ["codec h264 vs av1"]


def test_episode_samples(tmp_path: Path) -> None:
    path = _bframes(tmp_path / "b.mp4", 12)
    frames = _decoded(path)
    got = vd.episode_samples(CameraEpisode(0, 0, 12, path), Decoder(), None)
    wanted = sample_indices(12)
    assert len(got) == len(wanted)
    for g, i in zip(got, wanted, strict=True):
        assert np.array_equal(g, frame_array(frames[i], None))
    # fewer frames wanted than the file holds: LeRobot's samples of the episode's length
    got = vd.episode_samples(CameraEpisode(0, 0, 5, path), Decoder(), None)
    assert [_id(a) for a in got] == sample_indices(5)
    d = _Counting()  # a frame's pixels are the stream's width times its height
    vd.episode_samples(CameraEpisode(0, 0, 12, path), d, None)
    assert {p // n for n, p in d.calls} == {64 * 48}
    bad = _junk(tmp_path / "bad.mp4")
    with pytest.raises(ConversionError) as exc:
        vd.episode_samples(CameraEpisode(0, 0, 12, bad), Decoder(), None)
    assert _message(exc, bad).startswith("damaged or truncated mp4 (")
    with pytest.raises(ConversionError) as exc:
        vd.episode_samples(CameraEpisode(0, 0, 13, path), Decoder(), None)
    assert _message(exc, path) == "has 12 frames but the episode has 13 (truncated?)"


def test_camera_stats_spools_rows_in_order(tmp_path: Path) -> None:
    eps = [
        CameraEpisode(i, i + 10, n, _mp4(tmp_path / f"e{i}.mp4", n))
        for i, n in enumerate((3, 5, 2))
    ]
    calls: list[int] = []
    spool = tmp_path / "work" / "stats.arrow"
    assert vd.camera_stats("cam", eps, None, spool, calls.append) == spool
    assert calls == [1, 1, 1]
    rows = pa.Table.from_batches(list(_spool_rows(spool))).to_pylist()
    assert len(rows) == 3
    for row, ep in zip(rows, eps, strict=True):
        frames = _decoded(ep.path)
        picked = [frame_array(frames[i], None) for i in sample_indices(ep.length)]
        want = image_feature_stats(np.stack(picked))
        assert sorted(row) == sorted(f"stats/cam/{k}" for k in want)
        for k, v in want.items():
            np.testing.assert_allclose(row[f"stats/cam/{k}"], v.tolist(), rtol=1e-12)
    vd.camera_stats("cam", eps[:1], None, tmp_path / "quiet.arrow")  # no progress callback


# --- re-encode -------------------------------------------------------------------------------


def test_encoder_for() -> None:
    assert vd._encoder_for("h264") == ("libx264", {"g": "2", "crf": "23"})
    assert vd._encoder_for("av1") == ("libsvtav1", {"g": "2", "crf": "30", "preset": "12"})
    assert vd._encoder_for("hevc") == vd.REENCODERS["av1"]


def test_reencode_episode(tmp_path: Path) -> None:
    small = _mp4(tmp_path / "s.mp4", 3, size=(24, 32), pix_fmt="yuv444p", options={"g": "1"})
    out_path = tmp_path / "o.mp4"
    with av.open(str(out_path), "w") as out:
        o = out.add_stream("libx264", rate=30, options={"g": "1", "qp": "0"})
        o.width, o.height, o.pix_fmt = 64, 48, "yuv420p"
        assert vd._reencode_episode(CameraEpisode(0, 0, 3, small), o, out, 2) == 3
        assert vd._reencode_episode(CameraEpisode(1, 1, 2, small), o, out, 7) == 3
        both = _mp4(tmp_path / "av.mp4", 2, audio=True)  # its audio is not re-encoded
        assert vd._reencode_episode(CameraEpisode(2, 2, 2, both), o, out, 10) == 2
        for p in o.encode(None):
            out.mux(p)
    frames = _decoded(out_path)
    assert [(f.width, f.height, f.format.name) for f in frames] == [(64, 48, "yuv420p")] * 8
    assert _ids(frames) == [0, 1, 2, 0, 1, 2, 0, 1]
    assert [round(float(f.time) * 30) for f in frames] == [2, 3, 4, 7, 8, 9, 10, 11]
    with av.open(str(tmp_path / "o2.mp4"), "w") as out:
        o = out.add_stream("libx264", rate=30)
        o.width, o.height, o.pix_fmt = 64, 48, "yuv420p"
        with pytest.raises(ConversionError) as exc:
            vd._reencode_episode(CameraEpisode(0, 0, 5, small), o, out, 0)
        assert _message(exc, small) == "decodes to 3 frames but the episode has 5 (truncated?)"
        bad = _junk(tmp_path / "bad.mp4")
        with pytest.raises(ConversionError) as exc:
            vd._reencode_episode(CameraEpisode(0, 0, 3, bad), o, out, 0)
        assert _message(exc, bad).startswith("damaged or truncated mp4 (")
        audio = _audio_only(tmp_path / "audio.mp4")
        with pytest.raises(ConversionError) as exc:
            vd._reencode_episode(CameraEpisode(0, 0, 3, audio), o, out, 0)
        assert _message(exc, audio) == "has no video stream"


# --- one camera end to end -------------------------------------------------------------------


def _rows(spool: Path) -> list[dict]:
    return pa.Table.from_batches(list(_spool_rows(spool))).to_pylist()


def _lerobot_record(paths: list[Path], tmp: Path) -> tuple[Path, list[tuple[float, float]]]:
    """What LeRobot's recorder does with these episodes (one file, no size limit):
    ``concatenate_video_files`` of the file so far and the next episode, and from/to
    timestamps chained by ``get_video_duration_in_s``."""
    lr = _lerobot()
    out = tmp / "lerobot.mp4"
    shutil.copy(paths[0], out)
    for p in paths[1:]:
        lr["concatenate_video_files"]([out, p], out)
    spans, t = [], 0.0
    for p in paths:
        d = lr["get_video_duration_in_s"](p)
        spans.append((t, t + d))
        t += d
    return out, spans


def test_convert_camera_stream_copy_equals_lerobot(tmp_path: Path) -> None:
    lengths = (3, 4, 2)
    paths = [_mp4(tmp_path / f"e{i}.mp4", n) for i, n in enumerate(lengths)]
    eps = [CameraEpisode(i, i + 5, n, paths[i]) for i, n in enumerate(lengths)]
    dst = tmp_path / "dst"
    calls: list[int] = []
    r = vd.convert_camera("cam", eps, dst, 100, 1000, 30, False, calls.append)
    mp4 = dst / "videos/cam/chunk-000/file-000.mp4"
    assert r.key == "cam" and r.files == [mp4] and not r.reencoded
    assert (r.frames, r.episodes, calls) == (9, 3, [1, 1, 1])
    assert r.spool == dst / ".convert-work/video-cam.arrow"
    want_file, spans = _lerobot_record(paths, tmp_path)
    assert _packets(mp4) == _packets(want_file)
    assert probe(mp4) == probe(paths[0])
    data = mp4.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # faststart, as LeRobot writes
    rows = _rows(r.spool)
    assert [(r["videos/cam/from_timestamp"], r["videos/cam/to_timestamp"]) for r in rows] == spans
    assert {(r["videos/cam/chunk_index"], r["videos/cam/file_index"]) for r in rows} == {(0, 0)}
    assert _ids(_decoded(mp4)) == [0, 1, 2, 0, 1, 2, 3, 0, 1]
    assert vd.video_info(mp4) == {
        k: v for k, v in _lerobot()["get_video_info"](want_file).items() if k != "is_depth_map"
    }


def test_convert_camera_b_frames_where_lerobot_looks(tmp_path: Path) -> None:
    """Episodes with B-frames (an edit list shifts display times; each lasts its edit's
    rounded milliseconds): from/to timestamps chained as LeRobot's recorder chains them, and
    frame k of each episode exactly at ``from_timestamp + k / fps`` (LeRobot's lookup, within
    1e-4 s). LeRobot's own ``concatenate_video_files`` re-rounds the joined file's duration
    instead, which moves later episodes by a few ticks: not compared here."""
    lengths = (8, 13, 5)
    paths = [_bframes(tmp_path / f"e{i}.mp4", n) for i, n in enumerate(lengths)]
    eps = [CameraEpisode(i, i, n, paths[i]) for i, n in enumerate(lengths)]
    r = vd.convert_camera("cam", eps, tmp_path / "dst", 100, 1000, 30, False)
    _, spans = _lerobot_record(paths, tmp_path)
    rows = _rows(r.spool)
    assert [(r["videos/cam/from_timestamp"], r["videos/cam/to_timestamp"]) for r in rows] == spans
    frames = sorted(_decoded(r.files[0]), key=lambda f: f.pts)
    want = [(t0 + k / 30, k) for (t0, _), n in zip(spans, lengths, strict=True) for k in range(n)]
    assert len(frames) == len(want)
    for f, (t, k) in zip(frames, want, strict=True):
        assert abs(float(f.time) - t) < vd.TOLERANCE_S and _ids([f]) == [k % 14], (t, k)


def test_convert_camera_rolls_files_over(tmp_path: Path) -> None:
    lengths = (3, 4, 2)
    paths = [_mp4(tmp_path / f"e{i}.mp4", n) for i, n in enumerate(lengths)]
    eps = [CameraEpisode(i, i, n, paths[i]) for i, n in enumerate(lengths)]
    dst = tmp_path / "dst"
    spool = tmp_path / "spool.arrow"
    r = vd.convert_camera("cam", eps, dst, 1e-6, 2, 30, False, spool=spool)
    assert r.files == [
        dst / "videos/cam/chunk-000/file-000.mp4",
        dst / "videos/cam/chunk-000/file-001.mp4",
        dst / "videos/cam/chunk-001/file-000.mp4",
    ]
    assert r.spool == spool and r.episodes == 3 and r.frames == 9
    rows = _rows(spool)
    assert [(r["videos/cam/chunk_index"], r["videos/cam/file_index"]) for r in rows] == [
        (0, 0),
        (0, 1),
        (1, 0),
    ]
    lr = _lerobot()
    assert [(r["videos/cam/from_timestamp"], r["videos/cam/to_timestamp"]) for r in rows] == [
        (0.0, lr["get_video_duration_in_s"](p)) for p in paths
    ]
    for f, p in zip(r.files, paths, strict=True):
        assert _packets(f) == _packets(p)


def test_convert_camera_refuses_a_mismatch(tmp_path: Path) -> None:
    a = _mp4(tmp_path / "a.mp4", 3)
    b = _mp4(tmp_path / "b.mp4", 2, size=(48, 32))
    eps = [CameraEpisode(0, 10, 3, a), CameraEpisode(1, 11, 2, b)]
    with pytest.raises(ConversionError) as exc:
        vd.convert_camera("cam", eps, tmp_path / "dst", 100, 1000, 30, False)
    assert _message(exc, b) == (
        f"camera cam episode 11 differs from episode 10 (width 32 vs 64; header "
        f"{probe(b).header} vs {probe(a).header}); stream copy would corrupt it: pass "
        "--reencode to re-encode this camera"
    )
    assert exc.value.__cause__ is None and exc.value.__suppress_context__


@pytest.mark.parametrize(
    ("codec", "want"), [("libx264", "h264"), ("libsvtav1", "av1")], ids=["h264", "av1"]
)
def test_convert_camera_reencodes_on_request(tmp_path: Path, codec: str, want: str) -> None:
    a = _mp4(tmp_path / "a.mp4", 3, codec=codec)
    b = _mp4(tmp_path / "b.mp4", 2, codec=codec, size=(24, 32))  # other size
    c = _mp4(tmp_path / "c.mp4", 2, codec=codec)
    eps = [CameraEpisode(0, 0, 3, a), CameraEpisode(1, 1, 2, b), CameraEpisode(2, 2, 2, c)]
    dst = tmp_path / "dst"
    stray = dst / "videos/cam/chunk-009/file-000.mp4"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"old")
    calls: list[int] = []
    r = vd.convert_camera("cam", eps, dst, 100, 1000, 30, True, calls.append)
    mp4 = dst / "videos/cam/chunk-000/file-000.mp4"
    assert r.reencoded and r.files == [mp4] and (r.frames, r.episodes) == (7, 3)
    assert not stray.exists()  # the stream-copy attempt's output is dropped
    assert r.spool == dst / ".convert-work/video-cam.reencode.arrow"
    assert calls == [1, 1, 1]  # episode 0, copied then re-encoded, counts once: 3 of 3
    frames = _decoded(mp4)
    assert _ids(frames) == [0, 1, 2, 0, 1, 0, 1]
    assert [(f.width, f.height, f.format.name) for f in frames] == [(64, 48, "yuv420p")] * 7
    p = probe(mp4)
    assert (p.codec, p.width, p.height, p.pix_fmt) == (want, 64, 48, "yuv420p")
    assert [round(float(f.time) * 30) for f in frames] == list(range(7))
    if want == "h264":  # LeRobot's settings (x264 writes its options into the stream)
        assert b" keyint=2 " in mp4.read_bytes() and b" crf=23.0 " in mp4.read_bytes()
    rows = _rows(r.spool)
    spans = [(r["videos/cam/from_timestamp"], r["videos/cam/to_timestamp"]) for r in rows]
    chained, t = [], 0.0
    for n in (3, 2, 2):  # chained as LeRobot's recorder does: from = the previous to
        chained.append((t, t + n / 30))
        t += n / 30
    assert spans == chained
    assert vd.video_info(mp4)["video.fps"] == 30
    spool = tmp_path / "mine.arrow"
    r = vd.convert_camera("cam", eps, tmp_path / "dst2", 100, 1000, 30, True, spool=spool)
    assert r.spool == tmp_path / "mine.reencode.arrow"


def test_reencode_keeps_pixel_format_and_rolls_files_over(tmp_path: Path) -> None:
    a = _mp4(tmp_path / "a.mp4", 3, pix_fmt="yuv444p")
    b = _mp4(tmp_path / "b.mp4", 2, size=(24, 32), pix_fmt="yuv444p")
    eps = [CameraEpisode(0, 0, 3, a), CameraEpisode(1, 1, 2, b), CameraEpisode(2, 2, 3, a)]
    dst = tmp_path / "dst"
    r = vd.convert_camera("cam", eps, dst, 1e-6, 1, 30, True)
    assert r.reencoded and r.files == [
        dst / f"videos/cam/chunk-00{i}/file-000.mp4" for i in range(3)
    ]
    for f, n in zip(r.files, (3, 2, 3), strict=True):
        frames = _decoded(f)
        assert [(x.width, x.height, x.format.name) for x in frames] == [(64, 48, "yuv444p")] * n
        assert _ids(frames) == list(range(n))
    rows = _rows(r.spool)
    assert [(r["videos/cam/chunk_index"], r["videos/cam/from_timestamp"]) for r in rows] == [
        (0, 0.0),
        (1, 0.0),
        (2, 0.0),
    ]
    assert [r["videos/cam/to_timestamp"] for r in rows] == [3 / 30, 2 / 30, 3 / 30]


def test_video_info_equals_lerobot(tmp_path: Path) -> None:
    lr = _lerobot()
    for path in (
        _mp4(tmp_path / "a.mp4", 2),
        _mp4(tmp_path / "b.mp4", 2, audio=True),
        _mp4(tmp_path / "c.mp4", 2, codec="libsvtav1", rate=15),
        _mp4(tmp_path / "d.mp4", 2, codec="libx265", pix_fmt="gray12le", options=X265),
    ):
        want = {k: v for k, v in lr["get_video_info"](path).items() if k != "is_depth_map"}
        assert vd.video_info(path) == want, path
    assert vd.video_info(tmp_path / "b.mp4")["has_audio"] is True
