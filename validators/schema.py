"""Schema group: info.json against the JSON Schema of its format version, and the column
contracts of the episodes and tasks metadata (v3.0 parquet, v2.1 jsonl).

This group also reads the episode/task metadata into the context, because checking a
contract and reading the file are the same pass; the later groups only use what was
read here.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from validators import dataset_format as fmt
from validators.context import Context, EpisodeMeta, VideoRef
from validators.jsonschema_lite import SchemaError, Validator

SCHEMA_DIR = Path(__file__).parent / "schemas"
INFO_SCHEMAS = {fmt.V30: "info_v3.0.schema.json", fmt.V21: "info_v2.1.schema.json"}
INFO_SCHEMAS[fmt.V20] = INFO_SCHEMAS[fmt.V21]


@cache
def load_schema(name: str) -> dict[str, Any]:
    return json.loads((SCHEMA_DIR / name).read_text())


@cache
def _validator(name: str) -> Validator:
    return Validator(load_schema(name))


def _where(error: SchemaError) -> str:
    return "/".join(str(p) for p in error.path) or "(top level)"


def run(ctx: Context) -> None:
    check_info(ctx)
    if ctx.is_v3:
        load_tasks_v3(ctx)
        load_episodes_v3(ctx)
    else:
        load_tasks_legacy(ctx)
        load_episodes_legacy(ctx)


# --- info.json -----------------------------------------------------------------------------
def check_info(ctx: Context) -> None:
    version = ctx.version
    info_file = ctx.root / fmt.INFO_PATH
    if version not in INFO_SCHEMAS:
        seen = "v3.0" if ctx.is_v3 else "v2.1"
        ctx.add(
            "schema.version_unsupported",
            "error",
            f"codebase_version {version!r} is not one this toolkit knows (v2.0, v2.1, v3.0); "
            f"the files look like {seen}",
            f'set "codebase_version" in meta/info.json to "{seen}" if the layout really is {seen}',
            file=info_file,
        )
        version = fmt.V30 if ctx.is_v3 else fmt.V21
    validator = _validator(INFO_SCHEMAS[version])
    for error in sorted(validator.iter_errors(ctx.info), key=lambda e: [str(p) for p in e.path]):
        if error.path == ("codebase_version",) and version != ctx.version:
            continue  # reported above
        ctx.add(
            "schema.info",
            "error",
            f"{_where(error)}: {error.message}",
            f"fix meta/info.json to match validators/schemas/{INFO_SCHEMAS[version]}",
            file=info_file,
        )
    if ctx.video_keys and "video_path" in ctx.info and ctx.info["video_path"] is None:
        ctx.add(
            "schema.info",
            "error",
            f"video_path is null but features declare videos {ctx.video_keys}",
            "set video_path to the template of this format (see validators/dataset_format.py)",
            file=info_file,
        )


# --- helpers for parquet column contracts --------------------------------------------------
def arrow_kind(typ: Any) -> str:
    """Coarse type class of an arrow type, the level at which LeRobot cares."""
    import pyarrow as pa

    if pa.types.is_integer(typ):
        return "integer"
    if pa.types.is_floating(typ):
        return "float"
    if pa.types.is_string(typ) or pa.types.is_large_string(typ):
        return "string"
    if pa.types.is_list(typ) or pa.types.is_large_list(typ) or pa.types.is_fixed_size_list(typ):
        inner = arrow_kind(typ.value_type)
        if inner == "string":
            return "list<string>"
        if inner in ("integer", "float"):
            return "list<number>"
        return f"list<{inner}>"
    return str(typ)


def _kind_ok(actual: str, expected: str) -> bool:
    if actual == expected:
        return True
    return expected == "float" and actual == "integer"  # an integer timestamp still reads


def check_columns(
    ctx: Context, schema: Any, contract: dict[str, Any], check_id: str, path: Path, extra: dict
) -> bool:
    """Compare a parquet schema with a column contract; return False on a missing column."""
    names = set(schema.names)
    ok = True
    for col, kind in {**contract["required"], **extra}.items():
        if col not in names:
            ok = False
            ctx.add(
                check_id,
                "error",
                f"column {col!r} is missing",
                f"LeRobot 0.6.1 reads {col!r}; rewrite this file with the converter",
                file=path,
            )
            continue
        actual = arrow_kind(schema.field(col).type)
        if not _kind_ok(actual, kind):
            ctx.add(
                check_id,
                "error",
                f"column {col!r} has type {schema.field(col).type} ({actual}), expected {kind}",
                "rewrite this metadata file with the converter",
                file=path,
            )
    return ok


def _open_parquet(ctx: Context, path: Path, check_id: str) -> Any:
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path)
    except Exception as exc:  # any arrow/OS error means LeRobot cannot read it either
        ctx.add(
            check_id,
            "error",
            f"cannot open parquet: {exc}",
            "the file is truncated or not parquet; restore it from the source or re-convert",
            file=path,
        )
        return None


# --- v3.0 ----------------------------------------------------------------------------------
def load_tasks_v3(ctx: Context) -> None:
    path = ctx.root / fmt.TASKS_PATH
    if not path.is_file():
        ctx.add(
            "structure.missing_file",
            "error",
            "meta/tasks.parquet is missing",
            "every v3.0 dataset needs meta/tasks.parquet (task_index + task); re-convert",
            file=path,
        )
        return
    pf = _open_parquet(ctx, path, "schema.unreadable")
    if pf is None:
        return
    contract = load_schema("tasks_v3.0.columns.json")
    schema = pf.schema_arrow
    if not check_columns(ctx, schema, contract, "schema.tasks_columns", path, {}):
        return
    text_col = task_text_column(ctx, schema, contract, path)
    if text_col is None:
        return
    try:
        table = pf.read()  # every column, as LeRobot's load_tasks (pd.read_parquet) reads them
    except Exception as exc:
        ctx.add("schema.unreadable", "error", f"cannot read rows: {exc}", "re-convert", file=path)
        return
    ti = table.column("task_index").to_pylist()
    tt = table.column(text_col).to_pylist()
    tasks: dict[int, str] = {}
    for row, (i, t) in enumerate(zip(ti, tt, strict=True)):
        if i in tasks:
            ctx.add(
                "schema.tasks_columns",
                "error",
                f"task_index {i} appears twice",
                "task_index must be unique; re-convert",
                file=path,
            )
        elif i != row:
            ctx.add(
                "schema.tasks_columns",
                "error",
                f"row {row} holds task_index {i}: LeRobot takes task_index i's text from row i "
                "(tasks.iloc[i]), so episodes would get another task's text",
                "sort the rows by task_index (0..N-1); re-convert",
                file=path,
            )
        tasks[int(i)] = t
    ctx.tasks = tasks


def task_text_column(ctx: Context, schema: Any, contract: dict[str, Any], path: Path) -> str | None:
    """The column LeRobot 0.6.1 reads the task text from, or None (reported) when it would not.

    LeRobot does ``pd.read_parquet(...)`` then ``tasks.iloc[i].name``: the text is whatever
    single string column the parquet's pandas metadata restores as the index, whatever its
    name (``task`` from LeRobot's writer, ``__index_level_0__`` from LeRobot 0.4.x's
    converter). Without such an index pandas makes a RangeIndex and the text read is the row
    number; a multi-column index gives tuples.
    """
    pandas_meta = (schema.metadata or {}).get(b"pandas")
    index_cols: list[Any] = []
    if pandas_meta:
        try:
            index_cols = list(json.loads(pandas_meta).get("index_columns", []))
        except (json.JSONDecodeError, AttributeError, TypeError):
            index_cols = []
    named = [c for c in index_cols if isinstance(c, str)]
    col = named[0] if len(index_cols) == 1 and len(named) == 1 else None
    if col is None or col not in schema.names:
        what = (
            f"a {len(index_cols)}-level pandas index: LeRobot would read tuples as task text"
            if len(index_cols) > 1
            else "the task text is not the pandas index (no pandas metadata, or a RangeIndex): "
            "LeRobot reads the text as tasks.iloc[i].name and would get integers"
        )
        ctx.add(
            "schema.tasks_columns",
            "error",
            what,
            "write it with pandas: DataFrame({'task_index': ...}, index=Index(tasks, name='task'))"
            ".to_parquet(...)",
            file=path,
        )
        return None
    kind = arrow_kind(schema.field(col).type)
    if kind != contract["index_kind"]:
        ctx.add(
            "schema.tasks_columns",
            "error",
            f"the pandas index {col!r} holding the task text has type {schema.field(col).type}, "
            "expected string",
            "the task text must be strings; re-convert",
            file=path,
        )
        return None
    return col


def load_episodes_v3(ctx: Context) -> None:
    ep_dir = ctx.root / "meta/episodes"
    files = sorted(ep_dir.glob("*/*.parquet"))
    total = ctx.info.get("total_episodes")
    if not files:
        if total:
            ctx.add(
                "structure.missing_file",
                "error",
                "no meta/episodes/chunk-*/file-*.parquet although total_episodes > 0",
                "LeRobot cannot locate any episode without its metadata; re-convert",
                file=ep_dir,
            )
        ctx.episodes_loaded = not total
        return
    contract = load_schema("episodes_v3.0.columns.json")
    per_video = {
        col.format(video_key=vk): kind
        for vk in ctx.video_keys
        for col, kind in contract["per_video_key"].items()
    }
    all_ok = True
    rows: list[EpisodeMeta] = []
    for path in files:
        pf = _open_parquet(ctx, path, "schema.unreadable")
        if pf is None:
            all_ok = False
            continue
        schema = pf.schema_arrow
        if not check_columns(ctx, schema, contract, "schema.episodes_columns", path, per_video):
            all_ok = False
            continue
        cols = [c for c in schema.names if not c.startswith("stats/")]
        try:
            # every column, as LeRobot's load_episodes (Dataset.from_parquet) reads them before
            # dropping stats/: an unreadable stats column fails LeRobot too
            table = pf.read().select(cols)
        except Exception as exc:
            ctx.add(
                "schema.unreadable", "error", f"cannot read rows: {exc}", "re-convert", file=path
            )
            all_ok = False
            continue
        rows.extend(_episode_rows_v3(ctx, table.to_pydict()))
    rows.sort(key=lambda e: e.episode_index)
    ctx.episodes = rows
    ctx.episodes_loaded = all_ok


def _episode_rows_v3(ctx: Context, d: dict[str, list[Any]]) -> list[EpisodeMeta]:
    tpl = ctx.data_template()
    vtpl = ctx.video_template()
    out = []
    for i in range(len(d["episode_index"])):
        chunk, file_ = int(d["data/chunk_index"][i]), int(d["data/file_index"][i])
        try:
            data_path = tpl.format(chunk_index=chunk, file_index=file_)
        except (KeyError, IndexError, ValueError):
            data_path = fmt.DATA_PATH.format(chunk_index=chunk, file_index=file_)
        ep = EpisodeMeta(
            episode_index=int(d["episode_index"][i]),
            length=int(d["length"][i]),
            tasks=list(d["tasks"][i] or []),
            data_path=data_path,
            from_index=int(d["dataset_from_index"][i]),
            to_index=int(d["dataset_to_index"][i]),
            data_chunk=chunk,
            data_file=file_,
        )
        for vk in ctx.video_keys:
            vc = int(d[f"videos/{vk}/chunk_index"][i])
            vf = int(d[f"videos/{vk}/file_index"][i])
            try:
                vpath = vtpl.format(video_key=vk, chunk_index=vc, file_index=vf)
            except (KeyError, IndexError, ValueError):
                vpath = fmt.VIDEO_PATH.format(video_key=vk, chunk_index=vc, file_index=vf)
            ep.videos[vk] = VideoRef(
                vpath,
                float(d[f"videos/{vk}/from_timestamp"][i]),
                float(d[f"videos/{vk}/to_timestamp"][i]),
                vc,
                vf,
            )
        out.append(ep)
    return out


# --- v2.x ----------------------------------------------------------------------------------
def _read_jsonl_checked(ctx: Context, rel: str, schema_name: str, check_id: str) -> list | None:
    path = ctx.root / rel
    if not path.is_file():
        return None
    try:
        rows = fmt.read_jsonl(path)
    except (ValueError, UnicodeDecodeError) as exc:
        ctx.add("schema.unreadable", "error", str(exc), "fix or regenerate this file", file=path)
        return None
    validator = _validator(schema_name)
    good = []
    for lineno, row in enumerate(rows, 1):
        errors = list(validator.iter_errors(row))
        for error in errors[:3]:
            ctx.add(
                check_id,
                "error",
                f"line {lineno}: {_where(error)}: {error.message}",
                f"each line must match validators/schemas/{schema_name}",
                file=path,
                episode=row.get("episode_index") if isinstance(row, dict) else None,
            )
        if not errors:
            good.append(row)
    return good


def load_tasks_legacy(ctx: Context) -> None:
    rows = _read_jsonl_checked(
        ctx, fmt.LEGACY_TASKS_PATH, "tasks_v2.1.schema.json", "schema.tasks_columns"
    )
    if rows is None:
        if not (ctx.root / fmt.LEGACY_TASKS_PATH).is_file():
            ctx.add(
                "structure.missing_file",
                "error",
                "meta/tasks.jsonl is missing",
                "a v2.x dataset lists its tasks in meta/tasks.jsonl",
                file=fmt.LEGACY_TASKS_PATH,
            )
        return
    tasks: dict[int, str] = {}
    for r in rows:
        if r["task_index"] in tasks:
            ctx.add(
                "schema.tasks_columns",
                "error",
                f"task_index {r['task_index']} appears twice",
                "task_index must be unique",
                file=fmt.LEGACY_TASKS_PATH,
            )
        tasks[int(r["task_index"])] = r["task"]
    ctx.tasks = tasks


def load_episodes_legacy(ctx: Context) -> None:
    rows = _read_jsonl_checked(
        ctx, fmt.LEGACY_EPISODES_PATH, "episodes_v2.1.schema.json", "schema.episodes_columns"
    )
    if rows is None:
        if not (ctx.root / fmt.LEGACY_EPISODES_PATH).is_file():
            ctx.add(
                "structure.missing_file",
                "error",
                "meta/episodes.jsonl is missing",
                "a v2.x dataset lists its episodes in meta/episodes.jsonl",
                file=fmt.LEGACY_EPISODES_PATH,
            )
        return
    tpl, vtpl, csize = ctx.data_template(), ctx.video_template(), ctx.chunks_size()
    rows.sort(key=lambda r: r["episode_index"])
    start = 0
    episodes = []
    for r in rows:
        ei, length = int(r["episode_index"]), int(r["length"])
        chunk = ei // csize
        try:
            data_path = tpl.format(episode_chunk=chunk, episode_index=ei)
        except (KeyError, IndexError, ValueError):
            data_path = fmt.LEGACY_DATA_PATH.format(episode_chunk=chunk, episode_index=ei)
        ep = EpisodeMeta(ei, length, list(r["tasks"]), data_path, start, start + length)
        for vk in ctx.video_keys:
            try:
                vpath = vtpl.format(episode_chunk=chunk, episode_index=ei, video_key=vk)
            except (KeyError, IndexError, ValueError):
                vpath = fmt.LEGACY_VIDEO_PATH.format(
                    episode_chunk=chunk, episode_index=ei, video_key=vk
                )
            ep.videos[vk] = VideoRef(vpath, 0.0, length / ctx.fps if ctx.fps else 0.0)
        episodes.append(ep)
        start += length
    ctx.episodes = episodes
    ctx.episodes_loaded = True
    if ctx.version != fmt.V20:
        stats_rows = _read_jsonl_checked(
            ctx,
            fmt.LEGACY_EPISODES_STATS_PATH,
            "episodes_stats_v2.1.schema.json",
            "schema.episodes_stats_columns",
        )
        if stats_rows is not None:
            ctx.episode_stats = {int(r["episode_index"]): r["stats"] for r in stats_rows}
