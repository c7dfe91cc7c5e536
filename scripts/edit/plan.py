"""Which rows and frames survive: every operation becomes outputs made of pieces.

A *piece* is frames ``[start, stop)`` of one episode of one source; an *output* is an ordered
list of pieces (its episodes, renumbered 0..N-1 in that order) plus the features it keeps and
the task renames. Data, video, metadata and stats only ever follow a plan, so every operation
(delete, keep, split, merge, trim, rename-task, drop-feature) shares one writer and one set of
guarantees. Everything here reads metadata only (``meta/``): planning costs milliseconds and
bad input is refused before anything is written.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from scripts.edit.errors import EditError
from scripts.episodes.select import select, spans
from scripts.episodes.table import Episode, EpisodeError, read_info
from validators.dataset_format import DEFAULT_FEATURES, TASKS_PATH, DatasetLayout, load_layout

OPS = (
    "delete",
    "keep",
    "split",
    "merge",
    "trim",
    "trim-idle",
    "fps",
    "rename-task",
    "drop-feature",
)


@dataclass
class Source:
    """A v3.0 dataset being read: its layout, its ``meta/episodes`` rows and its tasks."""

    root: Path
    layout: DatasetLayout
    episodes: list[dict[str, Any]]  # one row per episode (all columns), sorted by index
    tasks: list[str]  # by task_index

    def table(self) -> list[Episode]:
        """The episode table the shared selection syntax works on (first task, as LeRobot)."""
        return [
            Episode(int(r["episode_index"]), str((r["tasks"] or [""])[0]), int(r["length"]))
            for r in self.episodes
        ]

    @property
    def frames(self) -> int:
        return sum(int(r["length"]) for r in self.episodes)


@dataclass(frozen=True)
class Piece:
    """Frames ``start, start + step, ... < stop`` of episode ``episode`` of source ``source``
    (``step`` > 1 only for ``OP=fps``: every step-th frame, the first one kept)."""

    source: int
    episode: int
    start: int
    stop: int
    length: int  # the source episode's length
    step: int = 1

    @property
    def whole(self) -> bool:
        return self.start == 0 and self.stop == self.length and self.step == 1

    @property
    def frames(self) -> int:
        return len(range(self.start, self.stop, self.step))


@dataclass
class Output:
    """One dataset to write: ``name`` None is DST itself, else ``DST/<name>`` (split)."""

    name: str | None
    pieces: list[Piece]
    features: dict[str, dict[str, Any]]
    renames: dict[str, str] = field(default_factory=dict)
    fps: int | None = None  # the output's fps when it differs from the source's (OP=fps)

    @property
    def video_keys(self) -> list[str]:
        return [k for k, ft in self.features.items() if ft["dtype"] == "video"]


def load_source(root: Path) -> Source:
    """Read ``root``'s metadata; a missing or non-v3.0 dataset is one line naming the file."""
    try:
        read_info(root)
    except EpisodeError as exc:
        raise EditError(str(exc)) from exc
    layout = load_layout(root)
    files = sorted((root / "meta" / "episodes").glob("*/*.parquet"))
    if not files:
        raise EditError(f"{root}/meta/episodes: no parquet files (not a finished v3.0 dataset)")
    try:
        table = pa.concat_tables(pq.read_table(f) for f in files)
        tasks_table = pq.read_table(root / TASKS_PATH, columns=["task_index", "task"])
    except (OSError, pa.ArrowException) as exc:
        raise EditError(f"{root}/meta: cannot be read ({exc})") from exc
    rows = sorted(table.to_pylist(), key=lambda r: int(r["episode_index"]))
    ids, texts = tasks_table["task_index"].to_pylist(), tasks_table["task"].to_pylist()
    by_index = dict(zip(ids, texts, strict=True))
    tasks = [str(by_index[i]) for i in sorted(by_index)]
    return Source(root=root, layout=layout, episodes=rows, tasks=tasks)


def _pieces(src: Source, number: int, wanted: list[int]) -> list[Piece]:
    rows = {int(r["episode_index"]): r for r in src.episodes}
    return [Piece(number, e, 0, int(rows[e]["length"]), int(rows[e]["length"])) for e in wanted]


def _select(src: Source, spec: str | None, knob: str = "EPISODES") -> list[int]:
    if not spec:
        raise EditError(f"{knob} is required for this OP (e.g. {knob}=3,7-9)")
    try:
        return select(spec, src.table(), knob=knob)
    except EpisodeError as exc:
        raise EditError(str(exc)) from exc


def plan_delete(src: Source, spec: str | None, keep: bool = False) -> list[Output]:
    """``delete``: all but the selection; ``keep``: only it. Deleting everything is refused."""
    picked = _select(src, spec)
    every = [int(r["episode_index"]) for r in src.episodes]
    survivors = picked if keep else [e for e in every if e not in set(picked)]
    if not survivors:
        raise EditError(
            f"EPISODES={spec}: deletes every episode ({spans(every)}); nothing would be left"
        )
    return [Output(None, _pieces(src, 0, survivors), dict(src.layout.features))]


