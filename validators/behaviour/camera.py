"""``behaviour.frozen_camera``: a camera that shows the same picture for a whole episode.

A frozen camera makes every frame of the episode the same picture, so two frames that differ
prove it is not frozen. Per episode and camera it decodes two keyframes, near 5 % and 95 %
of the episode; only when those two look the same (a still scene, or a hung camera) does it
decode ``camera_samples`` frames spread over the episode to confirm. Keyframes are read
straight from the MP4 sample table (``validators.video.KeyframeDecoder``: no demuxing, no
seek, one frame decoded each; AV1 by libdav1d directly, ``validators.dav1d``, so PyAV is not
imported); a file without a usable table, or an episode with fewer than
two keyframes, falls back to a seek per frame (``sample_frames``). A file the video group
found broken is skipped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from validators.behaviour.base import DROP, Checks
from validators.mp4_index import read_video_index
from validators.video import KeyframeDecoder, sample_frames

EDGE = 0.05  # the first screen compares frames at 5 % and 95 % of the episode


def frozen_camera(c: Checks) -> None:
    """Per camera file: screen every episode with two keyframes, confirm the still ones."""
    ctx = c.ctx
    broken = {f.file for f in ctx.report.findings if f.group == "video" and f.severity == "error"}
    n = max(2, int(c.t["camera_samples"]))
    if ctx.fps <= 0:
        return
    by_file: dict[tuple[str, str], list[tuple[int, int, float]]] = {}
    for ep in ctx.episodes:
        if ep.length < n or c.skipped(ep.episode_index):
            continue
        for vk, ref in ep.videos.items():
            if ref.path not in broken and ref.path not in ctx.missing_files:
                by_file.setdefault((vk, ref.path), []).append(
                    (ep.episode_index, ep.length, ref.from_ts)
                )
    decoder = KeyframeDecoder()
    for (vk, rel), eps in sorted(by_file.items()):
        try:
            _file(c, vk, rel, eps, n, decoder)
        except Exception:
            continue  # the video group (deep mode) judges undecodable files


def _file(
    c: Checks, vk: str, rel: str, eps: list[tuple[int, int, float]], n: int, dec: KeyframeDecoder
) -> None:
    ctx = c.ctx
    path = ctx.root / rel
    index = ctx.video_index.get(rel) or read_video_index(path)
    reader = _Reader(path, index, ctx.fps, dec)
    screen = [(e, [EDGE, 1 - EDGE], length, start) for e, length, start in eps]
    pics = reader.frames(screen)
    still = []
    for (e, _, length, start), (frames, _) in zip(screen, pics, strict=True):
        diff = _diff(frames)
        if diff is not None and diff < c.t["camera_still_levels"]:
            still.append((e, list(np.linspace(EDGE, 1 - EDGE, n)), length, start))
    for (e, _, _, _), (frames, picks) in zip(still, reader.frames(still), strict=True):
        diff = _diff(frames)
        if diff is None or diff >= c.t["camera_still_levels"]:
            continue
        c.say(
            "frozen_camera",
            "warning",
            e,
            f"{vk} shows the same picture at {len(frames)} frames spread over the episode "
            f"(frames {', '.join(map(str, picks))}; mean luma difference {diff:.2g} grey "
            f"levels, below {c.t['camera_still_levels']:g})",
            f"the camera hung (capture thread or USB); {DROP}",
            feature=vk,
            frames=(picks[0], picks[-1]),
        )


def _diff(frames: list[np.ndarray | None]) -> float | None:
    """Largest mean |difference| of any frame from the first; None if one is missing."""
    if len(frames) < 2 or any(p is None or p.shape != frames[0].shape for p in frames):
        return None
    ref0 = frames[0].astype(np.int16)
    return max(float(np.abs(p.astype(np.int16) - ref0).mean()) for p in frames[1:])


class _Reader:
    """Frames at fractions of episodes of one file: keyframes from the sample table when it
    has at least two inside the episode, else a seek per frame."""

    def __init__(self, path: Path, index: Any, fps: float, dec: KeyframeDecoder) -> None:
        self.path, self.fps, self.dec, self.index = path, fps, dec, index
        self.ok = index is not None and index.sync is not None and index.samples > 0 and index.codec
        if self.ok:
            keys = np.flatnonzero(index.sync)
            order = np.argsort(index.sample_pts_s[keys], kind="stable")
            self.keys = keys[order]
            self.key_pts = index.sample_pts_s[self.keys]
            self.offsets, self.sizes = index.offsets, index.sizes

    def frames(
        self, wants: list[tuple[int, list[float], int, float]]
    ) -> list[tuple[list[np.ndarray | None], list[int]]]:
        """Per (episode, fractions, length, start): its frames and their frame numbers."""
        plan: list[tuple[str, list[Any], list[int]]] = []
        for _, fracs, length, start in wants:
            picks = [round(f * (length - 1)) for f in fracs]
            samples = self._keys(start, length, fracs) if self.ok else None
            if samples is None:
                plan.append(("seek", [start + p / self.fps for p in picks], picks))
            else:
                frame_of = [round((self.key_pts[k] - start) * self.fps) for k in samples]
                plan.append(("key", [self.keys[k] for k in samples], frame_of))
        keyed = [s for kind, items, _ in plan if kind == "key" for s in items]
        decoded = iter(
            self.dec.lumas(
                self.path,
                self.index.codec,
                self.index.config,
                [int(self.offsets[s]) for s in keyed],
                [int(self.sizes[s]) for s in keyed],
            )
            if keyed
            else []
        )
        sought = [t for kind, items, _ in plan if kind == "seek" for t in items]
        found = iter(sample_frames(self.path, sought) if sought else [])
        out = []
        for kind, items, picks in plan:
            src = decoded if kind == "key" else found
            out.append(([next(src) for _ in items], picks))
        return out

    def _keys(self, start: float, length: int, fracs: list[float]) -> list[int] | None:
        """Positions in ``keys`` of the keyframe nearest each fraction of the episode, all
        inside it and distinct; None when the episode holds fewer than two keyframes."""
        half = 0.5 / self.fps
        lo = int(np.searchsorted(self.key_pts, start - half))
        hi = int(np.searchsorted(self.key_pts, start + (length - 1) / self.fps + half))
        if hi - lo < 2:
            return None
        want = start + np.asarray(fracs) * (length - 1) / self.fps
        pos = np.clip(np.searchsorted(self.key_pts[lo:hi], want), 0, hi - lo - 1) + lo
        prev = np.maximum(pos - 1, lo)
        near = np.where(
            np.abs(self.key_pts[prev] - want) < np.abs(self.key_pts[pos] - want), prev, pos
        )
        uniq = sorted(set(near.tolist()))
        return uniq if len(uniq) >= 2 else None
