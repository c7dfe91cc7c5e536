"""Everything decided before a frame is decoded: checkpoints, dataset, episodes, outputs.

Pure Python (json, pyarrow): the launcher makes the plan in the tools env, so every bad input
is refused in about a second with one line, and the policy env makes it again (cheap) rather
than trusting a serialised copy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scripts.episodes.select import heldout_of, select, spans
from scripts.episodes.table import Episode, EpisodeError, read_episodes, read_info
from scripts.eval.checkpoints import Checkpoint, CheckpointError, resolve_all
from scripts.eval.features import action_names, mismatch
from scripts.eval.legacy import note as legacy_note
from scripts.report.atomic import ReportError, output_problem

DEFAULT_EPISODES = "last:10%"
MEMORISATION = (
    "the run held out no episodes, so these may be training episodes: the numbers then "
    "measure memorisation, not how the policy does on new episodes"
)


@dataclass
class Plan:
    """What ``make eval`` will do."""

    checkpoints: list[Checkpoint]
    dataset: Path
    info: dict[str, Any]
    episodes: list[int]
    episodes_source: str  # "heldout" | "user" | "default"
    episodes_spec: str
    names: list[str]
    notes: list[str] = field(default_factory=list)


def _heldout(cks: list[Checkpoint], table: list[Episode]) -> list[int]:
    """The held-out set all checkpoints agree on (EPISODES=heldout)."""
    sets = {}
    for ck in cks:
        if ck.train_config is None:
            raise EpisodeError(f"EPISODES=heldout: {ck.model_dir} has no train_config.json")
        sets[ck.given] = heldout_of(ck.train_config, table, f"{ck.model_dir}/train_config.json")
    distinct = {tuple(v) for v in sets.values()}
    if len(distinct) > 1:
        which = "; ".join(f"{k}: {spans(v)}" for k, v in sets.items())
        raise EpisodeError(
            f"EPISODES=heldout: the checkpoints held out different episodes ({which}); "
            "name the episodes to compare them on"
        )
    return next(iter(sets.values()))


def _held_out_something(ck: Checkpoint) -> bool:
    return float(((ck.train_config or {}).get("dataset") or {}).get("eval_split") or 0.0) > 0


def make_plan(
    checkpoint: str,
    dataset: Path,
    episodes: str | None = None,
    step: int | None = None,
    outputs: dict[str, Path | None] | None = None,
    migrated: dict[str, str] | None = None,
) -> Plan:
    """Resolve and check every input; raises one-line errors (Checkpoint/Episode/Report).

    ``migrated`` ({given: folder}, from the launcher) evaluates an old-layout checkpoint's
    migrated copy under its given name, with a note saying so (scripts/eval/legacy.py).
    """
    for knob, path in (outputs or {}).items():
        if path is not None and (problem := output_problem(path, knob)):
            raise ReportError(problem)
    cks = resolve_all(checkpoint, step, migrated)
    info = read_info(dataset)
    table = read_episodes(dataset)
    notes: list[str] = [legacy_note(g, Path(d)) for g, d in (migrated or {}).items()]
    for ck in cks:
        if problem := mismatch(ck, info, str(dataset)):
            raise CheckpointError(problem)
    held = all(_held_out_something(ck) for ck in cks)
    if episodes:
        chosen = select(episodes, table, heldout=lambda: _heldout(cks, table))
        source = "heldout" if episodes.strip() == "heldout" else "user"
        if not held and source == "user":
            notes.append(MEMORISATION)
    elif held:
        chosen, source, episodes = _heldout(cks, table), "heldout", "heldout"
        split = cks[0].train_config["dataset"]["eval_split"]  # type: ignore[index]
        notes.append(f"episodes {spans(chosen)}: held out by the run (eval_split {split})")
    else:
        chosen = select(DEFAULT_EPISODES, table)
        source, episodes = "default", DEFAULT_EPISODES
        notes.append(
            f"{MEMORISATION}; no EPISODES given, so the last 10 % of each task's episodes "
            f"({spans(chosen)}) are used"
        )
    for ck in cks:
        root = ((ck.train_config or {}).get("dataset") or {}).get("root")
        if source == "heldout" and root and Path(root).resolve() != Path(dataset).resolve():
            notes.append(
                f"{ck.given} was trained on {root}; its held-out indices are applied to {dataset}"
            )
    return Plan(cks, Path(dataset), info, chosen, source, episodes, action_names(info), notes)
