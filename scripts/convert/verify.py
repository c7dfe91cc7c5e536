"""Check the converted tree against its source before it is published.

Two layers. (1) The validator's structural checks (``validators.runner.validate_dataset``,
quick mode) when that module is installed. (2) Our own equivalence check, which does not
trust anything the writer remembered: episode placements are read back from DST's
``meta/episodes``; every row is re-read from the written files
and compared, a batch of episodes at a time as whole columns, with the source parquet files,
``index``/``episode_index``/``task_index`` against the renumbering; each written mp4's frame
count must equal the sum of its episodes'; and sampled frames (first, middle, last frame of
the first, middle and last episode of each camera) decoded from DST at
``from_timestamp + timestamp`` must equal the source frames, pixel for pixel.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from scripts.convert.errors import ConversionError
from scripts.convert.plan import EpisodePlan, Plan
from scripts.convert.video import frames_near
from validators.dataset_format import DATA_PATH, VIDEO_PATH

# The stats group is left out: stats.json is computed from meta/episodes (aggregate.py) and the
# per-episode stats by LeRobot's arithmetic (tests compare both with the pinned LeRobot);
# re-checking them would hold every episode's stats in memory. `make validate` runs it.
STRUCTURAL_GROUPS = ("schema", "structure", "data", "video")


def run_validator(tmp: Path, dst: Path) -> str:
    """Structural validation; returns a one-line note for the summary."""
    try:
        runner = importlib.import_module("validators.runner")
    except ModuleNotFoundError:
        return "validator: validators.runner not installed yet, structural checks skipped"
    report = runner.validate_dataset(tmp, quick=True, groups=STRUCTURAL_GROUPS)
    errors = list(report.errors)
    if errors:
        first = errors[0]
        # findings name files relative to the validated root (tmp): name them under dst
        where = str(dst / first.file) if first.file else str(dst)
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ConversionError(
            where, f"validator [{first.check_id}] {first.message}{more}; nothing was published"
        )
    return f"validator: {len(report.findings)} finding(s), no errors"


def placements(tmp: Path) -> dict[str, np.ndarray]:
    """Where DST's ``meta/episodes`` says each episode lives (columns, one value per episode).

    Read back from the written files (not from what the writers remembered), so the checks
    below also test the metadata LeRobot will read.
    """
    files = sorted((tmp / "meta" / "episodes").glob("*/*.parquet"))
    names = None
    parts = []
    for f in files:
        if names is None:
            schema = pq.read_schema(f)
            names = [
                n
                for n in schema.names
                if n in ("episode_index", "dataset_from_index", "dataset_to_index")
                or n.startswith(("data/", "videos/"))
            ]
        parts.append(pq.read_table(f, columns=names))
    table = pa.concat_tables(parts)
    return {name: table.column(name).to_numpy() for name in table.column_names}


PLACEMENT_COLUMNS = (
    "episode_index",
    "data/chunk_index",
    "data/file_index",
    "dataset_from_index",
    "dataset_to_index",
)


def spool_placements(spool: Path) -> dict[str, np.ndarray]:
    """Where the data writer put each episode, from its spool (before meta/episodes exists)."""
    columns: dict[str, list[np.ndarray]] = {name: [] for name in PLACEMENT_COLUMNS}
    with pa.ipc.open_file(pa.OSFile(str(spool))) as reader:  # batch by batch: skip the stats
        for i in range(reader.num_record_batches):
            batch = reader.get_batch(i)
            for name in PLACEMENT_COLUMNS:
                columns[name].append(batch.column(name).to_numpy())
    return {name: np.concatenate(parts) for name, parts in columns.items()}


VIDEO_PLACEMENT_COLUMNS = ("chunk_index", "file_index", "from_timestamp", "to_timestamp")


def camera_placements(spools: dict[str, Path]) -> dict[str, np.ndarray]:
    """Where each camera's copy put each episode, from its spool (before meta/episodes exists).

    The video check runs on these while the parent writes the metadata;
    :func:`same_placements` then holds meta/episodes to exactly what was checked.
    """
    out: dict[str, np.ndarray] = {}
    for key, spool in spools.items():
        names = [f"videos/{key}/{c}" for c in VIDEO_PLACEMENT_COLUMNS]
        with pa.ipc.open_file(pa.OSFile(str(spool))) as reader:
            table = reader.read_all().select(names)
        out.update({name: table.column(name).to_numpy() for name in names})
    return out


def same_placements(
    meta: dict[str, np.ndarray], checked: dict[str, np.ndarray], where: Path
) -> None:
    """meta/episodes must place every episode where the data and video checks found it."""
    for name in checked:
        if name not in meta or not np.array_equal(meta[name], checked[name]):
            raise ConversionError(where, f"column {name!r} disagrees with the written data (bug)")


def _read_sources(paths: list[Path], schema: pa.Schema) -> pa.Table:
    """The source episodes' rows, in order, typed as DST types them."""
    tables = []
    names = schema.names
    for path in paths:
        # Small files are read from memory without arrow's thread pool (which costs more
        # than it saves on them); all columns, then selected (cheaper than a projection).
        if path.stat().st_size <= SMALL_FILE_BYTES:
            source: Path | pa.BufferReader = pa.BufferReader(path.read_bytes())
        else:
            source = path
        t = pq.ParquetFile(source).read(use_threads=False, use_pandas_metadata=False)
        if t.column_names != names:
            t = t.select(names)
        tables.append(t.cast(schema) if not t.schema.equals(schema) else t)
    return pa.concat_tables(tables)


