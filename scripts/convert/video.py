"""Concatenate one camera's episode mp4s into size-capped v3.0 files by stream copy.

Why our own remux rather than LeRobot's ``concatenate_video_files``: that one stream-copies
whatever it is given, so an episode recorded with another codec, size or pixel format makes
a file that decodes to garbage, silently. Here every episode is probed first; a mismatch
(codec, size, pixel format, time base, codec header) stops the conversion naming the odd
episode, unless ``--reencode`` asks to re-encode that camera. Packets are copied with their
timestamps shifted by the whole-tick duration of the episodes before them, so frame ``t`` of
an episode sits at ``from_timestamp + t`` in the shared file, as LeRobot looks it up.

Image statistics are a separate pass (``camera_stats``), cut into shards that every core
claims, because they cost far more than the copy. It decodes only as much of each episode
as the frames LeRobot samples need: a group of pictures (from one keyframe to the next) with
no sampled frame is not decoded. One decoder and one pixel converter serve a whole shard;
per-episode image stats are computed a batch of episodes at a time (same values as one by
one). One copy call handles one camera; cameras and shards run in parallel processes.
"""

from __future__ import annotations

import hashlib
import math
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from scripts.convert.chunks import MB, next_chunk_file
from scripts.convert.errors import ConversionError
from scripts.convert.stats import (
    auto_downsample_height_width,
    episode_planes,
    image_feature_stats,
    image_stats_eligible,
    rgb_stats_planes,
    sample_indices,
)
from validators.dataset_format import TOLERANCE_S, VIDEO_PATH

WORK_SPOOL = ".convert-work/video-{key}.arrow"  # this camera's per-episode metadata rows
SMALL_EPISODE_PIXELS = 64 * 640 * 480  # below this, decode a run of packets on one thread
STATS_BATCH_BYTES = 32 * MB  # sampled pixels held for one batch of per-episode image stats
STATS_BATCH_EPISODES = 256
DEPTH_QMAX = 4095  # 12-bit depth codes (lerobot.configs.video.DEPTH_QMAX)
DEPTH_PIX_FMT = "gray12le"

# Encoders used by --reencode, with LeRobot 0.6.1's default RGB settings where they apply.
REENCODERS: dict[str, tuple[str, dict[str, str]]] = {
    "av1": ("libsvtav1", {"g": "2", "crf": "30", "preset": "12"}),
    "h264": ("libx264", {"g": "2", "crf": "23"}),
}


@dataclass(frozen=True)
class StreamProps:
    """What must agree between episodes for their packets to share one file."""

    codec: str
    width: int
    height: int
    pix_fmt: str | None
    time_base: Fraction
    header: str  # hash of the codec's extradata (sequence header / SPS+PPS)

    def differences(self, other: StreamProps) -> list[str]:
        names = ("codec", "width", "height", "pix_fmt", "time_base", "header")
        return [
            f"{n} {getattr(other, n)} vs {getattr(self, n)}"
            for n in names
            if getattr(self, n) != getattr(other, n)
        ]


@dataclass
class CameraEpisode:
    """One episode's mp4 for one camera, as handed to a camera job."""

    new_index: int
    old_index: int
    length: int
    path: Path


@dataclass
class CameraResult:
    """One camera's files and the spool of its per-episode placements.

    Per-episode placements go to ``spool`` (an Arrow IPC file) as they are made, so neither
    the worker nor the parent holds them all: memory stays flat. Image stats are spooled
    separately, by :func:`camera_stats`.
    """

    key: str
    spool: Path | None = None
    files: list[Path] = field(default_factory=list)
    reencoded: bool = False
    frames: int = 0
    episodes: int = 0


def as_fraction(value: Any) -> Fraction:
    """PyAV 19 returns its own rational type; Fraction() does not accept it directly."""
    return Fraction(int(value.numerator), int(value.denominator)) if value else Fraction(0)


