"""Hot swap: atomic, off the request path, refuses other inputs unless forced."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from edgekit.errors import InvalidInputError, ModelLoadError
from edgekit.infer import InferenceEngine, ResultCache
from tests.infer import models


def test_concurrent_callers_see_no_failed_or_mixed_request():
    a = models.mlp_model(16, 32, 4, seed=1)
    b = models.mlp_model(16, 32, 4, seed=2)
    engine = InferenceEngine(a)
    x = np.random.default_rng(0).standard_normal((1, 16)).astype(np.float32)
    expected = {
        "a": InferenceEngine(a).run(x)["y"],
        "b": InferenceEngine(b).run(x)["y"],
    }
    stop = threading.Event()
    seen: list[str] = []
    errors: list[BaseException] = []

    def caller(use_submit: bool) -> None:
        try:
            while not stop.is_set():
                y = engine.submit(x).result(timeout=10)["y"] if use_submit else engine.run(x)["y"]
                if np.array_equal(y, expected["a"]):
                    seen.append("a")
                elif np.array_equal(y, expected["b"]):
                    seen.append("b")
                else:
                    raise AssertionError("output from neither model")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=caller, args=(i % 2 == 0,)) for i in range(4)]
    for t in threads:
        t.start()

    def wait_for_calls(n: int) -> None:
        target = len(seen) + n
        deadline = time.monotonic() + 20
        while len(seen) < target and not errors and time.monotonic() < deadline:
            time.sleep(0.005)

    wait_for_calls(20)
    for model in (b, a, b):
        engine.swap(model)
        wait_for_calls(20)  # callers run on the new model before the next swap
    stop.set()
    for t in threads:
        t.join()
    engine.close()
    assert not errors, errors[:1]
    assert "a" in seen and "b" in seen
    assert engine.stats().swaps == 3


def test_swap_refuses_other_inputs_unless_forced(add_bytes, mlp_bytes):
    engine = InferenceEngine(mlp_bytes)
    with pytest.raises(InvalidInputError, match="force=True"):
        engine.swap(add_bytes)
    assert engine.inputs[0].name == "x" and len(engine.inputs) == 1  # old model still in place
    engine.swap(add_bytes, force=True)
    assert [t.name for t in engine.inputs] == ["x", "y"]


def test_failed_load_keeps_the_old_model(mlp_bytes):
    engine = InferenceEngine(mlp_bytes)
    with pytest.raises(ModelLoadError):
        engine.swap(b"not a model at all")
    with pytest.raises(ModelLoadError, match="digest"):
        engine.swap(models.mlp_model(32, 64, 4, seed=9), expected_digest="0" * 32)
    assert engine.run(np.zeros((1, 32), np.float32))["y"].shape == (1, 4)


def test_swap_to_a_stateful_model_with_a_cache_is_refused(okay_nabu_path, tflite_add_bytes):
    engine = InferenceEngine(models.tflite_add_model(), cache=ResultCache())
    with pytest.raises(InvalidInputError, match="cannot be cached"):
        engine.swap(okay_nabu_path, force=True)


def test_cache_entries_of_the_old_model_are_not_served_after_a_swap():
    a = models.mlp_model(16, 32, 4, seed=1)
    b = models.mlp_model(16, 32, 4, seed=2)
    engine = InferenceEngine(a, cache=ResultCache())
    x = np.ones((1, 16), np.float32)
    before = engine.run(x)["y"]
    engine.swap(b)
    after = engine.run(x)["y"]
    assert not np.array_equal(before, after)


async def test_async_swap(mlp_bytes):
    engine = InferenceEngine(models.mlp_model(32, 64, 4, seed=5))
    old = engine.digest
    await engine.async_swap(mlp_bytes)
    assert engine.digest != old


def test_expected_digest_accepts_the_right_file(mlp_bytes):
    digest = InferenceEngine(mlp_bytes).digest
    assert len(digest) == 32
    InferenceEngine(mlp_bytes, expected_digest=digest.upper())
