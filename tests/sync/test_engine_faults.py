"""SyncEngine survives errors from its queue and transport: a full disk, a failing lease."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from edgekit.errors import QueueFullError
from edgekit.sync import Backoff, MemoryTransport, SyncEngine, SyncQueue
from edgekit.sync.queue import _store

_FAST = Backoff(initial=0.01, maximum=0.1)


def _wait_for(what: Callable[[], bool], timeout: float = 30.0) -> bool:
    """Poll ``what`` until it holds or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while not what():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _fill_map(q: SyncQueue) -> int:
    """Put 300-byte messages until the queue is full or its map has fewer than 3 free
    pages; returns how many."""
    env = q._store.env
    n = 0
    while True:
        used = (int(env.info()["last_pgno"]) + 1) * int(env.stat()["psize"])
        if q.stats().map_size_bytes - used < 3 * 4096:
            return n
        try:
            q.put(os.urandom(300))
        except QueueFullError:
            return n
        n += 1


def _fill_disk(path: Path) -> None:
    """Write ``path`` until the disk is full."""
    with path.open("wb", buffering=0) as f:
        while True:
            try:
                f.write(b"\0" * 4096)
            except OSError:
                return


def test_the_engine_outlives_a_full_disk_and_drains_once_space_is_freed(
    small_disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A map with no room left on a full disk (puts without the reserve: an older
    edgekit's): leases fail. Before, QueueFullError escaped the loop: running=False, no
    last_error, and the backlog stayed forever after the space came back."""
    with SyncQueue(small_disk / "q", compression=None) as q:
        with monkeypatch.context() as m:
            m.setattr(_store, "MAP_RESERVE", 0)
            n = _fill_map(q)
        _fill_disk(small_disk / "other")
        with pytest.raises(QueueFullError):
            q.lease(1)
        transport = MemoryTransport()
        engine = SyncEngine(q, transport, reconnect=_FAST)
        try:
            engine.start()
            assert _wait_for(lambda: engine.status().errors >= 3)
            status = engine.status()
            assert status.running and status.backlog == n
            assert isinstance(status.last_error, str) and "cannot grow" in status.last_error
            (small_disk / "other").unlink()
            assert _wait_for(lambda: len(q) == 0), engine.status()
            assert engine.status().running
        finally:
            engine.stop()
        assert len(transport.delivered) == n


def test_leases_and_acks_run_on_a_disk_full_of_puts_and_of_another_file(
    small_disk: Path,
) -> None:
    """Puts leave MAP_RESERVE of the map free: the engine drains a queue whose puts
    filled the disk, after another file took the rest of it."""
    with SyncQueue(small_disk / "q", compression=None) as q:
        n = _fill_map(q)
        _fill_disk(small_disk / "other")
        transport = MemoryTransport()
        with SyncEngine(q, transport, reconnect=_FAST) as engine:
            assert engine.sync_now(30) == n
            assert engine.status().errors == 0
        q.put(b"room again")  # the acks freed map pages
        assert len(q) == 1


def test_the_loop_records_errors_backs_off_and_resumes(
    queue: SyncQueue, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    for i in range(100):
        queue.put(b"%d" % i)
    faults: list[Exception] = [QueueFullError("the disk is full"), RuntimeError("a bug")]
    lease = queue.lease

    def failing_lease(*args: object, **kwargs: object) -> object:
        if faults:
            raise faults.pop(0)
        return lease(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(queue, "lease", failing_lease)
    transport = MemoryTransport()
    caplog.set_level(logging.WARNING, logger="edgekit.sync")
    with SyncEngine(queue, transport, reconnect=_FAST) as engine:
        engine.start()
        assert _wait_for(lambda: len(queue) == 0), engine.status()
        status = engine.status()
    assert status.running and status.errors == 2
    assert status.last_error == "RuntimeError('a bug')"
    assert [int(m.payload) for m in transport.delivered] == list(range(100))
    logged = [r for r in caplog.records if r.name == "edgekit.sync"]
    assert "the disk is full" in logged[0].getMessage()
    assert logged[1].exc_info is not None  # an unexpected error logs its traceback


def test_sync_now_raises_the_queue_error(queue: SyncQueue, monkeypatch: pytest.MonkeyPatch) -> None:
    """A queue that cannot lease is a QueueError (QueueFullError here) from sync_now,
    not a TransportError: the transport is fine."""
    queue.put(b"kept")

    def full(*args: object, **kwargs: object) -> object:
        raise QueueFullError("the disk is full")

    monkeypatch.setattr(queue, "lease", full)
    with SyncEngine(queue, MemoryTransport()) as engine:
        with pytest.raises(QueueFullError, match="the disk is full"):
            engine.sync_now(5)
        assert engine.status().last_error == "the disk is full"
    monkeypatch.undo()
    assert len(queue) == 1