def stream_props(s: av.VideoStream) -> StreamProps:
    extradata = s.codec_context.extradata or b""
    return StreamProps(
        codec=s.codec_context.codec.canonical_name,
        width=int(s.codec_context.width),
        height=int(s.codec_context.height),
        pix_fmt=s.codec_context.pix_fmt,
        time_base=as_fraction(s.time_base),
        header=hashlib.sha1(extradata).hexdigest()[:12],
    )


def open_input(path: Path) -> av.container.InputContainer:
    """Open an episode's mp4, naming the demuxer first (half the cost of probing for it).

    Anything the mp4 demuxer refuses is opened the ordinary way, so odd files fail (or not)
    exactly as before.
    """
    try:
        return av.open(str(path), format="mp4")
    except (av.FFmpegError, OSError, ValueError):
        return av.open(str(path))


def video_stream(container: av.container.InputContainer, path: Path) -> av.VideoStream:
    """The episode's (first) video stream, or an error naming the file."""
    if not container.streams.video:
        raise ConversionError(path, "has no video stream")
    s = container.streams.video[0]
    if s.codec_context is None:  # PyAV opens no codec for one FFmpeg does not know
        raise ConversionError(path, "has a video codec FFmpeg cannot decode")
    return s


def probe(path: Path) -> StreamProps:
    """The stream properties of an episode's mp4, naming the file when it cannot be read."""
    try:
        with open_input(path) as container:
            return stream_props(video_stream(container, path))
    except ConversionError:
        raise
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise ConversionError(path, f"not a readable mp4 ({exc})") from exc


class _Mismatch(Exception):
    """An episode whose stream cannot share a file with the first one by stream copy."""

    def __init__(self, ep: CameraEpisode, diff: list[str]) -> None:
        super().__init__(ep.path)
        self.ep = ep
        self.diff = diff


@dataclass(frozen=True)
class DepthParams:
    """A depth camera's quantisation, from its feature ``info`` (0.6.1's DepthEncoderConfig)."""

    depth_min: float = 0.01
    depth_max: float = 10.0
    shift: float = 3.5
    use_log: bool = True
    unit: str = "mm"

    @classmethod
    def from_info(cls, info: dict[str, Any]) -> DepthParams:
        d = cls()
        return cls(
            depth_min=float(info.get("video.depth_min", d.depth_min)),
            depth_max=float(info.get("video.depth_max", d.depth_max)),
            shift=float(info.get("video.shift", d.shift)),
            use_log=bool(info.get("video.use_log", d.use_log)),
            unit=str(info.get("depth_unit") or d.unit),
        )

    def dequantize(self, codes: np.ndarray) -> np.ndarray:
        """0.6.1's ``dequantize_depth`` numpy path: uint16 mm, or float32 metres."""
        if self.use_log:
            log_min = math.log(self.depth_min + self.shift)
            log_max = math.log(self.depth_max + self.shift)
            scale, offset = (log_max - log_min) / DEPTH_QMAX, log_min
        else:
            scale, offset = (self.depth_max - self.depth_min) / DEPTH_QMAX, self.depth_min
        buf = np.empty(codes.shape, dtype=np.float32)
        np.multiply(codes, scale, out=buf)
        np.add(buf, offset, out=buf)
        if self.use_log:
            np.exp(buf, out=buf)
            np.subtract(buf, self.shift, out=buf)
        np.clip(buf, self.depth_min, self.depth_max, out=buf)
        if self.unit == "m":
            return buf
        np.multiply(buf, 1000.0, out=buf)
        np.rint(buf, out=buf)
        np.clip(buf, 0.0, 65535, out=buf)
        return buf.astype(np.uint16, copy=False)


_REFORMATTER = VideoReformatter()


