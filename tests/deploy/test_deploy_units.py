"""Deploy building blocks that need no process: safe unpickling, allow-list, features, profiles.

These run in the tools env (no torch, no grpc); the same code runs in the server and client.
The real-gRPC checks of the same rules are in test_deploy_loop.py.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from scripts.deploy import checkpoint as ck
from scripts.deploy import profiles, safe_pickle
from scripts.deploy.server import bind_policy, is_loopback


class Evil:
    def __init__(self, cmd: str) -> None:
        self.cmd = cmd

    def __reduce__(self):
        return (os.system, (self.cmd,))


def test_restricted_unpickler_refuses_os_system(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"observation": Evil(f"touch {marker}")})
    with pytest.raises(safe_pickle.RefusedPayload, match=r"refused global posix\.system"):
        safe_pickle.loads(payload)
    assert not marker.exists()
    with pytest.raises(safe_pickle.RefusedPayload, match="undecodable"):
        safe_pickle.loads(pickle.dumps({"observation": 1.0})[:-5])


def test_restricted_unpickler_admits_what_observations_carry() -> None:
    obs = {"shoulder_pan.pos": 1.5, "laptop": np.arange(24, dtype=np.uint8).reshape(2, 4, 3)}
    got = safe_pickle.loads(pickle.dumps(obs))
    assert got["shoulder_pan.pos"] == 1.5 and got["laptop"].dtype == np.uint8
    assert np.array_equal(got["laptop"], obs["laptop"])
    with pytest.raises(safe_pickle.RefusedPayload, match=r"builtins\.eval"):
        safe_pickle.loads(pickle.dumps(eval))


def _ckpt(root: Path, cams=("laptop", "phone"), state: int = 6) -> Path:
    root.mkdir(parents=True)
    feats = {f"observation.images.{c}": {"type": "VISUAL", "shape": [3, 96, 128]} for c in cams}
    feats["observation.state"] = {"type": "STATE", "shape": [state]}
    cfg = {
        "type": "act",
        "chunk_size": 10,
        "input_features": feats,
        "output_features": {"action": {"type": "ACTION", "shape": [state]}},
    }
    (root / "config.json").write_text(json.dumps(cfg))
    return root


def test_checkpoint_allow_list(tmp_path: Path) -> None:
    root = _ckpt(tmp_path / "run" / "pretrained_model")
    assert ck.allowed(root, [root]) == root.resolve()
    other = _ckpt(tmp_path / "other")
    (root / "escape").symlink_to(other)  # a link inside the root pointing out of it
    cases = (other, root / "escape", "lerobot/act_koch", "relative/dir", tmp_path / "missing",
             "/bad\0path", "/" + "x" * 5000)  # fmt: skip
    messages = set()
    for bad in cases:
        with pytest.raises(ck.CheckpointError) as e:
            ck.allowed(bad, [root])
        messages.add(str(e.value).replace(repr(str(bad)[:200]), "<path>"))
    # An existing directory outside the roots and a missing one read the same: the answer does
    # not tell a client what exists on the server. It names the roots and how to add one.
    assert messages == {
        f"checkpoint <path> refused: the server loads only directories under its allowed roots "
        f"({root.resolve()}); Hub ids are never loaded. To serve another directory, start the "
        "server with CHECKPOINT=<it> or add it to ALLOW_ROOTS"
    }


def test_feature_mismatch_names_both_sets(tmp_path: Path) -> None:
    cfg = ck.read_config(_ckpt(tmp_path / "c"))
    robot = {
        "observation.state": {"shape": (7,)},
        "observation.images.front": {"shape": (480, 640, 3)},
    }
    msg = ck.mismatch(cfg, robot, action_dim=7)
    assert msg is not None
    assert "checkpoint cameras ['laptop', 'phone'] vs robot cameras ['front']" in msg
    assert "checkpoint state 6-d vs robot state 7-d" in msg
    assert "checkpoint action 6-d vs robot action 7-d" in msg
    same = {
        "observation.state": {"shape": (6,)},
        "observation.images.laptop": {"shape": (480, 640, 3)},
        "observation.images.phone": {"shape": (480, 640, 3)},
    }
    assert ck.mismatch(cfg, same, action_dim=6) is None
    with pytest.raises(ck.CheckpointError, match=r"no config\.json"):
        ck.read_config(tmp_path)


def test_unknown_robot_lists_profiles() -> None:
    assert {"koch", "replay"} <= set(profiles.names())
    with pytest.raises(profiles.ProfileError) as e:
        profiles.load("kich")
    assert "have: koch, replay" in str(e.value) and "did you mean 'koch'" in str(e.value)
    prof = profiles.apply(profiles.load("koch"), {"robot_port": "/dev/ttyUSB3", "dataset": "x"})
    assert prof["robot"]["port"] == "/dev/ttyUSB3" and "dataset" not in prof["robot"]


def test_bind_beyond_loopback_needs_opt_in() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3")
    assert "loopback only" in bind_policy("127.0.0.1", allow_remote=False)
    with pytest.raises(SystemExit, match="ALLOW_REMOTE=1"):
        bind_policy("0.0.0.0", allow_remote=False, tls=True)
    with pytest.raises(SystemExit, match="also needs TLS_DIR"):
        bind_policy("0.0.0.0", allow_remote=True, tls=False)
    assert bind_policy("0.0.0.0", allow_remote=True, tls=True).startswith("WARNING")
    assert "mutual TLS" in bind_policy("127.0.0.1", allow_remote=False, tls=True)


def test_tunnel_forwards_loopback_to_loopback() -> None:
    """make tunnel binds the robot PC's loopback only and reaches the server's loopback only."""
    import subprocess

    from conftest import REPO

    dry = subprocess.run(
        ["make", "-n", "tunnel", "GPU_HOST=me@gpu-box", "PORT=9000"],
        cwd=REPO, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert dry.returncode == 0, dry.stderr
    assert "ssh -N -o ExitOnForwardFailure=yes -L 127.0.0.1:9000:127.0.0.1:9000 me@gpu-box" in (
        dry.stdout
    )
    bare = subprocess.run(["make", "tunnel"], cwd=REPO, capture_output=True, text=True, check=False)
    assert bare.returncode != 0 and "make tunnel GPU_HOST=" in bare.stderr


def test_report_goal_vs_present(tmp_path: Path) -> None:
    """The report's following numbers are |goal - present| per joint and observation; the PNG
    gets a goal-vs-present panel (a motor that lags shows as the worst joint)."""
    from scripts.deploy import report

    m = report.Metrics(t_process=0.0)
    goal = {"shoulder_pan.pos": 10.0, "gripper.pos": 50.0, "ignored": 1.0}
    m.followed(goal, {"shoulder_pan.pos": 9.5, "gripper.pos": 50.0, "laptop": "frame"})
    m.followed(goal, {"shoulder_pan.pos": 10.0, "gripper.pos": 47.0})
    m.followed(goal, {"shoulder_pan.pos": 10.0})  # a joint missing: not a comparable sample
    assert m.follow_names == ["gripper.pos", "shoulder_pan.pos"]
    got = report.following(m)
    assert got is not None
    assert (got["n"], got["max"], got["worst_joint"]) == (4, 3.0, "gripper.pos")
    assert got["p50"] == 0.25  # errors 0, 0.5, 3, 0
    m.action(0)  # a goal was sent, so an action was performed
    out = report.summarise(m, fps=30, actions_per_chunk=10, extra={})
    assert out["goal_present_error"] == got
    assert "goal-present error p95" in report.one_line(out)
    assert report.following(report.Metrics(t_process=0.0)) is None
    report.plot(m, tmp_path / "r.png", None)
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


class _R:
    """Pickles to ``func(*args)`` then BUILD ``state``: values from admitted globals only."""

    def __init__(self, func, args, state=None) -> None:
        self.func, self.args, self.state = func, args, state

    def __reduce__(self):
        return (self.func, self.args, self.state)


def _structured_scalar(base: str, offset: int) -> _R:
    from numpy._core import multiarray

    fields = (3, "|", None, ("a",), {"a": (np.dtype("f8"), offset)}, 8, 1, 16)
    dt = _R(np.dtype, (base, False, True), fields)
    return _R(multiarray._reconstruct, (np.ndarray, (0,), b"b"), (1, (), dt, False, b"\0" * 8))


@pytest.mark.parametrize("base", ["V8", "u1", "f8"])
def test_structured_dtype_refused_before_it_exists(base: str) -> None:
    """numpy attaches BUILD's fields even to a u1 dtype; the unpickler refuses the state."""
    payload = pickle.dumps({"j0.pos": _structured_scalar(base, 1 << 40)})
    with pytest.raises(safe_pickle.RefusedPayload, match="dtype"):
        safe_pickle.loads(payload)


