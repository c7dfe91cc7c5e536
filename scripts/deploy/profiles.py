"""Robot profiles (``recipes/robots/<name>.yaml``) -> LeRobot's ``RobotClientConfig``.

A profile is a short commented story (which robot, cameras, fps, chunking, what was measured)
whose ``robot:`` and ``client:`` keys are exactly LeRobot's own (``--robot.*`` and
``RobotClientConfig`` fields), so ``draccus`` decodes them with LeRobot's config classes and an
unknown key fails. ``ops:`` holds our own knobs (``stall_s``). Make knobs override single keys
(``KNOBS``). Loading (``scripts/common/robot_profiles.py``, shared with ``make motors``) and
overriding are plain YAML (tools env); decoding imports LeRobot.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scripts.common.robot_profiles import REPO, ProfileError, load, names

__all__ = ["KNOBS", "ProfileError", "apply", "client_config", "load", "names"]

# make knob -> (section, key). Applied only when the profile's section has the key, except
# the client section, whose keys are LeRobot's defaults anyway.
KNOBS: dict[str, tuple[str, str]] = {
    "robot_port": ("robot", "port"),
    "dataset": ("robot", "dataset"),
    "episode": ("robot", "episode"),
    "fps": ("client", "fps"),
    "actions_per_chunk": ("client", "actions_per_chunk"),
    "chunk_threshold": ("client", "chunk_size_threshold"),
    "task": ("client", "task"),
    "stall_s": ("ops", "stall_s"),
}


def apply(profile: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """A copy with the given make knobs (non-empty values) applied."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in profile.items()}
    for knob, value in overrides.items():
        if value is None or value == "":
            continue
        section, key = KNOBS[knob]
        if section == "robot" and key not in out["robot"]:
            continue  # e.g. DATASET has no meaning for the Koch arm
        out[section][key] = value
    ds = out["robot"].get("dataset")
    if ds and not Path(ds).is_absolute():
        out["robot"]["dataset"] = str(REPO / ds)
    return out


def client_config(
    profile: dict[str, Any], *, checkpoint: Path, policy_type: str, server: str
) -> Any:
    """LeRobot's ``RobotClientConfig`` for this profile (registers robot plugins first)."""
    import draccus
    from lerobot.async_inference.configs import RobotClientConfig
    from lerobot.cameras import opencv, realsense  # noqa: F401  (register camera types)
    from lerobot.robots import koch_follower, so_follower  # noqa: F401  (register robots)
    from lerobot.utils.import_utils import register_third_party_plugins

    register_third_party_plugins()
    raw = {
        **profile["client"],
        "robot": profile["robot"],
        "policy_type": policy_type,
        "pretrained_name_or_path": str(checkpoint),
        "server_address": server,
    }
    try:
        return draccus.decode(RobotClientConfig, raw)
    except Exception as e:  # draccus raises its own DecodingError, LeRobot ValueError
        raise ProfileError(f"{profile['_path']}: {type(e).__name__}: {e}") from e
