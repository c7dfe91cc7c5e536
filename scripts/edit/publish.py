"""Temp folder beside DST, the output marker, FORCE=1, the final rename.

The converter's machinery (``scripts.convert.publish``: ``.<DST>.tmp-<pid>`` beside DST on the
same filesystem, leftovers of killed runs cleaned up, the old tree swapped aside and deleted
only after the new one is in) with this tool's own marker, ``DST/.lerobot-ops-edit.json``
(at the root, because a split's DST holds several datasets). An existing DST is replaced only
with FORCE=1 and only when it is a previous output of this toolkit (an edit's marker or the
converter's): anything else is someone's folder and refused even with FORCE=1. DST may never
be a source or lie inside one, nor hold one: LeRobot's editor works in place and then deletes
its own ``_old`` backup (#2712); here there is nothing in place to lose.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from scripts.convert import publish as convert_publish
from scripts.convert.errors import ConversionError
from scripts.edit.errors import EditError

MARKER = ".lerobot-ops-edit.json"
MARKER_TOOL = "lerobot-ops edit"


def is_ours(dst: Path) -> bool:
    """An output of ``make edit`` (its marker) or of ``make convert`` (the converter's)."""
    try:
        if json.loads((dst / MARKER).read_text()).get("tool") == MARKER_TOOL:
            return True
    except (OSError, ValueError, AttributeError):
        pass
    return convert_publish.read_marker(dst) is not None


def check_paths(dst: Path, sources: list[Path], force: bool) -> None:
    """Refuse a DST that is, holds or lies in a source, or that is not ours to replace."""
    real = Path(os.path.realpath(dst))
    for src in sources:
        s = Path(os.path.realpath(src))
        if real == s or s in real.parents or real in s.parents:
            raise EditError(
                f"DST={dst}: is, holds or lies inside the source {src}; sources are never "
                "modified, choose a new folder"
            )
    if dst.exists() or dst.is_symlink():
        if not dst.is_dir() or not is_ours(dst):
            raise EditError(
                f"DST={dst}: exists and is not an output of this toolkit (no {MARKER}); not "
                "replacing it, even with FORCE=1"
            )
        if not force:
            raise EditError(f"DST={dst}: exists (a previous make edit output); FORCE=1 replaces it")


def start(dst: Path) -> Path:
    """Clean up after killed runs, then create the private temp folder beside DST."""
    try:
        convert_publish.recover(dst)
        return convert_publish.make_temp(dst)
    except ConversionError as exc:
        raise EditError(str(exc)) from exc


def write_marker(tmp: Path, op: str, sources: list[Path], knobs: dict[str, str]) -> None:
    body = {
        "tool": MARKER_TOOL,
        "op": op,
        "sources": [str(s) for s in sources],
        "knobs": knobs,
        "edited_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    (tmp / MARKER).write_text(json.dumps(body, indent=1), encoding="utf-8")


def publish(tmp: Path, dst: Path, sources: list[Path], force: bool, hook=None) -> None:
    """Rename ``tmp`` to ``dst``; with ``force``, the old output goes aside first, then away."""
    check_paths(dst, sources, force)  # again: DST may have appeared meanwhile
    dst = convert_publish.real_dst(dst)
    if dst.exists():
        old = convert_publish.temp_path(dst, "old")
        dst.rename(old)
        if hook:
            hook("edit-between-renames")
        tmp.rename(dst)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(dst)


discard = convert_publish.discard
