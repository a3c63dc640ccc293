"""Fixtures of the infer tests: real models from PyPI packages and models built with onnx.helper."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.infer import models


@pytest.fixture(scope="session")
def silero_path() -> Path:
    return models.silero_path()


@pytest.fixture(scope="session")
def okay_nabu_path() -> Path:
    return models.wakeword_path("okay_nabu")


@pytest.fixture(scope="session")
def add_bytes() -> bytes:
    return models.add_model()


@pytest.fixture(scope="session")
def mlp_bytes() -> bytes:
    return models.mlp_model(32, 64, 4)


@pytest.fixture(scope="session")
def tflite_add_bytes() -> bytes:
    return models.tflite_add_model()


@pytest.fixture
def add_feeds() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    return {
        "x": rng.standard_normal((1, 16)).astype(np.float32),
        "y": rng.standard_normal((1, 16)).astype(np.float32),
    }
