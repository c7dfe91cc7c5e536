"""The video group (validators/video.py) in-process, on small real videos (fast enough to run
per mutant).

Every video here is encoded by FFmpeg through PyAV (AV1 with SVT-AV1 as LeRobot records, h264,
an mkv with B-frames, an mp4 whose first frame sits at pts 3 so that FFmpeg writes an empty
edit and the sample-table reader hands over to PyAV), 32x24, a few frames, milliseconds each.
The datasets around them are Contexts built in memory: the group reads only ``info``, the
episode rows and the ``timestamp`` column, which are set directly. Tolerances are probed on
both sides (half of the tolerance passes, twice it is reported). LeRobot's own decoder
(``decode_video_frames_pyav``, ``min_ < tolerance_s``) is run on the same files by the slow
test at the end, which is what the tolerance check claims to predict.
"""

from __future__ import annotations

import struct
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import env_python, run_env
from helpers.tiny_av import mux, silence

from validators import dataset_format as fmt
from validators import video
from validators.context import Context, DataColumns, EpisodeMeta, VideoRef
from validators.mp4_index import read_video_index

VK = "observation.images.cam"
TOL = fmt.TOLERANCE_S
N = 10  # frames per test video
FPS = 30


def encode(
    path: Path,
    codec: str = "libx264",
    *,
    n: int = N,
    start: int = 0,
    gaps: tuple[int, ...] = (),
    opts: dict | None = None,
    movflags: str | None = None,
) -> Path:
    """n frames of 32x24 video at 30 fps, pts start..start+n-1 (plus ``gaps`` frames skipped
    after each listed frame)."""
    copts = {"movflags": movflags} if movflags else {}
    with av.open(str(path), "w", options=copts) as out:
        s = out.add_stream(codec, rate=FPS, options=opts or {})
        s.width, s.height, s.pix_fmt = 32, 24, "yuv420p"
        base = np.random.default_rng(0).integers(0, 256, (24, 32, 3), dtype=np.uint8)
        pts = start
        for i in range(n):
            img = np.roll(base, i, axis=1)  # moving content: the encoder uses B-frames if allowed
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = pts
            pts += 1 + (i in gaps)
            for packet in s.encode(frame):
                out.mux(packet)
        for packet in s.encode(None):
            out.mux(packet)
    return path


def audio_only(path: Path) -> Path:
    with av.open(str(path), "w") as out:
        s = out.add_stream("aac", rate=8000)
        for i in range(4):
            mux(out, s, silence(8000, i * 1024))
        mux(out, s)
    return path


def with_audio(path: Path) -> Path:
    """n frames of video interleaved with AAC audio (an mkv: PyAV reads it)."""
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=FPS)
        v.width, v.height, v.pix_fmt = 32, 24, "yuv420p"
        a = out.add_stream("aac", rate=8000)
        base = np.random.default_rng(1).integers(0, 256, (24, 32, 3), dtype=np.uint8)
        for i in range(N):
            frame = av.VideoFrame.from_ndarray(np.roll(base, i, axis=1), format="rgb24")
            frame.pts = i
            mux(out, v, frame)
            mux(out, a, silence(8000, i * 1024))
        mux(out, v)
        mux(out, a)
    return path


def boxes(data: bytes) -> list[tuple[bytes, int, int]]:
    """(kind, offset, size) of the top-level MP4 boxes (32-bit sizes only: our files)."""
    out, off = [], 0
    while off < len(data):
        size, kind = struct.unpack(">I4s", data[off : off + 8])
        out.append((kind, off, size))
        off += size
    return out


def cut_faststart(src: Path, dst: Path, keep: int) -> Path:
    """A faststart file (moov before mdat) cut ``keep`` bytes into mdat, with mdat's size
    rewritten to 0 ("runs to the end of the file"): the box walk sees nothing wrong."""
    data = bytearray(src.read_bytes())
    (kind, off, size) = boxes(bytes(data))[-1]
    assert kind == b"mdat" and off + size == len(data)
    data[off : off + 4] = b"\0\0\0\0"
    dst.write_bytes(bytes(data[: off + 8 + keep]))
    return dst


def patch_tables(src: Path, dst: Path, *, no_samples: bool) -> Path:
    """Degenerate sample tables in a real mp4 (mpeg4: no ctts): no sample at all, or every
    sample lasting 0 ticks (all at pts 0). The sample-table reader still indexes both."""
    b = bytearray(src.read_bytes())
    i = b.find(b"stts")  # 'stts', version/flags, entry count, (count, delta) entries
    if no_samples:
        struct.pack_into(">I", b, i + 8, 0)
        struct.pack_into(">II", b, b.find(b"stsz") + 8, 0, 0)
        for kind in (b"stsc", b"stco"):
            struct.pack_into(">I", b, b.find(kind) + 8, 0)
    else:
        for k in range(struct.unpack_from(">I", b, i + 8)[0]):
            struct.pack_into(">I", b, i + 16 + 8 * k, 0)
    dst.write_bytes(bytes(b))
    return dst


