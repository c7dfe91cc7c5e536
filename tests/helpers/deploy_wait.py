"""The client's wait for a server, against real gRPC servers on loopback (run in envs/act).

Cases, each on its own port: a server whose health turns SERVING after 1 s (make serve warming
up), one that stays NOT_SERVING, nothing listening, and a gRPC server without a health service
(what stock LeRobot is). Prints one JSON object: per case the result or error, lines, seconds.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from concurrent import futures

import grpc

from scripts.deploy import handshake, health


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(with_health: bool) -> tuple[grpc.Server, health.HealthService, str]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    svc = health.HealthService()  # NOT_SERVING until set
    if with_health:
        server.add_generic_rpc_handlers((svc.handler(),))
    address = f"127.0.0.1:{free_port()}"
    server.add_insecure_port(address)
    server.start()
    return server, svc, address


def attempt(address: str, wait_s: float) -> dict:
    lines: list[str] = []
    t0 = time.monotonic()
    try:
        got = handshake.wait_for_server(address, None, wait_s, say=lines.append)
    except handshake.ServerNotReady as e:
        got = f"error: {e}"
    return {"result": got, "lines": lines, "seconds": round(time.monotonic() - t0, 2)}


def main() -> None:
    out: dict[str, dict] = {}
    warming, svc, address = serve(with_health=True)
    threading.Timer(1.0, svc.set, (health.SERVING,)).start()
    out["warming"] = attempt(address, 10.0)
    warming.stop(0)
    stuck, _, address = serve(with_health=True)
    out["stuck"] = attempt(address, 1.0)
    stuck.stop(0)
    out["nothing"] = attempt(f"127.0.0.1:{free_port()}", 1.0)
    stock, _, address = serve(with_health=False)
    out["stock"] = attempt(address, 10.0)
    stock.stop(0)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
