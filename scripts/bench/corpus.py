"""A corpus of deliberately broken datasets, for the validator's tests and its benchmark.

Each ``Mutation`` copies nothing itself: it edits a dataset directory *in place*, so callers
apply it to a fresh copy (``make_mutant``). Every mutation names the check id the validator
must report for it, per format. Only pyarrow, PyAV and the standard library are used.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from validators import dataset_format as fmt


@dataclass(frozen=True)
class Mutation:
    """One way to break a dataset and the check id that must catch it."""

    name: str
    apply: Callable[[Path], None]
    expect: dict[str, str]  # "v2.1" / "v3.0" -> check id (a format missing: not applicable)
    severity: str = "error"
    integrity: bool = True  # a format/integrity fault (compared with lerobot-doctor)


def version_of(root: Path) -> str:
    v = json.loads((root / fmt.INFO_PATH).read_text()).get("codebase_version")
    return fmt.V30 if v == fmt.V30 else fmt.V21


def make_mutant(clean: Path, dst: Path, mutation: Mutation) -> Path:
    shutil.copytree(clean, dst)
    mutation.apply(dst)
    return dst


# --- small helpers --------------------------------------------------------------------------
def _info(root: Path) -> dict[str, Any]:
    return json.loads((root / fmt.INFO_PATH).read_text())


def _write_info(root: Path, info: dict[str, Any]) -> None:
    (root / fmt.INFO_PATH).write_text(json.dumps(info, indent=4))


def _data_files(root: Path) -> list[Path]:
    return sorted((root / "data").glob("*/*.parquet"))


def _video_files(root: Path) -> list[Path]:
    return sorted((root / "videos").glob("**/*.mp4"))


def _read(path: Path) -> Any:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).read()


def _write(table: Any, path: Path) -> None:
    import pyarrow.parquet as pq

    pq.write_table(table, path)


def _set_column(table: Any, name: str, values: list[Any]) -> Any:
    import pyarrow as pa

    i = table.schema.get_field_index(name)
    field = table.schema.field(i)
    return table.set_column(i, field, pa.array(values, type=field.type))


def _episode_rows(table: Any, episode: int) -> list[int]:
    eps = table.column("episode_index").to_pylist()
    return [i for i, e in enumerate(eps) if e == episode]


def _file_with_episode(root: Path, episode: int) -> Path:
    for path in _data_files(root):
        if _episode_rows(_read(path), episode):
            return path
    raise FileNotFoundError(f"no data file holds episode {episode}")


def _edit_rows(
    root: Path, episode: int, column: str, edit: Callable[[list, list[int]], None]
) -> None:
    path = _file_with_episode(root, episode)
    table = _read(path)
    values = table.column(column).to_pylist()
    edit(values, _episode_rows(table, episode))
    _write(_set_column(table, column, values), path)


def _episodes_meta_file(root: Path) -> Path:
    return sorted((root / "meta/episodes").glob("*/*.parquet"))[0]


def _edit_episodes_meta(root: Path, column: str, episode: int, value: Any) -> None:
    path = _episodes_meta_file(root)
    table = _read(path)
    values = table.column(column).to_pylist()
    row = table.column("episode_index").to_pylist().index(episode)
    values[row] = value(values[row]) if callable(value) else value
    _write(_set_column(table, column, values), path)


# --- mutations ------------------------------------------------------------------------------
def truncate_video(root: Path) -> None:
    path = _video_files(root)[0]
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 6 // 10])


def delete_video(root: Path) -> None:
    _video_files(root)[-1].unlink()


def drop_frame(root: Path) -> None:
    path = _file_with_episode(root, 1)
    table = _read(path)
    row = _episode_rows(table, 1)[5]
    _write(_drop_row(table, row), path)


def _drop_row(table: Any, row: int) -> Any:
    import pyarrow as pa

    return pa.concat_tables([table.slice(0, row), table.slice(row + 1)])


def jitter_timestamp(root: Path) -> None:
    def edit(values: list, rows: list[int]) -> None:
        values[rows[5]] = values[rows[5]] + 0.004  # 4 ms: 40x LeRobot's tolerance_s

    _edit_rows(root, 1, "timestamp", edit)


def nan_action(root: Path) -> None:
    def edit(values: list, rows: list[int]) -> None:
        vec = list(values[rows[3]])
        vec[2] = float("nan")
        values[rows[3]] = vec

    _edit_rows(root, 1, "action", edit)


def wrong_total_frames(root: Path) -> None:
    info = _info(root)
    info["total_frames"] += 1
    _write_info(root, info)


def overlap_ranges(root: Path) -> None:
    _edit_episodes_meta(root, "dataset_from_index", 1, lambda v: v - 3)
    _edit_episodes_meta(root, "dataset_to_index", 1, lambda v: v - 3)


def dangling_file_index(root: Path) -> None:
    _edit_episodes_meta(root, "data/file_index", 2, 7)


def stats_nan(root: Path) -> None:
    if version_of(root) == fmt.V30:
        stats = json.loads((root / fmt.STATS_PATH).read_text())
        stats["action"]["mean"][0] = float("nan")
        (root / fmt.STATS_PATH).write_text(json.dumps(stats))
    else:
        path = root / fmt.LEGACY_EPISODES_STATS_PATH
        rows = fmt.read_jsonl(path)
        rows[0]["stats"]["action"]["std"][1] = float("nan")
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def shape_disagrees(root: Path) -> None:
    info = _info(root)
    info["features"]["action"]["shape"] = [info["features"]["action"]["shape"][0] + 1]
    _write_info(root, info)


def corrupt_footer(root: Path) -> None:
    path = _data_files(root)[0]
    data = path.read_bytes()
    path.write_bytes(data[:-12] + b"\x00" * 12)  # footer length + "PAR1" magic destroyed


def _reencode(path: Path, *, scale: int = 1, fps: int | None = None) -> None:
    """Re-encode every frame of a video (AV1 like the source), bigger or at another fps."""
    from fractions import Fraction

    import av

    with av.open(str(path)) as src:
        s = src.streams.video[0]
        rate = fps or round(float(s.base_rate or 30))
        width, height = s.codec_context.width * scale, s.codec_context.height * scale
        frames = [f.to_ndarray(format="rgb24") for f in src.decode(s)]
    tmp = path.with_suffix(".tmp.mp4")
    with av.open(str(tmp), "w") as dst:
        try:
            out = dst.add_stream("libsvtav1", rate=rate)
        except Exception:  # an ffmpeg build without SVT-AV1
            out = dst.add_stream("libx264", rate=rate)
        out.width, out.height, out.pix_fmt = width, height, "yuv420p"
        out.time_base = Fraction(1, rate)
        for i, arr in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(arr, format="rgb24")
            if scale != 1:
                frame = frame.reformat(width=width, height=height)
            frame.pts = i
            for packet in out.encode(frame):
                dst.mux(packet)
        for packet in out.encode():
            dst.mux(packet)
    tmp.replace(path)


def video_wrong_size(root: Path) -> None:
    _reencode(_video_files(root)[0], scale=2)


def video_wrong_fps(root: Path) -> None:
    _reencode(_video_files(root)[0], fps=15)


def unknown_task_index(root: Path) -> None:
    def edit(values: list, rows: list[int]) -> None:
        for r in rows:
            values[r] = 9

    _edit_rows(root, 0, "task_index", edit)


def zero_variance(root: Path) -> None:
    """Joint 0 of the action never moves: the rows hold 1.5 and the per-episode and aggregate
    stats say so (the stats check recomputes them from the rows, so both must agree)."""
    for data_file in _data_files(root):
        table = _read(data_file)
        actions = table.column("action").to_pylist()
        for a in actions:
            a[0] = 1.5
        _write(_set_column(table, "action", actions), data_file)

    def flatten(st: dict[str, Any]) -> None:
        for key in ("min", "max", "mean", *fmt.QUANTILE_KEYS):
            if key in st:
                st[key][0] = 1.5
        st["std"][0] = 0.0

    if version_of(root) == fmt.V30:
        stats = json.loads((root / fmt.STATS_PATH).read_text())
        flatten(stats["action"])
        (root / fmt.STATS_PATH).write_text(json.dumps(stats))
        path = _episodes_meta_file(root)
        table = _read(path)
        for stat in ("min", "max", "mean", "std", *fmt.QUANTILE_KEYS):
            col = f"stats/action/{stat}"
            if col not in table.column_names:
                continue
            values = table.column(col).to_pylist()
            for v in values:
                v[0] = 0.0 if stat == "std" else 1.5
            table = _set_column(table, col, values)
        _write(table, path)
    else:
        path = root / fmt.LEGACY_EPISODES_STATS_PATH
        rows = fmt.read_jsonl(path)
        for r in rows:
            flatten(r["stats"]["action"])
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def wrong_total_episodes(root: Path) -> None:
    info = _info(root)
    info["total_episodes"] += 2
    _write_info(root, info)


def shift_from_timestamp(root: Path) -> None:
    key = next(k for k, ft in _info(root)["features"].items() if ft["dtype"] == "video")
    for end in ("from_timestamp", "to_timestamp"):  # same window length, half a frame late
        _edit_episodes_meta(root, f"videos/{key}/{end}", 1, lambda v: v + 0.5 / 30)


def tasks_without_index(root: Path) -> None:
    import pyarrow as pa

    path = root / fmt.TASKS_PATH
    table = _read(path)
    plain = pa.table({"task_index": table.column("task_index"), "task": table.column("task")})
    _write(plain, path)


def drop_episodes_column(root: Path) -> None:
    path = _episodes_meta_file(root)
    table = _read(path)
    _write(table.drop_columns(["dataset_to_index"]), path)


def break_index(root: Path) -> None:
    def edit(values: list, rows: list[int]) -> None:
        for r in rows:
            values[r] = values[r] + 1000

    _edit_rows(root, 2, "index", edit)


def stats_disorder(root: Path) -> None:
    if version_of(root) == fmt.V30:
        stats = json.loads((root / fmt.STATS_PATH).read_text())
        st = stats["observation.state"]
        st["min"][0], st["max"][0] = st["max"][0] + 1, st["min"][0] - 1
        (root / fmt.STATS_PATH).write_text(json.dumps(stats))
    else:
        path = root / fmt.LEGACY_EPISODES_STATS_PATH
        rows = fmt.read_jsonl(path)
        st = rows[1]["stats"]["observation.state"]
        st["min"][0], st["max"][0] = st["max"][0] + 1, st["min"][0] - 1
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def stale_stats(root: Path) -> None:
    stats = json.loads((root / fmt.STATS_PATH).read_text())
    stats["observation.state"]["mean"] = [m + 5.0 for m in stats["observation.state"]["mean"]]
    (root / fmt.STATS_PATH).write_text(json.dumps(stats))


def info_missing_fps(root: Path) -> None:
    info = _info(root)
    info["fps"] = "thirty"
    _write_info(root, info)


def missing_data_file(root: Path) -> None:
    _data_files(root)[-1].unlink()


MUTATIONS: tuple[Mutation, ...] = (
    Mutation(
        "truncated_video", truncate_video, {fmt.V21: "video.truncated", fmt.V30: "video.truncated"}
    ),
    Mutation(
        "missing_video",
        delete_video,
        {fmt.V21: "structure.missing_file", fmt.V30: "structure.dangling_file_index"},
    ),
    Mutation(
        "dropped_frame",
        drop_frame,
        {fmt.V21: "data.episode_length", fmt.V30: "data.episode_length"},
    ),
    Mutation(
        "jittered_timestamp",
        jitter_timestamp,
        {fmt.V21: "data.timestamp_tolerance", fmt.V30: "data.timestamp_tolerance"},
    ),
    Mutation("nan_action", nan_action, {fmt.V21: "data.non_finite", fmt.V30: "data.non_finite"}),
    Mutation(
        "wrong_total_frames",
        wrong_total_frames,
        {fmt.V21: "structure.total_frames", fmt.V30: "structure.total_frames"},
    ),
    Mutation("overlapping_ranges", overlap_ranges, {fmt.V30: "structure.index_ranges"}),
    Mutation(
        "dangling_file_index", dangling_file_index, {fmt.V30: "structure.dangling_file_index"}
    ),
    Mutation("stats_nan", stats_nan, {fmt.V21: "stats.non_finite", fmt.V30: "stats.non_finite"}),
    Mutation(
        "shape_mismatch",
        shape_disagrees,
        {fmt.V21: "data.shape_mismatch", fmt.V30: "data.shape_mismatch"},
    ),
    Mutation(
        "corrupt_parquet_footer",
        corrupt_footer,
        {fmt.V21: "data.unreadable_parquet", fmt.V30: "data.unreadable_parquet"},
    ),
    Mutation(
        "video_wrong_size",
        video_wrong_size,
        {fmt.V21: "video.size_mismatch", fmt.V30: "video.size_mismatch"},
    ),
    Mutation(
        "video_wrong_fps",
        video_wrong_fps,
        {fmt.V21: "video.fps_mismatch", fmt.V30: "video.fps_mismatch"},
    ),
    Mutation(
        "unknown_task_index",
        unknown_task_index,
        {fmt.V21: "data.unknown_task_index", fmt.V30: "data.unknown_task_index"},
    ),
    Mutation(
        "zero_variance",
        zero_variance,
        {fmt.V21: "stats.zero_variance", fmt.V30: "stats.zero_variance"},
        severity="warning",
        integrity=False,
    ),
    Mutation(
        "wrong_total_episodes",
        wrong_total_episodes,
        {fmt.V21: "structure.total_episodes", fmt.V30: "structure.total_episodes"},
    ),
    Mutation(
        "video_from_timestamp_shift", shift_from_timestamp, {fmt.V30: "video.timestamp_tolerance"}
    ),
    Mutation("tasks_not_pandas_index", tasks_without_index, {fmt.V30: "schema.tasks_columns"}),
    Mutation("episodes_column_missing", drop_episodes_column, {fmt.V30: "schema.episodes_columns"}),
    Mutation("index_not_position", break_index, {fmt.V30: "data.index"}),
    Mutation(
        "stats_min_above_max", stats_disorder, {fmt.V21: "stats.order", fmt.V30: "stats.order"}
    ),
    Mutation("stale_aggregate_stats", stale_stats, {fmt.V30: "stats.aggregate_mismatch"}),
    Mutation("info_bad_fps", info_missing_fps, {fmt.V21: "schema.info", fmt.V30: "schema.info"}),
    Mutation(
        "missing_data_file",
        missing_data_file,
        {fmt.V21: "structure.missing_file", fmt.V30: "structure.dangling_file_index"},
    ),
)


def applicable(version: str) -> list[Mutation]:
    return [m for m in MUTATIONS if version in m.expect]


# --- more faults, one per remaining check id (tests only; the benchmark uses MUTATIONS) ------
def _info_set(**changes: Any) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        info = _info(root)
        info.update(changes)
        _write_info(root, info)

    return apply


def _info_bump(key: str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        info = _info(root)
        info[key] += 1
        _write_info(root, info)

    return apply


def _video_info_set(key: str, value: Any) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        info = _info(root)
        vk = next(k for k, ft in info["features"].items() if ft["dtype"] == "video")
        info["features"][vk]["info"][key] = value
        _write_info(root, info)

    return apply


def _table_edit(fn: Callable[[Any], Any]) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        path = _data_files(root)[0]
        _write(fn(_read(path)), path)

    return apply


def swap_timestamps(root: Path) -> None:
    def edit(values: list, rows: list[int]) -> None:
        values[rows[4]], values[rows[5]] = values[rows[5]], values[rows[4]]

    _edit_rows(root, 0, "timestamp", edit)


def bad_frame_index(root: Path) -> None:
    def edit(values: list, rows: list[int]) -> None:
        values[rows[3]] = 99

    _edit_rows(root, 0, "frame_index", edit)


def null_task_index(root: Path) -> None:
    def edit(values: list, rows: list[int]) -> None:
        values[rows[2]] = None

    _edit_rows(root, 0, "task_index", edit)


def _drop_state(table: Any) -> Any:
    return table.drop_columns(["observation.state"])


def _extra_column(table: Any) -> Any:
    import pyarrow as pa

    return table.append_column("reward", pa.array([0.0] * table.num_rows))


def _action_float64(table: Any) -> Any:
    import pyarrow as pa

    i = table.schema.get_field_index("action")
    n = len(table.column("action").to_pylist()[0])
    return table.set_column(i, "action", table.column("action").cast(pa.list_(pa.float64(), n)))


def replace_video_with_junk(root: Path) -> None:
    # well-formed MP4 boxes (so not "truncated"), but no moov and no stream: unreadable
    _video_files(root)[0].write_bytes(b"\x00\x00\x00\x08free\x00\x00\x00\x18mdat" + b"x" * 16)


def episode_past_video_end(root: Path) -> None:
    key = next(k for k, ft in _info(root)["features"].items() if ft["dtype"] == "video")
    last = len(_read(_episodes_meta_file(root)).column("episode_index")) - 1
    _edit_episodes_meta(root, f"videos/{key}/to_timestamp", last, lambda v: v + 1.0)


def episode_window_short(root: Path) -> None:
    key = next(k for k, ft in _info(root)["features"].items() if ft["dtype"] == "video")
    _edit_episodes_meta(root, f"videos/{key}/to_timestamp", 1, lambda v: v - 2 / 30)


def delete_stats(root: Path) -> None:
    rel = fmt.STATS_PATH if version_of(root) == fmt.V30 else fmt.LEGACY_EPISODES_STATS_PATH
    (root / rel).unlink()


def wrong_stats_count(root: Path) -> None:
    path = root / fmt.LEGACY_EPISODES_STATS_PATH
    rows = fmt.read_jsonl(path)
    rows[0]["stats"]["action"]["count"] = [999]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def malformed_stats_line(root: Path) -> None:
    path = root / fmt.LEGACY_EPISODES_STATS_PATH
    rows = fmt.read_jsonl(path)
    del rows[1]["stats"]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def both(check_id: str) -> dict[str, str]:
    return {fmt.V21: check_id, fmt.V30: check_id}


def wrong_episode_index(root: Path) -> None:
    def edit(values: list, rows: list[int]) -> None:
        values[rows[-1]] = 2

    _edit_rows(root, 1, "episode_index", edit)


def short_stats_vector(root: Path) -> None:
    if version_of(root) == fmt.V30:
        stats = json.loads((root / fmt.STATS_PATH).read_text())
        stats["action"]["mean"] = stats["action"]["mean"][:-1]
        (root / fmt.STATS_PATH).write_text(json.dumps(stats))
    else:
        path = root / fmt.LEGACY_EPISODES_STATS_PATH
        rows = fmt.read_jsonl(path)
        rows[0]["stats"]["action"]["mean"] = rows[0]["stats"]["action"]["mean"][:-1]
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _write_text(rel: str, text: str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        (root / rel).write_text(text)

    return apply


def _edit_episode_stat(
    feature: str, stat: str, episode: int, edit: Callable[[list, dict], None]
) -> Callable[[Path], None]:
    """Edit one episode's recorded ``stat`` vector (v3.0 meta/episodes, v2.1 jsonl) in place;
    ``edit(vector, all_stats_of_the_feature)``."""

    def apply(root: Path) -> None:
        if version_of(root) == fmt.V30:
            path = _episodes_meta_file(root)
            table = _read(path)
            row = table.column("episode_index").to_pylist().index(episode)
            prefix = f"stats/{feature}/"
            st = {
                c[len(prefix) :]: table.column(c)[row].as_py()
                for c in table.column_names
                if c.startswith(prefix)
            }
            values = table.column(prefix + stat).to_pylist()
            edit(values[row], st)
            _write(_set_column(table, prefix + stat, values), path)
        else:
            path = root / fmt.LEGACY_EPISODES_STATS_PATH
            rows = fmt.read_jsonl(path)
            r = next(r for r in rows if r["episode_index"] == episode)
            edit(r["stats"][feature][stat], r["stats"][feature])
            path.write_text("".join(json.dumps(r) + "\n" for r in rows))

    return apply


def _set(i: int, fn: Callable[[float, dict], float]) -> Callable[[list, dict], None]:
    def edit(vec: list, st: dict) -> None:
        vec[i] = fn(vec[i], st)

    return edit


# LeRobot 0.6.1's float32 cancellation: a moving joint's std written as 0, or 3x too large;
# a stale mean one std off. Each edits one episode's recorded stats; the rows are untouched.
STD_COLLAPSED = _edit_episode_stat("action", "std", 1, _set(1, lambda v, st: 0.0))
STD_TRIPLED = _edit_episode_stat("observation.state", "std", 0, _set(2, lambda v, st: 3 * v))
MEAN_SHIFTED = _edit_episode_stat(
    "action", "mean", 2, _set(3, lambda v, st: v + st["std"][3] if st["std"][3] else v + 1.0)
)

W = "warning"
EXTRA_MUTATIONS: tuple[Mutation, ...] = (
    Mutation("wrong_total_tasks", _info_bump("total_tasks"), both("structure.total_tasks")),
    Mutation("wrong_total_videos", _info_bump("total_videos"), {fmt.V21: "structure.total_videos"}),
    Mutation(
        "split_out_of_range", _info_set(splits={"train": "0:99"}), both("structure.splits"), W
    ),
    Mutation("timestamps_swapped", swap_timestamps, both("data.timestamp_order")),
    Mutation("frame_index_wrong", bad_frame_index, both("data.frame_index")),
    Mutation("episode_index_wrong", wrong_episode_index, both("data.episode_index_mismatch")),
    Mutation("null_task_index", null_task_index, both("data.null_values")),
    Mutation("state_column_missing", _table_edit(_drop_state), both("data.missing_column")),
    Mutation("undeclared_column", _table_edit(_extra_column), both("data.extra_column"), W),
    Mutation("action_float64", _table_edit(_action_float64), both("data.dtype_mismatch")),
    Mutation("info_codec", _video_info_set("video.codec", "h264"), both("video.codec_mismatch"), W),
    Mutation(
        "info_pix_fmt",
        _video_info_set("video.pix_fmt", "yuv444p"),
        both("video.pix_fmt_mismatch"),
        W,
    ),
    Mutation("video_junk", replace_video_with_junk, both("video.unreadable")),
    Mutation("episode_past_video_end", episode_past_video_end, {fmt.V30: "video.episode_range"}),
    Mutation("episode_video_window_short", episode_window_short, {fmt.V30: "video.frame_count"}),
    Mutation("stats_deleted", delete_stats, both("stats.missing")),
    Mutation("stats_short_vector", short_stats_vector, both("stats.shape_mismatch")),
    Mutation("stats_json_garbage", _write_text(fmt.STATS_PATH, "{"), {fmt.V30: "stats.unreadable"}),
    Mutation("stats_count_wrong", wrong_stats_count, {fmt.V21: "stats.count_mismatch"}),
    Mutation(
        "episodes_stats_malformed", malformed_stats_line, {fmt.V21: "schema.episodes_stats_columns"}
    ),
    Mutation(
        "version_unknown", _info_set(codebase_version="v2.5"), both("schema.version_unsupported")
    ),
    Mutation(
        "tasks_parquet_junk", _write_text(fmt.TASKS_PATH, "junk"), {fmt.V30: "schema.unreadable"}
    ),
    Mutation("stats_std_collapsed", STD_COLLAPSED, both("stats.std_collapsed"), integrity=False),
    Mutation("stats_std_tripled", STD_TRIPLED, both("stats.std_mismatch"), integrity=False),
    Mutation(
        "stats_mean_shifted", MEAN_SHIFTED, both("stats.mean_min_max_mismatch"), integrity=False
    ),
)


# --- near the tolerances (issue 16) -----------------------------------------------------------
# Each tolerance the validator applies, crossed by a factor of ~2 (NEAR_THRESHOLD: must be
# reported) and approached to about half of it (WITHIN_TOLERANCE: ``expect`` names the check
# that must stay silent; the dataset must have no finding at all). A loosened or tightened
# tolerance fails one side; the far-off cases above (4 ms jitter, half a frame) cannot.
def _jitter(seconds: float) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        def edit(values: list, rows: list[int]) -> None:
            values[rows[5]] = values[rows[5]] + seconds

        _edit_rows(root, 1, "timestamp", edit)

    return apply


def _shift_window(seconds: float) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        key = next(k for k, ft in _info(root)["features"].items() if ft["dtype"] == "video")
        for end in ("from_timestamp", "to_timestamp"):
            _edit_episodes_meta(root, f"videos/{key}/{end}", 1, lambda v: v + seconds)

    return apply


AGG_RTOL = AGG_ATOL_RANGE = 1e-4  # validators.stats.check_aggregate's np.allclose


def _stale_mean(factor: float) -> Callable[[Path], None]:
    """stats.json's first state mean moved by ``factor`` x the aggregate check's allowance."""

    def apply(root: Path) -> None:
        stats = json.loads((root / fmt.STATS_PATH).read_text())
        st = stats["observation.state"]
        allowed = AGG_ATOL_RANGE * abs(st["max"][0] - st["min"][0]) + AGG_RTOL * abs(st["mean"][0])
        st["mean"][0] += factor * allowed
        (root / fmt.STATS_PATH).write_text(json.dumps(stats))

    return apply


def _scaled_std(factor: float) -> Callable[[Path], None]:
    return _edit_episode_stat("observation.state", "std", 0, _set(0, lambda v, st: v * factor))


def _shifted_mean(stds: float) -> Callable[[Path], None]:
    return _edit_episode_stat(
        "observation.state", "mean", 0, _set(0, lambda v, st: v + stds * st["std"][0])
    )


def _shifted_max(ranges: float) -> Callable[[Path], None]:
    return _edit_episode_stat(
        "observation.state", "max", 0, _set(0, lambda v, st: v + ranges * (v - st["min"][0]))
    )


TS = fmt.TOLERANCE_S  # LeRobotDataset(tolerance_s=1e-4)
NEAR_THRESHOLD: tuple[Mutation, ...] = (
    Mutation("jitter_2x_tolerance", _jitter(2 * TS), both("data.timestamp_tolerance")),
    Mutation(
        "window_shift_2x_tolerance", _shift_window(2 * TS), {fmt.V30: "video.timestamp_tolerance"}
    ),
    Mutation("stale_mean_2x_allowance", _stale_mean(2.0), {fmt.V30: "stats.aggregate_mismatch"}),
    # stats_exact: std 1 % (warning) and 10 % (error); mean/min/max 0.01 (warning), 0.1 (error)
    Mutation("std_1.3pct_off", _scaled_std(1.013), both("stats.std_mismatch"), W, False),
    Mutation("std_13pct_off", _scaled_std(1.13), both("stats.std_mismatch"), integrity=False),
    Mutation(
        "std_0.7pct_of_true", _scaled_std(0.007), both("stats.std_collapsed"), integrity=False
    ),
    Mutation(
        "mean_0.013_std_off", _shifted_mean(0.013), both("stats.mean_min_max_mismatch"), W, False
    ),
    Mutation(
        "mean_0.13_std_off",
        _shifted_mean(0.13),
        both("stats.mean_min_max_mismatch"),
        integrity=False,
    ),
    Mutation(
        "max_0.13_range_off",
        _shifted_max(0.13),
        both("stats.mean_min_max_mismatch"),
        integrity=False,
    ),
)
WITHIN_TOLERANCE: tuple[Mutation, ...] = (
    Mutation("jitter_half_tolerance", _jitter(0.5 * TS), both("data.timestamp_tolerance")),
    Mutation(
        "window_shift_half_tolerance",
        _shift_window(0.5 * TS),
        {fmt.V30: "video.timestamp_tolerance"},
    ),
    Mutation("stale_mean_half_allowance", _stale_mean(0.5), {fmt.V30: "stats.aggregate_mismatch"}),
    Mutation("std_0.7pct_off", _scaled_std(1.007), both("stats.std_mismatch")),
    Mutation("std_7pct_off", _scaled_std(1.07), both("stats.std_mismatch"), W),  # warning only
    Mutation("std_1.3pct_of_true", _scaled_std(0.013), both("stats.std_collapsed")),
    Mutation("mean_0.007_std_off", _shifted_mean(0.007), both("stats.mean_min_max_mismatch")),
    Mutation("mean_0.07_std_off", _shifted_mean(0.07), both("stats.mean_min_max_mismatch"), W),
    Mutation("max_0.07_range_off", _shifted_max(0.07), both("stats.mean_min_max_mismatch"), W),
)
"""Within a tolerance. Severity ``error`` (the default): ``expect``'s check must not be
reported at all. Severity ``warning``: past the warning threshold but under the error one, so
it must be reported as a warning and nothing as an error."""
