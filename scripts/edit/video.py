"""Each camera's surviving frames into size-capped v3.0 mp4s: stream copy where possible.

A piece (an episode, or a trimmed stretch of one) is a run of packets of its source file:
those whose pts fall in ``[from_timestamp + start/fps, from_timestamp + stop/fps)``. Copied
packets keep their bytes; only pts/dts shift so that the piece starts where the output file's
previous piece ended (the converter's rule, ``scripts.convert.video``), and the episode's
from/to timestamps are computed from the packets actually written, so they always point into
the file the episode's row names (LeRobot's merge can leave them pointing at the wrong file,
#3883). Files roll over like the converter's: a new file when size + next >= the source's
``video_files_size_in_mb``.

Stream copy is exact only when a piece starts on a keyframe and every piece in the file has
the same stream (codec, size, pixel format, time base, codec header: ``StreamProps``). Whole
episodes of a LeRobot recording always do. Otherwise (a trim cut between keyframes, a merge of
differently encoded sources) that one output file is re-encoded, with LeRobot's settings for
the codec, and its frames are counted in ``reencoded``: the summary prints the number.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av

from scripts.convert.chunks import MB, next_chunk_file
from scripts.convert.video import (
    StreamProps,
    _encoder_for,
    open_input,
    stream_props,
    video_stream,
)
from scripts.edit.errors import EditError
from scripts.edit.plan import Output, Piece, Source
from validators.dataset_format import DEFAULT_VIDEO_FILE_SIZE_IN_MB, VIDEO_PATH


@dataclass
class Segment:
    """One piece of one camera: where its frames are in the source file."""

    piece: Piece
    path: Path
    from_ts: float  # the source episode's from_timestamp
    size: float  # estimated bytes (share of the source file)


@dataclass
class CameraResult:
    """Per output episode: the four ``videos/<key>/*`` columns; frames re-encoded."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    reencoded: int = 0
    copied: int = 0


class _NeedsReencode(Exception):
    """Stream copy of this file would not decode to the source's frames."""


def _segments(sources: list[Source], out: Output, key: str) -> list[Segment]:
    segs = []
    for piece in out.pieces:
        src = sources[piece.source]
        row = next(r for r in src.episodes if int(r["episode_index"]) == piece.episode)
        chunk, file = int(row[f"videos/{key}/chunk_index"]), int(row[f"videos/{key}/file_index"])
        path = src.layout.video_file(key, chunk, file)
        if not path.is_file():
            raise EditError(f"{path}: missing (episode {piece.episode}, camera {key})")
        same = [
            r
            for r in src.episodes
            if int(r[f"videos/{key}/chunk_index"]) == chunk
            and int(r[f"videos/{key}/file_index"]) == file
        ]
        file_frames = sum(int(r["length"]) for r in same) or 1
        size = path.stat().st_size * piece.frames / file_frames
        segs.append(Segment(piece, path, float(row[f"videos/{key}/from_timestamp"]), size))
    return segs


@dataclass
class _Window:
    """A piece's packets in its source file, and how to tell which frame each one is."""

    stream: av.VideoStream
    packets: list[av.Packet]  # every packet of frames [start, stop), decode order
    lead: list[av.Packet]  # from the keyframe before ``start`` (what decoding needs first)
    container: Any
    lo: int  # pts of frame ``start``
    tick: int  # one source frame in the stream's time base
    step: int

    def frame(self, pts: int) -> int:
        """The frame number (from ``start``) a pts is, on the source's fps grid."""
        return round((pts - self.lo) / self.tick)

    def kept(self, pts: int | None) -> bool:
        """Whether the frame at ``pts`` survives (``OP=fps`` keeps every step-th)."""
        return pts is not None and self.frame(pts) % self.step == 0


def _packets(seg: Segment, fps: int) -> _Window:
    """The piece's packets in decode order, from the keyframe at or before its start
    (``fps`` is the source's: the window is on its grid)."""
    container = open_input(seg.path)
    s = video_stream(container, seg.path)
    tb = s.time_base
    lo = round((seg.from_ts + seg.piece.start / fps) / tb)
    hi = round((seg.from_ts + seg.piece.stop / fps) / tb)
    half = max(1, round(1 / (2 * fps * tb)))
    container.seek(max(lo - half, 0), stream=s, backward=True, any_frame=False)
    kept: list[av.Packet] = []
    lead: list[av.Packet] = []
    for p in container.demux(s):
        if p.pts is None and p.dts is None:
            continue
        ts = p.pts if p.pts is not None else p.dts
        if p.dts is not None and p.dts >= hi - half and ts >= hi - half:
            break
        if lo - half <= ts < hi - half:
            kept.append(p)
        elif ts < lo - half:
            lead.append(p)
    want = seg.piece.stop - seg.piece.start
    if len(kept) != want:
        container.close()
        raise EditError(
            f"{seg.path}: episode {seg.piece.episode} has {len(kept)} frames in "
            f"[{lo * tb:.4f}, {hi * tb:.4f}) s, its rows say {want}"
        )
    tick = max(1, round(1 / (fps * tb)))
    return _Window(s, kept, lead, container, lo, tick, seg.piece.step)


def _plan_files(segs: list[Segment], limit: float) -> list[list[Segment]]:
    """Pieces per output file: a new file when size + next >= limit (LeRobot's writer)."""
    groups: list[list[Segment]] = []
    size = 0.0
    for i, seg in enumerate(segs):
        if i == 0 or size + seg.size >= limit:
            groups.append([])
            size = 0.0
        groups[-1].append(seg)
        size += seg.size
    return groups


def _copy_file(group: list[Segment], path: Path, fps: int, key: str, slot: tuple[int, int]):
    """Stream copy: the kept packets' bytes, pts shifted so pieces follow each other. With
    ``step`` > 1 the kept packets keep their spacing (step source frames = one output frame)
    and every one of them must be a keyframe (else the file is re-encoded)."""
    rows = []
    ref: StreamProps | None = None
    with open_input(group[0].path) as tc:
        template = tc.streams.video[0]
        with av.open(str(path), "w", options={"movflags": "faststart"}) as out:
            ostream = out.add_stream_from_template(template=template, opaque=True)
            ostream.time_base = template.time_base
            offset = 0
            for seg in group:
                w = _packets(seg, fps)
                tb = w.stream.time_base
                try:
                    props = stream_props(w.stream)
                    if ref is None:
                        ref = props
                    packets = w.packets
                    if w.step > 1:
                        packets = [p for p in packets if w.kept(p.pts)]
                        if len(packets) != seg.piece.frames or not all(
                            p.is_keyframe for p in packets
                        ):
                            raise _NeedsReencode
                    if ref.differences(props) or not packets[0].is_keyframe:
                        raise _NeedsReencode
                    first = packets[0].pts if packets[0].pts is not None else w.lo
                    duration = w.tick * w.step
                    end = 0
                    for p in packets:
                        if p.pts is not None:
                            length = duration if w.step > 1 else (p.duration or w.tick)
                            end = max(end, p.pts - first + length)
                            p.pts = p.pts - first + offset
                        if p.dts is not None:
                            p.dts = p.dts - first + offset
                        if w.step > 1:
                            p.duration = duration
                        p.stream = ostream
                        out.mux(p)
                finally:
                    w.container.close()
                rows.append(_row(key, slot, offset * tb, end * tb))
                offset += end
    return rows


def _row(key: str, slot: tuple[int, int], start: Any, duration: Any) -> dict[str, Any]:
    return {
        f"videos/{key}/chunk_index": slot[0],
        f"videos/{key}/file_index": slot[1],
        f"videos/{key}/from_timestamp": float(start),
        f"videos/{key}/to_timestamp": float(start + duration),
    }


def _decode_all(w: _Window):
    """Every frame the window's packets decode to, the decoder's flush last."""
    for p in [*w.lead, *w.packets]:
        yield from p.decode()
    yield from w.stream.codec_context.decode(None)


def _reencode_file(
    group: list[Segment], path: Path, fps: int, out_fps: int, key: str, slot: tuple[int, int]
):
    """Decode each piece from its keyframe, keep its frames (every step-th with ``OP=fps``),
    encode them at ``out_fps``: the exact frames of the source's decode, once more compressed
    (only for files stream copy cannot make)."""
    rows = []
    with open_input(group[0].path) as tc:
        props = stream_props(video_stream(tc, group[0].path))
    name, options = _encoder_for(props.codec)
    written = 0
    with av.open(str(path), "w", options={"movflags": "faststart"}) as out:
        ostream = out.add_stream(name, rate=out_fps, options=options)
        ostream.width, ostream.height = props.width, props.height
        ostream.pix_fmt = props.pix_fmt or "yuv420p"
        for seg in group:
            w = _packets(seg, fps)
            span = seg.piece.stop - seg.piece.start
            first = written

            try:
                for frame in _decode_all(w):
                    if frame.pts is None or not 0 <= w.frame(frame.pts) < span:
                        continue
                    if not w.kept(frame.pts) or written - first >= seg.piece.frames:
                        continue
                    frame.pts = written
                    frame.time_base = ostream.codec_context.time_base
                    for q in ostream.encode(frame):
                        out.mux(q)
                    written += 1
            finally:
                w.container.close()
            if written - first != seg.piece.frames:
                raise EditError(
                    f"{seg.path}: episode {seg.piece.episode} decodes to {written - first} "
                    f"frames, its rows say {seg.piece.frames}"
                )
            rows.append(_row(key, slot, first / out_fps, seg.piece.frames / out_fps))
        for q in ostream.encode(None):
            out.mux(q)
    return rows, written


def write_camera(
    sources: list[Source],
    out: Output,
    key: str,
    root: Path,
    tick: Callable[[int], None] | None = None,
) -> CameraResult:
    """Write camera ``key`` of ``out`` under ``root/videos/<key>``; stream copy first."""
    layout = sources[out.pieces[0].source].layout
    fps = layout.fps
    out_fps = out.fps or fps
    mb = float(layout.info.get("video_files_size_in_mb") or DEFAULT_VIDEO_FILE_SIZE_IN_MB)
    result = CameraResult()
    chunk = file = 0
    for n, group in enumerate(_plan_files(_segments(sources, out, key), mb * MB)):
        if n:
            chunk, file = next_chunk_file(chunk, file, layout.chunks_size)
        path = root / VIDEO_PATH.format(video_key=key, chunk_index=chunk, file_index=file)
        path.parent.mkdir(parents=True, exist_ok=True)
        frames = sum(seg.piece.frames for seg in group)
        try:
            try:
                rows = _copy_file(group, path, fps, key, (chunk, file))
                result.copied += frames
            except _NeedsReencode:
                path.unlink(missing_ok=True)
                rows, written = _reencode_file(group, path, fps, out_fps, key, (chunk, file))
                result.reencoded += written
        except (av.FFmpegError, OSError) as exc:
            raise EditError(f"{path}: cannot write camera {key} ({exc})") from exc
        result.rows += rows
        if tick:
            tick(len(group))
    return result
