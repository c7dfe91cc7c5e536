"""Value checks on decoded async-inference messages: admitted types are not admitted values.

Why: ``safe_pickle`` admits only a few globals, but those globals still build hostile values.
A 0-d numpy array with a structured dtype (a field at a huge offset) is made from admitted
names only; LeRobot's ``build_dataset_frame`` then runs ``np.array([...], dtype=float32)`` on
it and reads far outside the array (segfault, or heap bytes fed to the policy). A tensor whose
``size``/``stride`` exceed its storage, a number where a path is expected, a list where the
features are expected: each raises deep inside LeRobot, or worse, does not.

What we check, after decoding and before LeRobot sees a value:
- every array/scalar/tensor has a plain numeric or boolean dtype (numpy kinds b, i, u, f; no
  fields, sub-arrays, objects or voids) and a bounded size; a tensor is contiguous and lies
  inside its storage (``plain_values``);
- a handshake has the types ``RemotePolicyConfig`` declares, and features LeRobot's
  ``build_dataset_frame`` can use (``check_instructions``);
- an observation has exactly the session's joints and cameras, each of the announced shape
  (``observation_schema``, ``check_observation``);
- an action chunk is a non-empty list of ``TimedAction`` with finite float actions of the
  checkpoint's action size (``check_action_chunk``).

Every refusal is ``MessageRefused`` with one line naming what was wrong. numpy only at import
(the tools env runs the unit tests); torch is imported when a tensor is met.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

PLAIN_KINDS = frozenset("biuf")  # bool, signed, unsigned, float
MAX_ITEMSIZE = 8
MAX_ELEMENTS = 64 * 1024 * 1024  # any one array or tensor: 64 Mi elements (a 4K RGB frame: 25 Mi)
MAX_MESSAGE_BYTES = 256 * 1024 * 1024  # any message, before a session says less
MAX_DEPTH = 8  # nesting of containers in a message
MAX_ITEMS = 10_000  # containers' items in one message
MAX_TEXT = 4096  # task strings, paths, names
MAX_CHUNK = 4096  # actions in one chunk
MAX_NUMBER = 3.0e38  # a joint value float32 can hold (LeRobot builds float32 frames)
IMAGE_PREFIX = "observation.images."
FEATURE_DTYPES = frozenset({"float32", "image", "video"})


class MessageRefused(ValueError):
    """A decoded message whose values are not what the protocol allows (one line)."""


def brief(v: Any) -> str:
    """A value for an error line: short, one line, never an array's contents."""
    text = repr(v) if v is None or isinstance(v, (bool, int, float, str)) else type(v).__name__
    return " ".join(text.split())[:60]


# ---- dtypes and values ----------------------------------------------------------------------
def plain_dtype(dt: Any) -> np.dtype:
    """``dt`` as a numpy dtype if it is plain numeric/boolean; else ``MessageRefused``."""
    if not isinstance(dt, np.dtype):
        raise MessageRefused(f"dtype {type(dt).__name__} is not a numpy dtype")
    if (
        dt.kind not in PLAIN_KINDS
        or dt.fields is not None
        or dt.names is not None
        or dt.subdtype is not None
        or dt.hasobject
        or not 1 <= dt.itemsize <= MAX_ITEMSIZE
    ):
        raise MessageRefused(f"dtype {dt!r} refused (want plain bool/int/uint/float)")
    return dt


def check_array(a: np.ndarray | np.generic, where: str) -> None:
    """A numpy array or scalar: plain dtype, bounded size, owns or views a plain buffer."""
    try:
        plain_dtype(a.dtype)
    except MessageRefused as e:
        raise MessageRefused(f"{where}: {e}") from None
    if isinstance(a, np.ndarray):
        if type(a) is not np.ndarray:
            raise MessageRefused(f"{where}: array subclass {type(a).__name__} refused")
        if a.size > MAX_ELEMENTS or a.ndim > 8:
            raise MessageRefused(f"{where}: array of shape {a.shape} too large")


def check_tensor(t: Any, where: str) -> None:
    """A torch tensor: plain dtype, cpu, contiguous, and exactly inside its storage.

    Why: ``_rebuild_tensor_v2`` takes offset/size/stride from the message; torch's ``set_``
    grows the storage to fit, so a few hundred bytes can claim gigabytes (refused while
    decoding, see safe_pickle); this is the same rule on the decoded result.
    """
    import torch

    if type(t) is not torch.Tensor:
        raise MessageRefused(f"{where}: {type(t).__name__} refused (want a plain torch.Tensor)")
    if t.dtype.is_complex or not (t.dtype.is_floating_point or t.dtype in _TORCH_INTS):
        raise MessageRefused(f"{where}: tensor dtype {t.dtype} refused")
    if t.device.type != "cpu" or t.layout != torch.strided or t.is_quantized:
        raise MessageRefused(f"{where}: tensor on {t.device}/{t.layout} refused")
    if t.numel() > MAX_ELEMENTS:
        raise MessageRefused(f"{where}: tensor of shape {tuple(t.shape)} too large")
    if not t.is_contiguous():
        raise MessageRefused(f"{where}: non-contiguous tensor (stride {t.stride()}) refused")
    extent = (t.storage_offset() + t.numel()) * t.element_size()
    if extent > t.untyped_storage().nbytes():
        raise MessageRefused(f"{where}: tensor reaches beyond its storage")


