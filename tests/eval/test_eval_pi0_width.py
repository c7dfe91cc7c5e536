"""A PI0 whose PaliGemma is not 2048 wide is refused by make eval, make serve and make train
in about a second, from its config alone (tools env, no torch, no weights).

Why: LeRobot 0.6.1 builds such a model (minutes, gigabytes) and then fails on the first frame
in embed_prefix, because modeling_pi0.py hard-codes the image projection to 2048. The first
test pins that fact to the installed LeRobot, so the message's file:line cannot go stale.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import REPO, env_python, run
from helpers.train_common import tool_env, train_cmd

from scripts.common import paligemma

TOOLS = REPO / "envs" / "tools" / ".venv" / "bin" / "python"


def site_lerobot() -> Path:
    py = env_python("smolvla")
    lib = Path(py).parent.parent / "lib"
    return next(lib.glob("python3*/site-packages/lerobot"))


@pytest.mark.parametrize("ptype", sorted(paligemma.DEFECT_LINE))
def test_the_named_line_is_the_hard_coded_projection(ptype: str) -> None:
    src = site_lerobot() / "policies" / ptype / f"modeling_{ptype}.py"
    line = src.read_text().splitlines()[paligemma.DEFECT_LINE[ptype] - 1]
    assert line.strip() == f"vlm_config_hf.vision_config.projection_dim = {paligemma.PROJECTION}"
    widths = src.read_text()
    assert all(f"width={w}," in widths for w in paligemma.WIDTH.values())


def config_only(root: Path, **cfg: object) -> Path:
    """A pretrained_model folder with only config.json: refused before any weight is read."""
    root.mkdir(parents=True)
    (root / "config.json").write_text(json.dumps({"type": "pi0", **cfg}))
    return root


def one_error(proc, prefix: str) -> str:
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [ln for ln in lines if ln.startswith(prefix)]
    assert len(errors) == 1, proc.stderr
    return errors[0]


def expect_refusal(line: str, where: str) -> None:
    assert where in line
    assert "paligemma_variant 'gemma_300m' (width 1024)" in line
    assert "lerobot/policies/pi0/modeling_pi0.py:222" in line
    assert "use paligemma_variant=gemma_2b" in line


def test_make_eval_refuses_a_1024_wide_paligemma(tmp_path: Path) -> None:
    ck = config_only(tmp_path / "pi0_300m", paligemma_variant="gemma_300m")
    cmd = [TOOLS, "-m", "scripts.eval", "--checkpoint", ck, "--dataset", tmp_path]
    proc = run(cmd, timeout=60)
    assert proc.returncode == 2
    expect_refusal(one_error(proc, "eval: error:"), f"{ck}/config.json")
    # the same folder with gemma_2b (or no variant: LeRobot's default) passes this check and
    # stops at the next one, the missing weights: the refusal is about the width alone
    for name, extra in (("pi0_2b", {"paligemma_variant": "gemma_2b"}), ("pi0_default", {})):
        ok = config_only(tmp_path / name, **extra)
        proc = run([TOOLS, "-m", "scripts.eval", "--checkpoint", ok, "--dataset", tmp_path])
        assert proc.returncode == 2
        assert one_error(proc, "eval: error:") == (
            f"eval: error: {ok}: no model.safetensors (an incomplete checkpoint)"
        )


def test_make_serve_refuses_it_before_building_an_env(tmp_path: Path) -> None:
    ck = config_only(tmp_path / "pi0_300m", paligemma_variant="gemma_300m")
    proc = run(["make", "serve", f"CHECKPOINT={ck}"], timeout=60)
    assert proc.returncode != 0
    expect_refusal(one_error(proc, "serve: error:"), f"{ck}/config.json")
    ok = config_only(tmp_path / "pi0_2b", paligemma_variant="gemma_2b")
    proc = run([sys.executable, "-m", "scripts.deploy.checkpoint", "env", ok], timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == "smolvla", proc.stderr


def test_make_train_refuses_it_before_the_gpu_and_data_checks(tmp_path: Path) -> None:
    # An empty folder as DATASET: the refusal comes before the dataset is read (and before the
    # GPU and PaliGemma-tokenizer checks), so a laptop dry run says it too.
    args = ["--recipe", "pi0_24g", "--dataset", tmp_path, "--dry-run", "--"]
    proc = run(train_cmd(*args, "--policy.paligemma_variant=gemma_300m"), env=tool_env())
    assert proc.returncode == 2
    expect_refusal(one_error(proc, "train: error:"), "RECIPE=pi0_24g: policy.paligemma_variant")
    proc = run(train_cmd(*args, "--policy.paligemma_variant=gemma_2b"), env=tool_env())
    assert "paligemma_variant" not in proc.stderr  # it fails later, on the empty dataset


def test_pi05_and_unknown_variants() -> None:
    line = paligemma.refusal({"type": "pi05", "paligemma_variant": "gemma_300m"}, "x/config.json")
    assert line and "lerobot/policies/pi05/modeling_pi05.py:219" in line
    assert "not one LeRobot 0.6.1 knows" in str(
        paligemma.refusal({"type": "pi0", "paligemma_variant": "gemma_7b"}, "c")
    )
    assert paligemma.refusal({"type": "smolvla", "paligemma_variant": "gemma_300m"}, "c") is None
    assert paligemma.refusal({"type": "pi0", "action_expert_variant": "gemma_300m"}, "c") is None
