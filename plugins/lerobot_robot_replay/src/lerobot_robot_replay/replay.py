"""A robot made of a recorded episode: observations are the episode's frames, in real time.

Why: the async-inference loop (policy server, gRPC, robot_client, action queue) can then be
run and measured on any machine, with the same code path as a real arm. Observations follow
the wall clock at the dataset's fps (frame = elapsed * fps), as a real robot's would, so a slow
loop sees frames skipped rather than a slowed-down world. Every action received is recorded
with its time and frame; at disconnect the record (and the error against the episode's own
actions, per joint) is written to ``record_path``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lerobot.robots.robot import Robot

from .config_replay import ReplayRobotConfig


def _names(feature: dict[str, Any], key: str) -> list[str]:
    """Joint names of a 1-d feature (``names`` is a list, or ``{"motors": [...]}`` in old data)."""
    names = feature.get("names")
    if isinstance(names, dict):
        names = next(iter(names.values()), None)
    n = int(feature["shape"][0])
    if not names or len(names) != n:
        return [f"{key}_{i}" for i in range(n)]
    return [str(x) for x in names]


class ReplayRobot(Robot):
    """Plays ``episode`` of ``dataset``; records actions; ``finished`` once the episode is over."""

    config_class = ReplayRobotConfig
    name = "replay"

    def __init__(self, config: ReplayRobotConfig) -> None:
        super().__init__(config)
        self.config = config
        root = Path(config.dataset)
        info_path = root / "meta" / "info.json"
        if not info_path.is_file():
            raise FileNotFoundError(f"replay robot: {info_path}: missing (not a v3.0 dataset)")
        self.info = json.loads(info_path.read_text())
        if self.info.get("codebase_version") != "v3.0":
            raise ValueError(
                f"replay robot: {info_path}: codebase_version {self.info.get('codebase_version')}, "
                "need v3.0 (make convert SRC=...)"
            )
        feats = self.info["features"]
        self.fps = float(self.info["fps"])
        self.state_names = _names(feats["observation.state"], "state")
        self.action_names = _names(feats["action"], "action")
        self.cameras: dict[str, tuple[int, int, int]] = {}
        for key, ft in feats.items():
            if key.startswith("observation.images.") and ft["dtype"] in ("video", "image"):
                h, w, c = ft["shape"]
                self.cameras[key.removeprefix("observation.images.")] = (int(h), int(w), int(c))
        self._connected = False
        self._frames: list[dict[str, Any]] = []
        self._actions_ref: np.ndarray | None = None
        self._t0: float | None = None
        self._received: list[tuple[float, int, list[float]]] = []
        self._observations = 0

    @property
    def observation_features(self) -> dict:
        return {**{n: float for n in self.state_names}, **self.cameras}

    @property
    def action_features(self) -> dict:
        return {n: float for n in self.action_names}

    @property
    def is_connected(self) -> bool:
        return self._connected

    @property
    def is_calibrated(self) -> bool:
        return True

    def calibrate(self) -> None:
        """Nothing to calibrate: the joints are recorded numbers."""

    def configure(self) -> None:
        """Nothing to configure."""

    def connect(self, calibrate: bool = True) -> None:
        """Decode the episode into memory so get_observation costs no decoding."""
        from lerobot.datasets.lerobot_dataset import LeRobotDataset

        cfg = self.config
        n_eps = int(self.info.get("total_episodes", 0))
        if cfg.episode >= n_eps:
            raise ValueError(
                f"replay robot: episode {cfg.episode} not in {cfg.dataset} "
                f"({n_eps} episodes: 0..{n_eps - 1})"
            )
        root = Path(cfg.dataset)
        ds = LeRobotDataset(
            repo_id=f"local/{root.name}",
            root=root,
            episodes=[cfg.episode],
            video_backend=cfg.video_backend,
        )
        frames, actions = [], []
        for i in range(min(len(ds), cfg.max_frames)):
            item = ds[i]
            state = item["observation.state"].tolist()
            obs: dict[str, Any] = dict(zip(self.state_names, map(float, state), strict=True))
            for cam in self.cameras:
                img = item[f"observation.images.{cam}"]  # C,H,W float in [0, 1]
                hwc = (img.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0)
                obs[cam] = hwc.contiguous().numpy()
            frames.append(obs)
            actions.append(item["action"].numpy().astype(np.float64))
        if not frames:
            raise ValueError(f"replay robot: episode {cfg.episode} of {cfg.dataset} has no frames")
        self._frames = frames
        self._actions_ref = np.stack(actions)
        self._t0 = None
        self._connected = True

    def _frame_index(self, now: float) -> int:
        if self._t0 is None:
            self._t0 = now
        i = int((now - self._t0) * self.fps)
        n = len(self._frames)
        return i % n if self.config.loop else min(i, n - 1)

    @property
    def finished(self) -> bool:
        """True once the episode has played through (never with ``loop``)."""
        if self.config.loop or self._t0 is None:
            return False
        return (time.monotonic() - self._t0) * self.fps >= len(self._frames)

    def get_observation(self) -> dict[str, Any]:
        if not self._connected:
            raise ConnectionError("replay robot is not connected")
        self._observations += 1
        return dict(self._frames[self._frame_index(time.monotonic())])

    def send_action(self, action: dict[str, Any]) -> dict[str, Any]:
        if not self._connected:
            raise ConnectionError("replay robot is not connected")
        now = time.monotonic()
        values = [float(action[n]) for n in self.action_names]
        self._received.append((now - (self._t0 or now), self._frame_index(now), values))
        return action

    def summary(self) -> dict[str, Any]:
        """What was played and received, and the error vs the episode's recorded actions."""
        rec = {
            "dataset": str(self.config.dataset),
            "episode": self.config.episode,
            "fps": self.fps,
            "frames": len(self._frames),
            "observations": self._observations,
            "action_names": self.action_names,
            "actions_received": len(self._received),
            "actions": [{"t": round(t, 6), "frame": f, "action": a} for t, f, a in self._received],
        }
        if self._received and self._actions_ref is not None:
            got = np.array([a for _, _, a in self._received])
            ref = self._actions_ref[[f for _, f, _ in self._received]]
            err = np.abs(got - ref).mean(axis=0)
            mae = err.round(6).tolist()
            rec["mae_vs_recorded"] = dict(zip(self.action_names, mae, strict=True))
            rec["recorded_actions"] = self._actions_ref.round(6).tolist()
        return rec

    def disconnect(self) -> None:
        """The replay equivalent of torque off: stop, and write the record atomically."""
        if not self._connected:
            return
        self._connected = False
        if self.config.record_path:
            rec = self.summary()
            rec["disconnected"] = True
            path = Path(self.config.record_path)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(path.suffix + ".part")
            tmp.write_text(json.dumps(rec))
            os.replace(tmp, path)
