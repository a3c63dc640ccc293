"""Micro-batching: requests from many callers merged into one runtime call."""

from __future__ import annotations

import _thread
import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import numpy as np

from edgekit.errors import EdgekitError, InferenceError
from edgekit.infer._loaded import Loaded

Outcome = tuple["Request", Any, BaseException | None]


class BatchFuture(Future[Any]):
    """A ``concurrent.futures.Future`` whose waiters sleep on a plain lock.

    ``Future.result()`` waits on a condition variable, and a woken waiter must then
    win the future's internal lock back from the batching thread that is still
    settling the rest of the batch. Here a waiter blocks on a lock released once
    the result is in: one wake-up, no second contended lock. Everything else is
    the standard Future (callbacks, ``asyncio.wrap_future``, cancellation).
    """

    def __init__(self) -> None:
        super().__init__()
        self._ready = _thread.allocate_lock()
        self._ready.acquire()

    def _wake(self) -> None:
        if self._ready.locked():
            with contextlib.suppress(RuntimeError):
                self._ready.release()

    def set_result(self, result: Any) -> None:
        super().set_result(result)
        self._wake()

    def set_exception(self, exception: BaseException | None) -> None:
        super().set_exception(exception)
        self._wake()

    def cancel(self) -> bool:
        cancelled = super().cancel()
        if cancelled:
            self._wake()
        return cancelled

    def _wait(self, timeout: float | None) -> None:
        # done() first: done-callbacks run inside set_result, before _wake().
        if not self.done() and self._ready.acquire(
            True, -1 if timeout is None else max(timeout, 0.0)
        ):
            self._ready.release()  # let other waiters (and later calls) through

    def result(self, timeout: float | None = None) -> Any:
        self._wait(timeout)
        return super().result(0)  # the result, or TimeoutError / CancelledError

    def exception(self, timeout: float | None = None) -> BaseException | None:
        self._wait(timeout)
        return super().exception(0)


class Request:
    """One queued call: validated feeds and where its answer goes.

    Thread callers get a ``concurrent.futures.Future``; asyncio callers an
    ``asyncio.Future`` of their loop, completed by one loop callback per batch.
    """

    __slots__ = ("afuture", "feeds", "future", "key", "loop", "quantized", "rows", "t0")

    def __init__(
        self,
        feeds: dict[str, np.ndarray],
        rows: int,
        key: Any,
        quantized: bool,
        t0: int,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.feeds = feeds
        self.rows = rows
        self.key = key
        self.quantized = quantized
        self.t0 = t0
        self.loop = loop
        if loop is None:
            self.future: Future[dict[str, np.ndarray]] | None = BatchFuture()
            self.afuture: asyncio.Future[dict[str, np.ndarray]] | None = None
        else:
            self.future = None
            self.afuture = loop.create_future()


def _settle_thread(future: Future[Any], value: Any, error: BaseException | None) -> None:
    if future.done():  # cancelled by the caller
        return
    try:
        if future.__class__ is BatchFuture:
            # Result in now, waiter woken later with the rest of the batch (see deliver).
            if error is not None:
                Future.set_exception(future, error)
            else:
                Future.set_result(future, value)
        elif error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)
    except Exception:  # InvalidStateError on a race with cancel()
        return


def _settle_async(outcomes: list[Outcome]) -> None:
    """Runs in the caller's event loop: completes every asyncio future of one batch."""
    for request, value, error in outcomes:
        future = request.afuture
        if future is None or future.done():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)


