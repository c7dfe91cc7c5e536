"""``make validate THRESHOLDS=file``: the override file (validators/behaviour/thresholds.py).

A lab tunes a threshold or switches a check off with a YAML/JSON file; a typo must be one line
naming the file and the key, never a silently ignored setting. In-process (fast: `make
mutation` runs these against every mutant of the loader), plus one CLI run for the one-line
error.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from validators.behaviour.thresholds import CHECKS, DEFAULTS, ThresholdError, load

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests/fixtures/koch_v21_real"  # read only


def write(tmp_path: Path, text: str, name: str = "t.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_no_file_gives_the_defaults_and_nothing_off() -> None:
    values, off = load(None)
    assert values == DEFAULTS and values is not DEFAULTS and off == set()


def test_overrides_change_only_the_named_values(tmp_path: Path) -> None:
    values, off = load(write(tmp_path, "spike_step_mult: 9\ndead_frac: 0.5\n"))
    assert values["spike_step_mult"] == 9.0 and isinstance(values["spike_step_mult"], float)
    assert values["dead_frac"] == 0.5
    assert {k: v for k, v in values.items() if k not in ("spike_step_mult", "dead_frac")} == {
        k: v for k, v in DEFAULTS.items() if k not in ("spike_step_mult", "dead_frac")
    }
    assert off == set()
    assert DEFAULTS["spike_step_mult"] == 6.0  # the defaults themselves are not edited


def test_zero_is_a_valid_threshold(tmp_path: Path) -> None:
    values, _ = load(write(tmp_path, "dead_frac: 0\n"))
    assert values["dead_frac"] == 0.0


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("disable: [spike, frozen_camera]\n", {"spike", "frozen_camera"}),
        ("disable: spike\n", {"spike"}),
        ("disable: []\n", set()),
        ("disable:\n", set()),
        ('{"disable": ["slow_loop"], "dup_frac": 0.5}', {"slow_loop"}),  # JSON is YAML
    ],
)
def test_disable_takes_a_list_or_one_name(tmp_path: Path, text: str, want: set[str]) -> None:
    values, off = load(write(tmp_path, text))
    assert off == want and "disable" not in values


def test_empty_file_is_the_defaults(tmp_path: Path) -> None:
    assert load(write(tmp_path, "")) == (DEFAULTS, set())


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("disable: [spikes]\n", ["disable", "unknown check", "spikes"]),
        ("spike_mult: 3\n", ["unknown threshold", "'spike_mult'"]),
        ("dead_frac: -1\n", ["dead_frac must be a number >= 0"]),
        ("dead_frac: yes\n", ["dead_frac must be a number >= 0"]),  # YAML's true, not 1
        ("dead_frac: '0.1'\n", ["dead_frac must be a number >= 0"]),
        ("[1, 2]\n", ["want a mapping of name: number"]),
        ("a: [\n", ["not YAML/JSON"]),
    ],
)
def test_bad_file_is_one_line_naming_file_and_key(
    tmp_path: Path, text: str, words: list[str]
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ThresholdError) as err:
        load(path)
    msg = str(err.value)
    assert msg.startswith(f"THRESHOLDS={path}: ") and "\n" not in msg, msg
    for word in words:
        assert word in msg, (word, msg)


def test_missing_file_names_it(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ThresholdError, match=r"THRESHOLDS=.*nope\.yaml: No such file"):
        load(path)


def test_every_check_can_be_disabled(tmp_path: Path) -> None:
    _, off = load(write(tmp_path, "disable: [" + ", ".join(CHECKS) + "]\n"))
    assert off == set(CHECKS)


def test_cli_bad_thresholds_file_is_one_line_and_nonzero(tmp_path: Path) -> None:
    bad = write(tmp_path, "spike_mult: 3\n")
    proc = subprocess.run(
        [sys.executable, "-m", "validators", str(FIXTURE), "--thresholds", str(bad)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if "unknown threshold" in ln]
    assert len(lines) == 1 and str(bad) in lines[0], proc.stderr
