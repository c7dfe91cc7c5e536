"""A dataset's content fingerprint: file names, sizes and a hash of each file's bytes.

Why: "is this output still a conversion of that source?" must be answered by content, not by
existence or by dates (labs re-record and fix datasets in place, and copy them around). Hashing
every byte each time would cost a second full read of the source, so the hash of a file whose
size and mtime are what a previous fingerprint recorded is taken from that record: only what
changed is read ("cheap"). ``make convert`` keeps the record in its output
(``meta/.lerobot-ops-convert.json``, see ``publish``) and nightly reuses the same record.

Hidden entries (``.git``, ``.DS_Store``, macOS AppleDouble ``._*`` files) are not part of a
dataset and are left out.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from scripts.convert.errors import ConversionError, os_error
from validators.dataset_format import is_hidden

# rel path -> (size, mtime_ns, sha256 hex)
FileTable = dict[str, tuple[int, int, str]]
CHUNK = 1 << 20


@dataclass
class Fingerprint:
    digest: str
    files: FileTable = field(default_factory=dict)
    hashed: int = 0  # files actually read (the rest came from the previous record)

    def changed_files(self, other: FileTable) -> list[str]:
        """Names that differ from ``other`` (added, removed or another content)."""
        mine = {k: (v[0], v[2]) for k, v in self.files.items()}
        theirs = {k: (v[0], v[2]) for k, v in other.items()}
        return sorted(k for k in mine.keys() | theirs.keys() if mine.get(k) != theirs.get(k))


def stat_tree(root: Path) -> dict[str, tuple[int, int]]:
    """rel path -> (size, mtime_ns) of every regular file under ``root``, hidden ones skipped."""
    out: dict[str, tuple[int, int]] = {}

    def fail(exc: OSError) -> None:
        raise os_error(exc, root)

    for top, dirs, files in os.walk(root, onerror=fail):
        dirs[:] = sorted(d for d in dirs if not is_hidden(d))
        for name in files:
            if is_hidden(name):
                continue
            path = os.path.join(top, name)
            try:
                st = os.stat(path)
            except OSError as exc:
                raise os_error(exc, path) from exc
            if not os.path.isfile(path):
                continue
            out[os.path.relpath(path, root)] = (st.st_size, st.st_mtime_ns)
    return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(CHUNK):
                h.update(chunk)
    except OSError as exc:
        raise os_error(exc, path) from exc
    return h.hexdigest()


def _readable(path: Path) -> None:
    """Open and close: permissions are reported as such here, not as "damaged" later."""
    try:
        os.close(os.open(path, os.O_RDONLY))
    except OSError as exc:
        raise os_error(exc, path) from exc


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """:func:`stat_tree`, with every file opened once: what a fingerprint hashed later must
    match, and an unreadable file named now, as :func:`compute` would (no read of the bytes)."""
    if not root.is_dir():
        raise ConversionError(root, "no such directory")
    table = stat_tree(root)
    for rel in table:
        _readable(root / rel)
    return table


def _digest(files: FileTable) -> str:
    h = hashlib.sha256()
    for rel in sorted(files):
        size, _, sha = files[rel]
        h.update(f"{rel}\0{size}\0{sha}\n".encode())
    return h.hexdigest()


def compute(root: Path, known: FileTable | None = None) -> Fingerprint:
    """Fingerprint ``root``; files whose (size, mtime) match ``known`` are not re-read."""
    if not root.is_dir():
        raise ConversionError(root, "no such directory")
    known = known or {}
    files: FileTable = {}
    hashed = 0
    for rel, (size, mtime) in stat_tree(root).items():
        prev = known.get(rel)
        if prev is not None and prev[0] == size and prev[1] == mtime:
            _readable(root / rel)  # not re-read, but an unreadable file is named now
            files[rel] = (size, mtime, prev[2])
        else:
            files[rel] = (size, mtime, _sha256(root / rel))
            hashed += 1
    return Fingerprint(_digest(files), files, hashed)


def stats_of(fp: Fingerprint) -> dict[str, tuple[int, int]]:
    """rel path -> (size, mtime_ns) as ``fp`` saw them (the shape of :func:`stat_tree`)."""
    return {k: (v[0], v[1]) for k, v in fp.files.items()}


def first_difference(a: dict[str, tuple[int, int]], b: dict[str, tuple[int, int]]) -> str | None:
    """The first path (sorted) added, removed or with another size/mtime; None if equal."""
    for rel in sorted(a.keys() | b.keys()):
        if a.get(rel) != b.get(rel):
            return rel
    return None


def unchanged_since(root: Path, fp: Fingerprint) -> str | None:
    """None when every file still has the size and mtime ``fp`` saw; else the first that moved."""
    return first_difference(stat_tree(root), stats_of(fp))
