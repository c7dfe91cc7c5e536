"""`make train` details from issue 15: a dry run shows the command even without a usable GPU."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
import time
from pathlib import Path

import pytest
from conftest import REPO, env_python, run, run_env

from scripts.sample.make import SampleSpec, make_dataset


@pytest.fixture(scope="module")
def v30(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("train")
    src = make_dataset(root / "grasp", SampleSpec(episode_lengths=(12, 12)), progress=False)
    cmd = [env_python("tools"), "-m", "scripts.convert", src, "--quiet"]
    assert run(cmd).returncode == 0
    return root / "grasp_v30"


def test_dry_run_reports_gpu_findings_as_warnings(v30: Path) -> None:
    if shutil.which("nvidia-smi"):
        pytest.skip("a GPU driver is present: the no-GPU finding cannot be shown here")
    args = "--policy.pretrained_backbone_weights=null --policy.chunk_size=10"
    args += " --policy.n_action_steps=10"
    knobs = ["RECIPE=act_8g", f"DATASET={v30}", f"ARGS={args}"]
    dry = run(["make", "train", *knobs, "DRY_RUN=1"], cwd=REPO)
    out = dry.stdout + dry.stderr
    assert dry.returncode == 0, out
    assert "warning: recipe act_8g: no CUDA GPU" in out and "exit 5" in out
    assert "lerobot-train --policy.type=act" in dry.stdout
    real = run(["make", "train", *knobs], cwd=REPO)
    assert real.returncode == 2 and "train: error: recipe act_8g: no CUDA GPU" in real.stderr


def weights_import(src: Path, home: Path):
    env = {**run_env(), "TORCH_HOME": str(home / "torch"), "WEIGHTS_DIR": str(home / "w")}
    return run(["make", "-s", "weights-import", f"FROM={src}"], cwd=REPO, env=env)


def test_weights_import_checks_the_hash_in_a_torchvision_name(tmp_path: Path) -> None:
    fake = tmp_path / "resnet18-f37072fd.pth"
    fake.write_bytes(os.urandom(4096))
    proc = weights_import(fake, tmp_path)
    assert proc.returncode != 0
    assert f"{fake}: content does not match the hash in its name (f37072fd" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "torch").exists() or not list((tmp_path / "torch").rglob("*.pth"))
    body = os.urandom(4096)
    real = tmp_path / f"resnet18-{hashlib.sha256(body).hexdigest()[:8]}.pth"
    real.write_bytes(body)
    proc = weights_import(real, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "torch/hub/checkpoints" / real.name).read_bytes() == body


def test_weights_import_truncated_archive_is_one_line(tmp_path: Path) -> None:
    model = tmp_path / "smolvla_base"
    model.mkdir()
    (model / "config.json").write_text('{"type": "smolvla"}')
    (model / "model.safetensors").write_bytes(os.urandom(200_000))
    archive = tmp_path / "weights.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(model, arcname="smolvla_base")
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    proc = weights_import(archive, tmp_path)
    assert proc.returncode != 0
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("weights-import")]
    assert lines and "truncated or damaged archive" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_smoke_steps_zero_is_refused(v30: Path) -> None:
    proc = run(["make", "smoke", f"DATASET={v30}", "STEPS=0"], cwd=REPO, timeout=120)
    assert proc.returncode != 0
    assert "STEPS=0: must be 1 or more" in proc.stderr


def test_plot_into_a_read_only_run_dir_is_one_line(tmp_path: Path) -> None:
    """Root ignores modes: make runs with the DAC capabilities dropped."""
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv missing (util-linux)")
    out = tmp_path / "run"
    out.mkdir()
    lines = [f"INFO step:{s} smpl:{4 * s} ep:0 epch:0.1 loss:{10 / s:.3f} grdn:1.0" for s in (1, 2)]
    (out / "train.log").write_text("\n".join(lines) + "\n")
    out.chmod(0o555)
    no_dac = "-dac_override,-dac_read_search"
    cmd = ["setpriv", f"--inh-caps={no_dac}", f"--bounding-set={no_dac}", "make", "-s", "plot"]
    try:
        proc = run([*cmd, f"OUT={out}"], cwd=REPO)
    finally:
        out.chmod(0o755)
    assert proc.returncode != 0
    assert f"plot_loss: error: {out / 'loss.png'}: cannot write (permission denied)" in proc.stderr
    assert "Traceback" not in proc.stderr


FAKE_TRAIN = """
import logging, pprint, sys
from tqdm import tqdm
fmt = "%(levelname)s %(asctime)s %(filename)s:%(lineno)d %(message)s"
logging.basicConfig(level=logging.INFO, format=fmt, stream=sys.stdout, force=True)
tfs = {k: {"kwargs": {"v": [0.05, 0.95]}, "type": "ColorJitter"} for k in "abcdefghij"}
logging.info(pprint.pformat({"batch_size": 4, "dataset": {"root": "/x (lab)", "tfs": tfs}}))
bar = tqdm(total=3, desc="Training", file=sys.stdout)
for step in (1, 2, 3):
    bar.update(1)
    logging.info("step:%d smpl:%d ep:0 loss:%.3f", step, 4 * step, 10 / step)