def frame_array(frame: av.VideoFrame, depth: DepthParams | None) -> np.ndarray:
    """(C, H, W) as LeRobot sees the frame: rgb24, or dequantised depth for depth cameras.

    Same pixels as ``frame.to_ndarray(format=...)`` (a test checks), through one reused
    converter on one thread: swscale's default thread pool costs several times the
    conversion of a small frame.
    """
    if depth is not None:
        codes = _REFORMATTER.reformat(frame, format=DEPTH_PIX_FMT, threads=1).to_ndarray()
        return depth.dequantize(codes)[np.newaxis, ...]
    rgb = _REFORMATTER.reformat(frame, format="rgb24", threads=1).to_ndarray()
    return np.transpose(rgb, (2, 0, 1))


def frames_near(
    path: Path, wanted: list[float], convert: Callable[[av.VideoFrame], np.ndarray]
) -> dict[float, np.ndarray]:
    """Decode ``path`` from the keyframe before the first wanted time; keep, for each wanted
    time, the frame within ``TOLERANCE_S`` of it (LeRobot's own lookup rule), converted."""
    found: dict[float, np.ndarray] = {}
    with av.open(str(path)) as container:
        s = container.streams.video[0]
        first, last = min(wanted), max(wanted)
        container.seek(max(0, round(first / s.time_base) - 1), backward=True, stream=s)
        for frame in container.decode(s):
            if frame.pts is None:
                continue
            t = float(frame.pts * s.time_base)
            for w in wanted:
                if abs(t - w) < TOLERANCE_S and w not in found:
                    found[w] = convert(frame)
            if t >= last + TOLERANCE_S:
                break
    return found


class _Sampler:
    """Keeps the frames LeRobot's ``sample_images`` would pick, already downsampled.

    Fed every decoded frame in display order: the fallback of :func:`sample_frames` when an
    episode cannot be decoded by runs of packets.
    """

    def __init__(self, wanted: list[int], depth: DepthParams | None) -> None:
        self.wanted = wanted
        self.depth = depth
        self.picked: list[np.ndarray] = []
        self.seen = 0
        self._next = 0

    def feed(self, frame: av.VideoFrame) -> None:
        if self._next < len(self.wanted) and self.seen == self.wanted[self._next]:
            img = auto_downsample_height_width(frame_array(frame, self.depth))
            while self._next < len(self.wanted) and self.wanted[self._next] == self.seen:
                self.picked.append(img)
                self._next += 1
        self.seen += 1

    def images(self, path: Path) -> list[np.ndarray]:
        if self._next < len(self.wanted):
            raise ConversionError(
                path,
                f"decoded {self.seen} frames, episode needs {self.wanted[-1] + 1} (truncated?)",
            )
        return self.picked


class Decoder:
    """One decoder per camera, reused by every episode (episodes share codec and header).

    Each run of packets is drained (``decode(None)``) and the decoder flushed
    (``flush_buffers``) before the next, so a run decodes as a fresh decoder would: nothing
    carries over between episodes or across skipped pictures. Creating a decoder per
    episode cost more than decoding a short episode. Runs big enough to gain from threads
    get a second, threaded decoder (threading does not change the pixels).
    """

    def __init__(self) -> None:
        self._codec: tuple[str, bytes | None] | None = None
        self._contexts: dict[bool, av.CodecContext] = {}

    def bind(self, stream: av.VideoStream) -> None:
        codec = (stream.codec_context.codec.name, stream.codec_context.extradata)
        if self._codec is None:
            self._codec = codec
        elif codec != self._codec:  # cannot happen after the header check; stay correct anyway
            self._codec, self._contexts = codec, {}

    def _context(self, threaded: bool) -> av.CodecContext:
        ctx = self._contexts.get(threaded)
        if ctx is None:
            assert self._codec is not None
            ctx = av.CodecContext.create(self._codec[0], "r")
            ctx.extradata = self._codec[1]
            if threaded:
                ctx.thread_type = "AUTO"
            else:
                ctx.thread_count = 1
            self._contexts[threaded] = ctx
        return ctx

    def run(self, packets: list[av.Packet], pixels: int) -> list[av.VideoFrame]:
        ctx = self._context(pixels > SMALL_EPISODE_PIXELS)
        frames: list[av.VideoFrame] = []
        try:
            for packet in packets:
                frames.extend(ctx.decode(packet))
            frames.extend(ctx.decode(None))
        finally:
            ctx.flush_buffers()
        return frames