@pytest.fixture(scope="module")
def vids(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("vids")
    out = {
        "h264": encode(d / "h264.mp4"),
        "av1": encode(d / "av1.mp4", "libsvtav1"),
        "faststart": encode(d / "fast.mp4", movflags="faststart"),
        "offset": encode(d / "offset.mp4", start=3),  # an empty edit: PyAV reads it
        "offset_fast": encode(d / "offset_fast.mp4", start=3, movflags="faststart"),
        "mkv": encode(d / "v.mkv"),  # no stream duration, millisecond timestamps
        "bframes": encode(d / "bframes.mp4", start=3, opts={"bf": "3", "g": "12"}),
        "vfr": encode(d / "vfr.mkv", gaps=(2, 5, 6)),
        "single": encode(d / "single.mp4", n=1),
        "two": encode(d / "two.mp4", n=2),
        "single_late": encode(d / "single_late.mp4", n=1, start=3),  # PyAV reads it
        "vfr_mp4": encode(d / "vfr.mp4", gaps=(2, 5, 6)),
        "av1_mkv": encode(d / "av1.mkv", "libsvtav1"),
        "with_audio": with_audio(d / "audio_too.mkv"),
        "long_late": encode(d / "long_late.mp4", n=30, start=3, movflags="faststart"),
        "audio": audio_only(d / "audio.mp4"),
    }
    out["cut_fast"] = cut_faststart(out["faststart"], d / "cut_fast.mp4", 300)
    out["cut_offset"] = cut_faststart(out["offset_fast"], d / "cut_offset.mp4", 300)
    mpeg4 = encode(d / "mpeg4.mp4", "mpeg4")
    out["no_samples"] = patch_tables(mpeg4, d / "no_samples.mp4", no_samples=True)
    out["zero_durations"] = patch_tables(mpeg4, d / "zero_durations.mp4", no_samples=False)
    with av.open(str(out["long_late"])) as c:
        sizes = [p.size for p in c.demux(video=0) if p.size]
    # cut exactly after packet 12: every packet left is whole, the decoder meets no error
    out["cut_clean"] = cut_faststart(out["long_late"], d / "cut_clean.mp4", sum(sizes[:12]))
    raw = bytearray(out["av1_mkv"].read_bytes())
    raw[len(raw) // 2 : len(raw) // 2 + 16] = b"\xff" * 16  # inside a frame: dav1d refuses it
    (d / "corrupt.mkv").write_bytes(bytes(raw))
    out["corrupt_mkv"] = d / "corrupt.mkv"
    raw = bytearray(out["offset"].read_bytes())
    at = raw.find(b"minf")
    raw[at - 1 : at + 7] = b"\xff" * 8  # the track's media information box: gone
    (d / "no_codec.mp4").write_bytes(bytes(raw))
    out["no_codec"] = d / "no_codec.mp4"
    (d / "garbage.mp4").write_bytes(struct.pack(">I4s", 40, b"free") + b"\x17" * 32)
    out["garbage"] = d / "garbage.mp4"
    return out


def info(**cam) -> dict:
    ft = {"dtype": "video", "shape": [24, 32, 3], "names": ["height", "width", "channels"]}
    ft.update(cam)
    return {"codebase_version": "v3.0", "fps": FPS, "features": {VK: ft}}


def context(root: Path, inf: dict | None = None, *, deep=False, quick=False) -> Context:
    return Context(root, inf or info(), deep=deep, quick=quick)


def findings(ctx: Context) -> list[tuple]:
    return [
        (f.check_id, f.severity, f.file, f.episode, f.message, f.hint) for f in ctx.report.findings
    ]


def episode(e: int, rel: str, t0: float, t1: float, length: int, a: int) -> EpisodeMeta:
    return EpisodeMeta(
        episode_index=e,
        length=length,
        tasks=["t"],
        data_path=f"data/chunk-000/file-{e:03d}.parquet",
        from_index=a,
        to_index=a + length,
        videos={VK: VideoRef(rel, t0, t1)},
    )


def data_columns(lengths: list[int], shift: dict[int, float] | None = None) -> DataColumns:
    """Rows as LeRobot records them: timestamp = frame_index / fps, float32."""
    ts = np.concatenate([np.arange(n) / FPS for n in lengths]).astype(np.float32)
    for row, dt in (shift or {}).items():
        ts[row] = np.float32(ts[row] + dt)
    idx = np.arange(len(ts))
    return DataColumns(idx, idx, idx, ts, idx, [("data/x.parquet", 0, len(ts))])


def two_episodes(
    ctx: Context, rel: str, lengths=(4, 6), spans=None, shift=None
) -> list[EpisodeMeta]:
    spans = spans or [(0.0, 4 / FPS), (4 / FPS, 10 / FPS)]
    eps, a = [], 0
    for e, (n, (t0, t1)) in enumerate(zip(lengths, spans, strict=True)):
        eps.append(episode(e, rel, t0, t1, n, a))
        a += n
    ctx.episodes = eps
    ctx.data = data_columns(list(lengths), shift)
    return eps


TRUNC_HINT = "the file was cut short (interrupted copy or upload); copy it again"


# --- mp4_truncation: the top-level box walk ---------------------------------------------------
def box(kind: bytes, payload: bytes = b"", size: int | None = None) -> bytes:
    return struct.pack(">I4s", len(payload) + 8 if size is None else size, kind) + payload


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        (box(b"ftyp", b"isom") + box(b"free"), None),  # an 8-byte box is valid
        (box(b"ftyp", b"isom") + b"\0" * 7, None),  # < 8 trailing bytes: no box header
        (
            box(b"ftyp", b"isom") + box(b"mdat", b"", 100),
            "box 'mdat' at byte 12 needs 100 bytes but the file ends 92 bytes early",
        ),
        (
            box(b"ftyp", b"isom") + box(b"mdat", b"xy", 11),
            "box 'mdat' at byte 12 needs 11 bytes but the file ends 1 bytes early",
        ),
        (box(b"ftyp", b"isom") + box(b"mdat", b"xyz", 11), None),  # exactly to the end
        (box(b"ftyp", b"isom") + box(b"mdat", b"abc", 0), None),  # size 0: to the end
        (box(b"ftyp", b"isom") + box(b"free", b"", 7), "box at byte 12 has an invalid size 7"),
        (box(b"free", b"", 0), None),
        (struct.pack(">I4sQ", 1, b"mdat", 16), None),  # 64-bit size, header only
        (struct.pack(">I4sQ", 1, b"mdat", 24) + b"\0" * 8 + box(b"free"), None),
        (
            struct.pack(">I4sQ", 1, b"mdat", 2**33),
            "box 'mdat' at byte 0 needs 8589934592 bytes but the file ends 8589934576 bytes early",
        ),
        (struct.pack(">I4sI", 1, b"mdat", 0), "box at byte 0 has an invalid size 1"),  # 12 bytes
        (  # sizes are unsigned: 2**31 and up are sizes, not negative numbers
            box(b"ftyp", b"isom") + box(b"mdat", b"", 2**31 + 16),
            "box 'mdat' at byte 12 needs 2147483664 bytes but the file ends 2147483656 bytes early",
        ),
        (
            struct.pack(">I4sQ", 1, b"mdat", 2**63 + 16),
            "box 'mdat' at byte 0 needs 9223372036854775824 bytes but the file ends "
            "9223372036854775808 bytes early",
        ),
        (
            box(b"ftyp", b"isom") + struct.pack(">I4s", 1, b"\xe9xyz"),
            "box at byte 12 has an invalid size 1",
        ),
        (
            box(b"ftyp", b"isom") + box(b"\xe9xyz", b"", 30),
            "box '\xe9xyz' at byte 12 needs 30 bytes but the file ends 22 bytes early",
        ),
    ],
)
def test_mp4_truncation_box_walk(tmp_path: Path, raw: bytes, want: str | None) -> None:
    path = tmp_path / "x.mp4"
    path.write_bytes(raw)
    assert video.mp4_truncation(path) == want


def test_mp4_truncation_on_encoded_files(vids: dict[str, Path], tmp_path: Path) -> None:
    for name in ("h264", "av1", "faststart", "offset", "single", "audio"):
        assert video.mp4_truncation(vids[name]) is None, name
    data = vids["h264"].read_bytes()
    kind, off, size = boxes(data)[-1]
    assert kind == b"moov"
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[:-10])
    assert video.mp4_truncation(cut) == (
        f"box 'moov' at byte {off} needs {size} bytes but the file ends 10 bytes early"
    )


# --- probe_file ---------------------------------------------------------------------------------
def probe(vids: dict[str, Path], name: str, inf=None, *, deep=False, quick=False, eps=None):
    path = vids[name]
    ctx = context(path.parent, inf, deep=deep, quick=quick)
    p = video.probe_file(ctx, VK, path.name, [] if eps is None else eps)
    return p, findings(ctx)


def expect_probe(p, codec, pix, header, duration, pts) -> None:
    assert p is not None
    assert (p.codec, p.width, p.height, p.pix_fmt, p.fps) == (codec, 32, 24, pix, 30.0)
    assert isinstance(p.width, int) and isinstance(p.height, int) and isinstance(p.fps, float)
    assert p.header_frames == header and isinstance(p.header_frames, int)
    assert p.duration_s == pytest.approx(duration, abs=1e-9) and isinstance(p.duration_s, float)
    if pts is None:
        assert p.pts_s is None
    else:
        assert p.pts_s.dtype == np.float64
        np.testing.assert_allclose(p.pts_s, pts, rtol=0, atol=6e-4)


def test_probe_sample_table(vids: dict[str, Path]) -> None:
    """Standard and quick mode read an indexable mp4's sample table; no PyAV needed."""
    frames = np.arange(N) / FPS
    for quick in (False, True):
        p, f = probe(vids, "av1", quick=quick)
        assert f == []
        expect_probe(p, "av1", "yuv420p", N, N / FPS, frames)  # av1C says 4:2:0 8-bit
        np.testing.assert_array_equal(p.pts_s, read_video_index(vids["av1"]).pts_s)
    # h264 High profile: avcC does not say; PyAV is asked only when info.json names a format
    p, f = probe(vids, "h264")
    expect_probe(p, "h264", None, N, N / FPS, frames)
    p, f = probe(vids, "h264", info(info={"video.pix_fmt": "yuv444p"}))
    expect_probe(p, "h264", "yuv420p", N, N / FPS, frames)
    p, f = probe(vids, "h264", info(video_info={"video.pix_fmt": "yuv444p"}))
    expect_probe(p, "h264", None, N, N / FPS, frames)  # only "info" triggers the lookup
    p, f = probe(vids, "single")
    expect_probe(p, "h264", None, 1, 1 / FPS, [0.0])
    p, f = probe(vids, "faststart")  # samples end exactly at the end of the file
    assert f == []
    expect_probe(p, "h264", None, N, N / FPS, frames)


