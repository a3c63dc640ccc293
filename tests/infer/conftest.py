"""Fixtures of the infer tests: real models from PyPI packages and models built with onnx.helper."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from edgekit.infer import _probe, engine
from tests.infer import models


@pytest.fixture(scope="session", autouse=True)
def probe_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Models that probed clean are remembered in a temporary XDG_CACHE_HOME, not the user's."""
    home = tmp_path_factory.mktemp("xdg-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(home))
        yield home / "edgekit" / "infer" / "probed"


@pytest.fixture
def probes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    """An empty probe cache for one test (nothing known-good, in the process or on disk);
    the labels of the models probed, in order."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(_probe, "_good", set())
    seen: list[str] = []
    real = engine.probe_load

    def counting(source, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(source.label)
        real(source, *args, **kwargs)

    monkeypatch.setattr(engine, "probe_load", counting)
    return seen


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
