"""A restricted unpickler for LeRobot's async-inference messages (server and client).

What LeRobot 0.6.1 does wrong: ``policy_server.py`` calls ``pickle.loads`` on every observation
and policy instruction, ``robot_client.py`` on every action chunk, all over an insecure gRPC
port: any peer that can reach the port runs code (a payload pickling ``os.system`` runs on the
stock server; CVE-2026-25874).

What we do instead: ``loads`` admits only the globals these messages reference (checked on
LeRobot 0.6.1 with torch 2.11 and numpy 2) and refuses anything else with ``RefusedPayload``
naming the global. Torch tensors pickle their storage through ``torch.storage._load_from_bytes``,
which is ``torch.load(weights_only=False)``, a full unpickler again; we map that name to
``torch.load(weights_only=True)`` instead, so no admitted path reaches an unrestricted
unpickler.

Admitted globals still build hostile *values*: a dtype with a field at a huge offset (numpy
attaches fields to any dtype at BUILD, even ``u1``), an ``ndarray`` call that allocates what it
is told, a tensor rebuild whose size/stride grow a tiny storage to gigabytes. So every admitted
callable is replaced by a checked one, and BUILD (``__setstate__``) is checked too: it is
admitted only on dtypes (no fields, sub-arrays or metadata), arrays (plain dtype, data of
exactly the declared size) and LeRobot's message dataclasses (their own fields only). BUILD
cannot be intercepted in the C unpickler, so this is ``pickle._Unpickler`` (pure Python); its
cost is per opcode, not per byte, and a message has a few hundred opcodes (measured on a
2-camera 480x640 observation: see ``tests/deploy/test_deploy_fuzz.py``). ``loads`` then walks the
result (``message_check.plain_values``). What a message must hold for a session is checked by
the server and client with ``message_check``.
"""

from __future__ import annotations

import dataclasses
import io
import math
import pickle
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from scripts.deploy import message_check as mc

# module -> names admitted. Anything else is refused.
ALLOWED: dict[str, frozenset[str]] = {
    "lerobot.async_inference.helpers": frozenset(
        {"TimedObservation", "TimedAction", "RemotePolicyConfig"}
    ),
    "lerobot.configs.types": frozenset({"PolicyFeature", "FeatureType"}),
    "numpy._core.multiarray": frozenset({"_reconstruct", "scalar"}),
    "numpy.core.multiarray": frozenset({"_reconstruct", "scalar"}),  # numpy 1.x senders
    "numpy": frozenset({"ndarray", "dtype"}),
    "torch._utils": frozenset({"_rebuild_tensor_v2"}),
    "torch.storage": frozenset({"_load_from_bytes"}),  # replaced, see _storage_weights_only
    "collections": frozenset({"OrderedDict"}),
}


class RefusedPayload(pickle.UnpicklingError):
    """A message referenced a global outside the allow-list, or built a refused value."""


# numpy type codes a plain dtype pickles as (np.dtype(...).__reduce__()[1][0]); no V, O, c, M
PLAIN_CODES = frozenset(
    ["b1", "?"] + [f"{k}{n}" for k in "iu" for n in (1, 2, 4, 8)] + ["f2", "f4", "f8"]
)


def _refuse(what: str) -> RefusedPayload:
    return RefusedPayload(f"refused value: {what}")


def _storage_weights_only(data: bytes) -> Any:
    """``torch.storage._load_from_bytes`` without its full unpickler: weights-only load."""
    import torch

    if not isinstance(data, bytes) or len(data) > mc.MAX_MESSAGE_BYTES:
        raise _refuse("tensor storage is not bytes of a bounded size")
    try:
        storage = torch.load(io.BytesIO(data), weights_only=True)
    except pickle.UnpicklingError as e:
        raise RefusedPayload(f"tensor storage refused by torch's weights-only loader: {e}") from e
    if type(storage) is not torch.storage.TypedStorage or storage.device.type != "cpu":
        raise _refuse(f"tensor storage of type {type(storage).__name__}")
    return storage


def _checked_dtype(obj: Any, align: Any = False, copy: Any = True) -> np.dtype:
    """``numpy.dtype`` for plain codes only; always a copy (BUILD must not edit numpy's own)."""
    if not isinstance(obj, str) or obj not in PLAIN_CODES:
        raise _refuse(f"dtype {str(obj)[:40]!r} (want plain bool/int/uint/float)")
    return np.dtype(obj, False, True)


