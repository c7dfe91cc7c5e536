"""Behavioural thresholds: each in the dataset's own units, relative to its own spread.

Why relative: the same check must hold for degrees, radians, raw ticks and LeRobot's
normalised -100..100 range, so no threshold is an absolute number of units. ``S`` below is a
dimension's robust spread over the whole dataset (q99 - q01 of every row), ``step`` its
typical frame-to-frame change (q99 of |x[t+1] - x[t]| within episodes). What data set each
value is in docs/validate.md ("Behavioural checks").

Override with a YAML/JSON file (``make validate THRESHOLDS=f.yaml``): ``{name: number}`` for
any name below, and ``disable: [spike, ...]`` to switch checks off.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DEFAULTS: dict[str, float] = {
    "dead_frac": 1e-3,  # episode range <= 0.1 % of S: the joint did not move
    "dead_moving_frac": 0.05,  # ... while it moves > 5 % of S in at least half the others
    "frozen_min_s": 0.5,  # state rows repeated exactly for >= 0.5 s ...
    "frozen_min_frames": 5,  # ... and >= 5 frames
    "frozen_action_frac": 0.05,  # ... while the action moves > 5 % of its S
    "spike_spread_frac": 0.2,  # a one/two-frame excursion > 20 % of S ...
    "spike_step_mult": 6.0,  # ... and > 6 x step, out and back
    "spike_max_frames": 2,  # longest excursion that is a spike
    "wrap_spread_frac": 0.8,  # a jump > 80 % of S that stays: wraparound ...
    "wrap_step_mult": 10.0,  # ... and > 10 x step
    "offset_min_episodes": 10,  # episode_offset/swapped_joints need this many episodes
    "offset_gap_frac": 0.1,  # episode outside every other's range by > 10 % of their width
    "offset_z": 5.0,  # ... its centre > 5 robust sigmas (MAD of episode centres) away ...
    "offset_moving_frac": 0.05,  # ... in a dimension that moves > 5 % of S within episodes
    "idle_frac": 0.02,  # every dimension's episode range < 2 % of S: nothing happens
    "idle_min_s": 1.0,  # ... judged on episodes of >= 1 s (a 3-frame episode barely moves)
    "short_frac": 0.2,  # episode shorter than 20 % of the median length
    "dup_tol_frac": 1e-4,  # near-duplicate: values agree within 1e-4 x S (+ float32 slack) ...
    "dup_frac": 0.99,  # ... in >= 99 % of the overlapping values ...
    "dup_max_shift": 2,  # ... at a shift of up to 2 frames
    "dup_mean_frac": 0.1,  # candidates: every dimension's episode mean within 10 % of S
    "gripper_frac": 0.05,  # gripper range < 5 % of S ...
    "gripper_open_frac": 0.3,  # ... while at least half the episodes move it > 30 % of S
    "copy_frac": 0.9,  # action == state (within float32) in >= 90 % of values
    "copy_tol_frac": 1e-5,  # "==": within 1e-5 x S plus float32 slack
    "slow_ratio": 1.1,  # median timestamp spacing > 1.1 / fps
    "camera_samples": 3,  # frames decoded per episode and camera
    "camera_still_levels": 0.5,  # mean |difference| below 0.5 grey levels: the same picture
}

CHECKS = (
    "dead_joint",
    "frozen_state",
    "wraparound",
    "spike",
    "episode_offset",
    "swapped_joints",
    "idle_episode",
    "short_episode",
    "duplicate_episode",
    "gripper_never_opens",
    "frozen_camera",
    "action_copies_state",
    "slow_loop",
)


class ThresholdError(ValueError):
    """A thresholds file that cannot be used (one line, naming the file and the key)."""


def load(path: Path | str | None) -> tuple[dict[str, float], set[str]]:
    """(thresholds, checks switched off) from DEFAULTS and an optional YAML/JSON file."""
    values = dict(DEFAULTS)
    if path is None:
        return values, set()
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ThresholdError(f"THRESHOLDS={path}: {exc.strerror or exc}") from exc
    data: Any
    try:
        import yaml

        data = yaml.safe_load(text)
    except ImportError:  # pragma: no cover - the tools env has PyYAML
        data = json.loads(text)
    except Exception as exc:
        raise ThresholdError(f"THRESHOLDS={path}: not YAML/JSON ({exc})".splitlines()[0]) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ThresholdError(f"THRESHOLDS={path}: want a mapping of name: number")
    off = data.pop("disable", []) or []
    if isinstance(off, str):
        off = [off]
    unknown = sorted(set(map(str, off)) - set(CHECKS))
    if unknown:
        raise ThresholdError(f"THRESHOLDS={path}: disable: unknown check(s) {unknown}")
    for key, value in data.items():
        if key not in DEFAULTS:
            raise ThresholdError(f"THRESHOLDS={path}: unknown threshold {key!r}")
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ThresholdError(f"THRESHOLDS={path}: {key} must be a number >= 0")
        values[key] = float(value)
    return values, {str(o) for o in off}
