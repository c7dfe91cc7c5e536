"""A private copy of the toolkit's front door, for tests that run real `make` with a `.env`.

Why: several people (and CI jobs) share one working tree; a test must never write the shared
checkout's `.env` or `data/`. The copy holds the Makefile and the code make runs, with `envs`
symlinked to the real (already built) environments, so `make` there behaves exactly as in the
checkout, at no build cost.
"""

from __future__ import annotations

import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
COPIED = ("Makefile", "scripts", "validators", "recipes", "bin", "pyproject.toml", ".env.example")
COPIED += (".envrc",)


def repo_copy(where: Path) -> Path:
    """Copy the front door into ``where`` (created) and return it."""
    where.mkdir(parents=True)
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in COPIED:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, where / name, ignore=skip, symlinks=True)
        elif src.exists():
            shutil.copy2(src, where / name)
    (where / "envs").symlink_to(REPO / "envs")
    return where
