"""Putting messages: the fast single put, the general put, put_many's batch, dedup keys
and eviction. Every put is counted by ``Tally.note_put`` (see _tally)."""

from __future__ import annotations

from collections.abc import Iterable

from edgekit.errors import CorruptDataError, InvalidInputError, QueueFullError
from edgekit.sync.queue import _index
from edgekit.sync.queue._group import Item
from edgekit.sync.queue._layout import (
    C_BYTES,
    C_DEAD,
    C_EVBYTES,
    C_EVICTED,
    C_SEQ,
    CHECKSUM_SIZE,
    DEAD,
    DELAYED,
    FLAG_ERR,
    FORMAT_VERSION,
    HEADER,
    HEADER_SIZE,
    INFLIGHT,
    MSG_PREFIX,
    READY,
    STATE_COUNTER,
    SUM_FROM,
    TWO_U64,
    U64,
    Head,
    encode_headers,
    encode_record,
    plain_head,
    plain_record,
    read_head,
    ready_head,
    ready_key,
    seq_key,
    state_of,
    xxh3_64_sum,
)
from edgekit.sync.queue._store import Store, lmdb_error
from edgekit.sync.queue._tally import FLUSH_EVERY, Txn

__all__ = ["put_fast", "put_items", "put_same"]

_U64_PACK = U64.pack
_pack_header = HEADER.pack


def put_fast(s: Store, payload: bytes, topic: bytes, priority: int) -> int:
    """One put with no key, headers, compression or encryption, in one transaction.

    When this process wrote last and the topic has stored totals, the transaction is
    one LMDB put (the record); the counters, totals and ready key are left behind (see
    _tally). Anything else (another writer came in between, a new topic, the counters
    due to be written, the queue near ``max_bytes``, LMDB trouble such as a full map)
    goes through :func:`put_items`.
    """
    size = HEADER_SIZE + len(topic) + len(payload) + CHECKSUM_SIZE
    with s.lock:
        s.put_budget -= size + 256  # (Store.keep_room, inlined while there is room)
        if s.put_budget < 0 and not s.closed:
            s.put_budget += size + 256
            s.keep_room(size)
        # (a closed queue fails in begin: the general path below raises QueueError)
        c = s.committed
        seq = 0
        txn = None
        try:
            # (py-lmdb parses positional arguments much faster than keywords)
            txn = s.env.begin(None, None, True)
            txn_id = txn.id()
            if (
                c is not None
                and c.txn_id == txn_id - 1
                and c.unflushed < FLUSH_EVERY - 1
                and (s.max_bytes is None or c.counters[C_BYTES] + size <= s.max_bytes)
            ):
                known = c.known
                assert known is not None
                stored: tuple[int, int] | None = known.get(topic)
                cached = stored is not None
                if stored is None:
                    raw = txn.get(topic, None, s.dbs.topics)
                    stored = TWO_U64.unpack(raw) if raw else (0, 0)
                if stored[0] > 0:
                    seq = c.counters[C_SEQ] + 1
                    # (plain_record inlined: a call fewer on the hottest path)
                    now, tlen, plen = s.now_ns() // 1000, len(topic), len(payload)
                    head = _pack_header(
                        FORMAT_VERSION, 0, READY, priority, 0, now, 0, tlen, 0, 0, plen
                    )
                    tail = head[SUM_FROM:] + topic + payload
                    seed = now ^ (priority & 0xFFFF) << 40  # (sum_seed, inlined)
                    record = head[:SUM_FROM] + tail + xxh3_64_sum(tail, seed)
                    txn.put(MSG_PREFIX + _U64_PACK(seq), record, True, True, True, s.dbs.msgs)
                    txn.commit()
                else:
                    txn.abort()
            else:
                txn.abort()
        except lmdb_error():
            if txn is not None:
                txn.abort()
            seq = 0  # aborted: the general path below grows the map or re-reads
        except BaseException:
            if txn is not None:
                txn.abort()
            raise
        if seq:  # committed
            assert c is not None and known is not None and stored is not None
            c.txn_id = txn_id
            c.note_put(topic, priority, seq, size)
            if not cached:
                if len(known) > 4096:
                    known.clear()
                known[topic] = stored
            return seq
    item = (payload, topic, priority, b"", None)
    return s.write(lambda t: put_items(s, t, [item]), True, True, len(payload))[0]


