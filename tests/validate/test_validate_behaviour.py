"""Behavioural checks (issue 27) on datasets LeRobot 0.6.1's own recorder wrote.

One LeRobot subprocess per module (tests/helpers/lerobot_record_behaviour.py) writes a clean
Koch-like dataset, one dataset per defect (injected into the frames before LeRobot writes
them, so its stats describe the rows) and a clean GR2-shaped one. Each defect must be found
and named with the right episode (5); clean data (that recording, the real Koch fixture and
the sample converted, the GR2 shapes) must give no behavioural finding.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import FIXTURE_V21, REPO, env_python, run_env
from helpers.tiny_av import keyframe_samples

from scripts.episodes.select import from_report, select
from scripts.episodes.table import Episode
from validators import __main__ as cli
from validators.runner import UsageError, validate_dataset

HELPER = REPO / "tests" / "helpers" / "lerobot_record_behaviour.py"
BAD = 5

# dataset -> (check, severity); every one of them sits in episode BAD
DEFECTS = {
    "dead_joint": ("behaviour.dead_joint", "warning"),
    "frozen_state": ("behaviour.frozen_state", "warning"),
    "wraparound": ("behaviour.wraparound", "warning"),
    "spike": ("behaviour.spike", "warning"),
    "episode_offset": ("behaviour.episode_offset", "warning"),
    "swapped_joints": ("behaviour.swapped_joints", "warning"),
    "idle_episode": ("behaviour.idle_episode", "warning"),
    "short_episode": ("behaviour.short_episode", "warning"),
    "duplicate_episode": ("behaviour.duplicate_episode", "error"),
    "near_duplicate": ("behaviour.duplicate_episode", "error"),
    "gripper_never_opens": ("behaviour.gripper_never_opens", "warning"),
    "action_copies_state": ("behaviour.action_copies_state", "warning"),
    "frozen_camera": ("behaviour.frozen_camera", "warning"),
    "slow_loop": ("behaviour.slow_loop", "warning"),
}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The datasets LeRobot records here; ``BEHAVIOUR_DATA=<dir>`` reuses ones it recorded
    before (``make mutation`` records them once, not once per mutant: ~25 s each)."""
    given = os.environ.get("BEHAVIOUR_DATA")
    if given:
        assert (Path(given) / "clean/meta/info.json").is_file(), f"BEHAVIOUR_DATA={given}"
        return Path(given)
    root = tmp_path_factory.mktemp("behaviour")
    env = {**run_env(), "HF_HOME": str(root / "hf")}
    proc = subprocess.run(
        [str(env_python("act")), str(HELPER), str(root / "ds")],
        capture_output=True, text=True, timeout=600, env=env, cwd=REPO,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root / "ds"


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The real Koch fixture and the sample (Koch and GR2 presets), converted to v3.0."""
    from scripts.sample.make import PRESETS, make_dataset

    root = tmp_path_factory.mktemp("converted")
    out = {"fixture": root / "fixture", "sample": root / "sample", "gr2": root / "gr2"}
    make_dataset(root / "sample21", PRESETS["sample"])
    make_dataset(root / "gr221", PRESETS["gr2"])
    for src, dst in ((FIXTURE_V21, out["fixture"]), (root / "sample21", out["sample"]),
                     (root / "gr221", out["gr2"])):  # fmt: skip
        proc = subprocess.run(
            [str(env_python("tools")), "-m", "scripts.convert", str(src), "--dst", str(dst),
             "--quiet"], capture_output=True, text=True, timeout=600, env=run_env(), cwd=REPO,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-2000:]
    return out


def behaviour(report) -> list:
    return [f for f in report.findings if f.group == "behaviour"]


@pytest.mark.parametrize("name", sorted(DEFECTS))
def test_each_defect_is_found_in_its_episode(recorded: Path, name: str) -> None:
    check, severity = DEFECTS[name]
    report = validate_dataset(recorded / name)
    found = behaviour(report)
    assert {f.check_id for f in found} == {check}, [f.message for f in found]
    assert {f.episode for f in found} == {BAD}, [f.message for f in found]
    assert {f.severity for f in found} == {severity}
    for f in found:
        assert f.message.startswith(f"episode {BAD}, frames "), f.message
        assert f.hint and f.frames is not None


def test_camera_check_decodes_keyframes_and_agrees_with_the_seek_path(recorded: Path) -> None:
    """Standard mode decodes keyframes straight from the sample table; the seek fallback (a
    file without a usable table) finds the same episode, and DEEP=1 too."""
    from validators.behaviour import camera

    deep = behaviour(validate_dataset(recorded / "frozen_camera", deep=True))
    assert [(f.check_id, f.episode) for f in deep] == [("behaviour.frozen_camera", BAD)]
    real = camera.read_video_index
    try:
        camera.read_video_index = lambda path: None  # as for a fragmented MP4
        seek = behaviour(validate_dataset(recorded / "frozen_camera", deep=True))
    finally:
        camera.read_video_index = real
    assert [(f.check_id, f.episode) for f in seek] == [("behaviour.frozen_camera", BAD)]


def test_constant_joint_is_no_stats_order_error_but_a_dead_joint(recorded: Path) -> None:
    """Issue 27's defect: LeRobot's float32 mean of a joint held at 60.675701 is 60.675743;
    no stats.order. A joint dead in every episode is an error of the whole dataset."""
    report = validate_dataset(recorded / "constant")
    assert "stats.order" not in report.check_ids, [f.message for f in report.findings]
    dead = [f for f in report.findings if f.check_id == "behaviour.dead_joint"]
    assert [(f.severity, f.episode, f.feature) for f in dead] == [
        ("error", None, "observation.state")
    ]
    assert "elbow_flex.pos" in dead[0].message


def test_clean_recording_and_gr2_shape_have_no_behavioural_finding(recorded: Path) -> None:
    for name in ("clean", "gr2", "same_motion"):
        report = validate_dataset(recorded / name)
        assert behaviour(report) == [], [f.message for f in behaviour(report)]
        assert "behaviour" in report.groups_run


def test_real_fixture_and_converted_samples_have_no_behavioural_finding(
    converted: dict[str, Path],
) -> None:
    for name, root in [("fixture v2.1", FIXTURE_V21), *converted.items()]:
        found = behaviour(validate_dataset(root))
        assert found == [], (name, [f.message for f in found])


def test_report_json_drops_exactly_the_flagged_episodes(recorded: Path, tmp_path: Path) -> None:
    """``EPISODES=~@report.json`` (scripts/episodes/select.py) leaves out episode 5 only."""
    out = tmp_path / "r.json"
    rc = cli.main([str(recorded / "spike"), "--report", str(out), "--no-progress"])
    assert rc == 0  # warnings only
    data = json.loads(out.read_text())
    assert data["drop_episodes"] == [BAD] == from_report(out)
    spike = next(f for f in data["findings"] if f["check_id"] == "behaviour.spike")
    assert spike["feature"] == "observation.state" and spike["frames"] == [20, 20]
    episodes = [Episode(index=i, length=50, task="t") for i in range(10)]
    assert select(f"~@{out}", episodes) == [i for i in range(10) if i != BAD]
    png = out.with_suffix(".png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_terminal_says_what_where_and_what_to_do(recorded: Path, capsys) -> None:
    assert cli.main([str(recorded / "duplicate_episode"), "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert "behaviour.duplicate_episode" in out
    assert "episode 5, frames 0-" in out and "the same" in out and "episode 2" in out
    assert "hint: the episode was saved twice" in out
    assert "Episodes to drop (1): 5" in out


def test_knobs_switch_checks_off_and_bad_files_are_one_line(recorded: Path, tmp_path: Path) -> None:
    assert behaviour(validate_dataset(recorded / "spike", behaviour=False)) == []
    off = tmp_path / "t.yaml"
    off.write_text("disable: [spike]\n")
    assert behaviour(validate_dataset(recorded / "spike", thresholds=off)) == []
    loose = tmp_path / "loose.yaml"
    loose.write_text("spike_spread_frac: 2.0\n")  # 40 deg is ~1x the spread: no longer a spike
    assert behaviour(validate_dataset(recorded / "spike", thresholds=loose)) == []
    for text, why in (("nope: 1\n", "unknown threshold 'nope'"), ("spike_step_mult: x\n", ">= 0"),
                      ("disable: [nope]\n", "unknown check")):  # fmt: skip
        off.write_text(text)
        with pytest.raises(UsageError, match=why) as exc:
            validate_dataset(recorded / "spike", thresholds=off)
        assert "\n" not in str(exc.value)


def _same_lumas_as_pyav(files: list[Path]) -> tuple[int, int]:
    """Every AV1 keyframe of ``files`` through validators.dav1d and through PyAV: asserts
    them equal; returns (AV1 files, keyframes compared)."""
    import numpy as np

    from validators import dav1d
    from validators.video import KeyframeDecoder

    assert dav1d.available(), dav1d.library_path()
    compared, av1_files = 0, 0
    for path in files:
        index, samples = keyframe_samples(path)
        if index.codec != "av1":
            continue  # the real fixture's HEVC: PyAV decodes it, as before
        av1_files += 1
        ours = dav1d.Decoder()
        ref = KeyframeDecoder()._pyav(index.codec, index.config, samples)
        for sample, want in zip(samples, ref, strict=True):
            got = ours.luma(sample)
            assert want is not None and got is not None
            assert got.shape == (index.height, index.width) and np.array_equal(got, want)
            compared += 1
        assert ours.luma(b"\x12\x00\x0a\x0b garbage, not an OBU") is None
        assert np.array_equal(ours.luma(samples[-1]), ref[-1])  # a fresh decoder after it
        ours.close()
    return av1_files, compared


def test_dav1d_lumas_are_pyavs_bit_for_bit(recorded: Path) -> None:
    """The camera screen decodes AV1 keyframes with PyAV's own libdav1d through ctypes
    (validators/dav1d.py, no PyAV import): every keyframe of LeRobot's recorded files (the
    frozen camera's too) equals PyAV's decode exactly. A sample dav1d rejects gives None, and
    the next one decodes."""
    files = [f for name in ("frozen_camera", "clean")
             for f in sorted((recorded / name / "videos").rglob("*.mp4"))]  # fmt: skip
    av1_files, compared = _same_lumas_as_pyav(files)
    assert av1_files == 2 and compared >= 100, (av1_files, compared)


def test_dav1d_lumas_on_the_converted_samples(converted: dict[str, Path]) -> None:
    """The same on our converter's files: the Koch sample's two cameras and the GR2 one."""
    files = [f for root in converted.values() for f in sorted((root / "videos").rglob("*.mp4"))]
    av1_files, compared = _same_lumas_as_pyav(files)
    assert av1_files >= 3 and compared >= 50, (av1_files, compared)


def test_av1_dataset_is_validated_without_importing_pyav(recorded: Path) -> None:
    """Standard mode on LeRobot's AV1 files: the frozen camera is found and PyAV (60-90 ms
    of CPU to import) is never imported; the background import is not started either."""
    code = (
        "import sys; from validators.runner import validate_dataset; "
        f"r = validate_dataset({str(recorded / 'frozen_camera')!r}); "
        "print(sorted({(f.check_id, f.episode) for f in r.findings if f.group == 'behaviour'}),"
        " 'av' in sys.modules)"
    )
    proc = subprocess.run([str(env_python("tools")), "-c", code], capture_output=True,
                          text=True, timeout=300, cwd=REPO, env=run_env())  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["[('behaviour.frozen_camera',", f"{BAD})]", "False"]