def test_numpy_values_refused_unless_plain() -> None:
    for bad in (np.zeros(2, "c8"), np.zeros(2, "O"), np.zeros(2, "S3"), np.zeros(2, "M8[s]")):
        with pytest.raises(safe_pickle.RefusedPayload):
            safe_pickle.loads(pickle.dumps(bad))
    with pytest.raises(safe_pickle.RefusedPayload, match="ndarray called directly"):
        safe_pickle.loads(pickle.dumps(_R(np.ndarray, ((1 << 40,),), None)))
    for ok in (np.float32(1.5), np.arange(6, dtype=np.int16), np.ones((2, 3), bool)):
        assert np.array_equal(safe_pickle.loads(pickle.dumps(ok)), ok)


def _schema():
    from scripts.deploy import message_check as mc

    feats = {
        "observation.state": {"dtype": "float32", "shape": (2,), "names": ["a.pos", "b.pos"]},
        "observation.images.cam": {"dtype": "image", "shape": (4, 5, 3), "names": None},
    }
    mc.check_features(feats)
    return mc, mc.observation_schema(feats)


def test_observation_must_match_the_session() -> None:
    from dataclasses import dataclass

    @dataclass
    class Obs:  # stands in for TimedObservation (same fields)
        timestamp: float
        timestep: int
        observation: dict
        must_go: bool = False

    mc, schema = _schema()
    good = {"a.pos": 1.0, "b.pos": np.float32(2), "cam": np.zeros((4, 5, 3), np.uint8), "task": ""}
    mc.check_observation(Obs(1.0, 0, good), Obs, schema)
    cases = {
        "keys differ": {**good, "c.pos": 1.0},
        "shape": {**good, "cam": np.zeros((5, 4, 3), np.uint8)},
        "finite": {**good, "a.pos": float("nan")},
        "float32 number": {**good, "a.pos": 10**400},
        "want a finite number": {**good, "a.pos": "1"},
    }
    for says, raw in cases.items():
        with pytest.raises(mc.MessageRefused, match=says):
            mc.check_observation(Obs(1.0, 0, raw), Obs, schema)
    with pytest.raises(mc.MessageRefused, match="timestep"):
        mc.check_observation(Obs(1.0, np.zeros((100, 100)), good), Obs, schema)
    assert "\n" not in mc.brief(np.zeros((100, 100)))


