"""The eval PNG a person looks at: does the policy follow the recording, where does it err?

Top: predicted (first action of each chunk) vs recorded trace of each joint on one episode,
every checkpoint overlaid. Bottom left: error per joint per checkpoint. Bottom right: error
vs chunk step (how fast predictions degrade further into the chunk).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from scripts.report.png import pyplot, save_figure


def figure(
    names: list[str],
    episode: int,
    recorded: np.ndarray,
    predicted: dict[str, np.ndarray],
    doc: dict[str, Any],
) -> Any:
    """``recorded`` (T, D) and ``predicted[label]`` (T, D) for ``episode``; metrics from doc."""
    plt = pyplot()
    d = len(names)
    cols = min(3, d)
    rows = math.ceil(d / cols)
    fig = plt.figure(figsize=(4.2 * cols, 2.4 * rows + 3.4))
    grid = fig.add_gridspec(rows + 1, 2 * cols, height_ratios=[1] * rows + [1.5])
    for j, name in enumerate(names):
        ax = fig.add_subplot(grid[j // cols, 2 * (j % cols) : 2 * (j % cols) + 2])
        ax.plot(recorded[:, j], color="black", lw=2, label="recorded")
        for label, pred in predicted.items():
            ax.plot(pred[:, j], lw=1.2, label=label)
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
        if j == 0:
            ax.legend(fontsize=6)
    ax_j = fig.add_subplot(grid[rows, :cols])
    width = 0.8 / max(1, len(doc["checkpoints"]))
    x = np.arange(d)
    for i, c in enumerate(doc["checkpoints"]):
        ax_j.bar(x + i * width, [c["per_joint_mae"][n] for n in names], width, label=c["path"])
    ax_j.set_xticks(x + width * (len(doc["checkpoints"]) - 1) / 2, names, fontsize=7, rotation=30)
    ax_j.set_title("first-action MAE per joint (dataset units)", fontsize=9)
    ax_j.legend(fontsize=6)
    ax_h = fig.add_subplot(grid[rows, cols:])
    for c in doc["checkpoints"]:
        ax_h.plot(c["per_horizon_mae"], marker="o", ms=3, label=c["path"])
    ax_h.set_xlabel("chunk step", fontsize=8)
    ax_h.set_title("MAE vs chunk step (masked past episode end)", fontsize=9)
    ax_h.legend(fontsize=6)
    fig.suptitle(f"{doc['dataset']}: episode {episode} traces", fontsize=10)
    return fig


def write(path: Path, *args: Any) -> Path:
    return save_figure(figure(*args), path)