def _torch_ints() -> frozenset[Any]:
    try:
        import torch
    except ImportError:  # the tools env: no tensors to meet
        return frozenset()
    return frozenset({torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64})


_TORCH_INTS = _torch_ints()


def plain_values(obj: Any) -> None:
    """Walk a decoded message; every array, scalar and tensor in it must be plain and bounded."""
    budget = [MAX_ITEMS]
    _walk(obj, "message", 0, budget)


def _walk(obj: Any, where: str, depth: int, budget: list[int]) -> None:
    budget[0] -= 1
    if budget[0] < 0 or depth > MAX_DEPTH:
        raise MessageRefused(f"{where}: message too deeply nested or too many items")
    if obj is None or isinstance(obj, (bool, int, float, str, bytes)):
        if isinstance(obj, (str, bytes)) and len(obj) > MAX_TEXT:
            raise MessageRefused(f"{where}: text of {len(obj)} characters too long")
        return
    if isinstance(obj, (np.ndarray, np.generic)):
        check_array(obj, where)
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            _walk(k, f"{where} key", depth + 1, budget)
            _walk(v, f"{where}[{brief(k)}]", depth + 1, budget)
        return
    if isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            _walk(v, f"{where}[{i}]", depth + 1, budget)
        return
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        _walk(vars(obj), f"{where}.{type(obj).__name__}", depth + 1, budget)
        return
    if isinstance(obj, enum.Enum) and type(obj).__module__.startswith("lerobot."):
        return  # FeatureType
    if type(obj).__module__ == "torch":
        check_tensor(obj, where)
        return
    raise MessageRefused(f"{where}: {type(obj).__name__} refused in a message")


# ---- handshake ------------------------------------------------------------------------------
def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


DEVICE = re.compile(r"(cpu|cuda|mps|xpu|npu)(:\d{1,2})?")


def _text(x: Any, what: str) -> str:
    if not isinstance(x, str) or not x or len(x) > MAX_TEXT:
        raise MessageRefused(f"{what} must be a non-empty string, got {type(x).__name__}")
    return x


def check_features(features: Any) -> None:
    """``lerobot_features`` as ``hw_to_dataset_features`` writes them, usable by LeRobot."""
    if not isinstance(features, dict) or not features:
        raise MessageRefused(f"lerobot_features must be a dict, got {type(features).__name__}")
    for key, ft in features.items():
        _text(key, "feature name")
        if not key.startswith("observation."):
            raise MessageRefused(f"feature {brief(key)}: not an observation feature")
        if not isinstance(ft, dict) or ft.get("dtype") not in FEATURE_DTYPES:
            raise MessageRefused(f"feature {key!r}: want a dict with dtype float32/image/video")
        shape = ft.get("shape")
        if (
            not isinstance(shape, (tuple, list))
            or not shape
            or not all(_is_int(n) and 0 < n <= 1 << 16 for n in shape)
        ):
            raise MessageRefused(
                f"feature {key!r}: shape must be positive ints, got {brief(shape)}"
            )
        if ft["dtype"] == "float32":
            names = ft.get("names")
            if len(shape) != 1 or not isinstance(names, (list, tuple)) or len(names) != shape[0]:
                raise MessageRefused(f"feature {key!r}: float32 needs shape (n,) and n names")
            for n in names:
                _text(n, f"feature {key!r} name")
        elif not key.startswith(IMAGE_PREFIX) or len(shape) != 3 or math.prod(shape) > (1 << 26):
            raise MessageRefused(f"feature {key!r}: an image is observation.images.<cam> (H,W,C)")


def check_instructions(specs: Any, config_cls: type) -> None:
    """A ``RemotePolicyConfig`` whose fields have the types LeRobot's dataclass declares."""
    if type(specs) is not config_cls:
        raise MessageRefused(f"want RemotePolicyConfig, got {type(specs).__name__}")
    _text(specs.pretrained_name_or_path, "pretrained_name_or_path")
    _text(specs.policy_type, "policy_type")
    device = _text(specs.device, "device")
    if not DEVICE.fullmatch(device):  # the server decides the device; a name is all it logs
        raise MessageRefused(
            f"device must be a torch device name (cpu, cuda:0, mps), got {brief(device)}"
        )
    n = specs.actions_per_chunk
    if not _is_int(n) or not 0 < n <= MAX_CHUNK:
        raise MessageRefused(f"actions_per_chunk must be an int in 1..{MAX_CHUNK}, got {brief(n)}")
    rm = specs.rename_map
    if not isinstance(rm, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in rm.items()
    ):
        raise MessageRefused("rename_map must be a dict of strings to strings")
    check_features(specs.lerobot_features)


