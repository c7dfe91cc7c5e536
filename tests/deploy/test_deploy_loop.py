"""make serve / make robot for real: LeRobot 0.6.1's server and client over gRPC on loopback.

One ``make serve`` (a tiny random ACT made by LeRobot from a LeRobot-written Koch-like dataset)
is shared by the module; the replay robot plugin plays that dataset. A second one with mutual
TLS serves the TLS test and is then killed on purpose by the server-death test.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path

import pytest
from conftest import REPO, run
from helpers import deploy_common as dc


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return dc.checkpoint(tmp_path_factory)


@pytest.fixture(scope="module")
def ds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return dc.dataset(tmp_path_factory)


@pytest.fixture(scope="module")
def server(ckpt: Path, tmp_path_factory: pytest.TempPathFactory):
    port = dc.free_port()
    proc = dc.start_server(ckpt, port, tmp_path_factory.mktemp("serve-logs"))
    try:
        proc.wait_for("serve: SERVING", timeout=240)
        yield port, proc
    finally:
        proc.stop()


def test_malicious_payloads_refused_and_server_keeps_serving(server, tmp_path: Path) -> None:
    port, proc = server
    marker = tmp_path / "pwned"
    got = dc.probe("attack", f"127.0.0.1:{port}", marker)
    for rpc in ("instructions", "observations", "storage_smuggle"):
        assert got[rpc]["code"] == "INVALID_ARGUMENT", got
    assert "posix.system" in got["instructions"]["details"]
    assert "weights-only" in got["storage_smuggle"]["details"]
    assert got["marker_exists"] is False and not marker.exists()
    assert got["stock_pickle_ran_smuggle"] is True  # the smuggled payload is a real attack
    assert proc.p.poll() is None and dc.health(port) == "SERVING"
    assert "REFUSED observation" in proc.out


@pytest.fixture(scope="module")
def handshakes(server, ckpt: Path, ds: Path) -> list[dict]:
    """Three legitimate-looking handshakes the server must refuse, from one probe process."""
    port, _ = server
    cases = [f"{ds}:laptop,phone:6", "lerobot/some_hub_model:laptop,phone:6", f"{ckpt}:front:7"]
    return dc.probe("handshake", f"127.0.0.1:{port}", *cases)


def test_checkpoint_outside_allow_list_refused(handshakes) -> None:
    outside, hub, _ = handshakes
    assert outside["code"] == hub["code"] == "PERMISSION_DENIED"
    assert "allowed roots" in outside["details"] and "add it to ALLOW_ROOTS" in outside["details"]
    # an existing directory outside the roots and a Hub id: the same words (only the path differs)
    strip = [d["details"].split(" refused: ", 1)[1] for d in (outside, hub)]
    assert strip[0] == strip[1] and "Hub ids are never loaded" in strip[0]


def test_feature_mismatch_refused_at_handshake(handshakes) -> None:
    got = handshakes[2]
    assert got["code"] == "FAILED_PRECONDITION", got
    assert "checkpoint cameras ['laptop', 'phone'] vs robot cameras ['front']" in got["details"]
    assert "checkpoint state 6-d vs robot state 7-d" in got["details"]


def test_second_server_on_busy_port_refused(server, ckpt: Path, tmp_path: Path) -> None:
    port, first = server
    second = dc.start_server(ckpt, port, tmp_path)
    rc = second.wait(timeout=120)
    assert rc != 0 and "port in use" in second.out, second.out
    assert "SERVING" not in second.out
    assert first.p.poll() is None and dc.health(port) == "SERVING"


@pytest.fixture(scope="module")
def replay_run(server, ckpt: Path, ds: Path, tmp_path_factory: pytest.TempPathFactory):
    """``make robot ROBOT=replay DURATION=8`` while the health service is probed repeatedly."""
    port, server_proc = server
    log_dir = tmp_path_factory.mktemp("robot")
    readies_before = server_proc.out.count("connected and ready")
    client = dc.Proc(
        [
            "make",
            "robot",
            "ROBOT=replay",
            f"CHECKPOINT={ckpt}",
            f"SERVER=127.0.0.1:{port}",
            f"DATASET={ds}",
            "DURATION=8",
            "STALL_S=5",
            f"DEPLOY_DIR={log_dir}",
        ]
    )
    client.wait_for("robot: moving", timeout=180)
    probes = []
    while client.p.poll() is None and len(probes) < 10:
        probes.append(dc.health(port))
        time.sleep(0.3)
    rc = client.wait(timeout=120)
    rdir = dc.run_dir(log_dir)
    report = json.loads((rdir / "report.json").read_text())
    actions = json.loads((rdir / "actions.json").read_text())
    readies = server_proc.out.count("connected and ready") - readies_before
    assert "loading /" not in server_proc.out  # the handshake reused the warmed-up policy
    return rc, client.out, report, actions, probes, readies, rdir, os.getloadavg()[0]


def test_replay_loop_moves(replay_run) -> None:
    rc, out, report, actions, _, _, rdir, load = replay_run
    assert rc == 0, out
    assert "duration 8 s reached" in out
    assert report["actions_performed"] > 0 and report["chunks_received"] > 0
    assert actions["disconnected"] is True
    assert actions["actions_received"] == report["actions_performed"] > 0
    assert all(len(a["action"]) == 6 for a in actions["actions"])
    assert set(actions["mae_vs_recorded"]) == set(actions["action_names"])
    assert report["round_trip_ms"]["p50"] > 0
    # The rate is the box's as much as ours: on this shared 2-core box other jobs' load took it
    # to 37-99%. Within 10% of the target is required when the box was quiet during the run
    # (1-min load <= 1.5 per core, our server and client included); otherwise it is reported.
    if load <= 1.5 * (os.cpu_count() or 1):
        assert report["rate_ratio"] >= 0.9, (load, report)
    assert report["rate_ratio"] > 0, report
    assert (rdir / "report.png").stat().st_size > 1000
    shown = {k: report[k] for k in ("achieved_hz", "round_trip_ms", "chunks_late")}
    print(f"\nreplay (load {load:.1f}): {json.dumps(shown)}")


def test_health_probe_does_not_disturb(replay_run) -> None:
    rc, out, report, _, probes, readies, _, _ = replay_run
    assert probes and all(p == "SERVING" for p in probes), probes
    assert readies == 1  # only the client's own handshake reached Ready
    assert rc == 0 and report["failed"] is False, out


def test_preflight_feature_mismatch_before_connecting(server, ckpt: Path, tmp_path: Path) -> None:
    """The real Koch profile with a camera renamed: refused before the arm or server is touched."""
    port, server_proc = server
    sessions = server_proc.out.count("session for")
    front = "{front: {type: opencv, index_or_path: 0, width: 640, height: 480, fps: 30}}"
    cmd = dc.act(
        "-m", "scripts.deploy.client", "--robot", "koch", "--checkpoint", ckpt,
        "--server", f"127.0.0.1:{port}", "--log-dir", tmp_path, "--set", f"robot.cameras={front}",
    )  # fmt: skip
    proc = run(cmd, timeout=180)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    err = proc.stderr.strip().splitlines()[-1]
    assert err.startswith("robot: error: features mismatch"), err
    assert "checkpoint cameras ['laptop', 'phone'] vs robot cameras ['front']" in err
    assert "/dev/ttyACM0" not in proc.stderr  # no attempt to open the arm's port
    assert server_proc.out.count("session for") == sessions  # nor to reach the server


def test_no_server_refused_before_connecting(ckpt: Path, ds: Path, tmp_path: Path) -> None:
    proc = run(dc.client_cmd(ckpt, dc.free_port(), ds, tmp_path, "--server-wait", "1"), timeout=180)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "waiting up to 1 s for server" in proc.stdout
    err = proc.stderr.strip().splitlines()[-1]
    assert "not reachable (health UNAVAILABLE; waited 1 s" in err, err
    assert "start it (make serve)" in err and "the robot was not connected" in err
    assert not list(tmp_path.rglob("actions.json"))


def test_client_wait_for_server_states() -> None:
    """Warming up (NOT_SERVING, then SERVING), stuck warming, nothing there, no health service:
    real gRPC servers on loopback, the client's own wait function (tests/helpers/deploy_wait.py)."""
    got = dc.probe_script(dc.HELPERS / "deploy_wait.py")
    warming, stuck, nothing, stock = (got[k] for k in ("warming", "stuck", "nothing", "stock"))
    assert warming["result"] == "ours" and 0.9 < warming["seconds"] < 5, warming
    assert len(warming["lines"]) == 1 and warming["lines"][0].startswith(
        "robot: waiting up to 10 s"
    )
    assert warming["lines"][0].endswith("(health NOT_SERVING: warming up)")
    assert "still warming up (health NOT_SERVING; waited 1 s" in stuck["result"], stuck
    assert "start it (make serve)" not in stuck["result"]
    assert "not reachable (health UNAVAILABLE; waited 1 s" in nothing["result"], nothing
    assert nothing["lines"][0].endswith("(health UNAVAILABLE: not reachable yet)")
    assert stock["result"] == "stock" and "not a make serve server" in stock["lines"][0], stock


