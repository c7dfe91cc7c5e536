"""The JSON Schema files are standard draft 2020-12, and the validator's fast built-in
checker (validators.jsonschema_lite) flags exactly the paths ``jsonschema`` flags."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from validators import dataset_format as fmt
from validators.jsonschema_lite import Validator

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "validators/schemas"
V21_INFO = json.loads((REPO / "tests/fixtures/koch_v21_real" / fmt.INFO_PATH).read_text())


def v30_info() -> dict:
    info = copy.deepcopy(V21_INFO)
    info["codebase_version"] = "v3.0"
    info["data_path"] = fmt.DATA_PATH
    info["video_path"] = fmt.VIDEO_PATH
    info["data_files_size_in_mb"] = 100
    info["video_files_size_in_mb"] = 200
    del info["total_chunks"], info["total_videos"]
    return info


def variants(info: dict) -> list[dict]:
    """Single faults, each a way a hand-edited info.json goes wrong."""
    out = []

    def edit(fn):
        c = copy.deepcopy(info)
        fn(c)
        out.append(c)

    for key in ("fps", "features", "total_frames", "data_path", "codebase_version"):
        edit(lambda c, k=key: c.pop(k))
    edit(lambda c: c.update(fps=0))
    edit(lambda c: c.update(fps="30"))
    edit(lambda c: c.update(fps=29.97))
    edit(lambda c: c.update(total_frames=-1))
    edit(lambda c: c.update(total_episodes=True))
    edit(lambda c: c.update(chunks_size=0))
    edit(lambda c: c.update(codebase_version="v9.9"))
    edit(lambda c: c.update(data_path="data/episode.parquet"))
    edit(lambda c: c.update(video_path="videos/x.mp4"))
    edit(lambda c: c.update(splits={"train": "0-3"}))
    edit(lambda c: c.update(robot_type=5))
    edit(lambda c: c["features"].pop("timestamp"))
    edit(lambda c: c["features"]["action"].update(dtype="float"))
    edit(lambda c: c["features"]["action"].pop("shape"))
    edit(lambda c: c["features"]["action"].update(shape=[6.5]))
    edit(lambda c: c["features"]["action"].update(names="joints"))
    edit(lambda c: c["features"]["observation.images.laptop"].update(shape=[96, 128]))
    edit(lambda c: c["features"].update(extra=7))
    edit(lambda c: c.update(features={}))
    return out


def paths(errors) -> set[tuple]:
    return {tuple(getattr(e, "absolute_path", getattr(e, "path", ()))) for e in errors}


@pytest.mark.parametrize("name", sorted(p.name for p in SCHEMAS.glob("*.schema.json")))
def test_schema_files_are_draft_2020_12(name: str) -> None:
    schema = json.loads((SCHEMAS / name).read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)
    Validator(schema)  # every keyword used is implemented by the fast checker


@pytest.mark.parametrize(
    ("schema_name", "info"),
    [("info_v2.1.schema.json", V21_INFO), ("info_v3.0.schema.json", v30_info())],
)
def test_lite_agrees_with_jsonschema(schema_name: str, info: dict) -> None:
    schema = json.loads((SCHEMAS / schema_name).read_text())
    ref, lite = Draft202012Validator(schema), Validator(schema)
    assert ref.is_valid(info) and lite.is_valid(info)
    for bad in variants(info):
        want = paths(ref.iter_errors(bad))
        assert want, f"variant not invalid: {bad}"
        assert paths(lite.iter_errors(bad)) == want, bad


@pytest.mark.parametrize(
    ("schema_name", "good", "bads"),
    [
        (
            "episodes_v2.1.schema.json",
            {"episode_index": 0, "tasks": ["pick"], "length": 3},
            [
                {"episode_index": -1, "tasks": [], "length": 3},
                {"episode_index": 0, "tasks": "pick", "length": 3},
                {"tasks": [], "length": 1},
            ],
        ),
        (
            "tasks_v2.1.schema.json",
            {"task_index": 0, "task": "pick"},
            [{"task_index": "0", "task": "pick"}, {"task_index": 0}],
        ),
        (
            "episodes_stats_v2.1.schema.json",
            {
                "episode_index": 0,
                "stats": {"a": {"min": [0], "max": [1], "mean": [0], "std": [1], "count": [2]}},
            },
            [{"episode_index": 0, "stats": {"a": {"min": [0]}}}],
        ),
    ],
)
def test_jsonl_row_schemas(schema_name: str, good: dict, bads: list[dict]) -> None:
    schema = json.loads((SCHEMAS / schema_name).read_text())
    ref, lite = Draft202012Validator(schema), Validator(schema)
    assert ref.is_valid(good) and lite.is_valid(good)
    for bad in bads:
        assert paths(lite.iter_errors(bad)) == paths(ref.iter_errors(bad)) != set()


def test_column_contracts_name_lerobot_columns() -> None:
    episodes = json.loads((SCHEMAS / "episodes_v3.0.columns.json").read_text())
    assert set(fmt.EPISODE_META_COLUMNS) <= set(episodes["required"])
    assert {c.format(video_key="k") for c in episodes["per_video_key"]} == set(
        fmt.video_meta_columns("k")
    )
    tasks = json.loads((SCHEMAS / "tasks_v3.0.columns.json").read_text())
    assert tasks["pandas_index"] == "task"


def test_unimplemented_keyword_is_refused() -> None:
    with pytest.raises(NotImplementedError):
        Validator({"type": "object", "dependentRequired": {"a": ["b"]}})
