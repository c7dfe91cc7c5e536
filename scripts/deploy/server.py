"""``make serve``: LeRobot's ``PolicyServer``, wrapped so it is safe to leave running.

Usage: python -m scripts.deploy.server --checkpoint <pretrained_model> [--host 127.0.0.1]
       [--port 8080] [--fps 30] [--device cpu|cuda] [--allow-root DIR]... [--allow-remote]
       [--tls-dir DIR] [--log-dir DIR]

``SafePolicyServer`` subclasses LeRobot's ``PolicyServer``: the action-chunk pipeline
(``raw_observation_to_observation``, pre/post-processors, ``predict_action_chunk``, timing of
the chunk) is LeRobot's own. What 0.6.1 does wrong at the edges, and what we do instead:

- ``pickle.loads`` on client bytes -> ``safe_pickle.loads`` (restricted globals and values),
  then ``message_check``: handshake fields of the declared types, observations with exactly
  the session's joints and camera shapes, messages of bounded size; a refusal is answered with
  INVALID_ARGUMENT in one line and the server keeps serving.
- The client chooses the checkpoint (or a Hub id) -> only directories under the operator's
  ``--checkpoint`` / ``--allow-root``; the checkpoint is loaded and warmed up at start, and a
  handshake naming it does not reload it.
- A camera/state mismatch is swallowed in ``GetActions`` (empty answers forever) -> refused at
  the handshake with both feature sets named; any inference error is answered as INTERNAL with
  its message instead of an empty chunk.
- Observations whose joints moved less than 1.0 (L2, raw units) since the last processed one are
  dropped unless the client's queue is empty; on slow motion every chunk then arrives only
  after the queue ran dry -> we keep only the duplicate-timestep check.
- No health service; ``Ready`` resets the session -> ``grpc.health.v1`` (NOT_SERVING until
  warmed up).
- ``SO_REUSEPORT``: a second server silently shares the port -> ``grpc.so_reuseport=0``; a busy
  port is a one-line error.
- Binds what it is told (users' notes: 0.0.0.0), insecure -> loopback unless ``--allow-remote``
  with ``--tls-dir`` (mutual TLS: ``make certs``'s ``<dir>/server``; clients need a certificate
  from its CA).
- ``./logs`` in the cwd -> ``--log-dir``; SIGTERM/SIGINT stop it cleanly; per-observation
  inference times are summarised (p50/p95) at exit; cold start is measured and printed.
"""

from __future__ import annotations

import argparse
import ipaddress
import signal
import statistics
import sys
import threading
import time
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

T_START = time.perf_counter()

LOOPBACK_NAMES = ("localhost",)
SHUTDOWN_DEADLINE_S = 20  # seconds from SIGTERM/SIGINT to a forced exit (SIGALRM) if shutdown hangs


@dataclass
class ServeOptions:
    checkpoint: Path  # pretrained_model directory, loaded and warmed up at start
    allow_roots: list[Path] = field(default_factory=list)  # more dirs clients may name
    host: str = "127.0.0.1"  # loopback unless allow_remote
    port: int = 8080
    fps: int = 30  # times the chunk's actions (LeRobot's environment_dt); match the client
    device: str = ""  # "" -> cuda when available, else cpu; the client's wish is ignored
    inference_latency: float = 0.0  # LeRobot's floor per GetActions (s); 0 answers at once
    obs_queue_timeout: float = 1.0  # GetActions waits this long for an observation
    allow_remote: bool = False  # bind beyond loopback (needs tls_dir; prints a warning)
    tls_dir: Path | None = None  # mutual TLS: `make certs`'s <dir>/server folder
    log_dir: Path | None = None  # LeRobot's log file goes here, never into the cwd


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind_policy(host: str, allow_remote: bool, tls: bool = False) -> str:
    """The protection line printed at start; SystemExit for a remote bind without opt-in + TLS."""
    mtls = "mutual TLS (client certificates signed by the TLS_DIR CA)"
    if is_loopback(host):
        how = mtls if tls else "reach it from another machine with an SSH tunnel"
        return f"loopback only ({host}): {how}"
    if not allow_remote:
        raise SystemExit(
            f"serve: error: HOST={host} listens beyond loopback; LeRobot's protocol has no "
            "authentication. Use an SSH tunnel (ssh -N -L 8080:127.0.0.1:8080 gpu-box) or opt "
            "in with make serve HOST=... ALLOW_REMOTE=1 TLS_DIR=<make certs dir>/server"
        )
    if not tls:
        raise SystemExit(
            f"serve: error: HOST={host} with ALLOW_REMOTE=1 also needs TLS_DIR=<make certs "
            "dir>/server: remote clients must present a certificate"
        )
    return f"WARNING: listening on {host} beyond loopback (ALLOW_REMOTE=1), protected by {mtls}"


