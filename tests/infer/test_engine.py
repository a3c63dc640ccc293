"""InferenceEngine: backend choice, metadata, feeds validation, options, quantized I/O."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgekit.errors import InferenceError, InvalidInputError, ModelLoadError
from edgekit.infer import (
    InferenceEngine,
    MemoryModel,
    Quantization,
    ResultCache,
    TensorInfo,
)
from edgekit.infer._source import sniff_format
from tests._support.runtimes import raw_litert, raw_ort_session
from tests.infer import models

F32 = np.dtype("float32")


def test_auto_picks_onnxruntime_for_onnx_bytes_and_paths(add_bytes, silero_path, tmp_path):
    assert InferenceEngine(add_bytes).backend == "onnxruntime"
    assert InferenceEngine(silero_path).backend == "onnxruntime"
    # By content, not suffix: an ONNX file named .tflite still runs on ONNX Runtime.
    odd = tmp_path / "model.tflite"
    odd.write_bytes(add_bytes)
    assert InferenceEngine(odd).backend == "onnxruntime"


def test_auto_picks_litert_for_tflite_by_content(okay_nabu_path, tmp_path):
    assert InferenceEngine(okay_nabu_path).backend == "litert"
    odd = tmp_path / "model.onnx"
    odd.write_bytes(okay_nabu_path.read_bytes())
    assert InferenceEngine(odd).backend == "litert"
    assert InferenceEngine(okay_nabu_path.read_bytes()).backend == "litert"
    assert InferenceEngine(okay_nabu_path, backend="tflite").backend == "litert"


def test_sniff_format_reads_the_flatbuffer_identifier(okay_nabu_path, add_bytes):
    assert sniff_format(okay_nabu_path.read_bytes()) == "tflite"
    assert sniff_format(add_bytes) == "onnx"
    assert sniff_format(b"\0\0\0\0TFL3rest") == "tflite"


def test_backend_by_name_mismatch_is_refused(okay_nabu_path, add_bytes):
    with pytest.raises(InvalidInputError, match="TFLite"):
        InferenceEngine(okay_nabu_path, backend="onnxruntime")
    with pytest.raises(ModelLoadError, match="TFL3"):
        InferenceEngine(add_bytes, backend="litert")
    with pytest.raises(InvalidInputError, match="unknown backend"):
        InferenceEngine(add_bytes, backend="tensorrt")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="MemoryModel"):
        InferenceEngine(add_bytes, backend="memory")


def test_silero_metadata_has_dynamic_dims(silero_path):
    engine = InferenceEngine(silero_path)
    by_name = {t.name: t for t in engine.inputs}
    assert list(by_name) == ["input", "state", "sr"]
    assert by_name["input"].shape == (None, None) and by_name["input"].dtype == F32
    assert by_name["state"].shape == (2, None, 128)
    assert by_name["sr"].shape == () and by_name["sr"].dtype == np.dtype("int64")
    assert [t.name for t in engine.outputs] == ["output", "stateN"]
    assert all(t.quantization is None for t in engine.inputs)
    assert not engine.stateful
    assert "input: float32[?, ?]" in repr(engine)


def test_microwakeword_metadata_has_quantization(okay_nabu_path):
    engine = InferenceEngine(okay_nabu_path)
    (inp,) = engine.inputs
    (out,) = engine.outputs
    assert inp.shape == (1, 3, 40) and inp.dtype == np.dtype("int8")
    assert inp.quantization == Quantization((pytest.approx(0.10196078568696976),), (-128,), 0)
    assert out.dtype == np.dtype("uint8")
    assert out.quantization is not None and out.quantization.scale == (0.00390625,)
    assert out.quantization.zero_point == (0,) and out.quantization.per_tensor
    assert engine.stateful
    assert "scale=" in inp.describe()


def test_run_accepts_a_single_array_for_single_input_models(okay_nabu_path):
    engine = InferenceEngine(okay_nabu_path)
    out = engine.run(np.zeros((1, 3, 40), np.int8))
    assert list(out) == ["StatefulPartitionedCall:0"]
    assert out["StatefulPartitionedCall:0"].shape == (1, 1)


def test_run_single_array_refused_for_multi_input_models(add_bytes):
    engine = InferenceEngine(add_bytes)
    with pytest.raises(InvalidInputError, match="2 inputs"):
        engine.run(np.zeros((1, 16), np.float32))


@pytest.mark.parametrize(
    ("feeds", "message"),
    [
        ({"x": np.zeros((1, 16), np.float32)}, r"missing input\(s\) \['y'\]"),
        (
            {"x": np.zeros((1, 16), np.float32), "y": np.zeros((1, 16), np.float32), "w": 1},
            r"unknown input\(s\) \['w'\]",
        ),
        (
            {"x": np.zeros((1, 16), np.float64), "y": np.zeros((1, 16), np.float32)},
            "'x' has dtype float64, expected float32",
        ),
        ({"x": np.zeros((16,), np.float32), "y": np.zeros((1, 16), np.float32)}, "'x' has rank 1"),
        (
            {"x": np.zeros((1, 15), np.float32), "y": np.zeros((1, 16), np.float32)},
            "'x' has shape \\(1, 15\\), expected 16 at axis 1",
        ),
        ({"x": object(), "y": np.zeros((1, 16), np.float32)}, "'x' has dtype object"),
    ],
)
def test_wrong_feeds_name_the_input_and_expectation(add_bytes, add_feeds, feeds, message):
    engine = InferenceEngine(add_bytes)
    with pytest.raises(InvalidInputError, match=message):
        engine.run(feeds)
    # The engine stays usable.
    np.testing.assert_array_equal(engine.run(add_feeds)["z"], add_feeds["x"] + add_feeds["y"])
    assert engine.stats().errors == 1


def test_array_likes_are_converted_but_dtypes_stay_strict(silero_path, add_bytes):
    engine = InferenceEngine(silero_path)
    feeds = models.silero_feeds()
    feeds["sr"] = np.int64(16000)  # a NumPy scalar, not an array
    assert engine.run(feeds)["output"].shape == (1, 1)
    add = InferenceEngine(add_bytes)
    with pytest.raises(InvalidInputError, match="float64"):
        add.run({"x": np.zeros((1, 16), np.float32), "y": [[1.0] * 16]})


def test_non_contiguous_inputs_run(add_bytes):
    engine = InferenceEngine(add_bytes)
    x = np.arange(32, dtype=np.float32).reshape(16, 2).T[:1]  # a strided view
    out = engine.run({"x": x, "y": np.zeros((1, 16), np.float32)})
    np.testing.assert_array_equal(out["z"], x)


def test_quantized_false_quantizes_inputs_and_dequantizes_outputs(okay_nabu_path):
    features = np.linspace(0, 25, 120, dtype=np.float32).reshape(1, 3, 40)
    scale, zero = 0.10196078568696976, -128
    q = np.clip(np.rint(features / np.float32(scale)) + zero, -128, 127).astype(np.int8)
    a, b = InferenceEngine(okay_nabu_path), InferenceEngine(okay_nabu_path)
    for _ in range(4):
        raw = a.run(q)["StatefulPartitionedCall:0"]
        real = b.run(features, quantized=False)["StatefulPartitionedCall:0"]
        assert real.dtype == np.float32
        np.testing.assert_array_equal(real, raw.astype(np.float32) * 0.00390625)


def test_quantized_false_rejects_nan_and_passes_float_models_through(
    okay_nabu_path, add_bytes, add_feeds
):
    engine = InferenceEngine(okay_nabu_path)
    bad = np.zeros((1, 3, 40), np.float32)
    bad[0, 1, 2] = np.nan
    with pytest.raises(InvalidInputError, match="NaN"):
        engine.run(bad, quantized=False)
    engine.run(np.zeros((1, 3, 40), np.float32), quantized=False)
    add = InferenceEngine(add_bytes)
    np.testing.assert_array_equal(
        add.run(add_feeds, quantized=False)["z"], add_feeds["x"] + add_feeds["y"]
    )


def test_int8_input_without_quantized_false_explains(okay_nabu_path):
    engine = InferenceEngine(okay_nabu_path)
    with pytest.raises(InvalidInputError, match="quantized=False"):
        engine.run(np.zeros((1, 3, 40), np.float32))


def test_check_finite_rejects_nan(add_bytes, add_feeds):
    engine = InferenceEngine(add_bytes, check_finite=True)
    bad = dict(add_feeds, y=np.full((1, 16), np.inf, np.float32))
    with pytest.raises(InvalidInputError, match="'y' holds NaN or infinite"):
        engine.run(bad)
    engine.run(add_feeds)
    # Without the check, the runtime computes with NaN (the caller asked for speed).
    loose = InferenceEngine(add_bytes)
    assert np.isinf(loose.run(bad)["z"]).all()


def test_default_session_options_are_one_thread_no_spinning(add_bytes):
    engine = InferenceEngine(add_bytes)
    session = engine._model.backend.session
    so = session.get_session_options()
    assert so.intra_op_num_threads == 1
    assert so.inter_op_num_threads == 1
    assert so.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert so.get_session_config_entry("session.inter_op.allow_spinning") == "0"


def test_ort_options_pass_through(add_bytes):
    engine = InferenceEngine(
        add_bytes,
        threads=2,
        ort_options={
            "allow_spinning": True,
            "graph_optimization_level": "basic",
            "session_config": {"session.use_env_allocators": "0"},
        },
    )
    so = engine._model.backend.session.get_session_options()
    assert so.intra_op_num_threads == 2
    assert so.get_session_config_entry("session.intra_op.allow_spinning") == "1"
    assert so.get_session_config_entry("session.use_env_allocators") == "0"
    with pytest.raises(InvalidInputError, match="unknown ort_options"):
        InferenceEngine(add_bytes, ort_options={"intra_threads": 2})  # type: ignore[typeddict-unknown-key]
    with pytest.raises(InvalidInputError, match="graph_optimization_level"):
        InferenceEngine(add_bytes, ort_options={"graph_optimization_level": "max"})  # type: ignore[typeddict-item]


def test_litert_options_pass_through(tflite_add_bytes):
    ref = InferenceEngine(
        tflite_add_bytes, litert_options={"op_resolver": "builtin_ref", "num_threads": 1}
    )
    x = {"x": np.ones((1, 4), np.float32), "y": np.full((1, 4), 2, np.float32)}
    np.testing.assert_array_equal(ref.run(x)["z"], np.full((1, 4), 3, np.float32))
    with pytest.raises(InvalidInputError, match="unknown litert_options"):
        InferenceEngine(tflite_add_bytes, litert_options={"threads": 2})  # type: ignore[typeddict-unknown-key]
    with pytest.raises(InvalidInputError, match="op_resolver"):
        InferenceEngine(tflite_add_bytes, litert_options={"op_resolver": "gpu"})  # type: ignore[typeddict-item]


def test_invalid_constructor_arguments(add_bytes):
    for kwargs in (
        {"threads": 0},
        {"warmup": -1},
        {"max_batch": 0},
        {"max_delay_us": -1},
        {"cache": {}},
    ):
        with pytest.raises(InvalidInputError):
            InferenceEngine(add_bytes, **kwargs)
    with pytest.raises(InvalidInputError, match="path or bytes"):
        InferenceEngine(12345)  # type: ignore[arg-type]


def test_litert_serializes_concurrent_callers_on_one_interpreter(tflite_add_bytes):
    engine = InferenceEngine(tflite_add_bytes)
    errors: list[BaseException] = []

    def worker(seed: int) -> None:
        rng = np.random.default_rng(seed)
        try:
            for _ in range(300):
                x = rng.standard_normal((1, 4)).astype(np.float32)
                y = rng.standard_normal((1, 4)).astype(np.float32)
                np.testing.assert_array_equal(engine.run({"x": x, "y": y})["z"], x + y)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_litert_per_thread_interpreters(tflite_add_bytes, okay_nabu_path):
    engine = InferenceEngine(tflite_add_bytes, litert_options={"per_thread": True})
    seen: set[int] = set()

    def worker() -> None:
        x = np.ones((1, 4), np.float32)
        for _ in range(50):
            assert engine.run({"x": x, "y": x})["z"].sum() == 8
        seen.add(id(engine._model.backend._interp()))

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 3
    with pytest.raises(InvalidInputError, match="per_thread"):
        InferenceEngine(okay_nabu_path, litert_options={"per_thread": True})


def test_litert_dynamic_batch_resizes(tmp_path):
    engine = InferenceEngine(models.tflite_add_model(dynamic_batch=True))
    assert engine.batchable
    for rows in (1, 5, 2, 5):
        x = np.arange(rows * 4, dtype=np.float32).reshape(rows, 4)
        np.testing.assert_array_equal(engine.run({"x": x, "y": x})["z"], 2 * x)


def test_tflite_add_equals_raw_litert(tflite_add_bytes):
    engine = InferenceEngine(tflite_add_bytes)
    raw = raw_litert(tflite_add_bytes)
    rng = np.random.default_rng(3)
    for _ in range(5):
        x = rng.standard_normal((1, 4)).astype(np.float32)
        y = rng.standard_normal((1, 4)).astype(np.float32)
        raw.set_tensor(raw.get_input_details()[0]["index"], x)
        raw.set_tensor(raw.get_input_details()[1]["index"], y)
        raw.invoke()
        expected = raw.get_tensor(raw.get_output_details()[0]["index"])
        np.testing.assert_array_equal(engine.run({"x": x, "y": y})["z"], expected)


def test_add_model_equals_raw_ort(add_bytes, add_feeds):
    engine = InferenceEngine(add_bytes)
    raw = raw_ort_session(add_bytes)
    np.testing.assert_array_equal(engine.run(add_feeds)["z"], raw.run(None, add_feeds)[0])


def test_memory_backend_runs_a_python_function():
    model = MemoryModel(
        lambda feeds: {"y": feeds["x"] * 2},
        inputs=[TensorInfo("x", (None, 3), F32)],
        outputs=[TensorInfo("y", (None, 3), F32)],
        name="double",
    )
    engine = InferenceEngine(model)
    assert engine.backend == "memory" and engine.model_name == "double" and engine.batchable
    np.testing.assert_array_equal(engine.run(np.ones((2, 3), np.float32))["y"], np.full((2, 3), 2))
    with pytest.raises(InvalidInputError, match="expected 3 at axis 1"):
        engine.run(np.ones((2, 4), np.float32))
    with pytest.raises(InvalidInputError, match="memory backend"):
        InferenceEngine(model, backend="onnxruntime")


def test_memory_backend_errors_become_inference_errors():
    def boom(feeds):
        raise RuntimeError("kaput")

    seq = MemoryModel(
        lambda feeds: [feeds["x"]],
        inputs=[TensorInfo("x", (1,), F32)],
        outputs=[TensorInfo("y", (1,), F32)],
    )
    assert InferenceEngine(seq).run(np.ones(1, np.float32))["y"][0] == 1
    engine = InferenceEngine(
        MemoryModel(
            boom, inputs=[TensorInfo("x", (1,), F32)], outputs=[TensorInfo("y", (1,), F32)]
        ),
        warmup=0,
    )
    with pytest.raises(InferenceError, match="kaput"):
        engine.run(np.ones(1, np.float32))
    with pytest.raises(InvalidInputError):
        MemoryModel(boom, inputs=[], outputs=[])


def test_reset_restores_the_initial_state_of_a_stateful_model(okay_nabu_path):
    engine = InferenceEngine(okay_nabu_path)
    rng = np.random.default_rng(0)
    frames = [rng.uniform(0, 20, (1, 3, 40)).astype(np.float32) for _ in range(30)]
    first = [engine.run(f, quantized=False)["StatefulPartitionedCall:0"].item() for f in frames]
    engine.reset()
    second = [engine.run(f, quantized=False)["StatefulPartitionedCall:0"].item() for f in frames]
    assert first == second


def test_context_manager_closes(add_bytes, add_feeds):
    with InferenceEngine(add_bytes) as engine:
        engine.run(add_feeds)
    with pytest.raises(InferenceError, match="closed"):
        engine.submit(add_feeds)


@given(
    st.lists(
        st.text(min_size=1, max_size=12),
        min_size=1,
        max_size=3,
        unique=True,
    ),
    st.data(),
)
@settings(max_examples=60)
def test_generated_fast_path_agrees_with_the_reference_loop(names, data):
    """The unrolled validation and key code handle any input name (quotes, newlines...)."""
    shapes = [data.draw(st.sampled_from([(None, 3), (2, None), (1, 3), ()])) for _ in names]
    model = MemoryModel(
        lambda feeds: {"out": np.zeros(1, np.float32)},
        inputs=[TensorInfo(n, s, F32) for n, s in zip(names, shapes, strict=True)],
        outputs=[TensorInfo("out", (1,), F32)],
    )
    engine = InferenceEngine(model, warmup=0)
    loaded = engine._model
    feeds = {}
    for name, shape in zip(names, shapes, strict=True):
        concrete = tuple(data.draw(st.integers(1, 3)) if d is None else d for d in shape)
        dtype = data.draw(st.sampled_from([np.float32, np.float32, np.int8]))
        feeds[name] = np.zeros(concrete, dtype)
    assert loaded.fast_ok(feeds) == loaded.fast_ok_reference(feeds)
    cache = ResultCache()
    if loaded.fast_ok(feeds):
        assert loaded.make_key(feeds, cache._hash) == cache.fast_key(
            loaded.key_prefix, feeds, loaded.key_plan
        )
        assert loaded.ok_key(feeds, cache._hash) == loaded.make_key(feeds, cache._hash)
        engine.run(feeds)
        cached = InferenceEngine(model, warmup=0, cache=cache)
        cached.run(feeds)
        cached.run(feeds)
        assert cache.info().hits == 1
    else:
        assert loaded.ok_key(feeds, cache._hash) is None


def test_missing_runtimes_name_the_extra(monkeypatch, add_bytes, tflite_add_bytes):
    from edgekit.errors import BackendUnavailableError

    for name in (
        "onnxruntime",
        "ai_edge_litert",
        "ai_edge_litert.interpreter",
        "tflite_runtime",
        "tflite_runtime.interpreter",
    ):
        monkeypatch.setitem(__import__("sys").modules, name, None)
    with pytest.raises(BackendUnavailableError, match=r"edgekit\[onnx\]") as onnx_error:
        InferenceEngine(add_bytes)
    assert onnx_error.value.extra == "onnx"
    with pytest.raises(BackendUnavailableError, match=r"edgekit\[litert\]") as lite_error:
        InferenceEngine(tflite_add_bytes)
    assert lite_error.value.extra == "litert"
    # The in-memory backend needs no runtime.
    model = MemoryModel(
        lambda feeds: {"y": feeds["x"]},
        inputs=[TensorInfo("x", (1,), F32)],
        outputs=[TensorInfo("y", (1,), F32)],
    )
    assert InferenceEngine(model).run(np.ones(1, np.float32))["y"][0] == 1


def test_warmup_feeds_run_and_leave_a_stateful_model_fresh(okay_nabu_path):
    rng = np.random.default_rng(2)
    frames = [rng.uniform(0, 25, (1, 3, 40)).astype(np.float32) for _ in range(15)]
    fresh = InferenceEngine(okay_nabu_path)
    expected = [fresh.run(f, quantized=False)["StatefulPartitionedCall:0"].item() for f in frames]
    warm = InferenceEngine(
        okay_nabu_path,
        warmup=5,
        warmup_feeds={fresh.inputs[0].name: np.full((1, 3, 40), 90, np.int8)},
    )
    got = [warm.run(f, quantized=False)["StatefulPartitionedCall:0"].item() for f in frames]
    assert got == expected


def test_bad_warmup_feeds_raise(add_bytes):
    with pytest.raises(InvalidInputError, match="missing"):
        InferenceEngine(add_bytes, warmup_feeds={"x": np.zeros((1, 16), np.float32)})


def test_warmup_on_zeros_is_best_effort(silero_path):
    # Zeros with dynamic dimensions of 1 are too short for Silero's STFT: warm-up skips quietly.
    engine = InferenceEngine(silero_path, warmup=3)
    assert engine.stats().calls == 0
    engine.run(models.silero_feeds())
    assert engine.stats().calls == 1


def test_an_installed_tflite_runtime_that_cannot_construct_is_unavailable(
    monkeypatch, okay_nabu_path
):
    # The test session installs tflite-runtime 2.14 (built against NumPy 1): it imports
    # but its interpreter fails to construct under NumPy 2. It must never be blamed on
    # the model, and "auto" must not pick it over a working ai-edge-litert.
    import tflite_runtime.interpreter  # noqa: F401  (installed by the test session)

    from edgekit.errors import BackendUnavailableError

    with pytest.raises(BackendUnavailableError, match="tflite_runtime is installed but") as error:
        InferenceEngine(okay_nabu_path, litert_options={"runtime": "tflite_runtime"})
    assert error.value.extra == "litert"
    auto = InferenceEngine(okay_nabu_path)  # ai-edge-litert, tried first, constructs
    assert auto.run(np.zeros((1, 3, 40), np.int8))
    monkeypatch.setitem(__import__("sys").modules, "ai_edge_litert", None)
    monkeypatch.setitem(__import__("sys").modules, "ai_edge_litert.interpreter", None)
    with pytest.raises(BackendUnavailableError, match="does not construct"):
        InferenceEngine(okay_nabu_path)
