"""Which checkpoints a server may load, and whether a robot's features fit a checkpoint.

Pure Python (json only): the launcher, the client's preflight and the server share it, and the
tests import it in the light ``tools`` environment.

What LeRobot 0.6.1 does wrong: the *client* names the checkpoint and the server loads it
(``from_pretrained`` accepts a Hub repo id too), so whoever reaches the port chooses what the
GPU box loads. A camera name or state size that differs from the checkpoint's makes the server
raise inside ``GetActions``, swallow it and answer empty, 30 times a second, while the arm
stands still and nothing says why.

What we do instead: the operator starting the server names the checkpoint (and optional extra
roots); a client may only name a directory under them. Features are compared before anything
moves (client preflight) and again at the handshake (server), each a one-line error naming both
sets.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from scripts.common import paligemma

IMAGE_PREFIX = "observation.images."
STATE = "observation.state"
POLICY_ENV = {
    "act": "act",
    "diffusion": "act",
    "smolvla": "smolvla",
    "pi0": "smolvla",
    "pi05": "smolvla",
}


class CheckpointError(ValueError):
    """A checkpoint that cannot be served, or features that do not fit it (one line)."""


def read_config(ckpt: Path) -> dict[str, Any]:
    """The checkpoint's ``config.json``; the path must be a ``pretrained_model`` directory."""
    cfg = Path(ckpt) / "config.json"
    if not cfg.is_file():
        raise CheckpointError(
            f"{ckpt}: no config.json (want <run>/checkpoints/last/pretrained_model: "
            "make serve CHECKPOINT=... or OUT=<run dir>)"
        )
    try:
        return json.loads(cfg.read_text())
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{cfg}: not JSON ({e})") from e


def policy_env(cfg: dict[str, Any], ckpt: Path) -> str:
    """The environment that serves this policy type (ACT -> act, SmolVLA/PI0 -> smolvla)."""
    ptype = cfg.get("type")
    if ptype not in POLICY_ENV:
        raise CheckpointError(
            f"{ckpt}/config.json: policy type {ptype!r} is not served here "
            f"(supported: {', '.join(sorted(POLICY_ENV))})"
        )
    bad = paligemma.refusal(cfg, f"{ckpt}/config.json")
    if bad:
        raise CheckpointError(bad)
    return POLICY_ENV[ptype]


def allowed(path: str | Path, roots: list[Path]) -> Path:
    """``path`` resolved, if it lies under one of ``roots``; else ``CheckpointError``.

    One message for every refusal (relative, missing, outside, Hub id): a client must not learn
    from the server's answer whether a path exists on it.
    """
    names = ", ".join(str(r) for r in roots)
    refused = CheckpointError(
        f"checkpoint {str(path)[:200]!r} refused: the server loads only directories under its "
        f"allowed roots ({names}); Hub ids are never loaded. To serve another directory, start "
        "the server with CHECKPOINT=<it> or add it to ALLOW_ROOTS"
    )
    try:
        p = Path(path)
        real = p.resolve() if p.is_absolute() and p.exists() else None
    except (OSError, ValueError):  # NUL bytes, names too long
        real = None
    if real is None:
        raise refused
    for root in roots:
        r = root.resolve()
        if real == r or r in real.parents:
            return real
    raise refused


def checkpoint_inputs(cfg: dict[str, Any]) -> tuple[list[str], int | None]:
    """(camera names, state size) the checkpoint's policy expects."""
    feats = cfg.get("input_features") or {}
    cams = sorted(k.removeprefix(IMAGE_PREFIX) for k in feats if k.startswith(IMAGE_PREFIX))
    state = feats.get(STATE, {}).get("shape")
    return cams, (int(state[0]) if state else None)


def checkpoint_action_dim(cfg: dict[str, Any]) -> int | None:
    shape = (cfg.get("output_features") or {}).get("action", {}).get("shape")
    return int(shape[0]) if shape else None


def robot_inputs(lerobot_features: dict[str, Any]) -> tuple[list[str], int | None]:
    """(camera names, state size) from LeRobot's ``hw_to_dataset_features`` of a robot."""
    cams = sorted(
        k.removeprefix(IMAGE_PREFIX) for k in lerobot_features if k.startswith(IMAGE_PREFIX)
    )
    state = lerobot_features.get(STATE, {}).get("shape")
    return cams, (int(state[0]) if state else None)


def mismatch(
    cfg: dict[str, Any], lerobot_features: dict[str, Any], action_dim: int | None = None
) -> str | None:
    """One line naming both sides when the robot's features do not fit the checkpoint."""
    want_cams, want_state = checkpoint_inputs(cfg)
    have_cams, have_state = robot_inputs(lerobot_features)
    problems = []
    if want_cams != have_cams:
        problems.append(f"checkpoint cameras {want_cams} vs robot cameras {have_cams}")
    if want_state is not None and want_state != have_state:
        problems.append(f"checkpoint state {want_state}-d vs robot state {have_state}-d")
    want_action = checkpoint_action_dim(cfg)
    if action_dim is not None and want_action is not None and want_action != action_dim:
        problems.append(f"checkpoint action {want_action}-d vs robot action {action_dim}-d")
    if not problems:
        return None
    return (
        "features mismatch: "
        + "; ".join(problems)
        + " (rename the robot profile's cameras to the checkpoint's, or serve a checkpoint "
        "trained on this robot)"
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m scripts.deploy.checkpoint env DIR``: the environment that serves DIR."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] != "env":
        print("usage: python -m scripts.deploy.checkpoint env <pretrained_model>", file=sys.stderr)
        return 2
    try:
        print(policy_env(read_config(Path(args[1])), Path(args[1])))
    except CheckpointError as e:
        print(f"serve: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
