"""Record the behavioural-check datasets with LeRobot 0.6.1's own recorder (run in envs/act).

Why: the validator's behavioural checks (issue 27) must find defects in what LeRobot itself
writes, with stats LeRobot computed from the very rows it stored. So each defect is injected
into the frames *before* ``add_frame``/``save_episode`` (never into the files afterwards), and
every dataset is written by ``LeRobotDataset.create ... finalize``. All datasets are made in
one process (one LeRobot import, ~5 s) so the test module pays for it once.

Usage: ``envs/act/.venv/bin/python tests/helpers/lerobot_record_behaviour.py OUT_ROOT
[NAME ...]``: writes ``OUT_ROOT/<name>`` for each dataset in ``DATASETS`` (or the named ones).

Clean motion is recorded-like: Koch joint names in degrees, each joint a sum of slow sines
around its own centre, an episode-specific start pose, encoder quantisation (360/4096 deg),
the action leading the state by 3 frames (teleoperation: the leader moves first) and a
gripper that opens and closes once per episode. Defects sit in episode ``BAD`` (5) of 10.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from lerobot.datasets.lerobot_dataset import LeRobotDataset
from lerobot_record_v30 import JOINTS  # the Koch joint names (run as a script: same folder)

FPS = 30
EPISODES = 10
BAD = 5  # the episode each defect is injected into
TICK = 360.0 / 4096  # one Dynamixel encoder step in degrees
CENTRES = np.array([0.0, 60.0, -60.0, 30.0, 150.0, 20.0])  # per joint, degrees
AMPLITUDES = np.array([25.0, 15.0, 20.0, 15.0, 10.0, 0.0])  # gripper: its own pattern
LEAD = 3  # frames the action leads the state by
CAMERA, SIZE = "observation.images.laptop", (32, 40)
TASK = "Pick up the cube and put it in the box"
CONSTANT = 60.675701  # issue 27: a joint held here; float32 mean is written as 60.675743


def motion(rng: np.random.Generator, length: int, dims: int = 6) -> np.ndarray:
    """(length + LEAD, dims) float64 smooth recorded-like joint trajectories (degrees)."""
    t = np.arange(length + LEAD)[:, None] / FPS
    centres = np.resize(CENTRES, dims) + rng.uniform(-10, 10, size=dims)
    amps = np.resize(AMPLITUDES, dims) if dims == 6 else np.resize(AMPLITUDES[:5], dims)
    out = centres + np.zeros_like(t)
    for _ in range(2):
        freq = rng.uniform(0.15, 0.5, size=dims)
        phase = rng.uniform(0, 2 * np.pi, size=dims)
        out += 0.5 * amps * np.sin(2 * np.pi * freq * t + phase)
    if dims == 6:  # the gripper: closed (0), opens to ~35, closes again
        s = np.clip(np.sin(np.pi * t[:, 0] / t[-1, 0]), 0, None)
        out[:, 5] = 2.0 + 35.0 * s**2
    return out


def episode(rng: np.random.Generator, length: int, dims: int = 6) -> tuple[np.ndarray, ...]:
    """(state, action) float32: state quantised to encoder ticks, action leads by LEAD."""
    path = motion(rng, length, dims)
    state = np.round(path[:length] / TICK) * TICK + rng.normal(0, 0.01, size=(length, dims))
    action = path[LEAD:] + rng.normal(0, 0.05, size=(length, dims))
    return state.astype(np.float32), action.astype(np.float32)


def image(f: int, ep: int) -> np.ndarray:
    """A small frame that changes with time (a moving bar), as a camera on a moving arm."""
    h, w = SIZE
    img = np.full((h, w, 3), 40 + 20 * ep, dtype=np.uint8)
    x = (f * 2) % w
    img[:, max(0, x - 3) : x + 3, :] = 220
    img[..., 1] = (f * 8) % 255
    return img


Episode = dict[str, np.ndarray]
Defect = Callable[[list[Episode], np.random.Generator], None]


def _dead(eps: list[Episode], rng: np.random.Generator) -> None:
    """Episode BAD: wrist_flex's state reads one value all episode (an unplugged motor)."""
    eps[BAD]["state"][:, 3] = eps[BAD]["state"][0, 3]


def _constant(eps: list[Episode], rng: np.random.Generator) -> None:
    """Every episode: elbow_flex state held at CONSTANT (dead everywhere; the stats.order case)."""
    for e in eps:
        e["state"][:, 2] = np.float32(CONSTANT)


