"""AV1 keyframes decoded by libdav1d directly, without importing PyAV.

Why: the camera screen (behaviour.frozen_camera) decodes two keyframes per episode and camera,
~20 ms for 240 small frames, but importing PyAV to do it costs 60-90 ms of CPU (it loads every
FFmpeg library and ~40 extension modules), which was most of the behavioural checks' cost on a
v3.0 dataset (docs/validate.md). PyAV's wheel carries libdav1d, the decoder PyAV itself uses for
AV1 (``DECODERS`` in video.py); loading that one file through ctypes costs ~2 ms.

Only the documented front of dav1d 1.x's public structs is read (``dav1d/picture.h``,
``dav1d/dav1d.h``; unchanged since 1.0): ``Dav1dSettings.n_threads`` / ``max_frame_delay`` and
``Dav1dPicture.data[0]``, ``stride[0]`` and ``p`` (w, h, layout, bpc). Everything else is left
to the library (``dav1d_default_settings``, ``dav1d_data_create``, ``dav1d_picture_unref``).
A library that is missing, older than 1.0, or gives a picture that is not 8-bit returns None,
and the caller decodes with PyAV as before; tests hold the lumas bit-identical to PyAV's.
"""

from __future__ import annotations

import ctypes
import importlib.util
import struct
from functools import cache
from pathlib import Path

import numpy as np

SETTINGS_BYTES = 1024  # sizeof(Dav1dSettings) is ~100 in 1.x; room to spare
DATA_BYTES = 256  # sizeof(Dav1dData): 72
PICTURE_BYTES = 1024  # sizeof(Dav1dPicture): ~270
PTR = ctypes.sizeof(ctypes.c_void_p)
DATA0 = 2 * PTR  # after seq_hdr, frame_hdr
STRIDE0 = DATA0 + 3 * PTR  # after data[3]
PARAMS = STRIDE0 + 2 * ctypes.sizeof(ctypes.c_ssize_t)  # after stride[2]: w, h, layout, bpc
PARAMS_FMT = struct.Struct("=4i")
POINTER_FMT = struct.Struct("@P")
SSIZE_T = struct.Struct("@n")
SIZE_T = struct.Struct("@N")
EAGAIN = -11  # DAV1D_ERR(EAGAIN) on Linux


def library_path() -> Path | None:
    """PyAV's bundled libdav1d (``av.libs/libdav1d-*.so*``), found without importing PyAV."""
    spec = importlib.util.find_spec("av")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        libs = Path(location).parent / "av.libs"
        found = sorted(libs.glob("libdav1d*.so*")) if libs.is_dir() else []
        if found:
            return found[0]
    return None


@cache
def _lib() -> ctypes.CDLL | None:
    path = library_path()
    if path is None:
        return None
    try:
        lib = ctypes.CDLL(str(path))
    except OSError:
        return None
    lib.dav1d_version.restype = ctypes.c_char_p
    version = (lib.dav1d_version() or b"0").decode("ascii", "replace")
    if not version.split(".")[0].isdigit() or int(version.split(".")[0]) < 1:
        return None  # 0.x had another Dav1dSettings
    lib.dav1d_default_settings.argtypes = [ctypes.c_void_p]
    lib.dav1d_open.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_void_p]
    lib.dav1d_close.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
    lib.dav1d_data_create.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    lib.dav1d_data_create.restype = ctypes.c_void_p
    lib.dav1d_data_unref.argtypes = [ctypes.c_void_p]
    lib.dav1d_send_data.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.dav1d_get_picture.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.dav1d_picture_unref.argtypes = [ctypes.c_void_p]
    return lib


def available() -> bool:
    return _lib() is not None


class Decoder:
    """One single-threaded dav1d decoder (frame delay 1: a keyframe in, its picture out).

    One sample in, one 8-bit picture out. A sample that gives no picture (an error, no shown
    frame) gives None; one that leaves data behind or a second picture gives its first (as
    PyAV's ``decode(packet)[0]``). Either way the next sample gets a fresh decoder, so no
    state leaks from one keyframe to another.
    """

    def __init__(self) -> None:
        lib = _lib()
        if lib is None:
            raise OSError("libdav1d >= 1.0 not found next to PyAV")
        self.lib = lib
        self.ctx = ctypes.c_void_p()
        self._data = ctypes.create_string_buffer(DATA_BYTES)  # zeroed again by each unref
        self._pic = ctypes.create_string_buffer(PICTURE_BYTES)
        self._extra = ctypes.create_string_buffer(PICTURE_BYTES)  # a second picture, if any
        self._open()

    def _open(self) -> None:
        settings = ctypes.create_string_buffer(SETTINGS_BYTES)
        self.lib.dav1d_default_settings(settings)
        ctypes.c_int.from_buffer(settings, 0).value = 1  # n_threads
        ctypes.c_int.from_buffer(settings, 4).value = 1  # max_frame_delay
        if self.lib.dav1d_open(ctypes.byref(self.ctx), settings) != 0:
            raise OSError("dav1d_open failed")

    def close(self) -> None:
        if self.ctx:
            self.lib.dav1d_close(ctypes.byref(self.ctx))

    def _reset(self) -> None:
        self.close()
        self._open()

    def luma(self, sample: bytes) -> np.ndarray | None:
        """The luma plane of one keyframe sample; None when it gives no 8-bit picture."""
        lib, data, pic = self.lib, self._data, self._pic
        dst = lib.dav1d_data_create(data, len(sample))
        if not dst:
            return None
        ctypes.memmove(dst, sample, len(sample))
        sent = lib.dav1d_send_data(self.ctx, data)
        got = lib.dav1d_get_picture(self.ctx, pic) if sent == 0 else sent
        left = SIZE_T.unpack_from(data, PTR)[0]  # Dav1dData.sz dav1d did not consume
        # a second picture from the same sample: not a clean state either
        if got == 0 and not left and lib.dav1d_get_picture(self.ctx, self._extra) == 0:
            lib.dav1d_picture_unref(self._extra)
            left = 1
        try:
            if got != 0:
                return None
            w, h, _layout, bpc = PARAMS_FMT.unpack_from(pic, PARAMS)
            (y,) = POINTER_FMT.unpack_from(pic, DATA0)
            (stride,) = SSIZE_T.unpack_from(pic, STRIDE0)
            if bpc != 8 or not y or w <= 0 or h <= 0 or stride < w:
                return None
            rows = np.frombuffer(ctypes.string_at(y, h * stride), np.uint8).reshape(h, stride)
            return rows[:, :w]  # a view of our own copy of the plane
        finally:
            if got == 0:
                lib.dav1d_picture_unref(pic)
            lib.dav1d_data_unref(data)  # frees what dav1d did not take; zeroes the struct
            if got != 0 or left:
                self._reset()
