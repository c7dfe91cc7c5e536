"""Converted stats are exact where policies use them, and image stats are not decoded for nothing.

Offset features are raw Dynamixel ticks (2048 +- 0.05) and a joint at 95 +- 0.01, float32 as
recorded; LeRobot 0.6.1's float32 ``E[x^2] - E[x]^2`` gives them std 0 or 10x too large. The
truth here is NumPy in float64 over the very rows of the converted parquet files.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import FIXTURE_V21, env_python, run

RTOL = 1e-9
OFFSETS = [(2048.0, 0.05), (95.0, 0.01), (12.5, 0.0)]  # the last joint is constant


def convert(*args: str | Path) -> tuple[int, str, str]:
    cmd = [env_python("tools"), "-m", "scripts.convert", *args, "--quiet"]
    proc = run(cmd, timeout=300)
    return proc.returncode, proc.stdout, proc.stderr


def _fixed(values: np.ndarray) -> pa.Array:
    return pa.FixedSizeListArray.from_arrays(pa.array(values.ravel()), values.shape[1])


def offset_source(dst: Path, seed: int = 0) -> Path:
    """The real 0.3.3 fixture with action/state joints 0-2 moved to offset values.

    Its ``episodes_stats.jsonl`` is rewritten with the true stats (float64 over the rows, as
    LeRobot 0.3.x's NumPy stats were), so a correct source does not warn.
    """
    import shutil

    shutil.copytree(FIXTURE_V21, dst)
    rng = np.random.default_rng(seed)
    stats_path = dst / "meta/episodes_stats.jsonl"
    lines = [json.loads(x) for x in stats_path.read_text().splitlines() if x.strip()]
    for row in lines:
        path = dst / f"data/chunk-000/episode_{row['episode_index']:06d}.parquet"
        table = pq.read_table(path)
        for key in ("action", "observation.state"):
            values = np.array(table.column(key).to_pylist(), dtype=np.float32)
            for j, (centre, spread) in enumerate(OFFSETS):
                values[:, j] = centre + spread * rng.standard_normal(len(values))
            table = table.set_column(table.schema.get_field_index(key), key, _fixed(values))
            wide = values.astype(np.float64)
            row["stats"][key].update(
                min=values.min(0).tolist(),
                max=values.max(0).tolist(),
                mean=wide.mean(0).tolist(),
                std=wide.std(0).tolist(),
            )
        pq.write_table(table, path)
    stats_path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    return dst


def rows_of(dst: Path, key: str) -> tuple[np.ndarray, np.ndarray]:
    """All rows of a feature (float64) and each row's episode index, from DST's parquet."""
    table = pa.concat_tables(pq.read_table(f) for f in sorted(dst.glob("data/*/*.parquet")))
    values = np.array(table.column(key).to_pylist(), dtype=np.float32).astype(np.float64)
    return values, np.array(table.column("episode_index").to_pylist())


def episode_stats(dst: Path) -> pa.Table:
    return pa.concat_tables(pq.read_table(f) for f in sorted(dst.glob("meta/episodes/*/*.parquet")))


def assert_exact(got: np.ndarray, want: np.ndarray, what: str) -> None:
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=0, err_msg=what)


@pytest.fixture(scope="module")
def offset(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path | str]:
    root = tmp_path_factory.mktemp("offset")
    src = offset_source(root / "src")
    code, out, err = convert(src)
    assert code == 0, err
    return {"src": src, "dst": root / "src_v30", "stdout": out, "stderr": err}


def test_offset_features_exact_per_episode_and_global(offset: dict) -> None:
    dst = offset["dst"]
    meta = episode_stats(dst)
    stats = json.loads((dst / "meta/stats.json").read_text())
    for key in ("action", "observation.state"):
        values, episode = rows_of(dst, key)
        for row, e in enumerate(meta.column("episode_index").to_pylist()):
            mine = values[episode == e]
            for stat, want in (("mean", mine.mean(0)), ("std", mine.std(0))):
                got = np.array(meta.column(f"stats/{key}/{stat}")[row].as_py())
                assert_exact(got, want, f"{key} episode {e} {stat}")
            std = np.array(meta.column(f"stats/{key}/std")[row].as_py())
            assert std[2] == 0.0 and (std[:2] > 0).all()  # 0 only where the data is constant
        assert_exact(np.array(stats[key]["mean"]), values.mean(0), f"{key} stats.json mean")
        assert_exact(np.array(stats[key]["std"]), values.std(0), f"{key} stats.json std")
        assert stats[key]["std"][2] == 0.0
    assert "warning" not in offset["stderr"]  # the source's stats were right


def test_image_stats_reused_from_source_without_decoding(offset: dict) -> None:
    """Default: each camera's per-episode stats are the source's, and no quantiles."""
    src, dst = offset["src"], offset["dst"]
    source = {
        r["episode_index"]: r["stats"]
        for r in map(json.loads, (src / "meta/episodes_stats.jsonl").read_text().splitlines())
    }
    meta = episode_stats(dst)
    cams = ("observation.images.laptop", "observation.images.phone")
    for cam in cams:
        assert f"stats/{cam}/q01" not in meta.column_names
        for row, e in enumerate(meta.column("episode_index").to_pylist()):
            for stat in ("min", "max", "mean", "std", "count"):
                assert meta.column(f"stats/{cam}/{stat}")[row].as_py() == source[e][cam][stat]
        assert f"{cam}: image stats from the source" in offset["stdout"]
    assert "stats/action/q01" in meta.column_names  # numeric quantiles stay


def test_stale_source_stats_reported_not_copied(tmp_path: Path) -> None:
    src = offset_source(tmp_path / "src", seed=1)
    path = src / "meta/episodes_stats.jsonl"
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    lines[1]["stats"]["action"]["std"][0] = 0.707  # what LeRobot 0.6.x's float32 gives
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    code, _, err = convert(src)
    assert code == 0, err
    warning = [line for line in err.splitlines() if line.startswith("convert: warning:")]
    assert len(warning) == 1 and "episodes_stats.jsonl disagrees" in warning[0], err
    assert "action[0] episode 1 std 0.707 in the source" in warning[0], warning
    values, episode = rows_of(tmp_path / "src_v30", "action")
    meta = episode_stats(tmp_path / "src_v30")
    got = np.array(meta.column("stats/action/std")[1].as_py())
    assert_exact(got, values[episode == 1].std(0), "DST keeps the rows' stats")


def test_malformed_image_stats_decoded_and_quantiles_on_request(tmp_path: Path) -> None:
    """A camera with a broken stats entry is decoded (and says why); --image-quantiles too."""
    src = offset_source(tmp_path / "src", seed=2)
    path = src / "meta/episodes_stats.jsonl"
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    lines[2]["stats"]["observation.images.phone"]["std"] = [0.1, 0.1, 0.1]  # not (3, 1, 1)
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    code, out, err = convert(src)
    assert code == 0, err
    assert "observation.images.phone: image stats decoded" in out and "episode 2" in out, out
    meta = episode_stats(tmp_path / "src_v30")
    assert "stats/observation.images.phone/q50" in meta.column_names
    assert "stats/observation.images.laptop/q50" not in meta.column_names
    std = np.array(meta.column("stats/observation.images.phone/std")[2].as_py())
    assert std.shape == (3, 1, 1) and (std > 0).all()
    code, out, err = convert(src, "--dst", tmp_path / "quantiles", "--image-quantiles")
    assert code == 0, err
    meta = episode_stats(tmp_path / "quantiles")
    assert "stats/observation.images.laptop/q50" in meta.column_names


def test_gapped_source_renumbered_without_false_warning(tmp_path: Path) -> None:
    """Renumbering changes episode_index/index on purpose: not a stale-stats finding."""
    from scripts.sample.make import PRESETS, make_dataset

    src = make_dataset(tmp_path / "gapped", PRESETS["gapped"], progress=False)
    code, out, err = convert(src)
    assert code == 0, err
    assert "renumbered" in out and "warning" not in err, err