def test_sample_table_agrees_with_pyav_demux(vids: dict[str, Path]) -> None:
    """mp4_index is hand-written for speed (its docstring); here it is held to the library it
    replaces: PyAV's demuxer gives the same presentation timestamps, codec, size and rate for
    every indexable file, LeRobot-recorded (the real fixture's AV1) and PyAV-muxed alike."""
    from conftest import FIXTURE_V21

    files = sorted(FIXTURE_V21.glob("videos/**/*.mp4")) + [
        vids[k] for k in ("av1", "h264", "single", "faststart")
    ]
    for path in files:
        idx = read_video_index(path)
        assert idx is not None, path
        with av.open(str(path)) as c:
            st = c.streams.video[0]
            pts = sorted(float(pk.pts * st.time_base) for pk in c.demux(st) if pk.pts is not None)
            cc = st.codec_context
            want = (cc.codec.canonical_name, cc.width, cc.height)
            rate = float(st.base_rate) if st.base_rate else 0.0
        np.testing.assert_allclose(idx.pts_s, pts, rtol=0, atol=1e-9, err_msg=str(path))
        assert (idx.codec, idx.width, idx.height) == want, path
        assert idx.fps == pytest.approx(rate, rel=1e-9), path


def test_sample_table_offsets_keyframes_and_config_agree_with_pyav(vids: dict[str, Path]) -> None:
    """What behaviour.frozen_camera reads keyframes with: each sample's byte offset, size and
    sync flag are PyAV's packet pos/size/is_keyframe, the config box is its extradata, and a
    keyframe decoded alone from those bytes is the picture PyAV decodes there (AV1 of the real
    fixture, PyAV-muxed H.264)."""
    from conftest import FIXTURE_V21

    from validators.video import KeyframeDecoder, _luma

    files = [*sorted(FIXTURE_V21.glob("videos/**/*.mp4"))[:2], vids["av1"], vids["h264"]]
    dec = KeyframeDecoder()
    for path in files:
        idx = read_video_index(path)
        with av.open(str(path)) as c:
            st = c.streams.video[0]
            packets = [(pk.pos, pk.size, pk.is_keyframe) for pk in c.demux(st) if pk.size]
            extradata = st.codec_context.extradata
        with av.open(str(path)) as c:
            first = _luma(next(c.decode(video=0)))  # the Y plane as stored (no range scaling)
        assert idx.offsets.tolist() == [p[0] for p in packets], path
        assert idx.sizes.tolist() == [p[1] for p in packets], path
        assert idx.sync.tolist() == [p[2] for p in packets], path
        assert idx.config == extradata, path
        keys = np.flatnonzero(idx.sync)
        assert len(keys) >= 1, path
        got = dec.lumas(path, idx.codec, idx.config, [idx.offsets[keys[0]]], [idx.sizes[keys[0]]])
        assert got[0] is not None and got[0].shape == first.shape, path
        assert np.abs(got[0].astype(int) - first.astype(int)).max() <= 1, path


def test_probe_degenerate_sample_tables(vids: dict[str, Path]) -> None:
    """No sample: nothing ends anywhere; samples of duration 0: no rate, the last one ends
    where it starts."""
    assert read_video_index(vids["no_samples"]).samples == 0
    p, f = probe(vids, "no_samples")
    assert f == [] and (p.codec, p.width, p.height, p.fps, p.header_frames) == (
        "mpeg4",
        32,
        24,
        0,
        0,
    )
    assert p.duration_s == 0.0 and len(p.pts_s) == 0
    p, f = probe(vids, "zero_durations")
    assert f == [] and (p.codec, p.fps, p.header_frames) == ("mpeg4", 0.0, N)
    assert p.duration_s == 0.0 and p.pts_s.tolist() == [0.0] * N


def test_probe_pyav_demux(vids: dict[str, Path]) -> None:
    """Files the sample-table reader hands over: PyAV's demuxer, pts sorted into display
    order (B-frames arrive out of order), the stream duration or else the container's."""
    p, f = probe(vids, "bframes")
    assert f == []
    with av.open(str(vids["bframes"])) as c:
        order = [pk.pts for pk in c.demux(video=0) if pk.size]
    assert order != sorted(order)  # B-frames: decode order is not display order
    expect_probe(p, "h264", "yuv420p", N, (3 + N) / FPS, np.arange(3, 3 + N) / FPS)
    p, f = probe(vids, "mkv")
    assert f == []
    expect_probe(p, "h264", "yuv420p", 0, 0.333, np.arange(N) / FPS)  # mkv: ms timestamps
    p, f = probe(vids, "mkv", quick=True)
    expect_probe(p, "h264", "yuv420p", 0, 0.333, None)
    p, f = probe(vids, "offset")  # an empty edit before frame 0: pts 3/30..12/30 s
    assert f == []
    expect_probe(p, "h264", "yuv420p", N, (3 + N) / FPS, np.arange(3, 3 + N) / FPS)
    p, f = probe(vids, "offset", quick=True)  # the last frame still ends at 13/30 s
    expect_probe(p, "h264", "yuv420p", N, (3 + N) / FPS, None)
    p, f = probe(vids, "vfr")  # frames skipped: the declared rate, not the average one
    expect_probe(p, "h264", "yuv420p", 0, 0.433, np.array([0, 1, 2, 4, 5, 6, 8, 10, 11, 12]) / 30)


def test_probe_rate_is_the_declared_one(vids: dict[str, Path]) -> None:
    """Frames skipped (pts 0 1 2 4 5 6 8 10 11 12 / 30): the stream's rate is the common frame
    duration's (LeRobot's get_video_info: int(base_rate)), not frames / duration."""
    with av.open(str(vids["vfr_mp4"])) as c:
        s = c.streams.video[0]
        assert (s.base_rate, s.average_rate) == (30, Fraction(300, 13))
    pts = np.array([0, 1, 2, 4, 5, 6, 8, 10, 11, 12]) / FPS
    for deep in (False, True):
        p, f = probe(vids, "vfr_mp4", deep=deep)
        assert f == []
        expect_probe(p, "h264", None if not deep else "yuv420p", N, 13 / FPS, pts)


def test_probe_reads_only_the_video_stream(vids: dict[str, Path]) -> None:
    """An audio track beside the video: its packets and frames are not video frames."""
    for deep in (False, True):
        p, f = probe(vids, "with_audio", deep=deep)
        assert f == []
        expect_probe(p, "h264", "yuv420p", 0, p.duration_s, np.arange(N) / FPS)


def test_probe_no_decoder(vids: dict[str, Path]) -> None:
    """A damaged media information box: PyAV opens a video stream without a codec."""
    with av.open(str(vids["no_codec"])) as c:
        assert c.streams.video[0].codec_context is None
    eps = [episode(6, "no_codec.mp4", 0, 1, 30, 0)]
    for deep in (False, True):
        p, f = probe(vids, "no_codec", deep=deep, eps=eps)
        assert p is None
        assert f == [
            (
                "video.unreadable",
                "error",
                "no_codec.mp4",
                6,
                "the video stream has no codec FFmpeg can decode (damaged sample description?)",
                "the mp4 is corrupt; re-encode it from the source frames",
            )
        ]


def test_probe_deep_decode_errors(vids: dict[str, Path]) -> None:
    """Deep mode: fewer frames than the header announces (no decoder error: the cut is at a
    packet boundary), and a decoder error in a file whose header counts no frames (mkv)."""
    eps = [episode(2, "x", 0, 1, 30, 0)]
    hint = "the media data is corrupt; re-encode the video from the source frames"
    p, f = probe(vids, "cut_clean", deep=True, eps=eps)
    assert p is None
    assert f == [
        ("video.decode_error", "error", "cut_clean.mp4", 2, "decoded 12 of 30 frames", hint)
    ]
    p, f = probe(vids, "cut_clean", eps=eps)  # standard mode: the packets are counted
    assert p is None
    assert f == [
        (
            "video.truncated",
            "error",
            "cut_clean.mp4",
            2,
            "the header announces 30 frames but only 12 are present",
            TRUNC_HINT,
        )
    ]
    with av.open(str(vids["corrupt_mkv"])) as c:
        decoded = 0
        with pytest.raises(av.error.FFmpegError) as exc:
            for _ in c.decode(video=0):
                decoded += 1
    p, f = probe(vids, "corrupt_mkv", deep=True, eps=eps)
    assert p is None
    assert f == [
        (
            "video.decode_error",
            "error",
            "corrupt.mkv",
            2,
            f"decoded {decoded} of ? frames: {exc.value}",
            hint,
        )
    ]
    p, f = probe(vids, "corrupt_mkv", eps=eps)  # the packets themselves are all there
    assert f == [] and len(p.pts_s) == N


