"""Temp directory beside DST, leftovers of killed runs, the output's marker, the rename.

Why this shape: a conversion killed at any moment must leave no half-written DST. All output
goes to ``.<DST>.tmp-<pid>`` in DST's parent (same filesystem, so the final ``rename`` is
atomic). With ``--force`` an existing DST is renamed aside to ``.<DST>.old-<pid>`` first, the
new tree renamed in, and the old one deleted; a run killed between those two renames leaves
the old tree aside, and the next run puts it back before doing anything else.

Only a previous output of this converter may be replaced: every output carries
``meta/.lerobot-ops-convert.json`` (written into the temp tree, so it is published with it),
holding SRC's content fingerprint. An existing DST without it is someone's folder, and is
refused even with ``--force``. A symlinked DST is followed: the output lands where it points.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from scripts.convert.errors import ConversionError, os_error
from scripts.convert.fingerprint import FileTable, Fingerprint

MARKER = Path("meta") / ".lerobot-ops-convert.json"
MARKER_TOOL = "lerobot-ops convert"


@dataclass
class Output:
    """What a previous run recorded in its output's marker."""

    src: str
    fingerprint: str
    files: FileTable
    converted_at: str
    options: dict[str, object]  # what shapes the output besides SRC (file sizes, re-encode)
    converter: str  # digest of the converter's code that wrote it


def real_dst(dst: Path) -> Path:
    """DST with symlinks followed (a link's target is where the data must land)."""
    return Path(os.path.realpath(dst)) if dst.is_symlink() else dst


def read_marker(dst: Path) -> Output | None:
    """The marker of a converter output, or None when ``dst`` is not one."""
    try:
        raw = json.loads((dst / MARKER).read_text(encoding="utf-8"))
        if raw.get("tool") != MARKER_TOOL:
            return None
        files = {k: (int(v[0]), int(v[1]), str(v[2])) for k, v in raw["files"].items()}
        return Output(
            str(raw["src"]),
            str(raw["fingerprint"]),
            files,
            str(raw["converted_at"]),
            dict(raw.get("options") or {}),
            str(raw.get("converter", "")),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError):
        return None


def previous_output(dst: Path) -> Output | None:
    """None when DST does not exist; its marker when it is our output; else refuse."""
    if not (dst.exists() or dst.is_symlink()):
        return None
    out = read_marker(dst) if dst.is_dir() else None
    if out is None or not (dst / "meta" / "info.json").is_file():
        raise ConversionError(
            dst,
            f"exists and is not an output of this converter (no {MARKER}); not replacing it, "
            "even with --force: choose another DST or move it away",
        )
    return out


def converter_digest() -> str:
    """A digest of the converter's own code (scripts/convert/*.py): which converter wrote it."""
    h = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


def write_marker(tree: Path, src: Path, fp: Fingerprint, options: dict[str, object]) -> None:
    """Record SRC, its fingerprint and the options in the (still private) output tree."""
    body = {
        "tool": MARKER_TOOL,
        "src": str(src),
        "fingerprint": fp.digest,
        "converted_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "options": options,
        "converter": converter_digest(),
        "files": {k: list(v) for k, v in sorted(fp.files.items())},
    }
    try:
        (tree / MARKER).write_text(json.dumps(body, separators=(",", ":")), encoding="utf-8")
    except OSError as exc:
        raise os_error(exc, tree / MARKER) from exc


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _owner_pid(path: Path, tag: str) -> int | None:
    try:
        return int(path.name.rsplit(f".{tag}-", 1)[1])
    except (IndexError, ValueError):
        return None


def temp_path(dst: Path, tag: str = "tmp", pid: int | None = None) -> Path:
    return dst.parent / f".{dst.name}.{tag}-{os.getpid() if pid is None else pid}"


def recover(dst: Path) -> list[str]:
    """Clean up after killed runs; return one line per thing done (for the summary)."""
    notes: list[str] = []
    parent = dst.parent
    if not parent.is_dir():
        return notes
    for old in sorted(parent.glob(f".{dst.name}.old-*")):
        pid = _owner_pid(old, "old")
        if pid is not None and pid != os.getpid() and _pid_alive(pid):
            continue
        if not dst.exists():
            old.rename(dst)
            notes.append(f"restored {dst} from an interrupted --force run")
        else:
            shutil.rmtree(old, ignore_errors=True)
            notes.append(f"removed {old.name} left by an interrupted run")
    for tmp in sorted(parent.glob(f".{dst.name}.tmp-*")):
        pid = _owner_pid(tmp, "tmp")
        if pid is not None and pid != os.getpid() and _pid_alive(pid):
            raise ConversionError(tmp, f"another conversion (pid {pid}) is writing this DST")
        shutil.rmtree(tmp, ignore_errors=True)
        notes.append(f"removed {tmp.name} left by an interrupted run")
    return notes


def make_temp(dst: Path) -> Path:
    """Create the private temp directory beside DST (naming DST's parent when not writable)."""
    parent = dst.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConversionError(parent, f"cannot create DST's parent ({exc.strerror})") from exc
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConversionError(parent, "not writable (DST is created beside it)")
    tmp = temp_path(dst)
    try:
        tmp.mkdir()
    except OSError as exc:
        raise os_error(exc, tmp) from exc
    return tmp


def publish(tmp: Path, dst: Path, force: bool, hook=None) -> None:
    """Rename ``tmp`` to ``dst``; with ``force``, swap out a previous output safely."""
    if dst.exists() or dst.is_symlink():
        previous_output(dst)  # checked again: DST may have appeared while converting
        if not force:
            raise ConversionError(dst, "already exists; pass --force to replace it")
        old = temp_path(dst, "old")
        dst.rename(old)
        if hook:
            hook("between-renames")
        tmp.rename(dst)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(dst)


def discard(tmp: Path | None) -> None:
    if tmp is not None and tmp.exists():
        shutil.rmtree(tmp, ignore_errors=True)
