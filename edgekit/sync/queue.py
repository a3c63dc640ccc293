"""SyncQueue: a durable, bounded, multi-process store-and-forward queue on LMDB."""

from __future__ import annotations

import contextlib
import functools
import heapq
import html
import itertools
import json
import os
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from edgekit.errors import (
    CorruptDataError,
    InvalidInputError,
    QueueError,
    QueueFullError,
)
from edgekit.sync import _record as R
from edgekit.sync._mapfile import MapFile
from edgekit.sync.backoff import Backoff

__all__ = ["Message", "QueueStats", "SyncQueue"]

T = TypeVar("T")

Durability = Literal["process", "power"]
Eviction = Literal["reject", "drop_oldest", "drop_lowest_priority"]

# ready, delayed, inflight, dead, bytes, evicted, evicted_bytes, last seq
_COUNTERS = struct.Struct(">QQQQQQQQ")
_C_READY, _C_DELAYED, _C_INFLIGHT, _C_DEAD, _C_BYTES, _C_EVICTED, _C_EVBYTES, _C_SEQ = range(8)
_STATE_COUNTER = {
    R.READY: _C_READY,
    R.DELAYED: _C_DELAYED,
    R.INFLIGHT: _C_INFLIGHT,
    R.DEAD: _C_DEAD,
}
_MiB = 1 << 20
_GiB = 1 << 30
# Disk the map leaves free for leases and acks: puts do not grow the map into it, so
# that a queue that filled the disk can still be drained.
_DRAIN_RESERVE = 2 * _MiB
# (message records are in the main database: see _record.MSG_PREFIX)
_DB_NAMES = ("ready", "timers", "dead", "keys", "kexp", "topics", "meta")


# deadline_us and topic length, read straight from a record's header (see _record.HEADER).
_ACK_VIEW = struct.Struct(">15xQH")
# priority and topic length
_TAIL_VIEW = struct.Struct(">3xh18xH").unpack_from


_HEADER_SIZE = R.HEADER.size
_HEADER_PACK = R.HEADER.pack
_FORMAT_VERSION = R.FORMAT_VERSION
_READY = R.READY
_U64_PACK = R.U64.pack
_U64_UNPACK = R.U64.unpack
_U64_UNPACK_FROM = R.U64.unpack_from
_MP = R.MSG_PREFIX
_MKEY = R.seq_key
_INFLIGHT = R.INFLIGHT
_U16_PACK = R.U16.pack
_TWO_U64 = R.TWO_U64
_TWO_U64_PACK = R.TWO_U64.pack
_COUNTERS_PACK = _COUNTERS.pack
_PRIORITY_MAX = R.PRIORITY_MAX


@functools.cache
def _lmdb_error() -> type[Exception]:
    import lmdb

    return lmdb.Error


def _state(record: bytes) -> int:
    """The state byte of a record, or -1 when the record is too short to have one."""
    return record[2] if len(record) >= R.HEADER.size else -1


@dataclass(slots=True)
class Message:
    """A message leased from (or peeked in) a :class:`SyncQueue`.

    Attributes:
        id: The queue's id of the message (an increasing integer).
        payload: The bytes that were put.
        topic: The topic it was put on.
        priority: Its priority (higher is delivered first).
        key: The idempotency key it was put with, or None.
        headers: The headers it was put with.
        attempt: How many times it has been delivered, this delivery included.
        created: When it was put (seconds since the epoch).
        lease_token: Identifies this lease (0 when peeked); ``ack`` of a Message whose
            lease expired and was given to another consumer is ignored.
        queue_id: The id of the queue that holds it (stable for the queue's life).
    """

    id: int
    payload: bytes
    topic: str
    priority: int = 0
    key: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    attempt: int = 0
    created: float = 0.0
    lease_token: int = 0
    queue_id: str = ""
    # The key of the lease's entry in the timers index (set by lease), for ack.
    _lease_key: bytes = field(default=b"", init=False, repr=False, compare=False)

    @property
    def dedup_id(self) -> str:
        """A globally unique id for upstream deduplication: the key, else queue id and id."""
        return self.key if self.key is not None else f"{self.queue_id}-{self.id}"

    @property
    def lease_deadline(self) -> float:
        """When the lease expires and the message is redelivered (seconds since the epoch)."""
        return self.lease_token / 1e6


@dataclass(frozen=True)
class QueueStats:
    """A snapshot of a queue's state; renders as an HTML table in Jupyter.

    Attributes:
        depth: Messages not yet acked or dead (ready + delayed + in flight).
        ready: Messages that can be leased now.
        delayed: Nacked messages waiting for their retry time.
        in_flight: Leased messages not yet acked.
        dead: Dead letters.
        bytes: Bytes stored for all messages, dead letters included (after compression).
        max_bytes: The queue's bound in bytes, or None.
        evicted: Messages dropped by the eviction policy since the queue was created.
        evicted_bytes: Bytes dropped by the eviction policy.
        oldest_age: Age in seconds of the oldest stored message, or None if empty.
        topics: Per topic, (live messages, bytes).
        map_size: The LMDB map size in bytes.
    """

    depth: int
    ready: int
    delayed: int
    in_flight: int
    dead: int
    bytes: int
    max_bytes: int | None
    evicted: int
    evicted_bytes: int
    oldest_age: float | None
    topics: dict[str, tuple[int, int]]
    map_size: int

    def _repr_html_(self) -> str:
        rows = [
            ("depth", self.depth),
            ("ready", self.ready),
            ("delayed", self.delayed),
            ("in flight", self.in_flight),
            ("dead", self.dead),
            (
                "bytes",
                f"{self.bytes:,}" + (f" / {self.max_bytes:,}" if self.max_bytes else ""),
            ),
            ("evicted", f"{self.evicted:,} ({self.evicted_bytes:,} bytes)"),
            (
                "oldest age",
                "-" if self.oldest_age is None else f"{self.oldest_age:.1f} s",
            ),
        ]
        body = "".join(
            f"<tr><th style='text-align:left'>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
            for k, v in rows
        )
        topics = "".join(
            f"<tr><td>{html.escape(t)}</td><td>{n:,}</td><td>{b:,}</td></tr>"
            for t, (n, b) in sorted(self.topics.items())
        )
        return (
            "<table><caption>SyncQueue</caption>"
            + body
            + "</table><table><tr><th>topic</th><th>messages</th><th>bytes</th></tr>"
            + topics
            + "</table>"
        )


# Puts may leave the stored counters and topic totals behind by at most this many
# messages (see _Txn); a transaction that finds them behind counts the tail of ``msgs``.
_FLUSH_EVERY = 256


class _Committed:
    """What this process's last committed write transaction left (see :class:`_Txn`)."""

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
        known: dict[bytes, tuple[int, int]],
        pending: dict[bytes, list[int]],
        unflushed: int,
        ready: list[bytes],
    ) -> None:
        self.txn_id = txn_id
        # Exact counters (the stored ones may lag: see pending and unflushed).
        self.counters = counters
        # Topic totals as stored in the ``topics`` db (a cache of some topics).
        self.known = known
        # Per topic (count, bytes) of puts not yet added to the stored totals.
        self.pending = pending
        # Puts not yet in the stored counters (all ids above the stored last id).
        self.unflushed = unflushed
        # Their ready-index keys, not yet written.
        self.ready = ready
        # The latest of them, put's fast path's, when of one topic and priority:
        # ``run_n`` ids from ``run_first``, ``run_bytes`` bytes, not yet in pending
        # and ready (see materialize).
        self.run_topic: bytes | None = None
        self.run_priority = 0
        self.run_first = 0
        self.run_n = 0
        self.run_bytes = 0

    def materialize(self) -> None:
        """Move the run of the fast path's puts into ``pending`` and ``ready``."""
        topic = self.run_topic
        if topic is None:
            return
        self.run_topic = None
        head = topic + b"\x00" + _U16_PACK(_PRIORITY_MAX - self.run_priority)
        first = self.run_first
        self.ready.extend(map(head.__add__, map(_U64_PACK, range(first, first + self.run_n))))
        delta = self.pending.get(topic)
        if delta is None:
            self.pending[topic] = [self.run_n, self.run_bytes]
        else:
            delta[0] += self.run_n
            delta[1] += self.run_bytes


