"""The hold-out rule of ``make train`` (scripts/train/holdout.py), unit by unit, tools env, fast.

The end-to-end half (a real lerobot-train run with HOLDOUT, then ``make eval`` on what LeRobot
held out) is in test_train_guard.py, which shares its one tiny run.
"""

from __future__ import annotations

import pytest
from conftest import REPO, run

from scripts.episodes.table import Episode
from scripts.train import holdout
from scripts.train.recipes import list_recipes, load_recipe


def table(per_task: dict[str, int]) -> list[Episode]:
    """Episodes with tasks interleaved (a, b, a, b, ...), as a lab records them."""
    left = dict(per_task)
    out: list[Episode] = []
    while any(left.values()):
        for task in per_task:
            if left[task]:
                out.append(Episode(len(out), task, 20))
                left[task] -= 1
    return out


def decide(eps: list[Episode], **kw: object) -> holdout.Decision:
    args: dict = {"recipe": "act_24g", "recipe_default": 0.1, "holdout": None, "episodes": eps,
                  "eval_every": None, "flat": {"steps": 100, "save_freq": 25}}  # fmt: skip
    args.update(kw)
    return holdout.decide(**args)


def test_recipe_default_applies_only_when_every_task_has_ten() -> None:
    on = decide(table({"pick": 10, "place": 12}))
    # LeRobot's rule: the last ceil(n x 0.1) of each task: 1 of the 10, 2 of the 12
    assert on.split == 0.1 and on.heldout == [18, 20, 21]
    assert on.updates == {"dataset.eval_split": 0.1, "eval_steps": 25}
    assert on.note.startswith("hold-out: 3 of 22 episodes (18,20-21;")
    assert on.note.endswith("eval loss every 25 steps")
    off = decide(table({"pick": 12, "place": 9}))
    assert off.split == 0.0 and off.updates == {}
    assert "task 'place' has 9 episode(s)" in off.note and "HOLDOUT=0.1 forces it" in off.note


def test_explicit_holdout_is_honoured_and_zero_turns_it_off() -> None:
    forced = decide(table({"pick": 2, "place": 2}), holdout=0.25, eval_every=3)
    assert forced.heldout == [2, 3] and forced.updates["eval_steps"] == 3
    assert decide(table({"pick": 30}), holdout=0.0).note == "hold-out: off (HOLDOUT=0)"
    cpu = decide(table({"pick": 30}), recipe="act_cpu", recipe_default=None)
    assert cpu.split == 0.0 and "recipe act_cpu holds out nothing" in cpu.note


def test_a_task_left_with_no_training_episode_is_refused() -> None:
    with pytest.raises(holdout.HoldoutError, match=r"task 'place' has 1 episode\(s\); holding"):
        decide(table({"pick": 5, "place": 1}), holdout=0.2)


def test_args_eval_split_counts_as_holdout_and_must_agree() -> None:
    d = decide(table({"pick": 4}), flat={"dataset.eval_split": 0.25, "steps": 8})
    assert d.split == 0.25 and d.updates["eval_steps"] == 8  # no save_freq: once, at the end
    with pytest.raises(holdout.HoldoutError, match="disagree"):
        decide(table({"pick": 4}), holdout=0.1, flat={"dataset.eval_split": 0.25})


def test_resume_keeps_the_runs_split() -> None:
    cfg = {"dataset": {"eval_split": 0.25, "episodes": None}, "eval_steps": 4}
    d = decide(table({"pick": 4}), resumed_config=cfg)
    assert d.heldout == [3] and "eval_split" not in str(d.updates) and d.eval_every == 4
    with pytest.raises(holdout.HoldoutError, match="a resumed run keeps its split"):
        decide(table({"pick": 4}), holdout=0.1, resumed_config=cfg)


@pytest.mark.parametrize(
    ("knob", "text"),
    [("HOLDOUT", v) for v in ("0.5", "-0.1", "nan", "ten")]
    + [("EVAL_EVERY", v) for v in ("0", "2.5", "-3")],
)
def test_knob_ranges(knob: str, text: str) -> None:
    fn = holdout.parse_holdout if knob == "HOLDOUT" else holdout.parse_eval_every
    with pytest.raises(holdout.HoldoutError) as err:
        fn(text)
    assert str(err.value).startswith(f"{knob}={text}: ") and "\n" not in str(err.value)


def test_every_gpu_recipe_holds_out_by_default() -> None:
    for name in list_recipes():
        r = load_recipe(name)
        if not r.is_cpu and name.startswith(("act_", "smolvla_", "pi0_")):
            assert holdout.recipe_default(r.ops, r.path) == 0.1, name


def test_make_train_names_the_knob_in_one_line(tmp_path) -> None:
    for knob, msg in (("HOLDOUT=0.7", "HOLDOUT=0.7: a fraction"),
                      ("EVAL_EVERY=0", "EVAL_EVERY=0: an integer >= 1")):  # fmt: skip
        proc = run(["make", "-s", "train", "RECIPE=act_cpu", f"DATASET={tmp_path}", knob], cwd=REPO)
        assert proc.returncode != 0
        ours = [ln for ln in proc.stderr.splitlines() if not ln.startswith("make")]
        assert len(ours) == 1 and ours[0].startswith(f"train: error: {msg}"), proc.stderr