def test_probe_deep_decodes(vids: dict[str, Path]) -> None:
    """Deep mode decodes every frame; the codec is the stream's canonical name (the AV1
    decoder is libdav1d), pts are the decoded frames'."""
    p, f = probe(vids, "av1", deep=True)
    assert f == []
    expect_probe(p, "av1", "yuv420p", N, N / FPS, np.arange(N) / FPS)
    p, f = probe(vids, "mkv", deep=True)
    expect_probe(p, "h264", "yuv420p", 0, 0.333, np.arange(N) / FPS)


def test_probe_truncated_by_box_walk(vids: dict[str, Path], tmp_path: Path) -> None:
    data = vids["av1"].read_bytes()
    _, off, size = boxes(data)[-1]
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[:-1])
    eps = [episode(7, cut.name, 0, 1, 30, 0), episode(8, cut.name, 1, 2, 30, 30)]
    for deep in (False, True):
        ctx = context(tmp_path, deep=deep)
        assert video.probe_file(ctx, VK, cut.name, eps) is None
        assert findings(ctx) == [
            (
                "video.truncated",
                "error",
                "cut.mp4",
                7,
                f"the file is cut short: box 'moov' at byte {off} needs {size} bytes but the file "
                "ends 1 bytes early",
                "the file was cut short (interrupted copy or upload); copy it again from the "
                "source",
            )
        ]
    ctx = context(tmp_path)
    assert video.probe_file(ctx, VK, cut.name, []) is None
    assert findings(ctx)[0][3] is None
    # not an .mp4: no box walk (an mkv is EBML); the demuxer reads what is there
    mkv = tmp_path / "cut.mkv"
    mkv.write_bytes(vids["mkv"].read_bytes())
    ctx = context(tmp_path)
    assert video.probe_file(ctx, VK, mkv.name, eps) is not None
    assert findings(ctx) == []


def test_probe_truncated_sample_data(vids: dict[str, Path]) -> None:
    """mdat "to the end of the file" but the samples reach further: the sample table tells."""
    size = vids["faststart"].stat().st_size
    cut_size = vids["cut_fast"].stat().st_size
    eps = [episode(3, "cut_fast.mp4", 0, 1, 30, 0)]
    p, f = probe(vids, "cut_fast", eps=eps)
    assert p is None
    assert f == [
        (
            "video.truncated",
            "error",
            "cut_fast.mp4",
            3,
            f"samples reach byte {size} but the file has {cut_size} bytes",
            TRUNC_HINT,
        )
    ]
    # deep mode decodes: fewer frames than the header announces
    decoded, failure = 0, ""
    with av.open(str(vids["cut_fast"])) as c:
        try:
            decoded = sum(1 for _ in c.decode(video=0))
        except av.error.FFmpegError as exc:
            failure = f": {exc}"
    assert decoded < N
    p, f = probe(vids, "cut_fast", deep=True, eps=eps)
    assert p is None
    assert f == [
        (
            "video.decode_error",
            "error",
            "cut_fast.mp4",
            3,
            f"decoded {decoded} of {N} frames{failure}",
            "the media data is corrupt; re-encode the video from the source frames",
        )
    ]


def test_probe_truncated_pyav(vids: dict[str, Path]) -> None:
    """A file the sample-table reader hands to PyAV, cut short: fewer packets than the header
    announces."""
    assert read_video_index(vids["cut_offset"]) is None
    eps = [episode(5, "cut_offset.mp4", 0, 1, 30, 0)]
    p, f = probe(vids, "cut_offset", eps=eps)
    assert p is None and len(f) == 1
    (cid, sev, rel, e, msg, hint) = f[0]
    assert (cid, sev, rel, e, hint) == ("video.truncated", "error", "cut_offset.mp4", 5, TRUNC_HINT)
    with av.open(str(vids["cut_offset"])) as c:
        got = sum(1 for pk in c.demux(video=0) if pk.pts is not None and pk.size)
    assert 0 < got < N
    assert msg == f"the header announces {N} frames but only {got} are present"
    # quick mode stops at the header
    p, f = probe(vids, "cut_offset", quick=True, eps=eps)
    assert f == [] and p is not None and p.pts_s is None and p.header_frames == N


def test_probe_unreadable(vids: dict[str, Path]) -> None:
    eps = [episode(2, "garbage.mp4", 0, 1, 30, 0)]
    with pytest.raises(av.error.InvalidDataError) as exc:
        av.open(str(vids["garbage"]))
    for deep in (False, True):
        p, f = probe(vids, "garbage", deep=deep, eps=eps)
        assert p is None
        assert f == [
            (
                "video.unreadable",
                "error",
                "garbage.mp4",
                2,
                f"cannot open: {exc.value}",
                "the mp4 is truncated or corrupt; re-encode it from the source frames",
            )
        ]
    eps = [episode(4, "audio.mp4", 0, 1, 30, 0)]
    p, f = probe(vids, "audio", eps=eps)
    assert p is None
    assert f == [
        (
            "video.unreadable",
            "error",
            "audio.mp4",
            4,
            "no video stream in the file",
            "re-encode the episode's frames",
        )
    ]


# --- _expected_hw -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("ft", "want"),
    [
        ({"shape": [24, 32, 3], "names": ["height", "width", "channels"]}, (24, 32)),
        ({"shape": [3, 24, 32], "names": ["channels", "height", "width"]}, (24, 32)),
        ({"shape": [3, 24, 32], "names": ["channel", "height", "width"]}, (24, 32)),
        ({"shape": [24, 3, 32], "names": ["height", "channels", "width"]}, (24, 32)),
        ({"shape": [32, 24, 3], "names": ["width", "height", "channels"]}, (24, 32)),
        ({"shape": [3, 24, 32], "names": ["c", "h", "w"]}, (24, 32)),  # heuristic
        ({"shape": [3, 24, 32], "names": ["height", "w", "c"]}, (24, 32)),  # no "width"
        ({"shape": [3, 24, 32], "names": ["h", "width", "c"]}, (24, 32)),  # no "height"
        ({"shape": [3, 24, 32], "names": {"height": 1, "width": 2}}, (24, 32)),  # not a list
        ({"shape": [3, 24, 32]}, (24, 32)),  # channels first
        ({"shape": [1, 24, 32]}, (24, 32)),
        ({"shape": [4, 24, 32]}, (24, 32)),
        ({"shape": [2, 24, 32]}, (2, 24)),  # 2 is not a channel count
        ({"shape": [5, 24, 32]}, (5, 24)),
        ({"shape": [24, 32, 3]}, (24, 32)),
        ({"shape": [3, 24, 4]}, (3, 24)),  # ambiguous: channels last wins
        ({"shape": [3, 24, 1]}, (3, 24)),
        ({"shape": [3, 24, 3]}, (3, 24)),
        ({"shape": [3, 24, 2]}, (24, 2)),
        ({"shape": [3, 24, 5]}, (24, 5)),
        ({"shape": [24.0, 32.0, 3]}, (24, 32)),
        ({"shape": [3.0, 24.0, 32.0]}, (24, 32)),
        ({"shape": [3.0, 24.0, 32.0], "names": ["c", "height", "width"]}, (24, 32)),
        ({"shape": [24, 32]}, None),
        ({"shape": [1, 24, 32, 3]}, None),
        ({"shape": None}, None),
        ({}, None),
    ],
)
def test_expected_hw(ft: dict, want) -> None:
    got = video._expected_hw(ft)
    assert got == want
    if want is not None:
        assert type(got) is tuple and all(type(v) is int for v in got)


