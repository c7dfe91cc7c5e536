"""The eval report: the JSON document (schema validators/schemas/eval_report.schema.json) and
the terminal table, both built from the per-checkpoint metrics and the ranking."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scripts.report import jsonfile
from scripts.report.table import render

SCHEMA = Path(__file__).resolve().parents[2] / "validators" / "schemas" / "eval_report.schema.json"
FORMAT = "lerobot-ops/eval-report/1"


def document(
    plan: Any, per_checkpoint: list[dict[str, Any]], ranked: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    """The report dict in the schema's field order."""
    return {
        "format": FORMAT,
        "dataset": str(plan.dataset),
        "episodes_spec": plan.episodes_spec,
        "episodes_source": plan.episodes_source,
        "notes": list(plan.notes),
        **extra,
        "checkpoints": per_checkpoint,
        **ranked,
    }


def write(path: Path, doc: dict[str, Any]) -> Path:
    """Schema-checked, atomic."""
    return jsonfile.write_json(path, doc, SCHEMA)


def table(doc: dict[str, Any]) -> str:
    """Checkpoints in rank order with their headline numbers, then the verdicts."""
    by_path = {c["path"]: c for c in doc["checkpoints"]}
    rows = []
    for r in doc["ranking"]:
        c = by_path[r["path"]]
        horizon = c["per_horizon_mae"]
        spread = c["spread"]["mae_std"] if c["spread"] else None
        ci = r["ci95_vs_best"]
        rows.append(
            [
                r["rank"],
                c["path"],
                c["policy_type"],
                c["step"],
                c["frames"],
                c["mae"],
                c["rmse"],
                horizon[-1],
                spread,
                f"[{ci[0]:.3g}, {ci[1]:.3g}]" if ci else "-",
            ]
        )
    head = ["#", "checkpoint", "type", "step", "frames", "mae", "rmse",
            f"mae@{len(rows and by_path[doc['ranking'][0]['path']]['per_horizon_mae']) - 1}",
            "seed std", "diff vs best 95%"]  # fmt: skip
    lines = [render(head, rows)]
    for c in doc["comparisons"]:
        ci = c["ci95"]
        where = f" (mae diff {c['mae_diff']:.4g}, 95% CI [{ci[0]:.4g}, {ci[1]:.4g}])" if ci else ""
        lines.append(f"  {c['verdict']}{where}" if c["beats"] else
                     f"  {c['better']} vs {c['worse']}: {c['verdict']}{where}")  # fmt: skip
    return "\n".join(lines)
