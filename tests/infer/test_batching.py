"""Micro-batching: merged runs, right results to the right callers, per-caller errors."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest

from edgekit.errors import InferenceError, InvalidInputError
from edgekit.infer import InferenceEngine, MemoryModel, ResultCache, TensorInfo
from tests.infer import models

F32 = np.dtype("float32")


def test_concurrent_submits_are_merged_and_answered_correctly(mlp_bytes):
    engine = InferenceEngine(mlp_bytes, max_batch=16, max_delay_us=20_000)
    assert engine.batchable
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((1, 32)).astype(np.float32) for _ in range(48)]
    results: dict[int, np.ndarray] = {}

    def caller(i: int) -> None:
        results[i] = engine.submit(xs[i]).result(timeout=10)["y"]

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(48)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, x in enumerate(xs):
        np.testing.assert_allclose(
            results[i], models.mlp_reference(mlp_bytes, x), rtol=1e-4, atol=1e-5
        )
    stats = engine.stats()
    assert sum(size * n for size, n in stats.batch_sizes.items()) == 48
    assert stats.calls == 48 and stats.errors == 0
    engine.close()


def test_queued_requests_are_merged_up_to_max_batch(mlp_bytes):
    engine = InferenceEngine(mlp_bytes, max_batch=16, max_delay_us=20_000)
    rng = np.random.default_rng(5)
    xs = [rng.standard_normal((1, 32)).astype(np.float32) for _ in range(48)]
    futures = [engine.submit(x) for x in xs]  # queued faster than one batch computes
    for x, future in zip(xs, futures, strict=True):
        np.testing.assert_allclose(
            future.result(timeout=10)["y"], models.mlp_reference(mlp_bytes, x), rtol=1e-4, atol=1e-5
        )
    sizes = engine.stats().batch_sizes
    assert max(sizes) > 1 and max(sizes) <= 16, sizes
    assert sum(size * n for size, n in sizes.items()) == 48
    engine.close()


async def test_async_infer_from_many_tasks(mlp_bytes):
    engine = InferenceEngine(mlp_bytes, max_batch=32, max_delay_us=5_000)
    rng = np.random.default_rng(1)
    xs = [rng.standard_normal((1, 32)).astype(np.float32) for _ in range(32)]
    outs = await asyncio.gather(*(engine.async_run(x) for x in xs))
    for x, out in zip(xs, outs, strict=True):
        np.testing.assert_allclose(
            out["y"], models.mlp_reference(mlp_bytes, x), rtol=1e-4, atol=1e-5
        )
    assert max(engine.stats().batch_sizes) > 1
    engine.close()


async def test_requests_with_several_rows_keep_their_rows(mlp_bytes):
    engine = InferenceEngine(mlp_bytes, max_batch=8, max_delay_us=5_000)
    rng = np.random.default_rng(2)
    xs = [rng.standard_normal((rows, 32)).astype(np.float32) for rows in (1, 3, 2, 8, 1)]
    outs = await asyncio.gather(*(engine.async_run(x) for x in xs))
    for x, out in zip(xs, outs, strict=True):
        assert out["y"].shape == (len(x), 4)
        np.testing.assert_allclose(
            out["y"], models.mlp_reference(mlp_bytes, x), rtol=1e-4, atol=1e-5
        )
    engine.close()


def test_a_failing_request_fails_alone():
    def fn(feeds):
        x = feeds["x"]
        if (x < 0).any():
            raise RuntimeError("negative input")
        return {"y": x + 1}

    model = MemoryModel(
        fn, inputs=[TensorInfo("x", (None, 2), F32)], outputs=[TensorInfo("y", (None, 2), F32)]
    )
    engine = InferenceEngine(model, max_batch=16, max_delay_us=50_000, warmup=0)
    futures = [engine.submit(np.full((1, 2), -1.0 if i == 3 else i, np.float32)) for i in range(8)]
    for i, future in enumerate(futures):
        if i == 3:
            with pytest.raises(InferenceError, match="negative input"):
                future.result(timeout=10)
        else:
            np.testing.assert_array_equal(future.result(timeout=10)["y"], np.full((1, 2), i + 1))
    assert engine.stats().errors == 1
    engine.close()


def test_invalid_feeds_fail_at_submission(mlp_bytes):
    engine = InferenceEngine(mlp_bytes)
    with pytest.raises(InvalidInputError, match="expected 32 at axis 1"):
        engine.submit(np.zeros((1, 31), np.float32))
    assert engine.submit(np.zeros((1, 32), np.float32)).result(timeout=10)["y"].shape == (1, 4)
    engine.close()


def test_fixed_batch_of_one_runs_sequentially():
    engine = InferenceEngine(models.mlp_model(32, 64, 4, batch=1), max_delay_us=5_000)
    assert not engine.batchable
    xs = [np.full((1, 32), i, np.float32) for i in range(6)]
    futures = [engine.submit(x) for x in xs]
    ref = models.mlp_model(32, 64, 4, batch=1)
    for x, f in zip(xs, futures, strict=True):
        np.testing.assert_allclose(
            f.result(timeout=10)["y"], models.mlp_reference(ref, x), rtol=1e-4, atol=1e-4
        )
    assert set(engine.stats().batch_sizes) == {1}
    engine.close()


def test_stateful_model_keeps_submission_order(okay_nabu_path):
    direct = InferenceEngine(okay_nabu_path)
    batched = InferenceEngine(okay_nabu_path, max_delay_us=2_000)
    rng = np.random.default_rng(4)
    frames = [rng.uniform(0, 25, (1, 3, 40)).astype(np.float32) for _ in range(20)]
    expected = [direct.run(f, quantized=False)["StatefulPartitionedCall:0"] for f in frames]
    futures = [batched.submit(f, quantized=False) for f in frames]
    got = [f.result(timeout=10)["StatefulPartitionedCall:0"] for f in futures]
    np.testing.assert_array_equal(np.concatenate(got), np.concatenate(expected))
    batched.close()


def test_submit_uses_the_cache(mlp_bytes):
    cache = ResultCache()
    engine = InferenceEngine(mlp_bytes, cache=cache, max_delay_us=1_000)
    x = np.ones((1, 32), np.float32)
    first = engine.submit(x).result(timeout=10)
    second = engine.submit(x).result(timeout=10)
    np.testing.assert_array_equal(first["y"], second["y"])
    assert cache.info().hits == 1 and not second["y"].flags.writeable
    engine.close()


def test_max_delay_bounds_the_wait_of_a_lone_request(mlp_bytes):
    engine = InferenceEngine(mlp_bytes, max_batch=64, max_delay_us=2_000)
    engine.submit(np.zeros((1, 32), np.float32)).result(timeout=10)  # starts the thread
    start = time.perf_counter()
    engine.submit(np.zeros((1, 32), np.float32)).result(timeout=10)
    assert time.perf_counter() - start < 1.0  # bounded by max_delay, not by max_batch
    engine.close()
    engine.close()  # idempotent


def test_a_dropped_engine_stops_its_batching_thread(mlp_bytes):
    import gc
    import weakref

    engine = InferenceEngine(mlp_bytes, max_delay_us=1_000)
    engine.submit(np.zeros((1, 32), np.float32)).result(timeout=10)
    thread = engine._batcher._thread
    ref = weakref.ref(engine)
    del engine
    gc.collect()
    assert ref() is None
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_batch_future_behaves_like_a_future():
    import concurrent.futures

    from edgekit.infer._batching import BatchFuture

    f = BatchFuture()
    with pytest.raises(concurrent.futures.TimeoutError):
        f.result(timeout=0.01)
    seen = []
    f.add_done_callback(lambda fut: seen.append(fut.result()))
    f.set_result(5)
    assert f.result() == 5 and f.result(timeout=0) == 5 and seen == [5]
    g = BatchFuture()
    assert g.cancel() and g.cancelled()
    with pytest.raises(concurrent.futures.CancelledError):
        g.result(timeout=1)
    h = BatchFuture()
    h.set_exception(ValueError("x"))
    assert isinstance(h.exception(timeout=1), ValueError)
    with pytest.raises(ValueError):
        h.result()
    waiter_results = []
    k = BatchFuture()
    threads = [
        threading.Thread(target=lambda: waiter_results.append(k.result(timeout=5)))
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    k.set_result("ok")
    for t in threads:
        t.join()
    assert waiter_results == ["ok"] * 3


async def test_submitted_future_can_be_awaited_with_wrap_future(mlp_bytes):
    engine = InferenceEngine(mlp_bytes)
    out = await asyncio.wrap_future(engine.submit(np.zeros((1, 32), np.float32)))
    assert out["y"].shape == (1, 4)
    engine.close()


async def test_one_event_loop_iteration_is_one_batch(mlp_bytes):
    """All tasks ready in one iteration leave as one batch, run in the loop (worker idle)."""
    engine = InferenceEngine(mlp_bytes, max_batch=32, max_delay_us=1000)
    rng = np.random.default_rng(5)
    xs = [rng.standard_normal((1, 32)).astype(np.float32) for _ in range(40)]
    outs = await asyncio.gather(*(engine.async_run(x) for x in xs))
    for x, out in zip(xs, outs, strict=True):
        np.testing.assert_allclose(
            out["y"], models.mlp_reference(mlp_bytes, x), rtol=1e-4, atol=1e-5
        )
    assert engine.stats().batch_sizes == {8: 1, 32: 1}  # split at max_batch
    engine.close()


async def test_a_failing_request_fails_alone_in_an_event_loop():
    def fn(feeds):
        x = feeds["x"]
        if (x < 0).any():
            raise RuntimeError("negative input")
        return {"y": x + 1}

    model = MemoryModel(
        fn, inputs=[TensorInfo("x", (None, 2), F32)], outputs=[TensorInfo("y", (None, 2), F32)]
    )
    engine = InferenceEngine(model, max_batch=16, max_delay_us=1000, warmup=0)
    calls = [engine.async_run(np.full((1, 2), -1.0 if i == 3 else i, np.float32)) for i in range(8)]
    outs = await asyncio.gather(*calls, return_exceptions=True)
    for i, out in enumerate(outs):
        if i == 3:
            assert isinstance(out, InferenceError) and "negative input" in str(out)
        else:
            np.testing.assert_array_equal(out["y"], np.full((1, 2), i + 1))  # type: ignore[index]
    engine.close()


async def test_costly_batches_go_to_the_batching_thread():
    ran_in: list[str] = []

    def fn(feeds):
        ran_in.append(threading.current_thread().name)
        return {"y": feeds["x"] * 2}

    model = MemoryModel(
        fn, inputs=[TensorInfo("x", (None, 2), F32)], outputs=[TensorInfo("y", (None, 2), F32)]
    )
    engine = InferenceEngine(model, max_batch=32, max_delay_us=1000, warmup=0)
    xs = [np.full((1, 2), i, np.float32) for i in range(8)]
    outs = await asyncio.gather(*(engine.async_run(x) for x in xs))
    assert ran_in == [threading.current_thread().name]  # cheap: in the event loop
    engine._get_batcher().inline_ns = -1  # every batch counts as costly
    outs = await asyncio.gather(*(engine.async_run(x) for x in xs))
    assert ran_in[1:] == ["edgekit-infer-batcher"]
    for x, out in zip(xs, outs, strict=True):
        np.testing.assert_array_equal(out["y"], x * 2)
    assert engine.stats().batch_sizes == {8: 2}
    engine.close()


async def test_requests_queued_in_a_loop_when_the_engine_closes_get_an_error(mlp_bytes):
    engine = InferenceEngine(mlp_bytes, max_batch=32)
    x = np.zeros((1, 32), np.float32)
    await engine.async_run(x)
    task = asyncio.create_task(engine.async_run(x))
    await asyncio.sleep(0)  # the task queues its request; the loop's flush comes after us
    engine.close()
    with pytest.raises(InferenceError, match="closed"):
        await task
