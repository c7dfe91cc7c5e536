"""Small pieces of the tiny real media files the video tests write with PyAV.

Why here: the converter's and the validator's video tests both write audio tracks (mp4/mkv
with AAC beside the video, audio-only files) to show that only the video stream is read.
"""

from __future__ import annotations

import av
import numpy as np


def silence(rate: int, pts: int) -> av.AudioFrame:
    """1,024 samples of mono silence at ``rate`` Hz (one AAC frame), stamped ``pts``."""
    frame = av.AudioFrame.from_ndarray(
        np.zeros((1, 1024), dtype=np.float32), format="fltp", layout="mono"
    )
    frame.sample_rate, frame.pts = rate, pts
    return frame


def mux(out: av.container.OutputContainer, stream: av.stream.Stream, frame=None) -> None:
    """Encode ``frame`` (None: flush the encoder) and write its packets."""
    for packet in stream.encode(frame):
        out.mux(packet)


def keyframe_samples(path):
    """(the MP4's sample-table index, the bytes of each keyframe sample in file order)."""
    from validators.mp4_index import read_video_index

    index = read_video_index(path)
    keys = np.flatnonzero(index.sync)
    with open(path, "rb") as fh:
        out = []
        for k in keys:
            fh.seek(int(index.offsets[k]))
            out.append(fh.read(int(index.sizes[k])))
    return index, out