bar.close()
"""


def test_train_log_is_clean_and_the_terminal_skips_the_config_dump(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """The real pump around a real child using tqdm and LeRobot's log format (item 12)."""
    from scripts.train import run as train_run

    script = tmp_path / "ot_train.py"  # LeRobot's file name: its config dump is recognised
    script.write_text(FAKE_TRAIN)
    out = tmp_path / "run"
    env = {k: v for k, v in run_env().items() if k != "TQDM_DISABLE"}
    code = train_run.run_logged([str(env_python("tools")), str(script)], out, env, "[train] x\n")
    assert code == 0
    term = capfd.readouterr().out
    log = (out / "train.log").read_text()
    assert "'batch_size': 4" in log and "'ColorJitter'" in log  # the whole dump, in the log
    assert "\r" not in log and "%|" not in log and "\x1b[" not in log
    steps = [ln for ln in log.splitlines() if "step:" in ln]
    assert len(steps) == 3 and all(ln.startswith("INFO ") for ln in steps), log
    assert "'batch_size'" not in term and "ColorJitter" not in term
    assert "[train] LeRobot's config (" in term and "lines): in train.log" in term
    assert "Training" in term and "step:3" in term
    assert not list(tmp_path.glob(".*.part"))


WRITE_LOG = """
import sys
from lerobot.utils.utils import format_big_number as f
def steps(a, b, log):
    for s in range(a, b + 1, 100):
        log.append(f"INFO x ot_train.py:641 step:{f(s)} smpl:{f(4 * s)} ep:0 loss:{1 / s:.6f}")
        if s % 1000 == 0:
            log.append(f"INFO x ot_train.py:687 Checkpoint policy after step {s}")
log = ["[train] lerobot-train --log_freq=100 --save_freq=1000"]
steps(100, 2600, log)  # killed at 2600: the resume restarts from the 2000 checkpoint
log.append("[train] lerobot-train --log_freq=100 --save_freq=1000 --resume=true")
steps(2100, 3000, log)
open(sys.argv[1], "w").write("\\n".join(log) + "\\n")
"""


def test_plot_reads_lerobots_abbreviated_steps_exactly(tmp_path: Path) -> None:
    """LeRobot logs step 1500 as "step:2K": the curve must use the exact steps (item 12)."""
    out = tmp_path / "run"
    out.mkdir()
    assert run([env_python("act"), "-c", WRITE_LOG, out / "train.log"]).returncode == 0
    assert "step:2K" in (out / "train.log").read_text()
    proc = run(["make", "-s", "plot", f"OUT={out}"], cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert "(30 points, step 100..3000)" in proc.stdout, proc.stdout
    from scripts.train.plot_loss import parse_log

    points = dict(parse_log((out / "train.log").read_text()))
    assert sorted(points) == list(range(100, 3001, 100))
    assert all(abs(loss - 1 / step) < 1e-6 for step, loss in points.items())


LAUNCH = """
import sys
from pathlib import Path
from scripts.train import run as train_run
body = "import time; print('INFO step:1 loss:1.0', flush=True); time.sleep(60)"
child = [sys.executable, "-c", body]
sys.exit(train_run.run_logged(child, Path(sys.argv[1]), {}, "[train] child\\n"))
"""


def test_killed_run_leaves_its_log_in_out_and_no_part_file(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [str(env_python("tools")), "-c", LAUNCH, str(out)], cwd=REPO, env=run_env()
    )
    part = tmp_path / ".run.train.log.part"
    deadline = time.time() + 30
    while time.time() < deadline and b"step:1" not in (part.read_bytes() if part.exists() else b""):
        time.sleep(0.1)
    proc.terminate()  # what `kill PID` sends
    assert proc.wait(timeout=60) != 0
    assert not list(tmp_path.glob(".*.part")), list(tmp_path.iterdir())
    log = (out / "train.log").read_text()
    assert "step:1" in log and "interrupted" in log


def test_typos_in_args_fail_preflight_with_the_closest_option(v30: Path) -> None:
    knobs = ["RECIPE=act_cpu", f"DATASET={v30}", "DRY_RUN=1"]
    proc = run(["make", "train", *knobs, "ARGS=--policy.chunk_sise=10 --steps=5"], cwd=REPO)
    assert proc.returncode != 0
    assert (
        "train: error: ARGS: --policy.chunk_sise is not an option of lerobot-train "
        "(LeRobot 0.6.1); did you mean --policy.chunk_size?"
    ) in proc.stderr, proc.stderr
    ok = run(["make", "train", *knobs, "ARGS=--policy.chunk_size=10 --steps=5"], cwd=REPO)
    assert ok.returncode == 0, ok.stderr
