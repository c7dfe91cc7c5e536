"""Data group: every data parquet opens, its columns match ``features``, and its rows are what
LeRobot expects (index = row position, episode/frame indices, timestamps on the fps grid
within ``tolerance_s``, known task indices, finite numbers).

Only the columns a check needs are read: the five bookkeeping columns and the floating-point
features (for NaN/Inf; all numeric features when the behaviour group will run, kept in
``ctx.row_cache`` so the stats and behaviour groups need no second read); image bytes are never
read. Quick mode stops after the schemas.
"""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from validators import dataset_format as fmt
from validators import loop_timing
from validators.arrow_np import to_numpy
from validators.context import Context, DataColumns
from validators.stats_rows import numeric_features

READ_WORKERS = 4  # parquet decoding releases the GIL; a few files in flight hide I/O latency
BOOK_KEEPING = ("index", "episode_index", "frame_index", "timestamp", "task_index")


def run(ctx: Context) -> None:
    files = [rel for rel in ctx.data_files if rel not in ctx.unreadable_data]
    float_cols = check_schemas(ctx, files)
    loop_timing.run(ctx)  # a recording's real loop rate (its tick files); cheap, also quick
    if ctx.quick:
        return
    read_columns(ctx, files, float_cols)
    if ctx.data is None:
        return
    missing = any(ep.data_path in ctx.missing_files for ep in ctx.episodes)
    if not ctx.unreadable_data and not missing:  # rows are missing: positions are meaningless
        check_index(ctx)
    check_episodes(ctx)


# --- schema of the data files --------------------------------------------------------------
def _expected(ft: dict[str, Any]) -> tuple[str, Any, list[int]] | None:
    """(kind, leaf arrow type, shape) a feature must have in parquet; None = no column."""
    import pyarrow as pa

    dtype = ft.get("dtype")
    shape = [int(x) for x in ft.get("shape") or []]
    if dtype == "video" or dtype == "language":
        return None
    if dtype == "image":
        return ("image", None, shape)
    if dtype == "string":
        return ("string", pa.string(), [])
    try:
        leaf = pa.from_numpy_dtype(np.dtype(dtype))
    except TypeError:
        return None
    return ("numeric", leaf, [] if shape == [1] else shape)


def _describe(typ: Any) -> tuple[list[int | None], Any]:
    """Peel list layers off an arrow type: (sizes, None for variable), leaf type."""
    import pyarrow as pa

    sizes: list[int | None] = []
    while pa.types.is_fixed_size_list(typ) or pa.types.is_list(typ) or pa.types.is_large_list(typ):
        sizes.append(typ.list_size if pa.types.is_fixed_size_list(typ) else None)
        typ = typ.value_type
    return sizes, typ


