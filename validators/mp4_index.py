"""Frame timestamps of an MP4's video track, read from its sample tables (no demuxing).

Why: demuxing with PyAV costs ~35 us per packet in Python (0.9 s for 80 short files here),
while the ``moov`` box already lists every sample: durations (``stts``), composition offsets
(``ctts``), the edit-list shift (``elst``), sizes (``stsz``) and file offsets
(``stco``/``co64`` + ``stsc``). From those we get the presentation timestamps PyAV would
report and whether every sample's bytes are inside the file (truncation). Anything unusual
(fragmented MP4, empty edits, several edits) returns None and the caller demuxes instead.
Held to PyAV's demuxer (timestamps, codec, size, rate) on the real fixture and PyAV-muxed files
by ``tests/validate/test_validate_video_fast.py::test_sample_table_agrees_with_pyav_demux``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class TrackIndex:
    """The video track's sample table."""

    pts_s: np.ndarray  # sorted presentation timestamps in seconds
    timescale: int
    samples: int
    data_end: int  # largest byte offset any sample reaches
    file_size: int
    codec: str | None = None  # PyAV/FFmpeg canonical name (av1, hevc, h264, ...)
    width: int = 0
    height: int = 0
    pix_fmt: str | None = None  # None when the codec config does not say
    fps: float = 0.0  # timescale / the most common frame duration (what PyAV calls base_rate)
    # per sample, in file (decode) order: presentation time (s), byte offset, size, keyframe
    sample_pts_s: np.ndarray | None = None
    offsets: np.ndarray | None = None
    sizes: np.ndarray | None = None
    sync: np.ndarray | None = None
    config: bytes | None = None  # the codec configuration box's body: FFmpeg's extradata


CODECS = {b"av01": "av1", b"hvc1": "hevc", b"hev1": "hevc", b"avc1": "h264", b"avc3": "h264",
          b"vp09": "vp9", b"mp4v": "mpeg4"}  # fmt: skip
_CHROMA = {0: "gray", 1: "yuv420p", 2: "yuv422p", 3: "yuv444p"}


def _pix_fmt(chroma: int, bits: int) -> str | None:
    """FFmpeg pixel format name for a chroma format (0 mono .. 3 4:4:4) and bit depth."""
    base = _CHROMA.get(chroma)
    if base is None or bits not in (8, 10, 12):
        return None
    return base if bits == 8 else f"{base}{bits}le"


def _sample_entry(buf: bytes, stsd: tuple[int, int]) -> tuple[str | None, int, int, str | None]:
    """(codec, width, height, pix_fmt) from the first visual sample entry of ``stsd``."""
    _, p = _full(buf, stsd[0])
    entry = next(_boxes(buf, p + 4, stsd[1]), None)
    if entry is None:
        return None, 0, 0, None
    kind, a, b = entry
    width, height = struct.unpack_from(">HH", buf, a + 24)
    pix = None
    config = a + 78  # VisualSampleEntry fields end here; codec config boxes follow
    if kind == b"av01":
        av1c = _child(buf, config, b, b"av1C")
        if av1c is not None:
            flags = buf[av1c[0] + 2]
            high, twelve, mono = flags >> 6 & 1, flags >> 5 & 1, flags >> 4 & 1
            ss_x, ss_y = flags >> 3 & 1, flags >> 2 & 1
            bits = 12 if twelve else 10 if high else 8
            chroma = 0 if mono else {(1, 1): 1, (1, 0): 2, (0, 0): 3}.get((ss_x, ss_y), -1)
            pix = _pix_fmt(chroma, bits)
    elif kind in (b"hvc1", b"hev1"):
        hvcc = _child(buf, config, b, b"hvcC")
        if hvcc is not None:
            q = hvcc[0]
            pix = _pix_fmt(buf[q + 16] & 3, (buf[q + 17] & 7) + 8)
    elif kind in (b"avc1", b"avc3"):
        avcc = _child(buf, config, b, b"avcC")
        if avcc is not None and buf[avcc[0] + 1] not in (100, 110, 122, 244):
            pix = "yuv420p"  # baseline/main/extended profiles are 8-bit 4:2:0
    return CODECS.get(kind), int(width), int(height), pix


def _codec_config(buf: bytes, stsd: tuple[int, int]) -> bytes | None:
    """The body of the sample entry's av1C/avcC/hvcC/vpcC box (what FFmpeg's MP4 demuxer
    hands the decoder as extradata), so a keyframe can be decoded without opening a demuxer."""
    _, p = _full(buf, stsd[0])
    entry = next(_boxes(buf, p + 4, stsd[1]), None)
    if entry is None:
        return None
    _, a, b = entry
    for kind, ca, cb in _boxes(buf, a + 78, b):
        if kind in (b"av1C", b"avcC", b"hvcC", b"vpcC"):
            return bytes(buf[ca:cb])
    return None


