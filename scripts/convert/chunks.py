"""How v3.0 files are numbered and sized: the one layout rule data, metadata and video all follow.

Its own module so that ``data`` (which writes the episode spools of ``metadata``) and
``metadata`` (which rolls its episode files over as ``data`` does) need not import each other.
"""

from __future__ import annotations

MB = 1024**2


def next_chunk_file(chunk: int, file: int, chunks_size: int) -> tuple[int, int]:
    """LeRobot's ``update_chunk_file_indices``: a chunk directory holds ``chunks_size`` files."""
    if file == chunks_size - 1:
        return chunk + 1, 0
    return chunk, file + 1
