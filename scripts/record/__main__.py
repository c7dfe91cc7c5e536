"""``make record``: teleoperated recording with the Koch leader arm into a crash-safe v3.0 dataset.

Runs in envs/act. Order: knobs, DATASET, both arms (``make motors``' check), cameras, free
disk (``preflight``), then LeRobot's KochLeader and KochFollower connect (calibrate=False: the
preflight proved the calibration, so LeRobot never prompts), and the shared session loop
(``scripts.session.runner``) writes through ``scripts.session.writer.CrashSafeWriter``. At
the end: LeRobot's finalize, exact float64 stats in place (``scripts.session.exact``), the
validator, the report (JSON + PNG + table, ``scripts.session.report``).

Offline always: nothing is pushed to a hub (LeRobot's ``push_to_hub`` is never called).

Video: h264 with LeRobot's streaming encoder by default. Why not LeRobot's default
(libsvtav1, images written as PNG then encoded at save time): on a CPU-only laptop AV1
encoding of two 640x480 cameras takes the cores the control loop needs, so the bus reads come
late and the loop misses ticks (leLab #70), and the PNG round trip makes every save take
seconds. h264 (libx264, preset veryfast) encodes as frames arrive on a fraction of one core;
``CODEC=libsvtav1`` or ``CODEC=auto`` (a hardware encoder) remain available.

Exit codes: 0 ok, 2 bad knob, 3 preflight, 4 the validator found errors, 1 anything else.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import sys
import time
from pathlib import Path

from scripts.record import preflight
from scripts.record.preflight import PreflightError
from scripts.session import journal


def log(msg: str) -> None:
    print(f"record: {msg}", file=sys.stderr, flush=True)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="make record", description=__doc__.split("\n\n")[0])
    p.add_argument("--robot", default="koch", help="follower profile, recipes/robots/")
    p.add_argument("--teleop", default="koch_leader", help="leader profile, recipes/teleops/")
    p.add_argument("--dataset", type=Path, required=True)
    p.add_argument("--task", required=True, help="the task text, stored verbatim")
    p.add_argument("--episodes", default="1")
    p.add_argument("--episode-s", default="30")
    p.add_argument("--reset-s", default="10")
    p.add_argument("--fps", default="")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--robot-port", default="")
    p.add_argument("--teleop-port", default="")
    p.add_argument("--cameras", default="", choices=["", "replay", "none"])
    p.add_argument("--replay", default="", help="v3.0 dataset the replay cameras serve")
    p.add_argument("--codec", default="h264")
    p.add_argument("--no-streaming", action="store_true", help="PNG frames, encoded at save")
    p.add_argument("--report", type=Path, default=None, help="report JSON (PNG beside it)")
    p.add_argument("--no-camera-check", action="store_true", help=argparse.SUPPRESS)
    return p


def number(knob: str, text: str, kind: type, lo: float, hi: float | None = None) -> float:
    """A knob's value, or a PreflightError (exit 2) naming it and the accepted range."""
    try:
        value = kind(text)
    except ValueError:
        raise PreflightError(
            f"{knob}={text!r}: not a{'n integer' if kind is int else ' number'}", 2
        ) from None
    if value < lo or (hi is not None and value > hi):
        rng = f">= {lo:g}" if hi is None else f"in {lo:g}..{hi:g}"
        raise PreflightError(f"{knob}={text}: must be {rng}", 2)
    return value


def robot_and_teleop(args: argparse.Namespace):
    """LeRobot configs from the profiles (draccus decodes them: unknown keys fail)."""
    import draccus

    # the camera types a profile may name (lerobot-record imports them the same way)
    from lerobot.cameras.opencv import configuration_opencv  # noqa: F401
    from lerobot.robots import RobotConfig, koch_follower  # noqa: F401  (registers the type)
    from lerobot.teleoperators import TeleoperatorConfig, koch_leader  # noqa: F401
    from lerobot.utils.import_utils import register_third_party_plugins

    from scripts.common import robot_profiles
    from scripts.motors import profile as motors_profile

    register_third_party_plugins()  # the replay camera (lerobot_camera_replay)
    prof = robot_profiles.load(args.robot, command="make record")
    raw = dict(prof["robot"])
    if args.robot_port:
        raw["port"] = args.robot_port
    cams = dict(raw.get("cameras") or {})
    if args.cameras == "none":
        cams = {}
    elif args.cameras == "replay":
        if not args.replay:
            raise PreflightError("CAMERAS=replay needs REPLAY=<v3.0 dataset> to serve frames", 2)
        cams = {
            n: {"type": "replay", "dataset": str(Path(args.replay).resolve()), "key": n}
            for n in cams
        }
    raw["cameras"] = cams
    try:
        robot_cfg = draccus.decode(RobotConfig, raw)
    except Exception as e:
        raise PreflightError(f"{prof['_path']}: {str(e).splitlines()[0]}", 2) from e
    tprof = motors_profile.load(args.teleop)
    if tprof.kind != "teleoperators":
        raise PreflightError(
            f"TELEOP={args.teleop}: not a leader-arm profile (recipes/teleops/)", 2
        )
    import yaml

    traw = dict(
        yaml.safe_load((motors_profile.TELEOPS / f"{args.teleop}.yaml").read_text())["teleop"]
    )
    if args.teleop_port:
        traw["port"] = args.teleop_port
    teleop_cfg = draccus.decode(TeleoperatorConfig, traw)
    return robot_cfg, teleop_cfg