def put_items(s: Store, t: Txn, items: list[Item]) -> list[int]:
    """The general put: any payload, key, headers; eviction when over ``max_bytes``."""
    txn = t.txn
    dbs = t.dbs
    tally = t.tally
    counters = t.counters
    now = s.now_ns() // 1000
    ids = []
    pending_keys: dict[bytes, int] = {}
    evicted = counters[C_EVICTED]
    # Payloads shorter than this need neither compression nor encryption.
    plain_limit = (
        0
        if s.cipher is not None
        else (s.compress_threshold if s.compress_threshold is not None else 1 << 62)
    )
    for payload, topic, priority, kbytes, headers in items:
        if kbytes:
            existing = pending_keys.get(kbytes)
            if existing is None:
                existing = _lookup_key(t, kbytes, now)
            if existing is not None:
                ids.append(existing)
                continue
        seq = t.next_seq()
        if not kbytes and headers is None and len(payload) < plain_limit:
            record = plain_record(priority, now, topic, b"", payload)
        else:
            record = encode_record(
                seq=seq,
                payload=payload,
                topic=topic,
                key=kbytes,
                headers=headers,
                priority=priority,
                created_us=now,
                compress_threshold=s.compress_threshold,
                cipher=s.cipher,
                queue_id=s.queue_id,
            )
        size = len(record)
        if s.max_bytes is not None and counters[C_BYTES] + size > s.max_bytes:
            _make_room(s, t, size)
        txn.put(seq_key(seq), record, db=dbs.msgs, append=True)
        tally.note_put(topic, priority, seq, size)
        if kbytes:
            expiry = now + int(s.dedup_window * 1e6)
            txn.put(kbytes, TWO_U64.pack(seq, expiry), db=dbs.keys)
            txn.put(U64.pack(expiry) + kbytes, b"", db=dbs.kexp)
            pending_keys[kbytes] = seq
        ids.append(seq)
    if pending_keys:
        _prune_keys(t, now)
    tally.materialize()
    if not t.deferrable:
        t.put_ready()
    known = tally.known
    # Only appended new messages to topics with stored totals: the counters may lag.
    t.defer = (
        not pending_keys
        and counters[C_EVICTED] == evicted
        and known is not None
        and all(known.get(topic, (0, 0))[0] > 0 for topic in tally.pending)
    )
    return ids


def put_same(
    s: Store,
    t: Txn,
    payloads: list[bytes],
    topic: bytes,
    priority: int,
    headers: dict[str, str] | None,
    lens: list[int],
) -> list[int]:
    """put_many's batch: one topic, priority and headers, no keys."""
    now = s.now_ns() // 1000
    first = t.counters[C_SEQ] + 1
    threshold = s.compress_threshold
    records: Iterable[bytes]
    n = len(payloads)
    if s.cipher is not None or (threshold is not None and max(lens) >= threshold):
        records = [
            encode_record(
                seq=first + i,
                payload=payload,
                topic=topic,
                key=b"",
                headers=headers,
                priority=priority,
                created_us=now,
                compress_threshold=threshold,
                cipher=s.cipher,
                queue_id=s.queue_id,
            )
            for i, payload in enumerate(payloads)
        ]
        total = sum(map(len, records))
    else:
        hbytes = encode_headers(headers)
        # Records are made while LMDB consumes them (no list of a million records):
        # the header, topic and headers of each payload size, then the payload.
        heads = {k: plain_head(priority, now, topic, hbytes, k) for k in set(lens)}
        # The records of each payload size share a head and a checksum seed.
        if len(heads) == 1:
            head, seed = heads[lens[0]]
            start = head[SUM_FROM:]
            records = (head + p + xxh3_64_sum(start + p, seed) for p in payloads)
        else:
            records = (
                heads[len(p)][0]
                + p
                + xxh3_64_sum(heads[len(p)][0][SUM_FROM:] + p, heads[len(p)][1])
                for p in payloads
            )
        total = sum(lens) + n * (HEADER_SIZE + len(topic) + len(hbytes) + CHECKSUM_SIZE)
    if s.max_bytes is not None and t.counters[C_BYTES] + total > s.max_bytes:
        return put_items(s, t, [(p, topic, priority, b"", headers) for p in payloads])
    seqs = range(first, first + n)
    # (dupdata, overwrite, append) positional: ids only grow, so append is valid.
    t.txn.cursor(t.dbs.msgs).putmulti(
        zip(map(MSG_PREFIX.__add__, map(_U64_PACK, seqs)), records, strict=True), True, True, True
    )
    t.put_ready()  # (first: the run of this batch may extend theirs)
    _index.add_run(t.txn.cursor(t.dbs.ready), ready_head(topic, priority), first, first + n - 1)
    t.tally.note_batch(topic, first + n - 1, n, total)
    return list(seqs)


