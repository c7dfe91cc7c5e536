"""The motion cap a follower profile must carry (issue 25 item 4): LeRobot 0.6.1 clips each
tick's goal - present to ``max_relative_target`` in the action's units, not at all without it."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from scripts.common import robot_profiles as rp

KOCH = rp.load("koch")


def checked(**robot: object) -> None:
    data = copy.deepcopy(KOCH)
    data["robot"].update(robot)
    rp.check_motion_limit(data, Path("koch.yaml"))


def test_the_koch_profile_caps_a_tick_at_a_plausible_value() -> None:
    assert KOCH["robot"]["use_degrees"] is False
    cap = KOCH["robot"]["max_relative_target"]
    assert 0 < cap * KOCH["client"]["fps"] <= 200  # at most one -100..100 span per second


def test_the_old_value_is_refused_with_its_per_second_meaning() -> None:
    with pytest.raises(rp.ProfileError, match=r"max_relative_target=20 .* 600/s"):
        checked(max_relative_target=20)


@pytest.mark.parametrize("bad", [None, 0, -3, "5", True])
def test_a_missing_or_non_positive_cap_is_refused(bad: object) -> None:
    with pytest.raises(rp.ProfileError, match="max_relative_target"):
        checked(max_relative_target=bad)


def test_degrees_have_their_own_span_and_per_joint_caps_are_each_checked() -> None:
    checked(use_degrees=True, max_relative_target=10)  # 300 deg/s: plausible
    with pytest.raises(rp.ProfileError, match="degrees per tick"):
        checked(use_degrees=True, max_relative_target=13)  # 390 deg/s
    with pytest.raises(rp.ProfileError, match=r"target=9 "):
        checked(max_relative_target={"shoulder_pan": 2, "gripper": 9})


def test_robots_without_motors_need_no_cap() -> None:
    assert "max_relative_target" not in rp.load("replay")["robot"]
