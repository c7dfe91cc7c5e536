"""The validator's API: ``validate_dataset(root, recipe=..., deep=..., quick=...) -> Report``.

Runs the check groups in order (schema, structure, data, video, stats, readiness) over one
shared ``Context``. Later groups skip what earlier ones found broken instead of crashing on
it, so one run reports everything it can. Never writes to the dataset.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from validators import dataset_format as fmt
from validators.context import Context
from validators.policies import UsageError, load_policy_spec, resolve_recipe
from validators.readable import require_readable
from validators.report import GROUPS, Finding, Report

__all__ = ["GROUPS", "Finding", "Report", "UsageError", "validate_dataset"]


def _read_info(root: Path) -> tuple[dict[str, Any] | None, str | None]:
    """(info, None) or (None, why) when info.json exists but cannot be used."""
    info_file = root / fmt.INFO_PATH
    try:
        info = json.loads(info_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return None, f"not valid JSON ({exc})"
    if not isinstance(info, dict):
        return None, "not a JSON object"
    return info, None


def _import_av_in_background() -> None:
    """PyAV's import (0.15-0.3 s, mostly loading FFmpeg's libraries) on a second thread while
    the data and stats groups read parquet: behaviour.frozen_camera decodes keyframes later."""
    import threading

    from validators.video import _av

    threading.Thread(target=_av, name="import-av", daemon=True).start()


def _dav1d_suffices(ctx: Any) -> bool:
    """Every camera says AV1 and libdav1d loads: the camera screen will not need PyAV."""
    from validators import dav1d

    infos = [ctx.features.get(k, {}).get("info") or {} for k in ctx.video_keys]
    codecs = {i.get("video.codec") for i in infos}
    return codecs == {"av1"} and dav1d.available()


def validate_dataset(
    root: Path | str,
    *,
    recipe: str | None = None,
    deep: bool = False,
    quick: bool = False,
    policy_overrides: dict[str, Any] | None = None,
    progress: bool = False,
    groups: tuple[str, ...] | None = None,
    behaviour: bool = True,
    thresholds: Path | str | None = None,
) -> Report:
    """Validate a LeRobot v2.1/v3.0 dataset; raise UsageError for a bad path or recipe.

    ``policy_overrides`` (e.g. ``{"max_state_dim": 45}``) lets the training launcher check
    readiness with the values it will pass on the command line. ``groups`` runs only those
    check groups (the converter runs the structural ones: it builds the stats itself).
    ``behaviour=False`` skips the behavioural checks; ``thresholds`` is a YAML/JSON file of
    overrides (validators/behaviour/thresholds.py; a bad one is a UsageError).
    """
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"{root}: no such directory")
    require_readable(root)
    if not (root / fmt.INFO_PATH).is_file():
        raise UsageError(f"{root / fmt.INFO_PATH}: not found, so {root} is not a LeRobot dataset")
    from validators.behaviour.thresholds import ThresholdError, load

    try:
        limits, off = load(thresholds)
    except ThresholdError as exc:
        raise UsageError(str(exc)) from exc
    spec = None
    if recipe is not None:
        spec = load_policy_spec(resolve_recipe(recipe), policy_overrides)

    info, why = _read_info(root)
    if info is None:
        report = Report(root=str(root), version="unknown", mode="standard", recipe=recipe)
        report.findings.append(
            Finding(
                "schema.info",
                "error",
                fmt.INFO_PATH,
                None,
                f"meta/info.json is {why}",
                "restore meta/info.json; nothing else can be checked without it",
            )
        )
        report.groups_run = ["schema"]
        return report

    from validators import data, schema, stats, structure, video

    ctx = Context(root, info, deep=deep, quick=quick and not deep)
    ctx.progress = progress
    ctx.report.recipe = recipe
    stages: list[tuple[str, Any]] = [
        ("schema", schema.run),
        ("structure", structure.run),
        ("data", data.run),
        ("video", video.run),
        ("stats", stats.run),
    ]
    if behaviour and not ctx.quick:  # reads rows: never in quick mode (the preflight)
        from validators import behaviour as behave

        if ctx.video_keys and "frozen_camera" not in off and not _dav1d_suffices(ctx):
            _import_av_in_background()

        stages.append(("behaviour", lambda c: behave.run(c, limits, off)))
    if spec is not None:
        from validators import readiness

        stages.append(("readiness", lambda c: readiness.run(c, spec)))
    if groups is not None:
        unknown = sorted(set(groups) - {name for name, _ in stages})
        if unknown:
            raise UsageError(f"unknown check group(s) {unknown}; known: {list(GROUPS)}")
        stages = [(name, fn) for name, fn in stages if name in groups]
    planned = {name for name, _ in stages}
    if "behaviour" in planned and "data" in planned:
        ctx.row_cache = {}  # the data group keeps its columns for the stats and behaviour groups
    for i, (name, fn) in enumerate(stages, 1):
        if progress:
            print(f"[{i}/{len(stages)}] {name} ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        fn(ctx)
        ctx.report.timings[name] = time.perf_counter() - t0
        ctx.report.groups_run.append(name)
    ctx.row_cache = None  # behaviour frees it; also when it returned early
    ctx.report.summary = {
        "episodes": len(ctx.episodes),
        "frames": ctx.data_rows_total,
        "fps": info.get("fps"),
        "video_keys": ctx.video_keys,
        "layout": "v3.0" if ctx.is_v3 else "v2.x",
    }
    return ctx.report
