"""Hold-out for ``make train``: ``HOLDOUT`` (LeRobot's ``--dataset.eval_split``), ``EVAL_EVERY``.

Why: a loss measured on the training episodes says nothing about new ones, and ``make eval``
can only score a checkpoint fairly on episodes it never trained on. LeRobot 0.6.1 holds out
the last ceil(n x split) episodes *of each task* (``datasets/factory.py``) and, every
``eval_steps``, logs ``eval_loss`` on them; its train_config.json records the split, so
``make eval`` finds the same episodes later (``scripts/episodes/select.py`` ``heldout``).

The rule (one place, said in one preflight line):

- ``HOLDOUT=x`` (or ``ARGS='--dataset.eval_split=x'``) is honoured as given, x in [0, 0.5);
  refused if some task would keep no training episode (ceil rounds a 1-episode task away).
- Otherwise the recipe's ``ops.holdout`` (every GPU recipe: 0.1) applies only when every task
  has at least ``MIN_PER_TASK`` = 10 episodes: then each task holds out >= 1 and keeps >= 9.
  A smaller dataset trains on everything; taking 1 of 4 episodes away costs more than the
  eval loss tells.
- ``HOLDOUT=0`` turns it off. ``EVAL_EVERY=N`` (``--eval_steps``) defaults to the recipe's
  ``save_freq``: one eval loss per checkpoint, the points ``make eval`` would rank.

``--max_eval_samples`` is left at LeRobot's 0 (all held-out frames): its subset is the first
N/tasks frames of each task's held-out episodes, the starts of episodes only, so a capped
eval loss is biased; pass it in ``ARGS`` when a held-out pass is too slow.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scripts.episodes.select import by_task, last_per_task, spans
from scripts.episodes.table import Episode

MIN_PER_TASK = 10
MAX_SPLIT = 0.5


class HoldoutError(ValueError):
    """A hold-out knob is out of range or cannot work on this dataset; one line naming it."""


@dataclass(frozen=True)
class Decision:
    """What the launcher passes (``updates``) and the one line it prints (``note``)."""

    split: float
    eval_every: int | None
    heldout: list[int] = field(default_factory=list)
    note: str = ""
    updates: dict[str, Any] = field(default_factory=dict)


def parse_holdout(text: str | None, knob: str = "HOLDOUT") -> float | None:
    """``"0.1"`` -> 0.1; None when unset; a value outside [0, 0.5) is refused."""
    if text is None or str(text).strip() == "":
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (0.0 <= value < MAX_SPLIT):
        raise HoldoutError(
            f"{knob}={text}: a fraction of each task's episodes in [0, {MAX_SPLIT}), "
            "e.g. HOLDOUT=0.1 (HOLDOUT=0 turns hold-out off)"
        )
    return value


def parse_eval_every(text: str | None) -> int | None:
    """``"500"`` -> 500; None when unset; anything but an integer >= 1 is refused."""
    if text is None or str(text).strip() == "":
        return None
    s = str(text).strip()
    if not s.isdigit() or int(s) < 1:
        raise HoldoutError(
            f"EVAL_EVERY={text}: an integer >= 1 (training steps between eval-loss passes)"
        )
    return int(s)


def _split_of(config: dict[str, Any]) -> float:
    return float((config.get("dataset") or {}).get("eval_split") or 0.0)


def _default_every(flat: dict[str, Any]) -> int:
    steps = int(flat.get("steps") or 100_000)
    save = int(flat.get("save_freq") or 0)
    return min(save, steps) if save > 0 else steps


def decide(
    *,
    recipe: str,
    recipe_default: float | None,
    holdout: float | None,
    eval_every: int | None,
    flat: dict[str, Any],
    episodes: list[Episode],
    resumed_config: dict[str, Any] | None = None,
) -> Decision:
    """The split and eval cadence for this launch, by the rule in the module docstring."""
    from_args = flat.get("dataset.eval_split")
    if from_args is not None:
        args_split = parse_holdout(str(from_args), "ARGS --dataset.eval_split")
        if holdout is not None and args_split != holdout:
            raise HoldoutError(
                f"HOLDOUT={holdout} and ARGS --dataset.eval_split={from_args} disagree: "
                "give one of them"
            )
        holdout = args_split
    every_args = flat.get("eval_steps")
    if eval_every is None and every_args not in (None, 0):
        eval_every = parse_eval_every(str(every_args))

    if resumed_config is not None:  # the split is the run's: changing it mid-run mixes sets
        split = _split_of(resumed_config)
        if holdout is not None and holdout != split:
            raise HoldoutError(
                f"HOLDOUT={holdout}: this run was started with eval_split {split}; a resumed "
                "run keeps its split (pick another OUT to train with a new one)"
            )
        why = f"as the run started (eval_split {split})"
    else:
        split, why = _fresh_split(recipe, recipe_default, holdout, flat, episodes)

    if split <= 0.0:
        if eval_every is not None:
            raise HoldoutError(
                f"EVAL_EVERY={eval_every}: no episodes are held out ({why}), so there is no "
                "eval loss to compute: add HOLDOUT=0.1 or drop EVAL_EVERY"
            )
        return Decision(0.0, None, note=f"hold-out: off ({why})")

    base = flat.get("dataset.episodes")
    if resumed_config is not None:
        base = (resumed_config.get("dataset") or {}).get("episodes")
    held = last_per_task(episodes, fraction=split, base=base)
    every = eval_every or int(
        (resumed_config or {}).get("eval_steps") or flat.get("eval_steps") or 0
    )
    every = every or _default_every(flat)
    updates: dict[str, Any] = {"eval_steps": every}
    if resumed_config is None:
        updates["dataset.eval_split"] = split
    n_all = len(base) if base is not None else len(episodes)
    note = (
        f"hold-out: {len(held)} of {n_all} episodes ({spans(held)}; the last ceil(n x {split:g}) "
        f"of each task, {why}), eval loss every {every} steps"
    )
    return Decision(split, every, held, note, updates)


def _fresh_split(
    recipe: str,
    recipe_default: float | None,
    holdout: float | None,
    flat: dict[str, Any],
    episodes: list[Episode],
) -> tuple[float, str]:
    """(split, why) for a fresh run; raises when an explicit split starves a task."""
    base = flat.get("dataset.episodes")
    groups = by_task(episodes, base)
    if not groups:
        return 0.0, "the dataset has no episodes"
    task_of = {e.index: e.task for e in episodes}
    if holdout is not None:
        if holdout == 0.0:
            return 0.0, "HOLDOUT=0"
        for eps in groups:
            n_eval = math.ceil(len(eps) * holdout)
            if n_eval >= len(eps):
                raise HoldoutError(
                    f"HOLDOUT={holdout:g}: task {task_of[eps[0]]!r} has {len(eps)} episode(s); "
                    f"holding out ceil({len(eps)} x {holdout:g}) = {n_eval} leaves it none to "
                    "train on: lower HOLDOUT or record more episodes of it"
                )
        return holdout, f"HOLDOUT={holdout:g}"
    if not recipe_default:
        return 0.0, f"recipe {recipe} holds out nothing by default; HOLDOUT=0.1 turns it on"
    fewest = min(groups, key=len)
    if len(fewest) < MIN_PER_TASK:
        return 0.0, (
            f"task {task_of[fewest[0]]!r} has {len(fewest)} episode(s); recipe {recipe}'s "
            f"{recipe_default:g} applies when every task has >= {MIN_PER_TASK}; "
            f"HOLDOUT={recipe_default:g} forces it"
        )
    return float(recipe_default), f"recipe {recipe}'s default"


def recipe_default(ops: dict[str, Any], path: Path) -> float | None:
    """A recipe's ``ops.holdout``, checked like the knob (the message names the file)."""
    value = ops.get("holdout")
    if value is None:
        return None
    return parse_holdout(str(value), f"{path}: ops.holdout")


def resumed_config(config_file: Path) -> dict[str, Any] | None:
    """The train_config.json a resume will use (None when it cannot be read)."""
    try:
        return json.loads(config_file.read_text())
    except (OSError, ValueError):
        return None
