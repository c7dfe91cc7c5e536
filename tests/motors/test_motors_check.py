"""`make motors` against the simulator: the healthy arm, then each fault's own line and exit code.

Real parts only: `make motors` runs dynamixel-sdk in envs/act on the simulator's pty; faults are
the simulator's (a real bus would show the same bytes). Permission denied is made real by taking
the port's permissions away (as root, also dropping CAP_DAC_OVERRIDE, which otherwise ignores them).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from conftest import run
from helpers.motors_sim import ACT_PY, sim_env, simulator, skip_if_transport_late

CALIB_REL = "robots/koch_follower/koch.json"


def make_motors(calib: Path, *args: str, prefix: tuple[str, ...] = ()) -> tuple[int, str, str]:
    """Run `make motors ARGS` with the calibration root `calib`; (check's exit code, out, err).

    make itself exits 2 when a recipe fails; the check's own code is in make's `Error N` line.
    """
    res = run(
        [*prefix, "make", "--no-print-directory", "motors", *args], env=sim_env(calib), timeout=120
    )
    if res.returncode == 0:
        return 0, res.stdout, res.stderr
    assert res.returncode == 2, res.stderr
    found = re.search(r"\] Error (\d+)$", res.stderr.strip())
    return int(found.group(1)) if found else -1, res.stdout, res.stderr


def errors(stderr: str) -> list[str]:
    """The check's own error lines (make's `*** Error` line left out)."""
    return [ln for ln in stderr.splitlines() if ln.startswith("motors: error:")]


def test_healthy_arm_lists_six_motors(tmp_path: Path) -> None:
    """Six motors with the right models, a calibration file that agrees: exit 0."""
    calib = tmp_path / "calib"
    with simulator(tmp_path, "--write-calibration", str(calib / CALIB_REL)) as sim:
        code, out, err = make_motors(calib, f"PORT={sim.port}")
    if code:
        skip_if_transport_late(sim, err)
    assert code == 0, err
    rows = {ln.split()[0]: ln.split() for ln in out.splitlines() if ln[:1].isdigit()}
    assert {i: r[2] for i, r in rows.items()} == {
        "1": "xl430-w250",
        "2": "xl430-w250",
        "3": "xl330-m288",
        "4": "xl330-m288",
        "5": "xl330-m288",
        "6": "xl330-m288",
    }
    assert all(r[-1] == "ok" for r in rows.values())
    assert "12.0 V" in out and "5.0 V" in out and "agrees with the registers" in out


@pytest.mark.parametrize(
    ("faults", "code", "needle"),
    [
        (("missing=3",), 5, "motor 3 (elbow_flex, xl330-m288) does not answer"),
        (("model=4:xl430-w250",), 5, "motor 4 (wrist_flex, xl330-m288) is a xl430-w250"),
        (("duplicate=5",), 5, "two motors share ID 5"),
        (("no-power",), 4, "no motor answers on"),
        (("baud=57600",), 4, "answer at 57600: set every motor to 1000000 baud"),
    ],
    ids=["missing", "wrong-model", "two-on-one-id", "no-power", "wrong-baud"],
)
def test_bus_faults(tmp_path: Path, faults: tuple[str, ...], code: int, needle: str) -> None:
    """Each injected fault: its own one-line error with the fix, its own exit code."""
    calib = tmp_path / "calib"
    args = [a for f in faults for a in ("--fault", f)]
    with simulator(tmp_path, "--write-calibration", str(calib / CALIB_REL), *args) as sim:
        got, _, err = make_motors(calib, f"PORT={sim.port}")
    lines = errors(err)
    if got != code or len(lines) != 1 or needle not in lines[0]:
        skip_if_transport_late(sim, "\n".join(ln for ln in lines if needle not in ln))
    assert got == code, err
    assert len(lines) == 1 and needle in lines[0], lines
    assert "lerobot-setup-motors" in lines[0] or "power" in lines[0]


def test_no_such_port(tmp_path: Path) -> None:
    """A port that does not exist: says so and how to list ports."""
    code, _, err = make_motors(tmp_path, "PORT=/dev/ttyACM-nothing-here")
    assert code == 3
    assert errors(err) == [
        "motors: error: no such port /dev/ttyACM-nothing-here: check the USB cable, list ports "
        "with `ls /dev/serial/by-id`, or leave PORT unset to search"
    ]


def test_permission_denied(tmp_path: Path) -> None:
    """A port the user may not open: names the dialout group."""
    prefix: tuple[str, ...] = ()
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip(
                "root without setpriv: cannot drop CAP_DAC_OVERRIDE to make permissions count"
            )
        caps = "-dac_override,-dac_read_search"
        prefix = ("setpriv", f"--bounding-set={caps}", f"--inh-caps={caps}")
    with simulator(tmp_path) as sim:
        os.chmod(sim.port, 0)
        code, _, err = make_motors(tmp_path, f"PORT={sim.port}", prefix=prefix)
    assert code == 3, err
    (line,) = errors(err)
    assert f"permission denied on {sim.port}" in line and "dialout" in line


def test_calibration_missing_and_disagreeing(tmp_path: Path) -> None:
    """No file -> `make calibrate`; a file off by one field -> that motor and field are named."""
    calib = tmp_path / "calib"
    with simulator(tmp_path, "--calibrated") as sim:
        code, _, err = make_motors(calib, f"PORT={sim.port}")
    if code != 6:
        skip_if_transport_late(sim, err)
    assert code == 6
    (line,) = errors(err)
    assert "no calibration file" in line and "make calibrate ROBOT=koch" in line
    with simulator(tmp_path, "--write-calibration", str(calib / CALIB_REL)) as sim:
        data = json.loads((calib / CALIB_REL).read_text())
        data["elbow_flex"]["range_max"] += 5
        (calib / CALIB_REL).write_text(json.dumps(data))
        code, _, err = make_motors(calib, f"PORT={sim.port}")
    if code != 6:
        skip_if_transport_late(sim, err)
    assert code == 6
    (line,) = errors(err)
    assert (
        "disagrees" in line and "elbow_flex range_max file=" in line and "shoulder_pan" not in line
    )


def test_unknown_robot_lists_profiles(tmp_path: Path) -> None:
    """ROBOT=typo: the profiles that exist, with a suggestion."""
    code, _, err = make_motors(tmp_path, "ROBOT=kohc")
    assert code == 2
    (line,) = errors(err)
    assert "unknown robot 'kohc' (have: koch, replay, koch_leader); did you mean 'koch'?" in line
    assert line.endswith("make motors ROBOT=<name>"), line


PROBLEMS = (
    "import json, sys; from scripts.motors.check import problems; "
    "print(json.dumps(problems('koch', sys.argv[1])))"
)


def test_problems_api_for_preflight(tmp_path: Path) -> None:
    """`scripts.motors.check.problems()`: what a robot preflight calls before connecting."""
    calib = tmp_path / "calib"
    with simulator(tmp_path, "--write-calibration", str(calib / CALIB_REL)) as sim:
        ok = run([ACT_PY, "-c", PROBLEMS, sim.port], env=sim_env(calib))
        missing = run([ACT_PY, "-c", PROBLEMS, sim.port], env=sim_env(tmp_path / "elsewhere"))
    assert json.loads(ok.stdout) == [], ok.stderr
    (line,) = json.loads(missing.stdout)
    assert line.startswith("no calibration file") and "make calibrate ROBOT=koch" in line
