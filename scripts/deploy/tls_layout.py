"""Which ``make certs`` folder each side reads, and the one-line error for the wrong one.

``make certs TLS_DIR=<dir>`` writes ``<dir>/server`` (stays on the GPU box), ``<dir>/robot``
(copied to the robot PC) and ``<dir>/ca`` (the CA key, copied nowhere). ``make serve`` takes
``TLS_DIR=<dir>/server`` and ``make robot`` / ``make serve-check`` take the robot folder: each
points at what is on its own machine. Why refuse a folder holding ``ca.key``: whoever has it can
mint client certificates the server admits, so it must not sit next to either side's files
(the CA folder, or a folder of the old single-folder layout). Stdlib only: imported by the
server (policy envs) and the client (act env).
"""

from __future__ import annotations

from pathlib import Path

FILES = {
    "server": ("ca.pem", "server.pem", "server.key"),
    "robot": ("ca.pem", "client.pem", "client.key"),
}
OTHER = {"server": "robot", "robot": "server"}


def problem(tls_dir: Path, side: str) -> str | None:
    """Why ``tls_dir`` is not ``side``'s folder (one line naming the expected one), or None."""
    d, want = Path(tls_dir), FILES[side]
    missing = [n for n in want if not (d / n).is_file()]
    if not missing and not (d / "ca.key").exists():
        return None
    if (d / side).is_dir():
        return f"TLS_DIR={d} is the make certs folder; use TLS_DIR={d / side}"
    mine = d.parent / side if (d.parent / side).is_dir() else f"<make certs dir>/{side}"
    if (d / "ca.key").exists():
        return (
            f"TLS_DIR={d} holds ca.key, the CA's private key, which stays out of both "
            f"machines' folders; use TLS_DIR={mine} (make certs writes it)"
        )
    other = OTHER[side]
    if all((d / n).is_file() for n in FILES[other]):
        return f"TLS_DIR={d} is the {other} folder of make certs; use TLS_DIR={mine}"
    return f"TLS_DIR={d}: no {', '.join(missing)}; use TLS_DIR={mine} (make certs TLS_DIR=dir)"
