"""The shared pieces of the behavioural checks (validators/behaviour/base.py).

``dims`` names the dimensions a finding is about, ``state_key`` picks the state feature the
action is compared with, ``Checks.skipped`` keeps short and idle episodes out of the
per-dimension checks. Small and pure, so `make mutation` runs these against every mutant.
"""

from __future__ import annotations

import numpy as np
import pytest

from validators.behaviour.base import Checks, dims, state_key
from validators.behaviour.rows import Feature, Rows


def feature(key: str, d: int) -> Feature:
    z = np.zeros((1, d))
    return Feature(key, [f"j{i}" for i in range(d)], np.zeros((4, d), np.float32),
                   np.ones(1, bool), z, z, np.ones(d), np.ones(d))  # fmt: skip


def rows(*keys: str) -> Rows:
    r = Rows(np.array([0]), np.array([0]), np.array([4]), np.arange(4, dtype=np.float64))
    r.features = {k: feature(k, 2) for k in keys}
    return r


@pytest.mark.parametrize(
    ("mask", "want"),
    [
        ([1, 0, 1, 0, 0, 0, 0, 0], "[j0, j2]"),
        ([1] * 6 + [0, 0], "[j0, j1, j2, j3, j4, j5]"),  # exactly the limit: no "more"
        ([1] * 8, "[j0, j1, j2, j3, j4, j5, +2 more]"),
        ([0] * 8, "[]"),
    ],
)
def test_dims_names_at_most_six_then_counts_the_rest(mask: list[int], want: str) -> None:
    assert dims(feature("action", 8), np.array(mask, bool)) == want


def test_dims_limit_is_a_knob() -> None:
    assert dims(feature("action", 4), np.ones(4, bool), limit=1) == "[j0, +3 more]"


@pytest.mark.parametrize(
    ("keys", "want"),
    [
        (("action", "observation.state", "observation.velocity"), "observation.state"),
        (("action", "observation.joints"), "observation.joints"),  # the only observation.*
        (("action", "observation.a", "observation.b"), None),  # ambiguous: no pairing
        (("action",), None),
    ],
)
def test_state_key(keys: tuple[str, ...], want: str | None) -> None:
    assert state_key(rows(*keys)) == want


def test_skipped_means_short_or_idle_only() -> None:
    c = Checks(ctx=None, rows=rows("action"), t={}, skip={"short": {1}, "idle": {2}, "x": {3}})  # type: ignore[arg-type]
    assert [e for e in range(5) if c.skipped(e)] == [1, 2]
    assert c.on("spike") and not Checks(None, rows(), {}, off={"spike"}).on("spike")  # type: ignore[arg-type]


def test_skipped_with_only_one_kind_judged() -> None:
    c = Checks(ctx=None, rows=rows("action"), t={}, skip={"short": {1}})  # type: ignore[arg-type]
    assert [e for e in range(3) if c.skipped(e)] == [1]
    c = Checks(ctx=None, rows=rows("action"), t={}, skip={"idle": {2}})  # type: ignore[arg-type]
    assert [e for e in range(3) if c.skipped(e)] == [2]


def test_say_puts_where_first_and_names_the_file(tmp_path) -> None:
    from validators.context import Context

    ctx = Context(tmp_path, {"fps": 30}, deep=False, quick=False)
    r = rows("action")
    r.files = {3: "data/chunk-000/file-000.parquet"}
    c = Checks(ctx, r, {})
    c.say("spike", "warning", 3, "a spike", "drop it", feature="action", frames=(np.int64(4), 5))
    c.say("dead_joint", "error", None, "j1 never moves", "check the motor")
    c.say("slow_loop", "warning", 3, "slow", "look")
    spike, dead, slow = ctx.report.findings
    assert spike.message == "episode 3, frames 4-5: a spike" and spike.frames == (4, 5)
    assert type(spike.frames[0]) is int and spike.file == "data/chunk-000/file-000.parquet"
    assert spike.check_id == "behaviour.spike" and spike.feature == "action"
    assert dead.message == "j1 never moves" and dead.file is None and dead.episode is None
    assert slow.message == "episode 3: slow"
