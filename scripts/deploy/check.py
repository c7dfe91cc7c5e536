"""``make serve-check``: ask a policy server's standard health service how it is.

Usage: python -m scripts.deploy.check [--server 127.0.0.1:8080] [--timeout 2]

Prints SERVING / NOT_SERVING / UNAVAILABLE ... and exits 0 only for SERVING. Uses
``grpc.health.v1.Health/Check`` only: never ``Ready`` (which resets LeRobot's session) nor
``GetActions`` (which takes the robot's next chunk), so probing a live session is harmless.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="make serve-check", description=__doc__.split("\n")[0])
    p.add_argument("--server", default="127.0.0.1:8080", help="host:port")
    p.add_argument("--timeout", type=float, default=2.0)
    p.add_argument("--tls-dir", default=None, help="make certs dir's robot/ (mutual TLS)")
    a = p.parse_args(argv)
    from scripts.deploy import health

    with health.channel(a.server, a.tls_dir) as channel:
        status = health.check(channel, timeout=a.timeout)
    print(f"serve-check: {a.server} {status}")
    return 0 if status == "SERVING" else 1


if __name__ == "__main__":
    sys.exit(main())