# --- check_stream -------------------------------------------------------------------------------
def stream(vids, name: str, inf: dict) -> list[tuple]:
    path = vids[name]
    ctx = context(path.parent, inf)
    p = video.probe_file(ctx, VK, path.name, [])
    assert p is not None and findings(ctx) == []
    video.check_stream(ctx, VK, path.name, p)
    return findings(ctx)


LEROBOT_INFO = {  # what LeRobot 0.6.1's get_video_info writes for the AV1 file
    "video.height": 24,
    "video.width": 32,
    "video.codec": "av1",
    "video.pix_fmt": "yuv420p",
    "video.fps": 30,
    "video.channels": 3,
    "has_audio": False,
}


def test_stream_matches_info(vids: dict[str, Path]) -> None:
    assert stream(vids, "av1", info(info=LEROBOT_INFO)) == []
    assert stream(vids, "av1", info(video_info=LEROBOT_INFO)) == []
    assert stream(vids, "h264", info(info={**LEROBOT_INFO, "video.codec": "h264"})) == []
    assert stream(vids, "av1", info(shape=[3, 24, 32], names=None)) == []
    assert stream(vids, "av1", info(shape=[24, 32], info={"video.fps": 30.0})) == []
    assert stream(vids, "mkv", info(info={**LEROBOT_INFO, "video.codec": "h264"})) == []


def test_stream_size_mismatch(vids: dict[str, Path]) -> None:
    want = (
        "video.size_mismatch",
        "error",
        "av1.mp4",
        None,
        f"{VK}: frames are 32x24 (WxH) but features say 24x32",
        "re-encode at the declared size or fix features[...]['shape'] in meta/info.json",
    )
    assert stream(vids, "av1", info(shape=[32, 24, 3])) == [want]
    assert stream(vids, "av1", info(shape=[32.0, 24.0, 3])) == [want]
    assert stream(vids, "av1", info(shape=[24, 33, 3])) == [
        (*want[:4], f"{VK}: frames are 32x24 (WxH) but features say 33x24", *want[5:])
    ]
    info_want = (
        "video.size_mismatch",
        "error",
        "av1.mp4",
        None,
        f"{VK}: frames are 32x24 but info says 24x32",
        "fix video.width/video.height in meta/info.json",
    )
    swapped = {"video.height": 32, "video.width": 24}
    assert stream(vids, "av1", info(info=swapped)) == [info_want]
    assert stream(vids, "av1", info(video_info=swapped)) == [info_want]
    assert stream(vids, "av1", info(info={"video.height": 24, "video.width": 31})) == [
        (*info_want[:4], f"{VK}: frames are 32x24 but info says 31x24", *info_want[5:])
    ]
    assert stream(vids, "av1", info(info={"video.height": 25, "video.width": 32})) == [
        (*info_want[:4], f"{VK}: frames are 32x24 but info says 32x25", *info_want[5:])
    ]
    # not integers: not compared
    assert stream(vids, "av1", info(info={"video.height": "32", "video.width": 24})) == []
    assert stream(vids, "av1", info(info={"video.height": 32, "video.width": 24.0})) == []
    both = stream(vids, "av1", info(shape=[32, 24, 3], info=swapped))
    assert both == [want, info_want]


def fps_finding(got: float, want: float, rel: str = "av1.mp4") -> tuple:
    return (
        "video.fps_mismatch",
        "error",
        rel,
        None,
        f"{VK}: the stream runs at {got:g} fps but the dataset declares {want:g}",
        "frames would not sit at frame_index / fps; re-encode at the dataset fps",
    )


def test_stream_fps(vids: dict[str, Path]) -> None:
    assert stream(vids, "av1", {**info(), "fps": 25}) == [fps_finding(30, 25)]
    assert stream(vids, "av1", info(info={"video.fps": 29.5})) == [fps_finding(30, 29.5)]
    assert stream(vids, "av1", info(info={"video.fps": 24})) == [fps_finding(30, 24)]
    # both wrong: one finding, the dataset fps first
    assert stream(vids, "av1", {**info(info={"video.fps": 24}), "fps": 25}) == [fps_finding(30, 25)]
    assert stream(vids, "av1", {**info(info={"video.fps": "24"})}) == []  # not a number
    assert stream(vids, "av1", {**info(), "fps": None}) == []  # no dataset fps: nothing to say
    assert stream(vids, "av1", {**info(info={"video.fps": 0}), "fps": None}) == []
    assert stream(vids, "av1", {**info(info={"video.fps": 24}), "fps": None}) == [
        fps_finding(30, 24)
    ]
    assert stream(vids, "mkv", {**info(), "fps": 15}) == [fps_finding(30, 15, "v.mkv")]
    # the fps finding does not end the stream's checks
    got = stream(vids, "av1", {**info(info={"video.codec": "h264"}), "fps": 25})
    assert [f[0] for f in got] == ["video.fps_mismatch", "video.codec_mismatch"]


@pytest.mark.parametrize(
    ("stream_fps", "declared", "reported"),
    [
        (30.0, 30.02, True),  # twice the 0.01 fps tolerance
        (30.0, 29.98, True),
        (30.0, 30.005, False),  # half of it
        (30.0, 29.995, False),
        (0.02, 0.01, False),  # exactly 0.01 apart (both binary fractions agree): not over
        (0.01, 0.02, False),
    ],
)
def test_stream_fps_tolerance(
    tmp_path: Path, stream_fps: float, declared: float, reported: bool
) -> None:
    assert abs(stream_fps - declared) != 0.01 or stream_fps in (0.01, 0.02)
    for inf in ({**info(), "fps": declared}, {**info(info={"video.fps": declared}), "fps": None}):
        ctx = context(tmp_path, inf)
        p = video.Probe("av1", 32, 24, "yuv420p", stream_fps, 10, 1.0, None)
        video.check_stream(ctx, VK, "v.mp4", p)
        want = [fps_finding(stream_fps, declared, "v.mp4")] if reported else []
        assert findings(ctx) == want


def test_stream_codec_and_pix_fmt(vids: dict[str, Path]) -> None:
    codec = (
        "video.codec_mismatch",
        "warning",
        "h264.mp4",
        None,
        f"{VK}: stream codec is h264 but info says av1",
        "fix video.codec in meta/info.json (decoders follow the stream, not info.json)",
    )
    pix = (
        "video.pix_fmt_mismatch",
        "warning",
        "h264.mp4",
        None,
        f"{VK}: stream pixel format is yuv420p but info says yuv444p",
        "fix video.pix_fmt in meta/info.json or re-encode",
    )
    both = {"video.codec": "av1", "video.pix_fmt": "yuv444p"}
    assert stream(vids, "h264", info(info=both)) == [codec, pix]
    assert stream(vids, "h264", info(info={"video.codec": "av1"})) == [codec]
    # h264 High: the pixel format comes from PyAV when info.json names one
    assert stream(vids, "h264", info(info={"video.pix_fmt": "yuv444p"})) == [pix]
    assert stream(vids, "h264", info(info={"video.codec": 264, "video.pix_fmt": 420})) == []
    av1 = [(c, s, "av1.mp4", e, m.replace("h264", "av1", 1), h) for c, s, _, e, m, h in [pix]]
    assert stream(vids, "av1", info(info={"video.pix_fmt": "yuv444p"})) == av1


def test_stream_unknown_codec_or_pix_fmt_not_compared(tmp_path: Path) -> None:
    ctx = context(tmp_path, info(info={"video.codec": "av1", "video.pix_fmt": "yuv420p"}))
    video.check_stream(ctx, VK, "v.mp4", video.Probe(None, 32, 24, None, 30.0, 1, 1.0, None))
    video.check_stream(ctx, VK, "v.mp4", video.Probe("", 32, 24, "", 30.0, 1, 1.0, None))
    assert findings(ctx) == []


