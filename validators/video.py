"""Video group: each mp4 opens; codec, size, pixel format and fps agree with ``features``;
every episode's ``[from_timestamp, to_timestamp)`` lies within its file and holds the
episode's frames; each parquet timestamp finds a video frame within ``tolerance_s`` (the
lookup LeRobot does at training time).

Quick and standard mode read frame timestamps from the MP4 sample tables (validators.mp4_index;
PyAV demuxing is the fallback for files that table reader does not handle); deep mode decodes
every frame with PyAV and checks the decoded timestamps instead.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from validators import dataset_format as fmt
from validators import dav1d
from validators.context import Context, EpisodeMeta
from validators.mp4_index import read_video_index


@dataclass
class Probe:
    """What one video file holds."""

    codec: str | None
    width: int
    height: int
    pix_fmt: str | None
    fps: float
    header_frames: int
    duration_s: float  # where the last frame ends (its pts + one frame period)
    pts_s: np.ndarray | None  # sorted frame timestamps (standard/deep), None in quick mode


def run(ctx: Context) -> None:
    if not ctx.video_keys:
        return
    users: dict[tuple[str, str], list[EpisodeMeta]] = defaultdict(list)
    for ep in ctx.episodes:
        for vk, ref in ep.videos.items():
            if ref.path not in ctx.missing_files:
                users[(vk, ref.path)].append(ep)
    items = sorted(users.items())
    if getattr(ctx, "progress", False) and len(items) > 20:
        from tqdm import tqdm

        items = tqdm(items, desc="video", unit="file", leave=False)
    for (vk, rel), eps in items:
        probe = probe_file(ctx, vk, rel, eps)
        if probe is None:
            continue
        check_stream(ctx, vk, rel, probe)
        check_episodes(ctx, vk, rel, probe, eps)


@cache
def _av() -> Any:
    """PyAV, imported on first need (~0.1-0.3 s): deep mode, or a file the MP4 reader
    cannot index, or an H.264 file whose pixel format must be compared."""
    import av

    with contextlib.suppress(Exception):  # a PyAV without this knob: noise only
        av.logging.set_level(None)
    return av


def mp4_truncation(path: Any) -> str | None:
    """Walk the top-level MP4 boxes; a box that runs past the end of the file means the file
    was cut short (an interrupted copy). Reads a few bytes per box, never the media data."""
    import struct

    size_total = path.stat().st_size
    offset = 0
    with path.open("rb") as fh:
        while offset + 8 <= size_total:
            fh.seek(offset)
            head = fh.read(16)
            size, kind = struct.unpack(">I4s", head[:8])
            if size == 1 and len(head) >= 16:
                size = struct.unpack(">Q", head[8:16])[0]
            elif size == 0:  # box runs to the end of the file
                return None
            if size < 8:
                return f"box at byte {offset} has an invalid size {size}"
            if offset + size > size_total:
                name = kind.decode("latin-1")
                return (
                    f"box {name!r} at byte {offset} needs {size} bytes but the file ends "
                    f"{offset + size - size_total} bytes early"
                )
            offset += size
    return None


def probe_file(ctx: Context, vk: str, rel: str, eps: list[EpisodeMeta]) -> Probe | None:
    path = ctx.root / rel
    first_ep = eps[0].episode_index if eps else None
    cut = mp4_truncation(path) if path.suffix == ".mp4" else None
    if cut is not None:
        ctx.add(
            "video.truncated",
            "error",
            f"the file is cut short: {cut}",
            "the file was cut short (interrupted copy or upload); copy it again from the source",
            file=rel,
            episode=first_ep,
        )
        return None
    if not ctx.deep:
        index = read_video_index(path)  # the sample table: exact pts without demuxing
        if index is not None:
            ctx.video_index[rel] = index  # behaviour.frozen_camera reads keyframes from it
        if index is not None and index.codec and index.width:
            if index.data_end > index.file_size:
                ctx.add(
                    "video.truncated",
                    "error",
                    f"samples reach byte {index.data_end} but the file has {index.file_size} bytes",
                    "the file was cut short (interrupted copy or upload); copy it again",
                    file=rel,
                    episode=first_ep,
                )
                return None
            pix = index.pix_fmt
            info = ctx.features.get(vk, {}).get("info") or {}
            if pix is None and "video.pix_fmt" in info:
                pix = _av_pix_fmt(path)
            period = 1.0 / index.fps if index.fps else 0.0
            return Probe(
                codec=index.codec,
                width=index.width,
                height=index.height,
                pix_fmt=pix,
                fps=index.fps,
                header_frames=index.samples,
                duration_s=float(index.pts_s[-1]) + period if index.samples else 0.0,
                pts_s=index.pts_s,
            )
    av = _av()
    try:
        container = av.open(str(path))
    except Exception as exc:
        ctx.add(
            "video.unreadable",
            "error",
            f"cannot open: {exc}",
            "the mp4 is truncated or corrupt; re-encode it from the source frames",
            file=rel,
            episode=first_ep,
        )
        return None
    with container:
        if not container.streams.video:
            ctx.add(
                "video.unreadable",
                "error",
                "no video stream in the file",
                "re-encode the episode's frames",
                file=rel,
                episode=first_ep,
            )
            return None
        s = container.streams.video[0]
        if s.codec_context is None:  # a damaged sample description, or no decoder for it
            ctx.add(
                "video.unreadable",
                "error",
                "the video stream has no codec FFmpeg can decode (damaged sample description?)",
                "the mp4 is corrupt; re-encode it from the source frames",
                file=rel,
                episode=first_ep,
            )
            return None
        codec = getattr(getattr(s, "codec", None), "canonical_name", None) or s.codec_context.name
        rate = s.base_rate or s.average_rate or s.guessed_rate
        tb = float(s.time_base) if s.time_base else 0.0
        # where the last frame ends: pts keep the stream's start offset (an empty edit before
        # the first frame), as LeRobot compares them, so the duration counts from start_time
        start = s.start_time or 0
        duration = (
            float((start + s.duration) * tb) if s.duration else float(container.duration or 0) / 1e6
        )
        probe = Probe(
            codec=codec,
            width=int(s.codec_context.width or s.width or 0),
            height=int(s.codec_context.height or s.height or 0),
            pix_fmt=s.pix_fmt,
            fps=float(rate) if rate else 0.0,
            header_frames=int(s.frames or 0),
            duration_s=duration,
            pts_s=None,
        )
        if ctx.quick:
            return probe
        pts: list[int] = []
        failure: Exception | None = None
        try:
            if ctx.deep:
                for frame in container.decode(s):
                    if frame.pts is not None:
                        pts.append(frame.pts)
            else:
                for packet in container.demux(s):
                    if packet.pts is not None and packet.size:
                        pts.append(packet.pts)
        except Exception as exc:  # corrupt or cut-short stream
            failure = exc
        # LeRobot compares frame.pts * time_base with from_timestamp + timestamp (no offset).
        probe.pts_s = np.sort(np.asarray(pts, dtype=np.float64) * tb)
        short = bool(probe.header_frames) and len(pts) < probe.header_frames
        if ctx.deep and (failure is not None or short):
            ctx.add(
                "video.decode_error",
                "error",
                f"decoded {len(pts)} of {probe.header_frames or '?'} frames"
                + (f": {failure}" if failure else ""),
                "the media data is corrupt; re-encode the video from the source frames",
                file=rel,
                episode=first_ep,
            )
            return None
        if short:
            ctx.add(
                "video.truncated",
                "error",
                f"the header announces {probe.header_frames} frames but only {len(pts)} are "
                "present" + (f" ({failure})" if failure else ""),
                "the file was cut short (interrupted copy or upload); copy it again",
                file=rel,
                episode=first_ep,
            )
            return None
        if failure is not None:
            ctx.add(
                "video.unreadable",
                "error",
                f"reading packets failed after {len(pts)} frames: {failure}",
                "the mp4 is corrupt; re-encode it from the source frames",
                file=rel,
                episode=first_ep,
            )
            return None
        return probe


def _av_pix_fmt(path: Any) -> str | None:
    try:
        with _av().open(str(path)) as container:
            return container.streams.video[0].pix_fmt
    except Exception:
        return None  # unreadable: the fallback path reports it


def _expected_hw(ft: dict[str, Any]) -> tuple[int, int] | None:
    shape = list(ft.get("shape") or [])
    names = ft.get("names")
    if len(shape) != 3:
        return None
    if isinstance(names, list) and "height" in names and "width" in names:
        return int(shape[names.index("height")]), int(shape[names.index("width")])
    if shape[0] in (1, 3, 4) and shape[2] not in (1, 3, 4):
        return int(shape[1]), int(shape[2])  # channels first
    return int(shape[0]), int(shape[1])


def check_stream(ctx: Context, vk: str, rel: str, p: Probe) -> None:
    ft = ctx.features.get(vk, {})
    info = ft.get("info") or ft.get("video_info") or {}
    hw = _expected_hw(ft)
    if hw is not None and (p.height, p.width) != hw:
        ctx.add(
            "video.size_mismatch",
            "error",
            f"{vk}: frames are {p.width}x{p.height} (WxH) but features say {hw[1]}x{hw[0]}",
            "re-encode at the declared size or fix features[...]['shape'] in meta/info.json",
            file=rel,
        )
    ih, iw = info.get("video.height"), info.get("video.width")
    if isinstance(ih, int) and isinstance(iw, int) and (ih, iw) != (p.height, p.width):
        ctx.add(
            "video.size_mismatch",
            "error",
            f"{vk}: frames are {p.width}x{p.height} but info says {iw}x{ih}",
            "fix video.width/video.height in meta/info.json",
            file=rel,
        )
    fps_decl = [ctx.fps]
    if isinstance(info.get("video.fps"), (int, float)):
        fps_decl.append(float(info["video.fps"]))
    for want in fps_decl:
        if want and abs(p.fps - want) > 0.01:
            ctx.add(
                "video.fps_mismatch",
                "error",
                f"{vk}: the stream runs at {p.fps:g} fps but the dataset declares {want:g}",
                "frames would not sit at frame_index / fps; re-encode at the dataset fps",
                file=rel,
            )
            break
    codec = info.get("video.codec")
    if isinstance(codec, str) and p.codec and codec != p.codec:
        ctx.add(
            "video.codec_mismatch",
            "warning",
            f"{vk}: stream codec is {p.codec} but info says {codec}",
            "fix video.codec in meta/info.json (decoders follow the stream, not info.json)",
            file=rel,
        )
    pix = info.get("video.pix_fmt")
    if isinstance(pix, str) and p.pix_fmt and pix != p.pix_fmt:
        ctx.add(
            "video.pix_fmt_mismatch",
            "warning",
            f"{vk}: stream pixel format is {p.pix_fmt} but info says {pix}",
            "fix video.pix_fmt in meta/info.json or re-encode",
            file=rel,
        )


def check_episodes(ctx: Context, vk: str, rel: str, p: Probe, eps: list[EpisodeMeta]) -> None:
    tol = fmt.TOLERANCE_S
    fps = ctx.fps or p.fps
    period = 1.0 / fps if fps else 0.0
    has_pts = p.pts_s is not None and len(p.pts_s) > 0
    end = float(p.pts_s[-1]) + period if has_pts else p.duration_s
    data = ctx.data
    for ep in eps:
        ref = ep.videos[vk]
        e = ep.episode_index
        if ref.from_ts < -tol or ref.to_ts > end + tol or ref.to_ts < ref.from_ts:
            ctx.add(
                "video.episode_range",
                "error",
                f"{vk}: episode {e} spans [{ref.from_ts:.4f}, {ref.to_ts:.4f}] s but the file "
                f"holds [0, {end:.4f}] s",
                "from/to_timestamp in meta/episodes are wrong or the video is short; re-convert",
                file=rel,
                episode=e,
            )
            continue
        if p.pts_s is None:
            n = round((ref.to_ts - ref.from_ts) * fps) if fps else ep.length
            if n != ep.length:
                ctx.add(
                    "video.frame_count",
                    "error",
                    f"{vk}: episode {e} spans {n} frames of video but has {ep.length} rows",
                    "video and data disagree; re-encode or fix from/to_timestamp",
                    file=rel,
                    episode=e,
                )
            continue
        pts = p.pts_s
        lo = np.searchsorted(pts, ref.from_ts - tol, side="left")
        hi = np.searchsorted(pts, ref.to_ts - tol, side="left")
        n = int(hi - lo)
        if not ctx.is_v3:
            n = len(pts)  # v2.x: the file is the episode
        if n != ep.length:
            ctx.add(
                "video.frame_count",
                "error",
                f"{vk}: episode {e} has {n} video frames but {ep.length} data rows",
                "video and data disagree (dropped or extra frames); re-encode the episode",
                file=rel,
                episode=e,
            )
            continue
        if data is None or ep.data_path in ctx.unreadable_data:
            continue
        a, b = ep.from_index, ep.to_index
        if not (0 <= a <= b <= len(data.timestamp)) or b - a != ep.length:
            continue
        query = data.timestamp[a:b].astype(np.float64) + ref.from_ts
        idx = np.clip(np.searchsorted(pts, query), 1, len(pts) - 1) if len(pts) > 1 else None
        if idx is None:
            dist = np.abs(query - pts[0]) if len(pts) else np.full(len(query), np.inf)
        else:
            dist = np.minimum(np.abs(query - pts[idx - 1]), np.abs(query - pts[idx]))
        bad = np.nonzero(~(dist < tol))[0]
        if len(bad):
            r = int(bad[0])
            ctx.add(
                "video.timestamp_tolerance",
                "error",
                f"{vk}: episode {e} frame {r} is looked up at {query[r]:.6f} s; the nearest video "
                f"frame is {dist[r]:.2e} s away (> tolerance_s {tol}); "
                f"{len(bad)} frame(s) affected",
                "LeRobot raises FrameTimestampError here; fix the timestamps or from_timestamp",
                file=rel,
                episode=e,
            )


def sample_frames(path: Any, times: list[float]) -> list[np.ndarray | None]:
    """The luma (Y) plane of the frame at each of ``times`` (seconds, ascending), or None.

    One container open for all times, one seek per time to the keyframe before it, then
    decode up to the frame within ``TOLERANCE_S``: a sample of frames costs a few GOPs each,
    not the whole file (deep mode's). Luma is read straight from the plane (no pixel-format
    conversion). ``behaviour.frozen_camera``'s fallback for files without a sample table.
    """
    av = _av()
    out: list[np.ndarray | None] = []
    with av.open(str(path)) as container:
        s = container.streams.video[0]
        tb = float(s.time_base)
        for want in times:
            got = None
            container.seek(max(0, int(want / tb) - 1), backward=True, stream=s)
            for frame in container.decode(s):
                if frame.pts is not None and frame.pts * tb >= want - fmt.TOLERANCE_S:
                    got = _luma(frame)
                    break
            out.append(got)
    return out


DECODERS = {"av1": ("libdav1d", "libaom-av1", "av1")}  # FFmpeg's native av1 needs a GPU


class KeyframeDecoder:
    """Decodes single sync samples read straight from an MP4 (offsets and sizes from its
    sample table, extradata from its codec configuration box): no demuxer, no seek, one
    frame decoded per picture (~0.15 ms for a small AV1 frame; a seek + decode costs ~0.4
    ms). One single-threaded decoder per codec configuration, reused across files (a v2.1
    dataset's episode files share one): a threaded decoder holds frames back and spends more
    on its threads than on a small frame.
    """

    def __init__(self) -> None:
        self._cc: dict[tuple[str, bytes | None], Any] = {}

    def _context(self, codec: str, config: bytes | None) -> Any:
        key = (codec, config)
        if key not in self._cc:
            av = _av()
            for name in DECODERS.get(codec, (codec,)):
                try:
                    cc = av.CodecContext.create(name, "r")
                    break
                except Exception:
                    continue
            else:
                raise ValueError(f"no decoder for {codec}")
            cc.thread_count = 1
            if name == "libdav1d":
                cc.options = {"max_frame_delay": "1"}
            if config:
                cc.extradata = config
            self._cc[key] = cc
        return self._cc[key]

    def lumas(
        self, path: Any, codec: str, config: bytes | None, offsets: list[int], sizes: list[int]
    ) -> list[np.ndarray | None]:
        """The luma plane of each sample (None where one gives no picture).

        AV1 goes through libdav1d directly when PyAV's copy of it loads (``validators.dav1d``:
        no PyAV import); a sample it gives no picture for is decoded by PyAV, as all were.
        """
        with open(path, "rb") as fh:
            samples = []
            for off, size in zip(offsets, sizes, strict=True):
                fh.seek(int(off))
                samples.append(fh.read(int(size)))
        out: list[np.ndarray | None] = [None] * len(samples)
        if codec == "av1" and dav1d.available():
            key = ("dav1d", config)
            if key not in self._cc:
                self._cc[key] = dav1d.Decoder()
            out = [self._cc[key].luma(sample) for sample in samples]
        todo = [i for i, pic in enumerate(out) if pic is None]
        for i, pic in zip(todo, self._pyav(codec, config, [samples[i] for i in todo]), strict=True):
            out[i] = pic
        return out

    def _pyav(
        self, codec: str, config: bytes | None, samples: list[bytes]
    ) -> list[np.ndarray | None]:
        if not samples:
            return []
        av = _av()
        out: list[np.ndarray | None] = []
        for sample in samples:
            cc = self._context(codec, config)
            try:
                frames = cc.decode(av.Packet(sample))
                if not frames:  # a decoder with reorder delay: drain it, start afresh
                    frames = cc.decode(None)
                    del self._cc[(codec, config)]
            except Exception:
                frames = []
                self._cc.pop((codec, config), None)
            out.append(_luma(frames[0]) if frames else None)
        return out


def _luma(frame: Any) -> np.ndarray:
    plane = frame.planes[0]
    rows = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
    return rows[: frame.height, : frame.width].copy()
