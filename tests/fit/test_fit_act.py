"""make fit on ACT: fake-tensor prediction vs real tensors, monotonic levers, the verdict.

The test process runs in envs/tools; every prediction runs in envs/act as a subprocess, as
``make fit`` runs it. ACT is the cheap policy (a full-size fake step takes seconds), so the
default suite uses it; SmolVLA and PI0 are in test_fit_vla.py.
"""

from __future__ import annotations

import json
import sys

import pytest
from conftest import env_python, run

from scripts.train import gpu as gpu_mod

GIB = 1024**3


def fit_run(*args: str) -> dict:
    """``python -m scripts.fit.run`` in envs/act; the JSON it prints."""
    proc = run([env_python("act"), "-m", "scripts.fit.run", *args], timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("amp", ["false", "true"])
def test_fake_peak_equals_real_peak_on_cpu(amp: str) -> None:
    """A tiny real ACT step at batch 2 and its fake twin peak at the same bytes, phase by phase."""
    proc = run(
        [env_python("act"), "-m", "scripts.fit.agree", "--recipe", "act_cpu", "--batch", "2",
         "--override", f"use_amp={amp}"],
        timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    fake, real = out["fake"], out["real"]
    assert real["peak"] > 10 * 1024**2  # a real step happened and was counted
    assert fake["phases"] == real["phases"]
    assert fake["peak"] == real["peak"]
    assert fake["params_total"] == real["params_total"]


def test_act_parameters_equal_lerobots_own_build() -> None:
    """The fit build counts what LeRobot's ACTPolicy counts when LeRobot builds it for real."""
    code = (
        "from lerobot.policies.act.configuration_act import ACTConfig\n"
        "from lerobot.policies.act.modeling_act import ACTPolicy\n"
        "from lerobot.configs.types import FeatureType, PolicyFeature\n"
        "c = ACTConfig(pretrained_backbone_weights=None, device='cpu')\n"
        "img = PolicyFeature(FeatureType.VISUAL, (3, 480, 640))\n"
        "c.input_features = {'observation.state': PolicyFeature(FeatureType.STATE, (45,)),\n"
        "  'observation.images.camera_top': img, 'observation.images.camera_top_depth': img}\n"
        "c.output_features = {'action': PolicyFeature(FeatureType.ACTION, (37,))}\n"
        "p = ACTPolicy(c)\n"
        "print(sum(x.numel() for x in p.parameters()))\n"
    )
    proc = run([env_python("act"), "-c", code], timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lerobot_count = int(proc.stdout.split()[-1])
    got = fit_run("--recipe", "act_8g", "--shapes", "gr2", "--batch", "1")
    assert got["prediction"]["params_total"] == lerobot_count
    assert 45e6 < lerobot_count < 60e6  # ACT: ResNet-18 + 4+1+7 transformer layers of 512


def test_memory_grows_with_batch_and_falls_with_amp() -> None:
    """Activations scale with the batch; fp16 autocast stores smaller activations."""
    small = fit_run("--recipe", "act_8g", "--shapes", "gr2", "--batch", "2")["prediction"]
    big = fit_run("--recipe", "act_8g", "--shapes", "gr2", "--batch", "6")["prediction"]
    fp32 = fit_run(
        "--recipe", "act_8g", "--shapes", "gr2", "--batch", "6", "--override", "use_amp=false"
    )["prediction"]
    assert big["peak"] > small["peak"]
    assert big["activations"] > 2.5 * small["activations"]
    assert big["weights"] == small["weights"] and big["optimizer"] == small["optimizer"]
    # Less than half: ACT's FrozenBatchNorm2d multiplies by float32 buffers, so the ResNet's
    # activations are promoted back to float32 under autocast, as on CUDA.
    assert fp32["activations"] > big["activations"] * 1.05
    assert fp32["peak"] > big["peak"]
    # AdamW state: two float32 moments per trainable parameter
    assert big["optimizer"] >= 8 * big["params_trainable"]


def test_recipe_too_big_is_reported_with_the_batch_that_fits() -> None:
    """act_8g forced to batch 64 on GR2 images: does not fit; names a smaller batch that does."""
    proc = run(
        [env_python("tools"), "-m", "scripts.fit", "act_8g", "--dataset", "gr2", "--batch", "64"],
        timeout=900,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr[-2000:]
    assert "DOES NOT FIT on 8 GB" in proc.stdout
    largest = int(proc.stdout.split("largest batch that fits: ")[1].split()[0])
    assert 1 <= largest < 64
    ok = fit_run("--recipe", "act_8g", "--shapes", "gr2", "--batch", str(largest))
    assert ok["verdict"] == "fits"
    over = fit_run("--recipe", "act_8g", "--shapes", "gr2", "--batch", str(largest + 2))
    assert over["verdict"] != "fits"


def test_json_contract() -> None:
    """make fit JSON=1 carries every number the issue's contract names."""
    proc = run(
        [env_python("tools"), "-m", "scripts.fit", "act_24g", "--json", "--no-largest"],
        timeout=600,
    )
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    r = json.loads(proc.stdout)
    p = r["prediction"]
    for key in ("params_total", "params_trainable", "weights", "gradients", "optimizer",
                "activations", "peak"):  # fmt: skip
        assert p[key] > 0, key
    assert r["verdict"] in ("fits", "tight", "does not fit")
    assert r["constants"]["cuda_context_gib"] > 0
    assert r["shapes"]["name"] == "sample"


@pytest.mark.gpu
@pytest.mark.skipif(not gpu_mod.detect(), reason="needs a CUDA GPU (nvidia-smi)")
def test_measured_peak_is_close_to_the_prediction() -> None:
    """MEASURE path: real CUDA steps through the same build and step; within 15 % of fake."""
    out = fit_run(
        "--recipe", "act_8g", "--shapes", "gr2", "--batch", "4", "--measure", "3",
        "--override", "use_amp=true",  # an override: the recipe file is not written
    )  # fmt: skip
    measured, predicted = out["measured"]["max_allocated"], out["prediction"]["peak"]
    assert abs(measured - predicted) <= 0.15 * predicted, (measured, predicted)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
