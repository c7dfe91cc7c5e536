"""``behaviour.frozen_camera``: a camera that shows the same picture for a whole episode.

Decodes only ``camera_samples`` frames per episode and camera (``validators.video.
sample_frames``: a seek and a GOP each), spread over the episode, so the standard mode stays
fast; the full decode is deep mode's. A file the video group found broken is skipped.
"""

from __future__ import annotations

import numpy as np

from validators.behaviour.base import DROP, Checks
from validators.video import sample_frames


def frozen_camera(c: Checks) -> None:
    """Per camera file: decode ``camera_samples`` frames of each episode, compare them."""
    ctx = c.ctx
    broken = {f.file for f in ctx.report.findings if f.group == "video" and f.severity == "error"}
    n = max(2, int(c.t["camera_samples"]))
    fps = ctx.fps
    if fps <= 0:
        return
    by_file: dict[tuple[str, str], list[tuple[int, list[int], float]]] = {}
    for ep in ctx.episodes:
        if ep.length < n or c.skipped(ep.episode_index):
            continue
        picks = [round(f) for f in np.linspace(0.05, 0.95, n) * (ep.length - 1)]
        for vk, ref in ep.videos.items():
            if ref.path not in broken and ref.path not in ctx.missing_files:
                by_file.setdefault((vk, ref.path), []).append(
                    (ep.episode_index, picks, ref.from_ts)
                )
    for (vk, rel), eps in sorted(by_file.items()):
        times = [start + f / fps for _, picks, start in eps for f in picks]
        try:
            pics = sample_frames(ctx.root / rel, times)
        except Exception:
            continue  # the video group (deep mode) judges undecodable files
        for k, (e, picks, _) in enumerate(eps):
            mine = pics[k * n : (k + 1) * n]
            if any(p is None or p.shape != mine[0].shape for p in mine):
                continue
            ref0 = mine[0].astype(np.int16)
            diff = max(float(np.abs(p.astype(np.int16) - ref0).mean()) for p in mine[1:])
            if diff < c.t["camera_still_levels"]:
                c.say(
                    "frozen_camera",
                    "warning",
                    e,
                    f"{vk} shows the same picture at {n} frames spread over the episode "
                    f"(mean luma difference {diff:.2g} grey levels, below "
                    f"{c.t['camera_still_levels']:g})",
                    f"the camera hung (capture thread or USB); {DROP}",
                    feature=vk,
                    frames=(picks[0], picks[-1]),
                )
