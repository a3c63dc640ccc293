"""Asyncio micro-batching under steady load: batches formed in the loop, handed over whole."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from edgekit.errors import InferenceError
from edgekit.infer import InferenceEngine, MemoryModel, TensorInfo
from tests.infer import models

F32 = np.dtype("float32")


def _idle(engine: InferenceEngine) -> None:
    """Nothing of any event loop is left in the batcher's bookkeeping."""
    assert engine._get_batcher()._loops == {}


@pytest.mark.parametrize("max_batch", [8, 32])
async def test_closed_loop_callers_get_their_own_rows(max_batch):
    """32 tasks calling in a loop on a 3-D input model: every answer is the unbatched one."""
    model = models.conv1d_model(n_mels=8, frames=5, channels=4, n_out=3)
    engine = InferenceEngine(model, max_batch=max_batch)
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((1, 8, 5)).astype(np.float32) for _ in range(32)]
    expected = [engine.run(x)["y"] for x in xs]

    async def caller(i: int) -> None:
        for _ in range(20):
            out = await engine.async_run(xs[i])
            np.testing.assert_allclose(out["y"], expected[i], rtol=1e-5, atol=1e-6)

    await asyncio.gather(*(caller(i) for i in range(32)))
    sizes = engine.stats().batch_sizes
    assert sum(size * n for size, n in sizes.items()) == 32 * 20
    assert max(sizes) <= max_batch and max(sizes) > 1
    _idle(engine)
    engine.close()


async def test_steady_callers_split_into_two_alternating_batches(mlp_bytes):
    """With as many callers as max_batch, batches of half of them leave (compute overlaps)."""
    engine = InferenceEngine(mlp_bytes, max_batch=32)
    batcher = engine._get_batcher()
    batcher.inline_ns, batcher.split_ns = -1, 0  # worker thread; split even a tiny batch
    x = np.ones((1, 32), np.float32)

    async def caller() -> None:
        for _ in range(30):
            await engine.async_run(x)

    await asyncio.gather(*(caller() for _ in range(32)))
    sizes = engine.stats().batch_sizes
    assert sizes.get(16, 0) > sum(sizes.values()) // 2, sizes
    _idle(engine)
    engine.close()


async def test_cancelling_one_caller_leaves_the_others_answered(mlp_bytes):
    engine = InferenceEngine(mlp_bytes, max_batch=8)
    engine._get_batcher().inline_ns = -1
    rng = np.random.default_rng(3)
    xs = [rng.standard_normal((1, 32)).astype(np.float32) for _ in range(12)]
    tasks = [asyncio.create_task(engine.async_run(x)) for x in xs]
    await asyncio.sleep(0)  # every task has queued its request
    tasks[5].cancel()
    outs = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(outs[5], asyncio.CancelledError)
    for i, (x, out) in enumerate(zip(xs, outs, strict=True)):
        if i != 5:
            np.testing.assert_allclose(
                out["y"], models.mlp_reference(mlp_bytes, x), rtol=1e-4, atol=1e-5
            )
    await asyncio.sleep(0.05)  # the cancelled request's batch is answered too
    _idle(engine)
    engine.close()


async def test_an_error_of_a_batch_reaches_all_its_callers():
    def fn(feeds):
        raise RuntimeError("runtime down")

    model = MemoryModel(
        fn, inputs=[TensorInfo("x", (None, 2), F32)], outputs=[TensorInfo("y", (None, 2), F32)]
    )
    engine = InferenceEngine(model, max_batch=4, warmup=0)
    engine._get_batcher().inline_ns = -1
    outs = await asyncio.gather(
        *(engine.async_run(np.zeros((1, 2), np.float32)) for _ in range(10)), return_exceptions=True
    )
    assert all(isinstance(o, InferenceError) and "runtime down" in str(o) for o in outs), outs
    assert engine.stats().errors == 10
    _idle(engine)
    engine.close()


async def test_requests_held_for_company_get_an_error_when_the_engine_closes(mlp_bytes):
    """A request a loop holds back while its batch is out is not lost when the engine closes."""
    engine = InferenceEngine(mlp_bytes, max_batch=32)
    engine._get_batcher().inline_ns = -1
    x = np.zeros((1, 32), np.float32)
    first = [asyncio.create_task(engine.async_run(x)) for _ in range(8)]
    await asyncio.sleep(0)  # 8 handed over together at the end of the iteration
    late = asyncio.create_task(engine.async_run(x))  # fewer than the batch out: held back
    await asyncio.sleep(0)
    engine.close()
    await asyncio.gather(*first)
    with pytest.raises(InferenceError, match="closed"):
        await asyncio.wait_for(late, 5)


def _record_threads(engine: InferenceEngine) -> set[int]:
    """The set the ids of the threads that run the engine's backend are added to."""
    backend = engine._model.backend
    run, threads = backend.run, set()

    def recording(feeds):  # type: ignore[no-untyped-def]
        threads.add(threading.get_ident())
        return run(feeds)

    backend.run = recording
    return threads


@pytest.mark.parametrize("max_batch", [8, 32])
async def test_steady_callers_fill_batches_that_run_in_the_loop(mlp_bytes, max_batch):
    """32 tasks calling in a loop on a cheap model: every batch is full, runs in the event
    loop's own thread (no hand-over), and answers each caller bit for bit as a lone run."""
    engine = InferenceEngine(mlp_bytes, max_batch=max_batch)
    # However a loaded machine preempts a batch, it stays cheap enough for the loop.
    engine._get_batcher().inline_ns = 10**9
    rng = np.random.default_rng(7)
    xs = [rng.standard_normal((1, 32)).astype(np.float32) for _ in range(32)]
    expected = [engine.run(x)["y"] for x in xs]
    threads = _record_threads(engine)

    async def caller(i: int) -> None:
        for _ in range(20):
            out = await engine.async_run(xs[i])
            np.testing.assert_array_equal(out["y"], expected[i])

    await asyncio.gather(*(caller(i) for i in range(32)))
    assert engine.stats().batch_sizes == {max_batch: 32 * 20 // max_batch}
    assert threads == {threading.get_ident()}
    _idle(engine)
    engine.close()


async def test_a_costly_batch_goes_to_the_worker_thread(mlp_bytes):
    """Batches expected to take longer than ``inline_ns`` do not block the event loop."""
    engine = InferenceEngine(mlp_bytes, max_batch=8)
    batcher = engine._get_batcher()
    threads = _record_threads(engine)
    x = np.ones((1, 32), np.float32)
    await asyncio.gather(*(engine.async_run(x) for _ in range(8)))
    assert threads == {threading.get_ident()}  # cheap: ran in the loop
    batcher.inline_ns = batcher._row_ns * 8 - 1  # now a batch of 8 counts as too long
    threads.clear()
    await asyncio.gather(*(engine.async_run(x) for _ in range(8)))
    assert threading.get_ident() not in threads and len(threads) == 1
    _idle(engine)
    engine.close()