def tls_files(tls_dir: Path, side: str) -> tuple[bytes, bytes, bytes]:
    """(ca.pem, <side>.key, <side>.pem) from `make certs`'s server folder, or a one-line exit."""
    from scripts.deploy import tls_layout

    why = tls_layout.problem(tls_dir, side)
    if why:
        raise SystemExit(f"serve: error: {why}")
    ca, key, pem = ((tls_dir / n).read_bytes() for n in ("ca.pem", f"{side}.key", f"{side}.pem"))
    return ca, key, pem


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    qs = statistics.quantiles(values, n=100, method="inclusive") if len(values) > 1 else []
    pick = (lambda p: qs[p - 1]) if qs else (lambda p: values[0])
    return {"n": len(values), "p50": pick(50), "p95": pick(95), "p99": pick(99)}


def build_server_class(ps: Any) -> type:
    """``SafePolicyServer`` on top of the imported ``lerobot.async_inference.policy_server``."""
    import grpc
    import torch
    from lerobot.policies import get_policy_class, make_pre_post_processors
    from lerobot.transport import services_pb2
    from lerobot.transport.utils import receive_bytes_in_chunks

    from scripts.common import paligemma
    from scripts.deploy import checkpoint as ck
    from scripts.deploy import handshake, health, safe_pickle
    from scripts.deploy import message_check as mc

    def _capped(items: Any, limit: int) -> Any:
        """The streamed chunks of one message, refused once they add up to more than ``limit``."""
        total = 0
        for item in items:
            total += len(item.data)
            if total > limit:
                raise mc.MessageRefused(f"message larger than {limit} bytes")
            yield item

    class SafePolicyServer(ps.PolicyServer):
        """LeRobot's server with safe decoding, an allow-list, loud errors and health."""

        def __init__(self, config: Any, opts: ServeOptions, health_svc: health.HealthService):
            super().__init__(config)
            self.opts = opts
            self.health = health_svc
            self.roots = [opts.checkpoint.resolve(), *[r.resolve() for r in opts.allow_roots]]
            self.loaded_path: Path | None = None
            self.loaded_cfg: dict[str, Any] = {}
            self.rename_map: dict[str, str] = {}
            self.inference_ms: list[float] = []
            self.refused = 0

        # ---- loading ---------------------------------------------------------------------
        def load(self, path: Path, device: str, rename_map: dict[str, str] | None = None) -> float:
            """Load policy + processors from an allowed directory; returns seconds taken."""
            t0 = time.perf_counter()
            self.health.set(health.NOT_SERVING)
            cfg = ck.read_config(path)
            self.policy_type = cfg["type"]
            policy = get_policy_class(self.policy_type).from_pretrained(str(path))
            policy.to(device)
            policy.eval()
            self.policy, self.device = policy, device
            self._make_processors(path, rename_map or {})
            self.loaded_path, self.loaded_cfg = path, cfg
            return time.perf_counter() - t0

        def _make_processors(self, path: Path, rename_map: dict[str, str]) -> None:
            dev = {"device": self.device}
            self.preprocessor, self.postprocessor = make_pre_post_processors(
                self.policy.config,
                pretrained_path=str(path),
                preprocessor_overrides={
                    "device_processor": dev,
                    "rename_observations_processor": {"rename_map": rename_map},
                },
                postprocessor_overrides={"device_processor": dev},
            )
            self.rename_map = dict(rename_map)

        def warm_up(self) -> float:
            """One inference on a synthetic observation shaped like the checkpoint's inputs."""
            t0 = time.perf_counter()
            obs: dict[str, Any] = {"task": ""}
            for key, ft in self.policy.config.input_features.items():
                obs[key] = torch.zeros((1, *ft.shape), dtype=torch.float32)
            with torch.inference_mode():
                chunk = self.policy.predict_action_chunk(self.preprocessor(obs))
            self.policy.reset()
            self.logger.info(f"warm-up inference: action chunk {tuple(chunk.shape)}")
            return time.perf_counter() - t0

        # ---- RPCs ------------------------------------------------------------------------
        def _refuse(self, context: Any, what: str, peer: str, err: Exception) -> None:
            self.refused += 1
            line = " ".join(str(err).split())[:500]  # one line, whatever the value held
            self.logger.error(f"REFUSED {what} from {peer}: {line}")
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"refused {what}: {line}")

        def SendPolicyInstructions(self, request: Any, context: Any) -> Any:
            peer = context.peer()
            try:
                specs = safe_pickle.loads(request.data)
            except safe_pickle.RefusedPayload as e:
                self._refuse(context, "policy instructions", peer, e)
            try:  # every field of the type LeRobot's dataclass declares, features usable
                mc.check_instructions(specs, ps.RemotePolicyConfig)
            except mc.MessageRefused as e:
                self._refuse(context, "policy instructions", peer, e)
            try:
                path = ck.allowed(specs.pretrained_name_or_path, self.roots)
                cfg = ck.read_config(path)
            except ck.CheckpointError as e:
                self.logger.error(f"REFUSED checkpoint from {peer}: {e}")
                context.abort(grpc.StatusCode.PERMISSION_DENIED, str(e))
            if specs.policy_type != cfg.get("type"):
                context.abort(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"client says policy_type={specs.policy_type}, {path} is {cfg.get('type')}",
                )
            unrunnable = paligemma.refusal(cfg, f"{path}/config.json")
            if unrunnable:  # before from_pretrained builds billions of parameters to fail
                context.abort(grpc.StatusCode.FAILED_PRECONDITION, unrunnable)
            problem = ck.mismatch(cfg, specs.lerobot_features)
            if problem:
                self.logger.error(f"REFUSED handshake from {peer}: {problem}")
                context.abort(grpc.StatusCode.FAILED_PRECONDITION, problem)
            self._check_fps(context, peer)
            if specs.device != self.device:
                self.logger.warning(
                    f"client asked for device {specs.device}; serving on {self.device} "
                    "(the server's --device decides)"
                )
            if path != self.loaded_path:
                self.logger.info(f"loading {path} for {peer}")
                self.load(path, self.device, specs.rename_map)
                self.warm_up()
            elif specs.rename_map != self.rename_map:
                self._make_processors(path, specs.rename_map)
            self.lerobot_features = specs.lerobot_features
            self.obs_schema = mc.observation_schema(specs.lerobot_features)
            self.actions_per_chunk = specs.actions_per_chunk
            self.last_processed_obs = None
            self.policy.reset()
            self.health.set(health.SERVING)
            self.logger.info(
                f"session for {peer}: {self.policy_type} from {path}, "
                f"{self.actions_per_chunk} actions per chunk, on {self.device}"
            )
            return services_pb2.Empty()

        def _check_fps(self, context: Any, peer: str) -> None:
            """Refuse a client whose announced fps is not ours (we time its chunks at ours).

            A client that announces none (stock LeRobot) is admitted: it is checked on its side
            from the first chunk's timestamps, if at all.
            """
            fps = dict(context.invocation_metadata()).get(handshake.FPS_KEY)
            problem = None if fps is None else handshake.fps_mismatch(fps, self.config.fps)
            if problem:
                self.logger.error(f"REFUSED handshake from {peer}: {problem}")
                context.abort(grpc.StatusCode.FAILED_PRECONDITION, problem)

        def SendObservations(self, request_iterator: Any, context: Any) -> Any:
            """Decode (bounded size), then admit only what the session's features describe.

            Why: LeRobot's ``build_dataset_frame`` trusts the values (a structured 0-d array as
            a joint reads outside its buffer); here an observation has exactly the session's
            joints (finite numbers) and cameras (plain arrays of the announced shape).
            """
            peer = context.peer()
            schema = getattr(self, "obs_schema", None)
            limit = schema.max_bytes if schema is not None else mc.MAX_MESSAGE_BYTES
            try:
                data = receive_bytes_in_chunks(
                    _capped(request_iterator, limit), None, self.shutdown_event, "[SERVER]"
                )
            except mc.MessageRefused as e:
                self._refuse(context, "observation", peer, e)
            if data is None:
                return services_pb2.Empty()
            try:
                obs = safe_pickle.loads(data)
            except safe_pickle.RefusedPayload as e:
                self._refuse(context, "observation", peer, e)
            if self.lerobot_features is None or schema is None:
                context.abort(grpc.StatusCode.FAILED_PRECONDITION, "send policy instructions first")
            try:
                mc.check_observation(obs, ps.TimedObservation, schema)
            except mc.MessageRefused as e:
                self._refuse(context, "observation", peer, e)
            self._enqueue_observation(obs)
            return services_pb2.Empty()

        def GetActions(self, request: Any, context: Any) -> Any:
            """LeRobot's GetActions, but an inference error is an error, not an empty chunk."""
            t_call = time.perf_counter()
            try:
                obs = self.observation_queue.get(timeout=self.config.obs_queue_timeout)
            except ps.Empty:
                return services_pb2.Empty()
            with self._predicted_timesteps_lock:
                self._predicted_timesteps.add(obs.get_timestep())
            t0 = time.perf_counter()
            try:
                with torch.inference_mode():
                    chunk = self._predict_action_chunk(obs)
            except Exception as e:  # answered to the client, not swallowed
                self.logger.exception(f"inference failed on observation #{obs.get_timestep()}")
                context.abort(grpc.StatusCode.INTERNAL, f"inference failed: {e}")
            ms = (time.perf_counter() - t0) * 1000
            self.inference_ms.append(ms)
            self.logger.info(f"observation #{obs.get_timestep()}: inference {ms:.1f} ms")
            data = safe_pickle.SafePickleModule.dumps(chunk)
            wait = self.config.inference_latency - (time.perf_counter() - t_call)
            if wait > 0:
                time.sleep(wait)
            return services_pb2.Actions(data=data)

        def _obs_sanity_checks(self, obs: Any, previous_obs: Any) -> bool:
            """Only skip timesteps already predicted (not 'similar' joint states)."""
            with self._predicted_timesteps_lock:
                return obs.get_timestep() not in self._predicted_timesteps

    return SafePolicyServer


