"""SyncQueue: the facade. It checks arguments and runs each call's transaction from
_puts, _leases and _index on the :class:`~._store.Store`."""

from __future__ import annotations

import functools
import os
import struct
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

from edgekit.errors import CorruptDataError, InvalidInputError, QueueFullError
from edgekit.sync.backoff import Backoff
from edgekit.sync.queue import _index, _leases, _puts
from edgekit.sync.queue._check import QueueCheck, check_queue
from edgekit.sync.queue._group import GroupCommit, Item
from edgekit.sync.queue._layout import (
    C_BYTES,
    C_DEAD,
    C_DELAYED,
    C_EVBYTES,
    C_EVICTED,
    C_INFLIGHT,
    C_READY,
    HEADER,
    HEADER_SIZE,
    MSG_PREFIX,
    PRIORITY_MAX,
    PRIORITY_MIN,
    READY_ORDER,
    TWO_U64,
    U64,
    dead_info,
    read_head,
    ready_prefix,
    seq_key,
)
from edgekit.sync.queue._store import Durability, Eviction, MiB, Store
from edgekit.sync.queue._tally import read_counters
from edgekit.sync.queue._types import Message, QueueStats
from edgekit.sync.topics import check_headers, check_topic

__all__ = ["SyncQueue"]

Ids = Iterable[int | Message] | int | Message


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
            AES-256-GCM (needs the ``crypto`` extra). Topics and keys are not. A queue
            that holds unencrypted messages is refused unless ``migrate`` is True.
        migrate: With ``encryption_key``: encrypt the queue's unencrypted messages with
            it, in place and in one transaction (their ids, states, attempts and times
            kept); from then on the queue opens only with that key.
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
        InvalidInputError: An argument is wrong, ``encryption_key`` does not match, or
            it is given for a queue of unencrypted messages without ``migrate=True``.
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
        migrate: bool = False,
        max_message_bytes: int = 16 * MiB,
        map_size: int = MiB,
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
        if clock is not None and not callable(clock):
            raise InvalidInputError("clock must be a callable returning seconds since the epoch")
        self.max_message_bytes = int(max_message_bytes)
        if max_bytes is not None:
            self.max_message_bytes = min(self.max_message_bytes, max_bytes)
        threshold = compress_threshold if compression == "lz4" else None
        # The one clock, in nanoseconds since the epoch: every time read goes through it.
        now_ns: Callable[[], int] = time.time_ns if clock is None else (lambda: int(clock() * 1e9))
        self._store = store = Store(
            Path(path),
            map_size=int(map_size),
            durability=durability,
            max_bytes=max_bytes,
            eviction=eviction,
            compress_threshold=threshold,
            max_attempts=max_attempts,
            backoff=backoff or Backoff(),
            dedup_window=float(dedup_window),
            now_ns=now_ns,
        )
        try:
            store.set_key(None if encryption_key is None else bytes(encryption_key), migrate)
        except BaseException:
            store.close()
            raise
        self._group = GroupCommit(self._write_items, group_commit_delay)
        self._power = durability == "power"
        self._put_fast = functools.partial(_puts.put_fast, store)
        self._topic_cache: dict[str, bytes] = {}
        # put's fast path takes payloads shorter than this (0: never, with encryption);
        # compression and max_message_bytes bound it.
        self._plain_limit = 0
        if encryption_key is None:
            self._plain_limit = min(
                self.max_message_bytes + 1, threshold if threshold is not None else 1 << 62
            )

    # -- settings (read-only) ---------------------------------------------------------

    @property
    def path(self) -> Path:
        """The queue's directory."""
        return self._store.path

    @property
    def queue_id(self) -> str:
        """The queue's id (stable for its life; ``Message.dedup_id`` starts with it)."""
        return self._store.queue_name

    @property
    def durability(self) -> Durability:
        return self._store.durability

    @property
    def max_bytes(self) -> int | None:
        return self._store.max_bytes

    @property
    def eviction(self) -> Eviction:
        return self._store.eviction

    @property
    def compress_threshold(self) -> int | None:
        return self._store.compress_threshold

    @property
    def max_attempts(self) -> int:
        return self._store.max_attempts

    @property
    def backoff(self) -> Backoff:
        return self._store.backoff

    @property
    def dedup_window(self) -> float:
        return self._store.dedup_window

    @property
    def group_commit_delay(self) -> float:
        return self._group.delay

    # -- put ----------------------------------------------------------------------------

    def _validate(
        self, payload: object, topic: object, priority: object, key: object, headers: object
    ) -> Item:
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
        tbytes = check_topic(topic)  # valid on every transport (edgekit/sync/topics.py)
        check_headers(headers)
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise InvalidInputError("priority must be an int")
        if not PRIORITY_MIN <= priority <= PRIORITY_MAX:
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

    def _write_items(self, items: list[Item], deferrable: bool) -> list[int]:
        """The general put of ``items``, in one transaction."""
        store = self._store
        nbytes = sum(len(item[0]) for item in items)
        return store.write(lambda t: _puts.put_items(store, t, items), deferrable, True, nbytes)

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
            if self._power:
                return self._group.put_alone(self._put_fast, (payload, tbytes, priority, b"", None))
            return _puts.put_fast(self._store, payload, tbytes, priority)
        item = self._validate(payload, topic, priority, key, headers)
        if self._power:
            return self._group.put([item])[0]
        return self._write_items([item], True)[0]

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
        store = self._store
        if keys is None or all(k is None for k in keys):
            store.reserve(sum(lens))
            return store.write(
                lambda t: _puts.put_same(store, t, payload_list, tbytes, prio, hdrs, lens),
                puts=True,
                nbytes=sum(lens),
            )
        items = [
            self._validate(p, topic, priority, k, headers)
            for p, k in zip(payload_list, keys, strict=True)
        ]
        return self._write_items(items, False)

    # -- lease, ack, nack ---------------------------------------------------------------

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
        store = self._store
        while True:
            try:
                lease = functools.partial(
                    _leases.lease,
                    store,
                    topic=topic,
                    batch=batch,
                    vt_us=vt_us,
                    max_bytes=max_bytes,
                )
                return store.write(lease)
            except QueueFullError:
                if batch == 1:
                    raise
                batch //= 2  # a lease rewrites its records: on a full disk, take fewer

    @staticmethod
    def _resolve(ids: Ids) -> list[tuple[int, int, bytes]]:
        """(id, lease token, lease key) of each id or Message."""
        if isinstance(ids, (int, Message)):
            ids = [ids]
        out: list[tuple[int, int, bytes]] = []
        for item in ids:
            if type(item) is Message or isinstance(item, Message):
                out.append((item.id, item.lease_token, item._lease_key))
            elif isinstance(item, int) and not isinstance(item, bool):
                out.append((item, 0, b""))
            else:
                raise InvalidInputError(
                    f"expected message ids or Messages, got {type(item).__name__}"
                )
        return out

    def ack(self, ids: Ids) -> int:
        """Remove delivered in-flight messages; returns how many were acked.

        Ids not in flight (already acked, evicted, or re-leased to another consumer
        after their lease expired, when a :class:`Message` is passed) are ignored.
        """
        quads = self._resolve(ids)
        return self._store.write(lambda t: _leases.ack(t, quads))

    def reject(self, ids: Ids, *, reason: str | None = None) -> int:
        """Make in-flight messages dead letters now (the other end refused them for good);
        returns how many. ``reason`` (default "rejected") is kept with each dead letter."""
        if reason is not None and not isinstance(reason, str):
            raise InvalidInputError(f"reason must be a str or None, not {type(reason).__name__}")
        pairs = [(seq, token) for seq, token, _ in self._resolve(ids)]
        store = self._store
        return store.write(lambda t: _leases.reject(store, t, pairs, reason))

    def nack(
        self,
        ids: Ids,
        *,
        delay: float | None = None,
        count_attempt: bool = True,
        error: str | None = None,
    ) -> int:
        """Return in-flight messages for a later retry; returns how many were nacked.

        The retry waits ``delay`` seconds, or the queue's backoff for the message's
        attempt count (exponential, with jitter). A message that has been delivered
        ``max_attempts`` times becomes a dead letter instead, with the reason
        "max_attempts (N) reached". With ``count_attempt=False`` (the link was down:
        the message was never really tried) the delivery is not counted and the
        message never becomes dead. ``error`` (why the delivery failed) is kept as the
        message's last error, shown by :meth:`dead_letters` if it dies.
        """
        pairs = [(seq, token) for seq, token, _ in self._resolve(ids)]
        if delay is not None and not delay >= 0:
            raise InvalidInputError("delay must be >= 0 seconds")
        if error is not None and not isinstance(error, str):
            raise InvalidInputError(f"error must be a str or None, not {type(error).__name__}")
        store = self._store
        return store.write(lambda t: _leases.nack(store, t, pairs, delay, count_attempt, error))

    # -- dead letters -------------------------------------------------------------------

    def evict(self, target_bytes: int) -> int:
        """Drop messages by the queue's eviction policy until at most ``target_bytes`` are
        stored (``"reject"`` drops none; in-flight messages are never dropped); counted in
        ``stats().evicted``. A resource guard calls it when the disk runs low. Returns how
        many were dropped."""
        if isinstance(target_bytes, bool) or not isinstance(target_bytes, int) or target_bytes < 0:
            raise InvalidInputError(f"target_bytes must be an int >= 0, not {target_bytes!r}")
        store = self._store
        return store.write(lambda t: _puts.evict_to(store, t, target_bytes))

    def dead_letters(self, limit: int = 100) -> list[Message]:
        """Up to ``limit`` dead letters, oldest first, each with ``dead_reason``,
        ``last_error`` and ``dead_at``. A quarantined record (one that does not decode:
        damaged, or encrypted with another key) is listed with an empty payload and a
        reason starting "corrupt record"."""
        store = self._store
        out = []
        for seq, record, value in store.read(lambda txn: _leases.dead_rows(txn, store.dbs, limit)):
            when, reason, error = dead_info(value)
            topic = ""
            try:
                head = read_head(record)
                topic = head.topic.decode()
                msg = _leases.message(store, seq, record, head)
            except (CorruptDataError, UnicodeDecodeError, struct.error) as exc:
                msg = Message(id=seq, payload=b"", topic=topic, queue_id=store.queue_name)
                if reason is None or not reason.startswith("corrupt record"):
                    reason = f"corrupt record: {exc}"
            msg.dead_reason, msg.last_error, msg.dead_at = reason, error, when
            out.append(msg)
        return out

    def requeue_dead(self, ids: Iterable[int | Message] | None = None) -> int:
        """Make dead letters (all, or the given ids) ready again with a fresh attempt
        count; returns how many. Quarantined records cannot be delivered and stay dead
        (delete them with :meth:`delete_dead`)."""
        wanted = None if ids is None else [i for i, _, _ in self._resolve(list(ids))]
        return self._store.write(lambda t: _leases.requeue_dead(t, wanted))

    def delete_dead(self, ids: Iterable[int | Message] | None = None) -> int:
        """Delete dead letters (all, or the given ids) for good; returns how many."""
        wanted = None if ids is None else [i for i, _, _ in self._resolve(list(ids))]
        return self._store.write(lambda t: _leases.delete_dead(t, wanted))

    # -- inspection ---------------------------------------------------------------------

    def peek(self, max_messages: int = 10, *, topic: str | None = None) -> list[Message]:
        """The next ready messages in lease order, without leasing them. A message that
        does not decode is quarantined (as ``lease`` does) and skipped."""
        store = self._store
        dbs = store.dbs

        def fn(txn: Any) -> tuple[list[Message], list[tuple[bytes, Exception]]]:
            out: list[Message] = []
            bad: list[tuple[bytes, Exception]] = []
            keys = _index.ready_keys(txn, dbs.ready, dbs.topics, topic, max_messages)[0]
            # The uncounted puts' ready keys are not written yet (see _tally).
            tail: list[bytes] = []
            read_counters(txn, dbs, None, tail)
            if tail:
                if topic is not None:
                    prefix = ready_prefix(topic.encode())
                    tail = [
                        k
                        for k in tail
                        if k.startswith(prefix) and len(k) == len(prefix) + READY_ORDER
                    ]
                keys = sorted(set(keys).union(tail), key=lambda k: k[-READY_ORDER:])[:max_messages]
            for key in keys:
                seq = U64.unpack_from(key, len(key) - 8)[0]
                record = txn.get(seq_key(seq), db=dbs.msgs)
                if record is not None:
                    try:
                        out.append(_leases.message(store, seq, bytes(record), read_head(record)))
                    except (CorruptDataError, UnicodeDecodeError, struct.error) as exc:
                        bad.append((key, exc))
            return out, bad

        messages, bad = store.read(fn)
        for _ in range(4):  # (each round quarantines what the last one met)
            if not bad:
                break
            store.write(functools.partial(_leases.quarantine_ready, store, bad=bad))
            messages, bad = store.read(fn)
        return messages

    def stats(self) -> QueueStats:
        """Depth per topic, bytes, oldest age, in flight, dead and evicted counts, group commits."""
        store = self._store
        dbs = store.dbs

        def fn(txn: Any) -> QueueStats:
            tail: dict[bytes, list[int]] = {}
            c = read_counters(txn, dbs, tail)
            totals: dict[bytes, tuple[int, int]] = {}
            for k, v in txn.cursor(db=dbs.topics):
                totals[bytes(k)] = TWO_U64.unpack(v)
            for k, (dn, db) in tail.items():
                n, b = totals.get(k, (0, 0))
                totals[k] = (n + dn, b + db)
            topics = {k.decode(): (int(n), int(b)) for k, (n, b) in totals.items() if n > 0}
            cursor = txn.cursor(db=dbs.msgs)
            oldest = None
            if cursor.set_range(MSG_PREFIX) and len(cursor.value()) >= HEADER_SIZE:
                created_us = HEADER.unpack_from(cursor.value())[5]
                oldest = max(store.now_ns() / 1e9 - created_us / 1e6, 0.0)
            return QueueStats(
                depth=c[C_READY] + c[C_DELAYED] + c[C_INFLIGHT],
                ready=c[C_READY],
                delayed=c[C_DELAYED],
                in_flight=c[C_INFLIGHT],
                dead=c[C_DEAD],
                stored_bytes=c[C_BYTES],
                max_bytes=store.max_bytes,
                evicted=c[C_EVICTED],
                evicted_bytes=c[C_EVBYTES],
                oldest_age_s=oldest,
                topics=topics,
                map_size_bytes=store.map_size(),
                group_commits=self._group.commits,
                group_commit_puts=self._group.puts,
            )

        return store.read(fn)

    def __len__(self) -> int:
        """Messages not yet acked or dead (ready, delayed and in flight)."""
        dbs = self._store.dbs
        c = self._store.read(lambda txn: read_counters(txn, dbs))
        return c[C_READY] + c[C_DELAYED] + c[C_INFLIGHT]

    # -- life cycle ---------------------------------------------------------------------

    def check(self, *, timeout: float = 600.0) -> QueueCheck:
        """Walk this queue's file in a child process (every database, every record's
        checksum); :func:`~edgekit.sync.queue.check_queue` on its path. Done by itself on
        open when the last process to have the queue open died without closing it.

        Raises:
            CorruptDataError: The file is damaged (LMDB crashed or failed reading it);
                the message names the way out, :func:`~edgekit.sync.queue.salvage_queue`.
        """
        self._store.check_open()
        return check_queue(self.path, timeout=timeout)

    def sync(self) -> None:
        """Flush to disk now (an fsync), whatever the durability level."""
        self._store.sync()

    def close(self) -> None:
        """Close the environment; further calls raise :class:`~edgekit.errors.QueueError`."""
        self._store.close()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._store.closed

    def __enter__(self) -> SyncQueue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"{len(self)} messages"
        return f"SyncQueue({str(self.path)!r}, durability={self.durability!r}, {state})"
