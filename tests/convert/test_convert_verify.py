"""The converter's data check catches a DST that differs from SRC (it can fail).

The data pass digests every batch of source rows as read; the check re-reads DST and
compares. Here a correct DST passes, and DSTs broken the ways a writer bug would break them
(a changed value, a shifted ``index``, a wrong ``task_index``) are refused with the file
named. Datasets with image cells fall back to comparing values with re-read sources.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from scripts.convert import data as data_mod
from scripts.convert import verify
from scripts.convert.errors import ConversionError
from scripts.convert.plan import make_plan
from scripts.sample.make import PRESETS, make_dataset
from scripts.sample.spec import SampleSpec

SPEC = SampleSpec(episode_lengths=(5, 3, 8, 2, 6), cameras={}, tasks=("a", "b"))


def _written(tmp_path: Path, spec: SampleSpec) -> tuple:
    src = make_dataset(tmp_path / "src", spec, progress=False)
    plan = make_plan(src)
    dst = tmp_path / "dst"
    digests = verify.SourceDigests(plan)
    result = data_mod.write_data(plan, dst, 100, dst / "spool.arrow", on_source=digests.record)
    return plan, dst, digests, verify.spool_placements(result.spool)


def _rewrite(dst: Path, change) -> Path:
    path = next((dst / "data").glob("*/*.parquet"))
    table = pq.read_table(path)
    pq.write_table(change(table), path)
    return path


def _set(table: pa.Table, name: str, values: np.ndarray) -> pa.Table:
    i = table.column_names.index(name)
    return table.set_column(i, table.schema.field(i), pa.array(values, table.schema.field(i).type))


def test_clean_dst_passes(tmp_path: Path) -> None:
    plan, dst, digests, place = _written(tmp_path, SPEC)
    assert digests.usable and digests.batches
    ticks: list[int] = []
    verify.check_data_digests(plan, dst, place, digests, tick=ticks.append)
    assert sum(ticks) == len(plan.episodes)
    verify.check_data(plan, dst, place, tick=lambda n: None)  # the re-reading path agrees


def test_changed_value_is_caught_by_both_paths(tmp_path: Path) -> None:
    plan, dst, digests, place = _written(tmp_path, SPEC)

    def bump(table: pa.Table) -> pa.Table:
        col = table.column("observation.state").combine_chunks()
        flat = col.flatten().to_numpy(zero_copy_only=False).copy()
        flat[7] += 1.0
        fixed = pa.FixedSizeListArray.from_arrays(
            pa.array(flat, col.type.value_type), col.type.list_size
        )
        i = table.column_names.index("observation.state")
        return table.set_column(i, table.schema.field(i), fixed)

    path = _rewrite(dst, bump)
    with pytest.raises(ConversionError, match="values differ from SRC") as exc:
        verify.check_data_digests(plan, dst, place, digests, tick=lambda n: None)
    assert exc.value.file == str(path)
    with pytest.raises(ConversionError, match=r"'observation\.state' differs"):
        verify.check_data(plan, dst, place, tick=lambda n: None)


def test_shifted_index_and_wrong_task_are_caught(tmp_path: Path) -> None:
    plan, dst, digests, place = _written(tmp_path, SPEC)
    total = sum(e.length for e in plan.episodes)
    _rewrite(dst, lambda t: _set(t, "index", np.arange(1, total + 1)))
    with pytest.raises(ConversionError, match="index not contiguous"):
        verify.check_data_digests(plan, dst, place, digests, tick=lambda n: None)
    _rewrite(dst, lambda t: _set(t, "index", np.arange(total)))
    verify.check_data_digests(plan, dst, place, digests, tick=lambda n: None)
    _rewrite(dst, lambda t: _set(t, "task_index", 1 - t.column("task_index").to_numpy()))
    with pytest.raises(ConversionError, match="values differ from SRC"):
        verify.check_data_digests(plan, dst, place, digests, tick=lambda n: None)


def test_image_cells_fall_back_to_rereading(tmp_path: Path) -> None:
    plan, dst, digests, place = _written(tmp_path, PRESETS["image"])
    assert not digests.usable and not digests.batches
    verify.check_data(plan, dst, place, tick=lambda n: None)


def test_video_check_catches_frames_from_the_wrong_episode(tmp_path: Path) -> None:
    """Sampled frames decoded from DST must equal SRC's, pixel for pixel: when an episode's
    frames in DST are not its source's (here it is checked against another episode's video,
    same codec, size and length, so only the pixels tell), the check refuses."""
    from scripts.convert.pipeline import Options, convert

    spec = SampleSpec(episode_lengths=(6, 6, 6), cameras={"phone": (48, 64)}, seed=3)
    src = make_dataset(tmp_path / "src", spec, progress=False)
    dst = tmp_path / "dst"
    convert(Options(src=src, dst=dst, jobs=1, progress=False))
    plan = make_plan(src)
    place = verify.placements(dst)
    assert verify.check_videos(plan, dst, place, set()) == 9  # 3 frames x 3 episodes
    first, last = plan.episodes[0], plan.episodes[-1]
    last.video_files = dict(first.video_files)
    with pytest.raises(ConversionError, match="does not decode identical"):
        verify.check_videos(plan, dst, place, set())


# --- the re-reading path (image datasets) catches what the digest path catches (issue 16) ------


@pytest.mark.parametrize(
    ("change", "message", "named"),
    [
        (lambda t, n: _set(t, "index", np.arange(1, n + 1)), "index not contiguous", "src"),
        (
            lambda t, n: _set(t, "task_index", 1 - t.column("task_index").to_numpy()),
            r": episodes 0\.\.4: task_index differs$",
            "src",
        ),
        (
            lambda t, n: _set(t, "episode_index", np.zeros(n, dtype=np.int64)),
            "episode_index differs in DST",
            "src",
        ),
        (lambda t, n: t.slice(0, n - 1), "rows", "dst"),
        (
            lambda t, n: _set(t, "timestamp", t.column("timestamp").to_numpy() + 1e-3),
            r": episodes 0\.\.4: column 'timestamp' differs after conversion \(bug\)$",
            "dst",
        ),
    ],
    ids=["index", "task", "episode", "row-missing", "timestamp"],
)
def test_rereading_path_catches_each_broken_column(
    tmp_path: Path, change, message: str, named: str
) -> None:
    """Each refusal names the file to look at: the source episode's file when the plan and
    the rows disagree, the DST file when DST lost or changed rows."""
    plan, dst, _, place = _written(tmp_path, SPEC)
    total = sum(e.length for e in plan.episodes)
    path = _rewrite(dst, lambda t: change(t, total))
    with pytest.raises(ConversionError, match=message) as exc:
        verify.check_data(plan, dst, place, tick=lambda n: None)
    want = plan.episodes[0].data_file if named == "src" else path
    assert exc.value.file == str(want)


def test_rereading_path_in_small_batches(tmp_path: Path, monkeypatch) -> None:
    """Batches of a few rows/episodes, sources read from disk (not memory): every episode is
    still compared (ticks add up) and a change in the last episode is still found."""
    monkeypatch.setattr(verify, "VERIFY_BATCH_ROWS", 7)
    monkeypatch.setattr(verify, "VERIFY_BATCH_EPISODES", 2)
    monkeypatch.setattr(verify, "SMALL_FILE_BYTES", 0)
    plan, dst, _, place = _written(tmp_path, SPEC)
    ticks: list[int] = []
    verify.check_data(plan, dst, place, tick=ticks.append)
    assert sum(ticks) == len(plan.episodes) and len(ticks) >= 3, ticks
    bad = place["dataset_from_index"].copy()
    bad[2] += 1
    with pytest.raises(ConversionError, match="dataset_from_index/dataset_to_index"):
        verify.check_data(plan, dst, {**place, "dataset_from_index": bad}, tick=lambda n: None)
    total = sum(e.length for e in plan.episodes)

    def last_row(t: pa.Table) -> pa.Table:
        ts = t.column("timestamp").to_numpy().copy()
        ts[total - 1] += 1.0
        return _set(t, "timestamp", ts)

    _rewrite(dst, last_row)
    with pytest.raises(ConversionError, match=r"episodes 4\.\.4: column 'timestamp' differs"):
        verify.check_data(plan, dst, place, tick=lambda n: None)
    order = {**place, "episode_index": place["episode_index"][::-1].copy()}
    with pytest.raises(ConversionError, match=r"episode_index is not 0\.\.N-1"):
        verify.check_data(plan, dst, order, tick=lambda n: None)


def test_rereading_path_accepts_renumbered_gaps(tmp_path: Path) -> None:
    """Episodes 0, 1, 3, 4 renumbered 0..3: the rewritten columns (episode_index, index,
    task_index) are checked against the plan, never compared raw with SRC's."""
    spec = SampleSpec(episode_lengths=(5, 3, 8, 2), episode_indices=(0, 1, 3, 4), cameras={})
    plan, dst, digests, place = _written(tmp_path, spec)
    assert [e.old_index for e in plan.episodes] == [0, 1, 3, 4]
    verify.check_data(plan, dst, place, tick=lambda n: None)
    verify.check_data_digests(plan, dst, place, digests, tick=lambda n: None)
