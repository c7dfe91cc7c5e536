"""``make repair DATASET=dir``: a loadable v3.0 dataset of every complete episode after a crash.

What a kill of ``make record`` can leave (``writer`` keeps it to the episode being written):
a data or ``meta/episodes`` parquet without its footer, an episode whose files are there but
whose ``meta/episodes`` row is not, a truncated or missing video, a half-written
``info.json`` or ``stats.json``, the streaming encoder's temp folders. Repair:

1. reads each episode in order from its ``meta/episodes`` row and checks its files: the data
   file opens (footer) and holds exactly that episode's rows at its frame range, each video's
   sample table has ``length`` frames inside the file (``validators.mp4_index``), and, when
   the journal has the episode, every file hashes to what the journal recorded at save time;
   the first episode failing any of it and all after it are dropped (numbering must stay
   gapless: data files carry the global frame ``index``);
2. builds the new dataset in a temp folder beside DST: the kept episodes' data and video
   files cloned byte for byte (reflink, else copy: ``scripts.fix_stats.clone``), their
   ``meta/episodes`` files, ``tasks.parquet`` and ``info.json`` (totals, splits) rewritten
   with the converter's metadata writers, exact float64 stats (``scripts.fix_stats``), the
   marker, journal and tick files of the kept episodes;
   With ``--salvage`` (``make repair SALVAGE=1``) the interrupted episode right after them
   is kept too, as far as its frames are complete (``salvage``: its row log and the decodable
   pictures of its streaming mp4s; its videos re-encoded, every other file still a copy);
3. validates it (``validators``) and renames it to DST (default ``<DATASET>_repaired``), or
   with ``--in-place`` renames DATASET aside to ``<DATASET>.orig-<time>`` (kept) and the new
   one into its place. DATASET's files are only read.

Afterwards ``make record RESUME=1 DATASET=<the repaired one>`` numbers the next episode
``len(kept)``: no gap, no duplicate. Runs in the tools env (pyarrow, no LeRobot).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from scripts.convert import publish
from scripts.convert.errors import ConversionError
from scripts.convert.metadata import write_info, write_tasks
from scripts.fix_stats.clone import Cloner
from scripts.fix_stats.recompute import numeric_features, recompute
from scripts.fix_stats.rewrite import rewrite_episodes, write_stats_json
from scripts.session import journal
from validators.dataset_format import load_layout
from validators.mp4_index import read_video_index


class RepairError(Exception):
    """One line: ``<file or knob>: <what>``; exit 1 (2 for a bad DATASET/DST)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def log(msg: str) -> None:
    print(f"repair: {msg}", file=sys.stderr, flush=True)


@dataclass
class Scan:
    """What the damaged dataset holds."""

    info: dict
    kept: list[dict] = field(default_factory=list)  # meta/episodes rows, in order
    files: dict[int, list[str]] = field(default_factory=dict)  # episode -> data + video files
    meta_files: dict[int, str] = field(default_factory=dict)  # episode -> its episodes file
    dropped: list[str] = field(default_factory=list)  # one line per dropped thing
    salvaged: dict | None = None  # SALVAGE=1: the interrupted episode's kept frames


def read_info(root: Path) -> tuple[dict, str]:
    """meta/info.json, else the journal's snapshot of it; (info, which one)."""
    for rel in ("meta/info.json", journal.INFO_SNAPSHOT):
        try:
            info = json.loads((root / rel).read_text())
            if isinstance(info, dict) and "features" in info:
                return info, str(rel)
        except (OSError, ValueError):
            continue
    raise RepairError(f"{root}/meta/info.json: unreadable and no snapshot in {journal.SIDE}")


def episode_rows(root: Path, dropped: list[str]) -> dict[int, tuple[dict, str]]:
    """Every readable meta/episodes row: episode -> (row, its file)."""
    out: dict[int, tuple[dict, str]] = {}
    for path in sorted((root / "meta" / "episodes").glob("chunk-*/file-*.parquet")):
        rel = path.relative_to(root).as_posix()
        try:
            table = pq.read_table(path)
        except (OSError, pa.ArrowException):
            dropped.append(f"{rel}: unreadable (no parquet footer: written when killed)")
            continue
        for row in table.to_pylist():
            out[int(row["episode_index"])] = (row, rel)
    return out


