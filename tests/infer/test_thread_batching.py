"""Micro-batching from threads: the relay of wake-ups, lone requests, timeouts, close."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading

import numpy as np
import pytest

from edgekit.errors import InferenceError
from edgekit.infer import InferenceEngine, MemoryModel, TensorInfo
from edgekit.infer._batching import BatchFuture, settle
from tests.infer import models

F32 = np.dtype("float32")


def memory_model(fn, width: int = 2) -> MemoryModel:
    return MemoryModel(
        fn,
        inputs=[TensorInfo("x", (None, width), F32)],
        outputs=[TensorInfo("y", (None, width), F32)],
    )


def run_threads(n: int, target) -> None:
    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
        assert not t.is_alive()


def test_32_threads_each_get_their_own_rows_back(mlp_bytes):
    engine = InferenceEngine(mlp_bytes, max_batch=32, max_delay_us=1_000)
    rng = np.random.default_rng(7)
    xs = [rng.standard_normal((1, 32)).astype(np.float32) for _ in range(32)]
    expected = [models.mlp_reference(mlp_bytes, x) for x in xs]
    bad: list[int] = []

    def caller(i: int) -> None:
        for _ in range(40):  # closed loop: later requests meet batches already running
            out = engine.submit(xs[i]).result(timeout=10)["y"]
            if not np.allclose(out, expected[i], rtol=1e-4, atol=1e-5):
                bad.append(i)

    run_threads(32, caller)
    assert not bad
    stats = engine.stats()
    assert stats.calls == 32 * 40 and stats.errors == 0
    assert sum(size * n for size, n in stats.batch_sizes.items()) == 32 * 40
    assert max(stats.batch_sizes) > 1
    engine.close()


def test_each_thread_gets_its_own_error():
    def fn(feeds):
        x = feeds["x"]
        if (x < 0).any():
            raise RuntimeError("negative input")
        return {"y": x + 1}

    engine = InferenceEngine(memory_model(fn), max_batch=16, max_delay_us=2_000, warmup=0)
    outcomes: dict[tuple[int, int], object] = {}

    def caller(i: int) -> None:
        for k in range(20):
            value = -1.0 if (i + k) % 5 == 0 else float(i)
            try:
                outcomes[i, k] = engine.submit(np.full((1, 2), value, np.float32)).result(10)
            except InferenceError as exc:
                outcomes[i, k] = exc

    run_threads(16, caller)
    for (i, k), out in outcomes.items():
        if (i + k) % 5 == 0:
            assert isinstance(out, InferenceError) and "negative input" in str(out)
        else:
            np.testing.assert_array_equal(out["y"], np.full((1, 2), i + 1))  # type: ignore[index]
    assert len(outcomes) == 16 * 20
    assert engine.stats().errors == sum((i + k) % 5 == 0 for i, k in outcomes)
    engine.close()


def test_a_lone_request_runs_in_the_waiting_thread():
    ran_in: list[str] = []

    def fn(feeds):
        ran_in.append(threading.current_thread().name)
        return {"y": feeds["x"] * 2}

    engine = InferenceEngine(memory_model(fn), max_delay_us=50_000, warmup=0)
    for i in range(3):
        x = np.full((1, 2), i, np.float32)
        np.testing.assert_array_equal(engine.submit(x).result(timeout=10)["y"], x * 2)
    assert ran_in == [threading.current_thread().name] * 3  # no hand-over, no max_delay wait
    engine.close()


@pytest.mark.parametrize("how", ["callback", "done", "wait", "wrap_future", "another_request"])
def test_a_lone_request_nobody_waits_for_still_runs(mlp_bytes, how):
    engine = InferenceEngine(mlp_bytes, max_delay_us=1_000)
    x = np.ones((1, 32), np.float32)
    future = engine.submit(x)  # deferred: its caller would run it in result()
    got = threading.Event()
    if how == "callback":
        future.add_done_callback(lambda f: got.set())
        assert got.wait(10)
    elif how == "done":
        for _ in range(1000):
            if future.done():
                break
            threading.Event().wait(0.01)
    elif how == "wait":
        done, _ = concurrent.futures.wait([future], timeout=10)
        assert future in done
    elif how == "wrap_future":

        async def main():
            return await asyncio.wrap_future(future)

        asyncio.run(main())
    else:
        other = engine.submit(x)
        other.add_done_callback(lambda f: got.set())
        assert got.wait(10)
        for _ in range(1000):  # the worker took both requests
            if future._state == "FINISHED":
                break
            threading.Event().wait(0.01)
    assert future._state == "FINISHED"
    np.testing.assert_allclose(
        future.result(timeout=0)["y"], models.mlp_reference(mlp_bytes, x), rtol=1e-4, atol=1e-5
    )
    engine.close()


def test_result_timeout_and_a_later_result():
    release = threading.Event()

    def fn(feeds):
        release.wait(10)
        return {"y": feeds["x"]}

    engine = InferenceEngine(memory_model(fn), max_delay_us=0, warmup=0)
    busy = engine.submit(np.zeros((1, 2), np.float32))
    busy.add_done_callback(lambda f: None)  # the worker runs it, blocked in fn
    futures = [engine.submit(np.full((1, 2), i, np.float32)) for i in range(4)]
    with pytest.raises(concurrent.futures.TimeoutError):
        futures[0].result(timeout=0.05)
    with pytest.raises(concurrent.futures.TimeoutError):
        futures[1].exception(timeout=0)
    assert not futures[0].done()
    results: dict[int, np.ndarray] = {}

    def waiter(i: int) -> None:
        results[i] = futures[i].result(timeout=10)["y"]

    threads = [threading.Thread(target=waiter, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    release.set()
    for t in threads:
        t.join(timeout=10)
    for i in range(4):
        np.testing.assert_array_equal(results[i], np.full((1, 2), i, np.float32))
    engine.close()


def test_the_relay_passes_over_waiters_that_timed_out():
    futures = [BatchFuture() for _ in range(6)]
    with pytest.raises(concurrent.futures.TimeoutError):
        futures[2].result(timeout=0.01)  # registered as a waiter, then gave up
    got: dict[int, int] = {}

    def waiter(i: int) -> None:
        got[i] = futures[i].result(timeout=10)

    threads = [threading.Thread(target=waiter, args=(i,)) for i in (0, 3, 5)]
    for t in threads:
        t.start()
    threading.Event().wait(0.05)  # let them go to sleep
    settle([(f, i, None) for i, f in enumerate(futures)])
    for t in threads:
        t.join(timeout=10)
        assert not t.is_alive()
    assert got == {0: 0, 3: 3, 5: 5}
    assert [f.result(timeout=0) for f in futures] == list(range(6))


def test_close_while_threads_wait_answers_everyone(mlp_bytes):
    engine = InferenceEngine(mlp_bytes, max_batch=8, max_delay_us=5_000)
    x = np.ones((1, 32), np.float32)
    expected = models.mlp_reference(mlp_bytes, x)
    answers: list[object] = []
    started = threading.Barrier(17)

    def caller(i: int) -> None:
        started.wait()
        for _ in range(50):
            try:
                answers.append(engine.submit(x).result(timeout=10)["y"])
            except InferenceError as exc:
                answers.append(exc)
                return

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    started.wait()
    threading.Event().wait(0.02)
    engine.close()
    for t in threads:
        t.join(timeout=30)
        assert not t.is_alive()  # nobody is left waiting
    for answer in answers:
        if isinstance(answer, InferenceError):
            assert "closed" in str(answer)
        else:
            np.testing.assert_allclose(answer, expected, rtol=1e-4, atol=1e-5)
    with pytest.raises(InferenceError, match="closed"):
        engine.submit(x)


def test_batch_future_works_with_concurrent_futures_helpers():
    futures = [BatchFuture() for _ in range(3)]
    seen: list[int] = []
    futures[1].add_done_callback(lambda f: seen.append(f.result()))

    def finish() -> None:
        threading.Event().wait(0.02)
        settle([(futures[1], 1, None), (futures[0], None, ValueError("bad"))])

    threading.Thread(target=finish).start()
    done, pending = concurrent.futures.wait(
        futures, timeout=10, return_when=concurrent.futures.FIRST_EXCEPTION
    )
    assert done == {futures[0], futures[1]} and pending == {futures[2]}
    assert isinstance(futures[0].exception(), ValueError) and seen == [1]
    assert futures[2].set_running_or_notify_cancel() and futures[2].running()
    assert not futures[2].cancel()
    futures[2].set_result(2)
    assert [f for f in concurrent.futures.as_completed(futures, timeout=1)] and futures[
        2
    ].result() == 2
    late: list[int] = []
    futures[2].add_done_callback(lambda f: late.append(f.result()))  # already done: runs now
    assert late == [2]
    with pytest.raises(concurrent.futures.InvalidStateError):
        futures[2].set_result(3)
    cancelled = BatchFuture()
    assert cancelled.cancel() and not cancelled.set_running_or_notify_cancel()
    assert "cancelled" in repr(cancelled) or "CANCELLED" in repr(cancelled).upper()


def test_a_lone_request_with_a_too_short_timeout_goes_to_the_batching_thread():
    ran_in: list[str] = []

    def fn(feeds):
        ran_in.append(threading.current_thread().name)
        return {"y": feeds["x"] + 1}

    engine = InferenceEngine(memory_model(fn), max_delay_us=1_000, warmup=0)
    x = np.zeros((1, 2), np.float32)
    engine.submit(x).result(timeout=10)  # runs here: sets the batch-time estimate
    future = engine.submit(x)
    with contextlib.suppress(concurrent.futures.TimeoutError):
        future.result(timeout=0)  # no time to run it here: the worker is woken instead
    np.testing.assert_array_equal(future.result(timeout=10)["y"], x + 1)
    assert ran_in == [threading.current_thread().name, "edgekit-infer-batcher"]
    assert engine.stats().calls == 2
    engine.close()
