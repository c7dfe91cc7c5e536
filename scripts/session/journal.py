"""What a recording keeps beside the LeRobot files, and how it is read back (no LeRobot here).

Layout inside the dataset (``meta/`` so LeRobot and the validator ignore it):

    meta/.lerobot-ops-record.json            the marker: this folder is a recording of this
                                             toolkit (RESUME=1 and make repair accept only such)
    meta/.lerobot-ops-record/journal.jsonl   one line per committed episode, appended + fsynced
                                             *after* all its files were closed and fsynced:
                                             index, length, frame range, tasks, the sha256 of
                                             each of its files, the loop timing summary
    meta/.lerobot-ops-record/ticks/episode_NNNNNN.f64
                                             the real period of every tick (float64, seconds,
                                             little-endian): the loop timing truth
    meta/.lerobot-ops-record/partial/episode_NNNNNN.rows.jsonl
                                             the episode being recorded, one line per frame
                                             (deleted once committed): make repair SALVAGE=1
    meta/.lerobot-ops-record/info.json       meta/info.json as of the last committed episode
                                             (LeRobot rewrites info.json in place, not
                                             atomically: a kill can truncate it)

Why a journal: an episode counts as saved when its journal line exists; ``make repair``
trusts the files (footers, frame counts) and the journal says what they must hash to.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import time
from pathlib import Path
from typing import Any

MARKER = Path("meta") / ".lerobot-ops-record.json"
SIDE = Path("meta") / ".lerobot-ops-record"
JOURNAL = SIDE / "journal.jsonl"
TICKS = SIDE / "ticks"
INFO_SNAPSHOT = SIDE / "info.json"
PARTIAL = SIDE / "partial"
TOOL = "lerobot-ops record"


def fsync_path(path: Path) -> None:
    """fsync a file (or a directory entry) so a power cut cannot undo it."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """tmp + fsync + rename: the file is the old one or the complete new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_path(path.parent)


def sha256(path: Path) -> str:
    """Hex digest of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_marker(root: Path) -> dict | None:
    """The marker of a recording of this toolkit, or None (absent, unreadable, another tool)."""
    try:
        raw = json.loads((Path(root) / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return raw if isinstance(raw, dict) and raw.get("tool") == TOOL else None


def write_marker(root: Path, settings: dict[str, Any]) -> None:
    """Mark ``root`` as a recording (settings: robot, teleop, fps, codec, ...)."""
    body = {"tool": TOOL, "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **settings}
    atomic_write(Path(root) / MARKER, (json.dumps(body, indent=2) + "\n").encode())


def append(root: Path, record: dict) -> None:
    """Commit one episode: its line, appended and fsynced (a torn last line is ignored)."""
    path = Path(root) / JOURNAL
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(record, sort_keys=True) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def read(root: Path) -> list[dict]:
    """The committed episodes in order; a torn last line (killed mid-write) is skipped."""
    path = Path(root) / JOURNAL
    if not path.is_file():
        return []
    out = []
    for line in path.read_bytes().split(b"\n"):
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and "episode_index" in rec:
            out.append(rec)
    return out


def write_journal(root: Path, records: list[dict]) -> None:
    """The whole journal at once (repair writes the kept episodes' lines)."""
    body = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)
    atomic_write(Path(root) / JOURNAL, body.encode())


def ticks_path(root: Path, episode_index: int) -> Path:
    return Path(root) / TICKS / f"episode_{episode_index:06d}.f64"


def partial_rows(root: Path, episode_index: int) -> Path:
    """The row log of an episode being recorded (``writer``; ``salvage`` reads it)."""
    return Path(root) / PARTIAL / f"episode_{episode_index:06d}.rows.jsonl"


def write_ticks(root: Path, episode_index: int, periods: list[float]) -> Path:
    """The real period of every tick of an episode, float64 seconds."""
    path = ticks_path(root, episode_index)
    atomic_write(path, struct.pack(f"<{len(periods)}d", *periods))
    return path


def read_ticks(root: Path, episode_index: int) -> list[float]:
    """The periods ``write_ticks`` kept (empty when absent)."""
    path = ticks_path(root, episode_index)
    if not path.is_file():
        return []
    data = path.read_bytes()
    return list(struct.unpack(f"<{len(data) // 8}d", data[: len(data) // 8 * 8]))