def _write_totals(
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
            old = _TWO_U64.unpack(raw) if raw else (0, 0)
        new_n, new_b = old[0] + count, max(old[1] + nbytes, 0)
        if new_n <= 0:
            txn.delete(topic, None, topics_db)
            written[topic] = (0, 0)
        else:
            txn.put(topic, _TWO_U64_PACK(new_n, new_b), True, True, False, topics_db)
            written[topic] = (new_n, new_b)
    return written


def _count_tail(
    txn: Any,
    msgs_db: Any,
    counters: list[int],
    topic_delta: dict[bytes, list[int]],
    ready_keys: list[bytes] | None = None,
) -> int:
    """Add the messages stored after the counters' last id to ``counters`` and ``topic_delta``.

    Puts may skip writing the counters and the ready-index keys (see :class:`_Txn`):
    every message with an id above the stored last id was put since, and no other
    change came after it (any other write brings the stored counters up to date).
    Their ready-index keys are appended to ``ready_keys``. Returns how many there were.
    """
    cursor = txn.cursor(msgs_db)
    if not cursor.set_range(_MKEY(counters[_C_SEQ] + 1)):
        return 0
    n = 0
    last = b""
    hsize = _HEADER_SIZE
    for key, record in cursor.iternext():
        n += 1
        last = key
        size = len(record)
        counters[_C_BYTES] += size
        state = record[2] if size >= hsize else -1
        counters[_STATE_COUNTER.get(state, _C_READY)] += 1
        if state >= 0 and state != R.DEAD:
            prio, tlen = _TAIL_VIEW(record)
            topic = bytes(record[hsize : hsize + tlen])
            if ready_keys is not None and state == _READY:
                ready_keys.append(topic + b"\x00" + _U16_PACK(_PRIORITY_MAX - prio) + key[1:])
            delta = topic_delta.get(topic)
            if delta is None:
                topic_delta[topic] = [1, size]
            else:
                delta[0] += 1
                delta[1] += size
    if n:
        counters[_C_SEQ] = _U64_UNPACK_FROM(last, 1)[0]
    return n


class _Txn:
    """One write transaction: the LMDB txn plus counters updated in memory, written at the end.

    The counters and per-topic totals this process committed last are kept in memory
    (``SyncQueue._committed``) with the LMDB id of that transaction: when the next write
    transaction's id follows it, no other writer (thread or process) came in between
    and the stored values are known without reading them.

    Puts (of topics that already have stored totals) do not write the counters and
    topic totals at every commit, only every ``_FLUSH_EVERY`` puts: the messages whose
    ids are above the stored counters' last id are the puts not yet counted. Any
    other write transaction counts them (from memory, or by reading that tail of
    ``msgs`` when another writer came in between) and writes everything back.
    """

    __slots__ = (
        "counters",
        "defer",
        "deferrable",
        "known_topics",
        "q",
        "ready_pending",
        "topic_delta",
        "txn",
        "txn_id",
        "unflushed",
    )

    def __init__(self, queue: SyncQueue, txn: Any, deferrable: bool = False) -> None:
        self.q = queue
        self.txn = txn
        self.txn_id = txn.id()
        self.defer = False  # set by a put that may leave the stored counters behind
        # A put transaction: leaves the uncounted puts' ready keys unwritten if it can.
        self.deferrable = deferrable
        committed = queue._committed
        if committed is not None and committed.txn_id == self.txn_id - 1:
            committed.materialize()
            self.counters = committed.counters.copy()
            self.known_topics: dict[bytes, tuple[int, int]] | None = committed.known
            self.topic_delta = {t: v.copy() for t, v in committed.pending.items()}
            self.unflushed = committed.unflushed
            self.ready_pending = committed.ready.copy()
        else:
            raw = txn.get(b"counters", None, queue._meta_db)
            self.counters = list(_COUNTERS.unpack(raw)) if raw else [0] * 8
            self.known_topics = None
            self.topic_delta = {}
            self.ready_pending = []
            self.unflushed = _count_tail(
                txn, queue._msgs_db, self.counters, self.topic_delta, self.ready_pending
            )
        if not deferrable:
            self.put_ready()

    def put_ready(self) -> None:
        """Write the ready-index keys of the uncounted puts (before reading that index)."""
        if self.ready_pending:
            self.ready_pending.sort()
            self.q._add_ready(self.txn, self.ready_pending)
            self.ready_pending = []

    def next_seq(self) -> int:
        self.counters[_C_SEQ] += 1
        return self.counters[_C_SEQ]

    def topic_add(self, topic: bytes, count: int, nbytes: int) -> None:
        delta = self.topic_delta.get(topic)
        if delta is None:
            self.topic_delta[topic] = [count, nbytes]
        else:
            delta[0] += count
            delta[1] += nbytes

    def flush(self) -> dict[bytes, tuple[int, int]] | None:
        """Write the counters and topic totals (None: left behind, see the class doc);
        returns the new stored totals of the topics touched."""
        if self.defer and self.unflushed < _FLUSH_EVERY:
            return None
        self.put_ready()
        self.txn.put(
            b"counters", _COUNTERS_PACK(*self.counters), True, True, False, self.q._meta_db
        )
        return _write_totals(self.txn, self.q._topics_db, self.topic_delta, self.known_topics)

    def committed(self, written: dict[bytes, tuple[int, int]] | None) -> None:
        """Remember what this (now committed) transaction wrote, for the next one."""
        known = self.known_topics
        if written is None:  # deferred: known_topics is set (see _put_items)
            assert known is not None
            self.q._committed = _Committed(
                self.txn_id,
                self.counters,
                known,
                self.topic_delta,
                self.unflushed,
                self.ready_pending,
            )
            return
        if known is None:
            known = written
        else:
            known.update(written)
            if len(known) > 4096:
                known = written
        self.q._committed = _Committed(self.txn_id, self.counters, known, {}, 0, [])


class _PutRequest:
    """One thread's puts waiting for a group commit."""

    __slots__ = ("error", "ident", "items", "lead", "result", "waiter")

    def __init__(self, items: list[tuple[bytes, bytes, int, bytes, dict[str, str] | None]]):
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


class SyncQueue:
    """A durable, bounded store-and-forward queue in an LMDB environment (a directory).

    Messages are put on topics with a priority and leased in batches: higher priority
    first, FIFO within a topic and priority. A leased message is acked when it was
    delivered, nacked (retried later with exponential backoff and jitter) when it was
    not, and redelivered when its lease expires. After ``max_attempts`` deliveries it
    becomes a dead letter. Several threads and processes may use one queue at once;
    each process opens its own ``SyncQueue`` on the path. LMDB's single writer lock
    serialises every change, so no message is leased to two consumers at once.

    Args:
        path: Directory of the LMDB environment (created if missing).
        max_bytes: Bound on stored bytes (after compression), or None for no bound.
        eviction: What happens when a put would exceed ``max_bytes``: ``"reject"``
            raises :class:`~edgekit.errors.QueueFullError`; ``"drop_oldest"`` drops the
            oldest messages not in flight; ``"drop_lowest_priority"`` drops the oldest
            ready message of the lowest priority. Evictions are counted in ``stats()``.
        compression: ``"lz4"`` compresses payloads of ``compress_threshold`` bytes or
            more; ``None`` stores them as they are.
        compress_threshold: Smallest payload that is compressed, in bytes.
        durability: ``"process"``: a returned ``put`` survives a crash or kill -9 of
            the process (no fsync). ``"power"``: it also survives a power cut (fsync
            before ``put`` returns; concurrent puts from several threads share one
            commit).
        max_attempts: Deliveries before a message becomes a dead letter.
        backoff: Delay of a nacked message before its next delivery.
        dedup_window: Seconds during which a second put with the same ``key`` is
            dropped (returns the first id).
        encryption_key: 32 bytes: payloads and headers are encrypted at rest with
            AES-256-GCM (needs the ``crypto`` extra). Topics and keys are not.
        max_message_bytes: Largest payload accepted, in bytes.
        map_size: Initial LMDB map size in bytes; the map doubles as needed (by 1 GiB
            at a time past 1 GiB). The data file has disk blocks under the whole map,
            so a full disk is a ``QueueFullError`` when the map grows, not a crash;
            puts leave 2 MiB of disk free for leases and acks.
        group_commit_delay: Under ``"power"``, the longest (seconds) a commit leader
            waits for the puts of the other threads that put lately (it waits at most
            half the recent commit time, and not at all when its thread is the only
            one putting); 0 commits at once with those already waiting.
        clock: The wall clock the queue reads, in seconds since the epoch (default
            :func:`time.time`): message times, leases, delays and the dedup window all
            come from it. Tests and simulations pass a clock they control.

    Raises:
        CorruptDataError: ``path`` holds something that is not an edgekit queue.
        InvalidInputError: An argument is wrong, or ``encryption_key`` does not match.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_bytes: int | None = None,
        eviction: Eviction = "reject",
        compression: Literal["lz4"] | None = "lz4",
        compress_threshold: int = 512,
        durability: Durability = "process",
        max_attempts: int = 10,
        backoff: Backoff | None = None,
        dedup_window: float = 86400.0,
        encryption_key: bytes | None = None,
        max_message_bytes: int = 16 * _MiB,
        map_size: int = _MiB,
        group_commit_delay: float = 0.001,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if eviction not in ("reject", "drop_oldest", "drop_lowest_priority"):
            raise InvalidInputError(f"unknown eviction {eviction!r}")
        if durability not in ("process", "power"):
            raise InvalidInputError(f"durability must be 'process' or 'power', not {durability!r}")
        if compression not in ("lz4", None):
            raise InvalidInputError(f"compression must be 'lz4' or None, not {compression!r}")
        if max_bytes is not None and (not isinstance(max_bytes, int) or max_bytes <= 0):
            raise InvalidInputError("max_bytes must be a positive int (bytes) or None")
        if not isinstance(max_attempts, int) or max_attempts < 1:
            raise InvalidInputError("max_attempts must be an int >= 1")
        if encryption_key is not None and (
            not isinstance(encryption_key, (bytes, bytearray)) or len(encryption_key) != 32
        ):
            raise InvalidInputError("encryption_key must be 32 bytes (AES-256)")
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.eviction: Eviction = eviction
        self.compress_threshold = compress_threshold if compression == "lz4" else None
        self.durability: Durability = durability
        self.max_attempts = max_attempts
        self.backoff = backoff or Backoff()
        self.dedup_window = float(dedup_window)
        self.max_message_bytes = int(max_message_bytes)
        if max_bytes is not None:
            self.max_message_bytes = min(self.max_message_bytes, max_bytes)
        self.group_commit_delay = float(group_commit_delay)
        if clock is not None and not callable(clock):
            raise InvalidInputError("clock must be a callable returning seconds since the epoch")
        # Nanoseconds since the epoch (time.time_ns unless the host gave a clock).
        self._now_ns: Callable[[], int] = (
            time.time_ns if clock is None else (lambda: int(clock() * 1e9))
        )
        self._lock = threading.RLock()
        self._gc_lock = threading.Lock()
        self._gc_cond = threading.Condition(self._gc_lock)
        self._gc_last = 1
        self._gc_last_threads: set[int] = set()  # the threads of the last group commit
        self._gc_want = 1 << 30  # puts the waiting leader waits for
        self._gc_commit_s = 0.0
        self._gc_return_s = 0.0  # (average) from a commit to its threads' next puts
        self._gc_released = 0.0  # when the last group commit released its threads
        self.group_commit_max = 256
        self._gc_pending: list[_PutRequest] = []
        # Group commits led and puts they carried (for benchmarks and tuning).
        self._gc_commits = 0
        self._gc_puts = 0
        self._gc_leader = False
        self._closed = False
        self._topic_cache: dict[str, bytes] = {}
        self._topic_names: dict[bytes, str] = {}
        self._env = self._open_env(int(map_size))
        self._dbs = self._open_dbs()
        self._msgs_db, self._ready_db, self._timers_db = (
            self._dbs["msgs"],
            self._dbs["ready"],
            self._dbs["timers"],
        )
        self._main_db = self._msgs_db
        self._meta_db, self._topics_db = self._dbs["meta"], self._dbs["topics"]
        # (txn id, counters, topic totals) of this process's last committed write; see _Txn.
        self._committed: _Committed | None = None
        self._cipher: R.Cipher | None = None
        self._queue_id = self._write(self._init_meta_txn)
        self.queue_id = self._queue_id.decode()
        # put's fast path takes payloads shorter than this (0: never, with encryption);
        # compression and max_message_bytes bound it.
        self._plain_limit = 0
        if encryption_key is None:
            self._plain_limit = min(
                self.max_message_bytes + 1,
                self.compress_threshold if self.compress_threshold is not None else 1 << 62,
            )
        if encryption_key is not None:
            self._cipher = R.Cipher(bytes(encryption_key))
            self._write(self._check_key_txn)
        elif self._read(lambda txn: txn.get(b"keycheck", db=self._dbs["meta"])) is not None:
            self.close()
            raise InvalidInputError(
                f"the queue at {self.path} is encrypted: pass its encryption_key"
            )

    # -- opening --------------------------------------------------------------------

    def _open_env(self, map_size: int) -> Any:
        import lmdb

        if self.path.exists() and not self.path.is_dir():
            raise CorruptDataError(
                f"{self.path} is a file, not a queue directory (an LMDB environment)"
            )
        self.path.mkdir(parents=True, exist_ok=True)
        sync = self.durability == "power"
        # "process": the map is written in place and never flushed by us; the kernel's
        # page cache keeps every committed page through a kill -9. The file has disk
        # blocks under the whole map (see MapFile).
        self._map_file = MapFile(self.path)
        with self._map_file.locked():
            length = self._map_file.length()
            map_size = max(map_size, length)
            try:
                env = lmdb.open(
                    str(self.path),
                    map_size=map_size,
                    max_dbs=len(_DB_NAMES) + 1,
                    sync=sync,
                    metasync=sync,
                    lock=True,
                    writemap=not sync,
                    max_spare_txns=2,
                )
            except (lmdb.InvalidError, lmdb.CorruptedError, lmdb.VersionMismatchError) as exc:
                raise CorruptDataError(
                    f"{self.path} does not hold a valid LMDB environment: {exc}"
                ) from exc
            except lmdb.Error as exc:
                raise QueueError(f"cannot open the queue at {self.path}: {exc}") from exc
            try:
                # LMDB made the file map_size long: blocks under what it added.
                self._map_file.reserve(int(env.info()["map_size"]), start=length)
                env.reader_check()
            except BaseException:
                env.close()
                raise
            return env

    def _open_dbs(self) -> dict[str, Any]:
        import lmdb

        for _ in range(16):
            try:
                dbs = {name: self._env.open_db(name.encode()) for name in _DB_NAMES}
                dbs["msgs"] = self._env.open_db(None)  # the main database
                return dbs
            except lmdb.MapResizedError:
                self._set_map_size(0)  # another process grew the map: adopt its size
            except lmdb.Error as exc:
                self._env.close()
                raise QueueError(f"cannot open the queue at {self.path}: {exc}") from exc
        self._env.close()
        raise QueueError(f"cannot open the queue at {self.path}: its map keeps being resized")

    def _init_meta_txn(self, t: _Txn) -> bytes:
        meta = self._dbs["meta"]
        version = t.txn.get(b"format", db=meta)
        if version is None:
            if t.txn.cursor(self._msgs_db).set_range(R.MSG_PREFIX) or self._format_1_msgs(t):
                raise CorruptDataError(f"{self.path} has messages but no format marker")
            t.txn.put(b"format", str(R.QUEUE_FORMAT).encode(), db=meta)
            qid = uuid.uuid4().hex[:16].encode()
            t.txn.put(b"queue_id", qid, db=meta)
            return qid
        if version not in R.READABLE_FORMATS:
            raise CorruptDataError(
                f"{self.path}: unknown queue format {bytes(version)!r} (this edgekit reads "
                f"formats {', '.join(f.decode() for f in R.READABLE_FORMATS)}: a newer "
                "edgekit wrote it)"
            )
        if version != str(R.QUEUE_FORMAT).encode():
            self._upgrade_format_1(t)
        qid = t.txn.get(b"queue_id", db=meta)
        if qid is None:
            raise CorruptDataError(f"{self.path}: queue id is missing")
        return bytes(qid)

    def _format_1_msgs(self, t: _Txn) -> Any:
        """Format 1's ``msgs`` database, or None."""
        import lmdb

        try:
            return self._env.open_db(b"msgs", txn=t.txn, create=False)
        except lmdb.NotFoundError:
            return None

    def _upgrade_format_1(self, t: _Txn) -> None:
        """Format 1 -> 2 in one transaction: records move from the ``msgs`` database to
        the main one; the counters, always current in format 1, are format 2's with no
        uncounted puts (see :class:`_Txn`). Format 1 code refuses the queue afterwards."""
        old = self._format_1_msgs(t)
        if old is not None:
            t.txn.cursor(self._msgs_db).putmulti(
                ((_MP + bytes(k), bytes(v)) for k, v in t.txn.cursor(old)), True, True, True
            )
            t.txn.drop(old, delete=True)
        t.txn.put(b"format", str(R.QUEUE_FORMAT).encode(), db=self._dbs["meta"])

    def _check_key_txn(self, t: _Txn) -> None:
        assert self._cipher is not None
        meta = self._dbs["meta"]
        check = t.txn.get(b"keycheck", db=meta)
        if check is None:
            t.txn.put(b"keycheck", self._cipher.encrypt(R.Cipher.CHECK, self._queue_id), db=meta)
            return
        if self._cipher.decrypt(check, self._queue_id) != R.Cipher.CHECK:
            raise InvalidInputError(
                f"wrong encryption_key for the queue at {self.path}: it was created with another key"
            )

    # -- transactions ----------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise QueueError(f"the queue at {self.path} is closed")

    def _write(self, fn: Callable[[_Txn], T], deferrable: bool = False, puts: bool = False) -> T:
        """Run ``fn`` in a write transaction, growing the map when it is full (a
        transaction of ``puts`` leaves the last ``_DRAIN_RESERVE`` bytes of disk)."""
        import lmdb

        with self._lock:
            self._check_open()
            for _ in range(64):
                try:
                    with self._env.begin(write=True) as txn:
                        t = _Txn(self, txn, deferrable)
                        result = fn(t)
                        written = t.flush()
                    t.committed(written)
                    return result
                except lmdb.MapFullError as exc:
                    self._grow(exc, puts)
                except lmdb.MapResizedError:
                    self._set_map_size(0)
                except lmdb.Error as exc:
                    raise QueueError(f"queue at {self.path}: {exc}") from exc
            raise QueueError(f"queue at {self.path}: could not commit after growing the map")

    def _read(self, fn: Callable[[Any], T]) -> T:
        import lmdb

        with self._lock:
            self._check_open()
            for _ in range(4):
                try:
                    with self._env.begin() as txn:
                        return fn(txn)
                except lmdb.MapResizedError:
                    self._set_map_size(0)
                except lmdb.Error as exc:
                    raise QueueError(f"queue at {self.path}: {exc}") from exc
            raise QueueError(f"queue at {self.path}: map keeps being resized")

    def _grow(self, exc: Exception, puts: bool = False) -> None:
        current = int(self._env.info()["map_size"])
        if self._map_file.length() > current:  # another process grew it: adopt that first
            self._set_map_size(0)
            return
        limit = self._map_limit() - (_DRAIN_RESERVE if puts else 0)
        if current >= limit:
            raise QueueFullError(
                f"the queue at {self.path} cannot grow past {limit:,} bytes of map "
                "(disk or address space)"
            ) from exc
        self._set_map_size(min(current + min(current, _GiB), limit))

    def _set_map_size(self, size: int) -> None:
        """Map ``size`` bytes of the data file, or more when another process made it
        longer (0: adopt its length). Hold ``self._lock``, with no transaction open.

        Raises:
            QueueFullError: The disk has no room for ``size`` bytes.
        """
        import lmdb

        with self._map_file.locked():
            size = max(size, self._map_file.length())
            self._map_file.reserve(size)
            try:
                self._env.set_mapsize(size)
            except lmdb.Error as exc:
                raise QueueFullError(
                    f"the queue at {self.path} cannot grow its map: {exc}"
                ) from exc

    def _map_limit(self) -> int:
        try:
            st = os.statvfs(self.path)
            disk = st.f_bavail * st.f_frsize + self._map_file.length()
        except OSError:
            disk = 1 << 40
        if self.max_bytes is not None:
            return int(min(disk, max(8 * self.max_bytes, 64 * _MiB) + 64 * _MiB))
        return int(disk)

    # -- put -------------------------------------------------------------------------

    def _validate(
        self,
        payload: object,
        topic: object,
        priority: object,
        key: object,
        headers: object,
    ) -> tuple[bytes, bytes, int, bytes, dict[str, str] | None]:
        if isinstance(payload, (bytearray, memoryview)):
            payload = bytes(payload)
        if not isinstance(payload, bytes):
            raise InvalidInputError(
                f"payload must be bytes, not {type(payload).__name__} (encode it first)"
            )
        if len(payload) > self.max_message_bytes:
            raise InvalidInputError(
                f"payload of {len(payload):,} bytes exceeds max_message_bytes={self.max_message_bytes:,}"
            )
        if not isinstance(topic, str) or not topic:
            raise InvalidInputError("topic must be a non-empty str")
        tbytes = topic.encode()
        if b"\x00" in tbytes or len(tbytes) > 255:
            raise InvalidInputError("topic must be at most 255 bytes of UTF-8 without NUL")
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise InvalidInputError("priority must be an int")
        if not R.PRIORITY_MIN <= priority <= R.PRIORITY_MAX:
            raise InvalidInputError("priority must be in [-32768, 32767]")
        kbytes = b""
        if key is not None:
            if not isinstance(key, str) or not key:
                raise InvalidInputError("key must be a non-empty str or None")
            kbytes = key.encode()
            if len(kbytes) > 255:
                raise InvalidInputError("key must be at most 255 bytes of UTF-8")
        if headers is not None:
            if not isinstance(headers, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
            ):
                raise InvalidInputError("headers must be a dict of str to str")
            headers = dict(headers) or None
        return payload, tbytes, priority, kbytes, headers

    def put(
        self,
        payload: bytes,
        *,
        topic: str = "default",
        priority: int = 0,
        key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> int:
        """Store one message; returns its id once it is durable at the queue's level.

        Args:
            payload: The message bytes.
            topic: Topic name (NATS subjects use it as the last token).
            priority: Higher is delivered first; in [-32768, 32767].
            key: Idempotency key: a second put with the same key within
                ``dedup_window`` seconds stores nothing and returns the first id.
            headers: String headers sent along with the message.

        Raises:
            InvalidInputError: A wrong type, or a payload over ``max_message_bytes``.
            QueueFullError: The queue is at ``max_bytes`` and eviction is "reject",
                or its map cannot grow.
        """
        if (
            type(payload) is bytes
            and key is None
            and headers is None
            and type(priority) is int
            and len(payload) < self._plain_limit
            and -32768 <= priority <= 32767
        ):
            tbytes = self._topic_cache.get(topic) if type(topic) is str else None
            if tbytes is None:
                tbytes = self._validate(b"", topic, 0, None, None)[1]
                if len(self._topic_cache) < 4096:
                    self._topic_cache[topic] = tbytes
            if self.durability == "process":
                return self._put_fast(payload, tbytes, priority)
            return self._put_power(payload, tbytes, priority)
        item = self._validate(payload, topic, priority, key, headers)
        if self.durability == "power":
            return self._group_commit([item])[0]
        return self._write(lambda t: self._put_items(t, [item]), True, True)[0]

    def _put_power(self, payload: bytes, topic: bytes, priority: int) -> int:
        """put under "power": alone, the fast path's one transaction (its commit is the
        fsync); with other threads putting, a group commit."""
        ident = threading.get_ident()
        with self._gc_lock:
            alone = (
                not self._gc_leader
                and not self._gc_pending
                and (not self._gc_last_threads or self._gc_last_threads == {ident})
            )
            if alone:
                self._gc_leader = True
        if not alone:
            return self._group_commit([(payload, topic, priority, b"", None)])[0]
        try:
            seq = self._put_fast(payload, topic, priority)
        finally:
            with self._gc_lock:
                self._gc_commits += 1
                self._gc_puts += 1
                self._gc_last_threads = {ident}
                if self._gc_pending:  # others came meanwhile: the first of them leads
                    successor = self._gc_pending[0]
                    successor.lead = True
                    successor.wake()
                else:
                    self._gc_leader = False
        return seq

    def _put_fast(self, payload: bytes, topic: bytes, priority: int) -> int:
        """put's fast path: no key, headers, compression or encryption; one transaction.

        When this process wrote last (see :class:`_Txn`), a put is one LMDB put (the
        record) in one transaction; its ready-index key, the counters and the topic
        totals are written every ``_FLUSH_EVERY`` puts (or by the next transaction
        of another kind), or when the topic has none stored yet. Anything else (another writer came in between, the queue is near
        ``max_bytes``, LMDB trouble such as a full map) goes the general way.
        """
        size = _HEADER_SIZE + len(topic) + len(payload)
        with self._lock:
            # (a closed queue fails in begin: the general path below raises QueueError)
            c = self._committed
            seq = 0
            # (py-lmdb parses positional arguments much faster than keywords)
            txn = None
            try:
                txn = self._env.begin(None, None, True)
                txn_id = txn.id()
                if (
                    c is not None
                    and c.txn_id == txn_id - 1
                    and (self.max_bytes is None or c.counters[_C_BYTES] + size <= self.max_bytes)
                ):
                    known = c.known
                    cached = known.get(topic)
                    if cached is None:
                        raw = txn.get(topic, None, self._topics_db)
                        stored: tuple[int, int] = _TWO_U64.unpack(raw) if raw else (0, 0)
                    else:
                        stored = cached
                    seq = c.counters[_C_SEQ] + 1
                    seq8 = _U64_PACK(seq)
                    txn.put(
                        _MP + seq8,
                        _HEADER_PACK(
                            _FORMAT_VERSION,
                            0,
                            _READY,
                            priority,
                            0,
                            self._now_ns() // 1000,
                            0,
                            len(topic),
                            0,
                            0,
                            len(payload),
                        )
                        + topic
                        + payload,
                        True,
                        True,
                        True,
                        self._msgs_db,
                    )
                    written = None
                    if stored[0] <= 0 or c.unflushed >= _FLUSH_EVERY - 1:
                        # Write what the uncounted puts and this one left unwritten.
                        c.materialize()
                        rkey = topic + b"\x00" + _U16_PACK(_PRIORITY_MAX - priority) + seq8
                        keys = c.ready.copy()
                        keys.append(rkey)
                        keys.sort()
                        self._add_ready(txn, keys)
                        counters = c.counters.copy()
                        counters[_C_SEQ] = seq
                        counters[_C_READY] += 1
                        counters[_C_BYTES] += size
                        deltas = {t: v.copy() for t, v in c.pending.items()}
                        delta = deltas.get(topic)
                        if delta is None:
                            deltas[topic] = [1, size]
                        else:
                            delta[0] += 1
                            delta[1] += size
                        known[topic] = stored
                        txn.put(
                            b"counters", _COUNTERS_PACK(*counters), True, True, False, self._meta_db
                        )
                        written = _write_totals(txn, self._topics_db, deltas, known)
                    txn.commit()
                else:
                    txn.abort()
            except _lmdb_error():
                if txn is not None:
                    txn.abort()
                seq = 0  # aborted: the general path below grows the map or re-reads
            except BaseException:
                if txn is not None:
                    txn.abort()
                raise
            if seq:  # committed
                assert c is not None
                c.txn_id = txn_id
                if written is None:
                    counters = c.counters
                    counters[_C_SEQ] = seq
                    counters[_C_READY] += 1
                    counters[_C_BYTES] += size
                    c.unflushed += 1
                    # (ids follow each other on this path: see _Committed.materialize)
                    if topic is c.run_topic and priority == c.run_priority:
                        c.run_n += 1
                        c.run_bytes += size
                    else:
                        c.materialize()
                        c.run_topic = topic
                        c.run_priority = priority
                        c.run_first = seq
                        c.run_n = 1
                        c.run_bytes = size
                    if cached is None:
                        if len(known) > 4096:
                            known.clear()
                        known[topic] = stored
                else:
                    c.counters = counters
                    if len(known) > 4096:
                        known.clear()
                    known.update(written)
                    c.pending = {}
                    c.unflushed = 0
                    c.ready = []
                return seq
        item = (payload, topic, priority, b"", None)
        return self._write(lambda t: self._put_items(t, [item]), True, True)[0]

    def put_many(
        self,
        payloads: Iterable[bytes],
        *,
        topic: str = "default",
        priority: int = 0,
        keys: Sequence[str | None] | None = None,
        headers: dict[str, str] | None = None,
    ) -> list[int]:
        """Store many messages in one transaction (all or none); returns their ids.

        Args:
            payloads: The message bytes.
            topic: Topic of every message.
            priority: Priority of every message.
            keys: One idempotency key (or None) per payload, or None.
            headers: Headers of every message.
        """
        payload_list = payloads if type(payloads) is list else list(payloads)
        if not payload_list:
            return []
        if set(map(type, payload_list)) != {bytes}:
            payload_list = [self._validate(p, topic, 0, None, None)[0] for p in payload_list]
        lens = list(map(len, payload_list))
        limit = self.max_message_bytes
        if max(lens) > limit:
            raise InvalidInputError(
                f"a payload of {max(lens):,} bytes exceeds max_message_bytes={limit:,}"
            )
        _, tbytes, prio, _, hdrs = self._validate(b"", topic, priority, None, headers)
        if keys is not None and len(keys) != len(payload_list):
            raise InvalidInputError("keys must have one entry per payload")
        if keys is None or all(k is None for k in keys):
            self._reserve(sum(lens))
            return self._write(
                functools.partial(
                    self._put_same,
                    payloads=payload_list,
                    topic=tbytes,
                    priority=prio,
                    headers=hdrs,
                    lens=lens,
                ),
                puts=True,
            )
        items = [
            self._validate(p, topic, priority, k, headers)
            for p, k in zip(payload_list, keys, strict=True)
        ]
        return self._write(lambda t: self._put_items(t, items), puts=True)

    def _reserve(self, nbytes: int) -> None:
        """Grow the map ahead of a large transaction (a failed one would be redone)."""
        if nbytes < 4 * _MiB:
            return
        with self._lock:
            self._check_open()
            info = self._env.info()
            used = (int(info["last_pgno"]) + 1) * int(self._env.stat()["psize"])
            want = used + 3 * nbytes + 16 * _MiB
            size = int(info["map_size"])
            if want > size:
                new = size
                while new < want:
                    new *= 2
                new = min(new, self._map_limit() - _DRAIN_RESERVE)
                if new > size:
                    with contextlib.suppress(QueueFullError):  # the write will grow or fail
                        self._set_map_size(new)

    def _put_same(
        self,
        t: _Txn,
        payloads: list[bytes],
        topic: bytes,
        priority: int,
        headers: dict[str, str] | None,
        lens: list[int],
    ) -> list[int]:
        """put_many's fast path: one topic, priority and headers, no keys."""
        now = self._now_ns() // 1000
        first = t.counters[_C_SEQ] + 1
        threshold = self.compress_threshold
        records: Iterable[bytes]
        plain = False
        if self._cipher is not None or (threshold is not None and max(lens) >= threshold):
            records = [
                R.encode_record(
                    seq=first + i,
                    payload=payload,
                    topic=topic,
                    key=b"",
                    headers=headers,
                    priority=priority,
                    created_us=now,
                    compress_threshold=threshold,
                    cipher=self._cipher,
                    queue_id=self._queue_id,
                )
                for i, payload in enumerate(payloads)
            ]
        else:
            hbytes = json.dumps(headers, separators=(",", ":")).encode() if headers else b""
            tail = topic + hbytes

            def head(n: int) -> bytes:
                return (
                    R.HEADER.pack(
                        R.FORMAT_VERSION,
                        0,
                        R.READY,
                        priority,
                        0,
                        now,
                        0,
                        len(topic),
                        0,
                        len(hbytes),
                        n,
                    )
                    + tail
                )

            plain = True
            sizes = set(lens)
            # Records are made while LMDB consumes them (no list of a million records).
            if len(sizes) == 1:
                records = map(head(sizes.pop()).__add__, payloads)
            else:
                heads = {n: head(n) for n in sizes}
                records = map(bytes.__add__, map(heads.__getitem__, lens), payloads)
        n = len(payloads)
        total = sum(lens) + n * (R.HEADER.size + len(tail)) if plain else sum(map(len, records))
        if self.max_bytes is not None and t.counters[_C_BYTES] + total > self.max_bytes:
            items = [(p, topic, priority, b"", headers) for p in payloads]
            return self._put_items(t, items)
        seqs = range(first, first + n)
        keys = list(map(_U64_PACK, seqs))
        # (dupdata, overwrite, append) positional: ids only grow, so append is valid.
        t.txn.cursor(self._msgs_db).putmulti(
            zip(map(_MP.__add__, keys), records, strict=True), True, True, True
        )
        t.put_ready()  # (first: the run of this batch may extend theirs)
        prefix = topic + b"\x00" + R.U16.pack(R.PRIORITY_MAX - priority)
        self._add_run(t.txn.cursor(self._ready_db), prefix, first, first + n - 1)
        t.counters[_C_SEQ] += n
        t.counters[_C_READY] += n
        t.counters[_C_BYTES] += total
        t.topic_add(topic, n, total)
        return list(seqs)

    def _group_commit(
        self, items: list[tuple[bytes, bytes, int, bytes, dict[str, str] | None]]
    ) -> list[int]:
        """Commit ``items`` together with other threads' waiting puts (one fsync for all).

        The first thread to arrive leads: it waits briefly for the next puts of the
        threads of the previous commit (at most half a commit's time, and
        ``group_commit_delay``; not at all when its thread is the only one putting),
        commits everything waiting in one
        transaction (one fsync), then hands the lead to a thread that arrived
        meanwhile. With T threads putting, a commit carries up to T puts.
        """
        request = _PutRequest(items)
        with self._gc_lock:
            if request.ident in self._gc_last_threads:
                # How long threads take to come back after their commit, for the wait.
                back = time.monotonic() - self._gc_released
                self._gc_return_s = 0.9 * self._gc_return_s + 0.1 * back
            self._gc_pending.append(request)
            if len(self._gc_pending) >= self._gc_want:
                self._gc_cond.notify()
            if not self._gc_leader:
                self._gc_leader = True
                request.lead = True
        if not request.lead:
            request.wait()
        if request.lead and request.result is None and request.error is None:
            self._lead_commits()
        if request.error is not None:
            raise request.error
        assert request.result is not None
        return request.result

    def _lead_commits(self, max_rounds: int = 1) -> None:
        for _ in range(max_rounds):
            with self._gc_cond:
                now = time.monotonic()
                # The threads of the last commit are coming back with their next put
                # (those still putting): wait for them, and for those waiting already.
                expected = self._gc_last_threads.union(r.ident for r in self._gc_pending)
                if self.group_commit_delay > 0 and len(expected) > 1:
                    want = min(len(expected), self.group_commit_max)
                    # A thread released by the last commit needs a moment to come back:
                    # wait a few times the usual (bounded by a commit's time).
                    window = min(
                        self.group_commit_delay,
                        self._gc_commit_s,
                        max(3 * self._gc_return_s, 5e-5),
                    )
                    end = now + window
                    self._gc_want = want  # (arrivals wake the leader only at this count)
                    while len(self._gc_pending) < want:
                        left = end - time.monotonic()
                        if left <= 0:
                            break
                        self._gc_cond.wait(left)
                    self._gc_want = 1 << 30
                batch, self._gc_pending = self._gc_pending, []
                if batch:
                    self._gc_last = len(batch)
                    self._gc_last_threads = {r.ident for r in batch}
                    self._gc_commits += 1
                    self._gc_puts += len(batch)
            if not batch:
                break
            flat = [item for req in batch for item in req.items]
            try:
                started = time.monotonic()
                ids = self._write(functools.partial(self._put_items, items=flat), True, True)
                self._gc_commit_s = 0.8 * self._gc_commit_s + 0.2 * (time.monotonic() - started)
                offset = 0
                for req in batch:
                    req.result = ids[offset : offset + len(req.items)]
                    offset += len(req.items)
            except (QueueFullError, InvalidInputError):
                # Commit the requests one by one so that only those that do not fit fail.
                for req in batch:
                    try:
                        req.result = self._write(
                            functools.partial(self._put_items, items=req.items), puts=True
                        )
                    except BaseException as exc:
                        req.error = exc
            except BaseException as exc:
                for req in batch:
                    req.error = exc
            self._gc_released = time.monotonic()
            for req in batch:
                if not req.lead:
                    req.wake()
        with self._gc_lock:
            if self._gc_pending:
                successor = self._gc_pending[0]
                successor.lead = True
                successor.wake()
            else:
                self._gc_leader = False

    def _put_items(
        self, t: _Txn, items: list[tuple[bytes, bytes, int, bytes, dict[str, str] | None]]
    ) -> list[int]:
        dbs = self._dbs
        txn = t.txn
        now = self._now_ns() // 1000
        ids = []
        counters = t.counters
        msgs = dbs["msgs"]
        pending_keys: dict[bytes, int] = {}
        evicted = counters[_C_EVICTED]
        added = 0
        # Payloads shorter than this need neither compression nor encryption.
        plain_limit = (
            0
            if self._cipher is not None
            else (self.compress_threshold if self.compress_threshold is not None else 1 << 62)
        )
        for payload, topic, priority, kbytes, headers in items:
            if kbytes:
                existing = pending_keys.get(kbytes)
                if existing is None:
                    existing = self._lookup_key(t, kbytes, now)
                if existing is not None:
                    ids.append(existing)
                    continue
            seq = t.next_seq()
            if not kbytes and headers is None and len(payload) < plain_limit:
                # (the record encode_record makes, without its keyword parsing)
                record = (
                    _HEADER_PACK(
                        _FORMAT_VERSION, 0, _READY, priority, 0, now, 0, len(topic), 0, 0,
                        len(payload),
                    )
                    + topic
                    + payload
                )  # fmt: skip
            else:
                record = R.encode_record(
                    seq=seq,
                    payload=payload,
                    topic=topic,
                    key=kbytes,
                    headers=headers,
                    priority=priority,
                    created_us=now,
                    compress_threshold=self.compress_threshold,
                    cipher=self._cipher,
                    queue_id=self._queue_id,
                )
            size = len(record)
            if self.max_bytes is not None and counters[_C_BYTES] + size > self.max_bytes:
                self._make_room(t, size)
            txn.put(_MKEY(seq), record, db=msgs, append=True)
            t.ready_pending.append(R.ready_key(topic, priority, seq))
            counters[_C_READY] += 1
            counters[_C_BYTES] += size
            t.topic_add(topic, 1, size)
            if kbytes:
                expiry = now + int(self.dedup_window * 1e6)
                txn.put(kbytes, R.TWO_U64.pack(seq, expiry), db=dbs["keys"])
                txn.put(R.U64.pack(expiry) + kbytes, b"", db=dbs["kexp"])
                pending_keys[kbytes] = seq
            ids.append(seq)
            added += 1
        if pending_keys:
            self._prune_keys(t, now)
        t.unflushed += added
        if not t.deferrable:
            t.put_ready()
        known = t.known_topics
        # Only appended new messages to topics with stored totals: the counters may lag.
        t.defer = (
            not pending_keys
            and counters[_C_EVICTED] == evicted
            and known is not None
            and all(known.get(topic, (0, 0))[0] > 0 for topic in t.topic_delta)
        )
        return ids

    def _lookup_key(self, t: _Txn, kbytes: bytes, now: int) -> int | None:
        raw = t.txn.get(kbytes, db=self._dbs["keys"])
        if raw is None:
            return None
        seq, expiry = R.TWO_U64.unpack(raw)
        if expiry <= now:
            return None
        return int(seq)

    def _prune_keys(self, t: _Txn, now: int, limit: int = 64) -> None:
        kexp, keys = self._dbs["kexp"], self._dbs["keys"]
        cursor = t.txn.cursor(db=kexp)
        removed = 0
        while removed < limit and cursor.first():
            k = cursor.key()
            expiry = R.U64.unpack_from(k)[0]
            if expiry > now:
                break
            name = k[8:]
            raw = t.txn.get(name, db=keys)
            if raw is not None and R.TWO_U64.unpack(raw)[1] == expiry:
                t.txn.delete(name, db=keys)
            cursor.delete()
            removed += 1

    # -- eviction --------------------------------------------------------------------

    def _make_room(self, t: _Txn, size: int) -> None:
        assert self.max_bytes is not None
        t.put_ready()  # eviction reads the ready index
        if size > self.max_bytes:
            raise InvalidInputError(
                f"a record of {size:,} bytes cannot fit in max_bytes={self.max_bytes:,}"
            )
        if self.eviction == "reject":
            raise QueueFullError(
                f"the queue at {self.path} holds {t.counters[_C_BYTES]:,} of "
                f"{self.max_bytes:,} bytes; a message of {size:,} bytes does not fit"
            )
        while t.counters[_C_BYTES] + size > self.max_bytes:
            seq = None
            if self.eviction == "drop_lowest_priority":
                seq = self._lowest_priority_ready(t)
            if seq is None:
                seq = self._oldest_evictable(t)
            if seq is None:
                raise QueueFullError(
                    f"the queue at {self.path} is full and every stored message is in flight"
                )
            removed = self._remove(t, seq)
            t.counters[_C_EVICTED] += 1
            t.counters[_C_EVBYTES] += removed

    def _lowest_priority_ready(self, t: _Txn) -> int | None:
        best: tuple[bytes, int] | None = None
        cursor = t.txn.cursor(db=self._dbs["ready"])
        for topic in self._topics(t.txn, self._dbs["topics"]):
            prefix = topic + b"\x00"
            end = topic + b"\x01"
            if cursor.set_range(end):
                if not cursor.prev():
                    continue
            elif not cursor.last():
                continue
            key = cursor.key()
            if not key.startswith(prefix) or len(key) != len(prefix) + 10:
                continue
            prio_bytes = key[len(prefix) : len(prefix) + 2]
            cursor.set_range(prefix + prio_bytes)
            first = cursor.key()
            candidate = (prio_bytes, -R.U64.unpack_from(first, len(first) - 8)[0])
            if best is None or candidate > best:
                best = candidate
        return None if best is None else -best[1]

    def _oldest_evictable(self, t: _Txn) -> int | None:
        cursor = t.txn.cursor(db=self._msgs_db)
        if not cursor.set_range(_MP):
            return None
        for key, record in cursor.iternext():
            if _state(record) != R.INFLIGHT:  # state byte of the header
                return int(_U64_UNPACK_FROM(key, 1)[0])
        return None

    def _remove(self, t: _Txn, seq: int) -> int:
        """Delete a message in any state; returns its stored size in bytes."""
        skey = _MKEY(seq)
        record = t.txn.get(skey, db=self._dbs["msgs"])
        if record is None:
            return 0
        try:
            head = R.read_head(record)
        except CorruptDataError:
            # A quarantined record (a dead letter that does not decode).
            t.txn.delete(skey, db=self._dbs["msgs"])
            if t.txn.delete(skey[1:], db=self._dbs["dead"]):
                t.counters[_C_DEAD] -= 1
            t.counters[_C_BYTES] -= len(record)
            return len(record)
        self._unindex(t, seq, head)
        t.txn.delete(skey, db=self._dbs["msgs"])
        size = len(record)
        t.counters[_C_BYTES] -= size
        t.counters[_STATE_COUNTER[head.state]] -= 1
        if head.state != R.DEAD:
            t.topic_add(head.topic, -1, -size)
        return size

    def _unindex(self, t: _Txn, seq: int, head: R.Head) -> None:
        if head.state == R.READY:
            self._remove_ready(t.txn, [R.ready_key(head.topic, head.priority, seq)])
        elif head.state in (R.INFLIGHT, R.DELAYED):
            self._drop_timer(t, head.deadline_us, seq)
        elif head.state == R.DEAD:
            t.txn.delete(R.U64.pack(seq), db=self._dbs["dead"])

    # -- lease, ack, nack ---------------------------------------------------------------

    @staticmethod
    def _topics(txn: Any, db: Any = None) -> list[bytes]:
        return [bytes(k) for k in txn.cursor(db=db).iternext(keys=True, values=False)]

    # -- the ready index: runs of ids ------------------------------------------------

    def _add_ready(self, txn: Any, keys: list[bytes]) -> None:
        """Index ready messages given by their ready keys (sorted), as runs of ids."""
        if not keys:
            return
        cursor = txn.cursor(self._ready_db)
        unpack_from, ksize = _U64_UNPACK_FROM, len(keys[0])
        head = keys[0][:-8]
        first = last = unpack_from(keys[0], ksize - 8)[0]
        end = keys[-1]
        if end.startswith(head) and len(end) == ksize:
            # Sorted and distinct: one topic and priority throughout; one run if the
            # ids follow each other (consecutive puts).
            seq = unpack_from(end, ksize - 8)[0]
            if seq - first == len(keys) - 1:
                self._add_run(cursor, head, first, seq)
                return
        for key in itertools.islice(keys, 1, None):
            seq = unpack_from(key, len(key) - 8)[0]
            if seq == last + 1 and key.startswith(head) and len(key) == ksize:
                last = seq
                continue
            self._add_run(cursor, head, first, last)
            head, ksize = key[:-8], len(key)
            first = last = seq
        self._add_run(cursor, head, first, last)

    def _add_run(self, cursor: Any, head: bytes, first: int, last: int) -> None:
        """Index ids ``first``..``last`` (one topic and priority): the run before them
        grows when it ends just before ``first``."""
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

    def _remove_ready(self, txn: Any, keys: list[bytes]) -> None:
        """Take messages (given by their ready keys) out of the ready index's runs."""
        if not keys:
            return
        keys = sorted(keys)
        cursor = txn.cursor(self._ready_db)
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
            if not (found and cursor.key() == key) and not (
                cursor.prev() if found else cursor.last()
            ):
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

    def _ready_keys(self, txn: Any, topic: str | None, limit: int) -> tuple[list[bytes], bool]:
        """The first ``limit`` ready keys in lease order, and whether they are consecutive
        in the ready index (one topic)."""
        ready = self._ready_db
        if topic is None:
            topics = self._topics(txn, self._topics_db)
            if not topics:
                return [], True
            if len(topics) > 1:

                def walk(prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
                    cursor = txn.cursor(ready)
                    if not cursor.set_range(prefix):
                        return
                    for key, value in cursor.iternext():
                        if not key.startswith(prefix) or len(key) != len(prefix) + 10:
                            return
                        head = key[:-8]
                        first = _U64_UNPACK_FROM(key, len(key) - 8)[0]
                        last = _U64_UNPACK(value)[0] if value else first
                        for seq in range(first, last + 1):
                            one = head + _U64_PACK(seq)
                            yield one[-10:], one

                walks = [walk(t + b"\x00") for t in topics]
                merged = heapq.merge(*walks)
                return [key for _, key in itertools.islice(merged, limit)], False
            prefix = topics[0] + b"\x00"
        else:
            prefix = topic.encode() + b"\x00"
        cursor = txn.cursor(ready)
        if not cursor.set_range(prefix):
            return [], True
        # A topic's runs are contiguous (topics hold no NUL), up to the next topic's.
        end = prefix[:-1] + b"\x01"
        out: list[bytes] = []
        for key, value in cursor.iternext():
            if key >= end:
                break
            first = _U64_UNPACK_FROM(key, len(key) - 8)[0]
            count = _U64_UNPACK(value)[0] - first + 1 if value else 1
            out.extend(
                map(key[:-8].__add__, map(_U64_PACK, range(first, first + min(count, limit))))
            )
            limit -= count
            if limit <= 0:
                break
        return out, True

    def _promote_due(self, t: _Txn, now: int, limit: int = 100_000) -> None:
        """Move expired leases and due retries from ``timers`` back to ``ready`` (or dead)."""
        timers, msgs = self._dbs["timers"], self._dbs["msgs"]
        cursor = t.txn.cursor(db=timers)
        if not cursor.first():
            return
        due: list[tuple[bytes, int, int, bytes]] = []
        for key, value in cursor.iternext():
            deadline, seq = R.TWO_U64.unpack(key)
            if deadline > now or len(due) >= limit:
                break
            due.append((key, deadline, seq, value))
        for key, deadline, first, value in due:
            t.txn.delete(key, db=timers)
            # A lease's entry lists its ids (8 bytes each); a retry's (or a format 1
            # lease's) is empty: its id is in the key.
            seqs = [first] if not value else [s for (s,) in R.U64.iter_unpack(value)]
            for seq in seqs:
                skey = _MKEY(seq)
                record = t.txn.get(skey, db=msgs)
                if record is None:
                    continue
                head = R.read_head(record)
                if head.state not in (R.INFLIGHT, R.DELAYED) or head.deadline_us != deadline:
                    continue  # acked, nacked... since: a lease's entry is not updated for each
                t.counters[_STATE_COUNTER[head.state]] -= 1
                if head.state == R.INFLIGHT and head.attempts >= self.max_attempts:
                    self._to_dead(t, seq, head, record)
                    continue
                head.state = R.READY
                head.deadline_us = 0
                t.txn.put(skey, R.restate(record, head), db=msgs)
                self._add_ready(t.txn, [R.ready_key(head.topic, head.priority, seq)])
                t.counters[_C_READY] += 1

    def _drop_timer(self, t: _Txn, deadline: int, seq: int) -> None:
        """Delete the timers entry of message ``seq`` alone (not a lease's of several)."""
        tkey = R.timer_key(deadline, seq)
        value = t.txn.get(tkey, None, self._timers_db)
        if value is not None and len(value) <= 8:
            t.txn.delete(tkey, None, self._timers_db)

    def _take_inflight(self, t: _Txn, seq: int, token: int) -> tuple[R.Head, bytes] | None:
        """Take message ``seq`` out of flight (timer deleted, counter decremented).

        Returns its head and record, or None when it is not in flight or ``token``
        (a lease deadline, 0 for any) names an older lease.
        """
        record = t.txn.get(_MKEY(seq), db=self._dbs["msgs"])
        if record is None or _state(record) != R.INFLIGHT:
            return None
        head = R.read_head(record)
        if token and head.deadline_us != token:
            return None
        self._drop_timer(t, head.deadline_us, seq)
        t.counters[_C_INFLIGHT] -= 1
        return head, record

    def _to_dead(self, t: _Txn, seq: int, head: R.Head, record: bytes) -> None:
        head.state = R.DEAD
        head.deadline_us = 0
        t.txn.put(_MKEY(seq), R.restate(record, head), db=self._dbs["msgs"])
        t.txn.put(R.U64.pack(seq), b"", db=self._dbs["dead"])
        t.counters[_C_DEAD] += 1
        t.topic_add(head.topic, -1, -len(record))

    def _message(self, seq: int, record: bytes, head: R.Head) -> Message:
        payload, headers = R.decode_body(record, head, seq, self._cipher, self._queue_id)
        return Message(
            id=seq,
            payload=payload,
            topic=head.topic.decode(),
            priority=head.priority,
            key=head.key.decode() if head.key else None,
            headers=headers,
            attempt=head.attempts,
            created=head.created_us / 1e6,
            lease_token=head.deadline_us if head.state == R.INFLIGHT else 0,
            queue_id=self.queue_id,
        )

    def lease(
        self,
        max_messages: int = 100,
        *,
        topic: str | None = None,
        visibility_timeout: float = 30.0,
        max_bytes: int | None = None,
    ) -> list[Message]:
        """Lease up to ``max_messages`` ready messages, highest priority first, FIFO within it.

        Leased messages are invisible to other consumers for ``visibility_timeout``
        seconds; then, unless acked or nacked, they are redelivered with their
        attempt count increased (or become dead letters after ``max_attempts``).
        Takes O(batch) time however long the backlog is.

        Args:
            max_messages: Largest batch returned.
            topic: Only this topic, or every topic (merged by priority, then age).
            visibility_timeout: Lease duration, in seconds.
            max_bytes: Stop before the payloads exceed this many bytes (at least one
                message is leased).
        """
        if not isinstance(max_messages, int) or max_messages < 1:
            raise InvalidInputError("max_messages must be an int >= 1")
        if not visibility_timeout > 0:
            raise InvalidInputError("visibility_timeout must be > 0 seconds")
        vt_us = int(visibility_timeout * 1e6)
        batch = max_messages

        def txn_fn(t: _Txn) -> list[Message]:
            now = self._now_ns() // 1000
            self._promote_due(t, now)
            txn = t.txn
            keys = self._ready_keys(txn, topic, batch)[0]
            out: list[Message] = []
            if not keys:
                return out
            put = txn.put
            # Cursors: one pass over the ready keys (contiguous per topic, so each delete
            # usually finds the cursor already on its key), one getmulti and one
            # putmulti for the records, one putmulti for the timers.
            msgs_cursor = txn.cursor(self._msgs_db)
            skeys = [_MP + key[-8:] for key in keys]
            rows = msgs_cursor.getmulti(skeys)  # in order; only the records found
            if len(rows) != len(skeys):
                found = dict(rows)
                rows = [(skey, found.get(skey)) for skey in skeys]
            deadline = (now + vt_us) & ~1  # even: a lease (retry deadlines are odd)
            hsize, hpack, hunpack, qid = (
                _HEADER_SIZE,
                _HEADER_PACK,
                R.HEADER.unpack_from,
                self.queue_id,
            )
            names = self._topic_names
            version = _FORMAT_VERSION
            total = 0
            records: list[tuple[bytes, bytes]] = []
            lease_key = b""
            byte_limit = max_bytes if max_bytes is not None else 1 << 62
            dead = 0
            for taken, (skey, record) in enumerate(rows):  # noqa: B007 (taken used after)
                if record is None:
                    continue
                try:
                    ver, flags, _, prio, attempts, created, _, tlen, klen, hlen, raw = hunpack(
                        record
                    )
                    if ver != version:
                        raise CorruptDataError("bad record header")
                    total += raw
                    if total > byte_limit and out:
                        break
                    attempts += attempts < 65535
                    record = (
                        hpack(
                            version,
                            flags,
                            _INFLIGHT,
                            prio,
                            attempts,
                            created,
                            deadline,
                            tlen,
                            klen,
                            hlen,
                            raw,
                        )
                        + record[hsize:]
                    )
                    body = hsize + tlen + klen
                    seq = _U64_UNPACK_FROM(skey, 1)[0]
                    if flags == 0 and hlen == 0 and len(record) - body == raw:
                        tbytes = record[hsize : hsize + tlen]
                        name = names.get(tbytes)
                        if name is None:
                            name = tbytes.decode()
                            if len(names) < 4096:
                                names[tbytes] = name
                        message = Message(
                            seq,
                            record[body:],
                            name,
                            prio,
                            record[hsize + tlen : body].decode() if klen else None,
                            {},
                            attempts,
                            created / 1e6,
                            deadline,
                            qid,
                        )
                    else:
                        message = self._message(seq, record, R.read_head(record))
                        tbytes = record[hsize : hsize + tlen]
                except (CorruptDataError, UnicodeDecodeError, struct.error):
                    # Quarantine what does not decode (a damaged page, a wrong key):
                    # it becomes a dead letter instead of blocking the queue.
                    put(skey[1:], b"", db=self._dbs["dead"])
                    dead += 1
                    continue
                if not records:
                    # One timers entry for the lease: (deadline, first id) -> its ids.
                    lease_key = _U64_PACK(deadline) + skey[1:]
                message._lease_key = lease_key
                records.append((skey, record))
                out.append(message)
            else:
                taken = len(rows)
            self._remove_ready(txn, keys[:taken])
            if records:
                msgs_cursor.putmulti(records)
            if records:
                ids = b"".join([skey[1:] for skey, _ in records])
                if not txn.put(lease_key, ids, True, False, False, self._timers_db):
                    # Another lease with this deadline starts at the same id (the first
                    # was nacked and leased again within the clock's tick, or the clock
                    # stepped back): one entry lists both (expiry checks each record).
                    listed = txn.get(lease_key, None, self._timers_db)
                    txn.put(lease_key, listed + ids, True, True, False, self._timers_db)
            t.counters[_C_READY] -= len(out) + dead
            t.counters[_C_DEAD] += dead
            t.counters[_C_INFLIGHT] += len(out)
            return out

        while True:
            try:
                return self._write(txn_fn)
            except QueueFullError:
                if batch == 1:
                    raise
                batch //= 2  # a lease rewrites its records: on a full disk, take fewer

    def _resolve(self, ids: Iterable[int | Message] | int | Message) -> list[tuple[int, int]]:
        if isinstance(ids, (int, Message)):
            ids = [ids]
        out = []
        for item in ids:
            if type(item) is Message or isinstance(item, Message):
                out.append((item.id, item.lease_token))
            elif isinstance(item, int) and not isinstance(item, bool):
                out.append((item, 0))
            else:
                raise InvalidInputError(
                    f"expected message ids or Messages, got {type(item).__name__}"
                )
        return out

    def ack(self, ids: Iterable[int | Message] | int | Message) -> int:
        """Remove delivered in-flight messages; returns how many were acked.

        Ids not in flight (already acked, evicted, or re-leased to another consumer
        after their lease expired, when a :class:`Message` is passed) are ignored.
        """
        if isinstance(ids, (int, Message)):
            ids = [ids]
        quads: list[tuple[int, int, bytes]] = []
        for item in ids:
            if type(item) is Message or isinstance(item, Message):
                quads.append((item.id, item.lease_token, item._lease_key))
            elif isinstance(item, int) and not isinstance(item, bool):
                quads.append((item, 0, b""))
            else:
                raise InvalidInputError(
                    f"expected message ids or Messages, got {type(item).__name__}"
                )

        def txn_fn(t: _Txn) -> int:
            timers = self._timers_db
            txn = t.txn
            # A cursor: a lease's records are contiguous most often, so each delete
            # usually finds the cursor on its key.
            msgs_cursor = txn.cursor(self._msgs_db)
            at, value, delete = msgs_cursor.key, msgs_cursor.value, msgs_cursor.delete
            find = msgs_cursor.set_key
            pack, unpack = _U64_PACK, _ACK_VIEW.unpack_from
            hsize, mp, inflight = _HEADER_SIZE, _MP, _INFLIGHT
            done = 0
            freed = 0
            per_topic: dict[bytes, list[int]] = {}
            # lease entry key -> ids acked (8 bytes each)
            by_lease: dict[bytes, list[bytes]] = {}
            last_lease = b""
            acked: list[bytes] = []
            for seq, token, lease_key in quads:
                seq8 = pack(seq)
                skey = mp + seq8
                if at() != skey and not find(skey):
                    continue
                record = value()
                if len(record) < hsize or record[2] != inflight:
                    continue
                deadline, tlen = unpack(record)
                if token and deadline != token:
                    continue  # an older lease of the message: ignored
                delete()
                if lease_key and token:  # (the lease's key holds its deadline, the token)
                    if lease_key != last_lease:
                        last_lease = lease_key
                        acked = by_lease.setdefault(lease_key, [])
                    acked.append(seq8)
                else:
                    self._drop_timer(t, deadline, seq)
                size = len(record)
                topic = record[hsize : hsize + tlen]
                entry = per_topic.get(topic)
                if entry is None:
                    per_topic[topic] = [1, size]
                else:
                    entry[0] += 1
                    entry[1] += size
                freed += size
                done += 1
            for lease_key, acked in by_lease.items():
                # The lease's entry keeps the ids not acked yet (expiry skips the ids
                # that were acked, nacked... otherwise, by their records).
                listed = txn.get(lease_key, None, timers)
                if listed is None:
                    continue
                joined = b"".join(acked)
                if listed != joined:
                    gone = set(acked)
                    rest = [listed[i : i + 8] for i in range(0, len(listed), 8)]
                    rest = [s for s in rest if s not in gone]
                    if rest:
                        txn.put(lease_key, b"".join(rest), True, True, False, timers)
                        continue
                txn.delete(lease_key, None, timers)
            t.counters[_C_INFLIGHT] -= done
            t.counters[_C_BYTES] -= freed
            for topic, (count, nbytes) in per_topic.items():
                t.topic_add(topic, -count, -nbytes)
            return done

        return self._write(txn_fn)

    def reject(self, ids: Iterable[int | Message] | int | Message) -> int:
        """Make in-flight messages dead letters now (the other end refused them for good)."""
        pairs = self._resolve(ids)

        def txn_fn(t: _Txn) -> int:
            done = 0
            for seq, token in pairs:
                taken = self._take_inflight(t, seq, token)
                if taken is None:
                    continue
                head, record = taken
                self._to_dead(t, seq, head, record)
                done += 1
            return done

        return self._write(txn_fn)

    def nack(
        self,
        ids: Iterable[int | Message] | int | Message,
        *,
        delay: float | None = None,
        count_attempt: bool = True,
    ) -> int:
        """Return in-flight messages for a later retry; returns how many were nacked.

        The retry waits ``delay`` seconds, or the queue's backoff for the message's
        attempt count (exponential, with jitter). A message that has been delivered
        ``max_attempts`` times becomes a dead letter instead. With
        ``count_attempt=False`` (the link was down: the message was never really
        tried) the delivery is not counted and the message never becomes dead.
        """
        pairs = self._resolve(ids)
        if delay is not None and not delay >= 0:
            raise InvalidInputError("delay must be >= 0 seconds")

        def txn_fn(t: _Txn) -> int:
            msgs = self._dbs["msgs"]
            now = self._now_ns() // 1000
            done = 0
            for seq, token in pairs:
                taken = self._take_inflight(t, seq, token)
                if taken is None:
                    continue
                head, record = taken
                done += 1
                if not count_attempt:
                    head.attempts = max(head.attempts - 1, 0)
                elif head.attempts >= self.max_attempts:
                    self._to_dead(t, seq, head, record)
                    continue
                wait = self.backoff.delay(head.attempts) if delay is None else delay
                if wait <= 0:
                    head.state = R.READY
                    head.deadline_us = 0
                    self._add_ready(t.txn, [R.ready_key(head.topic, head.priority, seq)])
                    t.counters[_C_READY] += 1
                else:
                    head.state = R.DELAYED
                    # odd: a retry (lease deadlines are even, see ack)
                    head.deadline_us = (now + int(wait * 1e6)) | 1
                    t.txn.put(R.timer_key(head.deadline_us, seq), b"", db=self._dbs["timers"])
                    t.counters[_C_DELAYED] += 1
                t.txn.put(_MKEY(seq), R.restate(record, head), db=msgs)
            return done

        return self._write(txn_fn)

    # -- dead letters -----------------------------------------------------------------

    def dead_letters(self, limit: int = 100) -> list[Message]:
        """Up to ``limit`` dead letters, oldest first."""

        def fn(txn: Any) -> list[tuple[int, bytes, R.Head]]:
            out: list[tuple[int, bytes, R.Head]] = []
            for key in txn.cursor(db=self._dbs["dead"]).iternext(keys=True, values=False):
                if len(out) >= limit:
                    break
                seq = R.U64.unpack(key)[0]
                record = txn.get(_MP + key, db=self._dbs["msgs"])
                if record is None:
                    continue
                try:
                    out.append((seq, bytes(record), R.read_head(record)))
                except CorruptDataError:
                    continue
            return out

        out = []
        for row in self._read(fn):
            try:
                out.append(self._message(*row))
            except CorruptDataError:
                continue  # quarantined: its bytes do not decode
        return out

    def requeue_dead(self, ids: Iterable[int] | None = None) -> int:
        """Make dead letters (all, or the given ids) ready again with a fresh attempt count."""
        wanted = None if ids is None else [i for i, _ in self._resolve(list(ids))]

        def txn_fn(t: _Txn) -> int:
            dead = self._dbs["dead"]
            seqs = (
                [
                    R.U64.unpack(k)[0]
                    for k in t.txn.cursor(db=dead).iternext(keys=True, values=False)
                ]
                if wanted is None
                else wanted
            )
            done = 0
            for seq in seqs:
                skey = _MKEY(seq)
                record = t.txn.get(skey, db=self._dbs["msgs"])
                if record is None or _state(record) != R.DEAD:
                    continue
                try:
                    head = R.read_head(record)
                except CorruptDataError:
                    continue
                t.txn.delete(skey[1:], db=dead)
                head.state = R.READY
                head.attempts = 0
                t.txn.put(skey, R.restate(record, head), db=self._dbs["msgs"])
                self._add_ready(t.txn, [R.ready_key(head.topic, head.priority, seq)])
                t.counters[_C_DEAD] -= 1
                t.counters[_C_READY] += 1
                t.topic_add(head.topic, 1, len(record))
                done += 1
            return done

        return self._write(txn_fn)

    # -- inspection --------------------------------------------------------------------

    def peek(self, max_messages: int = 10, *, topic: str | None = None) -> list[Message]:
        """The next ready messages in lease order, without leasing them."""

        def fn(txn: Any) -> list[tuple[int, bytes, R.Head]]:
            out: list[tuple[int, bytes, R.Head]] = []
            keys = self._ready_keys(txn, topic, max_messages)[0]
            # The uncounted puts' ready keys are not written yet (see _Txn).
            tail: list[bytes] = []
            self._counters(txn, None, tail)
            if tail:
                if topic is not None:
                    prefix = topic.encode() + b"\x00"
                    tail = [k for k in tail if k.startswith(prefix) and len(k) == len(prefix) + 10]
                keys = sorted(set(keys).union(tail), key=lambda k: k[-10:])[:max_messages]
            for key in keys:
                seq = R.U64.unpack_from(key, len(key) - 8)[0]
                record = txn.get(_MKEY(seq), db=self._dbs["msgs"])
                if record is not None:
                    out.append((seq, bytes(record), R.read_head(record)))
            return out

        return [self._message(*row) for row in self._read(fn)]

    def _counters(
        self,
        txn: Any,
        topic_delta: dict[bytes, list[int]] | None = None,
        ready_keys: list[bytes] | None = None,
    ) -> list[int]:
        """The exact counters: the stored ones plus the puts not yet counted (see _Txn)."""
        raw = txn.get(b"counters", db=self._dbs["meta"])
        counters = list(_COUNTERS.unpack(raw)) if raw else [0] * 8
        _count_tail(
            txn, self._msgs_db, counters, {} if topic_delta is None else topic_delta, ready_keys
        )
        return counters

    def stats(self) -> QueueStats:
        """Depth per topic, bytes, oldest age, in flight, dead and evicted counts."""

        def fn(txn: Any) -> QueueStats:
            tail: dict[bytes, list[int]] = {}
            c = self._counters(txn, tail)
            totals: dict[bytes, tuple[int, int]] = {}
            for k, v in txn.cursor(db=self._dbs["topics"]):
                totals[bytes(k)] = R.TWO_U64.unpack(v)
            for k, (dn, db) in tail.items():
                n, b = totals.get(k, (0, 0))
                totals[k] = (n + dn, b + db)
            topics = {k.decode(): (int(n), int(b)) for k, (n, b) in totals.items() if n > 0}
            cursor = txn.cursor(db=self._msgs_db)
            oldest = None
            if cursor.set_range(_MP):
                head = R.read_head(cursor.value())
                oldest = max(self._now_ns() / 1e9 - head.created_us / 1e6, 0.0)
            return QueueStats(
                depth=c[_C_READY] + c[_C_DELAYED] + c[_C_INFLIGHT],
                ready=c[_C_READY],
                delayed=c[_C_DELAYED],
                in_flight=c[_C_INFLIGHT],
                dead=c[_C_DEAD],
                bytes=c[_C_BYTES],
                max_bytes=self.max_bytes,
                evicted=c[_C_EVICTED],
                evicted_bytes=c[_C_EVBYTES],
                oldest_age=oldest,
                topics=topics,
                map_size=int(self._env.info()["map_size"]),
            )

        return self._read(fn)

    def __len__(self) -> int:
        """Messages not yet acked or dead (ready, delayed and in flight)."""
        c = self._read(self._counters)
        return c[_C_READY] + c[_C_DELAYED] + c[_C_INFLIGHT]

    # -- life cycle ---------------------------------------------------------------------

    def sync(self) -> None:
        """Flush to disk now (an fsync), whatever the durability level."""
        with self._lock:
            self._check_open()
            self._env.sync(True)

    def close(self) -> None:
        """Close the environment; further calls raise :class:`~edgekit.errors.QueueError`."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._env.close()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def __enter__(self) -> SyncQueue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self)} messages"
        return f"SyncQueue({str(self.path)!r}, durability={self.durability!r}, {state})"