SMALL_FILE_BYTES = 8 * 1024**2


VERIFY_BATCH_ROWS = 65536  # source rows compared at once: bounds memory, not per episode
VERIFY_BATCH_EPISODES = 256  # and source files: each open table carries its own metadata


def _read_rows(pf: pq.ParquetFile, lo: int, hi: int) -> pa.Table:
    """Rows ``lo:hi`` of a parquet file, reading only the row groups that hold them."""
    meta = pf.metadata
    ends = np.cumsum([meta.row_group(g).num_rows for g in range(meta.num_row_groups)])
    first = int(np.searchsorted(ends, lo, side="right"))
    last = int(np.searchsorted(ends, hi, side="left"))
    groups = list(range(first, min(last, meta.num_row_groups - 1) + 1))
    start = int(ends[first - 1]) if first else 0
    return pf.read_row_groups(groups).slice(lo - start, hi - lo)


def _check_batch(
    plan: Plan,
    eps: list[int],
    pf: pq.ParquetFile,
    rows: tuple[int, int],
    place: dict[str, np.ndarray],
    path: Path,
) -> None:
    """Episodes ``eps`` (positions) vs rows ``rows`` of one DST file, whole columns at once."""
    out = _read_rows(pf, *rows)
    episodes = [plan.episodes[i] for i in eps]
    lengths = np.array([e.length for e in episodes], dtype=np.int64)
    where = episodes[0].data_file
    _check_placement(plan, eps, place, out, path)
    target = out.schema.remove_metadata()
    src = _read_sources([e.data_file for e in episodes], target)
    old = np.repeat(np.array([e.old_index for e in episodes], dtype=np.int64), lengths)
    if not np.array_equal(src.column("episode_index").to_numpy(), old):
        raise ConversionError(where, "episode_index of SRC rows not as planned")
    new_tasks = renumbered_tasks(src.column("task_index").to_numpy(), plan.task_remap, where)
    if not np.array_equal(out.column("task_index").to_numpy(), new_tasks):
        raise ConversionError(where, f"episodes {eps[0]}..{eps[-1]}: task_index differs")
    for name in target.names:
        if name in ("episode_index", "index", "task_index"):
            continue
        a = src.column(name)
        b = out.column(name)
        if not a.equals(b):
            raise ConversionError(
                path,
                f"episodes {eps[0]}..{eps[-1]}: column {name!r} differs after conversion (bug)",
            )


