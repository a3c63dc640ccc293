"""The write transaction and the counters it keeps: :class:`Tally`, :class:`Txn`.

The counters (per state, bytes, evictions, last id) and the per-topic totals live in
the ``meta`` and ``topics`` databases. Puts do not write them at every commit: a put
that appends a message to a topic with stored totals leaves them behind, up to
``FLUSH_EVERY`` puts. Every message with an id above the stored counters' last id is
such a put, and no other change came after it (any other write brings the stored
counters up to date), so a reader counts that tail of the records (:func:`count_tail`).

This process keeps the exact counters of its last committed write in memory (a
:class:`Tally`, with the LMDB id of that transaction): when the next write
transaction's id follows it, no other writer (thread or process) came in between and
the stored values are known without reading them. Every put, fast or general, is
noted in a Tally by :meth:`Tally.note_put`.
"""

from __future__ import annotations

from typing import Any

from edgekit.sync.queue import _index
from edgekit.sync.queue._layout import (
    C_BYTES,
    C_READY,
    C_SEQ,
    COUNTERS,
    DEAD,
    HEADER_SIZE,
    PRIORITY_TOPIC_VIEW,
    READY,
    STATE_AT,
    STATE_COUNTER,
    TWO_U64,
    U64,
    Dbs,
    ready_head,
    seq_key,
)

__all__ = ["FLUSH_EVERY", "Tally", "Txn", "count_tail", "write_totals"]

# Puts may leave the stored counters and topic totals behind by at most this many
# messages; a transaction that finds them behind counts the tail of the records.
FLUSH_EVERY = 256

_U64_PACK = U64.pack
_TWO_U64_PACK = TWO_U64.pack
_COUNTERS_PACK = COUNTERS.pack


class Tally:
    """Exact counters, and what of them the stored ones lack, as of write ``txn_id``.

    Attributes:
        txn_id: The LMDB id of the write transaction they are as of.
        counters: The exact counters (see ``_layout.COUNTERS``).
        known: Stored topic totals (count, bytes) of some topics, or None when unknown.
        pending: Per topic [count, bytes] of the puts not in the stored totals.
        ready: Ready-index keys of those puts, not written yet.
        unflushed: Puts not in the stored counters.
    """

    __slots__ = (
        "counters",
        "known",
        "pending",
        "ready",
        "run_bytes",
        "run_first",
        "run_n",
        "run_priority",
        "run_topic",
        "txn_id",
        "unflushed",
    )

    def __init__(
        self,
        txn_id: int,
        counters: list[int],
        known: dict[bytes, tuple[int, int]] | None,
        pending: dict[bytes, list[int]] | None = None,
        ready: list[bytes] | None = None,
        unflushed: int = 0,
    ) -> None:
        self.txn_id = txn_id
        self.counters = counters
        self.known = known
        self.pending: dict[bytes, list[int]] = {} if pending is None else pending
        self.ready: list[bytes] = [] if ready is None else ready
        self.unflushed = unflushed
        # The latest puts, when of one topic and priority with consecutive ids:
        # ``run_n`` ids from ``run_first``, ``run_bytes`` bytes, not yet in pending
        # and ready (see materialize).
        self.run_topic: bytes | None = None
        self.run_priority = 0
        self.run_first = 0
        self.run_n = 0
        self.run_bytes = 0

    def note_put(self, topic: bytes, priority: int, seq: int, size: int) -> None:
        """Count a put of ``size`` stored bytes as message ``seq`` (the last id)."""
        counters = self.counters
        counters[C_SEQ] = seq
        counters[C_READY] += 1
        counters[C_BYTES] += size
        self.unflushed += 1
        if (
            topic == self.run_topic
            and priority == self.run_priority
            and seq == self.run_first + self.run_n
        ):
            self.run_n += 1
            self.run_bytes += size
        else:
            self.materialize()
            self.run_topic = topic
            self.run_priority = priority
            self.run_first = seq
            self.run_n = 1
            self.run_bytes = size

    def note_batch(self, topic: bytes, last: int, count: int, nbytes: int) -> None:
        """Count ``count`` puts of ``nbytes`` stored bytes up to id ``last``, whose ready
        keys and totals the caller writes (put_many)."""
        counters = self.counters
        counters[C_SEQ] = last
        counters[C_READY] += count
        counters[C_BYTES] += nbytes
        self.topic_add(topic, count, nbytes)

    def topic_add(self, topic: bytes, count: int, nbytes: int) -> None:
        """Add ``count`` messages and ``nbytes`` bytes to ``topic``'s pending totals."""
        delta = self.pending.get(topic)
        if delta is None:
            self.pending[topic] = [count, nbytes]
        else:
            delta[0] += count
            delta[1] += nbytes

    def materialize(self) -> None:
        """Move the run of puts into ``pending`` and ``ready``."""
        topic = self.run_topic
        if topic is None:
            return
        self.run_topic = None
        head = ready_head(topic, self.run_priority)
        first = self.run_first
        self.ready.extend(map(head.__add__, map(_U64_PACK, range(first, first + self.run_n))))
        self.topic_add(topic, self.run_n, self.run_bytes)

    def copy(self) -> Tally:
        """An independent copy (``known`` is shared: it caches what is stored)."""
        self.materialize()
        return Tally(
            self.txn_id,
            self.counters.copy(),
            self.known,
            {t: v.copy() for t, v in self.pending.items()},
            self.ready.copy(),
            self.unflushed,
        )

    def take_ready(self) -> list[bytes]:
        """The ready keys not written yet, sorted; they are written by the caller."""
        self.materialize()
        keys, self.ready = self.ready, []
        keys.sort()
        return keys


