"""quantize_dynamic: int8 weights through onnxruntime.quantization, with a report."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.errors import InvalidInputError, ModelLoadError
from edgekit.infer import InferenceEngine, quantize_dynamic
from tests.infer import models


def test_quantize_mlp_reports_size_and_difference(tmp_path):
    src = tmp_path / "mlp.onnx"
    src.write_bytes(models.mlp_model(128, 256, 8))
    rng = np.random.default_rng(0)
    samples = [{"x": rng.standard_normal((4, 128)).astype(np.float32)} for _ in range(3)]
    report = quantize_dynamic(src, tmp_path / "mlp.int8.onnx", samples=samples)
    assert report.bytes_after < 0.4 * report.bytes_before
    assert 0 < report.max_abs_diff["y"] < 0.5
    assert report.mean_abs_diff["y"] <= report.max_abs_diff["y"]
    assert "bytes" in str(report) and report.ratio < 0.4
    engine = InferenceEngine(report.dst)
    assert engine.run(samples[0])["y"].shape == (4, 8)


def test_quantize_without_samples_and_bad_arguments(tmp_path):
    src = tmp_path / "mlp.onnx"
    src.write_bytes(models.mlp_model(16, 32, 4))
    report = quantize_dynamic(src, tmp_path / "q.onnx", weight_type="uint8")
    assert report.max_abs_diff == {} and (tmp_path / "q.onnx").exists()
    with pytest.raises(ModelLoadError, match="does not exist"):
        quantize_dynamic(tmp_path / "missing.onnx", tmp_path / "x.onnx")
    with pytest.raises(InvalidInputError):
        quantize_dynamic(src, src)
    with pytest.raises(InvalidInputError):
        quantize_dynamic(src, tmp_path / "y.onnx", weight_type="int4")  # type: ignore[arg-type]
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x08\x07garbage" * 10)
    with pytest.raises(ModelLoadError):
        quantize_dynamic(garbage, tmp_path / "z.onnx")
