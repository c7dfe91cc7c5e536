"""The PNG a person looks at: per-episode traces of the flagged episodes, flagged spans marked.

Written beside the JSON report (``REPORT=r.json`` -> ``r.png``) through the shared
``scripts/report/png.py`` (matplotlib Agg, atomic write). Only the flagged episodes' rows
are read again, after the validation, so the validator itself holds nothing for the plot.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from validators.report import Finding, Report

MAX_EPISODES = 8  # panels; the rest are in the JSON


def _episode_rows(root: Path, rel: str, episode: int, key: str) -> np.ndarray | None:
    """(frames, D) values of ``key`` in ``episode`` from its data file, or None."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from validators.arrow_np import to_numpy

    try:
        table = pq.read_table(root / rel, columns=["episode_index", key])
        part = table.filter(pc.equal(table.column("episode_index"), episode))
        flat = to_numpy(part.column(key)).astype(np.float64)
    except Exception:
        return None
    n = part.num_rows
    return flat.reshape(n, -1) if n and flat.size % n == 0 else None


def write_png(report: Report, path: Path) -> Path | None:
    """Draw up to MAX_EPISODES flagged episodes; None when there is nothing to draw."""
    from scripts.report.png import pyplot, save_figure

    flagged: dict[int, list[Finding]] = {}
    for f in report.findings:
        if f.group == "behaviour" and f.episode is not None and f.file:
            flagged.setdefault(f.episode, []).append(f)
    if not flagged:
        return None
    root = Path(report.root)
    eps = sorted(flagged)[:MAX_EPISODES]
    plt = pyplot()
    fig, axes = plt.subplots(len(eps), 1, figsize=(9, 2.4 * len(eps)), squeeze=False)
    for ax, e in zip(axes[:, 0], eps, strict=True):
        fs = flagged[e]
        key = next((f.feature for f in fs if f.feature and "images" not in f.feature), None)
        key = key or "observation.state"
        values = _episode_rows(root, fs[0].file or "", e, key)
        if values is not None:
            ax.plot(values, linewidth=0.8)
        for f in fs:
            if f.frames is not None:
                a, b = f.frames
                ax.axvspan(a - 0.5, b + 0.5, color="red", alpha=0.15)
        names = ", ".join(sorted({f.check_id.removeprefix("behaviour.") for f in fs}))
        ax.set_title(f"episode {e}: {names} ({key})", fontsize=9, loc="left")
        ax.set_xlabel("frame", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    return save_figure(fig, path)