def decode_runs(
    packets: list[av.Packet], wanted: set[int]
) -> tuple[list[tuple[int, int]], list[int]] | None:
    """Which packets to decode so that the frames at display positions ``wanted`` come out.

    Returns runs ``(start, stop)`` of packet positions (decode order) and each packet's
    display position, or None when the episode must be decoded whole. A group of pictures
    runs from a keyframe to the next; it is skipped when none of its frames is wanted, and
    decoded only up to its last wanted frame (references precede in decode order).
    Skipping is only done when every group is closed and self-contained in display order:
    its frames are exactly the display positions from its keyframe's to the next
    keyframe's (no leading pictures that would need the previous group), and all
    timestamps are present and distinct (display position = rank of the timestamp).
    """
    n = len(packets)
    pts = [p.pts for p in packets]
    if not n or not packets[0].is_keyframe or None in pts or len(set(pts)) != n:
        return None
    rank = [0] * n
    for r, i in enumerate(sorted(range(n), key=pts.__getitem__)):
        rank[i] = r
    starts = [i for i in range(n) if packets[i].is_keyframe]
    runs: list[tuple[int, int]] = []
    for g, start in enumerate(starts):
        stop = starts[g + 1] if g + 1 < len(starts) else n
        ranks = rank[start:stop]
        if rank[start] != start or min(ranks) != start or max(ranks) != stop - 1:
            return None
        last = max((i for i in range(start, stop) if rank[i] in wanted), default=None)
        if last is None:
            continue
        if runs and runs[-1][1] == start:
            runs[-1] = (runs[-1][0], last + 1)
        else:
            runs.append((start, last + 1))
    return runs, rank


def sample_frames(
    packets: list[av.Packet],
    wanted: list[int],
    decoder: Decoder,
    frame_pixels: int,
    depth: DepthParams | None,
    path: Path,
) -> list[np.ndarray]:
    """The sampled frames of one episode (as ``_Sampler`` keeps them), decoding only runs.

    Each run must give back one frame per packet, with the runs' timestamps in display
    order; anything else (a decoder that drops or invents frames) falls back to decoding
    the whole episode and counting frames, the reference behaviour.
    """
    want = set(wanted)
    plan = decode_runs(packets, want)
    if plan is not None:
        runs, rank = plan
        got: dict[int, np.ndarray] = {}
        for start, stop in runs:
            run = packets[start:stop]
            frames = decoder.run(run, len(run) * frame_pixels)
            if [f.pts for f in frames] != sorted(p.pts for p in run):
                break
            for r, frame in zip(sorted(rank[start:stop]), frames, strict=True):
                if r in want:
                    got[r] = auto_downsample_height_width(frame_array(frame, depth))
        else:
            return [got[i] for i in wanted]
    sampler = _Sampler(wanted, depth)
    for frame in decoder.run(packets, len(packets) * frame_pixels):
        sampler.feed(frame)
    return sampler.images(path)


