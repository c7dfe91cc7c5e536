"""Encode synthetic frames to mp4 the way the recorders did, and probe the result.

RGB cameras: LeRobot 0.3.3's ``encode_video_frames`` settings (libsvtav1 by default, yuv420p,
``g=2``, ``crf=30``; ``preset=12`` as LeRobot 0.6.1 uses, for speed), one mp4 per episode.

Depth cameras: LeRobot 0.6.1 is the first version that reads depth video, so we write what its
reader expects (``lerobot/datasets/depth_utils.py``, ``configs/video.py``): millimetre depth
(uint16) quantised on a log scale to 12-bit codes (depth_min 0.01 m, depth_max 10 m, shift
3.5 m, 0..4095), stored as ``gray12le`` in HEVC (libx265, ``lossless=1``, ``g=2``) - the
defaults of 0.6.1's ``DepthEncoderConfig``. Its reader decodes with ``to_ndarray("gray12le")``
and dequantises with the parameters recorded as ``video.depth_*`` in the feature info.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import av
import numpy as np

CRF = 30
GOP = 2
SVTAV1_PRESET = 12

DEPTH_CODEC = "hevc"
DEPTH_PIX_FMT = "gray12le"
DEPTH_MIN_M = 0.01
DEPTH_MAX_M = 10.0
DEPTH_SHIFT_M = 3.5
DEPTH_USE_LOG = True
DEPTH_QMAX = 4095
DEPTH_UNIT = "mm"


def _rgb_options(codec: str) -> dict[str, str]:
    options = {"g": str(GOP), "crf": str(CRF)}
    if codec == "libsvtav1":
        options["preset"] = str(SVTAV1_PRESET)
    return options


def _mux(path: Path, codec: str, fps: int, options: dict[str, str], pix_fmt: str, frames) -> None:
    av.logging.set_level(av.logging.ERROR)
    os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints its banner to stderr otherwise
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, fps, options=options)
        stream.pix_fmt = pix_fmt
        first = True
        for frame in frames:
            if first:
                stream.width, stream.height = frame.width, frame.height
                first = False
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def encode_rgb(path: Path, frames: list[np.ndarray], fps: int, codec: str) -> None:
    """Encode (h, w, 3) uint8 frames to ``path`` (yuv420p)."""
    _mux(
        path,
        codec,
        fps,
        _rgb_options(codec),
        "yuv420p",
        (av.VideoFrame.from_ndarray(f, format="rgb24") for f in frames),
    )


def quantize_depth_mm(depth_mm: np.ndarray) -> np.ndarray:
    """0.6.1's ``quantize_depth`` for uint16 millimetres with the default parameters."""
    d = depth_mm.astype(np.float32)
    shift = np.float32(DEPTH_SHIFT_M * 1000.0)
    log_min = math.log(float(np.float32(DEPTH_MIN_M * 1000.0) + shift))
    log_max = math.log(float(np.float32(DEPTH_MAX_M * 1000.0) + shift))
    norm = (np.log(d + shift) - log_min) / (log_max - log_min)
    return np.rint(norm * DEPTH_QMAX).clip(0, DEPTH_QMAX).astype(np.uint16)


def dequantize_depth_mm(codes: np.ndarray) -> np.ndarray:
    """Inverse of :func:`quantize_depth_mm` (as 0.6.1's ``dequantize_depth``), float32 mm."""
    log_min = math.log(DEPTH_MIN_M + DEPTH_SHIFT_M)
    log_max = math.log(DEPTH_MAX_M + DEPTH_SHIFT_M)
    metres = np.exp(codes.astype(np.float32) * ((log_max - log_min) / DEPTH_QMAX) + log_min)
    return np.rint(np.clip(metres - DEPTH_SHIFT_M, DEPTH_MIN_M, DEPTH_MAX_M) * 1000.0)


def _gray12_frame(codes: np.ndarray) -> av.VideoFrame:
    h, w = codes.shape
    frame = av.VideoFrame(w, h, DEPTH_PIX_FMT)
    plane = frame.planes[0]
    dst = np.frombuffer(plane, dtype=np.uint16).reshape(h, plane.line_size // 2)
    dst[:, :w] = codes
    return frame


def encode_depth(path: Path, frames_mm: list[np.ndarray], fps: int) -> None:
    """Encode (h, w) uint16 mm depth maps as 0.6.1 does (12-bit log codes, lossless HEVC)."""
    options = {"g": str(GOP), "crf": str(CRF), "x265-params": "lossless=1:log-level=error"}
    frames = (_gray12_frame(quantize_depth_mm(f)) for f in frames_mm)
    _mux(path, DEPTH_CODEC, fps, options, DEPTH_PIX_FMT, frames)


def _channels(pix_fmt: str) -> int:
    """0.3.3's ``get_video_pixel_channels``."""
    if "gray" in pix_fmt or "depth" in pix_fmt or "monochrome" in pix_fmt:
        return 1
    if "rgba" in pix_fmt or "yuva" in pix_fmt:
        return 4
    return 3


def probe(path: Path, *, depth: bool = False) -> dict[str, Any]:
    """The feature ``info`` block, as 0.3.3's ``get_video_info`` (plus 0.6.1 depth keys)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        info: dict[str, Any] = {
            "video.height": stream.height,
            "video.width": stream.width,
            "video.codec": stream.codec_context.codec.canonical_name,
            "video.pix_fmt": stream.codec_context.pix_fmt,
            "video.is_depth_map": depth,
            "video.fps": int(stream.base_rate.numerator / stream.base_rate.denominator),
            "video.channels": _channels(stream.codec_context.pix_fmt),
            "has_audio": bool(container.streams.audio),
        }
    if depth:
        info.update(
            {
                "is_depth_map": True,
                "depth_unit": DEPTH_UNIT,
                "video.depth_min": DEPTH_MIN_M,
                "video.depth_max": DEPTH_MAX_M,
                "video.shift": DEPTH_SHIFT_M,
                "video.use_log": DEPTH_USE_LOG,
            }
        )
    return info
