"""How the unchanged files of a dataset get into the corrected copy: reflink, copy or hard link.

Why not hard links by default: a hard link *is* the original file, so any tool that rewrites
a file of the copy in place (``open(path, "r+b")``, a truncating save) rewrites the user's
original dataset too. The default is therefore an independent file: a reflink (``FICLONE``,
copy-on-write; free on btrfs/XFS/bcachefs) where the filesystem has it, else a real copy.

Hard links only on request (``LINK=1`` / ``--link``): then the linked files are made read-only
(``chmod a-w``) once the copy is complete, so an in-place rewrite fails with PermissionError
instead of corrupting the source. A mode belongs to the file, not the name: the original's
files become read-only too, and the tool says so. As root, read-only stops nothing (root
writes regardless), so ``--link`` is refused there; see ``read_only_protects``.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

FICLONE = 0x40049409  # linux/fs.h: _IOW(0x94, 9, int)
# errnos meaning "this filesystem (pair) cannot clone/link", after which a copy is right
NO_CLONE = {errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EINVAL, errno.ENOTTY, errno.EPERM}
NO_LINK = {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP}
READ_ONLY = "hard link, read-only"


@dataclass
class Cloner:
    """Puts one file at a time into the copy; remembers per method what it did."""

    link: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    linked: list[Path] = field(default_factory=list)
    _reflink_ok: bool = True  # false after the first refusal: the filesystem has no reflink

    def put(self, src: Path, dst: Path) -> None:
        """``dst`` (absent) gets ``src``'s bytes, mode and times by the best allowed method."""
        if self.link and self._hard_link(src, dst):
            method = READ_ONLY
        elif self._reflink_ok and self._reflink(src, dst):
            method = "reflink"
        else:
            shutil.copyfile(src, dst)
            method = "copy"
        if method != READ_ONLY:
            shutil.copystat(src, dst)
        self.counts[method] = self.counts.get(method, 0) + 1

    def _hard_link(self, src: Path, dst: Path) -> bool:
        try:
            os.link(src, dst)
        except OSError as exc:
            if exc.errno not in NO_LINK:
                raise
            return False
        self.linked.append(dst)
        return True

    def _reflink(self, src: Path, dst: Path) -> bool:
        with open(src, "rb") as s, open(dst, "xb") as d:
            try:
                fcntl.ioctl(d.fileno(), FICLONE, s.fileno())
                return True
            except OSError as exc:
                if exc.errno not in NO_CLONE:
                    raise
        self._reflink_ok = False
        dst.unlink()  # the empty file the attempt created; copyfile writes it anew
        return False

    def seal(self) -> None:
        """``chmod a-w`` every hard-linked file (and so its original: the same inode)."""
        for path in self.linked:
            mode = stat.S_IMODE(path.stat().st_mode)
            path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))

    def summary(self) -> str:
        """``copied N files (reflink)``, or per method when they were mixed."""
        total = sum(self.counts.values())
        if len(self.counts) <= 1:
            return f"copied {total} files ({next(iter(self.counts), 'copy')})"
        parts = "; ".join(f"{m}: {n}" for m, n in sorted(self.counts.items()))
        return f"copied {total} files ({parts})"


def read_only_protects(folder: Path) -> bool:
    """Whether this process is stopped by a read-only file in ``folder`` (tried, not guessed).

    Why try: root (CAP_DAC_OVERRIDE) writes a read-only file without a complaint, and some
    mounts ignore modes; a uid check would miss a root without the capability or a user on
    such a mount. The probe file lives in ``folder`` (the staging copy) and is removed.
    """
    probe = folder / ".read-only-probe"
    probe.write_bytes(b"")
    probe.chmod(0o444)
    try:
        with open(probe, "r+b"):
            return False
    except PermissionError:
        return True
    finally:
        probe.unlink()


LINK_REFUSED = (
    "LINK=1: this process writes read-only files anyway (root), so a rewrite in the copy "
    "would change DATASET; run as a normal user, or without LINK=1 (a real copy)"
)
