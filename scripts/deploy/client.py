"""``make robot``: LeRobot's ``RobotClient``, wrapped so it stops loudly and safely.

Usage: python -m scripts.deploy.client --robot <profile> --checkpoint <pretrained_model>
       [--server 127.0.0.1:8080] [--task ...] [--fps N] [--actions-per-chunk N]
       [--chunk-threshold F] [--stall-s S] [--duration S] [--dataset DIR] [--episode K]
       [--robot-port DEV] [--set section.key=value]... [--tls-dir DIR] [--log-dir DIR]
       [--print-config]

``SafeRobotClient`` subclasses LeRobot's ``RobotClient``: robot creation, the control loop
(perform an action, send an observation when the queue is below the threshold) and the
aggregation of overlapping chunks are LeRobot's own. What 0.6.1 does wrong, and what we do:

- Actions are ``pickle.loads``-ed -> the restricted unpickler and ``message_check``: a refused
  chunk is dropped and counted; without a valid chunk the STALL_S watchdog stops the robot.
- Nothing is checked before the arm is powered -> preflight, before the robot is connected:
  camera names and state/action sizes vs the checkpoint, ``actions_per_chunk`` vs its chunk
  size, the replay dataset's fps, and the server's health must be SERVING (a server still
  starting is waited for up to SERVER_WAIT s; a stock one, without health, is admitted with a
  warning: scripts/deploy/handshake.py); the client's fps is compared with the server's.
- ``receive_actions`` logs ``UNAVAILABLE`` forever when the server dies, holding torque, and
  treats a server error as "no chunk yet" -> a watchdog: no valid chunk for ``STALL_S``
  seconds, or a server error, stops the loop, disconnects the robot (torque off as its
  config says) and exits 1 with one line saying what happened. It never re-handshakes: a
  restarted server would reset the session mid-motion, so a human restarts ``make robot``.
- No SIGTERM handler; SIGINT ignored when started from a non-interactive shell -> both stop
  the loop and disconnect the robot (exit 0: an operator stop is a clean stop).
- Late chunks are silent -> each chunk that arrives after the queue ran dry is counted, and a
  warning (at most every 5 s) gives the round trip vs the time the queue had left, and the knob.
- ``./logs`` in the cwd -> the run directory, with ``report.json``/``report.png``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import pickle
import signal
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

T_PROCESS = time.monotonic()

EXIT_OK, EXIT_FAIL, EXIT_PREFLIGHT = 0, 1, 2
# Observation reads that fail in a row, every motor still answering a ping, before the run
# stops (one lost status packet is noise; a motor that no longer answers stops it at once).
ROBOT_ERRORS_STOP = 3


class PreflightError(RuntimeError):
    """Something that must be fixed before the robot is touched (one line)."""


def build_client_class(rc: Any) -> type:
    """``SafeRobotClient`` on top of the imported ``lerobot.async_inference.robot_client``."""
    import grpc
    from lerobot.transport import services_pb2

    from scripts.deploy import handshake, health, safe_pickle
    from scripts.deploy.report import Metrics

    class SendDeadline:
        """The stub, with a deadline on ``SendObservations`` (LeRobot calls it with none).

        Why: LeRobot sends each observation from the control loop itself. A server that is up
        but wedged (seen: its log call blocked on a full stdout pipe) stops reading, and that
        call never returns: the loop froze, the watchdog's STALL_S stop was requested but never
        carried out, the arm stayed connected and the process never ended. With a deadline
        the send fails after ``STALL_S`` (LeRobot logs it and goes on), the loop sees the stop
        and the robot is disconnected (tests/deploy/test_deploy_loop.py, SIGSTOPped server).
        """

        def __init__(self, stub: Any, seconds: float) -> None:
            self._stub, self._seconds = stub, seconds

        def SendObservations(self, request_iterator: Any, **kw: Any) -> Any:
            kw.setdefault("timeout", self._seconds)
            return self._stub.SendObservations(request_iterator, **kw)

        def __getattr__(self, name: str) -> Any:
            return getattr(self._stub, name)

    class SafeRobotClient(rc.RobotClient):
        """LeRobot's client with a health check, a watchdog, signals and measurements."""

        def __init__(
            self,
            config: Any,
            *,
            stall_s: float,
            duration_s: float,
            metrics: Metrics,
            tls_dir: Path | None = None,
            stock: bool = False,
        ):
            self.metrics = metrics
            self.stock = stock  # a server without our health service (stock LeRobot)
            self.spacing_checked = False  # the first chunk's timing vs our fps
            self.stall_s = stall_s
            self.duration_s = duration_s
            self.stop_reason: str | None = None
            self.failed = False
            self.server_error = ""
            self.t_started = time.monotonic()
            self.inflight_since: float | None = None
            self.robot_error: BaseException | None = None
            self.robot_errors_in_a_row = 0
            self.silent_motors: list[tuple[str, int]] = []
            self.disconnect_note = ""
            self.last_goal: dict[str, Any] | None = None
            super().__init__(config)  # creates and connects the robot, opens the channel
            read = self.robot.get_observation

            def get_observation() -> Any:
                """Remember the error: LeRobot's observation sender logs it and goes on."""
                try:
                    observation = read()
                except Exception as e:
                    self.robot_error = e
                    raise
                if self.last_goal is not None:
                    self.metrics.followed(self.last_goal, observation)
                return observation

            self.robot.get_observation = get_observation
            if tls_dir is not None:  # LeRobot only knows insecure channels: replace it
                from lerobot.transport import services_pb2_grpc
                from lerobot.transport.utils import grpc_channel_options

                self.channel.close()
                opts = grpc_channel_options(initial_backoff=f"{config.environment_dt:.4f}s")
                self.channel = health.channel(self.server_address, tls_dir, opts)
                self.stub = services_pb2_grpc.AsyncInferenceStub(self.channel)
            self.stub = SendDeadline(self.stub, stall_s)

        # ---- stopping --------------------------------------------------------------------
        def request_stop(self, reason: str, failed: bool) -> None:
            if self.stop_reason is None:
                self.stop_reason, self.failed = reason, failed
            self.shutdown_event.set()

        def stop(self) -> None:
            """LeRobot's stop (robot.disconnect, channel close), robust to a failing robot.

            LeRobot's disconnect stops at the first motor that does not answer, leaving the
            motors after it with torque on: then torque goes off motor by motor.
            """
            self.shutdown_event.set()
            try:
                self.robot.disconnect()
            except Exception as e:  # disconnect what can be, report, still close the channel
                self.failed = True
                self.disconnect_note = self._disconnect_what_it_can(e)
            self.channel.close()

        def _motor_bus(self) -> Any:
            bus = getattr(self.robot, "bus", None)
            return bus if hasattr(bus, "motors") and hasattr(bus, "ping") else None

        def _disconnect_what_it_can(self, error: BaseException) -> str:
            from scripts.motors import diagnose

            bus = self._motor_bus()
            if bus is None:
                return f"disconnect failed ({diagnose.first_line(error)})"
            skip = [name for name, _ in self.silent_motors]
            failed = diagnose.torque_off_each(bus, skip) + skip
            for close in [bus.port_handler.closePort] + [
                cam.disconnect for cam in getattr(self.robot, "cameras", {}).values()
            ]:
                with contextlib.suppress(Exception):
                    close()
            if not failed:
                return "torque off motor by motor"
            return f"torque off except on {', '.join(failed)} (not answering)"

        # ---- robot errors -----------------------------------------------------------------
        def robot_failed(self, error: BaseException) -> None:
            """Stop on a motor that stopped answering (named), or on errors that repeat.

            A single failed read with every motor still answering is a lost status packet
            (a real bus loses one now and then; a loaded pty too): a warning, the loop goes on.
            """
            from scripts.motors import diagnose

            self.robot_errors_in_a_row += 1
            bus = self._motor_bus()
            self.silent_motors = diagnose.silent_motors(bus) if bus is not None else []
            port = getattr(getattr(self.robot, "config", None), "port", None)
            line = diagnose.describe(self.silent_motors, error, port)
            if self.silent_motors or self.robot_errors_in_a_row >= ROBOT_ERRORS_STOP:
                self.request_stop(line, True)
            else:
                print(f"robot: WARNING {line}; going on", file=sys.stderr, flush=True)

        # ---- handshake ---------------------------------------------------------------------
        def start(self) -> bool:
            address = self.server_address
            status = "SERVING" if self.stock else health.check(self.channel, timeout=5.0)
            if status != "SERVING":
                self.request_stop(
                    f"server {address} health is {status}: start it (make serve) or fix SERVER=",
                    True,
                )
                return False
            try:
                t0 = time.perf_counter()
                self.stub.Ready(services_pb2.Empty(), timeout=5.0)
                self.metrics.handshake_ms = round((time.perf_counter() - t0) * 1000, 1)
                setup = services_pb2.PolicySetup(data=pickle.dumps(self.policy_config))
                self.stub.SendPolicyInstructions(
                    setup, timeout=300.0, metadata=handshake.fps_metadata(self.config.fps)
                )
            except grpc.RpcError as e:
                self.request_stop(f"server {address} refused the session: {e.details()}", True)
                return False
            if self.stop_reason is None:
                self.shutdown_event.clear()
            self.t_started = time.monotonic()
            return self.stop_reason is None

        # ---- receiving ---------------------------------------------------------------------
        def receive_actions(self, verbose: bool = False) -> None:
            """LeRobot's receiver, with safe decoding, value checks, measurements, loud errors.

            A chunk that is refused (undecodable, a refused global or value, not a non-empty
            list of TimedAction with finite float actions of the robot's action size) is
            dropped and counted (``chunks_refused`` in report.json), one line at most every
            second: the process goes on, and if no valid chunk comes the STALL_S watchdog
            stops the robot as for a silent server. Stopping at the first refusal would let
            any bad chunk stop a run; executing it would move the arm on hostile values.
            """
            from scripts.deploy import message_check as mc

            self.chunks_refused = 0
            last_said = 0.0
            action_dim = len(self.robot.action_features)
            self.start_barrier.wait()
            while self.running:
                try:
                    reply = self.stub.GetActions(services_pb2.Empty(), timeout=self.stall_s + 2)
                except grpc.RpcError as e:
                    code = e.code()
                    if not self.running:
                        break
                    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                        self.server_error = code.name
                        time.sleep(0.05)  # LeRobot retries at once, in a tight loop
                        continue
                    self.request_stop(f"server error {code.name}: {e.details()}", True)
                    break
                if not reply.data:
                    continue
                now = time.time()
                try:
                    chunk = safe_pickle.loads(reply.data)
                    mc.check_action_chunk(chunk, rc.TimedAction, action_dim)
                except (safe_pickle.RefusedPayload, mc.MessageRefused) as e:
                    self.chunks_refused += 1
                    if time.monotonic() - last_said >= 1.0:
                        last_said = time.monotonic()
                        print(
                            f"robot: WARNING refused an action chunk from the server "
                            f"({self.chunks_refused} so far), dropped: "
                            + " ".join(str(e).split())[:300],
                            file=sys.stderr,
                            flush=True,
                        )
                    continue
                self.server_error = ""
                if self.config.client_device != "cpu":
                    for a in chunk:
                        a.action = a.get_action().to(self.config.client_device)
                self.action_chunk_size = max(self.action_chunk_size, len(chunk))
                with self.action_queue_lock:
                    was_empty = self.action_queue.empty()
                late = self.metrics.chunk(now - chunk[0].get_timestamp(), was_empty)
                self._aggregate_action_queues(chunk, self.config.aggregate_fn)
                # Only now may the next observation go (issue 25's stall): cleared before the
                # queue held the new chunk, the control loop saw the old, short queue, sent an
                # observation of the timestep just predicted, the server dropped it as a
                # duplicate, and nothing went for the 1 s in-flight limit (~750 ms dry).
                self.inflight_since = None
                self.must_go.set()
                if late is not None:
                    self._warn_late(late, now - chunk[0].get_timestamp())

        def _warn_late(self, late_s: float, rtt_s: float) -> None:
            now = time.monotonic()
            if now - self.metrics.last_warning < 5.0:
                return
            self.metrics.last_warning = now
            cfg = self.config
            left_ms = 1000 * cfg.actions_per_chunk * cfg.chunk_size_threshold / cfg.fps
            print(
                f"robot: WARNING queue starved: a chunk arrived {1000 * late_s:.0f} ms after the "
                f"action queue ran dry (round trip {1000 * rtt_s:.0f} ms vs {left_ms:.0f} ms of "
                f"actions left when it is requested: {cfg.actions_per_chunk} actions x "
                f"threshold {cfg.chunk_size_threshold} at {cfg.fps} fps; "
                f"{len(self.metrics.late_chunks)} late so far); raise CHUNK_THRESHOLD or "
                "ACTIONS_PER_CHUNK, or serve on a faster machine",
                flush=True,
            )

        def _aggregate_action_queues(self, incoming_actions: list, aggregate_fn: Any = None):
            """LeRobot's aggregation; the first chunk's timing is checked against our fps first.

            Works against any server (a stock one has no fps in its handshake): the server
            times a chunk's actions 1/its fps apart.
            """
            if not self.spacing_checked:
                self.spacing_checked = True
                stamps = [a.get_timestamp() for a in incoming_actions]
                problem = handshake.chunk_spacing_mismatch(stamps, self.config.fps)
                if problem:
                    self.request_stop(problem, True)
                    return None
            return super()._aggregate_action_queues(incoming_actions, aggregate_fn)

        # ---- control loop hooks ------------------------------------------------------------
        def _ready_to_send_observation(self) -> bool:
            """LeRobot's threshold test, plus: one observation in flight at a time.

            LeRobot sends an observation on every tick while the queue is below the threshold
            and relies on the server dropping "similar" ones, which starves slow motions (see
            server.py). We send one, and the next after its chunk arrived (or after 1 s).
            """
            if self.inflight_since is not None:
                if time.monotonic() - self.inflight_since < 1.0:
                    return False
                self.inflight_since = None
            with self.latest_action_lock:
                step = max(self.latest_action, 0)
            if step == getattr(self, "last_sent_step", None):
                with self.action_queue_lock:
                    dry = self.action_queue.empty()
                if not (dry and self.must_go.is_set()):
                    return False  # the server drops a timestep it predicted (unless must_go)
            return super()._ready_to_send_observation()

        def send_observation(self, obs: Any) -> bool:
            sent = super().send_observation(obs)
            if sent:
                self.inflight_since = time.monotonic()
                self.last_sent_step = obs.get_timestep()
            return sent

        def actions_available(self) -> bool:
            available = super().actions_available()
            self.metrics.tick(available)
            return available

        def control_loop_observation(self, task: str, verbose: bool = False) -> Any:
            self.robot_error = None
            observation = super().control_loop_observation(task, verbose)
            if self.robot_error is not None:
                self.robot_failed(self.robot_error)
            else:
                self.robot_errors_in_a_row = 0
            return observation

        def control_loop_action(self, verbose: bool = False) -> Any:
            try:
                performed = super().control_loop_action(verbose)
            except Exception as e:  # LeRobot lets it end the loop with a traceback
                self.robot_failed(e)  # (KochFollower reads positions to clip the goal)
                return None
            self.robot_errors_in_a_row = 0
            if isinstance(performed, dict):  # what the robot was asked to do (after clipping)
                self.last_goal = performed
            first = not self.metrics.action_times
            self.metrics.action(self.action_queue.qsize())
            if first:
                print(
                    f"robot: moving: first action {time.monotonic() - T_PROCESS:.1f} s after "
                    "start (cold start)",
                    flush=True,
                )
            return performed

        # ---- watchdog ----------------------------------------------------------------------
        def watchdog(self) -> None:
            """Stop on duration, end of a replayed episode, or STALL_S without a chunk."""
            while self.running:
                time.sleep(0.05)
                now = time.monotonic()
                if self.duration_s and now - self.t_started >= self.duration_s:
                    self.request_stop(f"duration {self.duration_s:g} s reached", False)
                elif getattr(self.robot, "finished", False):
                    self.request_stop("replayed episode finished", False)
                else:
                    times = self.metrics.chunk_times
                    last = times[-1] if times else self.t_started
                    if now - last > self.stall_s:
                        # The receiver already saw the server gone: stop first, no more probing.
                        if self.server_error == "UNAVAILABLE":
                            state = "unreachable (last error UNAVAILABLE)"
                        else:
                            status = health.check(self.channel, timeout=0.5)
                            ok = status in ("SERVING", "NOT_SERVING", "UNIMPLEMENTED")
                            state = f"{'answers' if ok else 'unreachable'} (health {status})"
                        self.request_stop(
                            f"no action chunk for {now - last:.1f} s (STALL_S={self.stall_s:g}); "
                            f"server {self.server_address} {state}",
                            True,
                        )

    return SafeRobotClient


