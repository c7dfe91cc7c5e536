"""Which frames of an episode move: the still head and tail ``OP=trim-idle`` drops.

A frame moves when any dimension of the motion feature (``MOTION=``, default
``observation.state``, else ``action``) is more than the threshold away from the episode's
first frame (for the head) or its last frame (for the tail). Measuring from the end frame,
not frame to frame, means a slow creep of sensor noise never adds up to motion, while a slow
real start does. The kept span is the moving frames plus one still frame on each side, so an
episode still starts and ends at rest.

``IDLE=`` is in the dataset's units (``IDLE=0.5``: half a degree on a Koch arm, whatever unit
each dimension has) or a share of each dimension's spread over the whole dataset
(``IDLE=2%``: 2 % of max - min of that dimension, from the rows); the default is ``2%``, so
it adapts to degrees, radians and metres alike without a number per robot. A dimension that
never changes in the dataset never counts as motion.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from scripts.edit.errors import EditError
from scripts.edit.plan import Source

DEFAULT_IDLE = "2%"


@dataclass
class Bounds:
    """Per source episode: the kept ``[start, stop)``; the thresholds used, for messages."""

    knob: str
    key: str
    threshold: np.ndarray  # per dimension, in the dataset's units
    spans: dict[int, tuple[int, int]]

    def describe(self) -> str:
        t = np.unique(np.round(self.threshold[np.isfinite(self.threshold)], 6))
        if not len(t):
            return "any change (every dimension is constant)"
        return f"{t[0]:g}" if len(t) == 1 else f"{t.min():g}..{t.max():g} (per dimension)"


def motion_key(src: Source, key: str | None) -> str:
    """MOTION, else observation.state, else action; it must be a float vector feature."""
    feats = src.layout.features
    if key:
        if key not in feats:
            raise EditError(f"MOTION={key}: not a feature of {src.root} ({', '.join(feats)})")
        name = key
    else:
        name = next((k for k in ("observation.state", "action") if k in feats), "")
        if not name:
            raise EditError(f"{src.root}: no observation.state or action; give MOTION=<feature>")
    if not str(feats[name].get("dtype", "")).startswith("float"):
        raise EditError(f"MOTION={name}: a {feats[name].get('dtype')} feature, want float")
    return name


def _values(src: Source, key: str) -> tuple[np.ndarray, np.ndarray]:
    """(episode_index per row, rows x dims float64) of ``key`` over every data file."""
    eps, vals = [], []
    for path in sorted((src.root / "data").glob("*/*.parquet")):
        try:
            t = pq.read_table(path, columns=["episode_index", key])
        except (OSError, pa.ArrowException) as exc:
            raise EditError(f"{path}: cannot be read ({exc})") from exc
        col = t.column(key).combine_chunks()
        flat = (
            col.flatten()
            if pa.types.is_list(col.type) or pa.types.is_fixed_size_list(col.type)
            else col
        )
        v = np.asarray(flat.to_numpy(zero_copy_only=False), dtype=np.float64)
        eps.append(t.column("episode_index").to_numpy())
        vals.append(v.reshape(t.num_rows, -1))
    if not vals:
        raise EditError(f"{src.root}/data: no parquet files")
    return np.concatenate(eps), np.concatenate(vals)


def parse_threshold(knob: str, spread: np.ndarray) -> np.ndarray:
    """``0.5`` (dataset units) or ``2%`` (of each dimension's spread) -> per-dimension value."""
    text = knob.strip()
    try:
        if text.endswith("%"):
            value = float(text[:-1]) / 100 * spread
            share = float(text[:-1])
        else:
            share = float(text)
            value = np.full_like(spread, share)
    except ValueError:
        raise EditError(f"IDLE={knob}: want a motion in the dataset's units (0.5) or 2%") from None
    if not np.isfinite(share) or share <= 0:
        raise EditError(f"IDLE={knob}: must be > 0")
    return value


def episode_span(x: np.ndarray, threshold: np.ndarray) -> tuple[int, int]:
    """The moving frames of one episode (rows x dims) plus one still frame each side."""
    moved_head = np.any(np.abs(x - x[0]) > threshold, axis=1)
    moved_tail = np.any(np.abs(x - x[-1]) > threshold, axis=1)
    if not moved_head.any():
        return 0, 0
    first = int(np.argmax(moved_head))
    last = len(x) - 1 - int(np.argmax(moved_tail[::-1]))
    return max(first - 1, 0), min(last + 2, len(x))


def still_bounds(src: Source, knob: str | None, key: str | None) -> Bounds:
    """Every episode's kept span under threshold ``knob`` (default 2 % of the spread)."""
    name = motion_key(src, key)
    eps, values = _values(src, name)
    spread = values.max(axis=0) - values.min(axis=0) if len(values) else np.zeros(1)
    text = knob or DEFAULT_IDLE
    threshold = parse_threshold(text, spread)
    # a constant dimension never moves, even against an absolute threshold of 0
    threshold = np.where(spread > 0, threshold, np.inf)
    order = np.argsort(eps, kind="stable")
    eps, values = eps[order], values[order]
    cuts = np.flatnonzero(np.diff(eps)) + 1
    spans = {}
    for part_eps, part in zip(np.split(eps, cuts), np.split(values, cuts), strict=True):
        if len(part_eps):
            spans[int(part_eps[0])] = episode_span(part, threshold)
    for row in src.episodes:
        e = int(row["episode_index"])
        if e not in spans:
            raise EditError(f"{src.root}/data: no rows of episode {e} (meta/episodes has it)")
    return Bounds(text, name, threshold, spans)
