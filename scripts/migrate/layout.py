"""Is a checkpoint folder of the old (LeRobot 0.3.x) layout? Pure Python: json and struct only.

Why here: ``make eval`` asks before torch is imported (tools env) whether a CHECKPOINT needs
``make migrate`` first; the answer is the one ``scripts.migrate.migrate`` acts on (an ACT whose
weights hold ``normalize_inputs`` / ``normalize_targets`` / ``unnormalize_outputs`` buffers),
read from the safetensors header alone, so it costs microseconds even for a 200 MB file.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

MODULES = ("normalize_inputs", "normalize_targets", "unnormalize_outputs")


def tensor_names(weights: Path) -> list[str]:
    """The tensor names in a .safetensors header ([] when it cannot be read)."""
    try:
        with weights.open("rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(n))
    except (OSError, struct.error, ValueError):
        return []
    return [k for k in header if k != "__metadata__"] if isinstance(header, dict) else []


def is_old_act(model_dir: Path) -> bool:
    """An ACT checkpoint with its normalisation stats inside the model (LeRobot < 0.4)."""
    try:
        kind = json.loads((model_dir / "config.json").read_text()).get("type")
    except (OSError, ValueError, AttributeError):
        return False
    names = tensor_names(model_dir / "model.safetensors")
    return kind == "act" and any(k.split(".")[0] in MODULES for k in names)