# ---- observations ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ObservationSchema:
    """What the session's observations hold: joint names and camera shapes (from the handshake)."""

    joints: frozenset[str]
    cameras: dict[str, tuple[int, ...]]

    @property
    def max_bytes(self) -> int:
        """Largest honest observation: every camera at 8 bytes a value, plus pickle overhead."""
        pixels = sum(math.prod(s) for s in self.cameras.values())
        return min(MAX_MESSAGE_BYTES, 8 * pixels + 256 * len(self.joints) + (1 << 20))


def observation_schema(features: dict[str, Any]) -> ObservationSchema:
    """Joints and cameras as LeRobot's ``build_dataset_frame`` reads them from the features."""
    joints: set[str] = set()
    cameras: dict[str, tuple[int, ...]] = {}
    for key, ft in features.items():
        if ft["dtype"] == "float32":
            joints.update(ft["names"])
        else:
            cameras[key.removeprefix(IMAGE_PREFIX)] = tuple(ft["shape"])
    return ObservationSchema(frozenset(joints), cameras)


def _finite_number(v: Any, where: str) -> None:
    if isinstance(v, (np.ndarray, np.generic)):
        check_array(v, where)
        if v.shape != () or not np.isfinite(v).all():
            raise MessageRefused(f"{where}: want one finite number, got shape {v.shape}")
        return
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise MessageRefused(f"{where}: want a finite number, got {type(v).__name__}")
    if not abs(v) <= MAX_NUMBER:  # NaN, inf, and ints float32 cannot hold (no OverflowError)
        raise MessageRefused(f"{where}: {brief(v)} is not a finite float32 number")


def check_observation(obs: Any, obs_cls: type, schema: ObservationSchema) -> None:
    """A ``TimedObservation`` holding exactly the session's joints and cameras."""
    if type(obs) is not obs_cls:
        raise MessageRefused(f"want TimedObservation, got {type(obs).__name__}")
    _finite_number(obs.timestamp, "timestamp")
    if not _is_int(obs.timestep) or obs.timestep < 0:
        raise MessageRefused(f"timestep must be an int >= 0, got {brief(obs.timestep)}")
    if not isinstance(obs.must_go, bool):
        raise MessageRefused("must_go must be a bool")
    raw = obs.observation
    if not isinstance(raw, dict):
        raise MessageRefused(f"observation must be a dict, got {type(raw).__name__}")
    want = schema.joints | set(schema.cameras)
    have = set(raw) - {"task"}
    if have != want:
        missing, extra = sorted(want - have)[:5], sorted(map(repr, have - want))[:5]
        raise MessageRefused(f"observation keys differ from the session's: missing {missing}, "
                             f"unexpected {', '.join(extra) or '[]'}")  # fmt: skip
    if "task" in raw and (not isinstance(raw["task"], str) or len(raw["task"]) > MAX_TEXT):
        raise MessageRefused("task must be a string")
    for name in schema.joints:
        _finite_number(raw[name], f"joint {name!r}")
    for cam, shape in schema.cameras.items():
        img = raw[cam]
        if not isinstance(img, np.ndarray):
            raise MessageRefused(f"camera {cam!r}: want a numpy array, got {type(img).__name__}")
        check_array(img, f"camera {cam!r}")
        if img.shape != shape:
            raise MessageRefused(f"camera {cam!r}: shape {img.shape}, the session said {shape}")


# ---- action chunks --------------------------------------------------------------------------
def check_action_chunk(chunk: Any, action_cls: type, action_dim: int) -> None:
    """A non-empty list of ``TimedAction``: finite float actions of ``action_dim`` values."""
    import torch

    if not isinstance(chunk, list) or not chunk:
        raise MessageRefused(f"want a non-empty list of TimedAction, got {type(chunk).__name__}")
    if len(chunk) > MAX_CHUNK:
        raise MessageRefused(f"chunk of {len(chunk)} actions too long")
    for i, a in enumerate(chunk):
        if type(a) is not action_cls:
            raise MessageRefused(f"action {i}: want TimedAction, got {type(a).__name__}")
        _finite_number(a.timestamp, f"action {i} timestamp")
        if not _is_int(a.timestep):
            raise MessageRefused(f"action {i}: timestep must be an int, got {brief(a.timestep)}")
        t = a.action
        check_tensor(t, f"action {i}")
        if not t.dtype.is_floating_point or tuple(t.shape) != (action_dim,):
            raise MessageRefused(
                f"action {i}: {t.dtype} of shape {tuple(t.shape)}, want float ({action_dim},)"
            )
        if not bool(torch.isfinite(t).all()):
            raise MessageRefused(f"action {i}: not finite")
