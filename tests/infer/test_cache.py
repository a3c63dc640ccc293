"""ResultCache: keys, read-only outputs, bounds, counters, stateful models refused."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from edgekit.errors import InvalidInputError
from edgekit.infer import CacheInfo, InferenceEngine, MemoryModel, ResultCache, TensorInfo
from tests.infer import models

F32 = np.dtype("float32")


def counting_model(
    name: str = "count", shape: tuple[int | None, ...] = (None,)
) -> tuple[MemoryModel, list[int]]:
    calls: list[int] = []

    def fn(feeds):
        calls.append(1)
        return {"y": feeds["x"] * 2}

    inputs = [TensorInfo("x", shape, F32)]
    outputs = [TensorInfo("y", shape, F32)]
    return MemoryModel(fn, inputs=inputs, outputs=outputs, name=name), calls


def test_hit_returns_stored_outputs_without_running(silero_path):
    cache = ResultCache()
    engine = InferenceEngine(silero_path, cache=cache)
    feeds = models.silero_feeds(np.linspace(-0.5, 0.5, 576, dtype=np.float32))
    first = engine.run(feeds)
    second = engine.run(feeds)
    np.testing.assert_array_equal(first["output"], second["output"])
    info = cache.info()
    assert (info.hits, info.misses, info.entries) == (1, 1, 1)
    assert engine.stats().cache_hits == 1 and engine.stats().cache_misses == 1


def test_silero_state_is_part_of_the_key(silero_path):
    cache = ResultCache()
    engine = InferenceEngine(silero_path, cache=cache)
    feeds = models.silero_feeds()
    out = engine.run(feeds)
    engine.run(dict(feeds, state=out["stateN"]))
    assert cache.info().misses == 2 and cache.info().hits == 0


def test_outputs_are_read_only_and_cannot_change_the_cache(add_bytes, add_feeds):
    cache = ResultCache()
    engine = InferenceEngine(add_bytes, cache=cache)
    miss = engine.run(add_feeds)
    with pytest.raises(ValueError, match="read-only"):
        miss["z"][0, 0] = 99
    miss["z"] = np.zeros(1)  # replacing a dict entry leaves the cache alone
    hit = engine.run(add_feeds)
    np.testing.assert_array_equal(hit["z"], add_feeds["x"] + add_feeds["y"])
    assert not hit["z"].flags.writeable


def test_key_depends_on_name_dtype_shape_and_bytes():
    cache = ResultCache()
    x = np.arange(6, dtype=np.float32)
    base = cache.key("m", {"x": x}, ["x"])
    assert cache.key("m", {"x": x.copy()}, ["x"]) == base
    assert cache.key("other", {"x": x}, ["x"]) != base
    assert cache.key("m", {"w": x}, ["w"]) != base
    assert cache.key("m", {"x": x.reshape(2, 3)}, ["x"]) != base
    assert cache.key("m", {"x": x.view(np.int32)}, ["x"]) != base
    changed = x.copy()
    changed[5] = 7
    assert cache.key("m", {"x": changed}, ["x"]) != base
    # A strided view hashes like its contiguous copy.
    assert cache.key("m", {"x": np.arange(12, dtype=np.float32)[::2]}, ["x"]) == cache.key(
        "m", {"x": np.arange(0, 12, 2, dtype=np.float32)}, ["x"]
    )


@given(hnp.arrays(np.float32, hnp.array_shapes(max_dims=3, max_side=8)))
def test_equal_inputs_give_equal_keys(a):
    cache = ResultCache()
    assert cache.key("m", {"x": a}, ["x"]) == cache.key("m", {"x": a.copy()}, ["x"])


@given(st.binary(min_size=4, max_size=64), st.binary(min_size=4, max_size=64))
def test_different_bytes_give_different_keys(a, b):
    cache = ResultCache()
    x = np.frombuffer(a, np.uint8)
    y = np.frombuffer(b, np.uint8)
    assert (cache.key("m", {"x": x}, ["x"]) == cache.key("m", {"x": y}, ["x"])) == (a == b)


def test_max_entries_evicts_least_recently_used():
    model, calls = counting_model()
    cache = ResultCache(max_entries=2, max_bytes=None)
    engine = InferenceEngine(model, cache=cache, warmup=0)
    a, b, c = (np.full(3, v, np.float32) for v in (1, 2, 3))
    engine.run(a)
    engine.run(b)
    engine.run(a)  # a is now the most recent
    engine.run(c)  # evicts b
    assert cache.info().evictions == 1 and len(cache) == 2
    engine.run(a)
    assert len(calls) == 3
    engine.run(b)
    assert len(calls) == 4


def test_max_bytes_bounds_the_size():
    model, _ = counting_model()
    cache = ResultCache(max_entries=None, max_bytes=3 * (256 + 4000))
    engine = InferenceEngine(model, cache=cache, warmup=0)
    for v in range(10):
        engine.run(np.full(1000, v, np.float32))
    info = cache.info()
    assert info.entries == 3 and info.bytes <= info.max_bytes and info.evictions == 7
    huge = ResultCache(max_bytes=1000)
    InferenceEngine(model, cache=huge, warmup=0).run(np.zeros(10_000, np.float32))
    assert len(huge) == 0  # larger than the whole cache: returned, never stored


def test_ttl_expires_entries():
    model, calls = counting_model()
    cache = ResultCache(ttl=0.05)
    engine = InferenceEngine(model, cache=cache, warmup=0)
    x = np.ones(3, np.float32)
    engine.run(x)
    engine.run(x)
    assert len(calls) == 1
    time.sleep(0.08)
    engine.run(x)
    assert len(calls) == 2 and cache.info().expirations == 1


def test_stateful_tflite_model_refuses_a_cache(okay_nabu_path):
    with pytest.raises(InvalidInputError, match=r"VAR_HANDLE/READ_VARIABLE/ASSIGN_VARIABLE"):
        InferenceEngine(okay_nabu_path, cache=ResultCache())
    stateful = MemoryModel(
        lambda f: {"y": f["x"]},
        inputs=[TensorInfo("x", (1,), F32)],
        outputs=[TensorInfo("y", (1,), F32)],
        stateful=True,
    )
    with pytest.raises(InvalidInputError, match="cannot be cached"):
        InferenceEngine(stateful, cache=ResultCache())


def test_one_cache_shared_by_two_models_keeps_them_apart(add_bytes):
    cache = ResultCache()
    onnx = InferenceEngine(add_bytes, cache=cache)
    lite = InferenceEngine(models.add_model(4), cache=cache)
    x = np.ones((1, 16), np.float32)
    onnx.run({"x": x, "y": x})
    small = np.ones((1, 4), np.float32)
    lite.run({"x": small, "y": small})
    assert cache.info().misses == 2 and len(cache) == 2
    assert onnx.digest != lite.digest


def test_concurrent_hits_and_misses_are_consistent():
    model, _ = counting_model()
    cache = ResultCache(max_entries=8)
    engine = InferenceEngine(model, cache=cache, warmup=0)
    errors: list[BaseException] = []

    def worker(seed: int) -> None:
        rng = np.random.default_rng(seed)
        try:
            for _ in range(400):
                v = np.full(4, rng.integers(0, 16), np.float32)
                np.testing.assert_array_equal(engine.run(v)["y"], v * 2)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    info = cache.info()
    assert info.hits + info.misses == 1600 and info.entries <= 8


def test_clear_reset_and_bad_arguments():
    cache = ResultCache()
    cache.put(("k",), {"y": np.zeros(2)})
    assert cache.get(("k",)) is not None
    assert isinstance(cache.info(), CacheInfo) and cache.info().hit_rate == 1.0
    cache.clear()
    cache.reset_counters()
    assert len(cache) == 0 and cache.info().hits == 0
    assert "ResultCache(" in repr(cache)
    for kwargs in ({"max_entries": 0}, {"max_bytes": 0}, {"ttl": 0}):
        with pytest.raises(InvalidInputError):
            ResultCache(**kwargs)
