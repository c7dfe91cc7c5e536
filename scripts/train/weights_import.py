"""``make weights-import FROM=<dir or archive>``: put model weights where training looks offline.

Why: labs without internet carry weights in on a disk. Each kind of file has one place where
LeRobot (or torch, or transformers) looks for it, and the launcher's preflight checks exactly
those places:
  torchvision checkpoints (``resnet18-f37072fd.pth``)  -> $TORCH_HOME/hub/checkpoints/
  Hugging Face cache repos (``models--org--name/``)     -> $HF_HOME/hub/ (e.g. PI0's tokenizer)
  policy dirs (config.json with "type": smolvla, pi0)   -> $WEIGHTS_DIR/<type>_base (or --name)
  VLM dirs (config.json with "model_type": smolvlm)     -> $WEIGHTS_DIR/<dir name> (or --name)
Archives (.tar, .tar.gz, .tgz, .zip) are unpacked to a temp dir first. Copies go to a temp
name beside the destination and are renamed at the end; an existing destination is kept
(use --force to replace it; the old one is renamed to <name>.prev-<time>, not deleted).

Usage: python -m scripts.train.weights_import FROM [--name NAME] [--force]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import sys
import tarfile
import tempfile
import time
import zipfile
import zlib
from pathlib import Path

from scripts.train.preflight import hf_hub_cache, torch_home, weights_dir

TORCHVISION_FILE = re.compile(r"^[a-z0-9_]+-[0-9a-f]{8}\.pth$")
POLICY_NAMES = {"smolvla": "smolvla_base", "pi0": "pi0_base", "pi05": "pi05_base"}


class ImportFailed(Exception):
    """One line for the user; the exit code is 2."""


VERIFY_HASH = True  # --no-verify: a home-made checkpoint under torchvision's name (tests)


def check_torchvision_hash(path: Path) -> None:
    """torchvision names its files ``<name>-<first 8 hex of the sha256>.pth``: check it."""
    want = path.stem.rsplit("-", 1)[1]
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
    except OSError as exc:
        raise ImportFailed(f"{path}: {(exc.strerror or str(exc)).lower()}") from exc
    if not digest.hexdigest().startswith(want):
        raise ImportFailed(
            f"{path}: content does not match the hash in its name ({want}; sha256 "
            f"{digest.hexdigest()[:8]}): damaged or not the real file"
        )


def classify(path: Path, name: str | None) -> tuple[str, Path] | None:
    """(kind, destination) for a file or directory, or None when it is not recognised."""
    if path.is_file() and TORCHVISION_FILE.match(path.name):
        if VERIFY_HASH:
            check_torchvision_hash(path)
        return "torchvision checkpoint", torch_home() / "hub" / "checkpoints" / path.name
    if path.is_dir() and path.name.startswith("models--"):
        return "Hugging Face cache repo", hf_hub_cache() / path.name
    if path.is_dir() and (path / "config.json").is_file():
        try:
            cfg = json.loads((path / "config.json").read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ImportFailed(f"{path / 'config.json'}: not valid JSON ({exc})") from exc
        if cfg.get("type") in POLICY_NAMES or "input_features" in cfg:
            default = POLICY_NAMES.get(cfg.get("type"), path.name)
            return f"{cfg.get('type')} policy", weights_dir() / (name or default)
        if cfg.get("model_type"):
            return f"{cfg['model_type']} model", weights_dir() / (name or path.name)
    return None


def candidates(root: Path, name: str | None) -> list[tuple[str, Path, Path]]:
    """Recognised items at ``root`` itself, or one and two levels below it (hub/models--*)."""
    found = classify(root, name)
    if found:
        return [(found[0], root, found[1])]
    out = []
    for child in sorted(root.iterdir()) if root.is_dir() else []:
        hit = classify(child, None)
        if hit:
            out.append((hit[0], child, hit[1]))
        elif child.is_dir():
            for grand in sorted(child.iterdir()):
                hit = classify(grand, None)
                if hit:
                    out.append((hit[0], grand, hit[1]))
    return out


def place(src: Path, dest: Path, force: bool) -> str:
    """Copy ``src`` to ``dest`` via a temp name; returns what happened, in words."""
    if dest.exists() and not force:
        return f"kept existing {dest} (use --force / FORCE=1 to replace)"
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.importing")
    if tmp.exists():
        shutil.rmtree(tmp) if tmp.is_dir() else tmp.unlink()
    if src.is_dir():
        shutil.copytree(src, tmp, symlinks=False)
    else:
        shutil.copy2(src, tmp)
    note = ""
    if dest.exists():
        old = dest.with_name(f"{dest.name}.prev-{time.strftime('%Y%m%d-%H%M%S')}")
        dest.rename(old)
        note = f" (previous kept as {old.name})"
    tmp.rename(dest)
    return f"{src} -> {dest}{note}"


def unpack(archive: Path, into: Path) -> Path:
    """Extract an archive safely (no absolute paths or '..') into ``into``."""
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                for member in zf.namelist():
                    if member.startswith("/") or ".." in Path(member).parts:
                        raise ImportFailed(f"{archive}: unsafe path {member} in archive")
                zf.extractall(into)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf:
                tf.extractall(into, filter="data")
        else:
            raise ImportFailed(f"FROM={archive}: not a directory, .pth file, tar or zip archive")
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, OSError) as exc:
        if isinstance(exc, OSError) and exc.strerror:
            raise ImportFailed(f"{archive}: {exc.strerror.lower()}") from exc
        raise ImportFailed(f"{archive}: truncated or damaged archive ({exc})") from exc
    return into


def run(src: Path, name: str | None, force: bool) -> list[str]:
    if not src.exists():
        raise ImportFailed(f"FROM={src}: no such file or directory")
    with tempfile.TemporaryDirectory(prefix=".weights-import-", dir=weights_dir().parent) as tmp:
        root = src
        if src.is_file() and not TORCHVISION_FILE.match(src.name):
            root = unpack(src, Path(tmp))
        items = candidates(root, name)
        if not items:
            raise ImportFailed(
                f"FROM={src}: nothing recognised (expected a torchvision *.pth like "
                "resnet18-f37072fd.pth, an HF cache models--org--name dir, or a model dir with "
                "config.json)"
            )
        return [f"{kind}: {place(item, dest, force)}" for kind, item, dest in items]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="make weights-import", description=__doc__.splitlines()[0])
    ap.add_argument("src", type=Path, help="directory, .pth file or archive")
    ap.add_argument("--name", default=None, help="destination name under $WEIGHTS_DIR")
    ap.add_argument("--force", action="store_true", help="replace an existing destination")
    ap.add_argument(
        "--no-verify",
        action="store_true",
        help="accept a torchvision file whose content does not match the hash in its name",
    )
    args = ap.parse_args(argv)
    global VERIFY_HASH
    VERIFY_HASH = not args.no_verify
    weights_dir().mkdir(parents=True, exist_ok=True)
    try:
        lines = run(args.src.expanduser(), args.name, args.force)
    except ImportFailed as exc:
        print(f"weights-import: error: {exc}", file=sys.stderr)
        return 2
    for line in lines:
        print(f"[weights-import] {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
