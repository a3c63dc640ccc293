"""Fixtures of the infer tests: real models from PyPI packages and models built with onnx.helper."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.infer import models


def raw_ort_session(model: bytes | str | Path):
    """A plain ONNX Runtime session with the engine's default threading, for comparisons."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.add_session_config_entry("session.inter_op.allow_spinning", "0")
    so.log_severity_level = 4
    source = str(model) if isinstance(model, Path) else model
    return ort.InferenceSession(source, sess_options=so, providers=["CPUExecutionProvider"])


def raw_litert(model: Path | bytes):
    """A plain LiteRT interpreter (one thread, default resolver), tensors allocated."""
    from ai_edge_litert.interpreter import Interpreter

    if isinstance(model, Path):
        it = Interpreter(model_path=str(model), num_threads=1)
    else:
        it = Interpreter(model_content=model, num_threads=1)
    it.allocate_tensors()
    return it


def micro_features(samples: np.ndarray) -> np.ndarray:
    """pymicro-features (the TFLite Micro frontend) of int16 16 kHz audio: ``[frames, 40]`` float32."""
    from pymicro_features import MicroFrontend

    frontend = MicroFrontend()
    data = samples.astype("<i2").tobytes()
    out, pos = [], 0
    while pos + 320 <= len(data):
        result = frontend.process_samples(data[pos : pos + 320])
        pos += result.samples_read * 2
        if result.features:
            out.append(result.features)
    return np.asarray(out, dtype=np.float32)


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
