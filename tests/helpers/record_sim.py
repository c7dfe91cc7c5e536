"""Test plumbing for recording: the two simulators, the replay source, the recorder process.

Why real processes: the recorder must meet what it meets on a robot PC, LeRobot's unchanged
KochLeader and KochFollower over ptys (``make motors-sim``'s simulator), replayed cameras
through the lerobot_camera_replay plugin, and a real SIGKILL. The recorder runs as
``envs/act python -m scripts.record`` exactly as ``make record`` starts it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from helpers.motors_sim import ACT_PY, REPO, Sim, sim_env, simulator

TOOLS_PY = REPO / "envs" / "tools" / ".venv" / "bin" / "python"
HELPERS = REPO / "tests" / "helpers"


@dataclass
class Bed:
    """A follower and a leader simulator with calibration files, and a replay source."""

    follower: Sim
    leader: Sim
    calib: Path
    replay: Path

    def env(self, **extra: str) -> dict[str, str]:
        return {**sim_env(self.calib), **extra}

    def record_cmd(self, dataset: Path, *args: str) -> list[str]:
        """``python -m scripts.record`` on these simulators (replayed cameras)."""
        return [
            str(ACT_PY), "-m", "scripts.record", "--dataset", str(dataset),
            "--robot-port", self.follower.port, "--teleop-port", self.leader.port,
            "--cameras", "replay", "--replay", str(self.replay), *args,
        ]  # fmt: skip


def replay_source(root: Path, size: str = "64x48", fps: int = 30) -> Path:
    """The replayed cameras' frames (written once with LeRobot in envs/act)."""
    w, h = size.split("x")
    dst = root / f"replay-{size}"
    code = (
        "import sys; from scripts.record.replay_source import ensure; "
        f"ensure(sys.argv[1], {int(w)}, {int(h)}, {fps})"
    )
    res = subprocess.run(
        [str(ACT_PY), "-c", code, str(dst)], cwd=REPO, env=sim_env(), capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip
    if res.returncode != 0:
        raise RuntimeError(f"replay source failed: {res.stderr[-2000:]}")
    return dst


@contextmanager
def bed(
    tmp: Path, replay: Path, *follower_args: str, leader_args: tuple[str, ...] = ()
) -> Iterator[Bed]:
    """Both simulators for the block (calibrated; the leader moves like a hand)."""
    calib = tmp / "calibration"
    with ExitStack() as stack:
        follower = stack.enter_context(
            simulator(
                tmp,
                "--robot",
                "koch",
                "--lag-ms",
                "60",
                "--write-calibration",
                str(calib / "robots/koch_follower/koch.json"),
                *follower_args,
            )
        )
        leader = stack.enter_context(
            simulator(
                tmp,
                "--robot",
                "koch_leader",
                "--human",
                "300",
                "--write-calibration",
                str(calib / "teleoperators/koch_leader/koch_leader.json"),
                *leader_args,
            )
        )
        yield Bed(follower, leader, calib, replay)


def lerobot_check(datasets: list[Path]) -> dict:
    """Load each dataset with LeRobot 0.6.1 (tests/helpers/record_load.py in envs/act)."""
    res = subprocess.run(
        [str(ACT_PY), str(HELPERS / "record_load.py"), *map(str, datasets)],
        cwd=REPO, env=sim_env(), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        raise AssertionError(
            f"record_load.py printed nothing (exit {res.returncode}): {res.stderr[-3000:]}"
        )
    return json.loads(lines[-1])


def tmpfs(where: Path, size: str) -> bool:
    """Mount a small tmpfs at ``where`` (root only); False when the box does not allow it."""
    where.mkdir(parents=True, exist_ok=True)
    res = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True
    )
    return res.returncode == 0


def umount(where: Path) -> None:
    subprocess.run(["umount", str(where)], capture_output=True)


def tools(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """A tools-env Python command (repair, validators) from the repo root."""
    return subprocess.run(
        [str(TOOLS_PY), *map(str, args)], cwd=REPO, env=sim_env(), capture_output=True,
        text=True, timeout=timeout,
    )  # fmt: skip


if __name__ == "__main__":  # pragma: no cover - manual use
    print(replay_source(Path(sys.argv[1])))