# ---- preflight (no connection, no hardware) -----------------------------------------------
MOTOR_PROFILES = {"koch_follower": "koch"}  # LeRobot robot type -> make motors profile


def motor_bus_problems(robot_cfg: Any) -> list[str]:
    """The arm's bus and calibration, checked as `make motors` does, before LeRobot connects.

    Why: KochFollower.connect() calls input() when the calibration file disagrees with the
    motors (EOFError without a terminal) and fails deep inside with "There is no status
    packet!" on a bad cable or baud rate; here each is one line with its fix (make calibrate).
    """
    profile = MOTOR_PROFILES.get(getattr(robot_cfg, "type", ""))
    if profile is None:
        return []
    from scripts.motors.check import problems

    return problems(profile, getattr(robot_cfg, "port", None))


def preflight(cfg: Any, ckpt_cfg: dict[str, Any], ops: dict[str, Any]) -> list[str]:
    """Raise PreflightError on what cannot work; return warnings for what may starve."""
    from lerobot.async_inference.helpers import map_robot_keys_to_lerobot_features
    from lerobot.robots import make_robot_from_config

    from scripts.deploy import checkpoint as ck

    warnings: list[str] = []
    chunk = ckpt_cfg.get("chunk_size") or ckpt_cfg.get("n_action_steps")
    if chunk and cfg.actions_per_chunk > int(chunk):
        raise PreflightError(
            f"ACTIONS_PER_CHUNK={cfg.actions_per_chunk} > the checkpoint's chunk_size {chunk}: "
            f"make robot ACTIONS_PER_CHUNK={chunk} (or fewer)"
        )
    robot = make_robot_from_config(cfg.robot)  # constructs only; connect() comes later
    problem = ck.mismatch(
        ckpt_cfg, map_robot_keys_to_lerobot_features(robot), len(robot.action_features)
    )
    if problem:
        raise PreflightError(problem)
    robot_fps = getattr(robot, "fps", None)
    if robot_fps and abs(float(robot_fps) - cfg.fps) > 1e-6:
        warnings.append(
            f"the dataset plays at {robot_fps:g} fps, the client runs at {cfg.fps}: "
            f"make robot FPS={robot_fps:g} (and make serve FPS={robot_fps:g})"
        )
    lead_s = cfg.actions_per_chunk * cfg.chunk_size_threshold / cfg.fps
    if (cfg.actions_per_chunk / cfg.fps) > float(ops.get("stall_s", 3.0)):
        warnings.append(
            f"one chunk lasts {cfg.actions_per_chunk / cfg.fps:.2f} s, more than STALL_S"
        )
    if lead_s < 0.1:
        warnings.append(
            f"a chunk is requested only {1000 * lead_s:.0f} ms before the queue runs dry; "
            "a round trip rarely fits: raise CHUNK_THRESHOLD or ACTIONS_PER_CHUNK"
        )
    return warnings


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="make robot", description=__doc__.split("\n")[0])
    p.add_argument("--robot", required=True, help="profile name in recipes/robots/")
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--server", default="127.0.0.1:8080")
    p.add_argument("--task", default="")
    # Numeric knobs are strings here: scripts/deploy/knobs.py converts them, naming the knob.
    p.add_argument("--fps", default=None)
    p.add_argument("--actions-per-chunk", default=None)
    p.add_argument("--chunk-threshold", default=None)
    p.add_argument("--stall-s", default=None)
    p.add_argument("--duration", default=None, help="seconds; 0: until stopped")
    p.add_argument("--server-wait", default=None, help="seconds to wait for a starting server")
    p.add_argument("--dataset", default="")
    p.add_argument("--episode", type=int, default=None)
    p.add_argument("--robot-port", default="")
    p.add_argument(
        "--cameras",
        default="",
        choices=["", "replay"],
        help="replay: the profile's cameras serve DATASET's frames (lerobot_camera_replay)",
    )
    p.add_argument("--tls-dir", type=Path, default=None, help="make certs' robot/ (mutual TLS)")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    p.add_argument("--log-dir", type=Path, default=Path("outputs/deploy"))
    p.add_argument("--print-config", action="store_true", help="preflight only, print config")
    return p.parse_args(argv)


