"""Pick LeRobot's video decoding backend once per environment: torchcodec if it loads, else pyav.

LeRobot defaults to torchcodec, which needs FFmpeg's shared libraries (libavutil.so.5x ...).
Without them every dataset read prints a long traceback before LeRobot falls back to pyav. We
try the import once, in the environment that will decode, cache the answer beside the venv, and
tell the user which backend was chosen and why. ``VIDEO_BACKEND=torchcodec|pyav`` overrides.
The cache records what the answer depended on (the FFmpeg libraries the loader can see, with
their sizes and dates, ``LD_LIBRARY_PATH`` and torchcodec's version): after ``apt install
ffmpeg`` (or removing it) that changes and the next call probes again.

Runs inside a LeRobot environment (envs/act or envs/smolvla): that is where torchcodec lives.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

BACKENDS = ("torchcodec", "pyav")
CACHE_NAME = ".video-backend.json"

# The probe runs in a child so a crashing native import cannot take the caller down with it.
_PROBE = "from torchcodec.decoders import VideoDecoder  # noqa: F401\n"


def probe_torchcodec(python: str = sys.executable) -> tuple[bool, str]:
    """Try to load torchcodec's decoder; return (ok, last line of the error)."""
    proc = subprocess.run(
        [python, "-c", _PROBE], capture_output=True, text=True, timeout=120, check=False
    )
    if proc.returncode == 0:
        return True, "torchcodec loads (FFmpeg shared libraries found)"
    lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
    reason = next((ln for ln in reversed(lines) if "cannot open shared object" in ln), None)
    reason = reason or (lines[-1] if lines else f"exit code {proc.returncode}")
    return False, f"torchcodec cannot load ({reason[:200]}); install FFmpeg (apt install ffmpeg)"


LIB_DIRS = ("/lib", "/usr/lib", "/usr/local/lib", "/lib/*-linux-gnu", "/usr/lib/*-linux-gnu")
LIB_NAMES = ("libavutil.so*", "libavcodec.so*", "libavformat.so*", "libswscale.so*")


def depends_on() -> str:
    """A digest of what decides the probe's answer; a change means "probe again"."""
    ld_path = os.environ.get("LD_LIBRARY_PATH", "")
    dirs = [*LIB_DIRS, *(d for d in ld_path.split(":") if d)]
    seen = []
    for d in dirs:
        for name in LIB_NAMES:
            for lib in sorted(glob.glob(os.path.join(d, name))):
                try:
                    st = os.stat(lib)
                except OSError:
                    continue
                seen.append(f"{lib} {st.st_size} {st.st_mtime_ns}")
    try:
        from importlib.metadata import version

        tc = version("torchcodec")
    except Exception:  # not installed is an answer too
        tc = "none"
    text = "\n".join([f"LD_LIBRARY_PATH={ld_path}", f"torchcodec={tc}", *seen])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def choose(override: str | None, cache: Path | None) -> tuple[str, str]:
    """Return (backend, why). The override wins; otherwise a cached or fresh probe decides."""
    if override:
        if override not in BACKENDS:
            choices = ", ".join(BACKENDS)
            raise SystemExit(
                f"video_backend: error: VIDEO_BACKEND={override} is not one of {choices}"
            )
        return override, f"VIDEO_BACKEND={override} set by you"
    key = depends_on()
    if cache is not None and cache.is_file():
        try:
            saved = json.loads(cache.read_text())
        except (OSError, ValueError):
            saved = {}
        if saved.get("depends_on") == key and saved.get("backend") in BACKENDS:
            return saved["backend"], f"{saved['why']} (cached until the FFmpeg libraries change)"
    ok, why = probe_torchcodec()
    backend = "torchcodec" if ok else "pyav"
    if cache is not None:
        tmp = cache.with_name(f"{cache.name}.tmp-{os.getpid()}")
        tmp.write_text(json.dumps({"backend": backend, "why": why, "depends_on": key}))
        tmp.replace(cache)
    return backend, why


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-cache", action="store_true", help="probe again, do not read/write")
    parser.add_argument("--quiet", action="store_true", help="print only the backend name")
    parser.add_argument("--cache", type=Path, help=f"cache file (default: <venv>/{CACHE_NAME})")
    args = parser.parse_args(argv)
    cache = None if args.no_cache else (args.cache or Path(sys.prefix) / CACHE_NAME)
    backend, why = choose(os.environ.get("VIDEO_BACKEND") or None, cache)
    if not args.quiet:
        print(f"video backend: {backend} — {why}", file=sys.stderr)
    print(backend)
    return 0


if __name__ == "__main__":
    sys.exit(main())