REWRITTEN = ("episode_index", "index", "task_index")


def renumbered_tasks(tasks: np.ndarray, remap: dict[int, int], where: Path) -> np.ndarray:
    """SRC ``task_index`` values through the plan's old -> new map (not the writer's)."""
    lut = np.full(max(remap, default=-1) + 1, -1, dtype=np.int64)  # -1: not in tasks.jsonl
    for old, new in remap.items():
        lut[old] = new
    tasks = tasks.astype(np.int64, copy=False)
    if not ((tasks >= 0) & (tasks < len(lut))).all() or (lut[tasks] < 0).any():
        raise ConversionError(where, "task_index not in meta/tasks.jsonl")
    return lut[tasks]


def _feed(h: Any, arr: pa.Array) -> bool:
    """Hash an array's values (not its buffers: offsets and chunking do not matter).

    False for types without a cheap canonical form (strings, structs such as image
    cells); the caller then compares those batches value by value instead.
    """
    t = arr.type
    if arr.null_count:
        h.update(np.packbits(arr.is_null().to_numpy(zero_copy_only=False)).tobytes())
    if pa.types.is_fixed_size_list(t):
        return _feed(h, arr.flatten())
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        lengths = arr.value_lengths().fill_null(0).to_numpy(zero_copy_only=False)
        h.update(lengths.astype(np.int64).tobytes())
        return _feed(h, arr.flatten())
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t):
        h.update(arr.to_numpy(zero_copy_only=False).tobytes())
        return True
    return False


def values_digest(table: pa.Table, task_index: np.ndarray) -> bytes | None:
    """Digest of every column but the rewritten ones, plus ``task_index`` as given."""
    h = hashlib.blake2b(digest_size=20)
    for name in table.column_names:
        if name in REWRITTEN:
            continue
        h.update(f"{name}:{table.schema.field(name).type}".encode())
        if not _feed(h, table.column(name).combine_chunks()):
            return None
    h.update(np.ascontiguousarray(task_index, dtype=np.int64).tobytes())
    return h.digest()


class SourceDigests:
    """What the data pass read from SRC, kept as one digest per batch of episodes.

    Lets the data check compare DST with SRC without reading every source file a second
    time (that re-read was the largest part of the check): the digest is taken of the
    source rows as read and typed, before anything is rewritten, with ``task_index``
    renumbered here through the plan's map (not the writer's). ``usable`` turns False on
    the first column type without a digest; the check then re-reads the sources.
    """

    def __init__(self, plan: Plan) -> None:
        self._remap = plan.task_remap
        self._pos = {e.new_index: i for i, e in enumerate(plan.episodes)}
        self.batches: list[tuple[int, int, bytes]] = []  # first, last position, digest
        self.usable = True

    def record(self, episodes: list[EpisodePlan], source: pa.Table) -> None:
        if not self.usable:
            return
        tasks = source.column("task_index").to_numpy(zero_copy_only=False)
        digest = values_digest(source, renumbered_tasks(tasks, self._remap, episodes[0].data_file))
        if digest is None:
            self.usable, self.batches = False, []
            return
        first, last = self._pos[episodes[0].new_index], self._pos[episodes[-1].new_index]
        self.batches.append((first, last, digest))