class _EpisodeRows:
    """Spool rows waiting for their image stats, which are computed a batch at a time.

    Rows reach the spool in episode order, each exactly as one-by-one computation makes
    it; uint8 RGB stats wait as channel planes for ``rgb_stats_planes`` (bit for bit
    ``image_feature_stats``); anything else, depth included, is computed at once with
    ``image_feature_stats`` itself.
    """

    def __init__(self, key: str, spool: Any, depth: DepthParams | None) -> None:
        self.key = key
        self.spool = spool
        self.depth = depth
        self._rows: list[dict[str, Any]] = []
        self._planes: list[tuple[np.ndarray, int]] = []
        self._bytes = 0

    def add(self, row: dict[str, Any], picked: list[np.ndarray]) -> None:
        self._rows.append(row)
        # Channel-last views of the decoded rgb24 arrays (downsampled ones are strided).
        views = [img.transpose(1, 2, 0) for img in picked]
        if self.depth is None and image_stats_eligible(views):
            planes = episode_planes(views)  # copied: the batch holds no whole frames
            self._planes.append((planes, len(views)))
            self._bytes += planes.nbytes
            if self._bytes >= STATS_BATCH_BYTES or len(self._planes) >= STATS_BATCH_EPISODES:
                self.flush()
            return
        # Depth, or not uint8 RGB: the reference computation, at once.
        is_depth = self.depth is not None
        row["stats"] = {self.key: image_feature_stats(np.stack(picked), is_depth=is_depth)}
        if not self._planes:
            self.flush()

    def flush(self) -> None:
        stats = iter(rgb_stats_planes(self._planes)) if self._planes else iter(())
        for row in self._rows:
            if "stats" not in row:
                row["stats"] = {self.key: next(stats)}
            self.spool.add(row)
        self._rows, self._planes, self._bytes = [], [], 0


def _plan_files(
    episodes: list[CameraEpisode], limit: float, chunks_size: int
) -> list[tuple[int, int]]:
    """(chunk, file) per episode, rolling over like LeRobot's writer: size + next >= limit."""
    out = []
    chunk = file = 0
    size = 0
    for i, ep in enumerate(episodes):
        ep_size = ep.path.stat().st_size
        if i > 0 and size + ep_size >= limit:
            chunk, file = next_chunk_file(chunk, file, chunks_size)
            size = 0
        out.append((chunk, file))
        size += ep_size
    return out


