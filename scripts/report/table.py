"""Plain-text tables for the terminal and logs (no rich/tabulate: any env can print them)."""

from __future__ import annotations

from collections.abc import Sequence


def cell(value: object, digits: int = 4) -> str:
    """Floats to ``digits`` significant figures, None as ``-``, anything else as str."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def render(headers: Sequence[str], rows: Sequence[Sequence[object]], digits: int = 4) -> str:
    """Columns padded to their widest cell; numbers right-aligned, text left-aligned."""
    text = [[cell(v, digits) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in text)]) for i, h in enumerate(headers)]
    numeric = [
        all(isinstance(row[i], (int, float)) or row[i] is None for row in rows) and bool(rows)
        for i in range(len(headers))
    ]

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.rjust(w) if num else c.ljust(w)
            for c, w, num in zip(cells, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    out = [line(list(headers)), line(["-" * w for w in widths])]
    out += [line(r) for r in text]
    return "\n".join(out)
