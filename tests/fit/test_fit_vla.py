"""make fit on SmolVLA and PI0: real-vs-fake on a tiny SmolVLM2, frozen parts, checkpointing.

Runs in envs/smolvla as a subprocess (the test process is envs/tools). The default suite uses
the tiny random SmolVLM2 of ``scripts.train.make_tiny_smolvla`` (seconds) and PI0 at batch 2 on the
sample's small images (the fake step of 3.5 B parameters costs ~10-20 s). Full-size parameter
counts against LeRobot's own build need ~2 GB of real weights and minutes: they run only with
``FIT_FULL=1`` (marked slow).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import env_python, run

FULL = pytest.mark.skipif(
    not os.environ.get("FIT_FULL"), reason="full-size SmolVLA/PI0 builds: set FIT_FULL=1"
)


def fit_run(*args: str) -> dict:
    """``python -m scripts.fit.run`` in envs/smolvla; the JSON it prints."""
    proc = run([env_python("smolvla"), "-m", "scripts.fit.run", *args], timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def tiny(weights: Path) -> str:
    return f"vlm_model_name={weights / 'tiny-smolvlm2'}"


@pytest.mark.parametrize("amp", ["false", "true"])
def test_smolvla_fake_peak_equals_real_peak_on_cpu(weights: Path, amp: str) -> None:
    """SmolVLA on a tiny SmolVLM2 at batch 2: real and fake steps peak at the same bytes."""
    proc = run(
        [env_python("smolvla"), "-m", "scripts.fit.agree", "--recipe", "smolvla_cpu",
         "--batch", "2", "--override", tiny(weights), "--override", f"use_amp={amp}"],
        timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    fake, real = out["fake"], out["real"]
    assert real["peak"] > 1024**2
    assert fake["phases"] == real["phases"]
    assert fake["peak"] == real["peak"]


def test_smolvla_frozen_vlm_needs_less_memory(weights: Path) -> None:
    """Training the VLM too adds its gradients and AdamW state: more memory than expert-only."""
    common = ("--recipe", "smolvla_cpu", "--batch", "4", "--override", tiny(weights))
    frozen = fit_run(*common)["prediction"]
    full = fit_run(
        *common, "--override", "train_expert_only=false", "--override",
        "freeze_vision_encoder=false",
    )["prediction"]  # fmt: skip
    assert full["params_trainable"] > frozen["params_trainable"]
    assert full["params_total"] == frozen["params_total"]
    assert full["gradients"] > frozen["gradients"]
    assert full["optimizer"] > frozen["optimizer"]
    assert full["peak"] > frozen["peak"]


def test_pi0_counts_lerobots_parameters_and_checkpointing_lowers_the_peak() -> None:
    """PI0 as LeRobot counts it (~3.5 B, lm_head tied) and gradient checkpointing saves memory."""
    common = ("--recipe", "pi0_48g", "--shapes", "sample", "--batch", "2")
    ckpt = fit_run(*common)
    plain = fit_run(*common, "--override", "gradient_checkpointing=false")
    p = ckpt["prediction"]
    # LeRobot's PI0 (paligemma gemma_2b + gemma_300m expert) as loaded from pi0_base: the
    # lm_head shares the token embedding, so 3.50 B, not the 4.03 B of an untied build.
    assert 3.45e9 < p["params_total"] < 3.55e9
    assert p["params_trainable"] == p["params_total"]  # pi0_48g trains everything
    # Checkpointing keeps only layer inputs: smaller forward and backward peaks. (At batch 2
    # the step's overall peak is AdamW's, the same either way.)
    assert plain["prediction"]["activations"] > p["activations"]
    assert plain["prediction"]["phases"]["forward"] > p["phases"]["forward"]
    assert "built as policy.type=pi0" in " ".join(p["notes"])


@FULL
@pytest.mark.slow
def test_smolvla_parameters_equal_lerobots_own_build(weights: Path, tmp_path: Path) -> None:
    """LeRobot builds SmolVLA on a directory holding SmolVLM2-500M's config; same count as fit."""
    vlm = tmp_path / "smolvlm2-500m-config"
    shutil.copytree(weights / "tiny-smolvlm2", vlm)  # processor files; config replaced below
    code = (
        "import sys\n"
        "from scripts.fit.vlm_configs import smolvlm2_500m_config\n"
        "smolvlm2_500m_config().save_pretrained(sys.argv[1])\n"
        "from lerobot.policies.smolvla.configuration_smolvla import SmolVLAConfig\n"
        "from lerobot.policies.smolvla.modeling_smolvla import SmolVLAPolicy\n"
        "from lerobot.configs.types import FeatureType, PolicyFeature\n"
        "c = SmolVLAConfig(vlm_model_name=sys.argv[1], load_vlm_weights=False, device='cpu')\n"
        "c.input_features = {'observation.state': PolicyFeature(FeatureType.STATE, (6,)),\n"
        "  'observation.images.laptop': PolicyFeature(FeatureType.VISUAL, (3, 96, 128))}\n"
        "c.output_features = {'action': PolicyFeature(FeatureType.ACTION, (6,))}\n"
        "p = SmolVLAPolicy(c)\n"
        "print(sum(x.numel() for x in p.parameters()),\n"
        "      sum(x.numel() for x in p.parameters() if x.requires_grad))\n"
    )
    proc = run([env_python("smolvla"), "-c", code, vlm], timeout=1200)
    assert proc.returncode == 0, proc.stderr[-2000:]
    total, trainable = (int(x) for x in proc.stdout.split()[-2:])
    got = fit_run("--recipe", "smolvla_24g", "--batch", "1")["prediction"]
    assert (got["params_total"], got["params_trainable"]) == (total, trainable)
    assert 440e6 < total < 460e6  # LeRobot's published ~450 M for smolvla_base
