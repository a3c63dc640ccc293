"""The layout of edgekit.infer: every backend name works, public types live in public modules."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import edgekit.infer
from edgekit.errors import InvalidInputError
from edgekit.infer import BACKENDS, InferenceEngine, MemoryModel, TensorInfo

F32 = np.dtype("float32")


def test_every_backend_name_opens_a_model(add_bytes, tflite_add_bytes):
    memory = MemoryModel(
        lambda feeds: {"y": feeds["x"]},
        inputs=[TensorInfo("x", (1,), F32)],
        outputs=[TensorInfo("y", (1,), F32)],
    )
    models = {"onnxruntime": add_bytes, "litert": tflite_add_bytes, "memory": memory}
    kinds = {"onnx": "onnxruntime", "tflite": "litert"}
    for name in BACKENDS:
        if name == "auto":
            continue
        kind = kinds.get(name, name)
        engine = InferenceEngine(models[kind], backend=name, verify=False)
        assert engine.backend == kind
    assert set(BACKENDS) == {"auto", "onnxruntime", "onnx", "litert", "tflite", "memory"}
    with pytest.raises(InvalidInputError, match="unknown backend 'tensorrt'"):
        InferenceEngine(add_bytes, backend="tensorrt")  # type: ignore[arg-type]


def test_public_classes_live_in_public_modules():
    for name in edgekit.infer.__all__:
        obj = getattr(edgekit.infer, name)
        if inspect.isclass(obj):
            module = obj.__module__
            assert module.startswith("edgekit.infer"), (name, module)
            assert not any(part.startswith("_") for part in module.split(".")), (name, module)