def _mux(out: av.container.OutputContainer, packet: av.Packet) -> None:
    """Mux one packet; a failure here is about DST (disk full...), not about the source."""
    try:
        out.mux(packet)
    except (av.FFmpegError, OSError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConversionError(out.name, f"cannot write ({reason})") from exc


def _checked_packets(
    ep: CameraEpisode, container: av.container.InputContainer, ref: StreamProps | None
) -> tuple[av.VideoStream, list[av.Packet]]:
    """The episode's video packets, after the checks both passes make (ref: stream copy's)."""
    s = video_stream(container, ep.path)
    if ref is not None:
        diff = ref.differences(stream_props(s))
        if diff:
            raise _Mismatch(ep, diff)
    if s.frames and s.frames < ep.length:
        raise ConversionError(
            ep.path, f"has {s.frames} frames but the episode has {ep.length} (truncated?)"
        )
    packets = [p for p in container.demux(s) if p.dts is not None or p.pts is not None]
    if len(packets) < ep.length:
        raise ConversionError(
            ep.path,
            f"holds {len(packets)} frames but the episode has {ep.length} (truncated?)",
        )
    return s, packets


def _remux_episode(
    ep: CameraEpisode,
    out: av.container.OutputContainer,
    ostream: av.VideoStream,
    offset: int,
    ref: StreamProps,
) -> int:
    """Copy one episode's packets shifted by ``offset`` ticks; return its duration in ticks."""
    try:
        with open_input(ep.path) as container:
            s, packets = _checked_packets(ep, container, ref)
            end = 0
            for packet in packets:
                pts = packet.pts
                if pts is not None:
                    end = max(end, pts + (packet.duration or 0))
                packet.pts = None if pts is None else pts + offset
                packet.dts = None if packet.dts is None else packet.dts + offset
                packet.stream = ostream
                _mux(out, packet)
            duration = s.duration if s.duration else end
    except (ConversionError, _Mismatch):
        raise
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise ConversionError(ep.path, f"damaged or truncated mp4 ({exc})") from exc
    return int(duration)


def episode_samples(
    ep: CameraEpisode, decoder: Decoder, depth: DepthParams | None
) -> list[np.ndarray]:
    """The frames LeRobot's stats sample from one source episode (decoding only what they need)."""
    try:
        with open_input(ep.path) as container:
            s, packets = _checked_packets(ep, container, None)
            decoder.bind(s)
            frame_pixels = s.codec_context.width * s.codec_context.height
            return sample_frames(
                packets, sample_indices(ep.length), decoder, frame_pixels, depth, ep.path
            )
    except ConversionError:
        raise
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise ConversionError(ep.path, f"damaged or truncated mp4 ({exc})") from exc


def camera_stats(
    key: str,
    episodes: list[CameraEpisode],
    depth: DepthParams | None,
    spool_path: Path,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Per-episode image stats of a run of one camera's episodes, spooled in order.

    Separate from the copy (``convert_camera``) so that a camera's stats, which cost far
    more than copying its packets, can be split into shards that run on every core,
    including the one the data pass frees. Stats come from the source frames (the copy is
    bit-identical, and a re-encode would not change what was recorded).
    """
    from scripts.convert.metadata import Spool  # metadata imports this module's helpers

    spool = Spool(spool_path, {key: {}})
    rows = _EpisodeRows(key, spool, depth)
    decoder = Decoder()
    for ep in episodes:
        rows.add({}, episode_samples(ep, decoder, depth))
        if progress:
            progress(1)
    rows.flush()
    return spool.close()


def _encoder_for(codec: str) -> tuple[str, dict[str, str]]:
    return REENCODERS.get(codec, REENCODERS["av1"])


def _reencode_episode(
    ep: CameraEpisode,
    ostream: av.VideoStream,
    out: av.container.OutputContainer,
    first_pts: int,
) -> int:
    """Decode one episode and encode it into ``ostream``; return frames written."""
    written = 0
    try:
        with open_input(ep.path) as container:
            # encode() converts each frame to the encoder's size and pixel format itself
            for frame in container.decode(video_stream(container, ep.path)):
                frame.pts = first_pts + written
                frame.time_base = ostream.codec_context.time_base
                for packet in ostream.encode(frame):
                    _mux(out, packet)
                written += 1
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise ConversionError(ep.path, f"damaged or truncated mp4 ({exc})") from exc
    if written < ep.length:
        raise ConversionError(
            ep.path, f"decodes to {written} frames but the episode has {ep.length} (truncated?)"
        )
    return written


def convert_camera(
    key: str,
    episodes: list[CameraEpisode],
    dst: Path,
    video_mb: float,
    chunks_size: int,
    fps: int,
    reencode: bool,
    progress: Callable[[int], None] | None = None,
    spool: Path | None = None,
) -> CameraResult:
    """Check and concatenate one camera's episodes into ``dst/videos/<key>/...``.

    Spools each episode's placement (file, from/to timestamps); its image stats come from
    :func:`camera_stats`, run separately.

    Stream copy is tried first; the first episode whose stream differs from episode 0 stops
    it. Without ``reencode`` that is an error naming the episode; with it, the camera's
    partial output is dropped and the whole camera is re-encoded.
    """
    ref = probe(episodes[0].path)
    reported = seen = 0

    def tick(n: int) -> None:
        """Each episode counts once on the bar: a re-encode redoes those stream copy counted."""
        nonlocal reported, seen
        seen += n
        if progress and seen > reported:
            progress(seen - reported)
            reported = seen

    try:
        return _convert(key, episodes, dst, video_mb, chunks_size, fps, ref, False, tick, spool)
    except _Mismatch as odd:
        if not reencode:
            raise ConversionError(
                odd.ep.path,
                f"camera {key} episode {odd.ep.old_index} differs from episode "
                f"{episodes[0].old_index} ({'; '.join(odd.diff)}); stream copy would corrupt "
                "it: pass --reencode to re-encode this camera",
            ) from None
    shutil.rmtree(dst / "videos" / key, ignore_errors=True)
    # A fresh spool file: the stream-copy attempt's writer may still hold the first one open.
    retry = (spool or dst / WORK_SPOOL.format(key=key)).with_suffix(".reencode.arrow")
    seen = 0
    return _convert(key, episodes, dst, video_mb, chunks_size, fps, ref, True, tick, retry)


def _convert(
    key: str,
    episodes: list[CameraEpisode],
    dst: Path,
    video_mb: float,
    chunks_size: int,
    fps: int,
    ref: StreamProps,
    reencode: bool,
    progress: Callable[[int], None] | None,
    spool_path: Path | None = None,
) -> CameraResult:
    from scripts.convert.metadata import Spool  # metadata imports this module's helpers

    result = CameraResult(key=key, reencoded=reencode)
    spool_path = spool_path or dst / WORK_SPOOL.format(key=key)
    spool = Spool(spool_path, {key: {}})
    slots = _plan_files(episodes, video_mb * MB, chunks_size)
    i = 0
    while i < len(episodes):
        slot = slots[i]
        j = i
        while j < len(episodes) and slots[j] == slot:
            j += 1
        path = dst / VIDEO_PATH.format(video_key=key, chunk_index=slot[0], file_index=slot[1])
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_file(episodes[i:j], path, slot, fps, result, ref, spool, progress)
        result.files.append(path)
        i = j
    result.spool = spool.close()
    result.episodes = spool.count
    return result


def _write_file(
    group: list[CameraEpisode],
    path: Path,
    slot: tuple[int, int],
    fps: int,
    result: CameraResult,
    ref_props: StreamProps,
    spool: Any,
    progress: Callable[[int], None] | None,
) -> None:
    key = result.key
    from_ts = 0.0
    with open_input(group[0].path) as template_container:
        template = template_container.streams.video[0]
        with av.open(str(path), "w", options={"movflags": "faststart"}) as out:
            if result.reencoded:
                name, options = _encoder_for(ref_props.codec)
                ostream = out.add_stream(name, rate=fps, options=options)
                ostream.width = ref_props.width
                ostream.height = ref_props.height
                ostream.pix_fmt = ref_props.pix_fmt or "yuv420p"
            else:
                ostream = out.add_stream_from_template(template=template, opaque=True)
                ostream.time_base = template.time_base
            offset = 0
            for ep in group:
                if result.reencoded:
                    frames = _reencode_episode(ep, ostream, out, offset)
                    offset += frames
                    duration_s = frames / fps
                else:
                    ticks = _remux_episode(ep, out, ostream, offset, ref_props)
                    offset += ticks
                    duration_s = float(ticks * ref_props.time_base)
                result.frames += ep.length
                spool.add(
                    {
                        f"videos/{key}/chunk_index": slot[0],
                        f"videos/{key}/file_index": slot[1],
                        f"videos/{key}/from_timestamp": from_ts,
                        f"videos/{key}/to_timestamp": from_ts + duration_s,
                    }
                )
                from_ts += duration_s
                if progress:
                    progress(1)
            if result.reencoded:
                for packet in ostream.encode(None):
                    _mux(out, packet)


def video_info(path: Path) -> dict[str, Any]:
    """The ``video.*`` keys LeRobot's ``get_video_info`` records for a written file."""
    with av.open(str(path)) as container:
        s = container.streams.video[0]
        info: dict[str, Any] = {
            "video.height": s.height,
            "video.width": s.width,
            "video.codec": s.codec_context.codec.canonical_name,
            "video.pix_fmt": s.pix_fmt,
            "video.fps": int(as_fraction(s.base_rate)) if s.base_rate else None,
            "video.channels": len(av.VideoFormat(s.pix_fmt).components) if s.pix_fmt else None,
        }
        if container.streams.audio:
            a = container.streams.audio[0]
            info.update(
                {
                    "audio.channels": a.channels,
                    "audio.codec": a.codec.canonical_name,
                    "audio.bit_rate": a.bit_rate,
                    "audio.sample_rate": a.sample_rate,
                    "audio.bit_depth": a.format.bits,
                    "audio.channel_layout": a.layout.name,
                    "has_audio": True,
                }
            )
        else:
            info["has_audio"] = False
    return info