def check_schemas(ctx: Context, files: list[str]) -> list[str]:
    """Compare each file's arrow schema with ``features``; return float columns to scan."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    problems: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    float_cols: set[str] = set()
    feats = ctx.features
    for rel in files:
        try:
            md = ctx.parquet_meta.get(rel)
            schema = md.schema.to_arrow_schema() if md else pq.read_schema(ctx.root / rel)
        except Exception as exc:
            ctx.unreadable_data.add(rel)
            ctx.add(
                "data.unreadable_parquet",
                "error",
                f"cannot read schema: {exc}",
                "restore the file or re-convert",
                file=rel,
            )
            continue
        names = set(schema.names)
        for key, ft in feats.items():
            if not isinstance(ft, dict):
                continue
            exp = _expected(ft)
            if exp is None:
                continue
            kind, leaf, shape = exp
            if key not in names:
                problems[("data.missing_column", key, "")].append(rel)
                continue
            typ = schema.field(key).type
            if kind == "image":
                if not (pa.types.is_struct(typ) and typ.get_field_index("bytes") >= 0):
                    problems[
                        ("data.dtype_mismatch", key, f"{typ} (expected struct<bytes, path>)")
                    ].append(rel)
                continue
            sizes, actual_leaf = _describe(typ)
            if len(sizes) != len(shape) or any(
                s is not None and s != d for s, d in zip(sizes, shape, strict=False)
            ):
                got = [s if s is not None else "?" for s in sizes] or [1]
                problems[
                    ("data.shape_mismatch", key, f"shape {got} (features say {shape or [1]})")
                ].append(rel)
                continue
            if kind == "string":
                if not (pa.types.is_string(actual_leaf) or pa.types.is_large_string(actual_leaf)):
                    problems[
                        ("data.dtype_mismatch", key, f"{actual_leaf} (expected string)")
                    ].append(rel)
                continue
            if actual_leaf != leaf:
                problems[
                    ("data.dtype_mismatch", key, f"{actual_leaf} (features say {ft.get('dtype')})")
                ].append(rel)
                continue
            if pa.types.is_floating(leaf) and key not in fmt.DEFAULT_FEATURES:
                float_cols.add(key)
        for extra in sorted(names - set(feats)):
            problems[("data.extra_column", extra, "")].append(rel)

    hints = {
        "data.missing_column": "add the column or drop the feature from meta/info.json",
        "data.shape_mismatch": "the stored vectors disagree with features[...]['shape']; fix "
        "info.json or re-export the data",
        "data.dtype_mismatch": "the stored type disagrees with features[...]['dtype']; fix "
        "info.json or re-export the data",
        "data.extra_column": "undeclared columns are ignored by LeRobot; declare it or drop it",
    }
    for (check_id, key, detail), rels in problems.items():
        where = rels[0] if len(rels) == 1 else f"{rels[0]} (+{len(rels) - 1} more files)"
        what = {
            "data.missing_column": f"column {key!r} declared in features is missing",
            "data.extra_column": f"column {key!r} is not declared in features",
        }.get(check_id, f"column {key!r} has {detail}")
        severity = "warning" if check_id == "data.extra_column" else "error"
        ctx.add(check_id, severity, f"{what} in {where}", hints[check_id], file=rels[0])
    return sorted(float_cols)


# --- row data ------------------------------------------------------------------------------
def read_columns(ctx: Context, files: list[str], float_cols: list[str]) -> None:
    """Read the bookkeeping columns of every file (in load order) and scan floats for NaN."""
    import pyarrow.parquet as pq

    parts: dict[str, list[np.ndarray]] = {c: [] for c in BOOK_KEEPING}
    starts: list[tuple[str, int, int]] = []
    row = 0
    files = [rel for rel in files if rel not in ctx.unreadable_data]
    cached = list(numeric_features(ctx)) if ctx.row_cache is not None else []
    wanted = list(dict.fromkeys((*BOOK_KEEPING, *float_cols, *cached)))

    def load(rel: str) -> Any:
        """Read one file's needed columns; runs in a worker (arrow releases the GIL)."""
        try:
            pf = pq.ParquetFile(ctx.root / rel, metadata=ctx.parquet_meta.get(rel))
            present = set(pf.schema_arrow.names)
            cols = [c for c in wanted if c in present]
            return pf.read(columns=cols, use_threads=False)
        except Exception as exc:
            return exc

    def tables() -> Any:
        """(path, table or error) in load order, a bounded window of files in flight."""
        window = 4 * READ_WORKERS
        with ThreadPoolExecutor(max_workers=READ_WORKERS) as pool:
            for i in range(0, len(files), window):
                batch = files[i : i + window]
                yield from zip(batch, pool.map(load, batch), strict=True)

    for rel, table in _progress(ctx, tables(), "data", len(files)):
        if isinstance(table, Exception):
            ctx.unreadable_data.add(rel)
            ctx.add(
                "data.unreadable_parquet",
                "error",
                f"cannot read rows: {table}",
                "restore the file or re-convert",
                file=rel,
            )
            continue
        row = _take(ctx, rel, table, float_cols, parts, starts, row, cached)
    if not starts:
        return
    ctx.data = DataColumns(
        **{c: np.concatenate(parts[c]) for c in BOOK_KEEPING},
        file_starts=starts,
    )
    if not ctx.is_v3:
        # v2.x: an episode's rows are its own file, whatever the metadata length says.
        span = {rel: (a, b) for rel, a, b in starts}
        for ep in ctx.episodes:
            if ep.data_path in span:
                ep.from_index, ep.to_index = span[ep.data_path]


