"""The ready index (runs of ids per topic and priority) and the timers index.

``ready`` maps the key of the first id of a run of consecutive ready ids of one topic
and priority (``_layout.ready_key``) to the run's last id (empty: a run of one).
Leasing reads a topic's first keys: higher priority first, FIFO within it, in
O(batch) however long the backlog.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator
from typing import Any

from edgekit.sync.queue._layout import READY_ORDER, U64, ready_end, ready_prefix, timer_key

__all__ = [
    "add_ready",
    "add_run",
    "drop_timer",
    "lowest_priority_ready",
    "ready_keys",
    "remove_ready",
    "topics",
]

_U64_PACK = U64.pack
_U64_UNPACK = U64.unpack
_U64_UNPACK_FROM = U64.unpack_from


def topics(txn: Any, db: Any) -> list[bytes]:
    """The keys of ``db`` (the topics of the ``topics`` database)."""
    return [bytes(k) for k in txn.cursor(db).iternext(keys=True, values=False)]


def add_ready(txn: Any, ready_db: Any, keys: list[bytes]) -> None:
    """Index ready messages given by their ready keys (sorted), as runs of ids."""
    if not keys:
        return
    cursor = txn.cursor(ready_db)
    unpack_from, ksize = _U64_UNPACK_FROM, len(keys[0])
    head = keys[0][:-8]
    first = last = unpack_from(keys[0], ksize - 8)[0]
    end = keys[-1]
    if end.startswith(head) and len(end) == ksize:
        # Sorted and distinct: one topic and priority throughout; one run if the
        # ids follow each other (consecutive puts).
        seq = unpack_from(end, ksize - 8)[0]
        if seq - first == len(keys) - 1:
            add_run(cursor, head, first, seq)
            return
    for key in itertools.islice(keys, 1, None):
        seq = unpack_from(key, len(key) - 8)[0]
        if seq == last + 1 and key.startswith(head) and len(key) == ksize:
            last = seq
            continue
        add_run(cursor, head, first, last)
        head, ksize = key[:-8], len(key)
        first = last = seq
    add_run(cursor, head, first, last)


def add_run(cursor: Any, head: bytes, first: int, last: int) -> None:
    """Index ids ``first``..``last`` of one topic and priority (``head``: their ready
    key without the id): the run before them grows when it ends just before ``first``."""
    key = head + _U64_PACK(first)
    found = cursor.set_range(key)
    if found and cursor.key() == key:
        # Indexed already (cannot happen: each message is added once per time it
        # becomes ready): keep one run covering both.
        value = cursor.value()
        if (_U64_UNPACK(value)[0] if value else first) < last:
            cursor.put(key, _U64_PACK(last), True, True)
        return
    if cursor.prev() if found else cursor.last():
        before = cursor.key()
        if len(before) == len(key) and before.startswith(head):
            value = cursor.value()
            start = _U64_UNPACK_FROM(before, len(before) - 8)[0]
            end = _U64_UNPACK(value)[0] if value else start
            if end == first - 1:
                cursor.put(before, _U64_PACK(last), True, True)
                return
    cursor.put(key, _U64_PACK(last) if last > first else b"", True, True)


def remove_ready(txn: Any, ready_db: Any, keys: list[bytes]) -> None:
    """Take messages (given by their ready keys) out of the ready index's runs."""
    if not keys:
        return
    keys = sorted(keys)
    cursor = txn.cursor(ready_db)
    put = cursor.put
    unpack_from, pack = _U64_UNPACK_FROM, _U64_PACK
    i, n = 0, len(keys)
    while i < n:
        key = keys[i]
        ksize = len(key)
        head = key[:-8]
        seq = unpack_from(key, ksize - 8)[0]
        found = cursor.set_range(key)
        # Unless a run starts at it, the run that holds it starts before (if any).
        if not (found and cursor.key() == key) and not (cursor.prev() if found else cursor.last()):
            i += 1
            continue
        start_key = cursor.key()
        if len(start_key) != ksize or not start_key.startswith(head):
            i += 1
            continue
        value = cursor.value()
        first = unpack_from(start_key, ksize - 8)[0]
        last = _U64_UNPACK(value)[0] if value else first
        if seq > last:
            i += 1  # not indexed
            continue
        if i == 0 and seq == first:
            end = keys[-1]
            if end.startswith(head) and len(end) == ksize:
                end_seq = unpack_from(end, ksize - 8)[0]
                if end_seq - seq == n - 1 and end_seq <= last:
                    # The first n ids of this run (a lease's usual batch).
                    cursor.delete()
                    if end_seq < last:
                        put(head + pack(end_seq + 1), pack(last) if last > end_seq + 1 else b"")
                    return
        # Every key of this run in the list (sorted: they follow each other).
        gone = [seq]
        i += 1
        while i < n:
            other = keys[i]
            if len(other) != ksize or not other.startswith(head):
                break
            s = unpack_from(other, ksize - 8)[0]
            if s > last:
                break
            gone.append(s)
            i += 1
        cursor.delete()
        start = first
        for s in gone:
            if s > start:
                put(head + pack(start), pack(s - 1) if s - 1 > start else b"", True, True)
            start = s + 1
        if start <= last:
            put(head + pack(start), pack(last) if last > start else b"", True, True)


