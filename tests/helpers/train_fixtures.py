"""Fixtures shared by the recipe/train/smoke tests (loaded by conftest's ``pytest_plugins``).

v3.0 datasets written by LeRobot 0.6.1 itself and the tiny SmolVLM2 model, each built once per
session by ``train_common.cached``. A test module's own fixture of the same name wins.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.train_common import cached, make_tiny_vlm, make_v30


@pytest.fixture(scope="module")
def koch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Koch-like v3.0 dataset (two cameras, 6-d) from LeRobot's own writer."""
    return cached(tmp_path_factory, "koch_v30", lambda p: make_v30(p, "koch"))


@pytest.fixture(scope="module")
def gr2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A GR2-like v3.0 dataset (45-d state, 37-d action, RGB + depth camera)."""
    return cached(tmp_path_factory, "gr2_v30", lambda p: make_v30(p, "gr2"))


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A WEIGHTS_DIR holding the tiny SmolVLM2 model the smolvla_cpu recipe names."""
    return cached(tmp_path_factory, "weights/tiny-smolvlm2", make_tiny_vlm).parent