_SPLIT_NAME = re.compile(r"^([A-Za-z_][\w.-]*):(.+)$")


def parse_split(spec: str) -> list[tuple[str, str]]:
    """``train:0.9,val:0.1`` or ``train:0-7,val:8,9`` or ``val:last:10%,train:~last:10%``.

    A comma-separated token ``name:rest`` starts a split (``last:`` is a selection term, not a
    name); other tokens continue the previous split's selection.
    """
    out: list[tuple[str, str]] = []
    for token in (t.strip() for t in spec.split(",")):
        if not token:
            continue
        m = _SPLIT_NAME.match(token)
        if m and m.group(1) != "last":
            out.append((m.group(1), m.group(2)))
        elif out:
            out[-1] = (out[-1][0], f"{out[-1][1]},{token}")
        else:
            raise EditError(f"SPLIT={spec}: want name:fraction or name:episodes, e.g. train:0.9")
    names = [n for n, _ in out]
    if len(set(names)) != len(names) or not out:
        raise EditError(f"SPLIT={spec}: each split needs its own name")
    return out


def _fraction(value: str) -> Fraction | None:
    if "." not in value:
        return None
    try:
        f = Fraction(value)
    except ValueError:
        return None
    return f if 0 < f <= 1 else None


def plan_split(src: Source, spec: str | None) -> list[Output]:
    """Fractions cut the episodes in index order at ``round(N x cumulative)`` (exact decimals:
    LeRobot's ``int(N x f)`` and last-takes-the-rest miscount, #2547); lists are selections.
    Overlapping lists are refused: a frame in train and val is a leak, never what was meant."""
    if not spec:
        raise EditError("SPLIT is required for OP=split (e.g. SPLIT=train:0.9,val:0.1)")
    parts = parse_split(spec)
    every = [int(r["episode_index"]) for r in src.episodes]
    fracs = [_fraction(v) for _, v in parts]
    chosen: list[tuple[str, list[int]]] = []
    if all(f is not None for f in fracs):
        total = sum(fracs)  # type: ignore[arg-type]
        if total > 1:
            raise EditError(f"SPLIT={spec}: fractions sum to {float(total):g} > 1")
        cum = Fraction(0)
        lo = 0
        for (name, _), f in zip(parts, fracs, strict=True):
            cum += f  # type: ignore[operator]
            hi = math.floor(len(every) * cum + Fraction(1, 2))
            chosen.append((name, every[lo:hi]))
            lo = hi
    elif any(f is not None for f in fracs):
        raise EditError(f"SPLIT={spec}: mix of fractions and episode lists; use one kind")
    else:
        chosen = [(name, _select(src, value, f"SPLIT={name}")) for name, value in parts]
        seen: dict[int, str] = {}
        for name, eps in chosen:
            for e in eps:
                if e in seen:
                    both = [x for x in eps if seen.get(x) == seen[e]]
                    raise EditError(
                        f"SPLIT={spec}: splits {seen[e]} and {name} overlap "
                        f"(episodes {spans(both)})"
                    )
                seen[e] = name
    for name, eps in chosen:
        if not eps:
            raise EditError(f"SPLIT={spec}: split {name} gets no episode of {len(every)}")
    feats = dict(src.layout.features)
    return [Output(name, _pieces(src, 0, eps), feats) for name, eps in chosen]


def _feature_difference(a: Source, b: Source) -> str | None:
    """The first difference between two sources' fps or features, as a phrase; None if equal."""
    if a.layout.fps != b.layout.fps:
        return f"fps {a.layout.fps} vs {b.layout.fps}"
    fa, fb = a.layout.features, b.layout.features
    for key in list(fa) + [k for k in fb if k not in fa]:
        if key not in fb:
            return f"feature {key!r} only in {a.root}"
        if key not in fa:
            return f"feature {key!r} only in {b.root}"
        for attr in ("dtype", "shape", "names"):
            va, vb = fa[key].get(attr), fb[key].get(attr)
            if (list(va) if isinstance(va, tuple) else va) != (
                list(vb) if isinstance(vb, tuple) else vb
            ):
                return f"feature {key!r} {attr} {va} vs {vb}"
    return None


def plan_merge(sources: list[Source]) -> list[Output]:
    """Every episode of every source in order; fps and features must be identical."""
    if len(sources) < 2:
        raise EditError("DATASET: OP=merge wants two or more datasets (DATASET=a,b)")
    for other in sources[1:]:
        diff = _feature_difference(sources[0], other)
        if diff:
            raise EditError(f"DATASET: cannot merge {sources[0].root} and {other.root}: {diff}")
    pieces: list[Piece] = []
    for n, src in enumerate(sources):
        pieces += _pieces(src, n, [int(r["episode_index"]) for r in src.episodes])
    return [Output(None, pieces, dict(sources[0].layout.features))]


