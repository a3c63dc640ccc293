"""edgekit.sync side by side with persist-queue, litequeue, raw LMDB and a bare nats-py loop.

``python -m benchmarks.sync [--quick]``. Every row of issue 7's target table, in one
run, same durability on both sides:

- "process" (no fsync; survives kill -9): edgekit ``durability="process"``; SQLite peers
  with ``synchronous=OFF`` (persist-queue SQLiteAckQueue) or WAL + ``NORMAL`` (litequeue,
  its default); persist-queue's file Queue as it is (fsync every 100 puts).
- "power" (fsync per commit): edgekit ``durability="power"``; LMDB ``sync=True``.

Peers are far slower than edgekit, so they run fewer messages; rates are msgs/s.
"""

from __future__ import annotations

from benchmarks._common import Report, parse_args, pin_threads

pin_threads()

import asyncio  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import lmdb  # noqa: E402

from edgekit.sync import NatsTransport, SyncEngine, SyncQueue  # noqa: E402

PAYLOAD = b"x" * 100


class Dirs:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="edgekit-bench-sync-", dir="/var/tmp"))
        self.n = 0

    def new(self) -> Path:
        self.n += 1
        return self.root / f"d{self.n}"


def median_rate(cases: dict[str, Callable[[], float]], rounds: int) -> dict[str, float]:
    """Each case returns msgs/s of one run; cases alternate; the median per case."""
    out: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, fn in cases.items():
            out[name].append(fn())
    return {name: statistics.median(v) for name, v in out.items()}


# -- put + lease + ack, "process" ---------------------------------------------------------


def _drain(q: SyncQueue, n: int) -> None:
    """Lease and ack ``n`` messages in batches of 100."""
    done = 0
    while done < n:
        batch = q.lease(100)
        q.ack(batch)
        done += len(batch)


def edgekit_put_lease_ack(dirs: Dirs, n: int) -> float:
    with SyncQueue(dirs.new()) as q:
        start = time.perf_counter()
        for _ in range(n):
            q.put(PAYLOAD)
        _drain(q, n)
        return n / (time.perf_counter() - start)


