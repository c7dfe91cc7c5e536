"""The feature shapes a prediction assumes: a dataset's ``meta/info.json``, the sample, or GR2.

Why shapes only: peak memory depends on tensor shapes, never on values, so a prediction needs
the state/action widths and each camera's (channels, height, width) - all in ``info.json``
(v2.1 and v3.0 store them the same way). Two built-in shape sets let every recipe be checked
without any data on disk:

- ``sample``: the embedded Koch-like sample (``scripts.sample.spec``: 6-d state and action,
  cameras ``laptop`` 96x128 and ``phone`` 64x80), what ``make demo`` trains on;
- ``gr2``: the users' Fourier GR2 (seeds/004: state 45-d, action 37-d, ``camera_top`` RGB and
  ``camera_top_depth`` 480x640, depth stored as a 3-channel video as their recorder writes it).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Shapes:
    """What one training sample looks like to a policy (images channel-first, as LeRobot)."""

    name: str
    state_dim: int
    action_dim: int
    cameras: dict[str, tuple[int, int, int]] = field(default_factory=dict)

    def describe(self) -> str:
        cams = ", ".join(f"{k.split('.')[-1]} {h}x{w}" for k, (_c, h, w) in self.cameras.items())
        return f"{self.name}: state {self.state_dim}-d, action {self.action_dim}-d, {cams}"

    def as_dict(self) -> dict:
        return asdict(self)


def sample() -> Shapes:
    """The embedded sample's shapes, read from its spec (no dataset needed on disk)."""
    from scripts.sample.spec import PRESETS

    spec = PRESETS["sample"]
    cams = {f"observation.images.{k}": (3, h, w) for k, (h, w) in spec.cameras.items()}
    return Shapes("sample", spec.state_dim, spec.action_dim, cams)


def gr2() -> Shapes:
    """The users' GR2 layout at its real resolution (seeds/004)."""
    cams = {
        "observation.images.camera_top": (3, 480, 640),
        "observation.images.camera_top_depth": (3, 480, 640),
    }
    return Shapes("gr2", 45, 37, cams)


def from_dataset(root: Path) -> Shapes:
    """Shapes from ``<root>/meta/info.json`` (v2.1 or v3.0); images become (C, H, W)."""
    info_path = root / "meta" / "info.json"
    try:
        feats = json.loads(info_path.read_text())["features"]
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(f"{info_path}: cannot read features ({exc})") from exc
    cams: dict[str, tuple[int, int, int]] = {}
    for key, f in feats.items():
        if f.get("dtype") in ("video", "image") and key.startswith("observation.images."):
            names = f.get("names") or ["height", "width", "channels"]
            dims = dict(zip(names, f["shape"], strict=False))
            h, w = int(dims.get("height", f["shape"][0])), int(dims.get("width", f["shape"][1]))
            c = int(dims.get("channels", f["shape"][-1]))
            cams[key] = (c, h, w)
    try:
        state = int(feats["observation.state"]["shape"][0])
        action = int(feats["action"]["shape"][0])
    except KeyError as exc:
        raise ValueError(f"{info_path}: no {exc} feature") from exc
    return Shapes(root.name, state, action, cams)


def resolve(spec: str) -> Shapes:
    """``sample``, ``gr2`` or a dataset directory."""
    if spec == "sample":
        return sample()
    if spec == "gr2":
        return gr2()
    return from_dataset(Path(spec))


def refusal(policy: str, shapes: Shapes) -> str | None:
    """Why ``policy`` cannot train on ``shapes`` at all, or None.

    LeRobot 0.6.1's Diffusion (``DiffusionConfig.validate_features``) needs every camera at one
    shape; a prediction for shapes lerobot-train would refuse is not a prediction.
    """
    if policy == "diffusion" and len(set(shapes.cameras.values())) > 1:
        sizes = ", ".join(f"{h}x{w}" for _c, h, w in shapes.cameras.values())
        return f"{policy} needs all cameras at one shape (LeRobot's validate_features): {sizes}"
    return None