def _frames(value: str, fps: int, knob: str) -> int:
    """``12`` frames or ``0.5s`` seconds (rounded to whole frames)."""
    v = value.strip()
    try:
        if v.endswith("s"):
            return round(float(v[:-1]) * fps)
        n = int(v)
    except ValueError:
        raise EditError(f"{knob}={value}: want frames (12) or seconds (0.5s)") from None
    if n < 0:
        raise EditError(f"{knob}={value}: must be >= 0")
    return n


def plan_trim(src: Source, head: str, tail: str, spec: str | None) -> list[Output]:
    """Drop ``head`` frames (or seconds) at the start and ``tail`` at the end of each selected
    episode (default all); a trim that leaves an episode empty is refused, naming it."""
    fps = src.layout.fps
    h, t = _frames(head or "0", fps, "HEAD"), _frames(tail or "0", fps, "TAIL")
    if h == 0 and t == 0:
        raise EditError("OP=trim: give HEAD=frames|Ns and/or TAIL=frames|Ns")
    which = set(_select(src, spec or "all"))
    pieces = []
    for p in _pieces(src, 0, [int(r["episode_index"]) for r in src.episodes]):
        if p.episode in which:
            if h + t >= p.length:
                raise EditError(
                    f"HEAD/TAIL: trims {h + t} frames from episode {p.episode}, "
                    f"which has {p.length}"
                )
            p = Piece(p.source, p.episode, h, p.length - t, p.length)
        pieces.append(p)
    return [Output(None, pieces, dict(src.layout.features))]


def plan_rename_task(src: Source, old: str | None, new: str | None) -> list[Output]:
    """Rename one task's text everywhere; an unknown task names the ones that exist."""
    if not old or not new:
        raise EditError("OP=rename-task: give TASK='old text' NEW_TASK='new text'")
    if old not in src.tasks:
        raise EditError(f"TASK={old!r}: not a task of {src.root} (it has {src.tasks})")
    pieces = _pieces(src, 0, [int(r["episode_index"]) for r in src.episodes])
    return [Output(None, pieces, dict(src.layout.features), {old: new})]


def plan_drop_feature(src: Source, names: str | None) -> list[Output]:
    """Drop cameras or state keys; the bookkeeping columns LeRobot needs cannot go."""
    if not names:
        raise EditError("OP=drop-feature: give FEATURE=observation.images.phone[,...]")
    feats = dict(src.layout.features)
    for name in (n.strip() for n in names.split(",") if n.strip()):
        if name in DEFAULT_FEATURES:
            raise EditError(f"FEATURE={name}: LeRobot needs this column; it cannot be dropped")
        if name not in feats:
            raise EditError(f"FEATURE={name}: not a feature of {src.root} ({', '.join(feats)})")
        del feats[name]
    pieces = _pieces(src, 0, [int(r["episode_index"]) for r in src.episodes])
    return [Output(None, pieces, feats)]


def plan_trim_idle(
    src: Source, threshold: str | None, key: str | None, spec: str | None
) -> list[Output]:
    """Drop each selected episode's still head and tail (``scripts.edit.idle`` says which
    frames move); an episode that never moves is refused, naming it: delete it instead."""
    from scripts.edit.idle import still_bounds

    which = set(_select(src, spec or "all"))
    bounds = still_bounds(src, threshold, key)
    pieces = []
    for p in _pieces(src, 0, [int(r["episode_index"]) for r in src.episodes]):
        if p.episode in which:
            start, stop = bounds.spans[p.episode]
            if stop <= start:
                raise EditError(
                    f"IDLE={bounds.knob}: episode {p.episode} never moves ({bounds.key} within "
                    f"{bounds.describe()} of its first frame); delete it (OP=delete "
                    f"EPISODES={p.episode}) or lower IDLE"
                )
            p = Piece(p.source, p.episode, start, stop, p.length)
        pieces.append(p)
    return [Output(None, pieces, dict(src.layout.features))]


def plan_fps(src: Source, factor: str | None) -> list[Output]:
    """Every ``FACTOR``-th frame of every episode (the first kept), at ``fps / FACTOR``. The
    factor must divide the fps: a 30 fps dataset cannot become 7.5 fps on LeRobot's grid."""
    fps = src.layout.fps
    if not factor:
        raise EditError("OP=fps: give FACTOR=k (keep every k-th frame; k divides the fps)")
    try:
        k = int(factor)
    except ValueError:
        raise EditError(f"FACTOR={factor}: want a whole number >= 2") from None
    if k < 2:
        raise EditError(f"FACTOR={factor}: want a whole number >= 2 (1 keeps every frame)")
    if fps % k:
        divisors = [d for d in range(2, fps + 1) if fps % d == 0]
        raise EditError(
            f"FACTOR={factor}: does not divide the dataset's fps {fps} "
            f"(these do: {', '.join(map(str, divisors))})"
        )
    rows = {int(r["episode_index"]): int(r["length"]) for r in src.episodes}
    pieces = [Piece(0, e, 0, n, n, step=k) for e, n in rows.items()]
    return [Output(None, pieces, dict(src.layout.features), fps=fps // k)]
