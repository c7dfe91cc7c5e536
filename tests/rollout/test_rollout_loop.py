"""make rollout end to end: the real make serve on loopback, the replay robot, the deploy client,
the session writer, LeRobot 0.6.1 loading the result, the validator, the report.

Inputs (built once per session, tests/helpers/rollout_inputs.py): a Koch-like v3.0 dataset with
one small camera, a tiny ACT trained on it by LeRobot's own loss, and its random-init twin with
the same processors. The scripted operator labels each episode (distance of the final executed
action to the recorded one, in action stds).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, env_python, run, run_env
from helpers import deploy_common as dc
from helpers.train_common import HELPERS, cached

from scripts.rollout import schedule

EPISODES = 6


def inputs(factory: pytest.TempPathFactory) -> Path:
    def build(p: Path) -> None:
        proc = run([env_python("act"), HELPERS / "rollout_inputs.py", p.parent], timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]

    return cached(factory, "rollout_inputs/trained", build).parent


def rollout_cmd(base: Path, port: int, out: Path, *knobs: str) -> list[str]:
    return [
        "make", "rollout", f"CHECKPOINT={base / 'trained'},{base / 'random'}", "ROBOT=replay",
        f"REPLAY={base / 'dataset'}", f"SERVER=127.0.0.1:{port}", "EPISODE_S=1.0",
        "RESET_S=0.1", "TASK=track", f"DATASET={out}", "OPERATOR=scripted", *knobs,
    ]  # fmt: skip


def lerobot_episodes(root: Path) -> dict:
    code = (
        "import json,sys; from lerobot.datasets.lerobot_dataset import LeRobotDataset as D; "
        "d=D('local/x', root=sys.argv[1]); e=d.meta.episodes; "
        "print(json.dumps({'n': d.num_episodes, 'frames': len(d), "
        "'label': list(e['rollout/label']), 'policy': list(e['rollout/policy_id']), "
        "'stalls': [int(x) for x in e['rollout/stalls']]}))"
    )
    proc = run([env_python("act"), "-c", code, root], timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def descendant(pid: int, text: str) -> int | None:
    """The first process under ``pid`` whose command line holds ``text``."""
    todo = [pid]
    while todo:
        p = todo.pop()
        for task in Path(f"/proc/{p}/task").glob("*"):
            kids = (task / "children").read_text().split() if (task / "children").exists() else []
            for k in map(int, kids):
                cmd = Path(f"/proc/{k}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                if text in cmd:
                    return k
                todo.append(k)
    return None


def test_two_checkpoints_through_make_serve(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """2 x 6 episodes through one make serve: trained beats random, counts equal labels; then a
    session whose control loop is SIGKILLed loses only its running episode and says so; beside
    it, bad input one line each: server down, a checkpoint not served, other cameras."""
    base = inputs(tmp_path_factory)
    outside = shutil.copytree(base / "random", tmp_path / "elsewhere" / "random")
    cams = shutil.copytree(base / "random", tmp_path / "cams")
    cfg = json.loads((cams / "config.json").read_text())
    feats = cfg["input_features"]
    feats["observation.images.front"] = feats.pop("observation.images.laptop")
    (cams / "config.json").write_text(json.dumps(cfg))
    port = dc.free_port()

    def bad(ckpts: str, p: int, out: str, wait: int = 0) -> subprocess.Popen:
        # against the live server, SERVER_WAIT: a busy server once missed the single health
        # probe of SERVER_WAIT=0 (DEADLINE_EXCEEDED) and was called "not reachable"
        cmd = rollout_cmd(base, p, tmp_path / f"out-{out}", "EPISODES=1", f"SERVER_WAIT={wait}")
        cmd[2] = f"CHECKPOINT={ckpts}"
        pipe = subprocess.PIPE
        return subprocess.Popen(cmd, cwd=REPO, env=run_env(), stdin=subprocess.DEVNULL,
                                stdout=pipe, stderr=pipe, text=True)  # fmt: skip

    server = dc.start_server(base / "trained", port, tmp_path / "serve", f"ALLOW_ROOTS={base}")
    out, killed = tmp_path / "eval_ab", tmp_path / "killed"
    try:
        server.wait_for("serve: SERVING", timeout=240)
        proc = run(rollout_cmd(base, port, out, f"EPISODES={EPISODES}", "SEED=7"), timeout=600,
                   stdin=subprocess.DEVNULL)  # fmt: skip
        victim = subprocess.Popen(
            rollout_cmd(base, port, killed, "EPISODES=4", "SEED=3"), cwd=REPO, env=run_env(),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        trained = str(base / "trained")
        bads = {"down": bad(trained, dc.free_port(), "down"),
                "cams": bad(f"{trained},{cams}", port, "cams", 60),
                "refused": bad(f"{trained},{outside}", port, "refused", 60)}  # fmt: skip
        journal = killed / "meta/.lerobot-ops-record/journal.jsonl"
        t0 = time.monotonic()
        while time.monotonic() - t0 < 300 and victim.poll() is None:
            if journal.exists() and len(journal.read_text().splitlines()) >= 2:
                break
            time.sleep(0.05)
        loop_pid = descendant(victim.pid, "scripts.rollout.loop")
        assert loop_pid is not None, "the control loop was not found"
        os.kill(loop_pid, signal.SIGKILL)
        vout, _ = victim.communicate(timeout=300)
        results = {k: (*p.communicate(timeout=300), p.returncode) for k, p in bads.items()}
    finally:
        server.stop()
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    rep = json.loads((out / "meta/.lerobot-ops-record/rollout_report.json").read_text())
    eps = lerobot_episodes(out)
    assert eps["n"] == 2 * EPISODES
    # blind order reproducible from the seed: the checkpoints ran in schedule.plan's order
    plan = schedule.plan([str(base / "trained"), str(base / "random")], EPISODES, 7)
    assert eps["policy"] == [s.checkpoint for s in plan]
    by = {c["checkpoint"]: c for c in rep["checkpoints"]}
    for name, c in by.items():
        labels = [lab for lab, p in zip(eps["label"], eps["policy"], strict=True) if p == name]
        assert (c["success"], c["failure"], c["partial"], c["aborted"]) == tuple(
            labels.count(x) for x in ("success", "failure", "partial", "aborted")
        )
    trained, rand = by[str(base / "trained")], by[str(base / "random")]
    assert trained["success"] > rand["success"], rep["checkpoints"]
    assert rep["loop"]["stalls"] == sum(eps["stalls"]) and rep["loop"]["rate_hz_mean"] > 0
    assert rep["loop"]["server_rtt_ms_p50_median"] > 0
    assert rep["session"]["validator_errors"] == 0 and rep["session"]["stopped"] == "done"
    val = run([sys.executable, "-m", "validators", out], timeout=300)
    assert val.returncode == 0, val.stdout[-3000:] + val.stderr[-2000:]
    assert str(base / "trained") not in proc.stderr.split("checkpoint ")[0]  # blind until the end
    # killed mid-session: the episodes committed before stay, the report says what was lost
    assert victim.returncode != 0
    krep = json.loads((killed / "meta/.lerobot-ops-record/rollout_report.json").read_text())
    on_disk = len(journal.read_text().splitlines())
    assert 2 <= on_disk < 4 and krep["session"]["stopped"] == "killed"
    assert krep["session"]["episodes_on_disk"] == on_disk == len(krep["episodes"])
    assert "is lost" in krep["session"]["note"] and "is lost" in vout
    assert lerobot_episodes(killed)["n"] == on_disk
    expect = {"down": "the robot was not connected", "cams": "features mismatch",
              "refused": "not served"}  # fmt: skip
    for k, (_, err, rc) in results.items():
        errors = [s for s in err.splitlines() if "error" in s and "make:" not in s]
        assert rc != 0 and len(errors) == 1 and expect[k] in errors[0], (k, err[-3000:])
        assert "Traceback" not in err, (k, err[-3000:])
        assert not (tmp_path / f"out-{k}").exists()
