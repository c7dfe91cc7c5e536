"""Run LeRobot 0.6.1's ``lerobot-record`` unchanged, timing its loop from outside (envs/act).

    python scripts/bench/record_stock.py OUT.json -- LEROBOT_RECORD_ARGS

Why a driver: stock ``lerobot-record`` keeps no per-tick period (it only warns when a tick
overran) and its dataset timestamps are ``frame_index / fps`` whatever the loop did, so neither
its log nor its data can give the real loop period. This driver wraps three callables with
timers and changes nothing they do: ``record_loop`` (to know which phase runs: with a dataset
it is an episode, without one the reset), ``KochFollower.get_observation`` (the first call of
every tick of ``record_loop``: its start times give the tick periods) and
``LeRobotDataset.save_episode`` (save time per episode). Then it calls ``lerobot_record.main``
with the given arguments and writes ``OUT.json`` (tick start times per episode, save seconds).
"""

from __future__ import annotations

import json
import sys
import time


def main() -> int:
    argv = sys.argv[1:]
    if len(argv) < 2 or argv[1] != "--":
        print("usage: record_stock.py OUT.json -- LEROBOT_RECORD_ARGS", file=sys.stderr)
        return 2
    out, rest = argv[0], argv[2:]
    from lerobot.datasets.lerobot_dataset import LeRobotDataset
    from lerobot.robots.koch_follower import KochFollower
    from lerobot.scripts import lerobot_record as stock

    episodes: list[dict] = []
    state = {"ticks": None}
    loop, get_obs = stock.record_loop, KochFollower.get_observation
    save = LeRobotDataset.save_episode

    def record_loop(*a, **kw):
        if kw.get("dataset") is not None:
            episodes.append({"ticks": [], "save_s": None})
            state["ticks"] = episodes[-1]["ticks"]
        else:
            state["ticks"] = None  # the reset phase: not timed
        try:
            return loop(*a, **kw)
        finally:
            state["ticks"] = None

    def get_observation(self, *a, **kw):
        if state["ticks"] is not None:
            state["ticks"].append(time.perf_counter())
        return get_obs(self, *a, **kw)

    def save_episode(self, *a, **kw):
        t = time.perf_counter()
        try:
            return save(self, *a, **kw)
        finally:
            if episodes:
                episodes[-1]["save_s"] = time.perf_counter() - t

    stock.record_loop = record_loop  # record() looks the name up at call time
    KochFollower.get_observation = get_observation
    LeRobotDataset.save_episode = save_episode
    sys.argv = ["lerobot-record", *rest]
    t0 = time.perf_counter()
    code = 0
    try:
        stock.main()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    finally:
        with open(out, "w") as fh:
            json.dump({"episodes": episodes, "wall_s": time.perf_counter() - t0}, fh)
    return code


if __name__ == "__main__":
    sys.exit(main())
