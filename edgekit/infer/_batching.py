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

from edgekit.errors import InferenceError
from edgekit.infer._loaded import Loaded

_now = time.perf_counter_ns


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
    """One queued call of a thread (:meth:`InferenceEngine.submit`): validated feeds, its future."""

    __slots__ = ("feeds", "future", "key", "quantized", "rows", "t0")

    def __init__(
        self, feeds: dict[str, np.ndarray], rows: int, key: Any, quantized: bool, t0: int
    ) -> None:
        self.feeds = feeds
        self.rows = rows
        self.key = key
        self.quantized = quantized
        self.t0 = t0
        self.future = BatchFuture()


#: Per request of a batch that needs more than the runtime's outputs: index -> (cache key, quantized).
Extras = dict[int, tuple[Any, bool]]


class _LoopState:
    """One event loop's side of the batcher: the batch it is forming. Loop thread only."""

    __slots__ = ("callers", "extras", "feeds", "flushing", "futures", "loop", "out", "split", "t0s")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.feeds: list[Any] = []  # as the callers gave them: checked once per batch
        self.futures: list[asyncio.Future[dict[str, np.ndarray]]] = []
        self.t0s: list[int] = []
        self.extras: Extras | None = None
        self.callers = 0  # requests not yet back in their task
        self.out = 0  # requests handed over and not yet answered
        self.split = 1  # requests that make a batch leave in this loop iteration
        self.flushing: asyncio.Handle | None = None  # the flush scheduled, if any


class AsyncBatch:
    """A batch an event loop formed, queued whole and answered with one loop callback."""

    __slots__ = ("extras", "feeds", "futures", "state", "t0s")

    def __init__(self, state: _LoopState) -> None:
        self.state = state
        self.feeds = state.feeds
        self.futures = state.futures
        self.t0s = state.t0s
        self.extras = state.extras
        state.feeds, state.futures, state.t0s, state.extras = [], [], [], None


def _answer(futures: list[asyncio.Future[dict[str, np.ndarray]]], results: list[Any]) -> None:
    """Complete the asyncio futures of one batch (cancelled ones are skipped); loop thread."""
    for future, value in zip(futures, results, strict=True):
        try:
            if value.__class__ is dict:
                future.set_result(value)
            else:
                future.set_exception(value)
        except asyncio.InvalidStateError:  # cancelled
            pass


def run_group(
    model: Loaded,
    execute: Callable[[Loaded, dict[str, np.ndarray]], dict[str, np.ndarray]],
    feeds: list[Any],
    max_batch: int,
    sizes: list[int],
) -> list[Any]:
    """Each request's outputs (a dict) or error, in order, merging what merges.

    The fast path checks the whole batch at once (:meth:`Loaded.merge`); when it
    does not take the requests as they are (an invalid request, different values
    of a shared input, different dimensions off the batch axis, more than
    ``max_batch`` rows), each request is checked alone and the valid ones are
    merged by signature in chunks of at most ``max_batch`` rows. ``sizes`` gets
    the requests of each runtime call.
    """
    if len(feeds) > 1 and model.batchable:
        try:
            merged, rows = model.merge(feeds)
        except Exception:
            pass
        else:
            if sum(rows) <= max_batch:
                return _run_merged(model, execute, feeds, merged, rows, sizes)
        return _run_checked(model, execute, feeds, max_batch, sizes)
    return [_run_one(model, execute, f, sizes) for f in feeds]


def _run_one(
    model: Loaded,
    execute: Callable[[Loaded, dict[str, np.ndarray]], dict[str, np.ndarray]],
    feeds: Any,
    sizes: list[int],
) -> Any:
    try:
        ready = model.prepare(feeds)
        sizes.append(1)
        return execute(model, ready)
    except Exception as exc:
        return exc