def check_episode(
    root: Path, info: dict, row: dict, committed: dict | None
) -> tuple[list[str], str | None]:
    """(the episode's data + video files, None) or (files, why it is not complete)."""
    e, length = int(row["episode_index"]), int(row["length"])
    data = info["data_path"].format(
        chunk_index=row["data/chunk_index"], file_index=row["data/file_index"]
    )
    files = [data]
    try:
        table = pq.read_table(root / data, columns=["episode_index", "index"])
    except (OSError, pa.ArrowException):
        return files, f"{data}: unreadable (no footer: killed while it was written)"
    eps = set(table.column("episode_index").to_pylist())
    index = table.column("index").to_pylist()
    if eps != {e} or len(index) != length:
        return (
            files,
            f"{data}: holds episodes {sorted(eps)}, {len(index)} rows (want episode {e}, {length})",
        )
    if index and (
        index[0] != row["dataset_from_index"] or index[-1] != row["dataset_to_index"] - 1
    ):
        return files, f"{data}: frame index {index[0]}..{index[-1]} does not match its metadata"
    for key, ft in info["features"].items():
        if ft.get("dtype") != "video":
            continue
        rel = info["video_path"].format(
            video_key=key,
            chunk_index=row[f"videos/{key}/chunk_index"],
            file_index=row[f"videos/{key}/file_index"],
        )
        files.append(rel)
        if not (root / rel).is_file():
            return files, f"{rel}: missing"
        idx = read_video_index(root / rel)
        if idx is None or idx.data_end > idx.file_size:
            return files, f"{rel}: truncated or unreadable (no complete sample table)"
        if idx.samples != length:
            return files, f"{rel}: {idx.samples} frames, the episode has {length}"
    if committed is not None:
        for rel in files:
            want = committed.get("files", {}).get(rel)
            if want is not None and journal.sha256(root / rel) != want:
                return files, f"{rel}: differs from what was saved (sha256)"
    return files, None


def scan(root: Path) -> Scan:
    """Which episodes are complete (the longest gapless prefix)."""
    info, source = read_info(root)
    s = Scan(info=info)
    if source != "meta/info.json":
        s.dropped.append(f"meta/info.json: unreadable; rebuilt from {source}")
    rows = episode_rows(root, s.dropped)
    committed = {r["episode_index"]: r for r in journal.read(root)}
    e = 0
    while e in rows:
        row, meta_file = rows[e]
        files, why = check_episode(root, info, row, committed.get(e))
        if why:
            s.dropped.append(f"episode {e}: {why}")
            break
        s.kept.append(row)
        s.files[e] = files
        s.meta_files[e] = meta_file
        e += 1
    later = sorted(set(rows) - set(s.files) - {e})
    if later:
        s.dropped.append(
            f"episodes {later}: after the first incomplete one (numbering stays gapless)"
        )
    for c in sorted(set(committed) - set(rows)):
        s.dropped.append(f"episode {c}: in the journal but its meta/episodes row is unreadable")
    uncommitted = [k for k in s.files if k not in committed]
    if uncommitted:
        s.dropped.append(f"note: episodes {uncommitted} were complete but not yet journaled: kept")
    return s


def read_tasks(root: Path, kept: list[dict]) -> list[str]:
    """The task texts by task_index, as far as the kept episodes use them."""
    try:
        table = pq.read_table(root / "meta/tasks.parquet")
        names = [c for c in table.column_names if c != "task_index"]
        order = table.column("task_index").to_pylist()
        texts = table.column(names[0]).to_pylist()
        tasks = [t for _, t in sorted(zip(order, texts, strict=True))]
    except (OSError, pa.ArrowException, IndexError, KeyError):
        tasks = []
        for row in kept:  # first appearance order = the recorder's task_index order
            for t in row["tasks"]:
                if t not in tasks:
                    tasks.append(t)
    return tasks