def check_data_digests(
    plan: Plan,
    tmp: Path,
    place: dict[str, np.ndarray],
    digests: SourceDigests,
    tick: Callable[[int], None],
) -> None:
    """:func:`check_data` against the data pass's digests of SRC: every DST row is re-read."""
    n = len(plan.episodes)
    _check_order(place, n, tmp)
    covered = 0
    files: dict[tuple[int, int], tuple[pq.ParquetFile, int]] = {}
    for first, last, digest in digests.batches:
        if first != covered:
            raise ConversionError(tmp / "data", f"episodes {covered}..{first - 1} never checked")
        key = (int(place["data/chunk_index"][first]), int(place["data/file_index"][first]))
        end = (int(place["data/chunk_index"][last]), int(place["data/file_index"][last]))
        path = tmp / DATA_PATH.format(chunk_index=key[0], file_index=key[1])
        if end != key:
            raise ConversionError(path, f"episodes {first}..{last} span two data files (bug)")
        if key not in files:
            files = {key: (pq.ParquetFile(path), _file_start(place, key))}
        pf, file_start = files[key]
        lo = int(place["dataset_from_index"][first])
        out = _read_rows(pf, lo - file_start, int(place["dataset_to_index"][last]) - file_start)
        eps = list(range(first, last + 1))
        _check_placement(plan, eps, place, out, path)
        if values_digest(out, out.column("task_index").to_numpy()) != digest:
            raise ConversionError(
                path, f"episodes {first}..{last}: values differ from SRC after conversion (bug)"
            )
        covered = last + 1
        tick(last + 1 - first)
    if covered != n:
        raise ConversionError(tmp / "data", f"episodes {covered}..{n - 1} never checked")


def _file_start(place: dict[str, np.ndarray], key: tuple[int, int]) -> int:
    same = (place["data/chunk_index"] == key[0]) & (place["data/file_index"] == key[1])
    return int(place["dataset_from_index"][np.flatnonzero(same)[0]])


def _check_order(place: dict[str, np.ndarray], n: int, tmp: Path) -> None:
    if len(place["episode_index"]) != n or not np.array_equal(place["episode_index"], np.arange(n)):
        raise ConversionError(tmp / "meta/episodes", "episode_index is not 0..N-1 in order")


def _check_placement(
    plan: Plan, eps: list[int], place: dict[str, np.ndarray], out: pa.Table, path: Path
) -> None:
    """Row counts, from/to indices, ``index`` and ``episode_index`` of DST rows ``out``."""
    episodes = [plan.episodes[i] for i in eps]
    lengths = np.array([e.length for e in episodes], dtype=np.int64)
    where = episodes[0].data_file
    if out.num_rows != int(lengths.sum()):
        raise ConversionError(
            path,
            f"episodes {eps[0]}..{eps[-1]}: {lengths.sum()} rows in SRC, {out.num_rows} in DST",
        )
    start = int(place["dataset_from_index"][eps[0]])
    stops = place["dataset_to_index"][eps]
    starts = place["dataset_from_index"][eps]
    if not (np.array_equal(stops - starts, lengths) and (starts[1:] == stops[:-1]).all()):
        raise ConversionError(where, "dataset_from_index/dataset_to_index do not match lengths")
    expect_index = np.arange(start, start + int(lengths.sum()), dtype=np.int64)
    if not np.array_equal(out.column("index").to_numpy(), expect_index):
        raise ConversionError(where, f"episodes {eps[0]}..{eps[-1]}: index not contiguous")
    new = np.repeat(np.array([e.new_index for e in episodes], dtype=np.int64), lengths)
    if not np.array_equal(out.column("episode_index").to_numpy(), new):
        raise ConversionError(where, "episode_index differs in DST")