def _take(
    ctx: Context,
    rel: str,
    table: Any,
    float_cols: list[str],
    parts: dict[str, list[np.ndarray]],
    starts: list[tuple[str, int, int]],
    row: int,
    cached: list[str],
) -> int:
    """Append one file's bookkeeping columns, scan its floats; return the next global row.

    With ``ctx.row_cache`` on, also keep the file's numeric columns (``cached``) as numpy
    views of the arrow buffers for the stats and behaviour groups (no copy)."""
    import pyarrow as pa

    n = table.num_rows
    keep: dict[str, Any] = {}
    for c in BOOK_KEEPING:
        col = table.column(c) if c in table.column_names else None
        numeric = col is not None and (
            pa.types.is_integer(col.type) or pa.types.is_floating(col.type)
        )
        if not numeric:  # missing or not a number: the schema check reports it
            parts[c].append(np.full(n, np.nan) if c == "timestamp" else np.full(n, -1, np.int64))
            continue
        if col.null_count:
            ctx.add(
                "data.null_values",
                "error",
                f"column {c!r} has {col.null_count} null value(s)",
                "every frame needs its bookkeeping columns; re-export the data",
                file=rel,
            )
        arr = to_numpy(col)
        if c in ("episode_index", "timestamp"):
            keep[c] = arr
        if c == "timestamp":
            parts[c].append(arr.astype(np.float64, copy=False))
        else:
            parts[c].append(np.nan_to_num(arr, nan=-1).astype(np.int64, copy=False))
    for c in cached:
        if c in table.column_names:
            try:
                keep[c] = to_numpy(table.column(c))
            except Exception:
                keep[c] = None  # not numbers: the schema check reports it, the readers skip it
    ep_col = parts["episode_index"][-1]
    for c in float_cols:
        if c in table.column_names:
            _scan_non_finite(ctx, rel, c, table.column(c), ep_col, keep.get(c))
    if ctx.row_cache is not None:
        ctx.row_cache[rel] = keep
    starts.append((rel, row, row + n))
    return row + n


def _progress(ctx: Context, items: Any, what: str, total: int) -> Any:
    if getattr(ctx, "progress", False) and total > 20:
        from tqdm import tqdm

        return tqdm(items, desc=what, unit="file", total=total, leave=False)
    return items


