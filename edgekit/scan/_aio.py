"""Event fan-out of the scanners (the loop-thread plumbing is :mod:`edgekit._aio`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Generic, TypeVar

T = TypeVar("T")


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