def check_data(
    plan: Plan, tmp: Path, place: dict[str, np.ndarray], tick: Callable[[int], None]
) -> None:
    """Every row of every episode, re-read from DST and compared with SRC, in batches.

    Episodes are compared a batch at a time (whole columns, not row by row): DST rows at the
    episodes' ``dataset_from_index`` positions against the source files of the same episodes.
    """
    n = len(plan.episodes)
    _check_order(place, n, tmp)
    chunk_idx, file_idx = place["data/chunk_index"], place["data/file_index"]
    i = 0
    while i < n:
        key = (int(chunk_idx[i]), int(file_idx[i]))
        j = i
        while j < n and (int(chunk_idx[j]), int(file_idx[j])) == key:
            j += 1
        path = tmp / DATA_PATH.format(chunk_index=key[0], file_index=key[1])
        pf = pq.ParquetFile(path)
        file_start = int(place["dataset_from_index"][i])
        file_rows = int(place["dataset_to_index"][j - 1]) - file_start
        if pf.metadata.num_rows != file_rows:
            raise ConversionError(
                path, f"{pf.metadata.num_rows} rows, its {j - i} episodes have {file_rows}"
            )
        lo = i
        while lo < j:
            hi, rows = lo, 0
            while hi < j and (
                hi == lo
                or (
                    rows + plan.episodes[hi].length <= VERIFY_BATCH_ROWS
                    and hi - lo < VERIFY_BATCH_EPISODES
                )
            ):
                rows += plan.episodes[hi].length
                hi += 1
            first = int(place["dataset_from_index"][lo]) - file_start
            _check_batch(plan, list(range(lo, hi)), pf, (first, first + rows), place, path)
            tick(hi - lo)
            lo = hi
        i = j


def _frames_at(path: Path, wanted: list[float], fmt: str) -> dict[float, np.ndarray]:
    """Decode ``path`` and keep the frames nearest each wanted time (within tolerance).

    Converted on one swscale thread (same pixels as ``frame.to_ndarray(format=fmt)``): the
    default thread pool costs more than it saves on one frame, and blocks a forked process.
    """
    return frames_near(
        path, wanted, lambda frame: frame.reformat(format=fmt, threads=1).to_ndarray()
    )


def check_videos(plan: Plan, tmp: Path, place: dict[str, np.ndarray], reencoded: set[str]) -> int:
    """Frame counts per file and sampled frames per camera; return frames compared."""
    compared = 0
    n = len(plan.episodes)
    lengths = np.array([e.length for e in plan.episodes], dtype=np.int64)
    sample = sorted({0, n // 2, n - 1})
    for key in plan.layout.video_keys:
        chunks = place[f"videos/{key}/chunk_index"]
        files = place[f"videos/{key}/file_index"]
        pairs = np.stack([chunks, files], axis=1)
        uniq, inverse = np.unique(pairs, axis=0, return_inverse=True)
        expected = np.bincount(inverse.ravel(), weights=lengths, minlength=len(uniq))
        for (chunk, file), want in zip(uniq.tolist(), expected.tolist(), strict=True):
            path = tmp / VIDEO_PATH.format(video_key=key, chunk_index=chunk, file_index=file)
            with av.open(str(path)) as c:
                got = c.streams.video[0].frames
            if got and got < want:
                raise ConversionError(path, f"holds {got} frames, its episodes have {int(want)}")
        if key in reencoded:
            continue  # re-encoded frames differ from the source by design
        info = plan.layout.features[key].get("info") or {}
        fmt = "gray12le" if info.get("is_depth_map") or info.get("video.is_depth_map") else "rgb24"
        for i in sample:
            ep = plan.episodes[i]
            ts = pq.ParquetFile(ep.data_file).read(columns=["timestamp"]).column(0).to_numpy()
            idx = sorted({0, ep.length // 2, ep.length - 1})
            base = float(place[f"videos/{key}/from_timestamp"][i])
            path = tmp / VIDEO_PATH.format(
                video_key=key, chunk_index=int(chunks[i]), file_index=int(files[i])
            )
            for j in idx:
                # One seek per frame (to its keyframe), in SRC and in DST: decoding a long
                # episode from its start to its last frame cost more than the whole check.
                t_src = float(ts[j])
                src = _frames_at(ep.video_files[key], [t_src], fmt)
                w = base + t_src
                got = _frames_at(path, [w], fmt)
                if w not in got or t_src not in src or not np.array_equal(got[w], src[t_src]):
                    raise ConversionError(
                        path,
                        f"camera {key} episode {ep.new_index} frame {j} does not decode "
                        "identical to the source (bug)",
                    )
                compared += 1
    return compared
