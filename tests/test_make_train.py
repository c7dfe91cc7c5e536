"""`make train` details from issue 15: a dry run shows the command even without a usable GPU."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import REPO, env_python, run

from scripts.make_sample import SampleSpec, make_dataset


@pytest.fixture(scope="module")
def v30(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("train")
    src = make_dataset(root / "grasp", SampleSpec(episode_lengths=(12, 12)), progress=False)
    cmd = [env_python("tools"), "-m", "scripts.convert_v21_to_v30", src, "--quiet"]
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