def _frozen(eps: list[Episode], rng: np.random.Generator) -> None:
    """Episode BAD: the state repeats frame 10's row for 25 frames (a stalled bus read)."""
    s = eps[BAD]["state"]
    s[10:35] = s[10]


def _wrap(eps: list[Episode], rng: np.random.Generator) -> None:
    """Episode BAD: wrist_roll crosses +180 deg and is stored wrapped (-180..180)."""
    for e in eps:  # wrist_roll runs near 150-175 in every episode
        e["state"][:, 4] = np.minimum(e["state"][:, 4], 179.0)
        e["action"][:, 4] = np.minimum(e["action"][:, 4], 179.0)
    s = eps[BAD]["state"]
    s[:, 4] = 170.0 + np.linspace(0, 30, len(s))  # 170 -> 200 deg, a real crossing of 180
    s[:, 4] = np.where(s[:, 4] > 180.0, s[:, 4] - 360.0, s[:, 4])


def _spike(eps: list[Episode], rng: np.random.Generator) -> None:
    """Episode BAD, frame 20: shoulder_lift's state jumps 40 deg for one frame (a bad read)."""
    eps[BAD]["state"][20, 1] += 40.0


def _offset(eps: list[Episode], rng: np.random.Generator) -> None:
    """Episode BAD: shoulder_pan reads 90 deg more in state and action (recalibrated arm)."""
    eps[BAD]["state"][:, 0] += 90.0
    eps[BAD]["action"][:, 0] += 90.0


def _swap(eps: list[Episode], rng: np.random.Generator) -> None:
    """Episode BAD: shoulder_lift and elbow_flex columns swapped (cables swapped)."""
    for key in ("state", "action"):
        eps[BAD][key][:, [1, 2]] = eps[BAD][key][:, [2, 1]]


def _idle(eps: list[Episode], rng: np.random.Generator) -> None:
    """Episode BAD: the arm sits at its start pose (encoder noise only): nothing happens."""
    n = len(eps[BAD]["state"])
    for key in ("state", "action"):
        rest = eps[BAD][key][0]
        eps[BAD][key][:] = rest + rng.normal(0, 0.02, size=(n, 6)).astype(np.float32)


def _short(eps: list[Episode], rng: np.random.Generator) -> None:
    """Episode BAD holds 5 frames (recording stopped at once)."""
    for key in ("state", "action"):
        eps[BAD][key] = eps[BAD][key][:5]


def _duplicate(eps: list[Episode], rng: np.random.Generator) -> None:
    """Episode BAD is episode 2 saved again."""
    for key in ("state", "action"):
        eps[BAD][key] = eps[2][key].copy()


def _near_duplicate(eps: list[Episode], rng: np.random.Generator) -> None:
    """Episode BAD is episode 2 re-exported: rounded to 1e-3 deg, one frame trimmed off the
    start (its last frame held once more to keep the length)."""
    for key in ("state", "action"):
        rows = np.round(eps[2][key][1:].astype(np.float64), 3)
        eps[BAD][key] = np.vstack([rows, rows[-1:]]).astype(np.float32)


def _same_motion(eps: list[Episode], rng: np.random.Generator) -> None:
    """Clean: every episode is one motion recorded again (its own sensor noise): not a
    duplicate. Episode 0's path, fresh tick quantisation and noise per episode."""
    n = len(eps[0]["state"])
    path = motion(np.random.default_rng(7), n)
    for ep in eps:
        state = np.round(path[:n] / TICK) * TICK + rng.normal(0, 0.01, size=(n, 6))
        ep["state"] = state.astype(np.float32)
        ep["action"] = (path[LEAD:] + rng.normal(0, 0.05, size=(n, 6))).astype(np.float32)


def _gripper(eps: list[Episode], rng: np.random.Generator) -> None:
    """Episode BAD: the gripper stays closed (2 deg + noise) in state and action."""
    n = len(eps[BAD]["state"])
    for key in ("state", "action"):
        eps[BAD][key][:, 5] = 2.0 + rng.normal(0, 0.05, size=n).astype(np.float32)


def _copies(eps: list[Episode], rng: np.random.Generator) -> None:
    """Episode BAD: the action is a copy of the state (the recorder logged the wrong field)."""
    eps[BAD]["action"] = eps[BAD]["state"].copy()