def salvage_partial(root: Path, tmp: Path, s: Scan, tasks: list[str]) -> None:
    """SALVAGE=1: the interrupted episode's complete frames as one more episode (``salvage``)."""
    from scripts.session import salvage

    e = len(s.kept)
    taken = {rel for files in s.files.values() for rel in files}
    part = salvage.find(root, s.info, e, taken)
    if part.frames < 2:
        why = part.why_not or f"{part.frames} complete frame(s) ({len(part.rows)} rows, "
        why += "" if part.why_not else f"pictures {[len(p) for p in part.pictures.values()]})"
        if not s.kept:
            raise RepairError(f"DATASET={root}: no complete episode, and salvage: {why}")
        s.dropped.append(f"note: salvage: episode {e}: nothing to keep: {why}")
        return
    row, files, meta_rel = salvage.write(part, s.info, tmp, s.kept, tasks)
    s.kept.append(row)
    s.files[e] = files
    s.meta_files[e] = meta_rel
    s.salvaged = {"episode_index": e, "frames": part.frames, "rows": len(part.rows),
                  "pictures": {k: len(v) for k, v in part.pictures.items()},
                  "t": [r["t"] for r in part.rows[: part.frames]]}  # fmt: skip
    s.dropped = [d for d in s.dropped if not d.startswith(f"episode {e}:")]
    s.dropped.append(
        f"note: salvage: episode {e}: kept its {part.frames} complete frames of "
        f"{len(part.rows)} rows logged (videos re-encoded from the decoded pictures)"
    )


