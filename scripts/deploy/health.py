"""The standard gRPC health service (``grpc.health.v1.Health/Check``) and its probe.

What LeRobot 0.6.1 does wrong: its server registers no health service, and the only RPCs a
probe could call disturb a live session (``Ready`` resets the observation queue and the
predicted-timestep set; ``GetActions`` takes the chunk meant for the robot).

What we do instead: register ``grpc.health.v1.Health`` (the protocol every gRPC tool speaks,
e.g. ``grpc_health_probe``), NOT_SERVING until the policy is loaded and warmed up, SERVING
after. The message classes are built from the proto's descriptor at run time because
``grpcio-health-checking`` is not in the locked environments; only ``Check`` is served
(``Watch`` answers UNIMPLEMENTED).
"""

from __future__ import annotations

import threading
from typing import Any

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

SERVICE = "grpc.health.v1.Health"
CHECK = f"/{SERVICE}/Check"
UNKNOWN, SERVING, NOT_SERVING, SERVICE_UNKNOWN = 0, 1, 2, 3
STATUS_NAMES = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}


def _messages() -> tuple[type, type]:
    """HealthCheckRequest / HealthCheckResponse, as in grpc/health/v1/health.proto."""
    fdp = descriptor_pb2.FileDescriptorProto(
        name="grpc/health/v1/health.proto", package="grpc.health.v1", syntax="proto3"
    )
    req = fdp.message_type.add(name="HealthCheckRequest")
    req.field.add(name="service", number=1, type=9, label=1)  # string
    resp = fdp.message_type.add(name="HealthCheckResponse")
    enum = resp.enum_type.add(name="ServingStatus")
    for name, number in (
        ("UNKNOWN", 0),
        ("SERVING", 1),
        ("NOT_SERVING", 2),
        ("SERVICE_UNKNOWN", 3),
    ):
        enum.value.add(name=name, number=number)
    resp.field.add(
        name="status",
        number=1,
        type=14,  # enum
        label=1,
        type_name=".grpc.health.v1.HealthCheckResponse.ServingStatus",
    )
    pool = descriptor_pool.DescriptorPool()
    fd = pool.Add(fdp)
    return (
        message_factory.GetMessageClass(fd.message_types_by_name["HealthCheckRequest"]),
        message_factory.GetMessageClass(fd.message_types_by_name["HealthCheckResponse"]),
    )


Request, Response = _messages()


class HealthService:
    """Holds the serving status; ``handler()`` is the generic gRPC handler to register."""

    def __init__(self) -> None:
        self._status = NOT_SERVING
        self._lock = threading.Lock()

    def set(self, status: int) -> None:
        with self._lock:
            self._status = status

    def _check(self, request: Any, context: grpc.ServicerContext) -> Any:
        if request.service not in ("", "transport.AsyncInference"):
            context.abort(grpc.StatusCode.NOT_FOUND, f"unknown service {request.service!r}")
        with self._lock:
            return Response(status=self._status)

    def handler(self) -> grpc.GenericRpcHandler:
        return grpc.method_handlers_generic_handler(
            SERVICE,
            {
                "Check": grpc.unary_unary_rpc_method_handler(
                    self._check,
                    request_deserializer=Request.FromString,
                    response_serializer=Response.SerializeToString,
                )
            },
        )


def channel(address: str, tls_dir: Any = None, options: Any = None) -> grpc.Channel:
    """An insecure channel, or a mutual-TLS one from ``tls_dir``: `make certs`'s robot folder."""
    if tls_dir is None:
        return grpc.insecure_channel(address, options)
    from pathlib import Path

    from scripts.deploy import tls_layout

    d = Path(tls_dir)
    why = tls_layout.problem(d, "robot")
    if why:
        raise SystemExit(f"robot: error: {why}")
    creds = grpc.ssl_channel_credentials(
        root_certificates=(d / "ca.pem").read_bytes(),
        private_key=(d / "client.key").read_bytes(),
        certificate_chain=(d / "client.pem").read_bytes(),
    )
    return grpc.secure_channel(address, creds, options)


def check(channel: grpc.Channel, timeout: float = 2.0) -> str:
    """Probe a server: SERVING / NOT_SERVING / ..., or the gRPC error code's name."""
    call = channel.unary_unary(
        CHECK,
        request_serializer=Request.SerializeToString,
        response_deserializer=Response.FromString,
    )
    try:
        return STATUS_NAMES.get(call(Request(service=""), timeout=timeout).status, "UNKNOWN")
    except grpc.RpcError as e:
        return e.code().name
