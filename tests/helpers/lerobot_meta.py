"""The pinned LeRobot's metadata writers, lifted out of its source files for the tools env.

``lerobot.datasets`` imports torch, which the tools env (where the converter and its fast
tests run) does not have; the metadata code itself only needs json, numpy and pyarrow. So
the wanted definitions (``DatasetInfo``, ``write_json``, ``write_info``, ``write_stats``,
``serialize_dict``, the converter's ``convert_info``, the metadata class's
``update_video_info`` and ``_flush_metadata_buffer``) are parsed out of the installed files
and executed, unmodified, in one namespace. Importing a module would take seconds of torch
start-up per test process; this takes milliseconds.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import logging
import types
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

SITE = Path(__file__).resolve().parents[2] / "envs/act/.venv/lib/python3.12/site-packages/lerobot"
# file -> top-level names (functions, classes, constants) lifted from it, in this order
TOP = {
    "utils/utils.py": {"flatten_dict", "unflatten_dict"},
    "utils/io_utils.py": {"load_json", "write_json"},
    "datasets/utils.py": {
        "DEFAULT_CHUNK_SIZE",
        "DEFAULT_DATA_FILE_SIZE_IN_MB",
        "DEFAULT_VIDEO_FILE_SIZE_IN_MB",
        "INFO_PATH",
        "STATS_PATH",
        "EPISODES_DIR",
        "DATA_DIR",
        "VIDEO_DIR",
        "CHUNK_FILE_PATTERN",
        "DEFAULT_TASKS_PATH",
        "DEFAULT_EPISODES_PATH",
        "DEFAULT_DATA_PATH",
        "DEFAULT_VIDEO_PATH",
        "DatasetInfo",
        "serialize_dict",
    },
    "datasets/io_utils.py": {"write_info", "load_info", "write_stats", "cast_stats_to_numpy"},
    "scripts/convert_dataset_v21_to_v30.py": {"V30", "convert_info"},
}
# methods of LeRobotDatasetMetadata (datasets/dataset_metadata.py), lifted as plain functions
METHODS = {"update_video_info", "_flush_metadata_buffer"}


def or_fail(load: Callable[[], dict]) -> dict:
    """``load()``'s namespace for a test fixture; a pinned LeRobot without the lifted code (or
    no envs/act) fails the test with the missing path or names instead of erroring."""
    import pytest

    try:
        return load()
    except (FileNotFoundError, LookupError) as exc:
        pytest.fail(str(exc))


def _wanted(node: ast.stmt, names: set[str]) -> bool:
    if isinstance(node, ast.ClassDef | ast.FunctionDef):
        return node.name in names
    if isinstance(node, ast.Assign):
        return getattr(node.targets[0], "id", "") in names
    return False


def _exec(path: Path, body: list[ast.stmt], ns: dict) -> None:
    exec(compile(ast.Module(body=body, type_ignores=[]), str(path), "exec"), ns)


def load() -> dict:
    """LeRobot's DatasetInfo, convert_info, write_info, write_stats, update_video_info, ..."""
    if not SITE.is_dir():
        raise FileNotFoundError(f"{SITE} missing: run `make envs`")
    ns: dict[str, Any] = {
        "np": np,
        "pa": pa,
        "pq": pq,
        "json": json,
        "Path": Path,
        "Any": Any,
        "JsonLike": Any,
        "Iterable": Iterable,
        "logging": logging,
        "logger": logging.getLogger("lerobot.lifted"),
        "dataclasses": dataclasses,
        "dataclass": dataclasses.dataclass,
        "field": dataclasses.field,
        # serialize_dict's isinstance check names torch.Tensor; nothing here is a tensor
        "torch": types.SimpleNamespace(Tensor=type("Tensor", (), {})),
        "VideoEncoderConfig": object,  # only an annotation of update_video_info
    }
    for rel, names in TOP.items():
        path = SITE / rel
        tree = ast.parse(path.read_text())
        _exec(path, [n for n in tree.body if _wanted(n, names)], ns)
    path = SITE / "datasets/dataset_metadata.py"
    tree = ast.parse(path.read_text())
    (cls,) = [
        n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "LeRobotDatasetMetadata"
    ]
    _exec(path, [n for n in cls.body if _wanted(n, METHODS)], ns)
    missing = (set().union(*TOP.values()) | METHODS) - set(ns)
    if missing:
        raise LookupError(f"not found in the pinned LeRobot: {sorted(missing)}")
    return ns
