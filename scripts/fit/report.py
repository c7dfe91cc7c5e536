"""Text and README output of ``make fit`` (no torch: runs in the tools environment)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

GIB = 1024**3
README_BEGIN = "<!-- fit-table:begin (make fit-all writes this table) -->"
README_END = "<!-- fit-table:end -->"


def gib(n: float | None) -> str:
    return "-" if n is None else f"{n / GIB:.2f} GiB"


def human_params(n: int) -> str:
    return f"{n / 1e9:.2f} B" if n >= 1e9 else f"{n / 1e6:.1f} M"


def text(r: dict[str, Any]) -> str:
    """The per-recipe report ``make fit`` prints."""
    p = r["prediction"]
    c = r["constants"]
    lines = [
        f"recipe {r['recipe']} (policy {r['policy']}, env {r['env']}, GPU {r['gpu_gb']:.0f} GB)"
        f" at batch {p['batch']}",
        f"  shapes:       {r['shapes_text']}",
        f"  parameters:   {human_params(p['params_total'])} total, "
        f"{human_params(p['params_trainable'])} trainable",
        f"  weights:      {gib(p['weights'])}",
        f"  gradients:    {gib(p['gradients'])}",
        f"  optimizer:    {gib(p['optimizer'])} (AdamW exp_avg + exp_avg_sq)",
        f"  batch:        {gib(p['inputs'])}",
        f"  activations:  {gib(p['activations'])} (forward peak above weights+state+batch)",
        "  phase peaks:  " + ", ".join(f"{k} {gib(v)}" for k, v in p["phases"].items()),
        f"  predicted peak allocated: {gib(p['peak'])}  (fake-tensor step, {p['seconds']:.0f} s)",
        f"  + CUDA context {c['cuda_context_gib']:.2f} GiB + allocator margin "
        f"{c['allocator_margin']:.0%} = needs {r['need_gib']:.1f} GiB",
    ]
    if r["gpu_gb"]:
        room = c["fit_fraction"] * r["gpu_gb"] - r["need_gib"]
        lines.append(
            f"  verdict:      {r['verdict'].upper()} on {r['gpu_gb']:.0f} GB "
            f"(margin {room:+.1f} GiB against {c['fit_fraction']:.0%} of the card)"
        )
    if "largest_batch" in r:
        lines.append(
            f"  largest batch that fits: {r['largest_batch']} "
            f"(~{r['bytes_per_sample'] / GIB:.3f} GiB per sample; "
            f"peak there {gib(r['peak_at_largest'])})"
        )
    for note in p.get("notes", []):
        lines.append(f"  note: {note}")
    if "measured" in r:
        m = r["measured"]
        lines.append(
            f"  measured on {m['gpu']}: max allocated {gib(m['max_allocated'])}, "
            f"max reserved {gib(m['max_reserved'])}, {m['samples_per_s']:.1f} samples/s"
        )
    return "\n".join(lines)


TABLE_HEAD = (
    "| recipe | GPU | batch | shapes | params (trainable) | weights | grads | AdamW | "
    "activations | peak | needs | verdict | largest batch |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def table(results: list[dict[str, Any]]) -> str:
    """One markdown row per (recipe, shapes)."""
    rows = [TABLE_HEAD]
    for r in results:
        p = r["prediction"]
        rows.append(
            f"| `{r['recipe']}` | {r['gpu_gb']:.0f} GB | {p['batch']} | {r['shapes']['name']} | "
            f"{human_params(p['params_total'])} ({human_params(p['params_trainable'])}) | "
            f"{p['weights'] / GIB:.2f} | {p['gradients'] / GIB:.2f} | "
            f"{p['optimizer'] / GIB:.2f} | {p['activations'] / GIB:.2f} | "
            f"{p['peak'] / GIB:.2f} | {r['need_gib']:.1f} | {r['verdict']} | "
            f"{r.get('largest_batch', '-')} |"
        )
    return "\n".join(rows)


def write_readme(readme: Path, body: str) -> bool:
    """Replace the text between the fit-table markers; False when the markers are missing."""
    return write_between(readme, README_BEGIN, README_END, body)


def write_between(path: Path, begin: str, end: str, body: str) -> bool:
    """Replace the text between two marker lines (temp file, then rename); False if missing."""
    text_ = path.read_text()
    pat = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    if not pat.search(text_):
        return False
    new = pat.sub(lambda _m: f"{begin}\n{body}\n{end}", text_)
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(new)
    tmp.replace(path)
    return True