def _boxes(buf: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, body start, body end) of each box in buf[start:end]."""
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", buf, pos)
        header = 8
        if size == 1:
            if pos + 16 > end:
                return
            size = struct.unpack_from(">Q", buf, pos + 8)[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            return
        yield kind, pos + header, pos + size
        pos += size


def _child(buf: bytes, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    for k, a, b in _boxes(buf, start, end):
        if k == kind:
            return a, b
    return None


def _read_moov(path: Path) -> bytes | None:
    size_total = path.stat().st_size
    with path.open("rb") as fh:
        pos = 0
        while pos + 8 <= size_total:
            fh.seek(pos)
            head = fh.read(16)
            if len(head) < 8:
                return None
            size, kind = struct.unpack(">I4s", head[:8])
            if size == 1:
                size = struct.unpack(">Q", head[8:16])[0]
            elif size == 0:
                size = size_total - pos
            if size < 8:
                return None
            if kind == b"moov":
                if pos + size > size_total:
                    return None
                fh.seek(pos)
                return fh.read(size)
            pos += size
    return None


def _full(buf: bytes, a: int) -> tuple[int, int]:
    """(version, first byte after version+flags) of a full box."""
    return buf[a], a + 4


def read_video_index(path: Path) -> TrackIndex | None:
    """The first video track's timestamps, or None when this fast path does not apply."""
    try:
        moov = _read_moov(path)
        if moov is None:
            return None
        return _parse(moov, path.stat().st_size)
    except (struct.error, IndexError, ValueError):
        return None


def _parse(buf: bytes, file_size: int) -> TrackIndex | None:
    if _child(buf, 8, len(buf), b"mvex") is not None:
        return None  # fragmented MP4: samples live in moof boxes
    for kind, ta, tb in _boxes(buf, 8, len(buf)):
        if kind != b"trak":
            continue
        mdia = _child(buf, ta, tb, b"mdia")
        if mdia is None:
            continue
        hdlr = _child(buf, *mdia, b"hdlr")
        if hdlr is None or buf[hdlr[0] + 8 : hdlr[0] + 12] != b"vide":
            continue
        return _parse_track(buf, ta, tb, mdia, file_size)
    return None