def edgekit_put_many_lease_ack(dirs: Dirs, n: int) -> float:
    with SyncQueue(dirs.new()) as q:
        start = time.perf_counter()
        for _ in range(n // 100):
            q.put_many([PAYLOAD] * 100)
        _drain(q, n)
        return n / (time.perf_counter() - start)


def sqlite_ack_queue(dirs: Dirs, n: int) -> float:
    import persistqueue

    q = persistqueue.SQLiteAckQueue(str(dirs.new()), auto_commit=True)
    for conn in {id(c): c for c in (q._conn, q._getter, q._putter)}.values():
        conn.execute("PRAGMA synchronous=OFF")
    start = time.perf_counter()
    for _ in range(n):
        q.put(PAYLOAD)
    for _ in range(n):
        item = q.get()
        q.ack(item)
    rate = n / (time.perf_counter() - start)
    q._conn.close()
    return rate


def persist_file_queue(dirs: Dirs, n: int) -> float:
    import persistqueue

    q = persistqueue.Queue(str(dirs.new()))
    start = time.perf_counter()
    for _ in range(n):
        q.put(PAYLOAD)
    for i in range(n):
        q.get()
        if i % 100 == 99:
            q.task_done()
    q.task_done()
    return n / (time.perf_counter() - start)


def litequeue_run(dirs: Dirs, n: int) -> float:
    import litequeue

    path = dirs.new()
    path.mkdir()
    q = litequeue.LiteQueue(str(path / "q.db"))
    start = time.perf_counter()
    for _ in range(n):
        q.put("x" * 100)
    for _ in range(n):
        m = q.pop()
        q.done(m.message_id)
    rate = n / (time.perf_counter() - start)
    q.close()
    return rate


# -- "power" --------------------------------------------------------------------------------


class PowerTargets:
    """An edgekit queue (durability="power") and a raw LMDB env (sync=True), kept open.

    Both are timed in small alternating chunks, so that the disk's wild swings here
    (other processes' fsyncs) hit both sides alike.
    """

    def __init__(self, dirs: Dirs) -> None:
        self.queue = SyncQueue(dirs.new(), durability="power")
        self.env = lmdb.open(str(dirs.new()), map_size=1 << 28, sync=True, metasync=True)
        self._counter = iter(range(10**9))
        self._lock = threading.Lock()

    def edgekit(self, n: int, threads: int) -> float:
        def work() -> None:
            for _ in range(n):
                self.queue.put(PAYLOAD)

        return _threaded(work, threads) * n

    def lmdb(self, n: int, threads: int) -> float:
        def work() -> None:
            for _ in range(n):
                with self._lock:
                    i = next(self._counter)
                with self.env.begin(write=True) as txn:
                    txn.put(i.to_bytes(8, "big"), PAYLOAD)

        return _threaded(work, threads) * n

    def commits(self) -> tuple[int, int]:
        """(group commits, puts they carried) so far, from the queue's own tally."""
        stats = self.queue.stats()
        return stats.group_commits, stats.group_commit_puts

    def close(self) -> None:
        self.queue.close()
        self.env.close()


def chunked_rates(
    cases: dict[str, tuple[Callable[[], float], int]], chunks: int
) -> dict[str, float]:
    """Overall msgs/s of each case over ``chunks`` alternating chunks.

    Each case is ``(fn, messages per chunk)`` where ``fn`` returns the chunk's msgs/s.
    """
    seconds = dict.fromkeys(cases, 0.0)
    for _ in range(chunks):
        for name, (fn, n) in cases.items():
            seconds[name] += n / fn()
    return {name: cases[name][1] * chunks / seconds[name] for name in cases}


def _threaded(work: Callable[[], None], threads: int) -> float:
    """Runs ``work`` in ``threads`` threads; returns threads / elapsed seconds.

    The threads are started before the clock and released together by a barrier, so
    that starting them (about 0.1 ms each here, several commits' time for 8) is not
    timed as puts.
    """
    barrier = threading.Barrier(threads + 1)

    def run() -> None:
        barrier.wait()
        work()

    pool = [threading.Thread(target=run) for _ in range(threads)]
    for t in pool:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in pool:
        t.join()
    return threads / (time.perf_counter() - start)


# -- put_many -------------------------------------------------------------------------------


def edgekit_put_many(dirs: Dirs, n: int) -> float:
    with SyncQueue(dirs.new()) as q:
        payloads = [PAYLOAD] * n
        start = time.perf_counter()
        q.put_many(payloads)
        return n / (time.perf_counter() - start)


def lmdb_put_many(dirs: Dirs, n: int) -> float:
    env = lmdb.open(str(dirs.new()), map_size=1 << 30, sync=False, metasync=False, writemap=True)
    start = time.perf_counter()
    with env.begin(write=True) as txn:
        txn.cursor().putmulti(((i.to_bytes(8, "big"), PAYLOAD) for i in range(n)), append=True)
    rate = n / (time.perf_counter() - start)
    env.close()
    return rate


# -- backlog ----------------------------------------------------------------------------------


def edgekit_backlog_rates(dirs: Dirs, backlog: int, rounds: int) -> tuple[float, float]:
    """lease(100)+ack rate with 1k and with ``backlog`` messages waiting."""

    def rate(q: SyncQueue) -> float:
        start = time.perf_counter()
        for _ in range(50):
            q.ack(q.lease(100))
        elapsed = time.perf_counter() - start
        q.put_many([PAYLOAD] * 5000)  # keep the backlog level
        return 5000 / elapsed

    with SyncQueue(dirs.new()) as small, SyncQueue(dirs.new()) as big:
        small.put_many([PAYLOAD] * 1000)
        small.put_many([PAYLOAD] * 5000)
        for _ in range(backlog // 100_000):
            big.put_many([PAYLOAD] * 100_000)
        rates = median_rate({"small": lambda: rate(small), "big": lambda: rate(big)}, rounds)
        return rates["small"], rates["big"]


def litequeue_backlog_rate(dirs: Dirs, backlog: int, pops: int) -> float:
    import litequeue

    path = dirs.new()
    path.mkdir()
    q = litequeue.LiteQueue(str(path / "q.db"))
    with q.transaction():
        for _ in range(backlog):
            q.put("x" * 100)
    start = time.perf_counter()
    for _ in range(pops):
        m = q.pop()
        q.done(m.message_id)
    rate = pops / (time.perf_counter() - start)
    q.close()
    return rate


# -- JetStream ---------------------------------------------------------------------------------


def jetstream_rates(dirs: Dirs, n: int, rounds: int) -> tuple[float, float]:
    from tests._support.servers import NatsServer

    root = dirs.new()
    root.mkdir()
    server = NatsServer(root)
    server.start()
    counter = iter(range(10**6))

    def edgekit_once() -> float:
        k = next(counter)
        with SyncQueue(dirs.new()) as q:
            q.put_many([PAYLOAD] * n)
            transport = NatsTransport(
                server.url, stream=f"E{k}", subject_prefix=f"e{k}", create_stream=True
            )
            engine = SyncEngine(q, transport, batch_size=1000, max_batch_bytes=1 << 22)

            async def run() -> float:
                await transport.async_connect()
                start = time.perf_counter()
                sent = await engine.async_drain(120)
                elapsed = time.perf_counter() - start
                await transport.async_close()
                assert sent == n
                return n / elapsed

            return asyncio.run(run())

    def bare_once() -> float:
        import nats

        k = next(counter)

        async def run() -> float:
            nc = await nats.connect(server.url)
            js = nc.jetstream(publish_async_max_pending=100_000)
            await js.add_stream(name=f"B{k}", subjects=[f"b{k}.>"])
            start = time.perf_counter()
            futures = []
            for i in range(n):
                futures.append(
                    await js.publish_async(f"b{k}.t", PAYLOAD, headers={"Nats-Msg-Id": f"m{k}-{i}"})
                )
            await asyncio.gather(*futures)
            elapsed = time.perf_counter() - start
            await nc.close()
            return n / elapsed

        return asyncio.run(run())

    try:
        rates = median_rate({"edgekit": edgekit_once, "bare": bare_once}, rounds)
    finally:
        server.stop()
    return rates["edgekit"], rates["bare"]


def main() -> None:
    args = parse_args(__doc__ or "")
    quick = args.quick
    report = Report("sync", quick=quick)
    dirs = Dirs()
    try:
        n_edge = 20_000 if quick else 100_000
        n_peer = 500 if quick else 2_000
        rounds = 1 if quick else 3
        more_rounds = 1 if quick else 5  # the noisiest rows (disk fsync, network)

        rates = median_rate(
            {
                "edgekit": lambda: edgekit_put_lease_ack(dirs, n_edge),
                "edgekit put_many(100)": lambda: edgekit_put_many_lease_ack(dirs, n_edge),
                "persist-queue SQLiteAckQueue": lambda: sqlite_ack_queue(dirs, n_peer),
                "persist-queue file Queue": lambda: persist_file_queue(dirs, n_peer),
                "litequeue": lambda: litequeue_run(dirs, n_peer),
            },
            rounds,
        )
        report.add(
            "put + lease(100) + ack, 100 B, process",
            "throughput",
            "msgs/s",
            rates["edgekit"],
            peers={k: v for k, v in rates.items() if k != "edgekit"},
            higher_is_better=True,
            target=">= 100k msgs/s, 50x persist-queue",
            note=f"single puts; edgekit {n_edge:,} msgs, peers {n_peer:,}",
        )

        power = PowerTargets(dirs)
        try:
            chunks = 4 if quick else 20
            rates = chunked_rates(
                {
                    "edgekit": (lambda: power.edgekit(25, 1), 25),
                    "LMDB": (lambda: power.lmdb(25, 1), 25),
                },
                chunks,
            )
            report.add(
                "durable single puts, 1 thread, power",
                "throughput",
                "msgs/s",
                rates["edgekit"],
                peers={"LMDB sync=True, 1 put/commit": rates["LMDB"]},
                higher_is_better=True,
                target="within 1.3x of LMDB",
                note=f"{chunks} alternating chunks of 25 puts",
            )
            # With T threads that each wait for their put, a commit carries at most T
            # puts: group commit can reach at most T x LMDB's one-commit-per-put rate.
            for threads, per_thread in ((8, 10), (64, 5)):
                before = power.commits()
                cases = {
                    "edgekit": (
                        lambda t=threads, n=per_thread: power.edgekit(n, t),
                        threads * per_thread,
                    ),
                    "LMDB 1": (lambda: power.lmdb(20, 1), 20),
                }
                if threads == 8:  # (LMDB's writer lock serialises threads: as 1 thread)
                    cases["LMDB T"] = (
                        lambda t=threads, n=per_thread: power.lmdb(n, t),
                        threads * per_thread,
                    )
                rates = chunked_rates(cases, chunks)
                after = power.commits()
                per_commit = (after[1] - before[1]) / max(after[0] - before[0], 1)
                peers = {"LMDB sync=True, 1 thread": rates["LMDB 1"]}
                if "LMDB T" in rates:
                    peers[f"LMDB sync=True, {threads} threads"] = rates["LMDB T"]
                report.add(
                    f"durable single puts, {threads} threads, power "
                    f"(group commit: {per_commit:.1f} puts/commit)",
                    "throughput",
                    "msgs/s",
                    rates["edgekit"],
                    peers=peers,
                    higher_is_better=True,
                    target=">= 10x LMDB 1 put/commit",
                    note=f"{chunks} alternating chunks of {threads} threads x {per_thread} puts; "
                    f"{per_commit:.1f} puts per commit (at most {threads} with {threads} "
                    f"synchronous threads, so at most {threads}x LMDB's rate)",
                )
        finally:
            power.close()

        n_many = 200_000 if quick else 1_000_000
        rates = median_rate(
            {
                "edgekit": lambda: edgekit_put_many(dirs, n_many),
                "raw LMDB putmulti, 1 txn": lambda: lmdb_put_many(dirs, n_many),
            },
            rounds,
        )
        report.add(
            f"put_many {n_many:,} x 100 B",
            "throughput",
            "msgs/s",
            rates["edgekit"],
            peers={"raw LMDB putmulti, 1 txn": rates["raw LMDB putmulti, 1 txn"]},
            higher_is_better=True,
            target=">= 1M msgs/s",
        )

        n_js = 5_000 if quick else 20_000
        edge, bare = jetstream_rates(dirs, n_js, more_rounds)
        report.add(
            "queue -> JetStream, acked, Nats-Msg-Id",
            "throughput",
            "msgs/s",
            edge,
            peers={"bare nats-py publish_async loop": bare},
            higher_is_better=True,
            target=">= 0.8x bare nats-py",
            note=f"{n_js:,} x 100 B",
        )

        backlog = 200_000 if quick else 1_000_000
        small, big = edgekit_backlog_rates(dirs, backlog, 3 if quick else 5)
        lq_small = litequeue_backlog_rate(dirs, 1_000, 100 if quick else 200)
        lq_big = litequeue_backlog_rate(dirs, 10_000 if quick else 50_000, 100 if quick else 200)
        report.add(
            f"lease(100)+ack at {backlog:,} backlog",
            "throughput",
            "msgs/s",
            big,
            peers={
                "edgekit at 1k backlog": small,
                "litequeue at 1k": lq_small,
                f"litequeue at {10_000 if quick else 50_000:,}": lq_big,
            },
            higher_is_better=True,
            target="rate at 1M within 1.5x of rate at 1k",
            note=f"edgekit slowdown 1k -> {backlog:,}: {small / big:.2f}x; "
            f"litequeue slowdown: {lq_small / lq_big:.2f}x",
        )
        cycles = 10 if quick else 30
        crash = crash_run(dirs, cycles)
        report.add(
            f"kill -9 cycles while putting and syncing to JetStream ({cycles})",
            "lost + duplicated upstream",
            "messages",
            float(crash["lost"] + crash["duplicated"]),
            target="0 lost, 0 duplicated",
            note=f"{crash['returned']:,} puts returned before the kills, "
            f"{crash['upstream']:,} in JetStream, {crash['lost']} lost, "
            f"{crash['duplicated']} duplicated (200 cycles: pytest -m slow)",
        )
    finally:
        shutil.rmtree(dirs.root, ignore_errors=True)
    report.finish()


def crash_run(dirs: Dirs, cycles: int) -> dict[str, int]:
    from tests._support.servers import NatsServer
    from tests.sync.test_crash import crash_cycles

    root = dirs.new()
    root.mkdir()
    server = NatsServer(root / "nats")
    server.root.mkdir()
    server.start()
    try:
        return crash_cycles(server, root, cycles=cycles, seed=3)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
