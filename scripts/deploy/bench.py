"""``make bench-serve``: the replay loop through our stack and through stock LeRobot 0.6.1.

Usage: python -m scripts.deploy.bench --checkpoint <pretrained_model> --dataset <v3.0 dir>
       [--seconds 20] [--out outputs/deploy/bench]

Same checkpoint, same replay robot (the ``lerobot_robot_replay`` plugin, looping episode 0),
same 10 actions per chunk at 30 fps, run one after the other on loopback:
- ours:  ``scripts.deploy.server`` + ``scripts.deploy.client`` (profile ``replay``);
- stock: ``python -m lerobot.async_inference.policy_server`` (its example's
  ``--inference_latency=0.033 --obs_queue_timeout=2``) + ``...robot_client`` with LeRobot's
  default threshold 0.5, stopped with SIGINT after the same time (it has no SIGTERM handler).
Both are scored from the replay robot's own record (every action with its time), so the
numbers are comparable: control rate, and stalls (gaps between actions longer than 1.5 control
periods). Round trip is ours only (stock logs it only at debug level). Runs in the tools env;
never gates CI.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ACT_PY = REPO / "envs" / "act" / ".venv" / "bin" / "python"
FPS = 30
APC = 10


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 300) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc.poll() is not None:
            raise SystemExit(f"bench-serve: error: server exited {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"bench-serve: error: nothing listens on {port} after {timeout} s")


def score(record: Path) -> dict:
    """Rate and stalls from the replay robot's record of received actions."""
    rec = json.loads(record.read_text())
    t = [a["t"] for a in rec["actions"]]
    if len(t) < 2:
        return {"actions": len(t), "rate_hz": 0.0}
    gaps = [b - a for a, b in itertools.pairwise(t)]
    stalls = [g for g in gaps if g > 1.5 / FPS]
    rate = (len(t) - 1) / (t[-1] - t[0])
    return {
        "actions": len(t),
        "rate_hz": round(rate, 2),
        "rate_ratio": round(rate / FPS, 3),
        "stalls": len(stalls),
        "stall_s": round(sum(stalls), 2),
    }


def env() -> dict[str, str]:
    e = dict(os.environ)
    e.update(PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    return e


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def ours(ckpt: Path, dataset: Path, seconds: float, out: Path) -> dict:
    port = free_port()
    server = subprocess.Popen(
        [ACT_PY, "-m", "scripts.deploy.server", "--checkpoint", ckpt, "--port", str(port),
         "--log-dir", out],
        cwd=REPO, env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        for line in server.stdout:
            if "serve: SERVING" in line:
                print(line.rstrip())
                break
        # keep reading: a pipe nobody drains fills (64 KB, ~30 s of the server's log) and the
        # server's next log call blocks it mid-request, which froze the client's loop too
        threading.Thread(target=server.stdout.read, daemon=True).start()
        client = subprocess.run(
            [ACT_PY, "-m", "scripts.deploy.client", "--robot", "replay", "--checkpoint", ckpt,
             "--server", f"127.0.0.1:{port}", "--dataset", dataset, "--duration", str(seconds),
             "--set", "robot.loop=true", "--log-dir", out],
            cwd=REPO, env=env(), capture_output=True, text=True, check=False,
        )  # fmt: skip
    finally:
        stop(server)
    run_dir = max(out.glob("replay-*"), key=lambda p: p.stat().st_mtime)
    report = json.loads((run_dir / "report.json").read_text())
    got = score(run_dir / "actions.json")
    got["round_trip_ms"] = report["round_trip_ms"]
    got["chunks_late"] = f"{report['chunks_late']} of {report['chunks_received']}"
    got["exit"] = client.returncode
    return got


def stock(ckpt: Path, dataset: Path, seconds: float, out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)  # stock writes ./logs: give it its own cwd
    port = free_port()
    record = out / "actions.json"
    server = subprocess.Popen(
        [ACT_PY, "-m", "lerobot.async_inference.policy_server", "--host=127.0.0.1",
         f"--port={port}", f"--fps={FPS}", "--inference_latency=0.033", "--obs_queue_timeout=2"],
        cwd=out, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_port(port, server)
        client = subprocess.Popen(
            [ACT_PY, "-m", "lerobot.async_inference.robot_client", "--robot.type=replay",
             f"--robot.dataset={dataset}", f"--robot.record_path={record}", "--robot.loop=true",
             "--task=replay", f"--server_address=127.0.0.1:{port}", "--policy_type=act",
             f"--pretrained_name_or_path={ckpt}", "--policy_device=cpu",
             f"--actions_per_chunk={APC}", "--chunk_size_threshold=0.5", f"--fps={FPS}"],
            cwd=out, env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )  # fmt: skip
        assert client.stdout is not None
        for line in client.stdout:
            if "Control loop thread starting" in line:
                break
        threading.Thread(target=client.stdout.read, daemon=True).start()  # as ours' server
        time.sleep(seconds)
        stop(client, signal.SIGINT)  # SIGTERM would leave the robot connected, no record
    finally:
        stop(server)
    if not record.is_file():
        return {"actions": 0, "rate_hz": 0.0, "note": "no record: the client did not disconnect"}
    return score(record)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="make bench-serve", description=__doc__.split("\n")[0])
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--dataset", type=Path, required=True)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--out", type=Path, default=REPO / "outputs" / "deploy" / "bench")
    a = p.parse_args(argv)
    for path, knob in (
        (a.checkpoint / "config.json", "CHECKPOINT"),
        (a.dataset / "meta", "DATASET"),
    ):
        if not path.exists():
            print(
                f"bench-serve: error: {path} missing: make bench-serve {knob}=...", file=sys.stderr
            )
            return 2
    out = a.out / time.strftime("%Y%m%d-%H%M%S")
    ckpt, ds = a.checkpoint.resolve(), a.dataset.resolve()
    results = {"ours": ours(ckpt, ds, a.seconds, out / "ours")}
    results["stock"] = stock(ckpt, ds, a.seconds, out / "stock")
    results["rate_ratio_ours_vs_stock"] = (
        round(results["ours"]["rate_hz"] / results["stock"]["rate_hz"], 2)
        if results["stock"].get("rate_hz")
        else None
    )
    (out / "bench-serve.json").write_text(json.dumps(results, indent=2) + "\n")
    for name in ("ours", "stock"):
        r = results[name]
        print(
            f"bench-serve: {name:5s} {r.get('rate_hz')} Hz of {FPS} ({r.get('actions')} actions), "
            f"{r.get('stalls')} stalls ({r.get('stall_s')} s)"
            + (f", round trip {r['round_trip_ms']}" if name == "ours" else "")
        )
    print(f"bench-serve: ours/stock rate {results['rate_ratio_ours_vs_stock']}; {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
