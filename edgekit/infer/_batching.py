"""Micro-batching: requests from many callers merged into one runtime call."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import numpy as np

from edgekit.errors import EdgekitError, InferenceError
from edgekit.infer._loaded import Loaded


class Request:
    __slots__ = ("feeds", "future", "key", "quantized", "rows", "t0")

    def __init__(
        self, feeds: dict[str, np.ndarray], rows: int, key: Any, quantized: bool, t0: int
    ) -> None:
        self.feeds = feeds
        self.rows = rows
        self.key = key
        self.quantized = quantized
        self.t0 = t0
        self.future: Future[dict[str, np.ndarray]] = Future()


def _settle(future: Future[Any], value: Any = None, error: BaseException | None = None) -> None:
    if future.done():  # cancelled by the caller
        return
    try:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)
    except Exception:
        return


class MicroBatcher:
    """A worker thread that merges queued requests into batches of at most ``max_batch`` rows.

    The first request of a batch waits at most ``max_delay`` seconds for company.
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
        self._rows = 0
        self._cv = threading.Condition(threading.Lock())
        self._closed = False
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
            if len(self._queue) == 1 or self._rows >= self.max_batch:
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
            deadline = time.monotonic() + self.max_delay
            while self._rows < self.max_batch and not self._closed:
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
            return batch

    def _loop(self) -> None:
        while True:
            batch = self._take()
            if batch is None:
                return
            try:
                self._process(batch)
            except BaseException as exc:
                for request in batch:
                    _settle(request.future, error=InferenceError(f"batch failed: {exc!r}"))

    def _process(self, batch: list[Request]) -> None:
        model = self._current()
        if not model.batchable or len(batch) == 1:
            for request in batch:
                self._single(model, request)
            return
        groups: dict[tuple[Any, ...], list[Request]] = {}
        for request in batch:
            signature = tuple(a.shape[1:] for a in request.feeds.values())
            groups.setdefault(signature, []).append(request)
        for group in groups.values():
            if len(group) == 1:
                self._single(model, group[0])
            else:
                self._merged(model, group)

    def _single(self, model: Loaded, request: Request) -> None:
        try:
            outputs = self._execute(model, request.feeds)
            result = self._finish(model, request, outputs)
        except BaseException as exc:
            self._record(1, [])
            _settle(request.future, error=exc)
            return
        self._record(1, [time.perf_counter_ns() - request.t0])
        _settle(request.future, result)

    def _merged(self, model: Loaded, group: list[Request]) -> None:
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
                self._single(model, request)
            return
        start = 0
        done: list[tuple[Request, dict[str, np.ndarray]]] = []
        for request in group:
            stop = start + request.rows
            part = {name: out[start:stop] for name, out in outputs.items()}
            start = stop
            try:
                done.append((request, self._finish(model, request, part)))
            except BaseException as exc:
                _settle(request.future, error=exc)
        now = time.perf_counter_ns()
        self._record(len(group), [now - r.t0 for r, _ in done])
        for request, result in done:
            _settle(request.future, result)
