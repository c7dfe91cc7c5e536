"""Arguments derived from the dataset at launch, so nobody hand-edits them per robot.

Why: the users' runs failed on ``--dataset.repo_id=None``, on GR2's 45-d state meeting
SmolVLA's ``max_state_dim=32``, and on camera names that differ between a dataset and a
pretrained policy. Each of these is a fact about the dataset, read from ``meta/info.json``.
"""

from __future__ import annotations

import re
from typing import Any

from scripts.train.preflight import EXIT_DATASET, DatasetFacts, PreflightError

PADDED_POLICIES = ("smolvla", "pi0", "pi05")  # pad state/action to max_*_dim
DEFAULT_MAX_DIM = 32
LANGUAGE_POLICIES = ("smolvla", "pi0", "pi05")


def repo_id_for(facts: DatasetFacts) -> str:
    """A non-empty repo id LeRobot accepts (it only names the dataset; nothing is fetched)."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", facts.root.resolve().name) or "dataset"
    return f"local/{name}"


def dims(
    facts: DatasetFacts, flat: dict[str, Any], policy: str, pretrained: dict[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """Raise max_state_dim/max_action_dim to the dataset's dims when it exceeds them.

    A pretrained checkpoint's projections have a fixed width: a bigger robot cannot load them,
    so that case is a preflight failure with the fix, not a crash ten minutes in.
    """
    if policy not in PADDED_POLICIES:
        return {}, []
    updates: dict[str, Any] = {}
    notes: list[str] = []
    for what, have in (("state", facts.state_dim), ("action", facts.action_dim)):
        knob = f"policy.max_{what}_dim"
        limit = flat.get(knob, pretrained.get(f"max_{what}_dim", DEFAULT_MAX_DIM))
        if have is None or have <= int(limit):
            continue
        if pretrained and knob not in flat:
            raise PreflightError(
                EXIT_DATASET,
                f"dataset {what} is {have}-d but the pretrained policy {flat.get('policy.path')} "
                f"was trained with max_{what}_dim={limit}: its projections cannot load; train "
                f"from the VLM instead: "
                f"ARGS='--policy.type={policy} --policy.load_vlm_weights=true'",
            )
        updates[knob] = have
        notes.append(f"{knob} raised {limit} -> {have} (dataset {what} is {have}-d)")
    return updates, notes


def rename_map(
    facts: DatasetFacts, flat: dict[str, Any], pretrained: dict[str, Any]
) -> tuple[dict[str, str], list[str]]:
    """Map dataset camera keys onto a pretrained policy's, in order, when the names differ."""
    if not pretrained or "rename_map" in flat:
        return {}, []
    feats = pretrained.get("input_features") or {}
    policy_cams = [k for k, ft in feats.items() if str(ft.get("type", "")).upper() == "VISUAL"]
    data_cams = list(facts.camera_keys)
    if not policy_cams or set(policy_cams) == set(data_cams):
        return {}, []
    missing_in_data = [k for k in data_cams if k not in policy_cams]
    free_targets = [k for k in policy_cams if k not in data_cams]
    if len(missing_in_data) > len(free_targets):
        raise PreflightError(
            EXIT_DATASET,
            f"dataset has {len(data_cams)} cameras ({', '.join(data_cams)}) but the pretrained "
            f"policy takes {len(policy_cams)} ({', '.join(policy_cams)}): pass "
            "ARGS='--rename_map={...}' mapping the ones to use, or train from scratch",
        )
    mapping = dict(zip(missing_in_data, free_targets, strict=False))
    notes = [f"camera {src} -> {dst}" for src, dst in mapping.items()]
    return mapping, notes


def task_text(facts: DatasetFacts, policy: str) -> None:
    """Language-conditioned policies need task text; LeRobot 0.6.1 has no --dataset.single_task."""
    if policy not in LANGUAGE_POLICIES:
        return
    if not facts.tasks or any(not t.strip() or t.strip().isdigit() for t in facts.tasks):
        raise PreflightError(
            EXIT_DATASET,
            f"DATASET={facts.root}: meta/tasks.parquet has no task text ({facts.tasks[:3]}); "
            f"{policy} is language-conditioned and lerobot-train 0.6.1 has no "
            "--dataset.single_task: write the instruction into the tasks when converting",
        )
