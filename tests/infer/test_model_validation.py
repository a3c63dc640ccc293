"""Structural TFLite validation and the probe load in a child process."""

from __future__ import annotations

import struct

import pytest

from edgekit.errors import ModelLoadError
from edgekit.infer import InferenceEngine, _probe
from edgekit.infer._backends.litert import _Reader, validate_tflite
from tests.infer import models


def _op0(data: bytes) -> tuple[_Reader, int, int]:
    """Reader, first subgraph table and its first operator table."""
    r = _Reader(data, "m")
    first, _ = r.vector(r.field(r.deref(0), 2))
    sg = r.deref(first)
    ops, _ = r.vector(r.field(sg, 3))
    return r, sg, r.deref(ops)


def _patched(data: bytes, pos: int, fmt: str, value: int) -> bytes:
    raw = bytearray(data)
    struct.pack_into(fmt, raw, pos, value)
    return bytes(raw)


def test_real_models_pass_validation(tflite_add_bytes):
    for name in models.WAKE_WORDS:
        assert len(validate_tflite(models.wakeword_path(name).read_bytes())) >= 10
    assert validate_tflite(tflite_add_bytes) == [(0, None)]


def test_operator_input_tensor_index_out_of_range(tflite_add_bytes):
    r, _, op = _op0(tflite_add_bytes)
    first, _ = r.vector(r.field(op, 1))
    with pytest.raises(ModelLoadError, match="operator 0 input tensor 99"):
        InferenceEngine(_patched(tflite_add_bytes, first, "<i", 99), verify=False)
    # -1 marks an omitted optional input and passes the structural check.
    validate_tflite(_patched(tflite_add_bytes, first, "<i", -1))


def test_operator_output_may_not_be_omitted(tflite_add_bytes):
    r, _, op = _op0(tflite_add_bytes)
    first, _ = r.vector(r.field(op, 2))
    with pytest.raises(ModelLoadError, match="output tensor -1"):
        validate_tflite(_patched(tflite_add_bytes, first, "<i", -1))


def test_opcode_index_out_of_range():
    data = models.wakeword_path("okay_nabu").read_bytes()
    r, sg, _ = _op0(data)
    ops, count = r.vector(r.field(sg, 3))
    fields = [f for i in range(count) if (f := r.field(r.deref(ops + 4 * i), 0))]
    n_codes = len(validate_tflite(data))
    with pytest.raises(ModelLoadError, match=f"uses opcode 200 of {n_codes}"):
        validate_tflite(_patched(data, fields[0], "<I", 200))


def test_subgraph_input_tensor_out_of_range(tflite_add_bytes):
    r, sg, _ = _op0(tflite_add_bytes)
    first, _ = r.vector(r.field(sg, 1))
    with pytest.raises(ModelLoadError, match="subgraph 0 input tensor 1000"):
        validate_tflite(_patched(tflite_add_bytes, first, "<i", 1000))


def test_tensor_shape_type_and_buffer_checked(tflite_add_bytes):
    r, sg, _ = _op0(tflite_add_bytes)
    tensors, _ = r.vector(r.field(sg, 0))
    tensor = r.deref(tensors)
    shape, _ = r.vector(r.field(tensor, 0))
    with pytest.raises(ModelLoadError, match="has shape"):
        validate_tflite(_patched(tflite_add_bytes, shape, "<i", -7))
    with pytest.raises(ModelLoadError, match="bytes"):
        validate_tflite(_patched(tflite_add_bytes, shape, "<i", 1 << 30))
    type_field = r.field(tensor, 1)
    if type_field:
        with pytest.raises(ModelLoadError, match="unknown type"):
            validate_tflite(_patched(tflite_add_bytes, type_field, "<b", 90))
    buffer_field = r.field(tensor, 2)
    if buffer_field:
        with pytest.raises(ModelLoadError, match="names buffer 5000"):
            validate_tflite(_patched(tflite_add_bytes, buffer_field, "<I", 5000))


def test_zero_point_outside_the_int8_range():
    """A mutation found by the fuzzer: one zero point of hey_jarvis set out of range."""
    raw = bytearray(models.wakeword_path("hey_jarvis").read_bytes())
    raw[44626] = 160
    with pytest.raises(ModelLoadError, match="zero point outside"):
        InferenceEngine(bytes(raw), verify=False)


def test_probe_loads_good_models(tflite_add_bytes, add_bytes, okay_nabu_path):
    for model in (tflite_add_bytes, add_bytes, okay_nabu_path):
        engine = InferenceEngine(model, verify=True)
        engine.run(engine._model.synthetic_feeds())
        engine.close()


def test_probe_turns_a_crash_into_a_model_load_error(monkeypatch, probes, tflite_add_bytes):
    monkeypatch.setattr(_probe, "_CHILD", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)")
    with pytest.raises(ModelLoadError, match=r"crashed the runtime \(SIGSEGV\)"):
        InferenceEngine(tflite_add_bytes)  # bytes: probed by default
    InferenceEngine(tflite_add_bytes, verify=False).close()  # not probed


def test_probe_timeout_and_failure(monkeypatch, probes, tflite_add_bytes, okay_nabu_path):
    monkeypatch.setattr(_probe, "_CHILD", "import time; time.sleep(30)")
    with pytest.raises(ModelLoadError, match=r"did not finish within 0\.5 s"):
        InferenceEngine(tflite_add_bytes, probe_timeout=0.5)
    monkeypatch.setattr(_probe, "_CHILD", "raise SystemExit('boom')")
    with pytest.raises(ModelLoadError, match="probe load failed"):
        InferenceEngine(tflite_add_bytes)
    # verify=False and pinned digests are not probed.
    InferenceEngine(okay_nabu_path, verify=False).close()
    digest = InferenceEngine(tflite_add_bytes, verify=False).digest
    InferenceEngine(tflite_add_bytes, expected_digest=digest).close()


def test_probe_reports_load_errors_with_the_models_label(tmp_path):
    blob = models.tflite_add_model(custom_op="Frobnicate")
    with pytest.raises(ModelLoadError, match="operator LiteRT does not implement"):
        InferenceEngine(blob, verify=True)