def deliver(outcomes: list[Outcome]) -> None:
    """Hand results and errors to their callers: one loop callback per event loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[Outcome]] = {}
    woken: list[BatchFuture] = []
    for outcome in outcomes:
        request = outcome[0]
        if request.loop is None:
            future = request.future
            assert future is not None
            _settle_thread(future, outcome[1], outcome[2])
            if future.__class__ is BatchFuture:
                woken.append(future)
        else:
            by_loop.setdefault(request.loop, []).append(outcome)
    # Every result of the batch is in before the first waiter wakes: the waiters then
    # contend with each other, not with this thread still settling the batch.
    for future in woken:
        future._wake()
    for loop, items in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle_async, items)
        except RuntimeError:  # the caller's loop is closed: nobody is waiting
            continue


class MicroBatcher:
    """A worker thread that merges queued requests into batches of at most ``max_batch`` rows.

    Policy: when the worker is free it takes everything queued (up to ``max_batch``
    rows). It waits for company (at most ``max_delay`` seconds) only while fewer
    rows are queued than half the previous batch: under steady load the batches
    settle where the runtime call overlaps the callers' own work, while a lone
    caller is never held back by a wait that cannot pay off. Requests that arrive
    while a batch computes queue up and form the next batch. Asyncio callers
    reach it through :meth:`put_async`: one hand-over per event-loop iteration,
    run in the loop itself while the worker is idle and batches are cheap.
    """

    def __init__(
        self,
        current: Callable[[], Loaded],
        execute: Callable[[Loaded, dict[str, np.ndarray]], dict[str, np.ndarray]],
        finish: Callable[[Loaded, Request, dict[str, np.ndarray]], dict[str, np.ndarray]],
        record: Callable[[int, list[int]], None],
        *,
        max_batch: int,
        max_delay: float,
    ) -> None:
        self._current = current
        self._execute = execute
        self._finish = finish
        self._record = record
        self.max_batch = max_batch
        self.max_delay = max_delay
        self._queue: deque[Request] = deque()
        self._pending: dict[asyncio.AbstractEventLoop, list[Request]] = {}
        self._busy = False  # the worker is processing a batch
        self._compute_ns = 0  # how long the last batch took, ns
        #: Asyncio batches run in the caller's event loop, not the worker, while the
        #: last batch took at most this long (ns) and the worker is idle.
        self.inline_ns = 1_000_000
        self._rows = 0
        self._cv = threading.Condition(threading.Lock())
        self._closed = False
        self._expected = 1  # rows of the previous batch: how much company to wait for
        # Wait for half the previous batch, not all of it: the next batch then starts
        # while the rest of the callers are still coming back, so the runtime call
        # overlaps the callers' own work (about 1.2x-2x the throughput of waiting
        # for all of them with 8-32 asyncio callers in the benchmark).
        self.goal_divisor = 2
        self._thread = threading.Thread(
            target=self._loop, name="edgekit-infer-batcher", daemon=True
        )
        self._thread.start()

    def put(self, request: Request) -> None:
        with self._cv:
            if self._closed:
                raise InferenceError("the engine is closed")
            self._queue.append(request)
            self._rows += request.rows
            rows = self._rows
            if (
                rows == request.rows
                or rows * self.goal_divisor >= self._expected
                or rows >= self.max_batch
            ):
                self._cv.notify()

    def put_async(self, request: Request) -> None:
        """Queue an asyncio caller's request: one hand-over per event-loop iteration.

        Runs in the request's event loop. The first request of an iteration schedules
        a flush with ``call_soon``, which runs after every task already ready in that
        iteration, so the requests of all tasks woken by one batch reach the worker
        together, with one lock and one wake-up, while the loop goes idle.
        """
        loop = request.loop
        assert loop is not None
        pending = self._pending.get(loop)
        if pending is None:
            pending = self._pending[loop] = []  # each loop touches only its own key
            loop.call_soon(self._flush, loop)
        pending.append(request)

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        requests = self._pending.pop(loop, None)
        if not requests:
            return
        if (
            self._compute_ns <= self.inline_ns
            and not self._closed
            and not self._busy
            and not self._queue
            and self._current().batchable
        ):
            # A cheap batch and an idle worker: run it here. Handing it to the worker
            # and back costs two thread wake-ups, more than the batch itself.
            outcomes: list[Outcome] = []
            chunk: list[Request] = []
            rows = 0
            for request in requests:
                if chunk and rows + request.rows > self.max_batch:
                    self._run_batch(chunk, outcomes)
                    chunk, rows = [], 0
                chunk.append(request)
                rows += request.rows
            self._run_batch(chunk, outcomes)
            _settle_async(outcomes)
            return
        try:
            self.put_many(requests)
        except BaseException as exc:
            deliver([(r, None, exc) for r in requests])

    def put_many(self, requests: list[Request]) -> None:
        """Queue several requests at once (one lock, one wake-up)."""
        with self._cv:
            if self._closed:
                raise InferenceError("the engine is closed")
            self._queue.extend(requests)
            self._rows += sum(r.rows for r in requests)
            self._cv.notify()

    def close(self, timeout: float = 5.0) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _take(self) -> list[Request] | None:
        with self._cv:
            while not self._queue:
                if self._closed:
                    return None
                self._cv.wait()
            goal = min(self.max_batch, -(-self._expected // self.goal_divisor))
            if self._rows < goal and self.max_delay > 0:
                deadline = time.monotonic() + self.max_delay
                while self._rows < goal and not self._closed:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._cv.wait(remaining)
            batch: list[Request] = []
            rows = 0
            while self._queue and (not batch or rows + self._queue[0].rows <= self.max_batch):
                request = self._queue.popleft()
                rows += request.rows
                batch.append(request)
            self._rows -= rows
            self._expected = rows
            self._busy = True
            return batch

    def _loop(self) -> None:
        while True:
            batch = self._take()
            if batch is None:
                return
            outcomes: list[Outcome] = []
            self._run_batch(batch, outcomes)
            self._busy = False
            deliver(outcomes)

    def _run_batch(self, batch: list[Request], outcomes: list[Outcome]) -> None:
        """Process one batch into ``outcomes``; never raises; times it."""
        t0 = time.perf_counter_ns()
        try:
            self._process(batch, outcomes)
        except BaseException as exc:  # never let the worker die
            answered = {id(o[0]) for o in outcomes}
            error = InferenceError(f"batch failed: {exc!r}")
            outcomes += [(r, None, error) for r in batch if id(r) not in answered]
        self._compute_ns = time.perf_counter_ns() - t0

    def _process(self, batch: list[Request], outcomes: list[Outcome]) -> None:
        model = self._current()
        if not model.batchable or len(batch) == 1:
            for request in batch:
                self._single(model, request, outcomes)
            return
        groups: dict[tuple[Any, ...], list[Request]] = {}
        for request in batch:
            signature = tuple(a.shape[1:] for a in request.feeds.values())
            groups.setdefault(signature, []).append(request)
        for group in groups.values():
            if len(group) == 1:
                self._single(model, group[0], outcomes)
            else:
                self._merged(model, group, outcomes)

    def _single(self, model: Loaded, request: Request, outcomes: list[Outcome]) -> None:
        try:
            outputs = self._execute(model, request.feeds)
            result = self._finish(model, request, outputs)
        except BaseException as exc:
            self._record(1, [])
            outcomes.append((request, None, exc))
            return
        self._record(1, [time.perf_counter_ns() - request.t0])
        outcomes.append((request, result, None))

    def _merged(self, model: Loaded, group: list[Request], outcomes: list[Outcome]) -> None:
        feeds = {
            name: np.concatenate([r.feeds[name] for r in group], axis=0)
            for name in model.input_names
        }
        total = sum(r.rows for r in group)
        try:
            outputs = self._execute(model, feeds)
            if any(o.ndim == 0 or o.shape[0] != total for o in outputs.values()):
                raise InferenceError("outputs do not keep the batch dimension")
        except (EdgekitError, Exception):
            # One bad request must not fail the others: run each on its own.
            for request in group:
                self._single(model, request, outcomes)
            return
        now = time.perf_counter_ns()
        if all(r.key is None and r.quantized for r in group):
            # Common case (no cache, no dequantization): slice and hand over, nothing else.
            start = 0
            items = list(outputs.items())
            for request in group:
                stop = start + request.rows
                outcomes.append((request, {n: o[start:stop] for n, o in items}, None))
                start = stop
            self._record(len(group), [now - r.t0 for r in group])
            return
        start = 0
        finish = self._finish
        latencies: list[int] = []
        for request in group:
            stop = start + request.rows
            part = {name: out[start:stop] for name, out in outputs.items()}
            start = stop
            try:
                outcomes.append((request, finish(model, request, part), None))
            except BaseException as exc:
                outcomes.append((request, None, exc))
                continue
            latencies.append(request.t0)
        self._record(len(group), [now - t0 for t0 in latencies])