def build_profile(a: argparse.Namespace) -> dict[str, Any]:
    import yaml

    from scripts.deploy import profiles

    prof = profiles.load(a.robot)
    prof = profiles.apply(
        prof,
        {
            "robot_port": a.robot_port,
            "dataset": a.dataset,
            "episode": a.episode,
            "fps": a.fps,
            "actions_per_chunk": a.actions_per_chunk,
            "chunk_threshold": a.chunk_threshold,
            "task": a.task,
            "stall_s": a.stall_s,
        },
    )
    if a.cameras == "replay":
        if not a.dataset:
            raise profiles.ProfileError("CAMERAS=replay needs DATASET=<v3.0 dir> to replay")
        names = list(prof["robot"].get("cameras") or {})
        if not names:
            raise profiles.ProfileError(f"CAMERAS=replay: profile {a.robot} has no cameras")
        prof["robot"]["cameras"] = {
            n: {"type": "replay", "dataset": str(Path(a.dataset).resolve()), "key": n}
            for n in names
        }
    for item in a.set:
        key, sep, value = item.partition("=")
        section, _, name = key.partition(".")
        if not sep or section not in ("robot", "client", "ops") or not name:
            raise profiles.ProfileError(
                f"--set {item!r}: want section.key=value (robot|client|ops)"
            )
        prof[section][name] = yaml.safe_load(value)
    return prof


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    from scripts.deploy import checkpoint as ck
    from scripts.deploy import handshake, knobs, profiles

    try:
        knobs.check(a)  # before the profile is decoded: a bad knob is not a bad profile
        a.duration = a.duration or 0.0
        a.server_wait = handshake.DEFAULT_WAIT_S if a.server_wait is None else a.server_wait
        prof = build_profile(a)
        knobs.check_stall_s(prof)
        ckpt_cfg = ck.read_config(a.checkpoint)
        ck.policy_env(ckpt_cfg, a.checkpoint)
    except (knobs.KnobError, profiles.ProfileError, ck.CheckpointError) as e:
        print(f"robot: error: {e}", file=sys.stderr)
        return EXIT_PREFLIGHT
    run_dir = (a.log_dir / f"{a.robot}-{datetime.now():%Y%m%d-%H%M%S}").resolve()
    if prof["robot"].get("type") == "replay" and not prof["robot"].get("record_path"):
        prof["robot"]["record_path"] = str(run_dir / "actions.json")

    from scripts.deploy.lerobot_io import import_async

    rc = import_async("robot_client", None if a.print_config else run_dir)
    try:
        cfg = profiles.client_config(
            prof,
            checkpoint=a.checkpoint.resolve(),
            policy_type=ckpt_cfg["type"],
            server=a.server,
        )
        warnings = preflight(cfg, ckpt_cfg, prof["ops"])
    except (profiles.ProfileError, PreflightError, ValueError, FileNotFoundError) as e:
        print(f"robot: error: {e}", file=sys.stderr)
        return EXIT_PREFLIGHT
    from scripts.deploy import tls_layout

    why = tls_layout.problem(a.tls_dir, "robot") if a.tls_dir is not None else None
    if why:
        print(f"robot: error: {why}", file=sys.stderr)
        return EXIT_PREFLIGHT
    for w in warnings:
        print(f"robot: warning: {w}", flush=True)
    if a.print_config:
        import draccus

        print(json.dumps(draccus.encode(cfg), default=str, indent=1))
        return EXIT_OK
    return run(rc, cfg, prof, a, run_dir)