def features_for(robot):
    """The dataset features LeRobot's recorder would build for this robot (identity pipelines)."""
    from lerobot.datasets import aggregate_pipeline_dataset_features, create_initial_features
    from lerobot.processor import make_default_processors
    from lerobot.utils.feature_utils import combine_feature_dicts

    t, r, o = make_default_processors()
    act = create_initial_features(action=robot.action_features)
    obs = create_initial_features(observation=robot.observation_features)
    features = combine_feature_dicts(
        aggregate_pipeline_dataset_features(pipeline=t, initial_features=act, use_videos=True),
        aggregate_pipeline_dataset_features(pipeline=o, initial_features=obs, use_videos=True),
    )
    return features, (t, r, o)


class Teleop:
    """The control step of a recording: follower observation, leader action, follower moves.

    A bus read that times out (``ConnectionError``: "There is no status packet") skips the
    tick (counted as missed; nothing is sent, nothing recorded) instead of ending the session
    as lerobot-record does; ``MAX_BUS_ERRORS`` in a row still end it (a cable came out). A port
    that vanished (USB unplugged, the simulator killed) fails in pyserial instead
    (``SerialException``: "device reports readiness to read but returned no data", or a
    ``termios.error`` EIO): counted the same way, so it ends the session after five ticks.
    """

    MAX_BUS_ERRORS = 5

    def __init__(self, robot, teleop, features: dict, processors, task: str) -> None:
        import termios

        from lerobot.utils.constants import ACTION, OBS_STR
        from lerobot.utils.feature_utils import build_dataset_frame
        from serial import SerialException

        self.robot, self.teleop, self.features, self.task = robot, teleop, features, task
        self.t, self.r, self.o = processors
        self._build, self._obs, self._act = build_dataset_frame, OBS_STR, ACTION
        self._bus_failures = (ConnectionError, SerialException, termios.error)
        self.bus_errors = 0  # in a row
        self.bus_errors_total = 0
        self._first_error = ""  # of the current run of failures: the cause, not its echo

    def tick(self, phase: str) -> dict | None:
        from scripts.session.runner import SkipTick

        arm = "follower"
        try:
            obs = self.robot.get_observation()
            arm = "leader"
            act = self.teleop.get_action()
            arm = "follower"
            obs_p = self.o(obs)
            act_p = self.t((act, obs))
            # KochFollower.send_action reads Present_Position too (max_relative_target)
            self.robot.send_action(self.r((act_p, obs)))
        except self._bus_failures as e:
            self.bus_errors += 1
            self.bus_errors_total += 1
            first = (str(e).strip().splitlines() or [type(e).__name__])[0][:120]
            if self.bus_errors == 1:
                self._first_error = f"{arm}: {first}"
            if self.bus_errors >= self.MAX_BUS_ERRORS:
                raise BusLost(
                    f"{self.bus_errors} bus reads in a row failed, the last on the {arm}'s port "
                    f"(the first, {self._first_error}): check the arms' cables and ports "
                    f"(ROBOT_PORT={self.robot.config.port}, TELEOP_PORT={self.teleop.config.port})"
                ) from e
            log(f"bus read failed on the {arm}'s port, tick skipped ({first})")
            raise SkipTick from e
        self.bus_errors = 0
        if phase != "episode":
            return None
        return {
            **self._build(self.features, obs_p, prefix=self._obs),
            **self._build(self.features, act_p, prefix=self._act),
            "task": self.task,
        }


