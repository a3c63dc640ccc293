"""Micro-batching: requests from many callers merged into one runtime call."""

from __future__ import annotations

import _thread
import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, InvalidStateError
from concurrent.futures import TimeoutError as FuturesTimeoutError
from concurrent.futures._base import (
    CANCELLED,
    CANCELLED_AND_NOTIFIED,
    FINISHED,
    PENDING,
    RUNNING,
)
from typing import Any

import numpy as np

from edgekit.errors import EdgekitError, InferenceError
from edgekit.infer._loaded import Loaded

Outcome = tuple["Request", Any, BaseException | None]


#: Guards the state of every :class:`BatchFuture` and the hand-over of wake-ups.
_LOCK = _thread.allocate_lock()
_DONE = (CANCELLED, CANCELLED_AND_NOTIFIED, FINISHED)
_LOGGER = logging.getLogger("concurrent.futures")


class BatchFuture(Future[Any]):
    """The ``concurrent.futures.Future`` that :meth:`InferenceEngine.submit` returns.

    It is a real ``Future`` subclass (``result(timeout)``, ``exception(timeout)``,
    ``done()``, ``cancel()``, ``add_done_callback()``, ``asyncio.wrap_future`` and
    ``concurrent.futures.wait``/``as_completed`` all work), built for many threads
    each waiting on one small request:

    - no condition variable per request: a waiter sleeps on a pre-acquired lock
      that is released once the result is in (the condition that
      ``concurrent.futures.wait`` needs is created only if it is used);
    - one module-wide lock settles a whole batch at once;
    - waiters of one batch are woken one after another, each by the previous one
      as it returns (a relay), not all at once: woken together, 32 threads queue
      for the GIL and most of them sleep and wake a second time. The relay halves
      the context switches per request.
    """

    def __init__(self) -> None:  # no super().__init__(): no Condition per request
        self._state = PENDING
        self._result: Any = None
        self._exception: BaseException | None = None
        self._waiters = []
        self._done_callbacks: list[Callable[[Future[Any]], object]] = []
        self._ready = _thread.allocate_lock()
        self._ready.acquire()
        self._waiting = False  # a thread sleeps (or is about to) on ``_ready``
        self._relay: tuple[list[BatchFuture], int] | None = None  # who to wake next
        self._batcher: MicroBatcher | None = None  # a lone request: the waiter runs it

    def __getattr__(self, name: str) -> Any:
        # The condition of the standard Future, made on first use only
        # (concurrent.futures.wait and as_completed lock it).
        if name != "_condition":
            raise AttributeError(name)
        self._kick()
        with _LOCK:
            cond = self.__dict__.get("_condition")
            if cond is None:
                cond = self.__dict__["_condition"] = threading.Condition()
        return cond

    def __repr__(self) -> str:
        return f"<BatchFuture at {id(self):#x} state={self._state.lower()}>"

    # -- state ------------------------------------------------------------------------

    def done(self) -> bool:
        if self._batcher is not None:
            self._kick()  # polled: nobody will run a deferred request in result()
        return self._state in _DONE

    def running(self) -> bool:
        return self._state == RUNNING

    def cancelled(self) -> bool:
        return self._state in (CANCELLED, CANCELLED_AND_NOTIFIED)

    def cancel(self) -> bool:
        with _LOCK:
            state = self._state
            if state in (RUNNING, FINISHED):
                return False
            if state == PENDING:
                self._state = CANCELLED
        if state == PENDING:
            self._announce()
            self._ready.release()
        return True

    def set_running_or_notify_cancel(self) -> bool:
        with _LOCK:
            if self._state == CANCELLED:
                self._state = CANCELLED_AND_NOTIFIED
                cancelled = True
            elif self._state == PENDING:
                self._state = RUNNING
                return True
            else:
                raise InvalidStateError(f"{self._state}: {self!r}")
        if cancelled:
            cond = self.__dict__.get("_condition")
            if cond is not None:
                with cond:
                    for waiter in self._waiters:
                        waiter.add_cancelled(self)
        return False

    def set_result(self, result: Any) -> None:
        if not settle_one(self, result, None):
            raise InvalidStateError(f"{self._state}: {self!r}")

    def set_exception(self, exception: BaseException | None) -> None:
        if not settle_one(self, None, exception):
            raise InvalidStateError(f"{self._state}: {self!r}")

    def _kick(self) -> None:
        """Nobody may wait in ``result``: let the worker run a deferred lone request."""
        batcher = self._batcher
        if batcher is not None:
            self._batcher = None
            batcher.kick()

    def add_done_callback(self, fn: Callable[[Future[Any]], object]) -> None:
        self._kick()
        with _LOCK:
            if self._state not in _DONE:
                self._done_callbacks.append(fn)
                return
        try:
            fn(self)
        except Exception:
            _LOGGER.exception("exception calling callback for %r", self)

    def _announce(self) -> None:
        """After the state changed: wake ``concurrent.futures.wait``, run callbacks."""
        cond = self.__dict__.get("_condition")
        if cond is not None:
            with cond:
                if self._state == FINISHED:
                    for waiter in self._waiters:
                        if self._exception is None:
                            waiter.add_result(self)
                        else:
                            waiter.add_exception(self)
                cond.notify_all()
        for fn in self._done_callbacks:
            try:
                fn(self)
            except Exception:
                _LOGGER.exception("exception calling callback for %r", self)

    # -- waiting ----------------------------------------------------------------------

    def _wait(self, timeout: float | None) -> None:
        batcher = self._batcher
        if batcher is not None:  # a lone request: run it here (see MicroBatcher.lead)
            self._batcher = None
            batcher.lead(None if timeout is None else time.perf_counter_ns() + int(timeout * 1e9))
            if self._state != PENDING:
                if self._relay is not None:
                    self._pass_on()
                return
        self._waiting = True
        ready = self._ready
        if ready.acquire(True, -1 if timeout is None else max(timeout, 0.0)):
            ready.release()  # leave it open for other waiters and later calls
            if self._relay is not None:
                self._pass_on()
            return
        with _LOCK:  # timed out: leave the relay; pass it on if it just reached us
            self._waiting = False
        self._pass_on()

    def _pass_on(self) -> None:
        """Wake the next waiting future of this one's batch (see :func:`relay`)."""
        with _LOCK:
            link = self._relay
            if link is None:
                return
            self._relay = None
            _relay(*link)

    def result(self, timeout: float | None = None) -> Any:
        if self._state != FINISHED:
            if self._state == PENDING or self._state == RUNNING:
                self._wait(timeout)
            if self._state != FINISHED:
                if self._state in (CANCELLED, CANCELLED_AND_NOTIFIED):
                    raise CancelledError()
                raise FuturesTimeoutError()
        if self._exception is not None:
            raise self._exception
        return self._result

    def exception(self, timeout: float | None = None) -> BaseException | None:
        if self._state == PENDING or self._state == RUNNING:
            self._wait(timeout)
        if self._state == FINISHED:
            return self._exception
        if self._state in (CANCELLED, CANCELLED_AND_NOTIFIED):
            raise CancelledError()
        raise FuturesTimeoutError()


