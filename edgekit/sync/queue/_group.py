"""Group commit: under ``durability="power"``, concurrent puts share one commit (one fsync).

The first thread to arrive leads: it waits briefly for the next puts of the threads of
the previous commit (at most half a commit's time, and ``delay``; not at all when its
thread is the only one putting), commits everything waiting in one transaction, then
hands the lead to a thread that arrived meanwhile. With T threads putting, a commit
carries up to T puts. A thread that puts alone takes the fast path (its own commit).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from edgekit.errors import InvalidInputError, QueueFullError

__all__ = ["GroupCommit", "Item"]

# A validated put: (payload, topic, priority, key, headers).
Item = tuple[bytes, bytes, int, bytes, "dict[str, str] | None"]


class _PutRequest:
    """One thread's puts waiting for a group commit."""

    __slots__ = ("error", "ident", "items", "lead", "result", "waiter")

    def __init__(self, items: list[Item]):
        self.items = items
        self.ident = threading.get_ident()
        self.result: list[int] | None = None
        self.error: BaseException | None = None
        self.lead = False
        # Held until the request is done or leads: a bare lock wakes its waiter
        # with less work than an Event.
        self.waiter = threading.Lock()
        self.waiter.acquire()

    def wait(self) -> None:
        self.waiter.acquire()

    def wake(self) -> None:
        self.waiter.release()


class GroupCommit:
    """The puts of several threads, committed together.

    Args:
        write: ``write(items, deferrable)`` commits ``items`` in one transaction and
            returns their ids.
        delay: The longest a leader waits for other threads' puts, in seconds.

    Attributes:
        commits: Commits led (one fsync each), since creation.
        puts: Puts those commits carried.
    """

    def __init__(self, write: Callable[[list[Item], bool], list[int]], delay: float) -> None:
        self._write = write
        self.delay = float(delay)
        self.max_puts = 256
        self.commits = 0
        self.puts = 0
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._last_threads: set[int] = set()  # the threads of the last group commit
        self._want = 1 << 30  # puts the waiting leader waits for
        self._commit_s = 0.0
        self._return_s = 0.0  # (average) from a commit to its threads' next puts
        self._released = 0.0  # when the last group commit released its threads
        self._pending: list[_PutRequest] = []
        self._leader = False

    def put_alone(self, fast: Callable[[bytes, bytes, int], int], item: Item) -> int:
        """One put: alone, ``fast`` (its commit is the fsync); with other threads
        putting, a group commit."""
        ident = threading.get_ident()
        with self._lock:
            alone = (
                not self._leader
                and not self._pending
                and (not self._last_threads or self._last_threads == {ident})
            )
            if alone:
                self._leader = True
        if not alone:
            return self.put([item])[0]
        try:
            seq = fast(item[0], item[1], item[2])
        finally:
            with self._lock:
                self.commits += 1
                self.puts += 1
                self._last_threads = {ident}
                if self._pending:  # others came meanwhile: the first of them leads
                    successor = self._pending[0]
                    successor.lead = True
                    successor.wake()
                else:
                    self._leader = False
        return seq

    def put(self, items: list[Item]) -> list[int]:
        """Commit ``items`` together with other threads' waiting puts; returns their ids."""
        request = _PutRequest(items)
        with self._lock:
            if request.ident in self._last_threads:
                # How long threads take to come back after their commit, for the wait.
                back = time.monotonic() - self._released
                self._return_s = 0.9 * self._return_s + 0.1 * back
            self._pending.append(request)
            if len(self._pending) >= self._want:
                self._cond.notify()
            if not self._leader:
                self._leader = True
                request.lead = True
        if not request.lead:
            request.wait()
        if request.lead and request.result is None and request.error is None:
            self._lead()
        if request.error is not None:
            raise request.error
        assert request.result is not None
        return request.result

    def _lead(self) -> None:
        with self._cond:
            now = time.monotonic()
            # The threads of the last commit are coming back with their next put
            # (those still putting): wait for them, and for those waiting already.
            expected = self._last_threads.union(r.ident for r in self._pending)
            if self.delay > 0 and len(expected) > 1:
                want = min(len(expected), self.max_puts)
                # A thread released by the last commit needs a moment to come back:
                # wait a few times the usual (bounded by a commit's time).
                window = min(self.delay, self._commit_s, max(3 * self._return_s, 5e-5))
                end = now + window
                self._want = want  # (arrivals wake the leader only at this count)
                while len(self._pending) < want:
                    left = end - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                self._want = 1 << 30
            batch, self._pending = self._pending, []
            if batch:
                self._last_threads = {r.ident for r in batch}
                self.commits += 1
                self.puts += len(batch)
        if batch:
            flat = [item for req in batch for item in req.items]
            try:
                started = time.monotonic()
                ids = self._write(flat, True)
                self._commit_s = 0.8 * self._commit_s + 0.2 * (time.monotonic() - started)
                offset = 0
                for req in batch:
                    req.result = ids[offset : offset + len(req.items)]
                    offset += len(req.items)
            except (QueueFullError, InvalidInputError):
                # Commit the requests one by one so that only those that do not fit fail.
                for req in batch:
                    try:
                        req.result = self._write(req.items, False)
                    except BaseException as exc:
                        req.error = exc
            except BaseException as exc:
                for req in batch:
                    req.error = exc
            self._released = time.monotonic()
            for req in batch:
                if not req.lead:
                    req.wake()
        with self._lock:
            if self._pending:
                successor = self._pending[0]
                successor.lead = True
                successor.wake()
            else:
                self._leader = False
