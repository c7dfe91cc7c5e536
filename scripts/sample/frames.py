"""Synthetic camera frames that say who they are.

Each frame is a smooth gradient with a moving square (so codecs behave like on real footage)
plus a barcode in the top 16 rows: band 0 (rows 0-7) holds ``episode_index``, band 1 (rows
8-15) holds ``frame_index``. Converter tests decode a frame from the output video and call
:func:`decode_barcode` to prove the right frame landed at the right timestamp.

A band is 12 equal cells: a start cell that is always "high", 10 data bits (MSB first) and an
end cell that is always "low"; the threshold is the midpoint of the two guard cells, so the
same decoder works on RGB (0/255), raw depth in mm (400/4000) and dequantised depth in metres.
"""

from __future__ import annotations

import numpy as np

BAND_ROWS = 8
CELLS = 12
DATA_BITS = 10
RGB_LOW, RGB_HIGH = 0, 255
DEPTH_LOW_MM, DEPTH_HIGH_MM = 400, 4000


def _bits(value: int) -> list[int]:
    return [1, *[(value >> (DATA_BITS - 1 - i)) & 1 for i in range(DATA_BITS)], 0]


def _barcode_mask(width: int, episode_index: int, frame_index: int) -> np.ndarray:
    """(16, width) bool mask: True where the barcode is 'high'."""
    cell = width // CELLS
    mask = np.zeros((2 * BAND_ROWS, width), dtype=bool)
    for band, value in enumerate((episode_index, frame_index)):
        for i, bit in enumerate(_bits(value)):
            if bit:
                mask[band * BAND_ROWS : (band + 1) * BAND_ROWS, i * cell : (i + 1) * cell] = True
    return mask


def _square(h: int, w: int, frame_index: int, episode_index: int) -> tuple[slice, slice]:
    size = max(4, h // 4)
    span_x, span_y = max(1, w - size), max(1, h - 2 * BAND_ROWS - size)
    x = (3 * frame_index + 11 * episode_index) % span_x
    y = 2 * BAND_ROWS + (2 * frame_index + 7 * episode_index) % span_y
    return slice(y, y + size), slice(x, x + size)


def rgb_frame(h: int, w: int, episode_index: int, frame_index: int, camera_seed: int) -> np.ndarray:
    """One (h, w, 3) uint8 RGB frame; a pure function of its arguments."""
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.empty((h, w, 3), dtype=np.uint8)
    img[..., 0] = (20 + 200 * xx / max(1, w - 1)).astype(np.uint8)
    img[..., 1] = (20 + 200 * yy / max(1, h - 1)).astype(np.uint8)
    img[..., 2] = (40 + (camera_seed * 37 + episode_index * 23 + frame_index) % 160) & 0xFF
    sy, sx = _square(h, w, frame_index, episode_index)
    img[sy, sx] = ((episode_index * 67 + 90) % 256, (camera_seed * 53 + 30) % 256, 230)
    mask = _barcode_mask(w, episode_index, frame_index)
    img[: 2 * BAND_ROWS] = np.where(mask[..., None], RGB_HIGH, RGB_LOW).astype(np.uint8)
    return img


def depth_frame(h: int, w: int, episode_index: int, frame_index: int) -> np.ndarray:
    """One (h, w) uint16 depth map in millimetres (what a RealSense-style camera returns)."""
    yy, xx = np.mgrid[0:h, 0:w]
    depth = (800 + 1700 * yy / max(1, h - 1) + 200 * xx / max(1, w - 1)).astype(np.uint16)
    sy, sx = _square(h, w, frame_index, episode_index)
    depth[sy, sx] = 600
    mask = _barcode_mask(w, episode_index, frame_index)
    depth[: 2 * BAND_ROWS] = np.where(mask, DEPTH_HIGH_MM, DEPTH_LOW_MM).astype(np.uint16)
    return depth


def decode_barcode(frame: np.ndarray) -> tuple[int, int]:
    """Return ``(episode_index, frame_index)`` from a decoded frame.

    Accepts HWC RGB (uint8 or float), CHW, or single-channel depth ((h, w), (h, w, 1), (1, h, w)).
    """
    arr = np.asarray(frame, dtype=np.float64)
    if arr.ndim == 3 and arr.shape[0] in (1, 3) and arr.shape[2] not in (1, 3):
        arr = np.moveaxis(arr, 0, -1)
    if arr.ndim == 3:
        arr = arr.mean(axis=2)
    w = arr.shape[1]
    cell = w // CELLS
    values = []
    for band in range(2):
        rows = arr[band * BAND_ROWS + 2 : (band + 1) * BAND_ROWS - 2]
        cells = [
            rows[:, i * cell + cell // 4 : (i + 1) * cell - cell // 4].mean() for i in range(CELLS)
        ]
        threshold = (cells[0] + cells[-1]) / 2
        bits = [int(c > threshold) for c in cells[1:-1]]
        values.append(int("".join(map(str, bits)), 2))
    return values[0], values[1]