def _relay(chain: list[BatchFuture], i: int) -> None:
    """Open the futures of ``chain[i:]`` up to the first one with a waiter; wake it.

    Called with ``_LOCK`` held. The woken waiter carries on from there as it
    returns. Futures nobody waits on are just opened (no wake-up).
    """
    n = len(chain)
    while i < n:
        future = chain[i]
        i += 1
        if future._waiting:
            if i < n:
                future._relay = (chain, i)
            future._ready.release()
            return
        future._ready.release()


def settle_one(future: BatchFuture, value: Any, error: BaseException | None) -> bool:
    """:func:`settle` for a single future; False when it was already done (or cancelled)."""
    with _LOCK:
        if future._state in _DONE:
            return False
        if error is None:
            future._result = value
        else:
            future._exception = error
        future._state = FINISHED
    if future._done_callbacks or "_condition" in future.__dict__:
        future._announce()
    future._ready.release()
    return True


def settle(items: list[tuple[BatchFuture, Any, BaseException | None]]) -> None:
    """Complete thread futures (cancelled ones are skipped) and wake their waiters."""
    done: list[BatchFuture] = []
    with _LOCK:
        for future, value, error in items:
            if future._state in _DONE:
                continue
            if error is None:
                future._result = value
            else:
                future._exception = error
            future._state = FINISHED
            done.append(future)
    for future in done:
        if future._done_callbacks or "_condition" in future.__dict__:
            future._announce()
    with _LOCK:
        _relay(done, 0)