class _NdarrayMarker:
    """What ``numpy.ndarray`` resolves to: usable only as ``_reconstruct``'s first argument.

    Why: calling ``numpy.ndarray(shape, ...)`` allocates whatever shape the message says.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        raise _refuse("numpy.ndarray called directly")


def _checked_reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
    """``numpy._core.multiarray._reconstruct`` of an empty plain ndarray (data comes at BUILD)."""
    if subtype is not _NdarrayMarker or shape != (0,) or dtype not in (b"b", "b"):
        raise _refuse("array reconstruction other than numpy's own (ndarray, (0,), b'b')")
    return np.ndarray((0,), np.uint8)


def _checked_scalar(dtype: Any, data: Any = None) -> np.generic:
    """``numpy._core.multiarray.scalar`` of a plain dtype from exactly its item's bytes."""
    try:
        dt = mc.plain_dtype(dtype)
    except mc.MessageRefused as e:
        raise _refuse(f"scalar: {e}") from None
    if not isinstance(data, bytes) or len(data) != dt.itemsize:
        raise _refuse(f"scalar of {dt} from {type(data).__name__} of the wrong size")
    return np.frombuffer(data, dt)[0].copy()


def _ints(x: Any) -> bool:
    return isinstance(x, tuple) and all(type(n) is int and 0 <= n < 1 << 40 for n in x)


def _checked_rebuild_tensor(
    storage: Any,
    offset: Any,
    size: Any,
    stride: Any,
    requires_grad: Any,
    backward_hooks: Any,
    metadata: Any = None,
) -> Any:
    """``torch._utils._rebuild_tensor_v2`` for a contiguous tensor inside its storage.

    Why: torch's ``set_`` grows the storage to whatever offset/size/stride say (a few hundred
    bytes can claim 4 GiB); here the tensor must fit the storage it came with.
    """
    import collections

    import torch
    from torch._utils import _rebuild_tensor_v2

    if type(storage) is not torch.storage.TypedStorage:
        raise _refuse("tensor rebuilt on something other than a decoded storage")
    if type(offset) is not int or not _ints(size) or not _ints(stride) or len(size) > 8:
        raise _refuse("tensor offset/size/stride are not small non-negative ints")
    numel = math.prod(size)
    contiguous = tuple(math.prod(size[i + 1 :]) for i in range(len(size)))
    if numel > mc.MAX_ELEMENTS or (numel > 1 and stride != contiguous) or len(stride) != len(size):
        raise _refuse(f"tensor of size {size} stride {stride} (want contiguous, bounded)")
    if offset < 0 or offset + numel > storage.size():
        raise _refuse(f"tensor at offset {offset} size {size} beyond its {storage.size()} storage")
    if type(requires_grad) is not bool or metadata:
        raise _refuse("tensor requires_grad/metadata")
    if type(backward_hooks) is not collections.OrderedDict or backward_hooks:
        raise _refuse("tensor with backward hooks")
    return _rebuild_tensor_v2(storage, offset, size, stride, False, collections.OrderedDict())


_REPLACED: dict[tuple[str, str], Callable[..., Any]] = {
    ("torch.storage", "_load_from_bytes"): _storage_weights_only,
    ("torch._utils", "_rebuild_tensor_v2"): _checked_rebuild_tensor,
    ("numpy", "dtype"): _checked_dtype,
    ("numpy", "ndarray"): _NdarrayMarker,
    ("numpy._core.multiarray", "_reconstruct"): _checked_reconstruct,
    ("numpy.core.multiarray", "_reconstruct"): _checked_reconstruct,
    ("numpy._core.multiarray", "scalar"): _checked_scalar,
    ("numpy.core.multiarray", "scalar"): _checked_scalar,
}


def _check_dtype_state(state: Any) -> None:
    """A dtype's ``__setstate__`` that keeps it plain: no sub-array, names, fields, metadata."""
    if not isinstance(state, tuple) or len(state) != 8 or state[0] != 3:
        raise _refuse("dtype state is not numpy's (3, byteorder, None, None, None, ...)")
    if state[1] not in ("<", ">", "|", "=") or any(x is not None for x in state[2:5]):
        raise _refuse("dtype with fields, names or a sub-array")
    if not all(type(x) is int for x in state[5:8]):
        raise _refuse("dtype state sizes are not ints")


