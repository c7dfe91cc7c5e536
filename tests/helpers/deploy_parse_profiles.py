"""Decode every robot profile with LeRobot 0.6.1's own config classes (runs in envs/act).

Why: a profile's ``robot:`` and ``client:`` keys are LeRobot's (``RobotClientConfig`` and the
robot's ``RobotConfig`` subclass, plugins included); a renamed or misspelled key must fail in
CI, not on the robot PC. Also runs the client's preflight on each (no connection is made).

Usage: envs/act/.venv/bin/python tests/helpers/deploy_parse_profiles.py CKPT DATASET
Prints one JSON object: {profile: config | "error: ..."} plus two cases that must fail.
"""

from __future__ import annotations

import json
import sys

from scripts.deploy import checkpoint as ck
from scripts.deploy import client, profiles
from scripts.deploy.lerobot_io import import_async


def decode(ckpt: str, dataset: str, name: str, *extra: str) -> object:
    import draccus

    a = client.parse_args(["--robot", name, "--checkpoint", ckpt, "--dataset", dataset, *extra])
    try:
        prof = client.build_profile(a)
        cfg = profiles.client_config(prof, checkpoint=a.checkpoint, policy_type="act", server="x:1")
        client.preflight(cfg, ck.read_config(a.checkpoint), prof["ops"])
    except (profiles.ProfileError, client.PreflightError) as e:
        return f"error: {e}"
    return json.loads(json.dumps(draccus.encode(cfg), default=str))


def main() -> None:
    ckpt, dataset = sys.argv[1], sys.argv[2]
    import_async("robot_client", None)
    out: dict[str, object] = {name: decode(ckpt, dataset, name) for name in profiles.names()}
    out["bad_key"] = decode(ckpt, dataset, "koch", "--set", "robot.no_such_key=1")
    front = "{front: {type: opencv, index_or_path: 0, width: 640, height: 480, fps: 30}}"
    out["renamed_camera"] = decode(ckpt, dataset, "koch", "--set", f"robot.cameras={front}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
