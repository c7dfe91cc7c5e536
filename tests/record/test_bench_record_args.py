"""``make bench-record``'s knobs: a bad value is one line, exit 2, before any simulator starts."""

from __future__ import annotations

import pytest

from scripts.bench import record


@pytest.mark.parametrize(
    ("argv", "knob"),
    [(["--episodes", "0"], "--episodes=0"), (["--seconds", "0.1"], "--seconds=0.1"),
     (["--fps", "0"], "--fps=0")],
)  # fmt: skip
def test_bad_knob_is_one_line(argv, knob, capsys, tmp_path):
    assert record.main([*argv, "--work", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"bench-record: error: {knob}: must be >= {err[0].rsplit('>= ', 1)[1]}"]
    assert not any(tmp_path.iterdir())  # nothing started, nothing written


def test_summary_counts_periods_over_one_and_a_half_frames():
    s = record.summary([[1 / 30] * 10 + [0.051, 0.049]], 30, [1.0], [13])
    assert s["missed_ticks"] == 1  # 51 ms > 50 ms; 49 ms is not
    assert s["ticks"] == 12 and s["stamped_s"] == [0.43]