def _check_array_state(state: Any) -> None:
    """An ndarray's ``__setstate__``: plain dtype, bounded shape, data of exactly that size."""
    if not isinstance(state, tuple) or len(state) != 5 or state[0] != 1:
        raise _refuse("array state is not numpy's (1, shape, dtype, fortran, data)")
    _, shape, dtype, fortran, data = state
    try:
        dt = mc.plain_dtype(dtype)
    except mc.MessageRefused as e:
        raise _refuse(f"array: {e}") from None
    if not _ints(shape) or len(shape) > 8 or type(fortran) is not bool:
        raise _refuse("array shape is not a tuple of small non-negative ints")
    n = math.prod(shape)
    if n > mc.MAX_ELEMENTS or not isinstance(data, bytes) or len(data) != n * dt.itemsize:
        raise _refuse(f"array of shape {shape} {dt}: data of the wrong size")


def _check_object_state(inst: Any, state: Any) -> None:
    """A message dataclass's state: a dict of its own fields, nothing else."""
    names = {f.name for f in dataclasses.fields(inst)}
    if not isinstance(state, dict) or not set(state) <= names:
        raise _refuse(f"{type(inst).__name__} state with other than its fields")


class RestrictedUnpickler(pickle._Unpickler):
    """Pure-Python unpickler: ``find_class`` admits only ``ALLOWED``; BUILD is checked."""

    dispatch: ClassVar[dict[int, Callable[..., Any]]] = dict(pickle._Unpickler.dispatch)

    def find_class(self, module: str, name: str) -> Any:
        if name not in ALLOWED.get(module, frozenset()):
            raise RefusedPayload(f"refused global {module}.{name} (not a LeRobot message type)")
        replaced = _REPLACED.get((module, name))
        return replaced if replaced is not None else super().find_class(module, name)

    def load_build(self) -> None:
        """BUILD only on plain dtypes, plain arrays and LeRobot's message dataclasses."""
        if len(self.stack) < 2:
            raise _refuse("BUILD on an empty stack")
        inst, state = self.stack[-2], self.stack[-1]
        if isinstance(inst, np.dtype):
            _check_dtype_state(state)
        elif type(inst) is np.ndarray:
            if inst.size:
                raise _refuse("BUILD on an array twice")
            _check_array_state(state)
        elif dataclasses.is_dataclass(inst) and type(inst).__module__.startswith("lerobot."):
            _check_object_state(inst, state)
        else:
            raise _refuse(f"BUILD on {type(inst).__name__}")
        super().load_build()

    dispatch[pickle.BUILD[0]] = load_build


def loads(data: bytes) -> Any:
    """``pickle.loads`` for LeRobot async messages; raises ``RefusedPayload`` on anything else.

    The result has passed ``message_check.plain_values`` (plain, bounded arrays and tensors).
    """
    if len(data) > mc.MAX_MESSAGE_BYTES:
        raise _refuse(f"message of {len(data)} bytes (limit {mc.MAX_MESSAGE_BYTES})")
    try:
        obj = RestrictedUnpickler(io.BytesIO(data)).load()
        mc.plain_values(obj)
    except RefusedPayload:
        raise
    except mc.MessageRefused as e:
        raise RefusedPayload(f"refused value: {e}") from e
    except Exception as e:  # truncated or garbled bytes: same refusal, one line
        raise RefusedPayload(f"undecodable message ({type(e).__name__}: {str(e)[:200]})") from e
    return obj


class SafePickleModule:
    """Stands in for the ``pickle`` module inside LeRobot's async modules: safe ``loads``.

    ``install()`` swaps it into ``policy_server`` and ``robot_client``, so even a LeRobot code
    path we do not override cannot reach ``pickle.loads``.
    """

    loads = staticmethod(loads)
    dumps = staticmethod(pickle.dumps)
    UnpicklingError = pickle.UnpicklingError
    HIGHEST_PROTOCOL = pickle.HIGHEST_PROTOCOL


def install(*modules: Any) -> None:
    """Replace the ``pickle`` name in each given module with ``SafePickleModule``."""
    for mod in modules:
        if getattr(mod, "pickle", None) is not None:
            mod.pickle = SafePickleModule
