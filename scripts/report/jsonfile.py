"""JSON reports validated against a schema file before they are written (atomically).

Why validate on write: a report is an interface (CI jobs, dashboards and ``EPISODES=@file``
read it); a field renamed by accident must fail where it is produced, not in a reader later.
The checker is validators/jsonschema_lite (fast, no jsonschema import); the schema files are
standard draft 2020-12 and tests check them with ``jsonschema`` too.
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path
from typing import Any

from scripts.report.atomic import ReportError, write_text
from validators.jsonschema_lite import Validator


@cache
def _validator(schema_path: str) -> Validator:
    return Validator(json.loads(Path(schema_path).read_text()))


def _no_nan(obj: Any, where: str = "") -> None:
    """JSON has no NaN/Infinity; refuse them rather than write a file other tools reject."""
    if isinstance(obj, float) and not math.isfinite(obj):
        raise ReportError(f"report value at {where or '(top level)'} is {obj} (not valid JSON)")
    if isinstance(obj, dict):
        for k, v in obj.items():
            _no_nan(v, f"{where}/{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            _no_nan(v, f"{where}/{i}")


def problems(obj: Any, schema: Path) -> list[str]:
    """Each schema violation of ``obj`` as ``path: message``."""
    out = []
    for err in _validator(str(schema)).iter_errors(obj):
        where = "/".join(str(p) for p in err.path) or "(top level)"
        out.append(f"{where}: {err.message}")
    return out


def write_json(path: Path, obj: Any, schema: Path) -> Path:
    """Validate ``obj`` against ``schema`` and write it to ``path`` atomically, indented."""
    _no_nan(obj)
    found = problems(obj, schema)
    if found:
        more = f" (+{len(found) - 1} more)" if len(found) > 1 else ""
        raise ReportError(f"report does not match {Path(schema).name}: {found[0]}{more}")
    return write_text(path, json.dumps(obj, indent=2) + "\n")
