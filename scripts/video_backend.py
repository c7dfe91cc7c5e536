"""Pick LeRobot's video decoding backend once per environment: torchcodec if it loads, else pyav.

LeRobot defaults to torchcodec, which needs FFmpeg's shared libraries (libavutil.so.5x ...).
Without them every dataset read prints a long traceback before LeRobot falls back to pyav. We
try the import once, in the environment that will decode, cache the answer beside the venv, and
tell the user which backend was chosen and why. ``VIDEO_BACKEND=torchcodec|pyav`` overrides.

Runs inside a LeRobot environment (envs/act or envs/smolvla): that is where torchcodec lives.
"""

from __future__ import annotations

import argparse
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


def choose(override: str | None, cache: Path | None) -> tuple[str, str]:
    """Return (backend, why). The override wins; otherwise a cached or fresh probe decides."""
    if override:
        if override not in BACKENDS:
            choices = ", ".join(BACKENDS)
            raise SystemExit(
                f"video_backend: error: VIDEO_BACKEND={override} is not one of {choices}"
            )
        return override, f"VIDEO_BACKEND={override} set by you"
    if cache is not None and cache.is_file():
        saved = json.loads(cache.read_text())
        return saved["backend"], saved["why"] + " (cached; delete " + str(cache) + " to re-probe)"
    ok, why = probe_torchcodec()
    backend = "torchcodec" if ok else "pyav"
    if cache is not None:
        tmp = cache.with_suffix(".tmp")
        tmp.write_text(json.dumps({"backend": backend, "why": why}))
        tmp.replace(cache)
    return backend, why


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-cache", action="store_true", help="probe again, do not read/write")
    parser.add_argument("--quiet", action="store_true", help="print only the backend name")
    args = parser.parse_args(argv)
    cache = None if args.no_cache else Path(sys.prefix) / CACHE_NAME
    backend, why = choose(os.environ.get("VIDEO_BACKEND") or None, cache)
    if not args.quiet:
        print(f"video backend: {backend} — {why}", file=sys.stderr)
    print(backend)
    return 0


if __name__ == "__main__":
    sys.exit(main())