def serve(opts: ServeOptions) -> int:
    """Bind (or refuse), load + warm up, report SERVING, serve until SIGINT/SIGTERM."""
    protection = bind_policy(opts.host, opts.allow_remote, tls=opts.tls_dir is not None)
    creds = tls_files(opts.tls_dir, "server") if opts.tls_dir else None
    import grpc

    # Bind before the heavy imports: a busy port is refused in a fraction of a second.
    grpc_server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4), options=[("grpc.so_reuseport", 0)]
    )
    address = f"{opts.host}:{opts.port}"
    try:
        if creds:
            ca, key, cert = creds
            tls = grpc.ssl_server_credentials(
                [(key, cert)], root_certificates=ca, require_client_auth=True
            )
            grpc_server.add_secure_port(address, tls)
        else:
            grpc_server.add_insecure_port(address)
    except RuntimeError:
        print(
            f"serve: error: cannot bind {address}: port in use (another server?); "
            "stop it or choose make serve PORT=...",
            file=sys.stderr,
        )
        return 3
    t_imports = time.perf_counter()
    import torch

    from scripts.deploy import health
    from scripts.deploy.lerobot_io import import_async

    ps = import_async("policy_server", opts.log_dir)
    from lerobot.async_inference.configs import PolicyServerConfig
    from lerobot.transport import services_pb2_grpc

    t_imports = time.perf_counter() - t_imports
    device = opts.device or ("cuda" if torch.cuda.is_available() else "cpu")
    health_svc = health.HealthService()
    config = PolicyServerConfig(
        host=opts.host,
        port=opts.port,
        fps=opts.fps,
        inference_latency=opts.inference_latency,
        obs_queue_timeout=opts.obs_queue_timeout,
    )
    server_cls = build_server_class(ps)
    policy_server = server_cls(config, opts, health_svc)
    log = policy_server.logger
    services_pb2_grpc.add_AsyncInferenceServicer_to_server(policy_server, grpc_server)
    grpc_server.add_generic_rpc_handlers((health_svc.handler(),))
    grpc_server.start()
    print(f"serve: {protection}", flush=True)
    print(f"serve: listening on {address} (health: NOT_SERVING until warmed up)", flush=True)

    stopped = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        log.info(f"{signal.Signals(signum).name}: stopping")
        stopped.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    ckpt = opts.checkpoint.resolve()
    t_load = policy_server.load(ckpt, device)
    t_warm = policy_server.warm_up()
    health_svc.set(health.SERVING)
    total = time.perf_counter() - T_START
    print(
        f"serve: SERVING {policy_server.policy_type} from {ckpt} on {device}; cold start "
        f"{total:.1f} s (imports {t_imports:.1f} s, load {t_load:.1f} s, warm-up {t_warm:.2f} s)",
        flush=True,
    )
    stopped.wait()
    # A stop must end the process even if a handler wedges: once, under load ~9, a server
    # told SIGTERM logged "Server stopping..." and then spun on two threads for 20 minutes.
    # SIGALRM's default action is the kernel's, so it needs no GIL and no Python handler.
    signal.alarm(SHUTDOWN_DEADLINE_S)
    health_svc.set(health.NOT_SERVING)
    policy_server.stop()
    grpc_server.stop(grace=1.0).wait()
    stats = percentiles(policy_server.inference_ms)
    if stats:
        print(
            f"serve: stopped; {stats['n']} inferences, p50 {stats['p50']:.1f} ms, "
            f"p95 {stats['p95']:.1f} ms; {policy_server.refused} messages refused",
            flush=True,
        )
    else:
        print(f"serve: stopped; no inference; {policy_server.refused} messages refused", flush=True)
    return 0


