"""Arrow -> numpy without pandas.

pyarrow's ``to_numpy`` and ``pq.read_table`` import pandas (~2-5 s here when bytecode is not
cached, more than the whole validation of a small dataset). The validator only needs flat
numeric buffers, so it reads them directly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_NP = {
    "halffloat": np.float16,
    "float": np.float32,
    "double": np.float64,
    "int8": np.int8,
    "int16": np.int16,
    "int32": np.int32,
    "int64": np.int64,
    "uint8": np.uint8,
    "uint16": np.uint16,
    "uint32": np.uint32,
    "uint64": np.uint64,
}


def flatten_lists(arr: Any) -> Any:
    """Peel (fixed-size) list layers off an arrow array, keeping the values in row order."""
    import pyarrow as pa

    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    while (
        pa.types.is_fixed_size_list(arr.type)
        or pa.types.is_list(arr.type)
        or pa.types.is_large_list(arr.type)
    ):
        arr = arr.flatten()
    return arr


def to_numpy(arr: Any) -> np.ndarray:
    """A primitive arrow (chunked) array as a numpy array; nulls become NaN (floats) or
    the value -1 promoted to float64 for integers, so they are visible to the checks."""
    import pyarrow as pa

    arr = flatten_lists(arr)
    name = str(arr.type)
    if pa.types.is_boolean(arr.type):
        bits = np.frombuffer(arr.buffers()[1], dtype=np.uint8)
        out = np.unpackbits(bits, bitorder="little")[arr.offset : arr.offset + len(arr)]
        return out.astype(bool)
    if name not in _NP:
        return np.asarray(arr.to_pylist(), dtype=np.float64)
    dtype = np.dtype(_NP[name])
    data = arr.buffers()[1]
    if data is None or len(arr) == 0:
        return np.zeros(0, dtype=dtype)
    out = np.frombuffer(data, dtype=dtype, count=arr.offset + len(arr))[arr.offset :]
    if arr.null_count:
        valid_bits = np.frombuffer(arr.buffers()[0], dtype=np.uint8)
        valid = np.unpackbits(valid_bits, bitorder="little")[arr.offset : arr.offset + len(arr)]
        out = out.astype(np.float64)
        out[valid == 0] = np.nan
    return out