# --- check_episodes -----------------------------------------------------------------------------
def episodes(vids, name: str, *, quick=False, v2=False, **kw) -> list[tuple]:
    path = vids[name]
    inf = info()
    if v2:
        inf["codebase_version"] = "v2.1"
    ctx = context(path.parent, inf, quick=quick)
    eps = two_episodes(ctx, path.name, **kw)
    p = video.probe_file(ctx, VK, path.name, eps)
    assert p is not None and findings(ctx) == []
    video.check_episodes(ctx, VK, path.name, p, eps)
    return findings(ctx)


def test_episodes_clean(vids: dict[str, Path]) -> None:
    for name in ("av1", "h264", "faststart"):
        for quick in (False, True):
            assert episodes(vids, name, quick=quick) == [], (name, quick)
    for quick in (False, True):  # frames at 3/30..12/30 s, read by PyAV
        assert episodes(vids, "bframes", quick=quick, spans=BF_SPANS) == [], quick
        assert episodes(vids, "offset", quick=quick, spans=BF_SPANS) == [], quick
    # the second episode's start a hair off (half the tolerance) either way
    for d in (TOL / 2, -TOL / 2):
        assert episodes(vids, "av1", spans=[(0.0, 4 / FPS + d), (4 / FPS + d, 10 / FPS)]) == []
    assert episodes(vids, "av1", spans=[(-TOL / 2, 4 / FPS), (4 / FPS, 10 / FPS + TOL / 2)]) == []


BF_SPANS = [(3 / FPS, 7 / FPS), (7 / FPS, 13 / FPS)]


def range_finding(e: int, t0: float, t1: float, end: float, rel="av1.mp4") -> tuple:
    return (
        "video.episode_range",
        "error",
        rel,
        e,
        f"{VK}: episode {e} spans [{t0:.4f}, {t1:.4f}] s but the file holds [0, {end:.4f}] s",
        "from/to_timestamp in meta/episodes are wrong or the video is short; re-convert",
    )


def test_episodes_range(vids: dict[str, Path]) -> None:
    end = N / FPS
    for quick in (False, True):
        got = episodes(vids, "av1", quick=quick, spans=[(-2 * TOL, 4 / FPS), (4 / FPS, end)])
        assert got == [range_finding(0, -2 * TOL, 4 / FPS, end)]
        got = episodes(vids, "av1", quick=quick, spans=[(0, 4 / FPS), (4 / FPS, end + 2 * TOL)])
        assert got == [range_finding(1, 4 / FPS, end + 2 * TOL, end)]
        got = episodes(vids, "av1", quick=quick, spans=[(0.2, 0.1), (4 / FPS, end)])
        assert got == [range_finding(0, 0.2, 0.1, end)]
    # an mkv read by PyAV in quick mode: no pts, the container's duration (ms)
    got = episodes(vids, "mkv", quick=True, spans=[(0, 4 / FPS), (4 / FPS, 0.333 + TOL / 2)])
    assert got == []
    got = episodes(vids, "mkv", quick=True, spans=[(0, 4 / FPS), (4 / FPS, 0.333 + 2 * TOL)])
    assert got == [range_finding(1, 4 / FPS, 0.333 + 2 * TOL, 0.333, "v.mkv")]
    end = 13 / FPS
    for quick in (False, True):
        got = episodes(vids, "offset", quick=quick, spans=[BF_SPANS[0], (7 / FPS, end + 2 * TOL)])
        assert got == [range_finding(1, 7 / FPS, end + 2 * TOL, end, "offset.mp4")]


def count_finding(e: int, n: int, length: int, quick: bool) -> tuple:
    if quick:
        msg = f"{VK}: episode {e} spans {n} frames of video but has {length} rows"
        hint = "video and data disagree; re-encode or fix from/to_timestamp"
    else:
        msg = f"{VK}: episode {e} has {n} video frames but {length} data rows"
        hint = "video and data disagree (dropped or extra frames); re-encode the episode"
    return ("video.frame_count", "error", "av1.mp4", e, msg, hint)


def test_episodes_frame_count(vids: dict[str, Path]) -> None:
    for quick in (False, True):  # av1.mp4: frame pts from the sample table in both modes
        # the episode says 5 rows but its span holds 4 frames (and the next one 5, not 6)
        got = episodes(vids, "av1", quick=quick, lengths=(5, 5))
        assert got == [count_finding(0, 4, 5, False), count_finding(1, 6, 5, False)]
        got = episodes(vids, "av1", quick=quick, lengths=(3, 6))
        assert got == [count_finding(0, 4, 3, False)]
        spans = [(0.0, 3 / FPS), (4 / FPS, 10 / FPS)]  # a frame between the episodes
        assert episodes(vids, "av1", quick=quick, spans=spans) == [count_finding(0, 3, 4, False)]
    # quick mode on a file PyAV reads: no pts, the span's length times fps is counted
    for quick in (False, True):
        got = episodes(vids, "offset", quick=quick, lengths=(5, 5), spans=BF_SPANS)
        want = [count_finding(0, 4, 5, quick), count_finding(1, 6, 5, quick)]
        assert got == [(*w[:2], "offset.mp4", *w[3:]) for w in want]
    spans = [(3 / FPS, 6.6 / FPS), (6.6 / FPS, 13 / FPS)]  # 3.6 and 6.4 frames: rounded
    got = episodes(vids, "offset", quick=True, lengths=(4, 6), spans=spans)
    assert got == []
    got = episodes(vids, "offset", quick=True, lengths=(3, 7), spans=spans)
    want = [count_finding(0, 4, 3, True), count_finding(1, 6, 7, True)]
    assert got == [(*w[:2], "offset.mp4", *w[3:]) for w in want]
    # frames at the span's edges within the tolerance belong to it; beyond, they do not
    for d in (TOL / 2, -TOL / 2):
        assert episodes(vids, "av1", spans=[(0.0, 4 / FPS + d), (4 / FPS + d, 10 / FPS)]) == []
    got = episodes(vids, "av1", spans=[(0.0, 4 / FPS + 2 * TOL), (4 / FPS + 2 * TOL, 10 / FPS)])
    assert got == [count_finding(0, 5, 4, False), count_finding(1, 5, 6, False)]
    # 2x early: frame 4 still starts episode 1, whose lookups are then off by 2x the tolerance
    got = episodes(vids, "av1", spans=[(0.0, 4 / FPS - 2 * TOL), (4 / FPS - 2 * TOL, 10 / FPS)])
    assert [(f[0], f[3]) for f in got] == [("video.timestamp_tolerance", 1)]


def test_episodes_end_is_the_last_frame_plus_a_period(vids: dict[str, Path]) -> None:
    """The file ends one dataset frame period after its last frame (a stream at 30 fps in a
    25 fps dataset: 9/30 + 1/25 s), not at the stream's own duration."""
    inf = {**info(), "fps": 25}
    for name, n in (("av1", N), ("single", 1)):
        path = vids[name]
        end = (n - 1) / FPS + 1 / 25
        for to, bad in ((end, False), (end + 2 * TOL, True)):
            ctx = context(path.parent, inf)
            eps = [episode(0, path.name, 0.0, to, n, 0)]
            ctx.episodes, ctx.data = eps, data_columns([n])
            p = video.probe_file(ctx, VK, path.name, eps)
            video.check_episodes(ctx, VK, path.name, p, eps)
            want = [range_finding(0, 0.0, to, end, path.name)] if bad else []
            assert findings(ctx) == want, (name, to)


def test_episodes_range_edges(vids: dict[str, Path]) -> None:
    path = vids["av1"]
    end = float(read_video_index(path).pts_s[-1]) + 1.0 / FPS
    # to_timestamp exactly at the end plus the tolerance: still inside
    got = episodes(vids, "av1", spans=[(0.0, 4 / FPS), (4 / FPS, end + TOL)])
    assert got == []
    # from_timestamp exactly -tolerance: inside the file, but frame 0 is then looked up
    # exactly tolerance_s away
    got = episodes(vids, "av1", spans=[(-TOL, 4 / FPS), (4 / FPS, 10 / FPS)])
    assert [f[:4] for f in got] == [("video.timestamp_tolerance", "error", "av1.mp4", 0)]
    assert got[0][4].startswith(f"{VK}: episode 0 frame 0 is looked up at -0.000100 s; ")
    # an empty span (to == from) of an empty episode: nothing wrong
    ctx = context(path.parent)
    eps = two_episodes(ctx, path.name, lengths=(4, 6))
    eps.append(episode(2, path.name, 0.2, 0.2, 0, 10))
    p = video.probe_file(ctx, VK, path.name, eps)
    video.check_episodes(ctx, VK, path.name, p, eps)
    assert findings(ctx) == []
    # a range finding does not stop the next episode's checks
    got = episodes(vids, "av1", lengths=(4, 5), spans=[(0.2, 0.1), (4 / FPS, 10 / FPS)])
    assert got == [range_finding(0, 0.2, 0.1, N / FPS), count_finding(1, 6, 5, False)]


