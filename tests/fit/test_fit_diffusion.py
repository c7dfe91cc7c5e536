"""make fit on Diffusion Policy: fake vs real on CPU, growth with batch and image size, refusals.

Predictions run in envs/act (as ``make fit`` runs them) and need diffusers there: LeRobot 0.6.1
builds Diffusion's DDPM noise scheduler with it (the ``diffusion`` extra). Without it those
tests fail (envs/act's lock carries lerobot[diffusion]); the refusal of mismatched cameras
runs in the tools env regardless.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import run

from scripts.fit import __main__ as fit
from scripts.train import preflight as pf

GIB = 1024**3


def act_python() -> Path:
    """envs/act's interpreter (``ENVS_DIR`` relocates it, as for make train)."""
    return pf.env_dir("act") / "bin" / "python"


def needs_diffusers() -> None:
    """envs/act's lock carries lerobot[diffusion]: no diffusers is a broken env, not a skip."""
    proc = run([act_python(), "-c", "import diffusers"], timeout=120)
    assert proc.returncode == 0, proc.stderr[-500:]


def shapes_dir(root: Path, h: int, w: int, cameras: int = 2) -> Path:
    """A dataset directory holding only meta/info.json: GR2's widths, cameras at h x w."""
    feats: dict = {
        "observation.state": {"dtype": "float32", "shape": [45]},
        "action": {"dtype": "float32", "shape": [37]},
    }
    for i in range(cameras):
        feats[f"observation.images.cam{i}"] = {
            "dtype": "video",
            "shape": [h, w, 3],
            "names": ["height", "width", "channels"],
        }
    (root / "meta").mkdir(parents=True)
    (root / "meta" / "info.json").write_text(json.dumps({"features": feats}))
    return root


def fit_run(*args: object) -> dict:
    proc = run([act_python(), "-m", "scripts.fit.run", *map(str, args)], timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])["prediction"]


def test_diffusion_fake_peak_equals_real_peak_on_cpu(tmp_path: Path) -> None:
    """diffusion_cpu at batch 2 on 48x64 cameras: real and fake steps peak at the same bytes."""
    needs_diffusers()
    small = shapes_dir(tmp_path / "small", 48, 64)
    cmd = [act_python(), "-m", "scripts.fit.agree", "--recipe", "diffusion_cpu", "--shapes", small]
    proc = run(cmd, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    fake, real = out["fake"], out["real"]
    assert real["peak"] > 10 * 1024**2  # a real step happened and was counted
    assert fake["phases"] == real["phases"]
    assert fake["params_total"] == real["params_total"]


def test_diffusion_memory_grows_with_batch_and_image_size(tmp_path: Path) -> None:
    """The full-size recipe: more samples or more pixels mean more activation memory."""
    needs_diffusers()
    half = shapes_dir(tmp_path / "half", 240, 320)
    b2 = fit_run("--recipe", "diffusion_24g", "--shapes", "gr2", "--batch", 2)
    b6 = fit_run("--recipe", "diffusion_24g", "--shapes", "gr2", "--batch", 6)
    small = fit_run("--recipe", "diffusion_24g", "--shapes", half, "--batch", 6)
    # Activations hold a fixed part too (autocast's fp16 copies of the 280 M weights, ~0.5
    # GiB), so compare increments: each GR2 sample (4 images at 480x640) adds > 0.2 GiB.
    assert b6["peak"] > b2["peak"] and b6["activations"] - b2["activations"] > 4 * 0.2 * GIB
    assert b6["weights"] == b2["weights"] and b6["optimizer"] == b2["optimizer"]
    # 4x the pixels: ResNet-18 feature maps scale with them (the U-Net does not)
    assert b6["activations"] - small["activations"] > 6 * 0.15 * GIB
    assert 270e6 < b6["params_total"] < 290e6  # LeRobot's default U-Net + 2 ResNet-18


def test_diffusion_on_mismatched_cameras_is_one_line(capsys: pytest.CaptureFixture) -> None:
    """The sample's 96x128 + 64x80 cameras: LeRobot's Diffusion refuses them, so does make fit."""
    assert fit.main(["diffusion_24g", "--dataset", "sample"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "needs all cameras at one shape" in err[0], err


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
