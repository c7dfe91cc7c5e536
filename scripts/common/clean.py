"""``make clean``: remove what the toolkit generated, and nothing else.

Why a fixed list: ``DATA_DIR`` is often the lab's data root (``/data/lerobot``) and ``.cache``
holds things people made by hand (``make calibrate`` writes the arm's calibration under
``.cache/huggingface/lerobot/calibration``), so "remove everything but ..." deletes whatever
nobody thought of. Only paths the toolkit is known to write go:
  - the sample, when it carries make_sample's ``meta/.lerobot-ops-sample.json``;
  - its conversion ``<sample>_v30``, when the converter's marker names the sample as its SRC;
  - the caches in ``GENERATED`` below (pytest/ruff caches, the .env translation, the
    validator bench's work tree, the local Slurm clusters, the datasets library's cache).
Everything else is kept: the calibration, imported weights and anything unknown, each named
with the reason. DATA_DIR itself is never removed. The plan is printed before anything goes.
Stdlib only: it runs before any environment exists.

Usage: python -m scripts.common.clean --sample DIR --repo DIR [--dry-run]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from scripts.convert.publish import read_marker

SAMPLE_MARKER = Path("meta") / ".lerobot-ops-sample.json"  # see scripts.sample.make
# Relative to the checkout: what the toolkit writes (Makefile, bench_validate, HF_DATASETS_CACHE).
GENERATED = (
    ".pytest_cache",
    ".ruff_cache",
    ".cache/dotenv.mk",
    ".cache/bench-validate",
    ".cache/slurm",  # make slurm-local's cluster (README: stop it first)
    ".cache/slurm-test-*",  # the tests' private clusters (tests/helpers/slurm_cluster.py)
    ".cache/huggingface/datasets",
)
# Kept on purpose, with the reason printed (the rest of .cache is kept as unknown).
KEPT = {
    ".cache/huggingface/lerobot/calibration": "the arm's calibration (make calibrate)",
    ".cache/huggingface/hub": "downloaded or imported weights",
    ".cache/weights": "imported weights (make weights-import)",
    ".cache/torch": "imported weights (torch hub)",
}


def _remove(path: Path) -> None:
    shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def _is_sample(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink() and (path / SAMPLE_MARKER).is_file()


def _is_sample_conversion(path: Path, sample: Path) -> bool:
    if not path.is_dir() or path.is_symlink():
        return False
    marker = read_marker(path)
    return marker is not None and Path(marker.src) == sample


def generated_data(sample: Path) -> tuple[list[Path], list[Path]]:
    """(generated paths to remove, existing paths that are kept because they are not ours)."""
    remove: list[Path] = []
    keep: list[Path] = []
    converted = sample.parent / f"{sample.name}_v30"
    for path, ours in ((converted, _is_sample_conversion(converted, sample)),
                       (sample, _is_sample(sample))):  # fmt: skip
        if ours:
            remove.append(path)
        elif _exists(path):
            keep.append(path)
    return remove, keep


def caches(repo: Path) -> tuple[list[Path], list[tuple[Path, str]]]:
    """(the toolkit's caches that exist, [(kept path under .cache, why)])."""
    remove = [p for rel in GENERATED for p in sorted(repo.glob(rel)) if _exists(p)]
    kept = [(repo / rel, why) for rel, why in KEPT.items() if _exists(repo / rel)]
    known = {*remove, *(repo / rel for rel in (*GENERATED, *KEPT))}
    # parents of known paths are not "unknown": their other entries are looked at one by one
    parents = {p for k in known for p in k.parents}
    todo = [repo / ".cache"]
    while todo:
        folder = todo.pop()
        if not folder.is_dir() or folder.is_symlink():
            continue
        for entry in sorted(folder.iterdir()):
            if entry in parents:
                todo.append(entry)
            elif entry not in known and not entry.name.startswith("dotenv.mk.tmp-"):
                kept.append((entry, "not known to be written by this toolkit"))
    return remove, kept


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="make clean", description=__doc__.splitlines()[0])
    p.add_argument("--sample", type=Path, required=True, help="the sample dataset's path")
    p.add_argument("--repo", type=Path, required=True, help="the toolkit's checkout")
    p.add_argument("--dry-run", action="store_true", help="say what would go, remove nothing")
    args = p.parse_args(argv)
    sample = Path(str(args.sample).rstrip("/") or "/").absolute()
    data, not_ours = generated_data(sample)
    cached, kept = caches(args.repo.absolute())
    remove = data + cached
    print(f"clean: {'would remove' if args.dry_run else 'removing'} {len(remove)} path(s):")
    for path in remove:
        print(f"  {path}")
    for path in not_ours:
        print(f"clean: kept {path}: not marked as generated by this toolkit (remove it yourself)")
    for path, why in kept:
        print(f"clean: kept {path}: {why}")
    if args.dry_run:
        return 0
    try:
        for path in remove:
            _remove(path)
            print(f"clean: removed {path}")
    except OSError as exc:
        print(f"clean: error: {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
