"""validators.dav1d on tiny real AV1 files PyAV writes here (fast; the LeRobot-recorded files
are compared in test_validate_behaviour.py): the library is the one PyAV decodes with, a
sample holding two pictures leaves no state behind, and a 10-bit picture is refused (None)
so the camera screen falls back to PyAV."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from helpers.tiny_av import keyframe_samples as samples
from helpers.tiny_av import mux

from validators import dav1d
from validators.video import KeyframeDecoder


def write_av1(path: Path, pix_fmt: str = "yuv420p", n: int = 6) -> Path:
    """``n`` frames, each a keyframe (gop 1), a different picture each."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libsvtav1", rate=30, options={"g": "1", "preset": "12"})
        stream.width, stream.height, stream.pix_fmt = 64, 48, pix_fmt
        rng = np.random.default_rng(0)
        for i in range(n):
            rgb = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) // (i + 1)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=pix_fmt)
            frame.pts = i
            mux(out, stream, frame)
        mux(out, stream)
    return path


def test_it_is_the_libdav1d_pyav_decodes_with(tmp_path: Path) -> None:
    path = write_av1(tmp_path / "a.mp4")
    index, data = samples(path)
    ref = KeyframeDecoder()._pyav("av1", index.config, data)  # PyAV loads its libdav1d now
    assert all(r is not None for r in ref)
    maps = Path("/proc/self/maps").read_text().splitlines()
    mapped = {Path(ln.split()[-1]).resolve() for ln in maps if "libdav1d" in ln}  # a venv link
    assert mapped == {dav1d.library_path().resolve()}, mapped
    assert dav1d.available()


def test_a_sample_with_two_pictures_gives_the_first_and_no_leftover(tmp_path: Path) -> None:
    index, data = samples(write_av1(tmp_path / "a.mp4"))
    ref = KeyframeDecoder()._pyav("av1", index.config, data)
    dec = dav1d.Decoder()
    first = dec.luma(data[1] + data[2])  # dav1d takes the first temporal unit, keeps the rest
    assert np.array_equal(first, ref[1])
    for sample, want in zip(data, ref, strict=True):  # the leftover was dropped, not decoded
        assert np.array_equal(dec.luma(sample), want)
    dec.close()


def test_a_10_bit_picture_is_refused_and_pyav_decodes_it(tmp_path: Path) -> None:
    try:
        path = write_av1(tmp_path / "ten.mp4", "yuv420p10le", n=3)
    except (av.FFmpegError, ValueError) as e:  # an encoder build without 10-bit
        pytest.skip(f"libsvtav1 here cannot write 10-bit: {e}")
    index, data = samples(path)
    dec = dav1d.Decoder()
    assert [dec.luma(s) for s in data] == [None, None, None]
    keys = np.flatnonzero(index.sync)
    offsets, sizes = [int(index.offsets[k]) for k in keys], [int(index.sizes[k]) for k in keys]
    got = KeyframeDecoder().lumas(path, "av1", index.config, offsets, sizes)
    assert all(g is not None for g in got)  # from PyAV, as before
