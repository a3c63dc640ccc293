"""Bad models and bad feeds: an EdgekitError with the reason, never a crash; the engine stays usable."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgekit.errors import EdgekitError, InferenceError, ModelLoadError
from edgekit.infer import InferenceEngine
from edgekit.infer._backends import load_model_source
from edgekit.infer._backends.litert import tflite_operator_codes
from tests.infer import models

ROOT = Path(__file__).resolve().parents[2]


def test_a_file_that_is_not_a_model(tmp_path):
    text = tmp_path / "notes.onnx"
    text.write_text("these are my notes, not a model\n" * 20)
    with pytest.raises(ModelLoadError, match="not a valid ONNX model"):
        InferenceEngine(text)
    with pytest.raises(ModelLoadError, match="only 3 bytes"):
        InferenceEngine(b"abc")
    with pytest.raises(ModelLoadError, match="does not exist"):
        InferenceEngine(tmp_path / "missing.onnx")
    with pytest.raises(ModelLoadError, match="directory"):
        InferenceEngine(tmp_path)


def test_truncated_onnx_model(silero_path):
    data = silero_path.read_bytes()
    with pytest.raises(ModelLoadError, match="ONNX"):
        InferenceEngine(data[: len(data) // 2])


def test_truncated_tflite_model(okay_nabu_path):
    data = okay_nabu_path.read_bytes()
    for cut in (12, 100, len(data) // 3, len(data) - 10):
        with pytest.raises(ModelLoadError, match="TFLite"):
            InferenceEngine(data[:cut])


def test_onnx_op_the_runtime_lacks():
    with pytest.raises(ModelLoadError, match=r"does not know \(unsupported op"):
        InferenceEngine(models.unsupported_op_model())


def test_tflite_custom_op_the_runtime_lacks():
    with pytest.raises(ModelLoadError, match="operator LiteRT does not implement"):
        InferenceEngine(models.tflite_add_model(custom_op="Frobnicate"))


def test_runtime_failure_is_an_inference_error_and_the_engine_recovers(silero_path):
    engine = InferenceEngine(silero_path)
    feeds = models.silero_feeds()
    with pytest.raises(InferenceError, match="runtime failed"):
        engine.run(dict(feeds, input=np.zeros((1, 1), np.float32)))  # too short for its STFT
    assert engine.run(feeds)["output"].shape == (1, 1)


def test_tflite_scan_finds_state_ops(okay_nabu_path, tflite_add_bytes):
    assert load_model_source(okay_nabu_path).state_ops == (
        "ASSIGN_VARIABLE",
        "READ_VARIABLE",
        "VAR_HANDLE",
    )
    assert load_model_source(tflite_add_bytes).state_ops == ()
    assert tflite_operator_codes(models.tflite_add_model(custom_op="Frob")) == [(32, "Frob")]


@settings(max_examples=300)
@given(st.data())
def test_operator_scan_never_crashes_on_cut_or_flipped_bytes(data):
    source = models.wakeword_path("alexa").read_bytes()
    cut = data.draw(st.integers(9, len(source)))
    raw = bytearray(source[:cut])
    for _ in range(data.draw(st.integers(0, 4))):
        raw[data.draw(st.integers(8, len(raw) - 1))] = data.draw(st.integers(0, 255))
    with contextlib.suppress(ModelLoadError):
        tflite_operator_codes(bytes(raw))


@settings(max_examples=200)
@given(st.binary(min_size=0, max_size=512), st.booleans())
def test_garbage_bytes_are_a_model_load_error(blob, as_tflite):
    if as_tflite:
        blob = blob[:4].ljust(4, b"\0") + b"TFL3" + blob[4:]
    with pytest.raises(ModelLoadError):
        InferenceEngine(blob)


FUZZ = """
import sys
import numpy as np
from edgekit.errors import EdgekitError
from edgekit.infer import InferenceEngine
from tests.infer import models

sources = [models.wakeword_path(n).read_bytes() for n in models.WAKE_WORDS]
sources += [models.tflite_add_model(), models.silero_path().read_bytes(), models.add_model()]
rng = np.random.default_rng(int(sys.argv[1]))
loaded = 0
for i in range(int(sys.argv[2])):
    src = sources[i % len(sources)]
    blob = src[: rng.integers(8, len(src))]
    try:
        engine = InferenceEngine(blob, warmup=1)
        engine.run(engine._model.synthetic_feeds())
        loaded += 1
    except EdgekitError:
        pass
print("survived", loaded)
"""


def test_truncated_models_never_crash_the_process():
    """Cut every real model at random lengths in a child process: it must survive them all."""
    result = subprocess.run(
        [sys.executable, "-c", FUZZ, "7", "120"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "survived" in result.stdout


def test_engine_usable_after_every_kind_of_error(add_bytes, add_feeds):
    engine = InferenceEngine(add_bytes)
    bad_calls = [
        lambda: engine.run({}),
        lambda: engine.run({"x": 1, "y": 2}),
        lambda: engine.run(np.zeros(3)),
        lambda: engine.swap(b"junk" * 10),
        lambda: engine.submit(
            {"x": np.zeros((2, 16), np.float32), "y": np.zeros((1, 16), np.float32)}
        ),
    ]
    for call in bad_calls:
        with pytest.raises(EdgekitError):
            call()
        np.testing.assert_array_equal(engine.run(add_feeds)["z"], add_feeds["x"] + add_feeds["y"])
    engine.close()
