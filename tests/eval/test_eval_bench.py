"""make bench-eval runs both parts side by side and says where they stand against the device.

Never a timing gate (benchmarks never gate CI): the test holds the bench to what it prints
being true of the run, not fast. The work it reports for one frame of ACT must equal the
convolution arithmetic of its ResNet-18 on the checkpoint's two camera shapes, counted here
by hand from torchvision's layer list; a count made per batch instead of per frame, or one
that missed a camera, fails. The ratio it prints must be the ratio of the frames/s it prints.
"""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

import pytest
from conftest import env_python, run
from helpers import deploy_common


@pytest.fixture(scope="module")
def koch(tmp_path_factory) -> Path:
    return deploy_common.dataset(tmp_path_factory)


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory) -> Path:
    return deploy_common.checkpoint(tmp_path_factory)


def resnet18_conv_flops(height: int, width: int, dim_model: int) -> int:
    """2 x multiply-adds of ACT's backbone (torchvision ResNet-18 up to layer4) + its 1x1 proj."""
    total = 0

    def conv(cin: int, cout: int, k: int, s: int, p: int, h: int, w: int) -> tuple[int, int]:
        nonlocal total
        h, w = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
        total += 2 * cout * h * w * cin * k * k
        return h, w

    h, w = conv(3, 64, 7, 2, 3, height, width)
    h, w = (h + 2 - 3) // 2 + 1, (w + 2 - 3) // 2 + 1  # max pool 3, stride 2, pad 1
    cin = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        if stride != 1:
            conv(cin, cout, 1, stride, 0, h, w)  # downsample
        h1, w1 = conv(cin, cout, 3, stride, 1, h, w)
        conv(cout, cout, 3, 1, 1, h1, w1)
        conv(cout, cout, 3, 1, 1, h1, w1)
        conv(cout, cout, 3, 1, 1, h1, w1)
        h, w, cin = h1, w1, cout
    conv(512, dim_model, 1, 1, 0, h, w)  # encoder_img_feat_input_proj
    return total


def test_bench_eval_reports_both_parts_and_the_device_ceiling(koch: Path, tiny_ckpt: Path) -> None:
    proc = run(
        [env_python("act"), "-m", "scripts.eval.bench", "--checkpoint", tiny_ckpt,
         "--dataset", koch, "--batch", "8", "--repeat", "2"],
        timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    naive = [float(x) for x in re.findall(r"^naive select_action loop\s+([\d.]+)", out, re.M)]
    ours = [float(x) for x in re.findall(r"^make eval \(batch 8\)\s+([\d.]+)", out, re.M)]
    assert len(naive) == len(ours) == 2, out
    pairs = re.search(r"median of 2 \(([^)]*)\)", out)[1].replace("x", "").split(",")
    for got, n_fps, o_fps in zip(map(float, pairs), naive, ours, strict=True):
        assert got == pytest.approx(o_fps / n_fps, abs=0.06), (got, n_fps, o_fps)  # 1 decimal

    cfg = json.loads((tiny_ckpt / "config.json").read_text())
    cams = [f["shape"] for f in cfg["input_features"].values() if f["type"] == "VISUAL"]
    assert len(cams) == 2, cfg["input_features"]
    expected = sum(resnet18_conv_flops(h, w, cfg["dim_model"]) for _, h, w in cams) / 1e6
    work = re.search(r"work: ([\d.]+) MFLOP a frame \(convolutions ([\d.]+), other ([\d.]+);", out)
    assert work, out
    total, conv, other = map(float, work.groups())
    assert conv == pytest.approx(expected, abs=0.06), (conv, expected)
    assert 0 < other < conv and total == pytest.approx(conv + other, abs=0.11)

    rate = float(re.search(r"measured in this run: ([\d.]+) GFLOP/s", out)[1])
    ceiling = float(re.search(r"would run ([\d.]+) frames/s", out)[1])
    assert ceiling == pytest.approx(rate * 1e3 / total, rel=0.01), out
    share = r"^(naive|make eval): [\d.]+ GFLOP/s, (\d+) % of that rate"
    shares = dict(re.findall(share, out, re.M))
    assert int(shares["make eval"]) == pytest.approx(100 * statistics.median(ours) / ceiling, abs=1)
