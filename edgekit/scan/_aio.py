"""Event fan-out of the scanners and their pause from any thread (the loop-thread plumbing
is :mod:`edgekit._aio`)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, Generic, TypeVar

from edgekit.errors import ScanError

T = TypeVar("T")

#: Seconds a blocking ``pause()`` / ``resume()`` waits for the scanner's loop.
PAUSE_TIMEOUT_S = 15.0
_scheduled: set[asyncio.Task[None]] = set()


def run_on_loop(
    loop: asyncio.AbstractEventLoop | None,
    factory: Callable[[], Coroutine[Any, Any, None]],
    what: str,
) -> None:
    """Run the coroutine ``factory()`` on a scanner's ``loop`` from any thread.

    From another thread it waits for it (at most :data:`PAUSE_TIMEOUT_S` seconds); on the
    loop's own thread it schedules it and returns; with no running loop (the scanner is
    not started) it does nothing.

    Raises:
        ScanError: ``what`` did not finish in time.
    """
    if loop is None or loop.is_closed() or not loop.is_running():
        return
    try:
        here: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        here = None
    if here is loop:
        task = loop.create_task(factory())
        _scheduled.add(task)
        task.add_done_callback(_scheduled.discard)
        return
    future = asyncio.run_coroutine_threadsafe(factory(), loop)
    try:
        future.result(PAUSE_TIMEOUT_S)
    except concurrent.futures.TimeoutError as exc:
        future.cancel()
        raise ScanError(f"{what} did not finish in {PAUSE_TIMEOUT_S:.0f} s") from exc


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
