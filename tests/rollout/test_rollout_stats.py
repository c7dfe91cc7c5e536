"""The rollout statistics and schedule against exact values (tools env, well under a second).

Wilson and Fisher values are scipy 1.18.1's (binomtest(...).proportion_ci("wilson"),
fisher_exact), written here so the test needs no scipy; when an env has scipy (envs/smolvla)
a random sweep of tables is checked against it as well.
"""

from __future__ import annotations

import json
import math
import random
import subprocess
from pathlib import Path

import pytest

from scripts.rollout.schedule import blind_line, plan
from scripts.rollout.stats import compare, fisher_exact, rates, wilson

REPO = Path(__file__).resolve().parents[2]


def test_wilson_exact_values() -> None:
    lo, hi = wilson(7, 10)
    assert lo == pytest.approx(0.39677814746114526, abs=1e-12)
    assert hi == pytest.approx(0.892208732593699, abs=1e-12)
    assert wilson(0, 6) == (0.0, pytest.approx(0.3903342879021653, abs=1e-12))
    assert wilson(6, 6) == (pytest.approx(0.6096657120978346, abs=1e-12), 1.0)
    assert wilson(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson(3, 2)


@pytest.mark.parametrize(
    ("table", "p"),
    [
        ([[8, 2], [3, 7]], 0.06977851869492736),
        ([[6, 0], [0, 6]], 0.0021645021645021645),
        ([[1, 9], [11, 3]], 0.0027594561852200836),
        ([[3, 3], [3, 3]], 1.0),
        ([[0, 5], [0, 5]], 1.0),
    ],
)
def test_fisher_exact_values(table: list[list[int]], p: float) -> None:
    assert fisher_exact(table) == pytest.approx(p, rel=1e-12)


def test_fisher_matches_scipy_where_installed() -> None:
    py = REPO / "envs/smolvla/.venv/bin/python"
    probe = [py, "-c", "import scipy"]
    if not py.exists() or subprocess.run(probe, capture_output=True).returncode:
        pytest.skip("no env with scipy")
    rng = random.Random(25)
    tables = [[[rng.randint(0, 15) for _ in "ab"] for _ in "rr"] for _ in range(60)]
    code = (
        "import json,sys; from scipy.stats import fisher_exact as f;"
        "print(json.dumps([float(f(t).pvalue) for t in json.load(sys.stdin)]))"
    )
    out = subprocess.run([py, "-c", code], input=json.dumps(tables), capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    for t, ref in zip(tables, json.loads(out), strict=True):
        assert math.isclose(fisher_exact(t), ref, rel_tol=1e-9, abs_tol=1e-15), t


def test_rates_exclude_aborted_and_verdict_words() -> None:
    eps = [{"checkpoint": "A", "label": x} for x in ["success"] * 8 + ["failure"] * 2]
    eps += [{"checkpoint": "B", "label": x} for x in ["success"] * 3 + ["failure"] * 6]
    eps += [{"checkpoint": "B", "label": "partial"}, {"checkpoint": "B", "label": "aborted"}]
    a, b = rates(eps)
    assert (a.attempts, a.rate, b.attempts, b.partial, b.aborted) == (10, 0.8, 10, 1, 1)
    c = compare(a, b)
    assert c["table"] == [[8, 2], [3, 7]]
    assert c["verdict"].startswith("no difference shown")  # p = 0.0698
    a2, b2 = rates([{"checkpoint": k, "label": v} for k, v in
                    [("A", "success")] * 6 + [("B", "failure")] * 6])  # fmt: skip
    assert compare(a2, b2)["verdict"].startswith("A succeeds more often")


def test_schedule_balanced_blocks_reproducible_and_blind() -> None:
    s = plan(["ckpt/a", "ckpt/b"], 6, seed=1234)
    assert [x.checkpoint for x in s] == [x.checkpoint for x in plan(["ckpt/a", "ckpt/b"], 6, 1234)]
    assert len(s) == 12 and [x.number for x in s] == list(range(12))
    for i in range(0, 12, 2):  # each block holds each checkpoint once
        assert {s[i].checkpoint, s[i + 1].checkpoint} == {"ckpt/a", "ckpt/b"}
    orders = {tuple(x.checkpoint for x in plan(["a", "b"], 6, seed)) for seed in range(20)}
    assert len(orders) > 5  # shuffled, not alternating
    assert "ckpt" not in blind_line(s[3], 12) and blind_line(s[3], 12) == "episode 4 of 12"
    for bad in ((["a"], 0), ([], 3), (["a", "a"], 2)):
        with pytest.raises(ValueError):
            plan(bad[0], bad[1], 1)