def test_instructions_need_their_declared_types() -> None:
    from dataclasses import dataclass, field

    @dataclass
    class Cfg:  # stands in for RemotePolicyConfig (same fields)
        policy_type: object
        pretrained_name_or_path: object
        lerobot_features: object
        actions_per_chunk: object
        device: object = "cpu"
        rename_map: object = field(default_factory=dict)

    mc, _ = _schema()
    feats = {"observation.state": {"dtype": "float32", "shape": (1,), "names": ["a"]}}
    mc.check_instructions(Cfg("act", "/ckpt", feats, 10), Cfg)
    bads = [("act", 7, feats, 10), ("act", "/c", [feats], 10), ("act", "/c", feats, 0),
            ("act", "/c", feats, True), ("act", "/c", feats, 10, None),
            ("act", "/c", feats, 10, "cpu", {"a": 1})]  # fmt: skip
    for fields in bads:
        bad = Cfg(*fields)
        with pytest.raises(mc.MessageRefused):
            mc.check_instructions(bad, Cfg)


def test_report_of_a_run_without_actions_says_so() -> None:
    """A run stopped before its first action (refused chunk, stall) prints no None metrics."""
    from scripts.deploy import report

    empty = report.summarise(report.Metrics(t_process=0.0), fps=30, actions_per_chunk=10, extra={})
    line = report.one_line(empty)
    assert line == "no action executed (0 chunks received, target 30 fps)"
    m = report.Metrics(t_process=0.0)
    m.action(3)  # one action, its chunk's round trip not recorded
    line = report.one_line(report.summarise(m, fps=30, actions_per_chunk=10, extra={}))
    assert "None" not in line and "round trip not measured" in line, line


@pytest.mark.parametrize(
    "flag, value, says",
    [
        ("--actions-per-chunk", "0", "ACTIONS_PER_CHUNK=0: want an integer >= 1"),
        ("--actions-per-chunk", "2.5", "ACTIONS_PER_CHUNK=2.5: want an integer >= 1"),
        ("--chunk-threshold", "1.5", "CHUNK_THRESHOLD=1.5: want a number in [0, 1]"),
        ("--chunk-threshold", "nan", "CHUNK_THRESHOLD=nan: want a number in [0, 1]"),
        ("--fps", "0", "FPS=0: want an integer >= 1"),
        ("--fps", "abc", "FPS=abc: want an integer >= 1"),
        ("--stall-s", "0", "STALL_S=0: want a number > 0"),
        ("--stall-s", "-1", "STALL_S=-1: want a number > 0"),
    ],
)
def test_client_knobs_refused_naming_the_knob(flag: str, value: str, says: str, capsys) -> None:
    """A bad knob is refused before the profile is decoded, naming the knob (not the profile)."""
    from scripts.deploy import client

    rc = client.main(["--robot", "replay", "--checkpoint", "/nonexistent", flag, value])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1, err
    knob = says.split("=")[0]
    assert err[0] == f"robot: error: {says} (make robot {knob}=...)"
    assert "recipes/robots" not in err[0]


def test_client_knobs_in_range_pass_and_profile_stall_s_refused() -> None:
    import argparse

    from scripts.deploy import knobs

    a = argparse.Namespace(
        fps="15", actions_per_chunk="10", chunk_threshold="0", stall_s="0.5", duration=None
    )
    knobs.check(a)
    assert (a.fps, a.actions_per_chunk, a.chunk_threshold, a.stall_s) == (15, 10, 0.0, 0.5)
    knobs.check_stall_s({"ops": {"stall_s": 3.0}})
    with pytest.raises(
        knobs.KnobError, match=r"^x.yaml: ops.stall_s: STALL_S=0: want a number > 0"
    ):
        knobs.check_stall_s({"_path": "x.yaml", "ops": {"stall_s": 0}})