class Request:
    """One queued call: validated feeds and where its answer goes.

    Thread callers get a :class:`BatchFuture`; asyncio callers an
    ``asyncio.Future`` of their loop, completed by one loop callback per batch.
    """

    __slots__ = ("afuture", "cut", "feeds", "future", "key", "loop", "quantized", "rows", "t0")

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
        self.cut = False  # the last request of a batch formed by an event loop
        if loop is None:
            self.future: BatchFuture | None = BatchFuture()
            self.afuture: asyncio.Future[dict[str, np.ndarray]] | None = None
        else:
            self.future = None
            self.afuture = loop.create_future()


def _settle_async(outcomes: list[Outcome], batcher: MicroBatcher | None = None) -> None:
    """Runs in the caller's event loop: completes every asyncio future of one batch.

    With ``batcher``, the batch was handed over by :meth:`MicroBatcher.put_async`:
    its count of the loop's requests out is lowered, and requests the loop held
    back for company get their flush.
    """
    if batcher is not None:
        loop = outcomes[0][0].loop
        assert loop is not None
        out = batcher._out
        left = out.get(loop, 0) - len(outcomes)
        if left > 0:
            out[loop] = left
        else:
            out.pop(loop, None)
        if batcher._pending.get(loop):
            loop.call_soon(batcher._flush, loop)  # after the tasks woken below
    for request, value, error in outcomes:
        future = request.afuture
        if future is None or future.done():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)


