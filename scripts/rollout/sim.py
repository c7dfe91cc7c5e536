"""``ROBOT=sim``: the Koch follower on the Dynamixel simulator's pty, for dry runs and tests.

The same bed as ``make record-sim`` (``scripts.record.sim``): ``python -m scripts.motors.sim
--robot koch`` on a real pseudo-terminal, tracking its goal positions with a servo's lag, and a
LeRobot calibration file matching its registers, written into a private folder that only the
control loop sees (``HF_LEROBOT_CALIBRATION``: a real arm's calibration is never touched). The
control loop then runs LeRobot's unchanged ``KochFollower`` on that pty; its cameras replay
REPLAY's (``loop.sim_profile``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from scripts.record.sim import stop

REPO = Path(__file__).resolve().parents[2]
ACT_PY = REPO / "envs" / "act" / ".venv" / "bin" / "python"
LAG_MS = "60"  # the follower's tracking lag, as make record-sim's


@contextmanager
def simulated_koch() -> Iterator[tuple[str, dict[str, str]]]:
    """The follower simulator for the block: yields (its pty, the control loop's environment)."""
    import subprocess

    work = Path(tempfile.mkdtemp(prefix="rollout-sim-"))
    calib = work / "calibration"
    env = dict(os.environ, PYTHONPATH=str(REPO), HF_LEROBOT_CALIBRATION=str(calib))
    proc = subprocess.Popen(
        [str(ACT_PY), "-m", "scripts.motors.sim", "--robot", "koch", "--lag-ms", LAG_MS,
         "--write-calibration", str(calib / "robots/koch_follower/koch.json")],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line.startswith("PORT "):
            raise RuntimeError(f"the motors simulator did not start ({line.strip()!r})")
        yield line.split()[1], env
    finally:
        stop(proc)
        shutil.rmtree(work, ignore_errors=True)