def test_episodes_no_frames_or_no_rate(tmp_path: Path) -> None:
    """Degenerate streams: no frame at all (an empty episode checks out, one with rows does
    not), and no frame rate anywhere (the file ends at its last frame)."""
    ctx = context(tmp_path)
    eps = [episode(0, "v.mp4", 0.0, 0.0, 0, 0), episode(1, "v.mp4", 0.0, 0.2, 3, 0)]
    ctx.data = data_columns([3])
    empty = video.Probe("h264", 32, 24, None, 30.0, 0, 0.25, np.zeros(0))
    video.check_episodes(ctx, VK, "v.mp4", empty, eps)
    assert findings(ctx) == [
        (
            "video.frame_count",
            "error",
            "v.mp4",
            1,
            f"{VK}: episode 1 has 0 video frames but 3 data rows",
            "video and data disagree (dropped or extra frames); re-encode the episode",
        )
    ]
    ctx = context(tmp_path, {**info(), "fps": None})
    still = video.Probe("h264", 32, 24, None, 0.0, 3, 0.3, np.array([0.0, 0.1, 0.2]))
    eps = [episode(0, "v.mp4", 0.0, 0.2, 2, 0), episode(1, "v.mp4", 0.0, 0.2 + 2 * TOL, 3, 0)]
    ctx.data = DataColumns(*[np.array([0.0, 0.1, 0.2])] * 5, [("d", 0, 3)])
    video.check_episodes(ctx, VK, "v.mp4", still, eps)
    assert [f[:4] for f in findings(ctx)] == [("video.episode_range", "error", "v.mp4", 1)]
    assert findings(ctx)[0][4].endswith("but the file holds [0, 0.2000] s")


def test_episodes_frame_count_quick_without_fps(vids: dict[str, Path]) -> None:
    """No dataset fps: the stream's rate counts the span; no rate at all: not counted."""
    path = vids["mkv"]
    inf = {**info(), "fps": None}
    ctx = context(path.parent, inf, quick=True)
    eps = two_episodes(ctx, path.name, lengths=(5, 6), spans=[(0, 4 / FPS), (4 / FPS, 0.333)])
    p = video.probe_file(ctx, VK, path.name, eps)
    video.check_episodes(ctx, VK, path.name, p, eps)
    assert [f[:4] for f in findings(ctx)] == [("video.frame_count", "error", path.name, 0)]
    ctx = context(path.parent, inf, quick=True)
    p.fps = 0.0
    video.check_episodes(ctx, VK, path.name, p, eps)
    assert findings(ctx) == []


def test_episodes_v21_file_is_the_episode(vids: dict[str, Path]) -> None:
    """v2.x: one file per episode, every frame of it counts (from/to are not stored)."""
    got = episodes(vids, "av1", v2=True, lengths=(10, 10), spans=[(0, 4 / FPS), (0, 10 / FPS)])
    assert got == []
    got = episodes(vids, "av1", v2=True)  # 4 and 6 rows, 10 frames each
    assert got == [count_finding(0, 10, 4, False), count_finding(1, 10, 6, False)]


def tol_finding(e: int, r: int, query: float, dist: float, count: int, rel="av1.mp4") -> tuple:
    return (
        "video.timestamp_tolerance",
        "error",
        rel,
        e,
        f"{VK}: episode {e} frame {r} is looked up at {query:.6f} s; the nearest video frame is "
        f"{dist:.2e} s away (> tolerance_s {TOL}); {count} frame(s) affected",
        "LeRobot raises FrameTimestampError here; fix the timestamps or from_timestamp",
    )


def tolerance(vids, name: str, shift: dict[int, float], **kw) -> list[tuple]:
    return episodes(vids, name, shift=shift, **kw)


def test_timestamp_tolerance(vids: dict[str, Path]) -> None:
    ts = (np.arange(4) / FPS).astype(np.float32)
    # episode 0 row 2: 2x the tolerance late / early
    for name, spans in (("av1", None), ("bframes", BF_SPANS)):
        assert tolerance(vids, name, {2: TOL / 2}, spans=spans) == [], name
        assert tolerance(vids, name, {2: -TOL / 2}, spans=spans) == [], name
        got = tolerance(vids, name, {2: 2 * TOL}, spans=spans)
        assert [f[:4] for f in got] == [("video.timestamp_tolerance", "error", f"{name}.mp4", 0)]
    for d in (2 * TOL, -2 * TOL):
        q = float(np.float32(ts[2] + d))
        got = tolerance(vids, "av1", {2: d})
        assert got == [tol_finding(0, 2, q, abs(q - 2 / FPS), 1)]
    # episode 1 (rows 4..9, from_timestamp 4/30): its rows 0 and 5, the first one named
    q0 = float(np.float32(2 * TOL)) + 4 / FPS
    got = tolerance(vids, "av1", {4: 2 * TOL, 9: -3 * TOL})
    assert got == [tol_finding(1, 0, q0, abs(q0 - 4 / FPS), 2)]
    # the last frame and past it: nearest is the last frame
    got = tolerance(vids, "av1", {9: 0.5})
    q = float(np.float32(5 / FPS + 0.5)) + 4 / FPS
    assert got == [tol_finding(1, 5, q, q - 9 / FPS, 1)]
    # before the first frame (episode 0 row 0 at -2 tol): nearest is frame 0
    got = tolerance(vids, "av1", {0: -2 * TOL})
    q = float(np.float32(-2 * TOL))
    assert got == [tol_finding(0, 0, q, -q, 1)]


def test_timestamp_tolerance_two_and_late_frames(vids: dict[str, Path]) -> None:
    for name, t0, n in (("two", 0.0, 2), ("single_late", 3 / FPS, 1)):
        path = vids[name]
        for d, bad in ((TOL / 2, False), (2 * TOL, True)):
            ctx = context(path.parent)
            eps = [episode(0, path.name, t0, t0 + n / FPS, n, 0)]
            ctx.episodes, ctx.data = eps, data_columns([n], {n - 1: d})
            p = video.probe_file(ctx, VK, path.name, eps)
            video.check_episodes(ctx, VK, path.name, p, eps)
            q = float(np.float32((n - 1) / FPS + d)) + t0
            want = [tol_finding(0, n - 1, q, abs(q - t0 - (n - 1) / FPS), 1, path.name)]
            assert findings(ctx) == (want if bad else []), (name, d)


def test_timestamp_tolerance_is_strict(vids: dict[str, Path]) -> None:
    """A frame exactly tolerance_s away is too far (LeRobot: ``min_ < tolerance_s``)."""
    path = vids["single"]
    ctx = context(path.parent)
    eps = [episode(0, path.name, TOL, 1 / FPS + TOL, 1, 0)]
    ctx.episodes, ctx.data = eps, data_columns([1])
    p = video.probe_file(ctx, VK, path.name, eps)
    video.check_episodes(ctx, VK, path.name, p, eps)
    assert findings(ctx) == [tol_finding(0, 0, TOL, TOL, 1, path.name)]


