"""The episode-selection syntax: ``EPISODES=3,7-9``, ``last:10%``, ``heldout``, ``@report.json``.

A selection is comma-separated terms; the result is the union, sorted, each index once.
A term prefixed with ``~`` removes what it selects instead (applied after all the others):

=================  ==========================================================================
``7``              episode 7
``7-9``            episodes 7, 8 and 9 (both ends included)
``all``            every episode
``last:N``         the last N episodes *of each task* (by index)
``last:P%``        the last ceil(n x P/100) episodes of each task: LeRobot 0.6.1's eval_split
                   rule, so ``last:10%`` is what ``--dataset.eval_split=0.1`` holds out
``heldout``        the episodes a training run held out (its train_config.json's
                   dataset.eval_split and dataset.episodes, LeRobot's rule); needs a run
``@FILE.json``     the episodes a report names: a validator report (``make validate
                   REPORT=``; every finding's ``episode``), an eval report (its
                   checkpoints' ``episodes``), or a plain JSON list of indices
``~TERM``          drop what TERM selects, e.g. ``all,~@report.json`` (all but flagged ones)
=================  ==========================================================================

An index that is not in the dataset is an error (one line, naming the knob and what exists),
never silently skipped: a typo must not shrink an evaluation or an edit unnoticed.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from scripts.episodes.table import Episode, EpisodeError

_RANGE = re.compile(r"^(\d+)-(\d+)$")
_LAST = re.compile(r"^last:(\d+(?:\.\d+)?)(%?)$")


def spans(indices: Sequence[int]) -> str:
    """``[0, 1, 2, 5]`` -> ``"0-2,5"``: how errors and logs name a set of episodes."""
    out: list[str] = []
    idx = sorted(set(indices))
    i = 0
    while i < len(idx):
        j = i
        while j + 1 < len(idx) and idx[j + 1] == idx[j] + 1:
            j += 1
        out.append(str(idx[i]) if i == j else f"{idx[i]}-{idx[j]}")
        i = j + 1
    return ",".join(out) or "none"


def by_task(episodes: Sequence[Episode], base: Sequence[int] | None = None) -> list[list[int]]:
    """Episode indices grouped by first task, groups in order of first appearance (LeRobot's)."""
    wanted = None if base is None else list(base)
    by_index = {e.index: e for e in episodes}
    order = wanted if wanted is not None else [e.index for e in episodes]
    groups: dict[str, list[int]] = {}
    for i in order:
        groups.setdefault(by_index[i].task, []).append(i)
    return list(groups.values())


def last_per_task(
    episodes: Sequence[Episode],
    count: int | None = None,
    fraction: float | None = None,
    base: Sequence[int] | None = None,
) -> list[int]:
    """The last ``count`` (or ceil(n x fraction)) episodes of each task, like LeRobot's split."""
    out: list[int] = []
    for eps in by_task(episodes, base):
        n = count if count is not None else math.ceil(len(eps) * float(fraction or 0.0))
        out.extend(eps[len(eps) - min(n, len(eps)) :] if n > 0 else [])
    return sorted(out)


def heldout_of(train_config: dict[str, Any], episodes: Sequence[Episode], where: str) -> list[int]:
    """What a run held out: LeRobot's ``make_train_eval_datasets`` rule on its train config."""
    ds = train_config.get("dataset") or {}
    split = float(ds.get("eval_split") or 0.0)
    if split <= 0.0:
        raise EpisodeError(
            f"EPISODES=heldout: {where} held out nothing (dataset.eval_split is 0); "
            "name episodes, e.g. EPISODES=last:10%"
        )
    base = ds.get("episodes")
    if base is not None:
        check_exist([int(b) for b in base], episodes, f"{where} dataset.episodes")
    return last_per_task(episodes, fraction=split, base=base)


def from_report(path: Path) -> list[int]:
    """The episodes a JSON report names (validator report, eval report, or a list)."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError as e:
        raise EpisodeError(f"EPISODES=@{path}: no such file") from e
    except (OSError, json.JSONDecodeError) as e:
        raise EpisodeError(f"EPISODES=@{path}: cannot be read as JSON ({e})") from e
    if isinstance(data, list) and all(isinstance(i, int) for i in data):
        return sorted(set(data))
    if isinstance(data, dict) and isinstance(data.get("findings"), list):
        return sorted({f["episode"] for f in data["findings"] if f.get("episode") is not None})
    if isinstance(data, dict) and isinstance(data.get("checkpoints"), list):
        return sorted({int(i) for c in data["checkpoints"] for i in c.get("episodes", [])})
    raise EpisodeError(
        f"EPISODES=@{path}: not a validator report (findings), an eval report (checkpoints) "
        "or a JSON list of episode indices"
    )


def check_exist(wanted: Sequence[int], episodes: Sequence[Episode], knob: str) -> None:
    """Refuse indices the dataset does not have, naming them and what exists."""
    have = {e.index for e in episodes}
    missing = sorted(set(wanted) - have)
    if missing:
        word = "episode" if len(missing) == 1 else "episodes"
        raise EpisodeError(
            f"{knob}: {word} {spans(missing)} not in the dataset (it has {spans(sorted(have))})"
        )


def _term(
    term: str,
    episodes: Sequence[Episode],
    knob: str,
    heldout: Callable[[], list[int]] | None,
) -> list[int]:
    if term == "all":
        return [e.index for e in episodes]
    if term == "heldout":
        if heldout is None:
            raise EpisodeError(
                f"{knob}=heldout: no training run here to read the held-out set from"
            )
        return heldout()
    if term.startswith("@"):
        picked = from_report(Path(term[1:]))
        check_exist(picked, episodes, f"{knob}={term}")
        return picked
    if m := _LAST.match(term):
        value, pct = float(m.group(1)), m.group(2)
        if pct:
            if not 0 < value <= 100:
                raise EpisodeError(f"{knob}={term}: a percentage must be in (0, 100]")
            return last_per_task(episodes, fraction=value / 100)
        if not value.is_integer() or value < 1:
            raise EpisodeError(f"{knob}={term}: last:N wants a whole number >= 1")
        return last_per_task(episodes, count=int(value))
    if m := _RANGE.match(term):
        lo, hi = int(m.group(1)), int(m.group(2))
        if lo > hi:
            raise EpisodeError(f"{knob}={term}: range runs backwards (want {hi}-{lo})")
        picked = list(range(lo, hi + 1))
    elif term.isdigit():
        picked = [int(term)]
    else:
        raise EpisodeError(
            f"{knob}: cannot read {term!r} (want N, A-B, all, last:N, last:P%, heldout, "
            "@report.json, ~TERM)"
        )
    check_exist(picked, episodes, f"{knob}={term}")
    return picked


def select(
    spec: str,
    episodes: Sequence[Episode],
    *,
    knob: str = "EPISODES",
    heldout: Callable[[], list[int]] | None = None,
) -> list[int]:
    """The sorted episode indices ``spec`` names in ``episodes``; ``EpisodeError`` if not.

    ``heldout`` is called only for the ``heldout`` term (give ``lambda: heldout_of(...)``).
    An empty result is an error too: nothing to work on is never what a user meant.
    """
    terms = [t.strip() for t in spec.split(",") if t.strip()]
    if not terms:
        raise EpisodeError(f"{knob} is empty")
    keep: set[int] = set()
    drop: set[int] = set()
    for t in terms:
        if t.startswith("~"):
            drop.update(_term(t[1:].strip(), episodes, knob, heldout))
        else:
            keep.update(_term(t, episodes, knob, heldout))
    if not any(not t.startswith("~") for t in terms):
        keep = {e.index for e in episodes}
    out = sorted(keep - drop)
    if not out:
        raise EpisodeError(f"{knob}={spec}: selects no episode")
    return out
