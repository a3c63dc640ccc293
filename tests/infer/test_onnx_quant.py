"""Quantized ONNX inputs and outputs: scale and zero point read from the graph's operators."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.errors import InvalidInputError
from edgekit.infer import InferenceEngine, Quantization
from tests._support.runtimes import raw_ort_session
from tests.infer import models


def test_qdq_model_reports_the_parameters_of_its_quantize_nodes() -> None:
    with InferenceEngine(models.qdq_relu_model()) as engine:
        assert engine.inputs[0].quantization == Quantization((0.5,), (10,), 0)
        assert engine.outputs[0].quantization == Quantization((0.25,), (3,), 0)
        assert "scale=0.5, zero_point=10" in engine.inputs[0].describe()


def test_qdq_model_float_io_matches_onnx_arithmetic() -> None:
    model = models.qdq_relu_model()
    x = np.array([[-3.0, 0.26, 1.74, 200.0]], np.float32)
    with InferenceEngine(model) as engine:
        got = engine.run(x, quantized=False)["y"]
        q = np.clip(np.rint(x / 0.5 + 10), 0, 255).astype(np.uint8)  # QuantizeLinear
        raw = raw_ort_session(model).run(None, {"x": q})[0]
        assert np.array_equal(engine.run(q)["y"], raw)  # quantized I/O is the runtime's
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, (raw.astype(np.float32) - 3) * 0.25)
    # (steps of 0.5 in: 0.26 -> 0.5, 1.74 -> 1.5; -3 -> relu 0; 200 saturates: 122.5 -> 63)
    np.testing.assert_array_equal(got, [[0.0, 0.5, 1.5, 63.0]])


def test_qlinear_operator_inputs_and_outputs() -> None:
    model = models.qlinear_matmul_model()
    with InferenceEngine(model) as engine:
        f32 = lambda v: float(np.float32(v))  # noqa: E731 (the model stores float32 scales)
        assert engine.inputs[0].quantization == Quantization((f32(0.1),), (-2,), 0)
        assert engine.outputs[0].quantization == Quantization((f32(0.02),), (1,), 0)
        a = np.array([[0.3, -0.1, 0.5]], np.float32)
        got = engine.run(a, quantized=False)["y"]
        q = np.clip(np.rint(a / 0.1 - 2), -128, 127).astype(np.int8)
        raw = raw_ort_session(model).run(None, {"a": q})[0]
    np.testing.assert_allclose(got, (raw.astype(np.float32) - 1) * 0.02, rtol=1e-6)


def test_int8_input_with_runtime_parameters_has_no_quantization() -> None:
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.UINT8, [1, 4])
    s = helper.make_tensor_value_info("s", TensorProto.FLOAT, [])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    node = helper.make_node("DequantizeLinear", ["x", "s"], ["y"])  # scale fed at run time
    graph = helper.make_graph([node], "g", [x, s], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    with InferenceEngine(model.SerializeToString()) as engine:
        assert engine.inputs[0].quantization is None
        with pytest.raises(InvalidInputError, match="float32"):
            engine.run({"x": np.zeros((1, 4), np.float32), "s": np.float32(1)})
