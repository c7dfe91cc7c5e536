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
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Callable
from typing import Any

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
    """A message referenced a global outside the allow-list (the global is in the text)."""


def _storage_weights_only(data: bytes) -> Any:
    """``torch.storage._load_from_bytes`` without its full unpickler: weights-only load."""
    import torch

    try:
        return torch.load(io.BytesIO(data), weights_only=True)
    except pickle.UnpicklingError as e:
        raise RefusedPayload(f"tensor storage refused by torch's weights-only loader: {e}") from e


_REPLACED: dict[tuple[str, str], Callable[..., Any]] = {
    ("torch.storage", "_load_from_bytes"): _storage_weights_only,
}


class RestrictedUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` whose ``find_class`` admits only ``ALLOWED``."""

    def find_class(self, module: str, name: str) -> Any:
        if name not in ALLOWED.get(module, frozenset()):
            raise RefusedPayload(f"refused global {module}.{name} (not a LeRobot message type)")
        replaced = _REPLACED.get((module, name))
        return replaced if replaced is not None else super().find_class(module, name)


def loads(data: bytes) -> Any:
    """``pickle.loads`` for LeRobot async messages; raises ``RefusedPayload`` on anything else."""
    try:
        return RestrictedUnpickler(io.BytesIO(data)).load()
    except RefusedPayload:
        raise
    except Exception as e:  # truncated or garbled bytes: same refusal, one line
        raise RefusedPayload(f"undecodable message ({type(e).__name__}: {e})") from e


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