def _run_merged(
    model: Loaded,
    execute: Callable[[Loaded, dict[str, np.ndarray]], dict[str, np.ndarray]],
    feeds: list[Any],
    merged: dict[str, np.ndarray],
    rows: list[int],
    sizes: list[int],
) -> list[Any]:
    try:
        outputs = execute(model, merged)
        sizes.append(len(feeds))
        if -1 in model.out_axes:  # find the outputs' batch axes against one request alone
            alone = execute(model, model.prepare(feeds[0]))
            sizes.append(1)
            if not model.resolve_axes(alone, rows[0], outputs, sum(rows)):
                return [alone] + [_run_one(model, execute, f, sizes) for f in feeds[1:]]
        return model.split(outputs, rows)
    except Exception:
        # One bad request must not fail the others: run each on its own.
        return [_run_one(model, execute, f, sizes) for f in feeds]


def _run_checked(
    model: Loaded,
    execute: Callable[[Loaded, dict[str, np.ndarray]], dict[str, np.ndarray]],
    feeds: list[Any],
    max_batch: int,
    sizes: list[int],
) -> list[Any]:
    """:func:`run_group` one request at a time: check, group by signature, merge in chunks."""
    results: list[Any] = [None] * len(feeds)
    groups: dict[tuple[Any, ...], list[tuple[int, dict[str, np.ndarray], int]]] = {}
    for i, f in enumerate(feeds):
        try:
            ready = model.prepare(f)
            groups.setdefault(model.signature(ready), []).append((i, ready, model.rows(ready)))
        except Exception as exc:
            results[i] = exc
    for group in groups.values():
        chunks: list[list[tuple[int, dict[str, np.ndarray], int]]] = [[]]
        total = 0
        for entry in group:
            if chunks[-1] and total + entry[2] > max_batch:
                chunks.append([])
                total = 0
            chunks[-1].append(entry)
            total += entry[2]
        for chunk in chunks:
            ready_feeds = [entry[1] for entry in chunk]
            if len(chunk) == 1:
                out = [_run_one(model, execute, ready_feeds[0], sizes)]
            else:
                try:
                    merged, rows = model.merge(ready_feeds)
                except Exception:
                    out = [_run_one(model, execute, f, sizes) for f in ready_feeds]
                else:
                    out = _run_merged(model, execute, ready_feeds, merged, rows, sizes)
            for entry, value in zip(chunk, out, strict=True):
                results[entry[0]] = value
    return results