def deliver(outcomes: list[Outcome], batcher: MicroBatcher | None = None) -> None:
    """Hand results and errors to their callers: one loop callback per event loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[Outcome]] = {}
    threaded: list[tuple[BatchFuture, Any, BaseException | None]] = []
    for outcome in outcomes:
        request = outcome[0]
        if request.loop is None:
            assert request.future is not None
            threaded.append((request.future, outcome[1], outcome[2]))
        else:
            by_loop.setdefault(request.loop, []).append(outcome)
    if threaded:
        settle(threaded)
    for loop, items in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle_async, items, batcher)
        except RuntimeError:  # the caller's loop is closed: nobody is waiting
            if batcher is not None:
                for table in (batcher._out, batcher._inflight, batcher._pending, batcher._split):
                    table.pop(loop, None)


class MicroBatcher:
    """A worker thread that merges queued requests into batches of at most ``max_batch`` rows.

    Policy: when the worker is free it takes everything queued (up to ``max_batch``
    rows). It waits for company (at most ``max_delay`` seconds) only while fewer
    rows are queued than half the previous batch (than the whole previous batch
    when that one held only thread requests): under steady load the batches
    settle where the runtime call overlaps the callers' own work, while a lone
    caller is never held back by a wait that cannot pay off. Requests that arrive
    while a batch computes queue up and form the next batch. Asyncio callers
    reach it through :meth:`put_async`: their event loop forms the batches and
    hands each over whole (two alternating halves under steady load), or runs a
    cheap one itself while nothing else of that loop is out and the worker is idle.
    A lone thread request is not handed to the worker at all: the thread that
    waits for it runs it (:meth:`lead`). One batch runs at a time (``_busy``),
    whoever runs it, so stateful models keep submission order.
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
        #: Asyncio batches are split in two alternating halves only while the last
        #: batch took at least this long (ns): below it, the overlap gained is less
        #: than the thread hand-offs it costs.
        self.split_ns = 100_000
        self._rows = 0
        self._cv = threading.Condition(threading.Lock())
        self._sleeping = False  # the worker waits on ``_cv`` (put() then notifies)
        self._closed = False
        self._expected = 1  # rows of the previous batch: how much company to wait for
        # Wait for half the previous batch, not all of it: the next batch then starts
        # while the rest of the callers are still coming back, so the runtime call
        # overlaps the callers' own work (about 1.2x-2x the throughput of waiting
        # for all of them with 8-32 asyncio callers in the benchmark).
        self.goal_divisor = 2
        # Thread callers instead wait for the whole previous batch (divisor 1): each of
        # them needs its own wake-up anyway, and full batches gave the same throughput
        # with half the p99 latency (1.2 ms vs 2.4 ms with 32 threads, 0.36 vs 0.70 ms
        # with 8, in the benchmark's MLP) and fewer runtime calls.
        self.thread_goal_divisor = 1
        self._divisor = self.goal_divisor  # the one for the callers of the last batch
        #: Per event loop: asyncio requests not yet back in their task (the number
        #: of concurrent callers), and those handed over and not yet answered.
        self._inflight: dict[asyncio.AbstractEventLoop, int] = {}
        self._out: dict[asyncio.AbstractEventLoop, int] = {}
        self._split: dict[asyncio.AbstractEventLoop, int] = {}  # batch size of this iteration
        self._groups = 0  # complete asyncio batches in the queue (their last request has ``cut``)
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
                and self._expected == 1
                and not self._busy
                and request.future is not None
            ):
                # A lone request: its caller will run it (see lead), no wake-up here.
                request.future._batcher = self
            elif self._sleeping and (
                rows == request.rows
                or rows * self._divisor >= self._expected
                or rows >= self.max_batch
            ):
                self._sleeping = False  # one wake-up is enough
                self._cv.notify()

    def put_async(self, request: Request) -> None:
        """Queue an asyncio caller's request; runs in the request's event loop.

        The loop forms its batches itself and hands each one over whole (one lock,
        one wake-up). With ``C`` callers in flight, a batch leaves as soon as it
        holds ``min(max_batch, C / 2)`` requests (once a batch took ``split_ns``;
        cheaper ones leave whole): the runtime then computes it while
        the loop still answers and refills the other half, so two batches alternate
        (one computing, one being refilled) and the loop's Python overlaps the
        runtime. What is left at the end of the loop iteration (a ``call_soon``
        flush, run after every task ready in that iteration) leaves then, or waits
        for company while an earlier batch of this loop is still out.
        """
        loop = request.loop
        assert loop is not None
        callers = self._inflight.get(loop, 0) + 1
        self._inflight[loop] = callers  # each loop touches only its own keys
        pending = self._pending.get(loop)
        if pending is None:
            pending = self._pending[loop] = []
            loop.call_soon(self._flush, loop)
            # The callers in flight as the iteration starts set its batch size (a
            # burst of new callers in one iteration leaves whole, up to max_batch).
            self._split[loop] = (
                min(self.max_batch, (callers + 1) // 2)
                if callers >= 4 and self._compute_ns >= self.split_ns
                else self.max_batch
            )
        pending.append(request)
        if len(pending) >= self._split[loop]:
            self._pending[loop] = []
            self._hand_over(loop, pending)

    def returned(self, loop: asyncio.AbstractEventLoop) -> None:
        """An asyncio request is back in its task (answered, failed or cancelled)."""
        callers = self._inflight.get(loop, 0) - 1
        if callers > 0:
            self._inflight[loop] = callers
        else:
            self._inflight.pop(loop, None)

    def _hand_over(self, loop: asyncio.AbstractEventLoop, requests: list[Request]) -> None:
        try:
            self.put_many(requests)
        except BaseException as exc:
            deliver([(r, None, exc) for r in requests])
            return
        self._out[loop] = self._out.get(loop, 0) + len(requests)

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        requests = self._pending.pop(loop, None)
        out = self._out.get(loop, 0)
        if requests and out > len(requests) and not self._closed:
            # Fewer than half the callers: wait for the batch out to come back and
            # bring company (its answer flushes again), rather than send a small batch.
            self._pending[loop] = requests
            return
        self._split.pop(loop, None)
        if not requests:
            return
        if (
            not out
            and self._compute_ns <= self.inline_ns
            and not self._closed
            and not self._busy
            and not self._queue
            and self._current().batchable
        ):
            # A cheap batch, an idle worker and nothing else of this loop out: run it
            # here. Handing it to the worker and back costs two thread wake-ups, more
            # than the batch itself, and there is nothing to overlap it with.
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
            self._expected, self._divisor = rows, self.goal_divisor
            _settle_async(outcomes)
            return
        self._hand_over(loop, requests)

    def put_many(self, requests: list[Request]) -> None:
        """Queue the requests as one batch (one lock, one wake-up)."""
        with self._cv:
            if self._closed:
                raise InferenceError("the engine is closed")
            self._queue.extend(requests)
            requests[-1].cut = True
            self._groups += 1
            self._rows += sum(r.rows for r in requests)
            self._sleeping = False
            self._cv.notify()

    def close(self, timeout: float = 5.0) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _take(self) -> list[Request] | None:
        with self._cv:
            while not self._queue or self._busy:
                if self._closed and not self._queue:
                    return None
                self._sleeping = True
                self._cv.wait()
                self._sleeping = False
            goal = self._goal()
            if self._rows < goal and self.max_delay > 0 and not self._groups:
                deadline = time.monotonic() + self.max_delay
                while (
                    self._rows < goal and not self._closed and not self._busy and not self._groups
                ):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._sleeping = True
                    self._cv.wait(remaining)
                    self._sleeping = False
                if self._busy or not self._queue:  # a waiting caller took the batch meanwhile
                    return []
            return self._pop()

    def _goal(self) -> int:
        """Rows worth waiting for: half the previous batch (at most ``max_batch``)."""
        return min(self.max_batch, -(-self._expected // self._divisor))

    def _pop(self) -> list[Request]:
        """Take the next batch off the queue and mark the batcher busy; ``_cv`` held."""
        batch: list[Request] = []
        rows = 0
        queue = self._queue
        while queue and (not batch or rows + queue[0].rows <= self.max_batch):
            request = queue.popleft()
            rows += request.rows
            batch.append(request)
            if request.cut:  # the end of a batch an event loop formed: keep it apart
                request.cut = False
                self._groups -= 1
                break
        self._rows -= rows
        self._expected = rows
        self._divisor = (
            self.thread_goal_divisor if all(r.loop is None for r in batch) else self.goal_divisor
        )
        self._busy = True
        return batch

    def _done(self) -> None:
        """A batch is finished: the worker may take the next one."""
        with self._cv:
            self._busy = False
            if self._queue and self._sleeping:
                self._sleeping = False
                self._cv.notify()

    def _loop(self) -> None:
        while True:
            batch = self._take()
            if batch is None:
                return
            if not batch:
                continue
            outcomes: list[Outcome] = []
            self._run_batch(batch, outcomes)
            self._done()
            deliver(outcomes, self)

    def lead(self, deadline_ns: int | None) -> None:
        """Run a deferred lone request in the calling thread, which waits for it anyway.

        A lone request (nothing queued or running, and the previous batch was one
        request) does not wake the worker at :meth:`put`: the thread that waits for
        it runs it here, so a lone caller costs no thread hand-over at all. When a
        batch is running, or the run would not end by ``deadline_ns``
        (``time.perf_counter_ns``), the worker is woken to take it instead.
        """
        with self._cv:
            if not self._queue:
                return
            if (
                self._busy
                or self._closed
                or (
                    deadline_ns is not None
                    and time.perf_counter_ns() + 2 * self._compute_ns > deadline_ns
                )
            ):
                if self._sleeping and not self._busy:
                    self._sleeping = False
                    self._cv.notify()
                return
            batch = self._pop()
        if len(batch) == 1 and batch[0].future is not None:
            self._run_lone(batch[0], batch[0].future)
            return
        outcomes: list[Outcome] = []
        self._run_batch(batch, outcomes)
        self._done()
        deliver(outcomes, self)

    def _run_lone(self, request: Request, future: BatchFuture) -> None:
        """:meth:`_run_batch` + :meth:`_done` + :func:`deliver` for one thread request."""
        t0 = time.perf_counter_ns()
        try:
            model = self._current()
            result = self._execute(model, request.feeds)
            if request.key is not None or not request.quantized:
                result = self._finish(model, request, result)
            error = None
        except BaseException as exc:
            result, error = None, exc
        now = time.perf_counter_ns()
        self._compute_ns = now - t0
        self._done()
        try:
            self._record(1, [] if error is not None else [now - request.t0])
        except BaseException as exc:  # the engine was garbage-collected
            result, error = None, exc
        settle_one(future, result, error)

    def kick(self) -> None:
        """Wake the worker for a deferred request whose caller does not wait in ``result``."""
        with self._cv:
            if self._queue and self._sleeping and not self._busy:
                self._sleeping = False
                self._cv.notify()

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
        if len(model.checks) == model.n_inputs and all(
            len(check[4]) == check[3] - 1 for check in model.checks
        ):
            # Every dimension but the batch one is fixed: all requests stack together.
            self._merged(model, batch, outcomes)
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
        total = sum(r.rows for r in group)
        try:
            feeds = {
                name: np.concatenate([r.feeds[name] for r in group], axis=0)
                for name in model.input_names
            }
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
            append = outcomes.append
            if len(outputs) == 1:
                ((name, out),) = outputs.items()
                for request in group:
                    stop = start + request.rows
                    append((request, {name: out[start:stop]}, None))
                    start = stop
            else:
                items = list(outputs.items())
                for request in group:
                    stop = start + request.rows
                    append((request, {n: o[start:stop] for n, o in items}, None))
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