def check(args: argparse.Namespace):
    """Knobs, DATASET, arms, cameras, disk; returns the values the recording needs."""
    episodes = int(number("EPISODES", args.episodes, int, 1))
    episode_s = number("EPISODE_S", args.episode_s, float, 0.1)
    reset_s = number("RESET_S", args.reset_s, float, 0)
    if not args.task.strip():
        raise PreflightError('TASK is empty: make record TASK="what the operator does"', 2)
    root = Path(os.path.abspath(args.dataset))
    problem = preflight.dataset_problem(root, args.resume)
    if problem:
        raise PreflightError(problem, 2)
    marker = journal.read_marker(root) if args.resume else None
    fps = (
        int(number("FPS", args.fps, int, 1, 240))
        if args.fps
        else int((marker or {}).get("fps", 30))
    )
    if marker and int(marker.get("fps", fps)) != fps:
        raise PreflightError(f"FPS={fps}: {root} was recorded at {marker['fps']} fps: drop FPS", 2)
    robot_cfg, teleop_cfg = robot_and_teleop(args)
    if os.path.realpath(robot_cfg.port) == os.path.realpath(teleop_cfg.port):
        raise PreflightError(
            f"the leader and the follower are both on {robot_cfg.port}: give each its own port "
            "(ROBOT_PORT=..., TELEOP_PORT=...; make motors SCAN=1 shows which is which)", 2
        )  # fmt: skip
    follower = preflight.arm_problems("follower", "ROBOT_PORT", args.robot, robot_cfg.port)
    leader = preflight.arm_problems("leader", "TELEOP_PORT", args.teleop, teleop_cfg.port)
    if follower and leader and preflight.swapped(args, robot_cfg.port, teleop_cfg.port):
        raise PreflightError(
            f"the arms are swapped: the leader ({args.teleop}) answers on ROBOT_PORT="
            f"{robot_cfg.port} and the follower ({args.robot}) on TELEOP_PORT={teleop_cfg.port}: "
            f"give ROBOT_PORT={teleop_cfg.port} TELEOP_PORT={robot_cfg.port}"
        )
    if follower or leader:
        raise PreflightError("\n".join(follower + leader))
    sizes = {n: (c.width or 640, c.height or 480) for n, c in robot_cfg.cameras.items()}
    problem = preflight.disk_problem(
        root, preflight.estimate_bytes(episodes, episode_s, fps, sizes)
    )
    if problem:
        raise PreflightError(problem)
    if robot_cfg.cameras and not args.no_camera_check:
        lines = preflight.camera_problems(robot_cfg.cameras, fps)
        if lines:
            raise PreflightError("\n".join(lines))
    log(f"preflight ok: both arms answer and are calibrated, {len(sizes)} camera(s) deliver "
        f"{fps} fps, disk ok")  # fmt: skip
    return root, episodes, episode_s, reset_s, fps, robot_cfg, teleop_cfg


def connect(device, label: str, attempts: int = 3) -> None:
    """LeRobot's connect (calibrate=False: the preflight checked the calibration), retried
    when a bus packet timed out (a busy laptop's USB or pty hands bytes over late)."""
    for attempt in range(1, attempts + 1):
        try:
            device.connect(calibrate=False)
            return
        except (ConnectionError, RuntimeError) as e:  # RuntimeError: "motor check failed"
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            if attempt == attempts:
                raise PreflightError(f"{label}: connect failed {attempts} times: {first}") from e
            log(f"{label}: connect failed ({first[:100]}); retrying")
            with contextlib.suppress(Exception):
                device.disconnect()
            bus = getattr(device, "bus", None)  # failed after the port opened: close it too
            if bus is not None and bus.is_connected:
                with contextlib.suppress(Exception):
                    bus.disconnect(disable_torque=False)
            time.sleep(0.5)


def release(device, label: str) -> None:
    """LeRobot's disconnect (torque off, port closed, cameras released), best effort.

    Why: it runs in ``record``'s ``finally``; a port that is gone (the reason the session
    ended) fails the torque-off write, and that error would replace the one line saying why
    with a traceback. So a failed disconnect is one log line, and the port and the cameras are
    still closed.
    """
    if not device.is_connected:
        return
    try:
        device.disconnect()
    except Exception as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:120]
        log(f"{label}: disconnect failed, its torque may still be on: {first}")
        bus = getattr(device, "bus", None)
        with contextlib.suppress(Exception):
            bus.port_handler.closePort()
        for cam in (getattr(device, "cameras", None) or {}).values():
            with contextlib.suppress(Exception):
                cam.disconnect()


def finish(
    root: Path, fps: int, res, before: int, writer, report_path: Path | None, t0: float
) -> int:
    """Finalize, exact stats, validator, report; returns the exit code."""
    from scripts.session import exact, report
    from validators.runner import validate_dataset

    writer.finish()
    if not journal.read(root):
        log(f"no episode saved; {root} holds an empty recording (RESUME=1 adds to it)")
        return 0
    n = exact.write_exact_stats(root)
    log(f"exact stats (float64) written for {n} episodes")
    result = validate_dataset(root)
    for f in result.errors[:5]:
        log(f"validator: {f.check_id}: {f.file or ''} {f.message}")
    session = {
        "saved": len(res.saved), "rerecorded": res.rerecorded, "stopped": res.stopped,
        "episodes_before": before, "validator_errors": len(result.errors),
        "wall_s": round(time.perf_counter() - t0, 2), "codec": writer.codec,
        "streaming": writer.streaming,
    }  # fmt: skip
    rep = report.build(root, fps, session)
    out = report_path or root / journal.SIDE / "report.json"
    text = report.write(root, rep, out, out.with_suffix(".png"))
    print(text, flush=True)
    if rep["slow_episodes"]:
        log(f"SLOW episodes (real rate below {rep['slow_below_hz']} Hz): {rep['slow_episodes']}")
    log(f"report {out} and {out.with_suffix('.png')}; validator: {len(result.errors)} error(s)")
    log(f"wrote {root}: {len(journal.read(root))} episodes (this session: {len(res.saved)})")
    return 4 if result.errors else 0