def _parse_track(
    buf: bytes, ta: int, tb: int, mdia: tuple[int, int], file_size: int
) -> TrackIndex | None:
    mdhd = _child(buf, *mdia, b"mdhd")
    if mdhd is None:
        return None
    version, p = _full(buf, mdhd[0])
    timescale = struct.unpack_from(">I", buf, p + (16 if version == 1 else 8))[0]
    if not timescale:
        return None
    shift = 0
    edts = _child(buf, ta, tb, b"edts")
    if edts is not None:
        elst = _child(buf, *edts, b"elst")
        if elst is not None:
            version, p = _full(buf, elst[0])
            count = struct.unpack_from(">I", buf, p)[0]
            if count != 1:
                return None  # empty or multiple edits: let PyAV interpret them
            fmt_ = ">qq" if version == 1 else ">ii"
            _, media_time = struct.unpack_from(fmt_, buf, p + 4)
            if media_time < 0:
                return None
            shift = media_time
    minf = _child(buf, *mdia, b"minf")
    stbl = _child(buf, *minf, b"stbl") if minf else None
    if stbl is None:
        return None
    stts = _child(buf, *stbl, b"stts")
    stsz = _child(buf, *stbl, b"stsz")
    stsc = _child(buf, *stbl, b"stsc")
    stco = _child(buf, *stbl, b"stco")
    co64 = _child(buf, *stbl, b"co64")
    if stts is None or stsz is None or stsc is None or (stco is None and co64 is None):
        return None

    _, p = _full(buf, stts[0])
    n = struct.unpack_from(">I", buf, p)[0]
    tab = np.frombuffer(buf, dtype=">u4", count=2 * n, offset=p + 4).reshape(n, 2).astype(np.int64)
    deltas = np.repeat(tab[:, 1], tab[:, 0])
    samples = len(deltas)
    dts = np.concatenate(([0], np.cumsum(deltas)[:-1])) if samples else np.zeros(0, np.int64)
    pts = dts.copy()
    ctts = _child(buf, *stbl, b"ctts")
    if ctts is not None:
        version, p = _full(buf, ctts[0])
        n = struct.unpack_from(">I", buf, p)[0]
        dt = ">i4" if version == 1 else ">u4"
        raw = np.frombuffer(buf, dtype=dt, count=2 * n, offset=p + 4).reshape(n, 2)
        offsets = np.repeat(raw[:, 1].astype(np.int64), raw[:, 0].astype(np.int64))
        if len(offsets) != samples:
            return None
        pts = pts + offsets
    pts = pts - shift

    _, p = _full(buf, stsz[0])
    sample_size, count = struct.unpack_from(">II", buf, p)
    if count != samples:
        return None
    if sample_size:
        sizes = np.full(count, sample_size, dtype=np.int64)
    else:
        sizes = np.frombuffer(buf, dtype=">u4", count=count, offset=p + 8).astype(np.int64)
    if co64 is not None:
        _, p = _full(buf, co64[0])
        n = struct.unpack_from(">I", buf, p)[0]
        chunk_off = np.frombuffer(buf, dtype=">u8", count=n, offset=p + 4).astype(np.int64)
    else:
        _, p = _full(buf, stco[0])
        n = struct.unpack_from(">I", buf, p)[0]
        chunk_off = np.frombuffer(buf, dtype=">u4", count=n, offset=p + 4).astype(np.int64)
    _, p = _full(buf, stsc[0])
    n = struct.unpack_from(">I", buf, p)[0]
    sc = np.frombuffer(buf, dtype=">u4", count=3 * n, offset=p + 4).reshape(n, 3).astype(np.int64)
    data_end = _data_end(chunk_off, sc, sizes)
    if data_end is None:
        return None
    sync = np.ones(samples, dtype=bool)  # no stss box: every sample is a sync sample
    stss = _child(buf, *stbl, b"stss")
    if stss is not None:
        _, p = _full(buf, stss[0])
        n = struct.unpack_from(">I", buf, p)[0]
        numbers = np.frombuffer(buf, dtype=">u4", count=n, offset=p + 4).astype(np.int64)
        sync[:] = False
        sync[numbers[(numbers >= 1) & (numbers <= samples)] - 1] = True
    stsd = _child(buf, *stbl, b"stsd")
    codec, width, height, pix = _sample_entry(buf, stsd) if stsd else (None, 0, 0, None)
    config = _codec_config(buf, stsd) if stsd else None
    fps = 0.0
    if len(deltas):
        values, counts = np.unique(deltas, return_counts=True)
        common = int(values[np.argmax(counts)])
        fps = timescale / common if common else 0.0
    return TrackIndex(
        np.sort(pts / timescale), timescale, samples, data_end, file_size,
        codec, width, height, pix, fps,
        pts / timescale, _sample_offsets(chunk_off, sc, sizes), sizes, sync, config,
    )  # fmt: skip


def _chunk_counts(n_chunks: int, sc: np.ndarray) -> np.ndarray:
    """Samples in each chunk, from the sample-to-chunk runs."""
    first = sc[:, 0] - 1
    per = sc[:, 1]
    counts = np.zeros(n_chunks, dtype=np.int64)
    for i in range(len(first)):
        stop = first[i + 1] if i + 1 < len(first) else n_chunks
        counts[first[i] : stop] = per[i]
    return counts


def _sample_offsets(chunk_off: np.ndarray, sc: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Each sample's byte offset: its chunk's offset plus the sizes before it in the chunk
    (``_data_end`` already checked that the chunks hold exactly ``len(sizes)`` samples)."""
    counts = _chunk_counts(len(chunk_off), sc)
    chunk = np.repeat(np.arange(len(chunk_off)), counts)
    ends = np.cumsum(sizes)
    first = np.cumsum(counts) - counts  # index of each chunk's first sample
    before = ends - sizes  # bytes of all samples before this one
    return chunk_off[chunk] + before - before[first[chunk]]


def _data_end(chunk_off: np.ndarray, sc: np.ndarray, sizes: np.ndarray) -> int | None:
    """Largest byte any sample reaches: walk chunks with their samples-per-chunk."""
    n_chunks = len(chunk_off)
    if n_chunks == 0:
        return 0 if len(sizes) == 0 else None
    counts = _chunk_counts(n_chunks, sc)
    if counts.sum() != len(sizes):
        return None
    ends = np.cumsum(sizes)
    last_idx = np.cumsum(counts) - 1
    starts_idx = last_idx - counts + 1
    # bytes of each chunk = sum of its samples' sizes
    chunk_bytes = ends[last_idx] - np.where(starts_idx > 0, ends[starts_idx - 1], 0)
    chunk_bytes = np.where(counts > 0, chunk_bytes, 0)
    return int((chunk_off + chunk_bytes).max())