def test_client_started_with_the_server_waits_for_it(ckpt: Path, ds: Path, tmp_path: Path) -> None:
    """The README's `make serve ... &` + `make robot ...`: the client is up first, the server
    starts cold; the client waits (one line) instead of giving up, then runs."""
    port = dc.free_port()
    client = dc.Proc(dc.client_cmd(ckpt, port, ds, tmp_path / "robot", "--duration", "2"))
    server = None
    try:
        client.wait_for("robot: task ", timeout=180)  # printed just before the wait
        server = dc.start_server(ckpt, port, tmp_path / "serve")
        rc = client.wait(timeout=240)
    finally:
        client.stop()
        if server is not None:
            server.stop()
    assert rc == 0, client.out
    waits = [ln for ln in client.out.splitlines() if "robot: waiting up to" in ln]
    assert len(waits) == 1 and f"120 s for server 127.0.0.1:{port} (health " in waits[0], waits
    assert "duration 2 s reached" in client.out and "start it (make serve)" not in client.out


def test_task_text_reaches_the_client_verbatim(ckpt: Path, ds: Path, tmp_path: Path) -> None:
    """make robot TASK=... with backticks, $(...), quotes and Chinese: the exact string, and no
    command run by the shell or by make."""
    marks = [tmp_path / f"mark{i}" for i in range(3)]
    task = (
        f'pick `touch {marks[0]}` $(touch {marks[1]}) it\'s "red" 拿起红色方块 '
        f"$(shell touch {marks[2]}) $$HOME 100%"
    )
    proc = run(
        ["make", "robot", f"CHECKPOINT={ckpt}", f"DATASET={ds}", f"TASK={task}",
         f"SERVER=127.0.0.1:{dc.free_port()}", "SERVER_WAIT=0", f"DEPLOY_DIR={tmp_path}"],
        timeout=180,
    )  # fmt: skip
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("robot: task ")]
    assert len(lines) == 1, proc.stdout + proc.stderr
    assert json.loads(lines[0].removeprefix("robot: task ")) == task
    assert not [m for m in marks if m.exists()]
    assert "not reachable" in proc.stderr and "undefined variable" not in proc.stderr