def _lookup_key(t: Txn, kbytes: bytes, now: int) -> int | None:
    raw = t.txn.get(kbytes, db=t.dbs.keys)
    if raw is None:
        return None
    seq, expiry = TWO_U64.unpack(raw)
    if expiry <= now:
        return None
    return int(seq)


def _prune_keys(t: Txn, now: int, limit: int = 64) -> None:
    kexp, keys = t.dbs.kexp, t.dbs.keys
    cursor = t.txn.cursor(db=kexp)
    removed = 0
    while removed < limit and cursor.first():
        k = cursor.key()
        expiry = U64.unpack_from(k)[0]
        if expiry > now:
            break
        name = k[8:]
        raw = t.txn.get(name, db=keys)
        if raw is not None and TWO_U64.unpack(raw)[1] == expiry:
            t.txn.delete(name, db=keys)
        cursor.delete()
        removed += 1


# -- eviction ----------------------------------------------------------------------------


def _make_room(s: Store, t: Txn, size: int) -> None:
    assert s.max_bytes is not None
    t.put_ready()  # eviction reads the ready index
    if size > s.max_bytes:
        raise InvalidInputError(
            f"a record of {size:,} bytes cannot fit in max_bytes={s.max_bytes:,}"
        )
    if s.eviction == "reject":
        raise QueueFullError(
            f"the queue at {s.path} holds {t.counters[C_BYTES]:,} of "
            f"{s.max_bytes:,} bytes; a message of {size:,} bytes does not fit"
        )
    while t.counters[C_BYTES] + size > s.max_bytes:
        seq = None
        if s.eviction == "drop_lowest_priority":
            seq = _index.lowest_priority_ready(t.txn, t.dbs.ready, t.dbs.topics)
        if seq is None:
            seq = _oldest_evictable(t)
        if seq is None:
            raise QueueFullError(
                f"the queue at {s.path} is full and every stored message is in flight"
            )
        removed = _remove(t, seq)
        t.counters[C_EVICTED] += 1
        t.counters[C_EVBYTES] += removed


def evict_to(s: Store, t: Txn, target: int) -> int:
    """Drop messages by the eviction policy until at most ``target`` bytes are stored
    (none under "reject"); counted as evictions. Returns how many were dropped."""
    if s.eviction == "reject":
        return 0
    t.put_ready()  # eviction reads the ready index
    dropped = 0
    while t.counters[C_BYTES] > target:
        seq = None
        if s.eviction == "drop_lowest_priority":
            seq = _index.lowest_priority_ready(t.txn, t.dbs.ready, t.dbs.topics)
        if seq is None:
            seq = _oldest_evictable(t)
        if seq is None:
            break
        t.counters[C_EVBYTES] += _remove(t, seq)
        t.counters[C_EVICTED] += 1
        dropped += 1
    return dropped


def _oldest_evictable(t: Txn) -> int | None:
    cursor = t.txn.cursor(db=t.dbs.msgs)
    if not cursor.set_range(MSG_PREFIX):
        return None
    for key, record in cursor.iternext():
        if state_of(record) != INFLIGHT:
            return int(U64.unpack_from(key, 1)[0])
    return None


def _remove(t: Txn, seq: int) -> int:
    """Delete a message in any state; returns its stored size in bytes."""
    skey = seq_key(seq)
    msgs = t.dbs.msgs
    record = t.txn.get(skey, db=msgs)
    if record is None:
        return 0
    try:
        head = read_head(record)
    except CorruptDataError:
        # A quarantined record (a dead letter that does not decode).
        t.txn.delete(skey, db=msgs)
        if t.txn.delete(skey[1:], db=t.dbs.dead):
            t.counters[C_DEAD] -= 1
        t.counters[C_BYTES] -= len(record)
        return len(record)
    _unindex(t, seq, head)
    t.txn.delete(skey, db=msgs)
    size = len(record)
    t.counters[C_BYTES] -= size
    t.counters[STATE_COUNTER[head.state]] -= 1
    if head.state != DEAD:
        t.topic_add(head.topic, -1, -size)
    return size


def _unindex(t: Txn, seq: int, head: Head) -> None:
    if head.state == READY:
        _index.remove_ready(t.txn, t.dbs.ready, [ready_key(head.topic, head.priority, seq)])
    elif head.state in (INFLIGHT, DELAYED):
        _index.drop_timer(t.txn, t.dbs.timers, head.deadline_us, seq)
    elif head.state == DEAD:
        t.txn.delete(U64.pack(seq), db=t.dbs.dead)
    if head.flags & FLAG_ERR:
        t.txn.delete(U64.pack(seq), db=t.dbs.errors)