class MicroBatcher:
    """A worker thread that runs batches of at most ``max_batch`` rows.

    Thread callers (:meth:`put`): when the worker is free it takes everything
    queued (up to ``max_batch`` rows). It waits for company (at most ``max_delay``
    seconds) only while fewer rows are queued than the previous batch held. A
    lone thread request is not handed to the worker at all: the thread that
    waits for it runs it (:meth:`lead`).

    Asyncio callers (:meth:`put_async`): their event loop forms the batches. A batch
    expected to take at most ``inline_ns`` runs in the loop itself, as soon as it is
    full (or at the end of the loop iteration), while the worker is idle; a costlier
    one is handed over whole (two alternating halves under steady load, so that the
    loop's Python overlaps the runtime). A batch is checked once, as a whole, when
    it runs (:meth:`Loaded.merge`), and answered by one loop callback.

    One batch runs at a time (``_busy``), whoever runs it, so stateful models
    keep submission order.
    """

    def __init__(
        self,
        current: Callable[[], Loaded],
        execute: Callable[[Loaded, dict[str, np.ndarray]], dict[str, np.ndarray]],
        finish: Callable[[Loaded, Any, bool, dict[str, np.ndarray]], dict[str, np.ndarray]],
        record: Callable[[list[int], list[int], int], None],
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
        self._queue: deque[Request | AsyncBatch] = deque()
        self._busy = False  # a batch is running
        self._compute_ns = 0  # how long the last batch took, ns
        #: Time (ns) per request of recent batches: the least seen, rising slowly
        #: (see :meth:`_compute`). Not CPU time: reading a thread's CPU clock after a
        #: runtime call took 0.8 ms on a test machine.
        self._row_ns = 0
        #: Asyncio batches run in the caller's event loop, not the worker, while one of
        #: the loop's callers (at most ``max_batch``) is expected to take at most this
        #: long (ns, from ``_row_ns``): the loop is blocked that long.
        self.inline_ns = 5_000_000
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
        # overlaps the callers' own work.
        self.goal_divisor = 2
        # Thread callers instead wait for the whole previous batch (divisor 1): each of
        # them needs its own wake-up anyway, and full batches gave the same throughput
        # with half the p99 latency (1.2 ms vs 2.4 ms with 32 threads, 0.36 vs 0.70 ms
        # with 8, in the benchmark's MLP) and fewer runtime calls.
        self.thread_goal_divisor = 1
        self._divisor = self.goal_divisor  # the one for the callers of the last batch
        #: Per event loop: the batch it is forming and its counts (see _LoopState).
        self._loops: dict[asyncio.AbstractEventLoop, _LoopState] = {}
        self._last: _LoopState | None = None  # the loop state used last (no dict lookup)
        self._groups = 0  # AsyncBatches in the queue
        self._thread = threading.Thread(
            target=self._loop, name="edgekit-infer-batcher", daemon=True
        )
        self._thread.start()

    # -- threads ---------------------------------------------------------------------

    def put(self, request: Request) -> None:
        with self._cv:
            if self._closed:
                raise InferenceError("the engine is closed")
            self._queue.append(request)
            self._rows += request.rows
            rows = self._rows
            if rows == request.rows and self._expected == 1 and not self._busy:
                # A lone request: its caller will run it (see lead), no wake-up here.
                request.future._batcher = self
            elif self._sleeping and (
                rows == request.rows
                or rows * self._divisor >= self._expected
                or rows >= self.max_batch
            ):
                self._sleeping = False  # one wake-up is enough
                self._cv.notify()

    # -- asyncio ---------------------------------------------------------------------

    def put_async(
        self, feeds: Any, extra: tuple[Any, bool] | None
    ) -> tuple[_LoopState, asyncio.Future[dict[str, np.ndarray]]]:
        """Queue an asyncio caller's request; runs in its event loop.

        ``feeds`` are taken as given (checked with the whole batch); ``extra`` is
        (cache key, quantized) for requests whose outputs need more than slicing.
        The loop forms its batches itself. A batch expected to take at most
        ``inline_ns`` (see :meth:`_in_loop`) runs right here once it holds
        ``max_batch`` requests (:meth:`_run_here`): the callers of a full batch wait
        for it anyway, and a hand-over to the worker and back costs two thread
        wake-ups and GIL hand-overs. A costlier one is handed over whole (one lock,
        one wake-up); with ``C`` callers in flight it leaves as soon as it holds
        ``min(max_batch, C / 2)`` requests (once a batch took ``split_ns``): the
        runtime then computes it while the loop still answers and refills the
        other half, so two batches alternate and the loop's Python overlaps the
        runtime. What is left at the end of the loop iteration (a ``call_soon``
        flush, run after every task ready in that iteration) leaves then, or waits
        for company while an earlier batch of this loop is still out.
        """
        loop = asyncio.get_running_loop()
        state = self._last
        if state is None or state.loop is not loop:
            state = self._state(loop)
        future = loop.create_future()
        futures = state.futures
        if extra is not None:
            if state.extras is None:
                state.extras = {}
            state.extras[len(futures)] = extra
        futures.append(future)
        state.feeds.append(feeds)
        state.t0s.append(_now())
        state.callers += 1
        if not state.flushing:
            self._schedule(state)
        if len(futures) >= state.split:
            if state.split < self.max_batch or not self._run_here(state):
                self._hand_over(state)
            elif state.flushing is not None:
                # Ran here: the callers it answered come back after the flush already
                # scheduled, so flush after them instead (or their batch leaves split).
                state.flushing.cancel()
                state.flushing = None
        return state, future

    def _state(self, loop: asyncio.AbstractEventLoop) -> _LoopState:
        state = self._loops.get(loop)
        if state is None:
            state = self._loops[loop] = _LoopState(loop)
        self._last = state
        return state

    def returned(self, state: _LoopState) -> None:
        """The last request of a loop is back in its task: forget the loop when idle."""
        if not state.callers and not state.out and not state.futures:
            if self._loops.get(state.loop) is state:
                del self._loops[state.loop]
            if self._last is state:
                self._last = None

    def _schedule(self, state: _LoopState) -> None:
        """A flush at the end of this loop iteration; sets the iteration's batch size."""
        state.flushing = state.loop.call_soon(self._flush, state)
        callers = state.callers
        state.split = (
            min(self.max_batch, (callers + 1) // 2)
            if callers >= 4 and self._compute_ns >= self.split_ns and not self._in_loop(callers)
            else self.max_batch
        )

    def _hand_over(self, state: _LoopState) -> None:
        batch = AsyncBatch(state)
        n = len(batch.futures)
        try:
            with self._cv:
                if self._closed:
                    raise InferenceError("the engine is closed")
                self._queue.append(batch)
                self._groups += 1
                self._rows += n
                self._sleeping = False
                self._cv.notify()
        except InferenceError as exc:
            _answer(batch.futures, [exc] * n)
            return
        state.out += n

    def _flush(self, state: _LoopState) -> None:
        state.flushing = None
        n = len(state.futures)
        if not n:
            return
        if state.out and not self._closed and (state.out > n or self._in_loop(state.callers)):
            # Wait for the batch out to come back and bring company (its answer
            # flushes again), rather than send a small batch: always with fewer than
            # half the callers, and while batches run in the loop (the two then merge).
            return
        if not self._run_here(state):
            self._hand_over(state)

    def _in_loop(self, callers: int) -> bool:
        """Whether the loop runs its batches itself: they merge, and one of ``callers``
        requests (at most ``max_batch``) is expected to take at most ``inline_ns``."""
        return (
            self._row_ns * min(callers, self.max_batch) <= self.inline_ns
            and self._current().batchable
        )

    def _run_here(self, state: _LoopState) -> bool:
        """Run the loop's batch in the loop itself, if it may; False when it may not.

        It may while nothing else of this loop is out, the worker is idle and a batch
        of the loop's callers is expected to take at most ``inline_ns``
        (:meth:`_in_loop`): the callers of this batch wait for it anyway, and handing
        it to the worker and back only adds two thread wake-ups and GIL hand-overs.
        """
        if state.out or not self._in_loop(state.callers):
            return False
        with self._cv:
            if self._closed or self._busy or self._queue:
                return False
            self._busy = True
        batch = AsyncBatch(state)
        n = len(batch.futures)
        results = self._compute(batch.feeds, batch.extras, batch.t0s, in_loop=True)
        self._expected, self._divisor = n, self.goal_divisor
        self._done()
        _answer(batch.futures, results)
        return True

    def _settle_async(self, batch: AsyncBatch, results: list[Any]) -> None:
        """Runs in the batch's event loop: answers it, then flushes what waited for it."""
        state = batch.state
        state.out -= len(results)
        _answer(batch.futures, results)
        if state.futures and not state.flushing:
            self._schedule(state)  # runs after the tasks just woken
        else:
            self.returned(state)

    # -- the worker ------------------------------------------------------------------

    def close(self, timeout: float = 5.0) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _take(self) -> list[Request] | AsyncBatch | None:
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

    def _pop(self) -> list[Request] | AsyncBatch:
        """Take the next batch off the queue and mark the batcher busy; ``_cv`` held."""
        queue = self._queue
        self._busy = True
        head = queue[0]
        if head.__class__ is AsyncBatch:
            queue.popleft()
            n = len(head.futures)
            self._groups -= 1
            self._rows -= n
            self._expected, self._divisor = n, self.goal_divisor
            return head
        batch: list[Request] = []
        rows = 0
        while queue:
            request = queue[0]
            if request.__class__ is not Request or (batch and rows + request.rows > self.max_batch):
                break
            queue.popleft()
            rows += request.rows
            batch.append(request)
        self._rows -= rows
        self._expected, self._divisor = rows, self.thread_goal_divisor
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
            if batch:
                self._run(batch)

    def _run(self, batch: list[Request] | AsyncBatch) -> None:
        """Run a batch taken by :meth:`_pop`, mark the batcher free, answer its callers."""
        if batch.__class__ is AsyncBatch:
            results = self._compute(batch.feeds, batch.extras, batch.t0s)
            self._done()
            state = batch.state
            try:
                state.loop.call_soon_threadsafe(self._settle_async, batch, results)
            except RuntimeError:  # the caller's loop is closed: nobody is waiting
                self._loops.pop(state.loop, None)
                self._last = None
            return
        requests: list[Request] = batch  # type: ignore[assignment]
        if len(requests) == 1:
            self._run_lone(requests[0])
            return
        extras = {
            i: (r.key, r.quantized)
            for i, r in enumerate(requests)
            if r.key is not None or not r.quantized
        }
        results = self._compute(
            [r.feeds for r in requests], extras or None, [r.t0 for r in requests]
        )
        self._done()
        settle(
            [
                (r.future, value, None) if value.__class__ is dict else (r.future, None, value)
                for r, value in zip(requests, results, strict=True)
            ]
        )

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
        self._run(batch)

    def _run_lone(self, request: Request) -> None:
        """:meth:`_run` for one thread request, with nothing but what it needs."""
        t0 = _now()
        try:
            model = self._current()
            result = self._execute(model, request.feeds)
            if request.key is not None or not request.quantized:
                result = self._finish(model, request.key, request.quantized, result)
            error = None
        except BaseException as exc:
            result, error = None, exc
        now = _now()
        self._compute_ns = now - t0
        try:
            self._record(
                [1], [] if error is not None else [now - request.t0], int(error is not None)
            )
        except BaseException as exc:  # the engine was garbage-collected
            result, error = None, exc
        self._done()  # after recording: one batch runner at a time updates the stats
        settle_one(request.future, result, error)

    def kick(self) -> None:
        """Wake the worker for a deferred request whose caller does not wait in ``result``."""
        with self._cv:
            if self._queue and self._sleeping and not self._busy:
                self._sleeping = False
                self._cv.notify()

    def _compute(
        self, feeds: list[Any], extras: Extras | None, t0s: list[int], in_loop: bool = False
    ) -> list[Any]:
        """Each request's outputs or error (:func:`run_group`); never raises; times and records it.

        ``in_loop``: run by the event loop's thread, which holds the GIL throughout, so
        the time is the batch's own. Elsewhere it includes waiting for the GIL after
        the runtime call (up to ``sys.getswitchinterval()`` while the loop runs
        Python): it then only lowers ``_row_ns``.
        """
        t0 = _now()
        sizes: list[int] = []
        try:
            model = self._current()
            results = run_group(model, self._execute, feeds, self.max_batch, sizes)
            if extras:
                for i, (key, quantized) in extras.items():
                    value = results[i]
                    if value.__class__ is dict:
                        try:
                            results[i] = self._finish(model, key, quantized, value)
                        except Exception as exc:
                            results[i] = exc
        except BaseException as exc:  # never let the worker die
            results = [InferenceError(f"batch failed: {exc!r}")] * len(feeds)
        now = _now()
        self._compute_ns = took = now - t0
        row = took // len(feeds) or 1
        if row < self._row_ns or not self._row_ns:
            self._row_ns = row
        elif in_loop:  # rises by 1/16 a batch at most: a preempted batch does not count
            self._row_ns = min(row, self._row_ns + (self._row_ns >> 4) + 1)
        errors = sum(1 for value in results if value.__class__ is not dict)
        if errors:
            latencies = [
                now - t for t, value in zip(t0s, results, strict=True) if value.__class__ is dict
            ]
        else:
            latencies = [now - t for t in t0s]
        try:
            self._record(sizes, latencies, errors)
        except BaseException as exc:  # the engine was garbage-collected
            results = [exc] * len(feeds)
        return results