def test_fps_mismatch_refused_at_handshake(server, ckpt: Path, ds: Path, tmp_path: Path) -> None:
    """Client at 15 fps, make serve at 30: refused naming both fixes, before any action."""
    port, server_proc = server
    proc = run(
        dc.client_cmd(ckpt, port, ds, tmp_path, "--fps", "15", "--duration", "5"), timeout=180
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    says = "client runs at 15 fps, server times chunks at 30 fps: make serve FPS=15 or make robot "
    says += "FPS=30"
    assert f"refused the session: {says}" in proc.stderr, proc.stderr
    assert "no action executed" in proc.stdout
    assert "REFUSED handshake from ipv4:127.0.0.1:" in server_proc.out
    assert dc.health(port) == "SERVING"


@pytest.fixture(scope="module")
def stock_server(tmp_path_factory: pytest.TempPathFactory):
    """Stock LeRobot 0.6.1's policy server (as make bench-serve runs it), in its own cwd."""
    cwd = tmp_path_factory.mktemp("stock-serve")
    port = dc.free_port()
    proc = dc.Proc(
        dc.act("-m", "lerobot.async_inference.policy_server", "--host=127.0.0.1",
               f"--port={port}", "--fps=30"),
        cwd=cwd,
    )  # fmt: skip
    try:
        dc.wait_listening(port, proc, timeout=120)
        yield port, proc
    finally:
        proc.signal(signal.SIGINT)  # it has no SIGTERM handler
        proc.stop()


def test_client_runs_against_a_stock_lerobot_server(
    stock_server, ckpt: Path, ds: Path, tmp_path: Path
) -> None:
    """No health service (UNIMPLEMENTED): a warning of what it lacks, then the loop runs."""
    port, _ = stock_server
    proc = run(dc.client_cmd(ckpt, port, ds, tmp_path, "--duration", "2"), timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    warning = [ln for ln in proc.stdout.splitlines() if "has no health service" in ln]
    assert len(warning) == 1 and "not a make serve server" in warning[0], proc.stdout
    assert "no safe decoding" in warning[0] and "no checkpoint allow-list" in warning[0]
    assert "robot: moving" in proc.stdout and "duration 2 s reached" in proc.stdout


def test_stock_server_fps_mismatch_seen_in_the_first_chunk(
    stock_server, ckpt: Path, ds: Path, tmp_path: Path
) -> None:
    """A stock server does not read our fps: its first chunk's timestamps 1/30 s apart stop a
    15 fps client before it performs any action."""
    port, _ = stock_server
    proc = run(
        dc.client_cmd(ckpt, port, ds, tmp_path, "--fps", "15", "--duration", "5"), timeout=240
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert (
        "client runs at 15 fps, server times chunks at 30 fps (actions 33.3 ms apart): "
        "make serve FPS=15 or make robot FPS=30"
    ) in proc.stderr, proc.stderr
    assert "no action executed" in proc.stdout
    actions = json.loads((dc.run_dir(tmp_path) / "actions.json").read_text())
    assert actions["actions_received"] == 0 and actions["disconnected"] is True


def test_profiles_parse_with_lerobot_config_classes(ckpt: Path, ds: Path) -> None:
    proc = run(dc.act(dc.HELPERS / "deploy_parse_profiles.py", ckpt, ds), timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["koch"]["robot"]["type"] == "koch_follower"
    assert got["koch"]["robot"]["disable_torque_on_disconnect"] is True
    assert set(got["koch"]["robot"]["cameras"]) == {"laptop", "phone"}
    assert got["replay"]["robot"]["type"] == "replay"
    for name in ("koch", "replay"):
        assert got[name]["actions_per_chunk"] == 10 and got[name]["fps"] == 30
    assert got["bad_key"].startswith("error:") and "no_such_key" in got["bad_key"]
    assert got["renamed_camera"].startswith("error: features mismatch")


def _ignore_sigint() -> None:
    # What a non-interactive shell does to a background job (`make robot &` in a script).
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT-ignored-at-start"])
def test_client_sigterm_disconnects_robot(
    server, ckpt: Path, ds: Path, tmp_path: Path, sig: str
) -> None:
    port, _ = server
    signum = signal.SIGTERM if sig == "SIGTERM" else signal.SIGINT
    pre = _ignore_sigint if signum == signal.SIGINT else None
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    client = dc.Proc(dc.client_cmd(ckpt, port, ds, tmp_path), preexec_fn=pre, cwd=cwd)
    try:
        client.wait_for("robot: moving", timeout=180)
        time.sleep(1.0)
        t_signal = time.time()
        client.signal(signum)
        rc = client.wait(timeout=120)  # the report (matplotlib) is slow on a loaded box
    finally:
        client.stop()
    assert rc == 0, client.out
    assert f"{signal.Signals(signum).name}: stopped by the operator" in client.out
    record = dc.run_dir(tmp_path) / "actions.json"
    actions = json.loads(record.read_text())
    assert actions["disconnected"] is True and actions["actions_received"] > 0
    disconnected_after = record.stat().st_mtime - t_signal
    assert disconnected_after < 5.0, disconnected_after  # torque off first, report after
    assert list(cwd.iterdir()) == []  # LeRobot's ./logs went to the run directory instead
    print(f"\n{sig} -> robot disconnected after {disconnected_after:.2f} s")


def test_client_refuses_malicious_action_chunk(ckpt: Path, ds: Path, tmp_path: Path) -> None:
    port = dc.free_port()
    marker = tmp_path / "pwned"
    evil = dc.Proc(dc.act(dc.HELPERS / "deploy_probe.py", "evil-server", port, marker))
    try:
        evil.wait_for('"listening"', timeout=120)
        proc = run(dc.client_cmd(ckpt, port, ds, tmp_path / "logs"), timeout=180)
    finally:
        evil.stop()
    # every chunk is refused and dropped (the process goes on); no valid chunk: the STALL_S
    # watchdog stops the robot
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert (
        "refused an action chunk from the server (1 so far), dropped: refused global "
        "posix.system" in proc.stderr
    )
    assert "no action chunk for" in proc.stderr
    assert not marker.exists()
    actions = json.loads((dc.run_dir(tmp_path / "logs") / "actions.json").read_text())
    assert actions["disconnected"] is True and actions["actions_received"] == 0


def test_wedged_server_stops_client(server, ckpt: Path, ds: Path, tmp_path: Path) -> None:
    """A server that is up but stops answering (SIGSTOP; seen for real when its log call blocked
    on a stdout pipe nobody read) must not freeze the robot. LeRobot sends each observation
    from the control loop with no deadline: the loop hung in that call, the watchdog's STALL_S
    stop was requested but never carried out, the arm stayed connected and the process never
    ended (reproduced for 60 s before SendDeadline)."""
    port, server_proc = server
    stall_s = 2.0
    client = dc.Proc(dc.client_cmd(ckpt, port, ds, tmp_path, "--stall-s", str(stall_s)))
    try:
        client.wait_for("robot: moving", timeout=180)
        time.sleep(1.0)
        t_stop = time.time()
        server_proc.signal(signal.SIGSTOP, group=True)
        try:
            rc = client.wait(timeout=60)
        finally:
            server_proc.signal(signal.SIGCONT, group=True)
    finally:
        client.stop()
    assert rc == 1, client.out
    assert "no action chunk for" in client.out, client.out
    record = dc.run_dir(tmp_path) / "actions.json"
    actions = json.loads(record.read_text())
    assert actions["disconnected"] is True and actions["actions_received"] > 0
    stopped_after = record.stat().st_mtime - t_stop
    # the watchdog's STALL_S, then at most one send deadline (STALL_S) for the loop to see it
    assert stopped_after <= 2 * stall_s + 3.0, stopped_after
    print(f"\nserver wedged -> robot disconnected after {stopped_after:.2f} s (STALL_S={stall_s})")


def test_remote_bind_refused_without_opt_in_and_tls(ckpt: Path, tmp_path: Path) -> None:
    for extra, says in (([], "ALLOW_REMOTE=1"), (["ALLOW_REMOTE=1"], "needs TLS_DIR")):
        proc = dc.start_server(ckpt, dc.free_port(), tmp_path, "HOST=0.0.0.0", *extra)
        assert proc.wait(timeout=120) != 0 and says in proc.out, proc.out
        assert "listening" not in proc.out


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``make certs``'s folder: server/ stays on the GPU box, robot/ goes to the robot PC."""
    d = tmp_path_factory.mktemp("tls") / "certs"
    proc = run(["make", "certs", f"TLS_DIR={d}"], timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert f"{d}/server  stays on the GPU box" in proc.stdout, proc.stdout
    assert f"{d}/robot   copy this folder (only this one) to the robot PC" in proc.stdout
    return d


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_certs_split_what_goes_to_each_machine_and_keep_the_ca_key_out(tls: Path) -> None:
    """Issue 22: the whole folder, CA key and server key included, went to the robot PC."""
    robot, server = files(tls / "robot"), files(tls / "server")
    assert sorted(robot) == ["ca.pem", "client.key", "client.pem"]
    assert sorted(server) == ["ca.pem", "server.key", "server.pem"]
    ca_key = (tls / "ca" / "ca.key").read_bytes()
    assert b"PRIVATE KEY" in ca_key and (tls / "ca/ca.key").stat().st_mode & 0o777 == 0o600
    for content in (*robot.values(), *server.values()):
        assert content != ca_key and ca_key not in content
    assert robot["ca.pem"] == server["ca.pem"] == (tls / "ca" / "ca.pem").read_bytes()
    again = run(["scripts/deploy/certs.sh", tls], timeout=60)
    assert again.returncode == 1 and "exists: choose another TLS_DIR" in again.stderr
    assert files(tls / "robot") == robot  # nothing replaced


def test_wrong_tls_folder_is_a_one_line_error_naming_the_right_one(
    tls: Path, ckpt: Path, ds: Path, tmp_path: Path
) -> None:
    proc = dc.start_server(ckpt, dc.free_port(), tmp_path, f"TLS_DIR={tls / 'robot'}")
    assert proc.wait(timeout=120) != 0
    want = f"serve: error: TLS_DIR={tls / 'robot'} is the robot folder of make certs; use "
    assert f"{want}TLS_DIR={tls / 'server'}\n" in proc.out, proc.out
    for given, says in (
        (tls, f"TLS_DIR={tls} is the make certs folder; use TLS_DIR={tls / 'robot'}"),
        (tls / "server", f"is the server folder of make certs; use TLS_DIR={tls / 'robot'}"),
        (
            tls / "ca",
            f"holds ca.key, the CA's private key, which stays out of both machines' "
            f"folders; use TLS_DIR={tls / 'robot'} (make certs writes it)",
        ),
    ):
        got = run(dc.client_cmd(ckpt, dc.free_port(), ds, tmp_path, "--tls-dir", given))
        assert got.returncode != 0 and says in got.stderr, got.stderr
        errors = [ln for ln in got.stderr.splitlines() if "error" in ln]
        assert len(errors) == 1 and errors[0].startswith("robot: error: TLS_DIR="), got.stderr


@pytest.fixture(scope="module")
def tls_server(ckpt: Path, tls: Path, tmp_path_factory: pytest.TempPathFactory):
    """A second server, with mutual TLS (on loopback); the server-death test kills it."""
    port = dc.free_port()
    serve_dir = tls / "server"  # what stays on the GPU box
    proc = dc.start_server(ckpt, port, tmp_path_factory.mktemp("tls-serve"), f"TLS_DIR={serve_dir}")
    try:
        proc.wait_for("serve: SERVING", timeout=240)
        yield port, proc
    finally:
        proc.stop()


def test_mutual_tls_admits_only_clients_with_a_certificate(
    tls_server, tls: Path, tmp_path: Path
) -> None:
    port, proc = tls_server
    assert "mutual TLS" in proc.out
    robot_pc = tmp_path / "copied-to-robot"  # what the user copies: the robot folder only
    shutil.copytree(tls / "robot", robot_pc)
    assert dc.health(port, robot_pc) == "SERVING"
    assert dc.health(port) != "SERVING"  # plaintext
    other = tmp_path / "other"
    assert run(["scripts/deploy/certs.sh", other], timeout=60).returncode == 0
    forged = tmp_path / "forged"  # trusts the right CA, but its own cert is from another CA
    forged.mkdir()
    (forged / "ca.pem").write_bytes((tls / "robot" / "ca.pem").read_bytes())
    for name in ("client.pem", "client.key"):
        (forged / name).write_bytes((other / "robot" / name).read_bytes())
    assert dc.health(port, forged) != "SERVING"
    assert proc.p.poll() is None


def test_server_death_stops_client(tls_server, tls: Path, ckpt: Path, ds: Path, tmp_path: Path):
    """A real session over mutual TLS, then the server is killed (SIGKILL, no goodbye)."""
    port, server_proc = tls_server
    stall_s = 2.0
    extra = ("--stall-s", str(stall_s), "--tls-dir", str(tls / "robot"))
    client = dc.Proc(dc.client_cmd(ckpt, port, ds, tmp_path, *extra))
    try:
        client.wait_for("robot: moving", timeout=180)
        time.sleep(1.0)
        t_kill = time.time()
        server_proc.signal(signal.SIGKILL, group=True)
        rc = client.wait(timeout=120)
    finally:
        client.stop()
    assert rc == 1, client.out
    assert "no action chunk for" in client.out and "unreachable" in client.out
    record = dc.run_dir(tmp_path) / "actions.json"
    actions = json.loads(record.read_text())
    assert actions["disconnected"] is True and actions["actions_received"] > 0
    stopped_after = record.stat().st_mtime - t_kill
    assert stopped_after <= stall_s + 2.0, stopped_after
    print(f"\nserver killed -> robot disconnected after {stopped_after:.2f} s (STALL_S={stall_s})")


def test_serve_needs_a_checkpoint() -> None:
    proc = run(["make", "serve", "CHECKPOINT=", "OUT="], timeout=60, cwd=REPO)
    assert proc.returncode != 0 and "make serve CHECKPOINT=" in proc.stderr
