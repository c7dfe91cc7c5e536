"""The pinned LeRobot's video helpers, lifted out of its source files for the tools env.

``lerobot.datasets.video_utils`` and ``depth_utils`` import torch, which the tools env (where
the converter and its fast tests run) does not have; the functions themselves only need av,
numpy and the standard library. So the wanted definitions are parsed out of the installed
files and executed, unmodified, in one namespace (as tests/helpers/lerobot_meta.py does):

- ``get_video_info`` / ``get_audio_info`` / ``get_pix_fmt_channels``: the ``video.*`` and
  ``audio.*`` keys LeRobot records in ``meta/info.json`` for a video file;
- ``get_video_duration_in_s``: the episode duration the recorder adds to ``from_timestamp``
  to get ``to_timestamp`` (``_save_episode_video``);
- ``concatenate_video_files``: how the recorder appends an episode's mp4 to a file;
- ``dequantize_depth`` (its numpy path): depth codes back to millimetres or metres.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import functools
import logging
import math
import shutil
import tempfile
import types
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import av
import numpy as np
from numpy.typing import NDArray

SITE = Path(__file__).resolve().parents[2] / "envs/act/.venv/lib/python3.12/site-packages/lerobot"
# file -> top-level names (functions, constants) lifted from it, in this order
TOP = {
    "configs/video.py": {
        "DEPTH_QUANT_BITS",
        "DEPTH_QMAX",
        "DEFAULT_DEPTH_MIN",
        "DEFAULT_DEPTH_MAX",
        "DEFAULT_DEPTH_SHIFT",
        "DEFAULT_DEPTH_USE_LOG",
        "DEFAULT_DEPTH_PIX_FMT",
        "DEPTH_METER_UNIT",
        "DEPTH_MILLIMETER_UNIT",
    },
    "datasets/pyav_utils.py": {"get_pix_fmt_channels"},
    "datasets/depth_utils.py": {
        "MM_PER_METRE",
        "_UINT16_MAX",
        "_validate_log_quant_params",
        "dequantize_depth",
    },
    "datasets/video_utils.py": {
        "get_audio_info",
        "get_video_info",
        "get_video_duration_in_s",
        "concatenate_video_files",
    },
}


def _int(x: Any = 0, *args: Any) -> int:
    """``int`` as LeRobot's code sees it under its own PyAV (15): there ``stream.base_rate``
    is a ``Fraction``; the tools env's PyAV 19 returns its own rational, which ``int()``
    refuses. Same value: the rational converted to a Fraction first."""
    if not args and type(x).__name__ == "AVRational":
        x = Fraction(builtins.int(x.numerator), builtins.int(x.denominator))
    return builtins.int(x, *args)


def _wanted(node: ast.stmt, names: set[str]) -> bool:
    if isinstance(node, ast.FunctionDef):
        return node.name in names
    if isinstance(node, ast.Assign):
        return getattr(node.targets[0], "id", "") in names
    if isinstance(node, ast.AnnAssign):
        return getattr(node.target, "id", "") in names
    return False


def load() -> dict:
    """LeRobot 0.6.1's get_video_info, concatenate_video_files, dequantize_depth, ..."""
    if not SITE.is_dir():
        raise FileNotFoundError(f"{SITE} missing: run `make envs`")
    ns: dict[str, Any] = {
        "__name__": "lerobot_lifted",
        "av": av,
        "np": np,
        "math": math,
        "functools": functools,
        "shutil": shutil,
        "tempfile": tempfile,
        "logging": logging,
        "logger": logging.getLogger("lerobot.lifted"),
        "Path": Path,
        "Any": Any,
        "Literal": Literal,
        "NDArray": NDArray,
        "asdict": dataclasses.asdict,
        "int": _int,
        # only isinstance checks name these; nothing passed here is one
        "torch": types.SimpleNamespace(Tensor=type("Tensor", (), {})),
        "VideoEncoderConfig": type("VideoEncoderConfig", (), {}),
        "DepthEncoderConfig": type("DepthEncoderConfig", (), {}),
    }
    for rel, names in TOP.items():
        path = SITE / rel
        tree = ast.parse(path.read_text())
        body = [n for n in tree.body if _wanted(n, names)]
        exec(compile(ast.Module(body=body, type_ignores=[]), str(path), "exec"), ns)
    missing = set().union(*TOP.values()) - set(ns)
    if missing:
        raise LookupError(f"not found in the pinned LeRobot: {sorted(missing)}")
    return ns
