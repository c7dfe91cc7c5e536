"""Batch a dataset's frames through a policy as it runs on the robot; collect the chunks.

Runs in the policy's LeRobot env. What "as on the robot" means here:

- the policy and its own pre/post-processors come from the checkpoint (``from_pretrained``,
  ``make_pre_post_processors(pretrained_path=...)``, the run's ``rename_map`` applied); the
  postprocessor de-normalises, so chunks come out in the dataset's units;
- the observation holds only the features the policy was trained on plus the task string;
  camera frames are decoded by LeRobot's own dataset reader (``_query_videos``, the code path
  of ``LeRobotDataset.__getitem__``) as uint8 and scaled to [0, 1] the way lerobot-train does;
- the image backbone's frozen norms are folded into their convolutions (exact algebra,
  ~2e-6 relative in float32; scripts/eval/fold.py): the only change to the forward, for speed;
- ``predict_action_chunk`` on B frames at once. ACT, SmolVLA and PI0 need no history
  (n_obs_steps 1), so frames are independent and batching changes nothing but speed.
  Diffusion sees ``n_obs_steps`` frames (t-1, t by default): each row carries its own history,
  clamped to the episode's first frame, as LeRobot's dataset pads it for training and as
  ``select_action`` fills its queues on the robot; the chunk's first action is frame t's;
- stochastic policies (SmolVLA, PI0, Diffusion) sample for real: before batch b (0, 1, ...)
  of seed s, ``torch.manual_seed(s * 1_000_003 + b)``, so every checkpoint sees the same seeds
  on the same frames, and the same BATCH reproduces the same numbers.

Why decode through the reader in windows: ``LeRobotDataset[i]`` opens and seeks the video for
every frame; one call per camera for B consecutive frames of an episode decodes them in one
forward pass over the file, giving the same pixels (tests compare with ``__getitem__``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from scripts.eval.checkpoints import Checkpoint
from scripts.eval.fold import fold_resnet_norms

STRICT_TYPES = {"act", "diffusion"}


class LoadError(RuntimeError):
    """A checkpoint or dataset LeRobot refused to load; one line."""


def one_line(e: BaseException, limit: int = 300) -> str:
    """An exception's whole message on one line (PyTorch's load errors span several)."""
    text = " ".join(str(e).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def video_backend() -> str:
    """$VIDEO_BACKEND, else this env's cached torchcodec probe (scripts.common.video_backend)."""
    from scripts.common.video_backend import CACHE_NAME, choose

    return choose(os.environ.get("VIDEO_BACKEND") or None, Path(sys.prefix) / CACHE_NAME)[0]


def pick_device(wanted: str | None) -> str:
    """DEVICE if given (``auto``/empty: CUDA when present, else CPU); one line if unusable.

    CPU and CUDA run the same code below; only this choice differs.
    """
    if not wanted or wanted == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if wanted.startswith("cuda") and not torch.cuda.is_available():
        raise LoadError(f"DEVICE={wanted}: this machine has no CUDA device (use DEVICE=cpu)")
    return wanted


@dataclass
class Loaded:
    """A policy ready to predict, with its processors."""

    policy: Any
    pre: Callable
    post: Callable
    input_keys: list[str]  # dataset keys to put in the observation (before renaming)


def load_policy(ck: Checkpoint, device: str, fold: bool = True) -> Loaded:
    """Policy + processors from the checkpoint; any loader failure becomes one line.

    ``fold=False``: the forward exactly as LeRobot runs it (``make bench-eval``'s naive loop).
    """
    from lerobot.configs.policies import PreTrainedConfig
    from lerobot.policies.factory import get_policy_class, make_pre_post_processors

    try:
        cfg = PreTrainedConfig.from_pretrained(ck.model_dir)
        cfg.device = device
        # strict: a file whose tensors do not cover the model (a renamed or missing tensor)
        # would otherwise load with those layers left at random init, and be ranked as is.
        # The VLA families are loaded as LeRobot loads them (they may leave keys on purpose).
        policy = get_policy_class(cfg.type).from_pretrained(
            ck.model_dir, config=cfg, strict=cfg.type in STRICT_TYPES
        )
        policy.to(device)
        policy.eval()
        if fold:
            fold_resnet_norms(policy)  # exact algebra, ~15-20 % faster on CPU (eval/fold.py)
        pre, post = make_pre_post_processors(
            policy.config,
            pretrained_path=str(ck.model_dir),
            preprocessor_overrides={
                "device_processor": {"device": device},
                "rename_observations_processor": {"rename_map": ck.rename_map},
            },
            postprocessor_overrides={"device_processor": {"device": "cpu"}},
        )
    except Exception as e:  # safetensors, json, torch errors: all say the checkpoint is bad
        first = one_line(e)
        raise LoadError(
            f"{ck.model_dir}: LeRobot cannot load it ({type(e).__name__}: {first})"
        ) from e
    inverse = {v: k for k, v in ck.rename_map.items()}
    keys = [inverse.get(k, k) for k in policy.config.input_features]
    return Loaded(policy, pre, post, keys)