def parse_args(argv: list[str] | None = None) -> ServeOptions:
    p = argparse.ArgumentParser(prog="make serve", description=__doc__.split("\n")[0])
    p.add_argument("--checkpoint", type=Path, required=True, help="pretrained_model directory")
    p.add_argument("--allow-root", type=Path, action="append", default=[], dest="allow_roots")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--fps", type=int, default=30)
    p.add_argument("--device", default="")
    p.add_argument("--inference-latency", type=float, default=0.0)
    p.add_argument("--obs-queue-timeout", type=float, default=1.0)
    p.add_argument("--allow-remote", action="store_true")
    p.add_argument("--tls-dir", type=Path, default=None)
    p.add_argument("--log-dir", type=Path, default=None)
    a = p.parse_args(argv)
    return ServeOptions(**vars(a))


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    from scripts.deploy import checkpoint as ck

    try:
        ck.policy_env(ck.read_config(opts.checkpoint), opts.checkpoint)
    except ck.CheckpointError as e:
        print(f"serve: error: {e}", file=sys.stderr)
        return 2
    if not 1 <= opts.port <= 65535:
        print(f"serve: error: PORT={opts.port} is not a TCP port", file=sys.stderr)
        return 2
    try:
        return serve(opts)
    except SystemExit as e:
        if isinstance(e.code, str):
            print(e.code, file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
