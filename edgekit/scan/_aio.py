"""Asyncio helpers of the scanners: a sync front safe inside Jupyter, and event fan-out."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, Generic, TypeVar

T = TypeVar("T")


def run_sync(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``factory()`` to completion and return its result.

    Without a running loop in this thread it uses :func:`asyncio.run`; with one
    (a notebook), it runs the coroutine on a private loop in a helper thread and
    waits for it, so the caller's loop is never re-entered.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = asyncio.run(factory())
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="edgekit-scan", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    result: T = box["result"]
    return result


class Fanout(Generic[T]):
    """Hands each published item to every live subscriber (bounded; a full one drops)."""

    def __init__(self, maxsize: int = 10_000) -> None:
        self._maxsize = maxsize
        self._queues: list[asyncio.Queue[T]] = []

    def publish(self, item: T) -> None:
        """Queue ``item`` for every subscriber; one that lags ``maxsize`` items misses it."""
        for queue in self._queues:
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(item)

    async def subscribe(self) -> AsyncIterator[T]:
        """Iterate over the items published from now on."""
        queue: asyncio.Queue[T] = asyncio.Queue(maxsize=self._maxsize)
        self._queues.append(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._queues.remove(queue)