def _value_rows(col: Any) -> np.ndarray:
    """The row of each leaf value of a (nested) list column, in ``to_numpy``'s order.

    From the list offsets, not a reshape: variable-length lists of the declared depth pass
    the schema check, and their rows need not hold the same number of values.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    rows = np.arange(len(arr))
    while (
        pa.types.is_fixed_size_list(arr.type)
        or pa.types.is_list(arr.type)
        or pa.types.is_large_list(arr.type)
    ):
        rows = rows[to_numpy(pc.list_parent_indices(arr))]
        arr = arr.flatten()
    return rows


def _scan_non_finite(
    ctx: Context,
    rel: str,
    key: str,
    col: Any,
    ep_col: np.ndarray,
    flat: np.ndarray | None = None,
) -> None:
    values = (to_numpy(col) if flat is None else flat).astype(np.float64, copy=False)
    bad = ~np.isfinite(values)
    if not bad.any():
        return
    rows = np.unique(_value_rows(col)[bad])
    eps = sorted({int(ep_col[r]) for r in rows})
    for e in eps:
        ep_rows = rows[ep_col[rows] == e]
        ctx.add(
            "data.non_finite",
            "error",
            f"{key!r} has NaN/Inf in {len(ep_rows)} row(s) of episode {e} "
            f"(first at row {int(ep_rows[0])} of the file)",
            "NaN/Inf poisons normalisation and gives a NaN loss; fix or drop the episode",
            file=rel,
            episode=e,
        )


def check_index(ctx: Context) -> None:
    d = ctx.data
    assert d is not None
    expected = np.arange(len(d.index))
    bad = np.nonzero(d.index != expected)[0]
    if len(bad):
        r = int(bad[0])
        severity = "error" if ctx.is_v3 else "warning"
        ctx.add(
            "data.index",
            severity,
            f"column 'index' is not the row position from row {r} on "
            f"(holds {int(d.index[r])}; {len(bad)} rows differ)",
            "LeRobot looks frames up by position, so index must be 0..N-1 in load order; "
            "re-convert (the converter rewrites it)",
            file=d.file_of_row(r),
            episode=int(d.episode_index[r]),
        )


def check_episodes(ctx: Context) -> None:
    d = ctx.data
    assert d is not None
    fps = ctx.fps
    tol = fmt.TOLERANCE_S
    n = len(d.index)
    ep_col = d.episode_index
    valid = ep_col >= 0
    counts = np.bincount(ep_col[valid]) if valid.any() else np.zeros(0, int)
    known = {ep.episode_index for ep in ctx.episodes}
    task_ok = None
    if ctx.tasks is not None:
        task_ok = np.isin(
            d.task_index, np.fromiter(ctx.tasks, dtype=np.int64, count=len(ctx.tasks))
        )
    for ep in ctx.episodes:
        e = ep.episode_index
        if ep.data_path in ctx.unreadable_data or ep.data_path in ctx.missing_files:
            continue  # reported by the structure/data file checks
        got = int(counts[e]) if e < len(counts) else 0
        if got != ep.length:
            ctx.add(
                "data.episode_length",
                "error",
                f"episode {e}: metadata length is {ep.length} but the data holds {got} rows",
                "a frame was dropped or added; fix the metadata length or restore the rows",
                file=ep.data_path,
                episode=e,
            )
        a, b = ep.from_index, ep.to_index
        if not (0 <= a <= b <= n) or ep.data_path in ctx.unreadable_data:
            continue
        rel = d.file_of_row(a) if b > a else ep.data_path
        sl = slice(a, b)
        eps = ep_col[sl]
        if (eps != e).any():
            first = int(np.nonzero(eps != e)[0][0])
            ctx.add(
                "data.episode_index_mismatch",
                "error",
                f"episode {e}: row {a + first} of its range holds episode_index {int(eps[first])}",
                "the episode's rows and its metadata disagree; re-convert",
                file=rel,
                episode=e,
            )
            continue
        fi = d.frame_index[sl]
        if not np.array_equal(fi, np.arange(b - a)):
            first = int(np.nonzero(fi != np.arange(b - a))[0][0])
            ctx.add(
                "data.frame_index",
                "error",
                f"episode {e}: frame_index is not 0..{b - a - 1} "
                f"(row {first} holds {int(fi[first])})",
                "frame_index must count 0, 1, 2, ... within each episode",
                file=rel,
                episode=e,
            )
        ts = d.timestamp[sl].astype(np.float64)
        if fps > 0 and len(ts):
            grid = (np.arange(b - a) / fps).astype(np.float32).astype(np.float64)
            off = np.abs(ts - grid)
            bad = np.nonzero(~(off <= tol))[0]
            if len(bad):
                r = int(bad[0])
                ctx.add(
                    "data.timestamp_tolerance",
                    "error",
                    f"episode {e}: frame {r} has timestamp {ts[r]:.6f} s, expected {grid[r]:.6f} "
                    f"(off by {off[r]:.2e} s > tolerance_s {tol}); {len(bad)} frame(s) off",
                    "LeRobot raises FrameTimestampError at training time; re-time the episode "
                    "(timestamp = frame_index / fps)",
                    file=rel,
                    episode=e,
                )
            if len(ts) > 1 and not (np.diff(ts) > 0).all():
                r = int(np.nonzero(~(np.diff(ts) > 0))[0][0]) + 1
                ctx.add(
                    "data.timestamp_order",
                    "error",
                    f"episode {e}: timestamps do not increase at frame {r}",
                    "timestamps must strictly increase within an episode",
                    file=rel,
                    episode=e,
                )
        if task_ok is not None and not task_ok[sl].all():
            first = int(np.nonzero(~task_ok[sl])[0][0])
            ctx.add(
                "data.unknown_task_index",
                "error",
                f"episode {e}: task_index {int(d.task_index[a + first])} is not in the tasks file",
                "add the task to the tasks file or fix task_index; LeRobot fails looking it up",
                file=rel,
                episode=e,
            )
    stray = set(np.unique(ep_col[valid]).tolist()) - known
    if stray and ctx.episodes_loaded:
        ctx.add(
            "data.episode_index_mismatch",
            "error",
            f"data rows carry episode_index values absent from the metadata: {sorted(stray)[:10]}",
            "add the episodes to the metadata or remove their rows",
        )
