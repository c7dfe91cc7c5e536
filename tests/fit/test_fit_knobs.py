"""make fit's knobs are checked before any environment is built, one line each (tools env).

The launcher runs in this interpreter (as ``make fit`` runs it in envs/tools); no prediction
runs here: every case stops at its knob, so the test is fast. Predictions: test_fit_act.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REPO, run

from scripts.fit import __main__ as fit
from scripts.train.recipes import load_recipe


@pytest.mark.parametrize(
    "args, says",
    [
        (["act_2g"], "fit: recipe 'act_2g' not found in"),
        (["act_24g", "--batch", "0"], "fit: BATCH=0: want an integer >= 1 (make fit BATCH=8)"),
        (["act_24g", "--batch", "-4"], "fit: BATCH=-4: want an integer >= 1 (make fit BATCH=8)"),
        (["act_24g", "--batch", "big"], "fit: BATCH=big: want an integer >= 1 (make fit BATCH=8)"),
        (["act_24g", "--dataset", "/no/such"], "fit: DATASET=/no/such: want sample, gr2 or a"),
    ],
)
def test_bad_knob_is_one_line_before_any_env(args: list[str], says: str, capsys) -> None:
    assert fit.main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(says), err


@pytest.mark.parametrize("value", ["lots", "-8", ".nan"])
def test_recipe_gpu_gb_must_be_a_number(tmp_path: Path, value: str) -> None:
    text = (REPO / "recipes" / "act_24g.yaml").read_text().replace("gpu_gb: 24", f"gpu_gb: {value}")
    assert f"gpu_gb: {value}" in text
    (tmp_path / "act_24g.yaml").write_text(text)
    with pytest.raises(fit.KnobError, match=r"ops.gpu_gb=.*: want a number of GB >= 0"):
        fit.check_gpu_gb(load_recipe("act_24g", tmp_path))


def test_make_fit_builds_only_the_tools_env_then_checks_knobs() -> None:
    """The target no longer depends on every environment; a bad BATCH is refused at once."""
    dry = run(["make", "-n", "fit", "RECIPE=act_24g"], timeout=60)
    assert dry.returncode == 0, dry.stderr
    assert "build tools act smolvla" not in dry.stdout and "build tools" in dry.stdout
    proc = run(["make", "fit", "RECIPE=act_24g", "BATCH=0"], timeout=60)
    assert proc.returncode != 0
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("fit:")]
    assert lines == ["fit: BATCH=0: want an integer >= 1 (make fit BATCH=8)"], proc.stderr
    assert "Traceback" not in proc.stderr