def write_totals(
    txn: Any,
    topics_db: Any,
    deltas: dict[bytes, list[int]],
    known: dict[bytes, tuple[int, int]] | None,
) -> dict[bytes, tuple[int, int]]:
    """Add ``deltas`` to the stored topic totals; returns the new stored totals."""
    written: dict[bytes, tuple[int, int]] = {}
    for topic, (count, nbytes) in deltas.items():
        if count == 0 and nbytes == 0:
            continue
        old = known.get(topic) if known is not None else None
        if old is None:
            raw = txn.get(topic, None, topics_db)
            old = TWO_U64.unpack(raw) if raw else (0, 0)
        new_n, new_b = old[0] + count, max(old[1] + nbytes, 0)
        if new_n <= 0:
            txn.delete(topic, None, topics_db)
            written[topic] = (0, 0)
        else:
            txn.put(topic, _TWO_U64_PACK(new_n, new_b), True, True, False, topics_db)
            written[topic] = (new_n, new_b)
    return written


def count_tail(
    txn: Any,
    msgs_db: Any,
    counters: list[int],
    topic_delta: dict[bytes, list[int]],
    ready_keys: list[bytes] | None = None,
) -> int:
    """Add the messages stored after the counters' last id to ``counters`` and
    ``topic_delta`` (their ready-index keys to ``ready_keys``); returns how many."""
    cursor = txn.cursor(msgs_db)
    if not cursor.set_range(seq_key(counters[C_SEQ] + 1)):
        return 0
    n = 0
    last = b""
    hsize, state_at = HEADER_SIZE, STATE_AT
    view = PRIORITY_TOPIC_VIEW.unpack_from
    for key, record in cursor.iternext():
        n += 1
        last = key
        size = len(record)
        counters[C_BYTES] += size
        state = record[state_at] if size >= hsize else -1
        counters[STATE_COUNTER.get(state, C_READY)] += 1
        if state >= 0 and state != DEAD:
            prio, tlen = view(record)
            topic = bytes(record[hsize : hsize + tlen])
            if ready_keys is not None and state == READY:
                ready_keys.append(ready_head(topic, prio) + key[1:])
            delta = topic_delta.get(topic)
            if delta is None:
                topic_delta[topic] = [1, size]
            else:
                delta[0] += 1
                delta[1] += size
    if n:
        counters[C_SEQ] = U64.unpack_from(last, 1)[0]
    return n


def read_counters(
    txn: Any,
    dbs: Dbs,
    topic_delta: dict[bytes, list[int]] | None = None,
    ready_keys: list[bytes] | None = None,
) -> list[int]:
    """The exact counters: the stored ones plus the puts not yet counted."""
    raw = txn.get(b"counters", None, dbs.meta)
    counters = list(COUNTERS.unpack(raw)) if raw else [0] * 8
    count_tail(txn, dbs.msgs, counters, {} if topic_delta is None else topic_delta, ready_keys)
    return counters


class Txn:
    """One write transaction: the LMDB txn plus its :class:`Tally`, written at the end.

    Attributes:
        txn: The LMDB write transaction.
        tally: The exact counters and what the stored ones lack.
        counters: ``tally.counters``.
        deferrable: A put transaction: leaves the uncounted puts' ready keys unwritten
            if it can.
        defer: Set by a put that may leave the stored counters behind.
    """

    __slots__ = ("counters", "dbs", "defer", "deferrable", "tally", "txn")

    def __init__(self, txn: Any, dbs: Dbs, committed: Tally | None, deferrable: bool) -> None:
        self.txn = txn
        self.dbs = dbs
        self.defer = False
        self.deferrable = deferrable
        txn_id = txn.id()
        if committed is not None and committed.txn_id == txn_id - 1:
            tally = committed.copy()
        else:
            raw = txn.get(b"counters", None, dbs.meta)
            tally = Tally(txn_id, list(COUNTERS.unpack(raw)) if raw else [0] * 8, None)
            tally.unflushed = count_tail(txn, dbs.msgs, tally.counters, tally.pending, tally.ready)
        tally.txn_id = txn_id
        self.tally = tally
        self.counters = tally.counters
        if not deferrable:
            self.put_ready()

    def put_ready(self) -> None:
        """Write the ready-index keys of the uncounted puts (before reading that index)."""
        if self.tally.ready or self.tally.run_topic is not None:
            _index.add_ready(self.txn, self.dbs.ready, self.tally.take_ready())

    def next_seq(self) -> int:
        self.counters[C_SEQ] += 1
        return self.counters[C_SEQ]

    def topic_add(self, topic: bytes, count: int, nbytes: int) -> None:
        self.tally.topic_add(topic, count, nbytes)

    def flush(self) -> dict[bytes, tuple[int, int]] | None:
        """Write the counters and topic totals (None: left behind, see the module doc);
        returns the new stored totals of the topics touched."""
        tally = self.tally
        if self.defer and tally.unflushed < FLUSH_EVERY:
            return None
        self.put_ready()
        self.txn.put(b"counters", _COUNTERS_PACK(*self.counters), True, True, False, self.dbs.meta)
        return write_totals(self.txn, self.dbs.topics, tally.pending, tally.known)

    def committed(self, written: dict[bytes, tuple[int, int]] | None) -> Tally:
        """What this (now committed) transaction leaves for the next one."""
        tally = self.tally
        known = tally.known
        if written is None:  # deferred: known is set (see _puts.put_items)
            assert known is not None
            return tally
        if known is None:
            known = written
        else:
            known.update(written)
            if len(known) > 4096:
                known = written
        return Tally(tally.txn_id, self.counters, known)
