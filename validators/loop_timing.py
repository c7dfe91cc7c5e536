"""The real loop rate of a recording made by ``make record`` (its tick files), per episode.

Why: LeRobot stamps frame ``i`` at ``i / fps`` whatever the loop really did, so a dataset
recorded at 24 Hz claims 30 fps and nothing in its rows shows it (LeRobot #2786; the
timestamps are perfect by construction, ``behaviour.slow_loop`` cannot see it). A recording
of this toolkit keeps the real start-to-start period of every tick beside the dataset
(``meta/.lerobot-ops-record/ticks/episode_NNNNNN.f64``, float64 seconds, see
``scripts.session.journal``): an episode whose mean real rate is below 95 % of the dataset's
fps is reported (``data.slow_loop``, a warning: the rows are valid, their timing is not what
fps says). Datasets without tick files are not judged. No numpy needed: a few thousand floats.
"""

from __future__ import annotations

import struct
from pathlib import Path

from validators.context import Context

TICKS = Path("meta") / ".lerobot-ops-record" / "ticks"
SLOW_FRACTION = 0.95  # the same threshold as the recorder's report (scripts.session.clock)


def read_periods(path: Path) -> list[float]:
    data = path.read_bytes()
    return list(struct.unpack(f"<{len(data) // 8}d", data[: len(data) // 8 * 8]))


def run(ctx: Context) -> None:
    folder = ctx.root / TICKS
    fps = ctx.fps  # 0.0 when info.json's fps is not a number (schema.info reports it)
    if not folder.is_dir() or fps <= 0:
        return
    for ep in ctx.episodes:
        path = folder / f"episode_{ep.episode_index:06d}.f64"
        if not path.is_file():
            continue
        periods = read_periods(path)
        if not periods:
            continue
        mean = sum(periods) / len(periods)
        rate = 1.0 / mean if mean > 0 else 0.0
        if rate < SLOW_FRACTION * fps:
            p99 = sorted(periods)[min(len(periods) - 1, int(0.99 * len(periods)))]
            ctx.add(
                "data.slow_loop",
                "warning",
                f"episode {ep.episode_index} ran at {rate:.2f} Hz, below 95 % of fps={fps:g} "
                f"(p99 period {1e3 * p99:.1f} ms, target {1e3 / fps:.1f} ms): its frames are "
                f"stamped 1/fps apart but were not",
                "a slow bus or a busy CPU during the recording; drop or re-record the episode "
                "(EPISODES=~N), or train at the rate it really ran",
                file=path.relative_to(ctx.root).as_posix(),
                episode=ep.episode_index,
            )
