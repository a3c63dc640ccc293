"""SyncQueue behaviours: order, leases, retries, dead letters, bounds, encryption, processes."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgekit.errors import (
    CorruptDataError,
    EdgekitError,
    InvalidInputError,
    QueueError,
    QueueFullError,
)
from edgekit.sync import Backoff, Message, SyncQueue


def test_put_returns_increasing_ids_and_len(queue: SyncQueue) -> None:
    ids = [queue.put(b"a"), queue.put(b"b"), queue.put(b"c")]
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert len(queue) == 3


def test_fifo_within_topic_and_priority_higher_priority_first(queue: SyncQueue) -> None:
    queue.put(b"low1", priority=0)
    queue.put(b"high1", priority=5)
    queue.put(b"low2", priority=0)
    queue.put(b"high2", priority=5)
    queue.put(b"neg", priority=-3)
    got = [m.payload for m in queue.lease(10)]
    assert got == [b"high1", b"high2", b"low1", b"low2", b"neg"]


def test_lease_by_topic_and_merge_across_topics(queue: SyncQueue) -> None:
    for i in range(4):
        queue.put(b"a%d" % i, topic="a")
        queue.put(b"b%d" % i, topic="b")
    assert [m.payload for m in queue.lease(2, topic="b")] == [b"b0", b"b1"]
    rest = [m.payload for m in queue.lease(10)]
    assert rest == [b"a0", b"b2", b"a1", b"b3", b"a2", b"a3"] or sorted(rest) == sorted(
        [b"a0", b"a1", b"a2", b"a3", b"b2", b"b3"]
    )
    # FIFO per topic whatever the merge.
    assert [p for p in rest if p.startswith(b"a")] == [b"a0", b"a1", b"a2", b"a3"]


def test_lease_ack_removes_and_stats_follow(queue: SyncQueue) -> None:
    for _ in range(5):
        queue.put(b"x" * 10, topic="t")
    batch = queue.lease(3)
    stats = queue.stats()
    assert (stats.ready, stats.in_flight, stats.depth) == (2, 3, 5)
    assert queue.ack(batch) == 3
    assert queue.ack(batch) == 0  # already acked
    stats = queue.stats()
    assert (stats.ready, stats.in_flight, stats.depth) == (2, 0, 2)
    assert stats.topics == {"t": (2, stats.stored_bytes)}
    assert stats.oldest_age_s is not None and stats.oldest_age_s >= 0
    assert "<table" in stats._repr_html_() and "in flight" in stats._repr_html_()


def test_leased_message_is_not_leased_again(queue: SyncQueue) -> None:
    queue.put(b"one")
    assert len(queue.lease(5)) == 1
    assert queue.lease(5) == []


def test_visibility_timeout_redelivers_with_attempt_increased(queue: SyncQueue) -> None:
    queue.put(b"p")
    first = queue.lease(1, visibility_timeout=0.05)
    assert first[0].attempt == 1
    assert queue.lease(1) == []
    time.sleep(0.08)
    again = queue.lease(1)
    assert again[0].id == first[0].id and again[0].attempt == 2
    # The old lease's ack is stale and ignored; the new one acks.
    assert queue.ack(first) == 0
    assert queue.ack(again) == 1


def test_lease_partly_acked_nacked_rejected_redelivers_only_the_rest(queue: SyncQueue) -> None:
    """A lease is one timers entry for its messages: whatever was settled since is
    skipped when it expires, and each of the rest comes back once."""
    ids = queue.put_many([b"m%d" % i for i in range(8)])
    batch = queue.lease(8, visibility_timeout=0.1)
    assert queue.ack(batch[:2]) == 2
    assert queue.ack([batch[2].id]) == 1  # by bare id
    assert queue.nack(batch[3], delay=0) == 1
    assert queue.reject(batch[4]) == 1
    assert [m.id for m in queue.lease(10, visibility_timeout=30)] == [ids[3]]
    time.sleep(0.15)
    again = queue.lease(10)
    assert [m.id for m in again] == ids[5:]
    assert all(m.attempt == 2 for m in again)
    assert queue.ack(batch[5:]) == 0  # the expired lease's
    stats = queue.stats()
    assert (stats.in_flight, stats.dead, stats.ready) == (4, 1, 0)
    assert queue.ack(again) == 3 and len(queue) == 1


def test_nack_backoff_and_dead_letter(tmp_path: Path) -> None:
    with SyncQueue(tmp_path / "q", max_attempts=3, backoff=Backoff(0.05, 0.05, jitter=0)) as q:
        q.put(b"bad")
        m = q.lease(1)
        assert q.nack(m) == 1
        assert q.lease(1) == []  # waiting for its retry
        assert q.stats().delayed == 1
        time.sleep(0.07)
        m = q.lease(1)
        assert m[0].attempt == 2
        q.nack(m, delay=0)
        m = q.lease(1)
        assert m[0].attempt == 3
        q.nack(m)
        assert q.lease(1) == [] and len(q) == 0
        dead = q.dead_letters()
        assert [d.payload for d in dead] == [b"bad"] and q.stats().dead == 1
        assert q.requeue_dead() == 1
        again = q.lease(1)
        assert again[0].payload == b"bad" and again[0].attempt == 1


def test_expired_leases_dead_letter_after_max_attempts(tmp_path: Path) -> None:
    with SyncQueue(tmp_path / "q", max_attempts=2) as q:
        q.put(b"x")
        q.lease(1, visibility_timeout=0.01)
        time.sleep(0.02)
        q.lease(1, visibility_timeout=0.01)
        time.sleep(0.02)
        assert q.lease(1) == []
        assert q.stats().dead == 1


def test_nack_without_counting_never_dead_letters(tmp_path: Path) -> None:
    with SyncQueue(tmp_path / "q", max_attempts=1) as q:
        q.put(b"x")
        for _ in range(5):
            m = q.lease(1)
            assert m and m[0].attempt == 1
            q.nack(m, delay=0, count_attempt=False)
        assert q.stats().dead == 0


def test_reject_dead_letters_now(queue: SyncQueue) -> None:
    queue.put(b"x")
    assert queue.reject(queue.lease(1)) == 1
    assert queue.stats().dead == 1 and len(queue) == 0


def test_backoff_grows_with_jitter() -> None:
    b = Backoff(1.0, 10.0, 2.0, jitter=0.5)
    assert [b.ceiling(i) for i in (1, 2, 3, 4, 5)] == [1, 2, 4, 8, 10]
    delays = [b.delay(3) for _ in range(200)]
    assert all(2.0 <= d <= 4.0 for d in delays) and len(set(delays)) > 100
    with pytest.raises(InvalidInputError):
        Backoff(5.0, 1.0)


def test_idempotency_key_dedups_within_window(tmp_path: Path) -> None:
    with SyncQueue(tmp_path / "q", dedup_window=0.1) as q:
        a = q.put(b"1", key="k")
        assert q.put(b"2", key="k") == a
        assert len(q) == 1
        assert q.lease(1)[0].dedup_id == "k"
        time.sleep(0.12)
        b = q.put(b"3", key="k")
        assert b != a and len(q) == 2
        ids = q.put_many([b"x", b"y", b"z"], keys=["u", "u", None])
        assert ids[0] == ids[1] != ids[2]


def test_dedup_id_is_unique_per_queue(tmp_path: Path) -> None:
    with SyncQueue(tmp_path / "a") as a, SyncQueue(tmp_path / "b") as b:
        a.put(b"x")
        b.put(b"x")
        assert a.lease(1)[0].dedup_id != b.lease(1)[0].dedup_id


def test_put_many_is_one_transaction_and_ordered(queue: SyncQueue) -> None:
    ids = queue.put_many([b"%d" % i for i in range(1000)], topic="bulk", priority=2)
    assert ids == list(range(ids[0], ids[0] + 1000))
    got = queue.lease(1000)
    assert [m.payload for m in got] == [b"%d" % i for i in range(1000)]
    assert all(m.topic == "bulk" and m.priority == 2 for m in got)


def test_headers_and_key_round_trip(queue: SyncQueue) -> None:
    queue.put(b"p", headers={"a": "1", "b": "ü"}, key="key-1", topic="t.x")
    m = queue.lease(1)[0]
    assert m.headers == {"a": "1", "b": "ü"} and m.key == "key-1" and m.topic == "t.x"


def test_lz4_compression_above_threshold(tmp_path: Path) -> None:
    big = b"abcd" * 10_000
    with SyncQueue(tmp_path / "c", compress_threshold=100) as c:
        c.put(big)
        c.put(b"tiny")
        stored = c.stats().stored_bytes
        assert stored < len(big) // 10
        assert [m.payload for m in c.lease(2)] == [big, b"tiny"]
    with SyncQueue(tmp_path / "n", compression=None) as n:
        n.put(big)
        assert n.stats().stored_bytes > len(big)


def test_encryption_at_rest_and_wrong_key(tmp_path: Path) -> None:
    key = os.urandom(32)
    secret = b"the secret reading 42" * 3
    with SyncQueue(tmp_path / "e", encryption_key=key) as q:
        q.put(secret, headers={"h": "v"})
    assert secret not in (tmp_path / "e" / "data.mdb").read_bytes()
    with pytest.raises(InvalidInputError, match="wrong encryption_key"):
        SyncQueue(tmp_path / "e", encryption_key=os.urandom(32))
    with pytest.raises(InvalidInputError, match="encrypted"):
        SyncQueue(tmp_path / "e")
    with SyncQueue(tmp_path / "e", encryption_key=key) as q:
        m = q.lease(1)[0]
        assert m.payload == secret and m.headers == {"h": "v"}
    with pytest.raises(InvalidInputError):
        SyncQueue(tmp_path / "f", encryption_key=b"short")


def test_reject_eviction_raises_and_keeps_accepted(tmp_path: Path) -> None:
    with SyncQueue(tmp_path / "q", max_bytes=2000) as q:
        accepted = []

        def fill() -> None:
            for i in range(1000):
                accepted.append(q.put(b"%04d" % i + b"x" * 60))

        with pytest.raises(QueueFullError):
            fill()
        assert len(q) == len(accepted) > 0
        assert [m.id for m in q.lease(1000)] == accepted
        with pytest.raises(QueueFullError):
            q.put_many([b"y" * 60] * 100)


def test_drop_oldest_evicts_and_counts(tmp_path: Path) -> None:
    with SyncQueue(tmp_path / "q", max_bytes=3000, eviction="drop_oldest") as q:
        ids = [q.put(b"%04d" % i + b"x" * 60) for i in range(200)]
        stats = q.stats()
        assert stats.stored_bytes <= 3000 and stats.evicted > 0
        assert stats.evicted + stats.depth == 200
        left = [m.id for m in q.lease(1000)]
        assert left == ids[-len(left) :]


def test_drop_lowest_priority_evicts_low_first(tmp_path: Path) -> None:
    with SyncQueue(tmp_path / "q", max_bytes=2000, eviction="drop_lowest_priority") as q:
        for _ in range(10):
            q.put(b"h" * 60, priority=9, topic="a")
        for i in range(200):
            q.put(b"l%03d" % i + b"x" * 60, priority=0, topic="b")
        stats = q.stats()
        assert stats.evicted > 0 and stats.stored_bytes <= 2000
        got = q.lease(1000)
        assert sum(m.priority == 9 for m in got) == 10


def test_in_flight_messages_are_not_evicted(tmp_path: Path) -> None:
    with SyncQueue(tmp_path / "q", max_bytes=1000, eviction="drop_oldest") as q:
        while True:
            try:
                q.put(b"x" * 50)
            except QueueFullError:
                break
            if q.stats().evicted:
                break
        q.lease(1000)
        with pytest.raises(QueueFullError):
            q.put(b"y" * 50)


def test_map_grows_instead_of_raising_lmdb_errors(tmp_path: Path) -> None:
    with SyncQueue(tmp_path / "q", map_size=1 << 20, compression=None) as q:
        for _ in range(40):
            q.put(os.urandom(100_000))
        assert q.stats().map_size_bytes > 1 << 20
        assert len(q) == 40


def test_bad_input_raises_clear_errors(queue: SyncQueue, tmp_path: Path) -> None:
    for bad in ("text", 42, None, [1, 2], {"a": 1}):
        with pytest.raises(InvalidInputError, match="bytes"):
            queue.put(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        queue.put_many([b"ok", "no"])  # type: ignore[list-item]
    with pytest.raises(InvalidInputError):
        queue.put(b"x", topic="")
    with pytest.raises(InvalidInputError):
        queue.put(b"x", topic="a\x00b")
    with pytest.raises(InvalidInputError):
        queue.put(b"x", priority=1 << 20)
    with pytest.raises(InvalidInputError):
        queue.put(b"x", headers={"a": 1})  # type: ignore[dict-item]
    with pytest.raises(InvalidInputError):
        queue.lease(0)
    with pytest.raises(InvalidInputError):
        queue.ack(["x"])  # type: ignore[list-item]
    assert len(queue) == 0
    with (
        SyncQueue(tmp_path / "small", max_message_bytes=100) as small,
        pytest.raises(InvalidInputError, match="max_message_bytes"),
    ):
        small.put(b"x" * 101)
    with pytest.raises(InvalidInputError):
        SyncQueue(tmp_path / "z", eviction="random")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        SyncQueue(tmp_path / "z", durability="disk")  # type: ignore[arg-type]


def test_tiny_max_bytes_rejects_oversize(tmp_path: Path) -> None:
    with SyncQueue(tmp_path / "q", max_bytes=64) as q:
        with pytest.raises(EdgekitError):
            q.put(b"x" * 100)
        assert len(q) == 0


def test_corrupted_environment_is_a_clear_error(tmp_path: Path) -> None:
    as_file = tmp_path / "file"
    as_file.write_bytes(b"not a queue")
    with pytest.raises(CorruptDataError):
        SyncQueue(as_file)
    garbage = tmp_path / "garbage"
    garbage.mkdir()
    (garbage / "data.mdb").write_bytes(os.urandom(64 * 1024))
    with pytest.raises(CorruptDataError):
        SyncQueue(garbage)


def test_closed_queue_raises(tmp_path: Path) -> None:
    q = SyncQueue(tmp_path / "q")
    q.close()
    q.close()
    assert q.closed
    with pytest.raises(QueueError):
        q.put(b"x")
    assert "closed" in repr(q)


def test_reopen_keeps_messages_and_leases(tmp_path: Path) -> None:
    with SyncQueue(tmp_path / "q") as q:
        q.put_many([b"a", b"b", b"c"])
        leased = q.lease(1)
        qid = q.queue_id
    with SyncQueue(tmp_path / "q") as q:
        assert q.queue_id == qid
        assert len(q) == 3 and q.stats().in_flight == 1
        assert q.ack(leased) == 1
        assert [m.payload for m in q.lease(5)] == [b"b", b"c"]


def test_peek_does_not_lease(queue: SyncQueue) -> None:
    queue.put(b"a")
    queue.put(b"b", priority=1)
    assert [m.payload for m in queue.peek(5)] == [b"b", b"a"]
    assert len(queue.lease(5)) == 2


def test_lease_max_bytes(queue: SyncQueue) -> None:
    queue.put_many([b"x" * 100] * 10)
    assert len(queue.lease(10, max_bytes=350)) == 3
    assert len(queue.lease(10, max_bytes=1)) == 1


def test_power_durability_group_commit_from_threads(tmp_path: Path) -> None:
    with SyncQueue(tmp_path / "q", durability="power") as q:
        out: list[int] = []
        lock = threading.Lock()

        def work(n: int) -> None:
            for i in range(20):
                got = q.put(b"%d-%d" % (n, i), topic=f"t{n}")
                with lock:
                    out.append(got)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(set(out)) == 120 and len(q) == 120
        for n in range(6):
            assert [m.payload for m in q.lease(100, topic=f"t{n}")] == [
                b"%d-%d" % (n, i) for i in range(20)
            ]


def test_power_lone_thread_and_bursts_of_threads(tmp_path: Path) -> None:
    """A lone thread's puts are single commits; a burst of threads shares commits; keyed
    puts (the general path) mix in; every put lands once, in order per thread."""
    with SyncQueue(tmp_path / "q", durability="power") as q:
        first = [q.put(b"solo-%d" % i) for i in range(5)]
        assert (q.stats().group_commits, q.stats().group_commit_puts) == (5, 5)
        barrier = threading.Barrier(4)
        ids: dict[int, list[int]] = {}

        def work(n: int) -> None:
            barrier.wait()
            ids[n] = [
                q.put(b"%d-%d" % (n, i), topic=f"t{n}", key=f"k{n}-{i}" if i % 5 == 0 else None)
                for i in range(15)
            ]

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        last = q.put(b"solo-last")
        assert last > max(max(v) for v in ids.values()) > max(first)
        assert len(q) == 5 + 60 + 1
        for n in range(4):
            assert ids[n] == sorted(ids[n])
            got = q.lease(100, topic=f"t{n}")
            assert [m.payload for m in got] == [b"%d-%d" % (n, i) for i in range(15)]
            assert [m.key for m in got][::5] == [f"k{n}-{i}" for i in range(0, 15, 5)]
        assert [m.payload for m in q.lease(100, topic="default")] == [
            b"solo-%d" % i for i in range(5)
        ] + [b"solo-last"]


def _producer(path: str, n: int, tag: int) -> None:
    with SyncQueue(path) as q:
        for i in range(n):
            q.put(b"%d:%d" % (tag, i), topic=f"p{tag}")


def _consumer(path: str, out: mp.Queue, stop_after: float) -> None:  # type: ignore[type-arg]
    got = []
    with SyncQueue(path) as q:
        end = time.monotonic() + stop_after
        while time.monotonic() < end:
            batch = q.lease(50, visibility_timeout=60)
            if not batch:
                time.sleep(0.005)
                continue
            got.extend(m.payload for m in batch)
            q.ack(batch)
    out.put(got)


def test_multi_process_producers_and_consumers_no_loss_no_double_lease(tmp_path: Path) -> None:
    path = str(tmp_path / "q")
    SyncQueue(path).close()
    ctx = mp.get_context("spawn")
    results: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    producers = [ctx.Process(target=_producer, args=(path, 300, k)) for k in range(3)]
    consumers = [ctx.Process(target=_consumer, args=(path, results, 8.0)) for _ in range(2)]
    for p in producers + consumers:
        p.start()
    for p in producers:
        p.join(60)
    got = [results.get(timeout=60) for _ in consumers]
    for p in consumers:
        p.join(30)
    all_got = got[0] + got[1]
    with SyncQueue(path) as q:
        rest = [m.payload for m in q.lease(10_000)]
    everything = all_got + rest
    assert len(everything) == len(set(everything)) == 900
    for consumer in got:  # FIFO per topic within each consumer's view
        for k in range(3):
            seq = [int(p.split(b":")[1]) for p in consumer if p.startswith(b"%d:" % k)]
            assert seq == sorted(seq)


def test_message_lease_deadline(queue: SyncQueue) -> None:
    queue.put(b"x")
    m = queue.lease(1, visibility_timeout=10)[0]
    assert isinstance(m, Message)
    assert 9 < m.lease_deadline - time.time() <= 10.5


def _big_producer(path: str, tag: int) -> None:
    with SyncQueue(path, map_size=1 << 20, compression=None) as q:
        for _ in range(40):
            q.put(os.urandom(50_000), topic=f"p{tag}")


def test_map_grows_while_several_processes_write(tmp_path: Path) -> None:
    path = str(tmp_path / "q")
    SyncQueue(path, map_size=1 << 20).close()
    ctx = mp.get_context("spawn")
    producers = [ctx.Process(target=_big_producer, args=(path, k)) for k in range(3)]
    for p in producers:
        p.start()
    got = 0
    with SyncQueue(path, map_size=1 << 20) as q:
        deadline = time.monotonic() + 60
        while got < 120 and time.monotonic() < deadline:
            batch = q.lease(10)
            q.ack(batch)
            got += len(batch)
            if not batch:
                time.sleep(0.01)
        for p in producers:
            p.join(30)
        assert [p.exitcode for p in producers] == [0, 0, 0]
        assert got == 120 and q.stats().map_size_bytes > 1 << 20


def test_corrupted_record_is_quarantined_not_blocking(tmp_path: Path) -> None:
    import lmdb

    with SyncQueue(tmp_path / "q") as q:
        ids = q.put_many([b"a", b"b", b"c"])
    env = lmdb.open(str(tmp_path / "q"), max_dbs=16, writemap=True)
    with env.begin(write=True) as txn:  # records: main database, key 0xFF + id
        txn.put(b"\xff" + ids[1].to_bytes(8, "big"), b"\x01\x00garbage")
    env.close()
    with SyncQueue(tmp_path / "q") as q:
        got = q.lease(10)
        assert [m.payload for m in got] == [b"a", b"c"]
        (dead,) = q.dead_letters()  # listed, with its reason (issue #20.7)
        assert q.stats().dead == 1 and dead.id == ids[1] and dead.payload == b""
        assert dead.dead_reason is not None and dead.dead_reason.startswith("corrupt record: ")
        q.ack(got)
        assert len(q) == 0


def test_record_decoder_fuzz() -> None:
    from hypothesis import given
    from hypothesis import strategies as st

    from edgekit.errors import CorruptDataError as Corrupt
    from edgekit.sync.queue import _layout as R

    @given(st.binary(max_size=200), st.integers(0, 3))
    def check(data: bytes, flags: int) -> None:
        try:
            head = R.read_head(data)
        except Corrupt:
            return
        with contextlib.suppress(Corrupt):
            R.decode_body(data, head, 1, None, b"q")

    check()
    record = R.encode_record(
        seq=1,
        payload=b"x" * 1000,
        topic=b"t",
        key=b"",
        headers={"a": "b"},
        priority=0,
        created_us=0,
        compress_threshold=10,
        cipher=None,
        queue_id=b"q",
    )
    head = R.read_head(record)
    assert R.decode_body(record, head, 1, None, b"q") == (b"x" * 1000, {"a": "b"})
    for cut in range(0, len(record), 7):
        with contextlib.suppress(Corrupt):
            h = R.read_head(record[:cut])
            R.decode_body(record[:cut], h, 1, None, b"q")


def test_group_commit_fails_only_the_puts_that_do_not_fit(tmp_path: Path) -> None:
    with SyncQueue(tmp_path / "q", durability="power", max_bytes=3000) as q:
        ok: list[int] = []
        full: list[Exception] = []
        lock = threading.Lock()

        def work() -> None:
            for _ in range(10):
                try:
                    got = q.put(b"z" * 60)
                except QueueFullError as exc:
                    with lock:
                        full.append(exc)
                else:
                    with lock:
                        ok.append(got)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert ok and full and len(ok) + len(full) == 40
        assert sorted(m.id for m in q.lease(100)) == sorted(ok)


# When data/queue_v1.mdb was written (2026-11-22 11:25:18 UTC, the created stamp of
# a2; k-a2's dedup entry expires 86,400 s later). Tests read it through a clock they
# control, so they hold on any date.
_V1_WRITTEN = 1_795_346_718.395


def _format_1_queue(tmp_path: Path) -> Path:
    """A copy of a queue written by format 1 code (commit 70cac5c; data/queue_v1.mdb, an
    LMDB compact copy, max_attempts=2): topics a (a1; a2 with priority 5, key k-a2,
    headers), b (b0 leased for 30 s, b1 nacked with a delay of 100 years, b2-b4 ready),
    big (2,000 bytes compressed, nacked twice: dead). Its times are those of
    ``_V1_WRITTEN``: open it with a ``clock`` relative to that."""
    path = tmp_path / "v1"
    path.mkdir()
    data = Path(__file__).parent / "data" / "queue_v1.mdb"
    (path / "data.mdb").write_bytes(data.read_bytes())
    return path


def test_format_1_queue_opens_upgraded_with_its_messages(tmp_path: Path) -> None:
    path = _format_1_queue(tmp_path)
    clock = lambda: _V1_WRITTEN + 60.0  # a minute after it was written  # noqa: E731
    with SyncQueue(path, max_attempts=2, clock=clock) as q:
        stats = q.stats()
        assert (stats.ready, stats.delayed, stats.in_flight, stats.dead) == (5, 1, 1, 1)
        assert stats.topics == {"a": (2, 89), "b": (5, 190)}
        assert [m.payload for m in q.dead_letters()] == [b"z" * 2000]
        first = q.lease(2, topic="a")
        assert [m.payload for m in first] == [b"a2", b"a1"]
        assert first[0].key == "k-a2" and first[0].headers == {"h": "v"}
        assert q.put(b"again", topic="a", key="k-a2") == first[0].id  # dedup kept
        new = q.put(b"a3", topic="a")
        assert new > max(m.id for m in first)
        q.ack(first)
        # b0's lease (30 s) has expired: it comes back with b2-b4.
        assert [m.payload for m in q.lease(10, topic="b")] == [b"b0", b"b2", b"b3", b"b4"]
        assert len(q) == 6
    with SyncQueue(path, clock=clock) as q:
        assert q._store.read(lambda txn: txn.get(b"format", db=q._store.dbs.meta)) == b"3"
        assert len(q) == 6


def test_format_1_queue_dedup_entries_expire_with_their_window(tmp_path: Path) -> None:
    """The upgraded queue keeps a format-1 dedup entry while it is inside its window
    (above) and drops it once the window has passed, as for a format-2 entry."""
    path = _format_1_queue(tmp_path)
    clock = lambda: _V1_WRITTEN + 86_400.0 + 1.0  # noqa: E731
    with SyncQueue(path, max_attempts=2, clock=clock) as q:
        a2 = next(m for m in q.peek(10, topic="a") if m.key == "k-a2")
        assert q.put(b"again", topic="a", key="k-a2") != a2.id
        assert len(q.peek(10, topic="a")) == 3


def test_unknown_queue_format_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "q"
    with SyncQueue(path) as q:
        q._store.write(lambda t: t.txn.put(b"format", b"9", db=t.dbs.meta))
    with pytest.raises(CorruptDataError, match="unknown queue format b'9'"):
        SyncQueue(path)


def test_counters_left_behind_by_puts_are_counted_after_a_crash(tmp_path: Path) -> None:
    """Puts write the counters every 256 messages; a reopen (as after kill -9) counts
    the messages stored after them, per topic and in total."""
    path = tmp_path / "q"
    q = SyncQueue(path)
    for i in range(300):
        q.put(b"x" * 10, topic="a" if i % 3 else "b")
    expected = q.stats()
    q._store.env.close()  # no further write: as if the process died here
    with SyncQueue(path) as again:
        stats = again.stats()
        assert (stats.ready, stats.stored_bytes, stats.topics) == (
            300,
            expected.stored_bytes,
            expected.topics,
        )
        assert len(again.lease(1000)) == 300
        assert again.stats().in_flight == 300


def test_counters_stay_exact_with_two_writer_processes(tmp_path: Path) -> None:
    """Each process's puts not yet in the stored counters are counted by the other
    process's next transaction."""
    import subprocess
    import sys

    path = tmp_path / "q"
    child = (
        "import sys\n"
        "from edgekit.sync import SyncQueue\n"
        "with SyncQueue(sys.argv[1]) as q:\n"
        "    assert len(q) == 20, len(q)\n"
        "    for i in range(7):\n"
        "        q.put(b'c', topic='t1')\n"
        "    assert len(q.lease(5, topic='t0')) == 5\n"
        "    q.put(b'c', topic='t2')\n"
    )
    with SyncQueue(path) as q:
        for i in range(20):
            q.put(b"m%d" % i, topic=f"t{i % 2}")
        subprocess.run(
            [sys.executable, "-c", child, str(path)],
            check=True,
            cwd=Path(__file__).parents[2],
            timeout=60,
        )
        q.put(b"late", topic="t0")
        stats = q.stats()
        assert (stats.ready, stats.in_flight, stats.depth) == (24, 5, 29)
        # a record is a 35-byte header, the topic, the payload and an 8-byte checksum
        t1 = 5 * (45 + 2) + 5 * (45 + 3) + 7 * (45 + 1)
        assert stats.topics == {"t0": (11, stats.topics["t0"][1]), "t1": (17, t1), "t2": (1, 46)}
        assert len(q.lease(100)) == 24


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.booleans(),
            st.lists(st.tuples(st.sampled_from([b"a", b"b"]), st.integers(0, 40)), max_size=12),
        ),
        max_size=12,
    )
)
def test_ready_index_runs_match_a_set(
    tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[bool, list[tuple[bytes, int]]]]
) -> None:
    """The ready index keeps runs of consecutive ids: adding and removing any ids
    leaves exactly the ids added and not removed, in order."""
    from edgekit.sync.queue import _index
    from edgekit.sync.queue import _layout as R

    with SyncQueue(tmp_path_factory.mktemp("runs") / "q") as q:
        dbs = q._store.dbs
        model: set[tuple[bytes, int]] = set()
        for add, items in steps:
            chosen = {(t, s) for t, s in items}
            keys = sorted(R.ready_key(t, 0, s) for t, s in chosen - model if add) if add else []
            gone = sorted(R.ready_key(t, 0, s) for t, s in chosen & model) if not add else []
            if add:
                q._store.write(lambda t, keys=keys: _index.add_ready(t.txn, t.dbs.ready, keys))
                model |= chosen
            else:
                q._store.write(lambda t, gone=gone: _index.remove_ready(t.txn, t.dbs.ready, gone))
                model -= chosen
            for topic in (b"a", b"b"):
                listed = q._store.read(
                    lambda txn, topic=topic: _index.ready_keys(
                        txn, dbs.ready, dbs.topics, topic.decode(), 999
                    )
                )[0]
                want = sorted(s for t, s in model if t == topic)
                assert [R.split_ready_key(k)[2] for k in listed] == want


def test_two_leases_with_one_deadline_and_first_id_both_expire(tmp_path: Path) -> None:
    """Found by the state machine: a nacked first message leased again within the same
    clock tick gave a second lease the timers key of the first, which it overwrote; the
    first lease's other messages then never expired."""
    now = [1_000_000_000_000]
    with SyncQueue(tmp_path / "q", clock=lambda: now[0] / 1e6) as q:
        q.put_many([b"a", b"b"])
        first = q.lease(2, visibility_timeout=10)
        q.nack([first[0]], delay=0)
        assert [m.id for m in q.lease(1, visibility_timeout=10)] == [first[0].id]
        now[0] += 11_000_000
        assert [m.id for m in q.lease(2, visibility_timeout=10)] == [m.id for m in first]
