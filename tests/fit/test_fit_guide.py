"""make fit-guide: every policy group's reconciliation runs on CPU, item by item; MEASURE=1 on CPU.

One process per env (imports once): ACT and Diffusion in envs/act, SmolVLA and PI0 in
envs/smolvla, as ``make fit-guide`` runs them. Each checks what the arithmetic must give
(AdamW state per trainable parameter, frozen parts, the nvidia-smi sum of its named items),
not a stored number. PI0's fake step of 3.5 B parameters costs most of the time (~30-60 s).
"""

from __future__ import annotations

import json

import pytest
from conftest import env_python, run

from scripts.fit import guide


def conditions(env: str, names: str, *extra: str) -> dict[str, dict]:
    proc = run(
        [env_python(env), "-m", "scripts.fit.guide", "--condition", names, *extra], timeout=1200
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(ln) for ln in proc.stdout.splitlines() if ln.startswith("{")]
    return {r["condition"]: r for r in rows}


def items_add_up(r: dict) -> None:
    """nvidia-smi = reserved + context + cuBLAS, reserved >= allocated >= the fixed part."""
    assert r["allocated_gib"] >= r["weights_grads_adamw_gib"] > 0
    assert r["reserved_gib"][0] >= r["allocated_gib"]
    lo = r["reserved_gib"][0] + r["context_cublas_gib"][0]
    assert abs(r["nvidia_smi_gib"][0] - lo) < 1e-9
    assert r["nvidia_smi_gb"][1] >= r["nvidia_smi_gb"][0]


def test_act_and_diffusion_under_the_guide_and_the_fp16_what_if() -> None:
    """ACT (guide, users' batch 256 as run, and the all-fp16 ResNet what-if) and Diffusion."""
    # batch 2 for all four (quicker; the users ran 256: per-sample items are what is checked)
    got = conditions(
        "act", "guide-act,guide-diffusion,users-act-b256,users-act-b256-fp16bn", "--batch", "2"
    )
    for r in got.values():
        items_add_up(r)
    act, diff = got["guide-act"], got["guide-diffusion"]
    # float32 AdamW: weights 4 + grads 4 + two moments 8 bytes per (all trainable) parameter
    assert act["params_trainable"] == act["params_total"]
    assert act["weights_grads_adamw_gib"] * 1024**3 >= 16 * act["params_total"]
    assert diff["weights_grads_adamw_gib"] > 3 * act["weights_grads_adamw_gib"]  # the U-Net
    # Keeping the ResNet's feature maps fp16 (not what PyTorch's promotion does) saves memory.
    amp, half = got["users-act-b256"], got["users-act-b256-fp16bn"]
    assert half["activations_gib"] < 0.9 * amp["activations_gib"]
    assert half["weights_grads_adamw_gib"] == pytest.approx(amp["weights_grads_adamw_gib"])


def test_smolvla_and_pi0_under_the_guide() -> None:
    """SmolVLA (smolvla_base: bf16, expert only) and PI0 (LeRobot defaults: fp32, all trained)."""
    got = conditions("smolvla", "guide-smolvla,guide-pi0")
    for r in got.values():
        items_add_up(r)
    smol, pi0 = got["guide-smolvla"], got["guide-pi0"]
    assert 440e6 < smol["params_total"] < 460e6  # SmolVLM2-500M cut to 16 layers + expert
    assert smol["params_trainable"] < 0.3 * smol["params_total"]  # VLM frozen by default
    assert 3.45e9 < pi0["params_total"] < 3.55e9
    assert pi0["params_trainable"] == pi0["params_total"]  # PI0Config freezes nothing
    assert pi0["weights_grads_adamw_gib"] * 1024**3 >= 16 * pi0["params_total"]  # float32


def test_unknown_condition_is_one_line() -> None:
    assert guide.main(["--condition", "guide-nope"]) == 2


@pytest.mark.parametrize("recipe", ["act_8g", "diffusion_24g"])
def test_measure_without_cuda_says_so_in_one_line(recipe: str) -> None:
    """MEASURE=1 on this CPU box stops before predicting, naming CUDA, exit 3."""
    proc = run(
        [env_python("tools"), "-m", "scripts.fit", recipe, "--dataset", "gr2", "--measure",
         "--no-largest"],
        timeout=600,
    )  # fmt: skip
    assert proc.returncode == 3, proc.stdout + proc.stderr[-2000:]
    err = [ln for ln in proc.stderr.splitlines() if ln.startswith("fit:")]
    assert len(err) == 1 and "needs a CUDA GPU" in err[0], proc.stderr[-2000:]