def _frozen_camera(eps: list[Episode], rng: np.random.Generator) -> None:
    """Episode BAD: the camera shows frame 0 for the whole episode (a hung capture)."""
    eps[BAD]["frozen_camera"] = np.array(True)


def _slow(eps: list[Episode], rng: np.random.Generator) -> None:
    """Episode BAD: the loop ran at 20 Hz in a 30 fps dataset (timestamps say so)."""
    eps[BAD]["period"] = np.array(1.5 / FPS)


DATASETS: dict[str, tuple[Defect | None, bool]] = {  # name -> (defect, with camera)
    "clean": (None, True),
    "dead_joint": (_dead, False),
    "constant": (_constant, False),
    "frozen_state": (_frozen, False),
    "wraparound": (_wrap, False),
    "spike": (_spike, False),
    "episode_offset": (_offset, False),
    "swapped_joints": (_swap, False),
    "idle_episode": (_idle, False),
    "short_episode": (_short, False),
    "duplicate_episode": (_duplicate, False),
    "near_duplicate": (_near_duplicate, False),
    "same_motion": (_same_motion, False),
    "gripper_never_opens": (_gripper, False),
    "action_copies_state": (_copies, False),
    "frozen_camera": (_frozen_camera, True),
    "slow_loop": (_slow, False),
}


def record(out: Path, defect: Defect | None, camera: bool, seed: int = 27) -> Path:
    """One Koch-like dataset (10 episodes of 45-70 frames) through LeRobot's recorder."""
    features: dict = {
        "action": {"dtype": "float32", "shape": (6,), "names": JOINTS},
        "observation.state": {"dtype": "float32", "shape": (6,), "names": JOINTS},
    }
    if camera:
        features[CAMERA] = {
            "dtype": "video",
            "shape": (*SIZE, 3),
            "names": ["height", "width", "channels"],
        }
    rng = np.random.default_rng(seed)
    eps: list[Episode] = []
    for _ in range(EPISODES):
        state, action = episode(rng, int(rng.integers(45, 70)))
        eps.append({"state": state, "action": action})
    if defect is not None:
        defect(eps, rng)
    ds = LeRobotDataset.create(
        repo_id=f"local/{out.name}", fps=FPS, features=features, root=out,
        robot_type="koch_follower", use_videos=camera,
    )  # fmt: skip
    for e, ep in enumerate(eps):
        for f in range(len(ep["state"])):
            frame = {"action": ep["action"][f], "observation.state": ep["state"][f], "task": TASK}
            if camera:
                frame[CAMERA] = image(0 if "frozen_camera" in ep else f, e)
            ds.add_frame(frame)
        if "period" in ep:  # the timestamps a slow loop's recorder would have stored
            buf = ds.writer.episode_buffer
            buf["timestamp"] = [i * float(ep["period"]) for i in range(len(buf["timestamp"]))]
        ds.save_episode()
    ds.finalize()
    return out


def record_gr2(out: Path, seed: int = 45) -> Path:
    """A clean Fourier-GR2-shaped dataset: 45-d state, 37-d action, radians, 6 episodes."""
    state_names = [f"state_{i}" for i in range(45)]
    action_names = [f"action_{i}" for i in range(37)]
    features = {
        "observation.state": {"dtype": "float32", "shape": (45,), "names": state_names},
        "action": {"dtype": "float32", "shape": (37,), "names": action_names},
    }
    ds = LeRobotDataset.create(
        repo_id=f"local/{out.name}", fps=FPS, features=features, root=out,
        robot_type="fourier_gr2", use_videos=False,
    )  # fmt: skip
    rng = np.random.default_rng(seed)
    for _ in range(6):
        length = int(rng.integers(60, 90))
        path = np.deg2rad(motion(rng, length, dims=45))
        state = path[:length] + rng.normal(0, 1e-3, size=(length, 45))
        action = path[LEAD:, :37] + rng.normal(0, 2e-3, size=(length, 37))
        for f in range(length):
            ds.add_frame(
                {
                    "observation.state": state[f].astype(np.float32),
                    "action": action[f].astype(np.float32),
                    "task": "Walk to the table",
                }
            )
        ds.save_episode()
    ds.finalize()
    return out


def main(root: Path, names: list[str]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for name in names or [*DATASETS, "gr2"]:
        if name == "gr2":
            record_gr2(root / name)
        else:
            defect, camera = DATASETS[name]
            record(root / name, defect, camera)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2:])
