"""The rollout's control loop: one process, robot + our deploy client + the session writer
(runs in envs/act; started by ``python -m scripts.rollout`` with a plan file).

Per episode (``Rollout.prepare``, before the episode's clock starts): the robot is set up for
it (replay: the next recorded episode; an arm: torque back on), the episode's checkpoint is
named to the server by the handshake ``make robot`` uses (``SafeRobotClient.start``: the
server loads it when it is not the one loaded), the action queue is emptied, and one
observation goes out and its chunk is waited for (``STALL_S``), so tick 0 already acts.

Per tick (``Rollout.tick``, paced by ``scripts.session``'s clock): read the robot, execute the
next queued action (LeRobot's ``control_loop_action``: the profile's ``max_relative_target``
clips it), send an observation when LeRobot's threshold says so, record observation and the
*executed* action. A tick with an empty queue holds the last goal and is a stall tick; runs of
them are stall events (count, longest). Every chunk's round trip (observation sent -> chunk
received) is kept. No chunk for ``STALL_S`` during an episode ends the session in one line.

Resets: nothing is sent; the arm's torque is what the profile's ``ops.reset_torque`` says
(``off``: the operator puts the arm back by hand; ``hold``: default). The episode's label:
keys (``labels.Labeller``) or the scripted operator (``scripted.ScriptedOperator``).
Outputs: the dataset (``CrashSafeWriter``), ``rollout_session.json`` beside its journal.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from scripts.session import journal

SESSION_FILE = journal.SIDE / "rollout_session.json"
# The validator's checks for a rollout dataset: all but duplicate_episode. A deterministic
# policy replayed from the same recorded start (the replay robot) gives bit-identical
# episodes, which that check rightly calls an error in recorded data; here it is the truth.
ROLLOUT_CHECKS = Path(__file__).with_name("validator_checks.yaml")
MAX_BUS_ERRORS = 5  # bus reads in a row that time out: the session stops (make record's rule)
# a bus read that timed out (LeRobot's ConnectionError), or whose status packet came back cut
# short (dynamixel-sdk's getData indexes past it: IndexError; seen on the simulator's pty at
# load 10): the tick is skipped
BUS_ERRORS = (ConnectionError, IndexError)


class RolloutStop(RuntimeError):
    """The session cannot go on (one line): server gone, checkpoint refused, ..."""


def log(msg: str) -> None:
    print(f"rollout: {msg.removeprefix('rollout: ')}", file=sys.stderr, flush=True)


@dataclasses.dataclass
class EpisodeStats:
    """What one episode measured (its ``rollout/`` columns)."""

    stall_ticks: int = 0
    stalls: int = 0
    stall_ms_max: float = 0.0
    first_chunk_ms: float = 0.0
    _run: int = 0

    def tick(self, dry: bool, period_s: float) -> None:
        if dry:
            self.stall_ticks += 1
            if self._run == 0:
                self.stalls += 1
            self._run += 1
            self.stall_ms_max = max(self.stall_ms_max, 1000 * self._run * period_s)
        else:
            self._run = 0


class Rollout:
    """``Session`` hooks: the policy drives the robot through the deploy client."""

    def __init__(self, client: Any, rc: Any, features: dict, plan: dict, metrics_cls: Any):
        from lerobot.utils.constants import ACTION, OBS_STR
        from lerobot.utils.feature_utils import build_dataset_frame

        self.client, self.rc, self.features, self.plan = client, rc, features, plan
        self.metrics_cls = metrics_cls
        self._build, self._obs, self._act = build_dataset_frame, OBS_STR, ACTION
        self.task = plan["task"]
        self.slots = plan["slots"]
        self.fps = float(plan["fps"])
        self.stall_s = float(plan["stall_s"])
        self.reset_torque = plan.get("reset_torque", "hold")
        self.started = 0  # episodes begun (re-recorded ones count again)
        self.slot: dict = {}
        self.loaded: str | None = None
        self.ep = EpisodeStats()
        self.last_goal: dict | None = None
        self.last_action_at = 0.0
        self.episode_t0 = 0.0
        self.labeller: Any = None
        self.score: float | None = None
        self.scored = plan.get("operator") == "scripted"
        self.source_episode = 0
        self.cameras_t0 = 0.0
        self.last_obs: dict = {}
        self.last_obs_t = 0.0
        self.action_times: deque[float] = deque(maxlen=16)  # goal writes (perf_counter)
        self.bus_errors = 0  # in a row
        self.bus_errors_total = 0
        self.start_poses: dict[int, list[float]] = {}
        if plan.get("robot") == "sim" and plan.get("operator") == "scripted":
            from scripts.rollout.scripted import source_actions

            self.start_poses = {e: a[0] for e, a in source_actions(plan["replay"]).items()}

    # ---- handshake -----------------------------------------------------------------------
    def handshake(self, checkpoint: str) -> None:
        """Name ``checkpoint`` to the server (it loads it if needed); RolloutStop if refused."""
        from scripts.deploy import checkpoint as ck

        c = self.client
        cfg = ck.read_config(Path(checkpoint))
        c.policy_config = dataclasses.replace(
            c.policy_config, policy_type=cfg["type"], pretrained_name_or_path=checkpoint
        )
        c.stop_reason = None
        if not c.start():
            why = c.stop_reason or "refused"
            c.stop_reason = None
            raise RolloutStop(f"checkpoint {checkpoint} not served: {why}")
        self.loaded = checkpoint

    # ---- phases ----------------------------------------------------------------------------
    def phase(self, phase: str, index: int) -> None:
        if phase == "episode":  # the operator sees the blind number only
            from scripts.rollout.schedule import Slot, blind_line

            slot = Slot(int(self.slot.get("number", 0)), "")
            log(f"{blind_line(slot, len(self.slots))}: running (first chunk in "
                f"{self.ep.first_chunk_ms:.0f} ms)")  # fmt: skip
        if self.labeller is not None:
            self.labeller.phase = phase
            if phase == "episode":
                self.labeller.start_episode()

    def prepare(self, phase: str, index: int) -> None:
        if phase != "episode":
            self._torque(self.reset_torque != "off")
            return
        if self.started >= len(self.slots):
            raise RolloutStop("more episodes than planned (internal)")
        self.slot = self.slots[min(self.started, len(self.slots) - 1)]
        self._robot_for_episode()
        self._torque(True)
        self.handshake(self.slot["checkpoint"])
        self._clear()
        self.client.metrics = self.metrics_cls(t_process=time.monotonic())
        self.ep = EpisodeStats()
        t0 = time.perf_counter()
        obs = self._first_observation()  # the replayed cameras' clock starts here
        self.cameras_t0 = t0
        self.last_obs, self.last_obs_t = obs, t0
        self._send(obs)
        while not self.client.actions_available():
            if self.client.stop_reason:
                raise RolloutStop(self.client.stop_reason)
            if time.perf_counter() - t0 > self.stall_s:
                raise RolloutStop(
                    f"no action chunk within STALL_S={self.stall_s:g} s of the first observation "
                    f"(server {self.client.server_address})"
                )
            time.sleep(0.002)
        self.ep.first_chunk_ms = round(1000 * (time.perf_counter() - t0), 1)
        self.started += 1

    def _first_observation(self) -> dict:
        for attempt in range(MAX_BUS_ERRORS):
            try:
                return self.client.robot.get_observation()
            except BUS_ERRORS as e:
                if attempt == MAX_BUS_ERRORS - 1:
                    raise RolloutStop(f"{MAX_BUS_ERRORS} bus reads in a row failed "
                                      f"({str(e).splitlines()[0][:120]})") from None  # fmt: skip
        raise AssertionError("unreachable")

    def _robot_for_episode(self) -> None:
        """Replay: play the next recorded episode (that is its reset). Sim: the replayed
        cameras start the next recorded episode from its first frame."""
        robot = self.client.robot
        self.source_episode = self.plan.get("replay_first", 0) + self.started
        if getattr(robot, "name", "") == "replay":
            n = int(robot.info.get("total_episodes", 1))
            robot.disconnect()
            robot.config.episode = self.source_episode % n
            robot.connect()
            return
        if self.plan["robot"] != "sim":
            return
        info = json.loads((Path(self.plan["replay"]) / "meta" / "info.json").read_text())
        self.source_episode %= int(info.get("total_episodes", 1))
        if self.start_poses:
            self._move_to(self.start_poses[self.source_episode])
        for cam in robot.cameras.values():  # after the move: their clock starts at a read
            cam.disconnect()
            cam.config.episode = self.source_episode
            cam.connect()

    def _move_to(self, pose: list[float], tol: float = 2.0, timeout_s: float = 5.0) -> None:
        """Sim, scripted: the scene reset a person would do, the arm to the episode's first
        recorded pose (goals at the profile's fps, each capped by max_relative_target)."""
        robot = self.client.robot
        goal = dict(zip(robot.action_features, pose, strict=True))
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < timeout_s:
            try:
                robot.send_action(goal)
                now = robot.bus.sync_read("Present_Position")  # not the cameras: not started
            except BUS_ERRORS:
                continue
            if max(abs(float(now[k.removesuffix(".pos")]) - v) for k, v in goal.items()) <= tol:
                return
            time.sleep(1.0 / self.fps)
        log(f"sim: the arm did not reach the episode's start pose within {timeout_s:g} s")

    def _torque(self, on: bool) -> None:
        bus = getattr(self.client.robot, "bus", None)
        if bus is None or not hasattr(bus, "enable_torque"):
            return
        try:  # a write that got no status packet is sent again (LeRobot's num_retry)
            (bus.enable_torque if on else bus.disable_torque)(num_retry=MAX_BUS_ERRORS - 1)
        except BUS_ERRORS as e:
            first = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
            raise RolloutStop(
                f"torque {'on' if on else 'off'} failed {MAX_BUS_ERRORS} times "
                f"({first}); port {self.plan.get('robot_port')}"
            ) from None

    def _clear(self) -> None:
        """A new episode: no action of the previous one may run (queue, steps, in-flight)."""
        from queue import Queue

        c = self.client
        with c.action_queue_lock:
            c.action_queue = Queue()
        with c.latest_action_lock:
            c.latest_action = -1
        c.action_chunk_size = -1
        c.inflight_since = None
        c.last_sent_step = None
        c.must_go.set()
        c.episode_t0 = time.time()
        self.last_goal = None

    def _send(self, raw: dict) -> None:
        """LeRobot's ``control_loop_observation`` on an observation already read."""
        c = self.client
        raw = {**raw, "task": self.task}
        with c.latest_action_lock:
            step = max(c.latest_action, 0)
        obs = self.rc.TimedObservation(timestamp=time.time(), observation=raw, timestep=step)
        with c.action_queue_lock:
            obs.must_go = c.must_go.is_set() and c.action_queue.empty()
        c.send_observation(obs)
        if obs.must_go:
            c.must_go.clear()

    # ---- ticks -------------------------------------------------------------------------------
    def tick(self, phase: str) -> dict | None:
        if phase != "episode":
            return None
        c = self.client
        if c.stop_reason:
            raise RolloutStop(c.stop_reason)
        try:
            obs = c.robot.get_observation()
            self.last_obs, self.last_obs_t = obs, time.perf_counter()
            dry = not c.actions_available()
            if not dry:
                performed = c.control_loop_action()
                if isinstance(performed, dict):
                    self.last_goal = performed
                    self.last_action_at = time.perf_counter()
                    self.action_times.append(self.last_action_at)
        except BUS_ERRORS as e:  # "There is no status packet", or a garbled reply
            self._bus_error(e)
        self.bus_errors = 0
        self.ep.tick(dry, 1.0 / self.fps)
        if c._ready_to_send_observation():
            self._send(obs)
        times = c.metrics.chunk_times
        if times and time.monotonic() - times[-1] > self.stall_s:
            raise RolloutStop(
                f"no action chunk for more than STALL_S={self.stall_s:g} s; "
                f"server {c.server_address}"
            )
        goal = self.last_goal or {k: obs[k] for k in c.robot.action_features if k in obs}
        return {
            **self._build(self.features, obs, prefix=self._obs),
            **self._build(self.features, goal, prefix=self._act),
            "task": self.task,
        }

    def _bus_error(self, e: Exception) -> None:
        """A bus read that timed out skips the tick (as make record's); 5 in a row stop."""
        from scripts.session.runner import SkipTick

        self.bus_errors += 1
        self.bus_errors_total += 1
        first = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
        if self.bus_errors >= MAX_BUS_ERRORS:
            raise RolloutStop(
                f"{self.bus_errors} bus reads in a row failed ({first}); "
                f"port {self.plan.get('robot_port') or 'of the profile'}"
            )
        log(f"bus read failed, tick skipped ({first})")
        raise SkipTick from e

    def meta(self) -> dict:
        """The episode's ``rollout/`` columns (LabelledSink adds the label)."""
        rtt = sorted(self.client.metrics.rtt_s)
        p50 = 1000 * rtt[len(rtt) // 2] if rtt else 0.0
        return {
            "rollout/policy_id": self.slot.get("checkpoint", ""),
            "rollout/number": int(self.slot.get("number", -1)),
            "rollout/stalls": int(self.ep.stalls),
            "rollout/stall_ticks": int(self.ep.stall_ticks),
            "rollout/stall_ms_max": float(round(self.ep.stall_ms_max, 1)),
            "rollout/rtt_ms_p50": float(round(p50, 1)),
            "rollout/chunks": len(rtt),
            "rollout/first_chunk_ms": float(self.ep.first_chunk_ms),
            **({"rollout/score": float(-1.0 if self.score is None else round(self.score, 4))}
               if self.scored else {}),
        }  # fmt: skip


def sim_profile(prof: dict, replay: str) -> dict:
    """The Koch profile with REPLAY's cameras, replayed (``ROBOT=sim``; its port comes later).

    Why REPLAY's camera names and not the profile's: the policy was trained on REPLAY, so its
    cameras are the ones the checkpoint expects; each episode replays the next recorded
    episode's frames from its first (``Rollout._robot_for_episode``), holding the last frame.
    """
    info = json.loads((Path(replay) / "meta" / "info.json").read_text())
    cams = [
        k.removeprefix("observation.images.")
        for k, ft in info["features"].items()
        if k.startswith("observation.images.") and ft.get("dtype") in ("video", "image")
    ]
    robot = {k: v for k, v in prof["robot"].items() if k != "cameras"}
    robot["cameras"] = {c: {"type": "replay", "dataset": str(Path(replay).resolve()), "key": c,
                            "loop": False} for c in cams}  # fmt: skip
    return {**prof, "robot": robot}


def build_client(plan: dict, log_dir: Path):
    """Profile, preflight of every checkpoint, server reachable, robot connected (or one line)."""
    from scripts.deploy import checkpoint as ck
    from scripts.deploy import client as dc
    from scripts.deploy import handshake, profiles
    from scripts.deploy.lerobot_io import import_async
    from scripts.deploy.report import Metrics

    prof = profiles.load("koch" if plan["robot"] == "sim" else plan["robot"])
    if plan["robot"] == "sim":
        prof = sim_profile(prof, plan["replay"])
    prof = profiles.apply(prof, {"dataset": plan.get("replay") or "", "task": plan["task"],
                                 "robot_port": plan.get("robot_port") or "",
                                 "stall_s": plan.get("stall_s") or ""})  # fmt: skip
    if prof["robot"].get("type") == "replay":
        prof["robot"]["loop"] = False  # an episode ends holding the recorded last frame
        prof["robot"]["record_path"] = ""
    rc = import_async("robot_client", log_dir)
    cfgs = {}
    for c in dict.fromkeys(s["checkpoint"] for s in plan["slots"]):
        try:
            ckpt_cfg = ck.read_config(Path(c))
            if not isinstance(ckpt_cfg.get("type"), str):
                raise ck.CheckpointError(f"{c}/config.json names no policy type")
            cfg = profiles.client_config(prof, checkpoint=Path(c), policy_type=ckpt_cfg["type"],
                                         server=plan["server"])  # fmt: skip
        except (ck.CheckpointError, profiles.ProfileError) as e:
            raise RolloutStop(f"CHECKPOINT {c}: {e}") from None
        try:
            for w in dc.preflight(cfg, ckpt_cfg, prof["ops"]):
                log(f"warning: {w}")
        except dc.PreflightError as e:
            raise RolloutStop(f"CHECKPOINT {c}: {e}") from None
        cfgs[c] = cfg
    first = next(iter(cfgs.values()))
    try:
        kind = handshake.wait_for_server(first.server_address, None, plan.get("server_wait", 10))
    except handshake.ServerNotReady as e:
        raise RolloutStop(f"{e}; the robot was not connected") from None
    bus = dc.motor_bus_problems(first.robot)
    if bus:
        raise RolloutStop(f"{bus[0]}; the robot was not connected")
    cls = dc.build_client_class(rc)

    class RolloutClient(cls):
        """Drops a chunk computed for an observation of an earlier episode."""

        episode_t0 = 0.0

        def _aggregate_action_queues(self, incoming_actions: list, aggregate_fn: Any = None):
            if incoming_actions and incoming_actions[0].get_timestamp() < self.episode_t0:
                return None
            return super()._aggregate_action_queues(incoming_actions, aggregate_fn)

    stall_s = float(prof["ops"].get("stall_s", 3.0))
    plan["stall_s"] = stall_s
    plan["fps"] = first.fps
    plan["reset_torque"] = prof["ops"].get("reset_torque", "hold")
    try:
        metrics = Metrics(t_process=time.monotonic())
        client = RolloutClient(first, stall_s=stall_s, duration_s=0.0, metrics=metrics,
                               stock=kind == "stock")  # fmt: skip
    except Exception as e:
        raise RolloutStop(f"cannot connect {first.robot.type}: {e}") from None
    return client, rc, Metrics


def run(plan: dict) -> int:
    from scripts.record.__main__ import features_for
    from scripts.rollout.labels import LabelledSink, Labeller
    from scripts.rollout.scripted import ScriptedOperator
    from scripts.session.keys import Key, TerminalKeys
    from scripts.session.runner import Session, SessionConfig
    from scripts.session.writer import CrashSafeWriter

    root = Path(plan["dataset"])
    log_dir = Path(plan.get("log_dir") or root.parent / f".{root.name}.logs")
    t0 = time.perf_counter()
    client, rc, metrics_cls = build_client(plan, log_dir)
    session: dict[str, Any] = {"planned": len(plan["slots"]), "stopped": "done"}
    writer = None
    try:
        rollout = Rollout(client, rc, {}, plan, metrics_cls)
        for c in dict.fromkeys(s["checkpoint"] for s in plan["slots"]):
            rollout.handshake(c)  # every checkpoint served, before the first episode
        log(f"server {plan['server']} serves every checkpoint; {plan['robot']} connected")
        receiver = threading.Thread(target=client.receive_actions, daemon=True, name="receiver")
        receiver.start()
        client.start_barrier.wait()
        features, _ = features_for(client.robot)
        rollout.features = features
        writer = CrashSafeWriter.create(
            root, fps=int(plan["fps"]), features=features, robot_type=client.robot.name,
            codec=plan.get("codec", "h264"),
            settings={"tool": "rollout", "seed": plan["seed"], "task": plan["task"],
                      "robot": plan["robot"], "planned": len(plan["slots"])},
        )  # fmt: skip
        with TerminalKeys(labels=plan["operator"] == "keys") as term:
            if plan["operator"] == "scripted":
                labeller: Any = ScriptedOperator(term, rollout, float(plan["tolerance"]), log)
            else:
                if not term.active:
                    raise RolloutStop("OPERATOR=keys needs a terminal (stdin is not a tty); "
                                      "OPERATOR=scripted labels replay/sim episodes")  # fmt: skip
                labeller = Labeller(term, log)
            rollout.labeller = labeller
            stop: dict[str, Any] = {}
            polled = [time.perf_counter()]

            def keys() -> list:
                before = polled[0]
                pressed = labeller()
                polled[0] = time.perf_counter()
                if Key.STOP in pressed and not stop:
                    stop["key_at"] = polled[0]
                    stop["poll_before"] = before  # the key was pressed after this poll
                    stop["phase"] = labeller.phase
                return pressed

            sink = LabelledSink(writer, labeller, meta=rollout.meta, ask_timeout=None)
            cfg = SessionConfig(fps=int(plan["fps"]), episodes=len(plan["slots"]),
                                episode_s=float(plan["episode_s"]),
                                reset_s=float(plan["reset_s"]))  # fmt: skip
            try:
                res = Session(cfg, hooks=rollout, sink=sink, keys=keys).run()
                session["stopped"] = res.stopped
                session["rerecorded"] = res.rerecorded
            except RolloutStop as e:
                writer.discard()
                session["stopped"] = "error"
                session["error"] = str(e)
                log(f"error: {e}; the episode in progress is not saved")
    except RolloutStop as e:
        session["stopped"] = "error"
        session["error"] = str(e)
        log(f"error: {e}")
    finally:
        t_stop = time.perf_counter()
        client.stop()  # robot disconnect: torque off as the profile says
        session["disconnect_ms"] = round(1000 * (time.perf_counter() - t_stop), 1)
    if "stop" in locals() and stop:
        session["stop_key"] = stop_key_record(stop, rollout, t_stop, float(plan["fps"]))
    session["wall_s"] = round(time.perf_counter() - t0, 2)
    if writer is not None:
        finish(root, writer, session)
    return 0 if session["stopped"] in ("done", "key") else 1


def stop_key_record(stop: dict, rollout: Rollout, t_stop: float, fps: float) -> dict:
    """What the stop key did, measured: goal writes after it, and the latency bound in ms.

    The key was pressed somewhere between two polls (``poll_before`` .. ``key_at``); a goal
    written after ``poll_before`` may have followed the press, so ``latency_ms_max`` = last
    goal write - ``poll_before`` bounds the time from the press to the last motion command
    (<= 0: the last write came before the key could have been pressed). Times in ms; ``*_t``
    are this machine's CLOCK_MONOTONIC seconds (``time.perf_counter``), for a test that
    presses the key itself.
    """
    last = rollout.last_action_at
    writes = list(rollout.action_times)
    bound = 1000 * (last - stop["poll_before"]) if last else None
    return {
        "phase": stop["phase"],
        "actions_after_key": sum(t > stop["key_at"] for t in writes),
        "actions_after_poll_before_key": sum(t > stop["poll_before"] for t in writes),
        "latency_ms_max": None if bound is None else round(max(bound, 0.0), 1),
        "latency_ticks_max": None if bound is None else round(max(bound, 0.0) * fps / 1000, 2),
        "last_action_before_key_ms": round(1000 * (stop["key_at"] - last), 1) if last else None,
        "key_to_torque_off_ms": round(1000 * (time.perf_counter() - stop["key_at"]), 1),
        "key_to_disconnect_start_ms": round(1000 * (t_stop - stop["key_at"]), 1),
        "tick_ms": round(1000 / fps, 1),
        "key_read_t": stop["key_at"],
        "poll_before_t": stop["poll_before"],
        "goal_writes_t": writes[-4:],
    }


def finish(root: Path, writer: Any, session: dict) -> None:
    """Finalize, exact stats, the validator; the session file the report reads."""
    from scripts.session import exact
    from validators.runner import validate_dataset

    writer.finish()
    if journal.read(root):
        exact.write_exact_stats(root)
        result = validate_dataset(root, thresholds=ROLLOUT_CHECKS)
        session["validator_errors"] = len(result.errors)
        for f in result.errors[:5]:
            log(f"validator: {f.check_id}: {f.file or ''} {f.message}")
    journal.atomic_write(root / SESSION_FILE, json.dumps(session, indent=1).encode())


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    plan = json.loads(Path(argv[0]).read_text())
    try:
        return run(plan)
    except RolloutStop as e:
        log(f"error: {e}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