def test_timestamp_tolerance_one_frame(vids: dict[str, Path]) -> None:
    path = vids["single"]
    for d, bad in ((TOL / 2, False), (-TOL / 2, False), (2 * TOL, True), (-2 * TOL, True)):
        ctx = context(path.parent)
        eps = [episode(0, path.name, 0.0, 1 / FPS, 1, 0)]
        ctx.episodes = eps
        ctx.data = data_columns([1], {0: d})
        p = video.probe_file(ctx, VK, path.name, eps)
        video.check_episodes(ctx, VK, path.name, p, eps)
        q = float(np.float32(d))
        assert findings(ctx) == ([tol_finding(0, 0, q, abs(q), 1, path.name)] if bad else []), d


def test_timestamp_tolerance_skipped(vids: dict[str, Path]) -> None:
    """No row data, an unreadable data file, rows outside the data or not the episode's
    length: the lookup cannot be replayed, nothing is said (other groups report those)."""
    path = vids["av1"]

    def check(mod) -> list[tuple]:
        ctx = context(path.parent)
        eps = two_episodes(ctx, path.name, shift={1: 3 * TOL, 5: 3 * TOL})
        mod(ctx, eps)
        p = video.probe_file(ctx, VK, path.name, eps)
        video.check_episodes(ctx, VK, path.name, p, eps)
        return [(f[0], f[3]) for f in findings(ctx)]

    both = [("video.timestamp_tolerance", 0), ("video.timestamp_tolerance", 1)]
    assert check(lambda ctx, eps: None) == both
    assert check(lambda ctx, eps: setattr(ctx, "data", None)) == []
    assert check(lambda ctx, eps: ctx.unreadable_data.add(eps[0].data_path)) == both[1:]

    def shift_rows(a: int, b: int):
        def mod(ctx, eps):
            eps[0].from_index, eps[0].to_index = a, b

        return mod

    assert check(shift_rows(-1, 3)) == both[1:]
    assert check(shift_rows(0, 3)) == both[1:]  # 3 rows, length 4
    assert check(shift_rows(1, 5)) == both  # rows 1..4: row 1 is the bad one
    assert check(shift_rows(6, 10)) == both[1:]  # 4 rows in the data, all fine at from 0
    assert check(shift_rows(7, 11)) == both[1:]  # past the 10 rows
    assert check(shift_rows(4, 3)) == both[1:]


# --- run ----------------------------------------------------------------------------------------
def dataset(vids, names: list[str], inf=None, **kw) -> Context:
    root = vids["av1"].parent
    ctx = context(root, inf, **kw)
    eps, a = [], 0
    for e, name in enumerate(names):
        eps.append(episode(e, vids[name].name, 0.0, N / FPS, N, a))
        a += N
    ctx.episodes = eps
    ctx.data = data_columns([N] * len(names))
    return ctx


def test_run(vids: dict[str, Path]) -> None:
    ctx = dataset(vids, ["h264"], info(info={"video.pix_fmt": "yuv444p"}))
    video.run(ctx)  # the pixel format is looked up for the camera's own info
    assert findings(ctx) == [
        (
            "video.pix_fmt_mismatch",
            "warning",
            "h264.mp4",
            None,
            f"{VK}: stream pixel format is yuv420p but info says yuv444p",
            "fix video.pix_fmt in meta/info.json or re-encode",
        )
    ]
    ctx = dataset(vids, ["av1", "h264", "faststart"])
    ctx.data.timestamp[N + 3] += 3 * TOL  # episode 1 (h264.mp4), row 3
    ctx.episodes[2].length = 9
    video.run(ctx)
    assert [f[:4] for f in findings(ctx)] == [
        ("video.frame_count", "error", "fast.mp4", 2),
        ("video.timestamp_tolerance", "error", "h264.mp4", 1),
    ]  # files in path order
    # no video feature: nothing is opened
    ctx = dataset(vids, ["garbage", "audio"], {**info(), "features": {}})
    video.run(ctx)
    assert findings(ctx) == []
    # a missing file (reported by the structure group) is skipped
    ctx = dataset(vids, ["garbage", "av1"])
    ctx.episodes[0].videos[VK].path = "missing.mp4"
    ctx.missing_files.add("missing.mp4")
    video.run(ctx)
    assert findings(ctx) == []
    # unreadable and truncated files: reported, then skipped; the other camera checked
    ctx = dataset(vids, ["garbage", "cut_fast", "av1", "av1"])
    ctx.info["fps"] = 25
    video.run(ctx)
    assert findings(ctx)[0] == fps_finding(30, 25)
    assert [f[:4] for f in findings(ctx)] == [
        ("video.fps_mismatch", "error", "av1.mp4", None),
        ("video.truncated", "error", "cut_fast.mp4", 1),
        ("video.unreadable", "error", "garbage.mp4", 0),
    ]


def test_run_shares_a_file_between_episodes(vids: dict[str, Path]) -> None:
    ctx = context(vids["av1"].parent)
    two_episodes(ctx, "av1.mp4", lengths=(4, 5))
    video.run(ctx)
    assert [f[:4] for f in findings(ctx)] == [("video.frame_count", "error", "av1.mp4", 1)]


def test_run_progress_bar(vids: dict[str, Path], tmp_path: Path, capsys, monkeypatch) -> None:
    """More than 20 files and ctx.progress: a tqdm bar on stderr; otherwise silent."""
    import threading

    import tqdm

    # tqdm's class-wide lock is a multiprocessing semaphore, shared by every process forked
    # after its creation: a process killed while holding it (mutation testing forks a child
    # per mutant, and kills the ones that time out) would block all later ones. A lock and
    # no monitor thread of this process's own.
    monkeypatch.setattr(tqdm.tqdm, "_lock", threading.RLock(), raising=False)
    monkeypatch.setattr(tqdm.tqdm, "monitor_interval", 0)
    for i in range(21):
        (tmp_path / f"v{i:02d}.mp4").write_bytes(vids["av1"].read_bytes())

    def go(files: int, progress: bool) -> str:
        ctx = context(tmp_path)
        ctx.progress = progress
        ctx.episodes = [episode(i, f"v{i:02d}.mp4", 0.0, N / FPS, N, N * i) for i in range(files)]
        ctx.data = data_columns([N] * files)
        video.run(ctx)
        assert findings(ctx) == []
        return capsys.readouterr().err

    assert go(20, True) == ""
    assert go(21, False) == ""
    err = go(21, True)
    assert err.startswith("\rvideo:   0%|") and "| 0/21 [" in err and "file/s]" in err, err
    assert err.endswith("\r"), repr(err[-80:])  # leave=False: the bar is cleared at the end


# --- LeRobot's decoder agrees with the tolerance check --------------------------------------
LEROBOT_DECODE = """
import json, sys
from lerobot.datasets.video_utils import FrameTimestampError, decode_video_frames_pyav
out = []
for path, ts in json.loads(sys.argv[1]):
    try:
        decode_video_frames_pyav(path, ts, 1e-4)
        out.append(True)
    except FrameTimestampError:
        out.append(False)
print(json.dumps(out))
"""


@pytest.mark.slow
def test_lerobot_decoder_agrees(vids: dict[str, Path]) -> None:
    import json
    import subprocess

    cases, mine = [], []
    for name, spans in (("av1", None), ("bframes", BF_SPANS)):
        t0 = spans[0][0] if spans else 0.0
        for d in (TOL / 2, -TOL / 2, 2 * TOL, -2 * TOL, 0.0):
            ts = (np.arange(4) / FPS).astype(np.float32)  # episode 0's rows, row 3 shifted
            ts[3] = np.float32(ts[3] + d)
            cases.append((str(vids[name]), [float(t) + t0 for t in ts]))  # LeRobot's query
            mine.append(tolerance(vids, name, {3: d}, spans=spans) == [])
    # a frame exactly tolerance_s away (test_timestamp_tolerance_is_strict): too far for both
    cases.append((str(vids["single"]), [TOL]))
    mine.append(False)
    res = subprocess.run(
        [env_python("act"), "-c", LEROBOT_DECODE, json.dumps(cases)],
        capture_output=True,
        text=True,
        env=run_env(),
        check=True,
        timeout=300,
    )
    assert json.loads(res.stdout.strip().splitlines()[-1]) == mine
    assert mine == [True, True, False, False, True] * 2 + [False]
