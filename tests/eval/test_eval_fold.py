"""make eval folds the ResNet norms into their convolutions (scripts/eval/fold.py): on real
LeRobot ACT and Diffusion models with randomised norm statistics, every norm is folded and the
chunks are unchanged to float32 rounding, while the same fold without the shift is caught.
Diffusion's default GroupNorm backbone is left alone (a GroupNorm depends on the input)."""

from __future__ import annotations

import json

from conftest import REPO, env_python, run


def test_fold_keeps_the_chunks_and_folds_every_resnet_norm() -> None:
    proc = run([env_python("act"), REPO / "tests/helpers/eval_fold_check.py", REPO], timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    for name in ("act", "diffusion_batchnorm"):
        r = result[name]
        assert r["folded"] == 20 and r["norms_left"] == 0, (name, r)  # ResNet18: 17 + 3
        assert r["max_rel"] < 1e-5, (name, r)
        assert r["wrong_rel"] > 1e-2, (name, r)
    assert result["diffusion_groupnorm"]["folded"] == 0
