"""Taking messages out: lease, ack, nack, reject, expiry of leases and retries (the
timers index), dead letters."""

from __future__ import annotations

import struct
from typing import Any

from edgekit.errors import CorruptDataError
from edgekit.sync.queue import _index
from edgekit.sync.queue._layout import (
    C_BYTES,
    C_DEAD,
    C_DELAYED,
    C_INFLIGHT,
    C_READY,
    DEAD,
    DEADLINE_TOPIC_VIEW,
    DELAYED,
    FLAG_ERR,
    FLAGS_AT,
    HEADER_SIZE,
    INFLIGHT,
    MSG_PREFIX,
    READY,
    STATE_AT,
    STATE_COUNTER,
    TWO_U64,
    U64,
    Head,
    clip_text,
    dead_value,
    decode_body,
    leased,
    read_head,
    ready_key,
    restate,
    seq_key,
    state_of,
    timer_key,
)
from edgekit.sync.queue._store import Store
from edgekit.sync.queue._tally import Txn
from edgekit.sync.queue._types import Message

__all__ = ["ack", "delete_dead", "lease", "message", "nack", "reject", "requeue_dead"]

_U64_PACK = U64.pack
_U64_UNPACK_FROM = U64.unpack_from


def message(s: Store, seq: int, record: bytes, head: Head) -> Message:
    """The Message of a record (decompressed, decrypted)."""
    payload, headers = decode_body(record, head, seq, s.cipher, s.queue_id)
    return Message(
        id=seq,
        payload=payload,
        topic=head.topic.decode(),
        priority=head.priority,
        key=head.key.decode() if head.key else None,
        headers=headers,
        attempt=head.attempts,
        created=head.created_us / 1e6,
        lease_token=head.deadline_us if head.state == INFLIGHT else 0,
        queue_id=s.queue_name,
    )


