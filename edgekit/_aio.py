"""The loop-thread plumbing behind every blocking front of an async core.

edgekit's rule (``docs/development.md``): a coroutine method's name starts with
``async_``; every other public method blocks and is safe to call from any thread,
including a Jupyter cell, whose thread already runs an event loop that must never
be re-entered. The blocking fronts use the three helpers here:

- :func:`run_sync`: run one coroutine to completion (``scan()``, ``sync_now()``);
- :func:`call_in_thread`: run a blocking call that must not run on a thread with
  a running loop (zeroconf's blocking API refuses to);
- :class:`LoopThread`: a private event loop in a daemon thread, for an engine that
  keeps running in the background (``SyncEngine.start()``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["LoopThread", "call_in_thread", "run_sync"]

T = TypeVar("T")


def _in_running_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def call_in_thread(fn: Callable[[], T], *, name: str = "edgekit") -> T:
    """``fn()`` in a helper thread (its exception re-raised here); waits for it."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = fn()
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    result: T = box["result"]
    return result


def run_sync(factory: Callable[[], Coroutine[Any, Any, T]], *, name: str = "edgekit") -> T:
    """Run ``factory()`` to completion and return its result.

    Without a running loop in this thread it uses :func:`asyncio.run`; with one (a
    notebook) it runs the coroutine on a private loop in a helper thread and waits,
    so the caller's loop is never re-entered.
    """
    if not _in_running_loop():
        return asyncio.run(factory())
    return call_in_thread(lambda: asyncio.run(factory()), name=name)


async def _cancel_others() -> None:
    """Cancel every other task of the running loop and wait for them to finish."""
    current = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not current]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


class LoopThread:
    """A private event loop running in a daemon thread until :meth:`stop`."""

    def __init__(self, name: str = "edgekit") -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._main, name=name, daemon=True)
        self.thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coro`` on the loop; the future resolves with its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def stop(self, timeout: float = 5.0) -> None:
        """Cancel the loop's tasks, stop it and join the thread (``timeout`` s each)."""
        if self.loop.is_running():
            with contextlib.suppress(Exception):
                self.submit(_cancel_others()).result(timeout)
            self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=timeout)
        if not self.loop.is_running():
            self.loop.close()