def ready_keys(
    txn: Any, ready_db: Any, topics_db: Any, topic: str | None, limit: int
) -> tuple[list[bytes], bool]:
    """The first ``limit`` ready keys in lease order, and whether they are consecutive
    in the ready index (one topic)."""
    if topic is None:
        names = topics(txn, topics_db)
        if not names:
            return [], True
        if len(names) > 1:

            def walk(prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
                cursor = txn.cursor(ready_db)
                if not cursor.set_range(prefix):
                    return
                for key, value in cursor.iternext():
                    if not key.startswith(prefix) or len(key) != len(prefix) + READY_ORDER:
                        return
                    head = key[:-8]
                    first = _U64_UNPACK_FROM(key, len(key) - 8)[0]
                    last = _U64_UNPACK(value)[0] if value else first
                    for seq in range(first, last + 1):
                        one = head + _U64_PACK(seq)
                        yield one[-READY_ORDER:], one

            merged = heapq.merge(*[walk(ready_prefix(t)) for t in names])
            return [key for _, key in itertools.islice(merged, limit)], False
        tbytes = names[0]
    else:
        tbytes = topic.encode()
    cursor = txn.cursor(ready_db)
    if not cursor.set_range(ready_prefix(tbytes)):
        return [], True
    # A topic's runs are contiguous (topics hold no NUL), up to the next topic's.
    end = ready_end(tbytes)
    out: list[bytes] = []
    for key, value in cursor.iternext():
        if key >= end:
            break
        first = _U64_UNPACK_FROM(key, len(key) - 8)[0]
        count = _U64_UNPACK(value)[0] - first + 1 if value else 1
        out.extend(map(key[:-8].__add__, map(_U64_PACK, range(first, first + min(count, limit)))))
        limit -= count
        if limit <= 0:
            break
    return out, True


def lowest_priority_ready(txn: Any, ready_db: Any, topics_db: Any) -> int | None:
    """The oldest ready message of the lowest priority (of every topic), or None."""
    best: tuple[bytes, int] | None = None
    cursor = txn.cursor(ready_db)
    for topic in topics(txn, topics_db):
        prefix = ready_prefix(topic)
        if cursor.set_range(ready_end(topic)):
            if not cursor.prev():
                continue
        elif not cursor.last():
            continue
        key = cursor.key()
        if not key.startswith(prefix) or len(key) != len(prefix) + READY_ORDER:
            continue
        prio_bytes = key[len(prefix) : len(prefix) + 2]
        cursor.set_range(prefix + prio_bytes)
        first = cursor.key()
        candidate = (prio_bytes, -_U64_UNPACK_FROM(first, len(first) - 8)[0])
        if best is None or candidate > best:
            best = candidate
    return None if best is None else -best[1]


def drop_timer(txn: Any, timers_db: Any, deadline: int, seq: int) -> None:
    """Delete the timers entry of message ``seq`` alone (not a lease's of several)."""
    tkey = timer_key(deadline, seq)
    value = txn.get(tkey, None, timers_db)
    if value is not None and len(value) <= 8:
        txn.delete(tkey, None, timers_db)