def lease(
    s: Store, t: Txn, topic: str | None, batch: int, vt_us: int, max_bytes: int | None
) -> list[Message]:
    """Lease up to ``batch`` ready messages until now + ``vt_us`` (see SyncQueue.lease)."""
    dbs = t.dbs
    now = s.now_ns() // 1000
    promote_due(s, t, now)
    txn = t.txn
    keys = _index.ready_keys(txn, dbs.ready, dbs.topics, topic, batch)[0]
    out: list[Message] = []
    if not keys:
        c = t.counters
        waiting = c[C_DELAYED] + c[C_INFLIGHT]
        if topic is None and (c[C_READY] > 0 or (waiting and not txn.cursor(dbs.timers).first())):
            # Counted messages that no index reaches: never strand them silently.
            raise CorruptDataError(
                f"the queue at {s.path} counts {c[C_READY]} ready and {waiting} waiting "
                "messages that its indexes do not reach: the file is damaged; copy what "
                f"still reads with `edgekit queue salvage {s.path} NEW`"
            )
        return out
    # Cursors: one pass over the ready keys (contiguous per topic, so each delete
    # usually finds the cursor already on its key), one getmulti and one
    # putmulti for the records, one putmulti for the timers.
    msgs_cursor = txn.cursor(dbs.msgs)
    skeys = [MSG_PREFIX + key[-8:] for key in keys]
    rows = msgs_cursor.getmulti(skeys)  # in order; only the records found
    if len(rows) != len(skeys):
        found = dict(rows)
        rows = [(skey, found.get(skey)) for skey in skeys]
    deadline = (now + vt_us) & ~1  # even: a lease (retry deadlines are odd)
    hsize, qid, unpack_from = HEADER_SIZE, s.queue_name, _U64_UNPACK_FROM
    names = s.topic_names
    total = 0
    records: list[tuple[bytes, bytes]] = []
    lease_key = b""
    byte_limit = max_bytes if max_bytes is not None else 1 << 62
    dead = 0
    for taken, (skey, record) in enumerate(rows):
        if record is None:
            continue
        stored = record
        try:
            record, flags, prio, attempts, created, tlen, klen, hlen, raw, end = leased(
                record, deadline
            )
            total += raw
            if total > byte_limit and out:
                break
            body = hsize + tlen + klen
            seq = unpack_from(skey, 1)[0]
            if flags == 0 and hlen == 0 and end - body == raw:
                tbytes = record[hsize : hsize + tlen]
                name = names.get(tbytes)
                if name is None:
                    name = tbytes.decode()
                    if len(names) < 4096:
                        names[tbytes] = name
                msg = Message(
                    seq,
                    record[body:end],
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
                msg = message(s, seq, record, read_head(record))
        except (CorruptDataError, UnicodeDecodeError, struct.error) as exc:
            # Quarantine what does not decode (a damaged page, a wrong key):
            # it becomes a dead letter instead of blocking the queue.
            quarantine(t, skey[1:], exc, now, None, keys[taken][:-11], len(stored))
            dead += 1
            continue
        if not records:
            # One timers entry for the lease: (deadline, first id) -> its ids.
            lease_key = _U64_PACK(deadline) + skey[1:]
        msg._lease_key = lease_key
        records.append((skey, record))
        out.append(msg)
    else:
        taken = len(rows)
    _index.remove_ready(txn, dbs.ready, keys[:taken])
    if records:
        msgs_cursor.putmulti(records)
        ids = b"".join([skey[1:] for skey, _ in records])
        if not txn.put(lease_key, ids, True, False, False, dbs.timers):
            # Another lease with this deadline starts at the same id (the first
            # was nacked and leased again within the clock's tick, or the clock
            # stepped back): one entry lists both (expiry checks each record).
            listed = txn.get(lease_key, None, dbs.timers)
            txn.put(lease_key, listed + ids, True, True, False, dbs.timers)
    t.counters[C_READY] -= len(out) + dead
    t.counters[C_INFLIGHT] += len(out)
    return out


def ack(t: Txn, quads: list[tuple[int, int, bytes]]) -> int:
    """Remove in-flight messages given as (id, lease token, lease key); returns how many."""
    timers = t.dbs.timers
    txn = t.txn
    # A cursor: a lease's records are contiguous most often, so each delete
    # usually finds the cursor on its key.
    msgs_cursor = txn.cursor(t.dbs.msgs)
    at, value, delete = msgs_cursor.key, msgs_cursor.value, msgs_cursor.delete
    find = msgs_cursor.set_key
    pack, view = _U64_PACK, DEADLINE_TOPIC_VIEW.unpack_from
    hsize, mp, inflight, state_at = HEADER_SIZE, MSG_PREFIX, INFLIGHT, STATE_AT
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
        if len(record) < hsize or record[state_at] != inflight:
            continue
        deadline, tlen = view(record)
        if token and deadline != token:
            continue  # an older lease of the message: ignored
        delete()
        if record[FLAGS_AT] & FLAG_ERR:  # its last nack's error goes with it
            txn.delete(seq8, db=t.dbs.errors)
        if lease_key and token:  # (the lease's key holds its deadline, the token)
            if lease_key != last_lease:
                last_lease = lease_key
                acked = by_lease.setdefault(lease_key, [])
            acked.append(seq8)
        else:
            _index.drop_timer(txn, timers, deadline, seq)
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
    t.counters[C_INFLIGHT] -= done
    t.counters[C_BYTES] -= freed
    for topic, (count, nbytes) in per_topic.items():
        t.topic_add(topic, -count, -nbytes)
    return done


def reject(s: Store, t: Txn, pairs: list[tuple[int, int]], reason: str | None) -> int:
    """Make in-flight messages (id, lease token) dead letters for ``reason``; returns how many."""
    now = s.now_ns() // 1000
    done = 0
    for seq, token in pairs:
        taken = _take_inflight(t, seq, token)
        if taken is None:
            continue
        head, record = taken
        _to_dead(t, seq, head, record, now, reason or "rejected", None)
        done += 1
    return done


def nack(
    s: Store,
    t: Txn,
    pairs: list[tuple[int, int]],
    delay: float | None,
    count_attempt: bool,
    error: str | None,
) -> int:
    """Return in-flight messages (id, lease token) for a retry (see SyncQueue.nack)."""
    msgs = t.dbs.msgs
    now = s.now_ns() // 1000
    done = 0
    for seq, token in pairs:
        taken = _take_inflight(t, seq, token)
        if taken is None:
            continue
        head, record = taken
        done += 1
        if not count_attempt:
            head.attempts = max(head.attempts - 1, 0)
        elif head.attempts >= s.max_attempts:
            why = f"max_attempts ({s.max_attempts}) reached"
            _to_dead(t, seq, head, record, now, why, error)
            continue
        if error is not None:
            t.txn.put(U64.pack(seq), clip_text(error), db=t.dbs.errors)
            head.flags |= FLAG_ERR
        wait = s.backoff.delay(head.attempts) if delay is None else delay
        if wait <= 0:
            head.state = READY
            head.deadline_us = 0
            _index.add_ready(t.txn, t.dbs.ready, [ready_key(head.topic, head.priority, seq)])
            t.counters[C_READY] += 1
        else:
            head.state = DELAYED
            # odd: a retry (lease deadlines are even, see ack)
            head.deadline_us = (now + int(wait * 1e6)) | 1
            t.txn.put(timer_key(head.deadline_us, seq), b"", db=t.dbs.timers)
            t.counters[C_DELAYED] += 1
        t.txn.put(seq_key(seq), restate(record, head), db=msgs)
    return done


def promote_due(s: Store, t: Txn, now: int, limit: int = 100_000) -> None:
    """Move expired leases and due retries from ``timers`` back to ``ready`` (or dead)."""
    timers, msgs = t.dbs.timers, t.dbs.msgs
    cursor = t.txn.cursor(db=timers)
    if not cursor.first():
        return
    due: list[tuple[bytes, int, int, bytes]] = []
    for key, value in cursor.iternext():
        deadline, seq = TWO_U64.unpack(key)
        if deadline > now or len(due) >= limit:
            break
        due.append((key, deadline, seq, value))
    for key, deadline, first, value in due:
        t.txn.delete(key, db=timers)
        # A lease's entry lists its ids (8 bytes each); a retry's (or a format 1
        # lease's) is empty: its id is in the key.
        seqs = [first] if not value else [q for (q,) in U64.iter_unpack(value)]
        for seq in seqs:
            skey = seq_key(seq)
            record = t.txn.get(skey, db=msgs)
            if record is None:
                continue
            try:
                head = read_head(record)
            except CorruptDataError as exc:  # (a lease's entry lists ids; a retry's does not)
                quarantine(t, skey[1:], exc, now, INFLIGHT if value else DELAYED, None, 0)
                continue
            if head.state not in (INFLIGHT, DELAYED) or head.deadline_us != deadline:
                continue  # acked, nacked... since: a lease's entry is not updated for each
            t.counters[STATE_COUNTER[head.state]] -= 1
            if head.state == INFLIGHT and head.attempts >= s.max_attempts:
                why = f"max_attempts ({s.max_attempts}) reached: the last lease expired"
                _to_dead(t, seq, head, record, now, why, None)
                continue
            head.state = READY
            head.deadline_us = 0
            t.txn.put(skey, restate(record, head), db=msgs)
            _index.add_ready(t.txn, t.dbs.ready, [ready_key(head.topic, head.priority, seq)])
            t.counters[C_READY] += 1


def quarantine(
    t: Txn,
    seq8: bytes,
    exc: Exception,
    now_us: int,
    state: int | None,
    topic: bytes | None,
    size: int,
) -> bool:
    """Make a record that does not decode a dead letter, "corrupt record: ..."; ``state``
    (the counter it leaves), ``topic`` and ``size`` as far as they are known. Its ready
    key or timer is the caller's to remove. Returns False if it already was one."""
    dead = t.dbs.dead
    if t.txn.get(seq8, db=dead) is not None:
        return False
    why = f"corrupt record: {exc}" if str(exc) else f"corrupt record: {exc!r}"
    t.txn.put(seq8, dead_value(now_us, why, None), db=dead)
    if state is not None:
        t.counters[STATE_COUNTER[state]] -= 1
    t.counters[C_DEAD] += 1
    if topic is not None:
        t.topic_add(topic, -1, -size)
    return True


def quarantine_ready(s: Store, t: Txn, *, bad: list[tuple[bytes, Exception]]) -> None:
    """Quarantine ready messages that do not decode, given as (ready key, error)."""
    t.put_ready()  # (the ready keys of uncounted puts, written)
    now = s.now_ns() // 1000
    for key, exc in bad:
        seq8 = key[-8:]
        record = t.txn.get(MSG_PREFIX + seq8, db=t.dbs.msgs)
        if record is None:
            continue  # gone since
        if quarantine(t, seq8, exc, now, READY, key[:-11], len(record)):
            _index.remove_ready(t.txn, t.dbs.ready, [key])


def bury(s: Store, t: Txn, seq: int, reason: str, error: str | None) -> None:
    """Make the ready message ``seq`` a dead letter (salvage copies dead letters so)."""
    t.put_ready()
    record = t.txn.get(seq_key(seq), db=t.dbs.msgs)
    if record is None or state_of(record) != READY:
        return
    head = read_head(record)
    _index.remove_ready(t.txn, t.dbs.ready, [ready_key(head.topic, head.priority, seq)])
    t.counters[C_READY] -= 1
    _to_dead(t, seq, head, bytes(record), s.now_ns() // 1000, reason, error)


def _take_inflight(t: Txn, seq: int, token: int) -> tuple[Head, bytes] | None:
    """Take message ``seq`` out of flight (timer deleted, counter decremented).

    Returns its head and record, or None when it is not in flight or ``token``
    (a lease deadline, 0 for any) names an older lease.
    """
    record = t.txn.get(seq_key(seq), db=t.dbs.msgs)
    if record is None or state_of(record) != INFLIGHT:
        return None
    head = read_head(record)
    if token and head.deadline_us != token:
        return None
    _index.drop_timer(t.txn, t.dbs.timers, head.deadline_us, seq)
    t.counters[C_INFLIGHT] -= 1
    return head, record


def _to_dead(
    t: Txn, seq: int, head: Head, record: bytes, now_us: int, reason: str, error: str | None
) -> None:
    """Make message ``seq`` (out of every index) a dead letter for ``reason``; ``error``
    (else the last error a nack remembered) is its last error."""
    seq8 = U64.pack(seq)
    last: str | bytes | None = error
    if head.flags & FLAG_ERR:
        remembered = t.txn.pop(seq8, db=t.dbs.errors)
        head.flags &= ~FLAG_ERR
        if last is None and remembered is not None:
            last = bytes(remembered)
    head.state = DEAD
    head.deadline_us = 0
    t.txn.put(seq_key(seq), restate(record, head), db=t.dbs.msgs)
    t.txn.put(seq8, dead_value(now_us, reason, last), db=t.dbs.dead)
    t.counters[C_DEAD] += 1
    t.topic_add(head.topic, -1, -len(record))


def dead_rows(txn: Any, dbs: Any, limit: int) -> list[tuple[int, bytes, bytes]]:
    """Up to ``limit`` dead letters, oldest first, as (id, record, dead value)."""
    out: list[tuple[int, bytes, bytes]] = []
    for key, value in txn.cursor(db=dbs.dead):
        if len(out) >= limit:
            break
        record = txn.get(MSG_PREFIX + key, db=dbs.msgs)
        if record is not None:
            out.append((U64.unpack(key)[0], bytes(record), bytes(value)))
    return out


def _dead_ids(t: Txn, wanted: list[int] | None) -> list[int]:
    if wanted is not None:
        return wanted
    cursor = t.txn.cursor(db=t.dbs.dead)
    return [U64.unpack(k)[0] for k in cursor.iternext(keys=True, values=False)]


def requeue_dead(t: Txn, wanted: list[int] | None) -> int:
    """Make dead letters (all, or the ids ``wanted``) ready with a fresh attempt count.
    Quarantined records (which do not decode) stay dead."""
    dead, msgs = t.dbs.dead, t.dbs.msgs
    done = 0
    for seq in _dead_ids(t, wanted):
        skey = seq_key(seq)
        record = t.txn.get(skey, db=msgs)
        if record is None or state_of(record) != DEAD:
            continue
        try:
            head = read_head(record)
        except CorruptDataError:
            continue
        t.txn.delete(skey[1:], db=dead)
        head.state = READY
        head.attempts = 0
        t.txn.put(skey, restate(record, head), db=msgs)
        _index.add_ready(t.txn, t.dbs.ready, [ready_key(head.topic, head.priority, seq)])
        t.counters[C_DEAD] -= 1
        t.counters[C_READY] += 1
        t.topic_add(head.topic, 1, len(record))
        done += 1
    return done


def delete_dead(t: Txn, wanted: list[int] | None) -> int:
    """Delete dead letters (all, or the ids ``wanted``), quarantined records included."""
    dead, msgs = t.dbs.dead, t.dbs.msgs
    done = 0
    for seq in _dead_ids(t, wanted):
        seq8 = U64.pack(seq)
        if not t.txn.delete(seq8, db=dead):
            continue
        record = t.txn.pop(MSG_PREFIX + seq8, db=msgs)
        t.counters[C_DEAD] -= 1
        if record is not None:
            t.counters[C_BYTES] -= len(record)
        done += 1
    return done
