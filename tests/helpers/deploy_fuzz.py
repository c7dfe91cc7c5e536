"""Hostile messages for a live ``make serve`` / ``make robot`` (runs in envs/act; JSON lines).

Why a helper: the tests run in the light ``tools`` env; the messages are built here with the
real numpy, torch and LeRobot classes, sent over real gRPC with LeRobot's own stubs.

Usage: deploy_fuzz.py server ADDR CKPT N SEED
           handshake, then N generated hostile messages (observations and policy instructions),
           each answered as refused (or admitted if harmless) while health stays SERVING; every
           CHECK_EVERY messages and at the end a valid observation must still get a valid chunk
       deploy_fuzz.py regress ADDR CKPT
           the two original attacks (structured-dtype 0-d joint, storage grow), one each, then a
           valid observation -> a valid chunk
       deploy_fuzz.py bench
           decode time of a 2-camera 480x640 observation: stock pickle vs safe_pickle + checks
       deploy_fuzz.py hostile-server PORT SEED
           an AsyncInference server whose GetActions answers hostile chunks between valid ones
           (a valid one per observation received); prints its counts as JSON on SIGTERM

The generator is seeded (``random.Random(seed)``): a failure names its seed and message index,
and ``gen(seed)`` rebuilds the same message.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import pickle
import random
import signal
import sys
import threading
import time
import warnings
from concurrent import futures
from typing import Any

import numpy as np
import torch
import torch._utils
import torch.storage
from lerobot.async_inference.helpers import RemotePolicyConfig, TimedAction, TimedObservation
from lerobot.configs.types import FeatureType, PolicyFeature
from numpy._core import multiarray

CAMS, STATE, IMAGE = ("laptop", "phone"), 6, (96, 128, 3)
JOINTS = [f"j{i}.pos" for i in range(STATE)]
CHECK_EVERY = 250
warnings.filterwarnings("ignore", message="TypedStorage is deprecated")


class R:
    """Pickles to ``func(*args)`` (then BUILD ``state``): any program over admitted globals."""

    def __init__(self, func: Any, args: tuple, state: Any = None) -> None:
        self.func, self.args, self.state = func, args, state

    def __reduce__(self) -> tuple:
        return (self.func, self.args) if self.state is None else (self.func, self.args, self.state)


class Evil:
    def __reduce__(self) -> tuple:
        return (os.system, ("true",))


def features() -> dict:
    from lerobot.utils.constants import OBS_STR
    from lerobot.utils.feature_utils import hw_to_dataset_features

    hw: dict = dict.fromkeys(JOINTS, float)
    hw.update(dict.fromkeys(CAMS, IMAGE))
    return hw_to_dataset_features(hw, OBS_STR, use_video=False)


def raw_obs(rng: random.Random) -> dict:
    obs: dict[str, Any] = {j: rng.uniform(-90, 90) for j in JOINTS}
    for c in CAMS:
        obs[c] = np.full(IMAGE, rng.randrange(256), dtype=np.uint8)
    obs["task"] = "pick"
    return obs


# ---- hostile values ----------------------------------------------------------------------------
def structured_dtype(offset: int, base: str = "V8") -> R:
    """A dtype that BUILD gives a field at ``offset`` (numpy takes fields even on ``u1``)."""
    state = (3, "|", None, ("a",), {"a": (np.dtype("f8"), offset)}, 8, 1, 16)
    return R(np.dtype, (base, False, True), state)


def structured_scalar(offset: int = 1 << 40, base: str = "V8") -> R:
    """Attack 1: a 0-d array whose one field lies ``offset`` bytes away, admitted globals only."""
    dt = structured_dtype(offset, base)
    return R(multiarray._reconstruct, (np.ndarray, (0,), b"b"), (1, (), dt, False, b"\0" * 8))


def storage_grow(numel: int = 1 << 30) -> R:
    """Attack 2: a 4-float storage rebuilt as ``numel`` floats (torch grows the storage)."""
    storage = torch.arange(4, dtype=torch.float32).storage()
    od = collections.OrderedDict()
    return R(torch._utils._rebuild_tensor_v2, (storage, 0, (numel,), (1,), False, od))


def _atom(rng: random.Random) -> Any:
    return rng.choice(
        [0, -1, 1 << 62, -(1 << 62), 2**31, 1.5, float("nan"), float("inf"), True, None, "", "f4",
         "V8", "O", "u1", "<f8", "S100000", b"", b"b", b"\0" * 8, (0,), (), (1 << 40,), [1, 2],
         {"a": 1}, ("a",), np.ndarray, FeatureType.STATE]
    )  # fmt: skip


def _admitted(rng: random.Random) -> Any:
    return rng.choice(
        [np.dtype, multiarray._reconstruct, multiarray.scalar, np.ndarray,
         torch._utils._rebuild_tensor_v2, torch.storage._load_from_bytes, collections.OrderedDict,
         TimedObservation, TimedAction, RemotePolicyConfig, PolicyFeature, FeatureType]
    )  # fmt: skip


def program(rng: random.Random, depth: int = 0) -> Any:
    """A random call of an admitted global on random (nested) arguments, maybe with a BUILD."""
    if depth > 2 or rng.random() < 0.3:
        return _atom(rng)
    args = tuple(program(rng, depth + 1) for _ in range(rng.randrange(0, 7)))
    state = program(rng, depth + 1) if rng.random() < 0.4 else None
    return R(_admitted(rng), args, state)


def hostile_value(rng: random.Random) -> Any:
    """Something that must never reach LeRobot as a joint, camera or action value."""
    k = rng.randrange(12)
    if k == 0:
        return structured_scalar(rng.choice([8, 1 << 20, 1 << 40, -(1 << 30)]))
    if k == 1:
        return structured_scalar(rng.choice([0, 8, 1 << 40]), base=rng.choice(["u1", "f8", "i4"]))
    if k == 2:
        return storage_grow(rng.choice([5, 1 << 20, 1 << 30]))
    if k == 3:
        storage = torch.zeros(4).storage()
        od = collections.OrderedDict()
        off, size, stride = rng.choice(
            [(3, (4,), (1,)), (0, (2, 2), (1, 2)), (1 << 40, (1,), (1,))]
        )
        return R(torch._utils._rebuild_tensor_v2, (storage, off, size, stride, False, od))
    if k == 4:  # an array whose data is shorter/longer than its shape
        n = rng.choice([0, 7, 9])
        return R(multiarray._reconstruct, (np.ndarray, (0,), b"b"),
                 (1, (1 << 40,) if n == 0 else (8,), np.dtype("u1"), False, b"\0" * n))  # fmt: skip
    if k == 5:
        return np.zeros((2, 2), dtype=rng.choice(["c8", "M8[s]", "S4", "U2", "O"]))
    if k == 6:
        return rng.choice([float("nan"), float("inf"), "1.0", [1.0], None, True, {"x": 1}])
    if k == 7:
        return np.zeros(rng.choice([(3,), (96, 128), (128, 96, 3), (96, 128, 4)]), np.uint8)
    if k == 8:
        return R(np.ndarray, ((1 << 40,),))  # ndarray called directly: allocates what it is told
    if k == 9:
        return Evil()
    v = program(rng)  # an atom may be an honest number (a joint may be 2**31): then NaN
    return float("nan") if isinstance(v, (int, float)) and not isinstance(v, bool) else v


# ---- hostile messages --------------------------------------------------------------------------
def valid_observation_bytes(rng: random.Random, timestep: int) -> bytes:
    return pickle.dumps(TimedObservation(time.time(), timestep, raw_obs(rng), must_go=True))


def hostile_observation(rng: random.Random) -> tuple[str, bytes]:
    """(kind, bytes) of a SendObservations payload that must be refused."""
    k = rng.randrange(8)
    obs = raw_obs(rng)
    if k == 0:
        obs[rng.choice(JOINTS)] = hostile_value(rng)
        return "joint", pickle.dumps(TimedObservation(time.time(), 1, obs))
    if k == 1:
        obs[rng.choice(CAMS)] = hostile_value(rng)
        return "camera", pickle.dumps(TimedObservation(time.time(), 1, obs))
    if k == 2:  # wrong feature names
        obs.pop(rng.choice([*JOINTS, *CAMS]))
        if rng.random() < 0.5:
            obs[rng.choice(["j9.pos", "front", "observation.state", 7])] = 1.0
        return "keys", pickle.dumps(TimedObservation(time.time(), 1, obs))
    if k == 3:  # wrong field types
        fields = [time.time(), 1, obs, False]
        i = rng.randrange(4)
        fields[i] = hostile_value(rng)
        if i == 3 and isinstance(fields[3], bool):  # True is a fine must_go (seed 22, n 3391)
            fields[3] = "yes"
        return "fields", pickle.dumps(R(TimedObservation, tuple(fields)))
    if k == 4:  # truncated or garbled stream
        data = bytearray(valid_observation_bytes(rng, 1))
        if rng.random() < 0.5:
            return "truncated", bytes(data[: rng.randrange(len(data))])
        for _ in range(rng.randrange(1, 8)):
            i = rng.randrange(min(len(data), 4096))  # the opcodes, not the pixels
            data[i] = rng.randrange(256)
        return "garbled", bytes(data)
    if k == 5:  # huge declared sizes
        n = rng.choice([1 << 31, 1 << 40, (1 << 64) - 1])
        bytes8, bytes4 = (
            b"\x8e" + n.to_bytes(8, "little"),
            b"B" + (n & 0xFFFFFFFF).to_bytes(4, "little"),
        )
        head = rng.choice([bytes8, bytes4])
        return "declared_size", b"\x80\x04" + head + b"\0" * 16
    if k == 6:
        return "program", pickle.dumps(program(rng), protocol=rng.choice([2, 4, 5]))
    return "not_observation", pickle.dumps(rng.choice([obs, [obs], R(TimedAction, (1.0, 1, obs))]))


def hostile_instructions(rng: random.Random, ckpt: str) -> tuple[str, bytes]:
    fields: list[Any] = ["act", ckpt, features(), 10, "cpu", {}]
    i = rng.randrange(len(fields))
    fields[i] = rng.choice(
        [7, 1.5, None, [ckpt], {"a": 1}, "", -3, 0, True, ["x"], {1: 2}, {"a": 1.0}, b"act",
         hostile_value(rng), "\0", "x" * 5000]
    )  # fmt: skip
    if i == 3 and type(fields[3]) is int and fields[3] > 0:  # 7 is a fine actions_per_chunk
        fields[3] = -fields[3]
    if i == 2 and rng.random() < 0.5:  # features of the right type, wrong inside
        feats = features()
        key = rng.choice(list(feats))
        huge = {"dtype": "float32", "shape": (1 << 40,), "names": []}
        feats[key] = rng.choice([huge, {"dtype": "image", "shape": "x"}, [], hostile_value(rng)])
        fields[2] = feats
    return f"instructions[{i}]", pickle.dumps(R(RemotePolicyConfig, tuple(fields)))


def hostile_chunk(rng: random.Random) -> tuple[str, bytes]:
    """(kind, bytes) of a GetActions answer the client must refuse."""
    good = [TimedAction(time.time(), i, torch.zeros(STATE)) for i in range(10)]
    k = rng.randrange(9)
    if k == 0:
        good[rng.randrange(10)].action = hostile_value(rng)
        return "action_value", pickle.dumps(good)
    if k == 1:
        good[0].action = rng.choice(
            [torch.full((STATE,), float("nan")), torch.zeros(STATE + 1), torch.zeros(1, STATE),
             torch.zeros(STATE, dtype=torch.int64), torch.zeros(STATE, 2).T[0], torch.zeros(0)]
        )  # fmt: skip
        return "action_tensor", pickle.dumps(good)
    if k == 2:
        return "structured", pickle.dumps([R(TimedAction, (time.time(), 1, structured_scalar()))])
    if k == 3:
        return "grow", pickle.dumps([R(TimedAction, (time.time(), 1, storage_grow()))])
    if k == 4:
        return "not_chunk", pickle.dumps(rng.choice([[], good[0], {"a": good}, [1.0], None]))
    if k == 5:
        data = pickle.dumps(good)
        return "truncated", data[: rng.randrange(len(data))]
    if k == 6:
        stamp, step = rng.choice([float("nan"), "t"]), rng.choice([1.5, None])
        good[0] = R(TimedAction, (stamp, step, good[0].action))
        return "fields", pickle.dumps(good)
    if k == 7:
        return "program", pickle.dumps(program(rng))
    return "evil", pickle.dumps(Evil())


def gen(seed: int) -> random.Random:
    return random.Random(seed)


# ---- against a live server ---------------------------------------------------------------------
class Session:
    """A stub, a handshake, and the checks that the server still serves."""

    def __init__(self, addr: str, ckpt: str) -> None:
        import grpc
        from lerobot.transport import services_pb2, services_pb2_grpc

        self.grpc, self.pb = grpc, services_pb2
        self.channel = grpc.insecure_channel(addr)
        self.stub = services_pb2_grpc.AsyncInferenceStub(self.channel)
        self.ckpt, self.timestep = ckpt, 1_000_000
        cfg = RemotePolicyConfig("act", ckpt, features(), 10, "cpu")
        self.stub.SendPolicyInstructions(self.pb.PolicySetup(data=pickle.dumps(cfg)), timeout=120)

    def code(self, call: Any) -> tuple[str, str]:
        try:
            call()
            return "OK", ""
        except self.grpc.RpcError as e:
            return e.code().name, e.details() or ""

    def observe(self, data: bytes) -> tuple[str, str]:
        from lerobot.transport.utils import send_bytes_in_chunks

        return self.code(
            lambda: self.stub.SendObservations(
                send_bytes_in_chunks(data, self.pb.Observation), timeout=30
            )
        )

    def instruct(self, data: bytes) -> tuple[str, str]:
        return self.code(
            lambda: self.stub.SendPolicyInstructions(self.pb.PolicySetup(data=data), timeout=30)
        )

    def health(self) -> str:
        from scripts.deploy import health

        return health.check(self.channel, timeout=5.0)

    def valid_chunk(self, rng: random.Random) -> str:
        """'' if a valid observation gets a valid chunk; else what went wrong."""
        from scripts.deploy import message_check as mc
        from scripts.deploy import safe_pickle

        self.timestep += 100
        code, details = self.observe(valid_observation_bytes(rng, self.timestep))
        if code != "OK":
            return f"valid observation answered {code}: {details}"
        for _ in range(5):  # a harmless fuzzed observation may be queued first: fine too
            reply = self.stub.GetActions(self.pb.Empty(), timeout=30)
            if reply.data:
                mc.check_action_chunk(safe_pickle.loads(reply.data), TimedAction, STATE)
                return ""
        return "no chunk for a valid observation"


def fuzz_server(addr: str, ckpt: str, n: int, seed: int) -> dict:
    rng = gen(seed)
    s = Session(addr, ckpt)
    codes: collections.Counter[str] = collections.Counter()
    kinds: collections.Counter[str] = collections.Counter()
    t0 = time.perf_counter()
    for i in range(n):
        if rng.random() < 0.2:
            kind, data = hostile_instructions(rng, ckpt)
            code, details = s.instruct(data)
            ok = code in ("INVALID_ARGUMENT", "PERMISSION_DENIED", "FAILED_PRECONDITION")
        else:
            kind, data = hostile_observation(rng)
            code, details = s.observe(data)
            ok = code == "INVALID_ARGUMENT" or (code == "OK" and kind == "garbled")
        codes[code] += 1
        kinds[kind] += 1
        if not ok or "\n" in details:
            return {"failed": f"seed {seed} message {i} ({kind}): {code} {details[:300]!r}"}
        if i % CHECK_EVERY == CHECK_EVERY - 1 or i == n - 1:
            status, problem = s.health(), s.valid_chunk(rng)
            if status != "SERVING" or problem:
                return {"failed": f"seed {seed} after message {i} ({kind}): {status} {problem}"}
    dt = time.perf_counter() - t0
    return {"n": n, "seed": seed, "s": round(dt, 2), "per_s": round(n / dt), "codes": codes,
            "kinds": kinds, "health": s.health()}  # fmt: skip


def regress(addr: str, ckpt: str) -> dict:
    """The two original attacks, exactly as reported, each followed by a GetActions (where the
    stock server builds the frame and crashes), then health and a valid observation."""
    rng = gen(0)
    s = Session(addr, ckpt)
    attacks = {
        "structured": (JOINTS[0], structured_scalar(1 << 30)),  # segfault in build_dataset_frame
        "structured_small": (JOINTS[0], structured_scalar(64)),  # heap bytes as a joint value
        "grow": (CAMS[0], storage_grow()),  # 4 GiB
        "grow_small": (CAMS[0], storage_grow(1 << 20)),  # 4 MiB: under the size cap
    }
    out: dict[str, Any] = {}
    for t, (name, (key, value)) in enumerate(attacks.items()):
        obs = raw_obs(rng)
        obs[key] = value
        out[name] = s.observe(pickle.dumps(TimedObservation(1.0, t + 1, obs, must_go=True)))
        got = s.code(lambda: s.stub.GetActions(s.pb.Empty(), timeout=30))
        out[f"{name}_get_actions"] = got[0]
    out["health"] = s.health()
    out["valid"] = s.valid_chunk(rng) or "ok"
    return out


def bench() -> dict:
    """Median decode ms of a 2x480x640 observation: ``pickle.loads`` vs ours (+ value checks)."""
    import statistics

    from scripts.deploy import message_check as mc
    from scripts.deploy import safe_pickle

    rng = gen(0)
    obs = {j: rng.uniform(-90, 90) for j in JOINTS}
    obs.update(
        {c: np.random.default_rng(1).integers(0, 255, (480, 640, 3), np.uint8) for c in CAMS}
    )
    data = pickle.dumps(TimedObservation(time.time(), 1, obs))
    schema = mc.ObservationSchema(frozenset(JOINTS), dict.fromkeys(CAMS, (480, 640, 3)))

    def ours() -> None:
        mc.check_observation(safe_pickle.loads(data), TimedObservation, schema)

    out: dict[str, Any] = {"bytes": len(data)}
    for name, fn in (("stock_ms", lambda: pickle.loads(data)), ("safe_ms", ours)):
        times = []
        for _ in range(200):
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1000)
        out[name] = round(statistics.median(times), 3)
    return out


# ---- a hostile server for a live client --------------------------------------------------------
def hostile_server(port: int, seed: int) -> None:
    import grpc
    from lerobot.transport import services_pb2, services_pb2_grpc
    from lerobot.transport.utils import receive_bytes_in_chunks

    from scripts.deploy import health, safe_pickle

    rng, lock = gen(seed), threading.Lock()
    counts: collections.Counter[str] = collections.Counter()
    pending: list[int] = []  # timesteps of observations not answered yet

    class Servicer(services_pb2_grpc.AsyncInferenceServicer):
        def Ready(self, request: Any, context: Any) -> Any:
            return services_pb2.Empty()

        def SendPolicyInstructions(self, request: Any, context: Any) -> Any:
            return services_pb2.Empty()

        def SendObservations(self, request_iterator: Any, context: Any) -> Any:
            data = receive_bytes_in_chunks(request_iterator, None, threading.Event(), "")
            obs = safe_pickle.loads(data)
            with lock:
                pending.append(obs.get_timestep())
            return services_pb2.Empty()

        def GetActions(self, request: Any, context: Any) -> Any:
            with lock:
                t = pending.pop(0) if pending else None
                if t is None and not counts["hostile"]:  # attack 4 first: its line is printed
                    kind, data = (
                        "structured",
                        pickle.dumps([R(TimedAction, (time.time(), 1, structured_scalar()))]),
                    )
                    counts[kind] += 1
                    counts["hostile"] += 1
                elif t is None:
                    kind, data = hostile_chunk(rng)
                    counts[kind] += 1
                    counts["hostile"] += 1
            if t is not None:  # a valid chunk as LeRobot's server makes it: views of one tensor
                actions = torch.rand(10, STATE) * 10
                now = time.time()
                chunk = [TimedAction(now + i / 30, t + i, actions[i]) for i in range(10)]
                with lock:
                    counts["valid"] += 1
                return services_pb2.Actions(data=pickle.dumps(chunk))
            time.sleep(0.004)
            return services_pb2.Actions(data=data)

    server = grpc.server(futures.ThreadPoolExecutor(4), options=[("grpc.so_reuseport", 0)])
    services_pb2_grpc.add_AsyncInferenceServicer_to_server(Servicer(), server)
    svc = health.HealthService()
    svc.set(health.SERVING)
    server.add_generic_rpc_handlers((svc.handler(),))
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    print(json.dumps({"listening": port, "seed": seed}), flush=True)
    done.wait()
    with lock:
        print(json.dumps({"counts": counts}), flush=True)
    server.stop(0)


def main() -> None:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("server")
    f.add_argument("addr")
    f.add_argument("ckpt")
    f.add_argument("n", type=int)
    f.add_argument("seed", type=int)
    r = sub.add_parser("regress")
    r.add_argument("addr")
    r.add_argument("ckpt")
    sub.add_parser("bench")
    h = sub.add_parser("hostile-server")
    h.add_argument("port", type=int)
    h.add_argument("seed", type=int)
    a = p.parse_args()
    if a.cmd == "server":
        print(json.dumps(fuzz_server(a.addr, a.ckpt, a.n, a.seed)), flush=True)
    elif a.cmd == "regress":
        print(json.dumps(regress(a.addr, a.ckpt)), flush=True)
    elif a.cmd == "bench":
        print(json.dumps(bench()), flush=True)
    else:
        hostile_server(a.port, a.seed)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
