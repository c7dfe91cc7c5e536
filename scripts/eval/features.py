"""Does a checkpoint's policy fit a dataset: cameras, image shapes, state and action sizes.

Pure Python on config.json and info.json, checked before any frame is decoded. LeRobot itself
would fail deep in a forward pass (or, worse, broadcast a wrong-sized state silently); here a
mismatch is one line naming both sides. The run's ``rename_map`` (dataset key -> policy key)
is applied first, exactly as the policy's preprocessor applies it.
"""

from __future__ import annotations

from typing import Any

from scripts.eval.checkpoints import Checkpoint

IMAGE_PREFIX = "observation.images."


def action_names(info: dict[str, Any]) -> list[str]:
    """The dataset's action feature names (info.json ``names``: a list, or {axis: list})."""
    feat = info["features"]["action"]
    dim = int(feat["shape"][0])
    names = feat.get("names")
    if isinstance(names, dict) and len(names) == 1:
        names = next(iter(names.values()))
    if isinstance(names, list) and len(names) == dim and all(isinstance(n, str) for n in names):
        return list(names)
    return [f"action_{i}" for i in range(dim)]


def _dataset_shape(ft: dict[str, Any]) -> list[int]:
    """Channel-first shape of a dataset feature (images are stored H, W, C)."""
    shape = [int(s) for s in ft["shape"]]
    if ft.get("dtype") in ("video", "image") and len(shape) == 3:
        names = ft.get("names") or []
        if list(names)[:1] != ["channels"]:
            return [shape[2], shape[0], shape[1]]
    return shape


def mismatch(ck: Checkpoint, info: dict[str, Any], dataset: str) -> str | None:
    """One line naming both sides when ``ck`` cannot run on the dataset's frames, else None."""
    feats = info.get("features") or {}
    rename = ck.rename_map
    have = {rename.get(k, k): _dataset_shape(v) for k, v in feats.items()}
    want = {k: [int(s) for s in v.get("shape", [])] for k, v in ck.config["input_features"].items()}
    problems = []
    want_cams = sorted(k.removeprefix(IMAGE_PREFIX) for k in want if k.startswith(IMAGE_PREFIX))
    have_cams = sorted(k.removeprefix(IMAGE_PREFIX) for k in have if k.startswith(IMAGE_PREFIX))
    if not set(want_cams) <= set(have_cams):
        problems.append(f"checkpoint cameras {want_cams} vs dataset cameras {have_cams}")
    for key, shape in want.items():
        if key.startswith(IMAGE_PREFIX) and key.removeprefix(IMAGE_PREFIX) not in have_cams:
            continue
        if key not in have:
            problems.append(f"checkpoint input {key} vs dataset: no such feature")
        elif have[key] != shape:
            problems.append(f"checkpoint {key} {shape} vs dataset {have[key]}")
    out = (ck.config.get("output_features") or {}).get("action", {}).get("shape")
    data_action = feats.get("action", {}).get("shape")
    if out and data_action and list(out) != list(data_action):
        problems.append(f"checkpoint action {list(out)} vs dataset action {list(data_action)}")
    if not problems:
        return None
    return f"{ck.model_dir} does not fit DATASET={dataset}: " + "; ".join(problems)