class FrameSource:
    """The selected episodes' rows (non-video columns in memory) and windowed video decoding."""

    def __init__(self, root: Path, episodes: list[int], backend: str) -> None:
        from lerobot.datasets.lerobot_dataset import LeRobotDataset

        try:
            self.ds = LeRobotDataset(
                f"local/{Path(root).name}",
                root=root,
                episodes=episodes,
                video_backend=backend,
                return_uint8=True,
            )
            self.reader = self.ds._ensure_reader()
            if self.reader.hf_dataset is None:
                self.reader.load_and_activate()
        except Exception as e:
            first = one_line(e)
            raise LoadError(
                f"DATASET={root}: LeRobot cannot read it ({type(e).__name__}: {first})"
            ) from e
        hf = self.reader.hf_dataset
        cols = hf.with_format("numpy")
        self.episode = np.asarray(cols["episode_index"], dtype=np.int64)
        self.frame_index = np.asarray(cols["frame_index"], dtype=np.int64)
        self.timestamp = np.asarray(cols["timestamp"], dtype=np.float64)
        self.task_index = np.asarray(cols["task_index"], dtype=np.int64)
        self.actions = np.stack(cols["action"]).astype(np.float64)
        order = np.lexsort((self.frame_index, self.episode))
        if not np.array_equal(order, np.arange(len(order))):
            raise LoadError(f"DATASET={root}: rows are not sorted by episode and frame")
        starts = np.r_[0, np.nonzero(np.diff(self.episode))[0] + 1]
        rows = np.arange(len(self.episode))
        self.first_row = starts[np.searchsorted(starts, rows, side="right") - 1]
        self.meta = self.ds.meta
        self.video_keys = list(self.meta.video_keys)

    def __len__(self) -> int:
        return len(self.episode)

    def batch(self, start: int, stop: int, keys: list[str], n_obs: int = 1) -> dict[str, Any]:
        """Rows [start, stop) as one observation batch (dataset keys; cameras as float [0, 1]).

        ``n_obs`` > 1: every feature is (B, n_obs, ...), frames t-n_obs+1 .. t of each row,
        clamped to its episode's first frame (LeRobot's padding of observation_delta_indices).
        """
        if n_obs <= 1:
            return self._rows(start, stop, keys)
        rows = np.arange(start, stop)
        hist = np.maximum(
            rows[:, None] - np.arange(n_obs - 1, -1, -1)[None, :], self.first_row[rows, None]
        )
        lo = int(hist.min())
        wide = self._rows(lo, stop, keys)
        index = torch.as_tensor(hist - lo)
        obs: dict[str, Any] = {"task": wide.pop("task")[start - lo :]}
        for key, value in wide.items():
            obs[key] = value[index]  # (B, n_obs, ...)
        return obs

    def _rows(self, start: int, stop: int, keys: list[str]) -> dict[str, Any]:
        rows = self.reader.hf_dataset[start:stop]
        obs: dict[str, Any] = {}
        for key in keys:
            if key in self.video_keys:
                continue
            value = rows[key]
            obs[key] = value if isinstance(value, torch.Tensor) else torch.stack(list(value))
        cams = [k for k in keys if k in self.video_keys]
        if cams:
            parts: dict[str, list[torch.Tensor]] = {k: [] for k in cams}
            eps = self.episode[start:stop]
            for ep in np.unique(eps):
                sel = np.nonzero(eps == ep)[0]
                ts = [float(t) for t in self.timestamp[start:stop][sel]]
                frames = self.reader._query_videos({k: ts for k in cams}, int(ep))
                for k in cams:
                    f = frames[k]
                    parts[k].append(f.unsqueeze(0) if f.ndim == 3 else f)
            for k in cams:
                f = torch.cat(parts[k])
                obs[k] = f.to(torch.float32) / 255.0 if f.dtype == torch.uint8 else f
        for key, value in list(obs.items()):
            if isinstance(value, torch.Tensor) and value.dtype == torch.uint8:
                obs[key] = value.to(torch.float32) / 255.0  # image (non-video) features
        tasks = self.meta.tasks
        obs["task"] = [str(tasks.iloc[int(i)].name) for i in self.task_index[start:stop]]
        return obs


def obs_steps(loaded: Loaded) -> int:
    """How many frames of history each row carries (Diffusion's n_obs_steps; 1 for the rest)."""
    return int(getattr(loaded.policy.config, "n_obs_steps", 1) or 1)


def windows(n: int, size: int) -> Iterator[tuple[int, int]]:
    for start in range(0, n, size):
        yield start, min(n, start + size)


@torch.no_grad()
def predict(
    loaded: Loaded,
    source: FrameSource,
    batch_size: int,
    seeds: list[int],
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Chunks for every row: (S seeds, N frames, H steps, D) in dataset units."""
    out: list[list[np.ndarray]] = [[] for _ in seeds]
    n_obs = obs_steps(loaded)
    for b, (start, stop) in enumerate(windows(len(source), batch_size)):
        obs = source.batch(start, stop, loaded.input_keys, n_obs)
        for s_pos, seed in enumerate(seeds):
            torch.manual_seed(seed * 1_000_003 + b)
            batch = loaded.pre(dict(obs))
            chunk = loaded.policy.predict_action_chunk(batch)
            chunk = loaded.post(chunk)
            out[s_pos].append(chunk.detach().to("cpu", torch.float64).numpy())
        if progress:
            progress(stop - start)
    return np.stack([np.concatenate(parts) for parts in out])