def run(rc: Any, cfg: Any, prof: dict[str, Any], a: argparse.Namespace, run_dir: Path) -> int:
    """Connect, handshake, loop until stopped, disconnect, report."""
    from scripts.deploy import report
    from scripts.deploy.report import Metrics

    metrics = Metrics(t_process=T_PROCESS)
    client_cls = build_client_class(rc)
    holder: dict[str, Any] = {}

    def on_signal(signum: int, _frame: Any) -> None:
        client = holder.get("client")
        name = signal.Signals(signum).name
        if client is None:
            raise SystemExit(f"robot: {name} before the robot was connected: nothing to stop")
        client.request_stop(f"{name}: stopped by the operator", False)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)  # also when started with SIGINT ignored
    stall_s = float(prof["ops"].get("stall_s", 3.0))
    from scripts.deploy import handshake

    print(f"robot: task {json.dumps(cfg.task, ensure_ascii=False)}", flush=True)
    try:  # before powering the robot; a server started at the same time is waited for
        kind = handshake.wait_for_server(cfg.server_address, a.tls_dir, a.server_wait)
    except handshake.ServerNotReady as e:
        print(f"robot: error: {e}; the robot was not connected", file=sys.stderr)
        return EXIT_PREFLIGHT
    bus_problems = motor_bus_problems(cfg.robot)  # last check before the arm is powered
    if bus_problems:
        print(f"robot: error: {bus_problems[0]}; the robot was not connected", file=sys.stderr)
        return EXIT_PREFLIGHT
    try:
        client = client_cls(
            cfg,
            stall_s=stall_s,
            duration_s=a.duration,
            metrics=metrics,
            tls_dir=a.tls_dir,
            stock=kind == "stock",
        )
    except Exception as e:  # robot connection: one line, exit 2
        print(f"robot: error: cannot connect {cfg.robot.type}: {e}", file=sys.stderr)
        return EXIT_PREFLIGHT
    holder["client"] = client
    print(f"robot: {cfg.robot.type} connected; server {cfg.server_address}", flush=True)
    threads: list[threading.Thread] = []
    if client.start():
        threads = [
            threading.Thread(target=client.receive_actions, daemon=True, name="receiver"),
            threading.Thread(target=client.watchdog, daemon=True, name="watchdog"),
        ]
        for t in threads:
            t.start()
        try:
            client.control_loop(task=cfg.task)
        finally:
            client.stop()
    else:
        client.stop()
    for t in threads:
        t.join(timeout=5)
    torque = getattr(cfg.robot, "disable_torque_on_disconnect", None)
    how = client.disconnect_note or ("torque off" if torque else "disconnected")
    reason = client.stop_reason or "stopped"
    replay = client.robot.summary() if hasattr(client.robot, "summary") else None
    extra: dict[str, Any] = {
        "robot": a.robot,
        "stop_reason": reason,
        "failed": client.failed,
        "actions_per_chunk": cfg.actions_per_chunk,
        "chunk_size_threshold": cfg.chunk_size_threshold,
        "chunks_refused": getattr(client, "chunks_refused", 0),
    }
    if replay:
        extra["replay"] = {
            k: replay.get(k) for k in ("observations", "actions_received", "mae_vs_recorded")
        }
    summary = report.summarise(
        metrics, fps=cfg.fps, actions_per_chunk=cfg.actions_per_chunk, extra=extra
    )
    path = report.write(summary, metrics, run_dir, replay)
    status = "error" if client.failed else "stopped"
    print(f"robot: {status}: {reason}; robot {how}", file=sys.stderr if client.failed else None)
    print(f"robot: {report.one_line(summary)}")
    print(f"robot: report {path}", flush=True)
    return EXIT_FAIL if client.failed else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
