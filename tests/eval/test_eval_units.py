"""Fast unit tests (tools env, no LeRobot) of the shared episode syntax, the eval metrics and
the shared report writer: every rule the docstrings state, and the refusals' exact lines."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from jsonschema import Draft202012Validator

from scripts.episodes.select import heldout_of, last_per_task, select, spans
from scripts.episodes.table import Episode, EpisodeError, read_info
from scripts.eval import metrics
from scripts.eval.checkpoints import CheckpointError, check_safetensors, locate
from scripts.report import jsonfile, table
from scripts.report.atomic import ReportError, output_problem, write_text

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "validators/schemas/eval_report.schema.json"


def eps(n: int = 10, tasks: tuple[str, ...] = ("a", "b")) -> list[Episode]:
    return [Episode(i, tasks[i % len(tasks)], 30) for i in range(n)]


def test_numbers_ranges_and_all() -> None:
    assert select("3,7-9", eps()) == [3, 7, 8, 9]
    assert select(" 9 , 1-2,2 ", eps()) == [1, 2, 9]
    assert select("all", eps(4)) == [0, 1, 2, 3]


def test_last_is_per_task_like_lerobots_eval_split() -> None:
    # tasks a: 0,2,4,6,8  b: 1,3,5,7,9 -> ceil(5 x 0.1) = 1 of each
    assert select("last:10%", eps()) == [8, 9]
    assert select("last:30%", eps()) == [6, 7, 8, 9]  # ceil(1.5) = 2 each
    assert select("last:2", eps()) == [6, 7, 8, 9]
    assert last_per_task(eps(3, ("x",)), fraction=0.5) == [1, 2]  # ceil(1.5) = 2
    assert select("last:100%", eps(3)) == [0, 1, 2]


def test_heldout_follows_the_run_config() -> None:
    tc = {"dataset": {"eval_split": 0.2, "episodes": None}}
    assert heldout_of(tc, eps(), "run") == [8, 9]
    # dataset.episodes restricts the base set first, in its own order (LeRobot's rule)
    tc = {"dataset": {"eval_split": 0.5, "episodes": [0, 1, 2, 3]}}
    assert heldout_of(tc, eps(), "run") == [2, 3]
    assert select("heldout", eps(), heldout=lambda: [8, 9]) == [8, 9]
    with pytest.raises(EpisodeError, match=r"run held out nothing \(dataset.eval_split is 0\)"):
        heldout_of({"dataset": {"eval_split": 0.0}}, eps(), "run")


def test_exclusion_and_reports(tmp_path: Path) -> None:
    rep = tmp_path / "validate.json"
    rep.write_text(json.dumps({"findings": [{"episode": 3}, {"episode": None}, {"episode": 5}]}))
    assert select(f"@{rep}", eps()) == [3, 5]
    assert select(f"all,~@{rep}", eps(6)) == [0, 1, 2, 4]
    assert select(f"~@{rep}", eps(6)) == [0, 1, 2, 4]  # only exclusions: start from all
    ev = tmp_path / "eval.json"
    ev.write_text(json.dumps({"checkpoints": [{"episodes": [1, 2]}, {"episodes": [2]}]}))
    assert select(f"@{ev}", eps()) == [1, 2]
    lst = tmp_path / "list.json"
    lst.write_text("[4, 0]")
    assert select(f"@{lst}", eps()) == [0, 4]


@pytest.mark.parametrize(
    ("spec", "line"),
    [
        ("12", "EPISODES=12: episode 12 not in the dataset (it has 0-9)"),
        ("8-11", "EPISODES=8-11: episodes 10-11 not in the dataset (it has 0-9)"),
        ("9-3", "EPISODES=9-3: range runs backwards (want 3-9)"),
        ("last:0", "EPISODES=last:0: last:N wants a whole number >= 1"),
        ("last:150%", "EPISODES=last:150%: a percentage must be in (0, 100]"),
        ("1,~1", "EPISODES=1,~1: selects no episode"),
        ("", "EPISODES is empty"),
        ("heldout", "EPISODES=heldout: no training run here to read the held-out set from"),
        ("odd", "EPISODES: cannot read 'odd' (want N, A-B, all, last:N, last:P%, heldout, "
                "@report.json, ~TERM)"),
    ],
)  # fmt: skip
def test_refusals_are_one_line(spec: str, line: str) -> None:
    with pytest.raises(EpisodeError) as e:
        select(spec, eps())
    assert str(e.value) == line


def test_report_file_refusals(tmp_path: Path) -> None:
    with pytest.raises(EpisodeError, match="no such file"):
        select(f"@{tmp_path}/none.json", eps())
    (tmp_path / "x.json").write_text('{"a": 1}')
    with pytest.raises(EpisodeError, match="not a validator report"):
        select(f"@{tmp_path}/x.json", eps())
    (tmp_path / "y.json").write_text("[42]")
    with pytest.raises(EpisodeError, match=r"episode 42 not in the dataset"):
        select(f"@{tmp_path}/y.json", eps())


def test_spans() -> None:
    assert spans([5, 0, 1, 2, 7, 8]) == "0-2,5,7-8"
    assert spans([]) == "none"


def test_info_must_be_v30(tmp_path: Path) -> None:
    (tmp_path / "meta").mkdir()
    (tmp_path / "meta/info.json").write_text('{"codebase_version": "v2.1"}')
    with pytest.raises(EpisodeError, match=r"codebase_version 'v2.1', want 'v3.0'"):
        read_info(tmp_path)


def test_future_targets_mask_the_episode_end() -> None:
    actions = np.arange(5, dtype=float)[:, None]  # rows 0-2 episode 0, rows 3-4 episode 1
    episodes = np.array([0, 0, 0, 1, 1])
    targets, mask = metrics.future_targets(actions, episodes, 3)
    assert mask.tolist() == [
        [True, True, True],
        [True, True, False],
        [True, False, False],
        [True, True, False],
        [True, False, False],
    ]
    assert targets[1, 1, 0] == 2 and targets[3, 1, 0] == 4


def test_metrics_by_hand() -> None:
    actions = np.zeros((4, 2))
    episodes = np.array([0, 0, 1, 1])
    targets, mask = metrics.future_targets(actions, episodes, 2)
    preds = np.ones((1, 4, 2, 2))
    preds[0, :, 0, 1] = 3.0  # joint b errs 3 at step 0
    preds[0, 1, 1, :] = 100.0  # past episode 0's end: masked, never counted
    f, _ = metrics.compute(preds, targets, mask, episodes, ["a", "b"], stochastic=False)
    assert f["mae"] == 2.0 and f["per_joint_mae"] == {"a": 1.0, "b": 3.0}
    assert f["per_horizon_mae"] == [2.0, 1.0] and f["per_episode_mae"] == {"0": 2.0, "1": 2.0}
    assert math.isclose(f["rmse"], math.sqrt(5.0)) and f["spread"] is None


def test_spread_over_seeds() -> None:
    targets, mask = metrics.future_targets(np.zeros((2, 1)), np.array([0, 0]), 1)
    preds = np.stack([np.full((2, 1, 1), v) for v in (1.0, 3.0)])
    f, _ = metrics.compute(preds, targets, mask, np.array([0, 0]), ["a"], stochastic=True)
    assert f["mae"] == 2.0
    assert f["spread"] == {"mae_per_seed": [1.0, 3.0], "mae_std": math.sqrt(2), "mae_min": 1.0,
                           "mae_max": 3.0}  # fmt: skip


def _errors(per_episode: list[float], frames: int = 5) -> metrics.Errors:
    episodes = np.repeat(np.arange(len(per_episode)), frames)
    abs0 = np.repeat(np.array(per_episode), frames)[None, :, None]
    return metrics.Errors(abs0=abs0, per_horizon=[], episodes=episodes)


def test_bootstrap_says_beats_only_when_the_interval_excludes_zero() -> None:
    good, bad = _errors([1.0, 1.1, 0.9, 1.0]), _errors([2.0, 2.1, 1.9, 2.0])
    out = metrics.rank(["bad", "good"], [2.0, 1.0], [bad, good])
    assert [r["path"] for r in out["ranking"]] == ["good", "bad"]
    assert out["comparisons"][0]["beats"] and out["comparisons"][0]["verdict"] == "good beats bad"
    # a difference that flips sign across episodes is no verdict
    a, b = _errors([1.0, 3.0, 1.0, 3.0]), _errors([3.0, 1.0, 3.0, 1.1])
    out = metrics.rank(["a", "b"], [2.0, 2.025], [a, b])
    assert not out["comparisons"][0]["beats"]
    assert out["comparisons"][0]["verdict"] == "no clear difference"
    out = metrics.rank(["x", "y"], [1.0, 2.0], [_errors([1.0]), _errors([2.0])])
    assert out["comparisons"][0]["verdict"] == "too few episodes (1) to tell"


def test_ranking_from_per_episode_totals_equals_ranking_from_frames() -> None:
    """The SLURM=1 merge ranks from per_episode_mae and frame counts: same intervals."""
    rng = np.random.default_rng(3)
    lengths = np.array([7, 3, 11, 5])
    episodes = np.repeat(np.arange(4) + 20, lengths)
    errs, totals, maes = [], [], []
    for shift in (0.0, 0.3, 0.31):
        abs0 = rng.random((2, len(episodes), 3)) + shift * (episodes[None, :, None] % 2)
        e = metrics.Errors(abs0=abs0, per_horizon=[], episodes=episodes)
        per_ep = np.array([abs0[:, episodes == ep].mean() for ep in np.unique(episodes)])
        errs.append(e)
        totals.append(metrics.EpisodeTotals(np.unique(episodes), per_ep, lengths, 3))
        maes.append(float(abs0.mean()))
    a = metrics.rank(["a", "b", "c"], maes, errs)
    b = metrics.rank(["a", "b", "c"], maes, totals)
    assert [c["verdict"] for c in a["comparisons"]] == [c["verdict"] for c in b["comparisons"]]
    for x, y in zip(a["comparisons"], b["comparisons"], strict=True):
        assert np.allclose(x["ci95"], y["ci95"], rtol=1e-12, atol=0)
    # equal-weight episodes would be a different (wrong) interval: the counts matter
    flat = [metrics.EpisodeTotals(t.episodes, t.mae, np.ones(4, int), 3) for t in totals]
    c = metrics.rank(["a", "b", "c"], maes, flat)
    assert not np.allclose(a["comparisons"][0]["ci95"], c["comparisons"][0]["ci95"], rtol=1e-6)


def test_json_report_is_schema_checked_and_atomic(tmp_path: Path) -> None:
    schema = json.loads(SCHEMA.read_text())
    Draft202012Validator.check_schema(schema)
    out = tmp_path / "r.json"
    write_text(out, "old")
    with pytest.raises(ReportError, match=r"report does not match eval_report.schema.json: "):
        jsonfile.write_json(out, {"format": "nope"}, SCHEMA)
    assert out.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["r.json"]
    with pytest.raises(ReportError, match=r"report value at /x is nan"):
        jsonfile.write_json(out, {"x": float("nan")}, SCHEMA)


def test_output_problems(tmp_path: Path) -> None:
    assert output_problem(tmp_path / "r.json", "JSON") is None
    assert output_problem(tmp_path, "JSON") == f"JSON={tmp_path}: is a directory; give a file name"
    assert "does not exist" in output_problem(tmp_path / "no/r.json", "PNG")


def test_table() -> None:
    text = table.render(["name", "mae"], [["a", 1.23456], ["bb", None]])
    assert text.splitlines() == ["name    mae", "----  -----", "a     1.235", "bb        -"]


def test_checkpoint_refusals(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    with pytest.raises(CheckpointError, match=r"run folder with no checkpoint in"):
        locate(str(run))
    with pytest.raises(CheckpointError, match=r"STEP=5: .* is not a training run folder"):
        locate(str(tmp_path), 5)
    bad = tmp_path / "model.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{}")
    with pytest.raises(CheckpointError, match=r"corrupted safetensors file \(header says 16"):
        check_safetensors(bad)
    hdr = json.dumps({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}).encode()
    bad.write_bytes(len(hdr).to_bytes(8, "little") + hdr + b"\0" * 8)
    with pytest.raises(CheckpointError, match=r"truncated: tensors need"):
        check_safetensors(bad)
