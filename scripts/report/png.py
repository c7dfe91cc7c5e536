"""PNG figures written atomically with matplotlib's Agg backend (no display needed)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from scripts.report.atomic import write_bytes


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (headless servers, CI, SSH sessions)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: Path, dpi: int = 110) -> Path:
    """Render ``fig`` to PNG in memory, then write it atomically and close the figure."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    pyplot().close(fig)
    return write_bytes(path, buf.getvalue())
