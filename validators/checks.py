"""The catalogue of check ids: stable names users and scripts can grep for.

A test asserts that every id the code reports is listed here and every id listed here is
reported by the code, so this table is the reference (``python -m validators --list-checks``).
Severity is the usual one; a few ids are a warning in one situation and an error in another
(noted in the text).
"""

from __future__ import annotations

CHECKS: dict[str, tuple[str, str]] = {
    # schema
    "schema.info": ("error", "meta/info.json violates the JSON Schema of its format version"),
    "schema.version_unsupported": ("error", "codebase_version is not v2.0, v2.1 or v3.0"),
    "schema.unreadable": ("error", "a metadata file (parquet/jsonl) cannot be read"),
    "schema.episodes_columns": ("error", "episode metadata columns/fields missing or mistyped"),
    "schema.episodes_stats_columns": ("error", "a meta/episodes_stats.jsonl line is malformed"),
    "schema.tasks_columns": (
        "error",
        "tasks metadata malformed: missing/mistyped column, duplicate task_index, 'task' not "
        "the pandas index (LeRobot would read integers as task text)",
    ),
    # structure
    "structure.missing_file": ("error", "a file the format or the templates imply is missing"),
    "structure.dangling_file_index": (
        "error",
        "a v3.0 episode's chunk/file index points at a file that does not exist",
    ),
    "structure.orphan_file": ("warning", "a data/video file no episode refers to"),
    "structure.episode_indices": ("error", "duplicate episode, or v3.0 indices not 0..N-1"),
    "structure.episode_gaps": ("warning", "v2.x episode indices have gaps (deleted episodes)"),
    "structure.total_episodes": ("error", "total_episodes disagrees with the episode metadata"),
    "structure.total_frames": ("error", "total_frames disagrees with the rows in the data"),
    "structure.total_tasks": ("error", "total_tasks disagrees with the tasks metadata"),
    "structure.total_videos": ("error", "total_videos disagrees (v3.0: warning, unused)"),
    "structure.index_ranges": (
        "error",
        "dataset_from/to_index not contiguous, overlapping, or not covering the data",
    ),
    "structure.episode_file_mismatch": (
        "error",
        "an episode's rows are not in the data file its metadata names",
    ),
    "structure.splits": ("warning", "a split range lies outside 0:total_episodes"),
    # data
    "data.unreadable_parquet": ("error", "a data parquet cannot be opened (corrupt footer)"),
    "data.missing_column": ("error", "a feature declared in info.json has no column"),
    "data.extra_column": ("warning", "a column not declared in features"),
    "data.dtype_mismatch": ("error", "a column's type disagrees with features[...]['dtype']"),
    "data.shape_mismatch": ("error", "a column's shape disagrees with features[...]['shape']"),
    "data.null_values": ("error", "nulls in a bookkeeping column"),
    "data.index": ("error", "'index' is not the row position (v2.x: warning)"),
    "data.episode_length": ("error", "an episode's row count disagrees with its metadata length"),
    "data.episode_index_mismatch": (
        "error",
        "rows carry an episode_index the metadata disagrees with",
    ),
    "data.frame_index": ("error", "frame_index is not 0..length-1 within an episode"),
    "data.timestamp_tolerance": ("error", "timestamp != frame_index / fps within tolerance_s"),
    "data.timestamp_order": ("error", "timestamps do not strictly increase"),
    "data.unknown_task_index": ("error", "task_index not in the tasks metadata"),
    "data.non_finite": ("error", "NaN or Inf in a floating-point feature"),
    "data.slow_loop": (
        "warning",
        "a make record episode whose real loop rate (its tick periods, kept beside the data) "
        "was below 95 % of fps",
    ),
    # video
    "video.unreadable": ("error", "a video cannot be opened or demuxed"),
    "video.truncated": ("error", "a video file is cut short"),
    "video.decode_error": ("error", "deep mode: frames fail to decode"),
    "video.size_mismatch": ("error", "frame size disagrees with the feature shape/info"),
    "video.fps_mismatch": ("error", "stream fps disagrees with the dataset fps"),
    "video.codec_mismatch": ("warning", "stream codec disagrees with info video.codec"),
    "video.pix_fmt_mismatch": ("warning", "stream pixel format disagrees with info"),
    "video.episode_range": ("error", "an episode's [from, to] timestamps lie outside the file"),
    "video.frame_count": ("error", "video frames in an episode's range != its data rows"),
    "video.timestamp_tolerance": (
        "error",
        "a frame LeRobot will look up (from_timestamp + timestamp) has no video frame within "
        "tolerance_s",
    ),
    # stats
    "stats.unreadable": ("error", "meta/stats.json is not valid JSON"),
    "stats.missing": ("error", "stats file, feature or statistic missing"),
    "stats.shape_mismatch": ("error", "a statistic has the wrong shape"),
    "stats.non_finite": ("error", "NaN/Inf in the stats"),
    "stats.order": ("error", "min <= mean <= max, std >= 0 or quantile order violated"),
    "stats.count_mismatch": ("error", "per-episode count != episode length"),
    "stats.aggregate_mismatch": ("error", "stats.json disagrees with the per-episode stats"),
    "stats.zero_variance": ("warning", "a dimension never changes (std 0): normalisation / 0"),
    "stats.std_collapsed": (
        "error",
        "recorded std ~0 (< 1 % of the true std) while the rows vary (LeRobot 0.6.x float32 "
        "cancellation on offset features); quick mode: std < (max-min)/sqrt(2n)",
    ),
    "stats.std_mismatch": (
        "error",
        "recorded std vs the rows (float64): error above 10 %, warning above 1 % (and for a "
        "constant dimension); quick mode: std outside what min/max/mean/count allow",
    ),
    "stats.mean_min_max_mismatch": (
        "error",
        "recorded mean/min/max vs the rows beyond float32 rounding: error above 0.1 std (mean) "
        "or 0.1 x range (min/max), warning above 0.01",
    ),
    # behaviour (issue 27; thresholds relative to the dataset's spread: behaviour/thresholds.py)
    "behaviour.dead_joint": (
        "error",
        "a dimension never moves in any episode (error); in one episode while it moves in the "
        "others (warning)",
    ),
    "behaviour.frozen_state": ("warning", "the state repeats one row >= 0.5 s as the action moves"),
    "behaviour.wraparound": ("warning", "a jump > 80 % of the spread that stays (a wrapped angle)"),
    "behaviour.spike": ("warning", "a 1-2 frame excursion out and back (> 20 % of the spread)"),
    "behaviour.episode_offset": ("warning", "an episode outside every other episode's range"),
    "behaviour.swapped_joints": ("warning", "two dimensions each inside the other's range"),
    "behaviour.idle_episode": (
        "warning",
        "every dimension within 2 % of its spread",
    ),
    "behaviour.short_episode": ("warning", "an episode under 20 % of the median length"),
    "behaviour.duplicate_episode": ("error", "an episode with the same rows as an earlier one"),
    "behaviour.gripper_never_opens": (
        "warning",
        "a *gripper* dimension within 5 % of its spread while most episodes open it",
    ),
    "behaviour.frozen_camera": ("warning", "a camera shows the same picture all episode (sampled)"),
    "behaviour.action_copies_state": ("warning", "action == state (no lead) in >= 90 % of values"),
    "behaviour.slow_loop": ("warning", "timestamps spaced > 1.1 / fps (median)"),
    # readiness (with --recipe)
    "readiness.recipe": ("error", "the recipe is inconsistent (n_action_steps > chunk_size)"),
    "readiness.missing_feature": ("error", "the policy trains on a feature the dataset lacks"),
    "readiness.state_dim": ("error", "observation.state wider than the policy's max_state_dim"),
    "readiness.action_dim": ("error", "action wider than the policy's max_action_dim"),
    "readiness.image_keys": ("error", "a camera the policy expects is missing (and not renamed)"),
    "readiness.episode_too_short": (
        "warning",
        "episodes shorter than chunk_size (LeRobot pads their chunks)",
    ),
    "readiness.needs_conversion": ("error", "a v2.x dataset: make train needs v3.0"),
    "structure.hidden_file": (
        "warning",
        "hidden files (macOS '._*') ignored; error for a hidden v3.0 data/*/*.parquet",
    ),
    "readiness.no_task_text": ("error", "a language-conditioned policy and no task text"),
}


def render() -> str:
    width = max(map(len, CHECKS))
    return "\n".join(f"{cid:<{width}}  {sev:<7}  {text}" for cid, (sev, text) in CHECKS.items())