def build(root: Path, tmp: Path, s: Scan, salvage: bool = False) -> None:
    """The repaired dataset in ``tmp`` (see the module docstring, step 2)."""
    cloner = Cloner()
    for e, files in s.files.items():
        for rel in [*files, s.meta_files[e]]:
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            cloner.put(root / rel, tmp / rel)
    tasks = read_tasks(root, s.kept)
    if salvage:
        salvage_partial(root, tmp, s, tasks)
    n_frames = sum(int(r["length"]) for r in s.kept)
    used = set()
    for files in s.files.values():
        used |= set(
            pq.read_table(tmp / files[0], columns=["task_index"]).column("task_index").to_pylist()
        )
    tasks = tasks[: max(used) + 1] if used else tasks
    if used and max(used) >= len(tasks):
        raise RepairError(f"{root}/meta/tasks.parquet: task_index {max(used)} has no task text")
    write_tasks(tasks, tmp)
    info = dict(s.info)
    info.update(total_episodes=len(s.kept), total_frames=n_frames, total_tasks=len(tasks))
    info["splits"] = {"train": f"0:{len(s.kept)}"}
    write_info(info, tmp)
    if (root / "meta/stats.json").is_file():
        try:
            json.loads((root / "meta/stats.json").read_text())
            shutil.copyfile(root / "meta/stats.json", tmp / "meta/stats.json")
        except ValueError:
            pass
    layout = load_layout(tmp)
    fresh = recompute(layout, numeric_features(layout))
    rewrite_episodes(tmp, tmp, fresh)
    write_stats_json(tmp, tmp, list(layout.features))
    marker = journal.read_marker(root) or {}
    (tmp / journal.MARKER).write_text(
        json.dumps({**marker, "repaired_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}, indent=2) + "\n"
    )
    journal.write_journal(tmp, journal_records(root, tmp, s))
    for e in s.files:
        src = journal.ticks_path(root, e)
        if src.is_file():
            dst = journal.ticks_path(tmp, e)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
    shutil.copyfile(tmp / "meta/info.json", tmp / journal.INFO_SNAPSHOT)


def journal_records(root: Path, tmp: Path, s: Scan) -> list[dict]:
    """The kept episodes' journal lines; one rebuilt for a complete episode the kill caught
    between its last fsync and its journal line (hashes of its files, timing from its ticks)."""
    from scripts.session.clock import summarize

    committed = {r["episode_index"]: r for r in journal.read(root)}
    fps = int(s.info["fps"])
    out = []
    for row in s.kept:
        e = int(row["episode_index"])
        if e in committed:
            out.append(committed[e])
            continue
        periods = journal.read_ticks(root, e)
        if s.salvaged and s.salvaged["episode_index"] == e:  # tick starts from its row log
            t = s.salvaged["t"]
            periods = [b - a for a, b in itertools.pairwise(t)]
        missed = sum(max(0, round(p * fps) - 1) for p in periods)
        out.append(
            {
                "episode_index": e,
                "length": int(row["length"]),
                "dataset_from_index": int(row["dataset_from_index"]),
                "dataset_to_index": int(row["dataset_to_index"]),
                "tasks": list(row["tasks"]),
                "files": {rel: journal.sha256(tmp / rel) for rel in s.files[e]},
                "timing": summarize(periods, fps, int(row["length"]), missed),
                "save_s": 0.0,
                "rebuilt_by_repair": True,
                **({"salvaged": True} if s.salvaged and s.salvaged["episode_index"] == e else {}),
            }
        )
        if out[-1].get("salvaged"):
            journal.write_ticks(tmp, e, periods)
    return out


def repair(
    root: Path, dst: Path | None, in_place: bool, salvage: bool = False
) -> tuple[Path, Scan]:
    root = Path(os.path.abspath(root))
    if not root.is_dir():
        raise RepairError(f"DATASET={root}: no such folder", 2)
    if journal.read_marker(root) is None:
        raise RepairError(
            f"DATASET={root}: not a recording of this toolkit (no {journal.MARKER}); make repair "
            "rebuilds what make record wrote and leaves other folders alone", 2,
        )  # fmt: skip
    target = (
        root if in_place else Path(os.path.abspath(dst or root.parent / f"{root.name}_repaired"))
    )
    if not in_place and (target.exists() or target.is_symlink()):
        raise RepairError(
            f"DST={target}: already exists; choose another DST=... (nothing is replaced)", 2
        )
    if not in_place and (root in target.parents or target == root):
        raise RepairError(f"DST={target}: must be outside DATASET", 2)
    s = scan(root)
    if not s.kept and not salvage:
        raise RepairError(
            f"DATASET={root}: no complete episode to keep ({'; '.join(s.dropped) or 'none saved'})"
        )
    try:
        tmp = publish.make_temp(target)
    except ConversionError as exc:
        raise RepairError(f"{exc.file}: {exc.message}", 2) from exc
    try:
        build(root, tmp, s, salvage)
        if not s.kept:
            raise RepairError(
                f"DATASET={root}: no complete episode and nothing to salvage "
                f"({'; '.join(s.dropped) or 'none saved'})"
            )
        from validators.runner import validate_dataset

        result = validate_dataset(tmp, behaviour=False)  # format and stats; rows as recorded
        if result.errors:
            f = result.errors[0]
            raise RepairError(
                f"{target}/{f.file or ''}: validator [{f.check_id}] {f.message}; nothing written"
            )
        if in_place:
            aside = root.with_name(f"{root.name}.orig-{time.strftime('%Y%m%d-%H%M%S')}")
            os.rename(root, aside)
            os.rename(tmp, root)
            log(f"the original is kept as {aside}")
        else:
            os.rename(tmp, target)
    except BaseException:
        publish.discard(tmp)
        raise
    return target, s


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="make repair", description=__doc__.split("\n\n")[0])
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--dst", type=Path, default=None, help="default: <DATASET>_repaired")
    ap.add_argument("--in-place", action="store_true", help="DATASET renamed aside, kept")
    ap.add_argument("--salvage", action="store_true", help="keep the partial episode's frames")
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    try:
        log(f"checking {a.dataset} episode by episode ...")
        target, s = repair(a.dataset, a.dst, a.in_place, a.salvage)
    except RepairError as e:
        print(f"repair: error: {e}", file=sys.stderr)
        return e.code
    except OSError as e:
        print(f"repair: error: {e.filename or a.dataset}: {e.strerror or e}", file=sys.stderr)
        return 1
    for line in s.dropped:
        log(f"dropped {line}" if not line.startswith("note") else line)
    frames = sum(int(r["length"]) for r in s.kept)
    whole = len(s.kept) - (1 if s.salvaged else 0)
    extra = ""
    if s.salvaged:
        extra = f" + episode {s.salvaged['episode_index']} salvaged ({s.salvaged['frames']} frames)"
    log(f"wrote {target}: {whole} complete episodes bit-identical{extra}, {frames} frames, "
        f"exact stats, validated, in {time.perf_counter() - t0:.1f} s")  # fmt: skip
    log(f"continue with: make record RESUME=1 DATASET={target} (next episode: {len(s.kept)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
