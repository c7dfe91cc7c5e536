"""Everything ``make record`` checks before the first frame, one line per problem.

Why before: LeRobot's recorder finds a missing leader, an uncalibrated arm (an ``input()``
prompt), a dead camera or a full disk only after it created the dataset folder, and some of
them after the first episode. Here each is a line naming the knob or the file, and nothing is
written until all pass:

- DATASET: new (its parent writable), or, with RESUME=1, a recording of this toolkit (its
  marker, ``scripts.session.journal``) whose journal agrees with its metadata (otherwise it
  was interrupted: ``make repair`` first). Never an unrelated folder.
- both arms: ``make motors``' own check (``scripts.motors.check.problems``): the port opens,
  the six motors answer with the profile's models and ids, the calibration file agrees with
  the registers. The leader on the follower's port fails here (wrong models), and the same
  port given twice is named before anything is opened.
- each camera opens and delivers FPS (distinct frames counted for a second).
- free disk for the estimated size (``estimate_bytes``), with a 1.5x margin.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from scripts.session import journal

# Rough bytes of one h264 frame (crf 23, GOP 2, camera content): a tenth of the raw RGB size.
H264_RATIO = 0.10
ROW_BYTES = 400  # one parquet row of a 6-joint arm, with its index columns


class PreflightError(Exception):
    """One line naming the knob or the file; exit code 3 (2 for a bad knob)."""

    def __init__(self, message: str, code: int = 3) -> None:
        super().__init__(message)
        self.code = code


def dataset_problem(root: Path, resume: bool) -> str | None:
    """Why DATASET cannot be recorded into (None: it can)."""
    root = Path(root)
    marker = journal.read_marker(root)
    if not resume:
        if root.exists() or root.is_symlink():
            if marker is not None:
                return f"DATASET={root}: already a recording: add RESUME=1 to append episodes"
            return (
                f"DATASET={root}: exists and is not a recording of this toolkit (no "
                f"{journal.MARKER}): choose a new DATASET (nothing was touched)"
            )
        parent = root.parent
        if not parent.is_dir():
            return f"DATASET={root}: folder {parent} does not exist"
        if not os.access(parent, os.W_OK | os.X_OK):
            return f"DATASET={root}: folder {parent} is not writable"
        return None
    if not root.is_dir():
        return f"DATASET={root}: no such recording to resume (drop RESUME=1 to start one)"
    if marker is None:
        return (
            f"DATASET={root}: is not a recording of this toolkit (no {journal.MARKER}); "
            "RESUME=1 appends only to those; this folder is left alone"
        )
    try:
        info = json.loads((root / "meta/info.json").read_text())
        total = int(info["total_episodes"])
    except (OSError, ValueError, KeyError, TypeError):
        return (
            f"DATASET={root}: meta/info.json is damaged (interrupted?): make repair DATASET={root}"
        )
    committed = journal.read(root)
    if total != len(committed) or [r["episode_index"] for r in committed] != list(range(total)):
        return (
            f"DATASET={root}: was interrupted ({total} episodes in meta/info.json, "
            f"{len(committed)} committed): make repair DATASET={root}, then resume the copy"
        )
    missing = [rel for r in committed for rel in r["files"] if not (root / rel).is_file()]
    if missing:
        return f"DATASET={root}: {missing[0]} is missing: make repair DATASET={root}"
    return None


def estimate_bytes(episodes: int, episode_s: float, fps: int, cameras: dict[str, tuple]) -> int:
    """Rough size of the recording: h264 frames plus parquet rows."""
    frames = episodes * episode_s * fps
    video = sum(w * h * 3 * H264_RATIO for (w, h) in cameras.values())
    return int(frames * (video + ROW_BYTES))


def disk_problem(root: Path, need: int) -> str | None:
    """Not enough free space where DATASET goes (1.5x the estimate)."""
    where = Path(root) if Path(root).exists() else Path(root).parent
    free = shutil.disk_usage(where).free
    if free < 1.5 * need:
        return (
            f"DATASET={root}: needs about {need / 1e6:.0f} MB (x1.5 margin), only "
            f"{free / 1e6:.0f} MB free on {where}: free space or record fewer EPISODES"
        )
    return None


def arm_problems(label: str, knob: str, profile: str, port: str | None) -> list[str]:
    """``make motors``' check of one arm, each line prefixed with which arm and knob."""
    from scripts.motors import check

    return [
        f"{label} ({profile}, {knob}={port or 'auto'}): {p}" for p in check.problems(profile, port)
    ]


def swapped(args, robot_port: str, teleop_port: str) -> bool:
    """Both arms failed their check: do they pass with the ports exchanged (plugged into each
    other's USB)? Then one line says so instead of two about wrong motor models."""
    from scripts.motors import check

    return not check.problems(args.robot, teleop_port) and not check.problems(
        args.teleop, robot_port
    )


def camera_problems(cameras: dict, fps: int, seconds: float = 1.0) -> list[str]:
    """Open each camera (LeRobot's classes), count distinct frames for ``seconds``."""
    from lerobot.cameras.utils import make_cameras_from_configs

    out = []
    opened = {}
    for name, cam in make_cameras_from_configs(cameras).items():
        try:
            cam.connect()
            opened[name] = cam
        except Exception as e:  # LeRobot raises ConnectionError, ValueError, cv2 errors ...
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            out.append(f"camera {name} ({cameras[name].type}) does not open: {first}")
    try:
        last: dict[str, bytes] = {}
        distinct = dict.fromkeys(opened, 0)
        t0 = time.perf_counter()
        while opened and time.perf_counter() - t0 < seconds:
            for name, cam in opened.items():
                frame = cam.async_read()
                sig = frame[::16, ::16].tobytes()
                if sig != last.get(name):
                    distinct[name] += 1
                    last[name] = sig
            time.sleep(0.2 / fps)
        for name, n in distinct.items():
            rate = n / seconds
            if rate < 0.9 * fps:
                out.append(
                    f"camera {name} delivers {rate:.0f} fps of FPS={fps}: lower FPS, or fix the "
                    "camera's mode/USB bandwidth"
                )
    finally:
        for cam in opened.values():
            cam.disconnect()
    return out