def record(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    root, episodes, episode_s, reset_s, fps, robot_cfg, teleop_cfg = check(args)
    from lerobot.robots import make_robot_from_config
    from lerobot.teleoperators import make_teleoperator_from_config

    from scripts.session.keys import TerminalKeys, merge_lerobot
    from scripts.session.runner import Session, SessionConfig
    from scripts.session.writer import CrashSafeWriter

    robot = make_robot_from_config(robot_cfg)
    teleop = make_teleoperator_from_config(teleop_cfg)
    features, processors = features_for(robot)
    streaming = not args.no_streaming
    writer = None
    events = None
    listener = None
    try:
        connect(teleop, "leader")  # before the robot, as lerobot-record does
        connect(robot, "follower")
        if args.resume:
            writer = CrashSafeWriter.resume(root, codec=args.codec, streaming=streaming)
            from lerobot.common.control_utils import sanity_check_dataset_robot_compatibility

            sanity_check_dataset_robot_compatibility(writer.ds, robot, fps, features)
        else:
            settings = {"robot": args.robot, "teleop": args.teleop, "task": args.task}
            writer = CrashSafeWriter.create(
                root, fps=fps, features=features, robot_type=robot.name, codec=args.codec,
                streaming=streaming, settings=settings,
            )  # fmt: skip
        writer.codec = args.codec
        before = writer.next_index
        if os.environ.get("DISPLAY"):  # LeRobot's pynput keys as well, where they can work
            try:
                from lerobot.utils.keyboard_input import init_keyboard_listener

                listener, events = init_keyboard_listener()
            except Exception:  # no pynput / no X server: the terminal keys remain
                listener = events = None
        with TerminalKeys() as keys:
            if not keys.active:
                log("stdin is not a terminal: no keys; the session runs on its timers")
            session = Session(
                SessionConfig(fps=fps, episodes=episodes, episode_s=episode_s, reset_s=reset_s),
                hooks=Teleop(robot, teleop, features, processors, args.task),
                sink=writer,
                keys=lambda: keys.poll() + merge_lerobot(events),
            )
            res = session.run()
    except BaseException:
        if writer is not None:  # bus lost, disk full, Ctrl-C: the encoder threads stop first
            writer.abort()
        raise
    finally:
        if listener is not None:
            listener.stop()
        release(robot, "follower")
        release(teleop, "leader")
    return finish(root, fps, res, before, writer, args.report, t0)


class BusLost(Exception):
    """``MAX_BUS_ERRORS`` reads in a row failed: a cable or a port is gone. Not an OSError
    (LeRobot's ConnectionError and pyserial's SerialException are), so ``main`` can tell it
    from a full disk and say it in one line instead of the traceback a bench run at load 7.5
    showed."""


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return record(args)
    except PreflightError as e:
        for line in str(e).splitlines():
            print(f"record: error: {line}", file=sys.stderr)
        return e.code
    except KeyboardInterrupt:
        print("record: interrupted", file=sys.stderr)
        return 130
    except BusLost as e:
        root = os.path.abspath(args.dataset)
        print(f"record: error: {e}; the episodes saved before it are intact; "
              f"make repair DATASET={root}", file=sys.stderr)  # fmt: skip
        return 1
    except (OSError, RuntimeError) as e:  # RuntimeError: LeRobot's encoder thread re-raised
        if not disk_full(e):
            raise
        root = os.path.abspath(args.dataset)
        print(f"record: error: disk full writing {root} ({str(e).splitlines()[0][:160]}): the "
              f"episodes saved before it are intact; free space, then make repair DATASET={root}",
              file=sys.stderr)  # fmt: skip
        return 1


def disk_full(e: BaseException) -> bool:
    """ENOSPC (or EDQUOT), also inside an error LeRobot's encoder thread turned into text."""
    while e is not None:
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if "No space left on device" in str(e) or "Disk quota exceeded" in str(e):
            return True
        e = e.__cause__ or e.__context__
    return False


if __name__ == "__main__":
    sys.exit(main())
