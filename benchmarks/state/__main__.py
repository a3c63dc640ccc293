"""edgekit.state side by side with diskcache, raw LMDB and a bare nats-py KeyValue loop.

``python -m benchmarks.state [--quick]``. Every row of issue 15's target table, in one run:

- local ``set``/``get`` (``benchmarks/state/local.py``): against diskcache and raw LMDB + json;
- pushing 10k changes made offline: ``StateSync.sync_now()`` (connected beforehand, timed
  until every change is in the bucket and marked synced) against a bare nats-py loop of
  ``kv.update(key, value, last=0)`` (compare-and-set) with 500 in flight, each on a fresh
  bucket of the same server, alternating;
- a remote change seen locally while connected: a plain nats-py client puts a value, the
  time until the store's subscriber sees it (p50, p99);
- convergence after heal: three replicas, each with 10k keys changed offline (the same
  keys: every key a conflict), until all three hold identical state: the three in this
  process, and one process per replica (``benchmarks/state/replica.py``).
"""

from __future__ import annotations

from benchmarks._common import Report, parse_args, pin_threads

pin_threads()

import asyncio  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

from benchmarks.state.local import add_local_rows  # noqa: E402
from benchmarks.state.replica import converge_in_processes  # noqa: E402
from edgekit.state import Change, StateStore  # noqa: E402
from edgekit.state.sync import StateSync  # noqa: E402

VALUE = {"temp": 21.5, "unit": "C", "ok": True}


class Bench:
    """A nats-server -js and fresh directories and bucket names."""

    def __init__(self) -> None:
        from tests._support.servers import NatsServer

        self.root = Path(tempfile.mkdtemp(prefix="edgekit-bench-state-", dir="/var/tmp"))
        self.server = NatsServer(self.root / "nats")
        self.server.root.mkdir()
        self.server.start()
        self.n = 0

    def name(self) -> str:
        self.n += 1
        return f"b{self.n}"

    def store(self, node: str = "edge") -> StateStore:
        return StateStore(self.root / self.name(), node_id=node)

    def close(self) -> None:
        self.server.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def median_rate(cases: dict[str, Callable[[], float]], rounds: int) -> dict[str, float]:
    out: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, fn in cases.items():
            out[name].append(fn())
    return {name: statistics.median(v) for name, v in out.items()}


# -- pushing offline changes -----------------------------------------------------------------


def edgekit_push(bench: Bench, n: int) -> float:
    with bench.store() as store:
        store.update({f"dev/{i}": {**VALUE, "i": i} for i in range(n)})
        sync = StateSync(store, bench.server.url, bucket=bench.name(), create_bucket=True)

        async def run() -> float:
            await sync.async_connect()
            start = time.perf_counter()
            report = await sync.async_sync_now(120)
            elapsed = time.perf_counter() - start
            await sync.async_close()
            assert report.sent == n and store.pending_count() == 0, report
            return n / elapsed

        return asyncio.run(run())


def bare_push(bench: Bench, n: int, in_flight: int = 500) -> float:
    import nats

    # the same bytes edgekit writes: the documented entry of a small value
    value = json.dumps(
        {"v": {**VALUE, "i": 1234}, "hlc": [1796325434883, 0], "node": "edge", "deleted": False},
        separators=(",", ":"),
    ).encode()
    bucket = bench.name()

    async def run() -> float:
        nc = await nats.connect(bench.server.url)
        kv = await nc.jetstream().create_key_value(bucket=bucket)
        keys = iter(range(n))

        async def worker() -> None:
            for i in keys:
                await kv.update(f"dev/{i}", value, last=0)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(in_flight)))
        elapsed = time.perf_counter() - start
        await nc.close()
        return n / elapsed

    return asyncio.run(run())


# -- remote change latency --------------------------------------------------------------------


def remote_latency(bench: Bench, samples: int) -> list[float]:
    """Seconds from a plain client's put (before it is sent) to the store's subscriber."""
    import nats

    bucket = bench.name()
    seen: dict[str, float] = {}
    arrived = threading.Event()

    def on_change(change: Change) -> None:
        if change.origin == "remote":
            seen[change.entry.key] = time.perf_counter()
            arrived.set()

    with bench.store() as store:
        store.subscribe(on_change)
        sync = StateSync(store, bench.server.url, bucket=bucket, create_bucket=True)
        sync.sync_now(10)
        sync.start()
        sent: dict[str, float] = {}

        async def cloud() -> None:
            nc = await nats.connect(bench.server.url)
            kv = await nc.jetstream().key_value(bucket)
            for i in range(samples):
                key = f"cfg/{i}"
                arrived.clear()
                sent[key] = time.perf_counter()
                await kv.put(key, json.dumps({**VALUE, "i": i}).encode())
                await asyncio.get_running_loop().run_in_executor(None, arrived.wait, 2.0)
                await asyncio.sleep(0.002)
            await nc.close()

        try:
            asyncio.run(cloud())
        finally:
            sync.stop()
    return [seen[k] - sent[k] for k in sent if k in seen]


# -- convergence after heal ----------------------------------------------------------------------


def convergence(bench: Bench, keys: int) -> tuple[float, int]:
    """Seconds until three replicas with ``keys`` keys each changed offline (the same keys)
    hold identical state once they connect; and the conflicts resolved."""
    bucket = bench.name()
    stores = [bench.store(f"n{i}") for i in range(3)]
    syncs = [StateSync(s, bench.server.url, bucket=bucket, create_bucket=True) for s in stores]
    try:
        syncs[0].sync_now(10)  # the bucket exists: the three start alike
        for r, store in enumerate(stores):
            store.update({f"dev/{i}": {"i": i, "by": r} for i in range(keys)})
        start = time.perf_counter()
        for sync in syncs:
            sync.start()
        deadline = start + 120
        while time.perf_counter() < deadline:
            time.sleep(0.02)
            statuses = [s.status() for s in syncs]
            if any(st.pending_changes for st in statuses):
                continue
            if len({st.revision for st in statuses}) > 1:
                continue
            views = [s.entries() for s in stores]
            if views[0] == views[1] == views[2]:
                break
        elapsed = time.perf_counter() - start
        conflicts = sum(s.status().conflicts for s in syncs)
        return elapsed, conflicts
    finally:
        for sync in syncs:
            sync.stop()
        for store in stores:
            store.close()


def main() -> None:
    args = parse_args(__doc__ or "")
    quick = args.quick
    report = Report("state", quick=quick)
    add_local_rows(report, quick)
    bench = Bench()
    try:
        n = 10_000
        rounds = 2 if quick else 5
        rates = median_rate(
            {"edgekit": lambda: edgekit_push(bench, n), "bare": lambda: bare_push(bench, n)},
            rounds,
        )
        report.add(
            f"push {n:,} changes made offline (sync_now until all are in the bucket)",
            "rate",
            "changes/s",
            rates["edgekit"],
            peers={"bare nats-py kv.update CAS loop, 500 in flight": rates["bare"]},
            higher_is_better=True,
            target=">= 0.8x the bare nats-py CAS loop",
            note=f"median of {rounds} alternating runs, a fresh bucket each",
        )

        lat = sorted(remote_latency(bench, 200 if quick else 1000))
        p50 = statistics.median(lat) * 1000
        p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))] * 1000
        report.add(
            "a remote change seen locally while connected (plain nats-py put -> subscriber)",
            "p50",
            "ms",
            p50,
            note=f"{len(lat)} changes, one at a time, loopback",
        )
        report.add(
            "a remote change seen locally while connected (plain nats-py put -> subscriber)",
            "p99",
            "ms",
            p99,
            target="p99 < 50 ms",
            note=f"{len(lat)} changes, one at a time, loopback",
        )

        keys = 2_000 if quick else 10_000
        runs = 1 if quick else 3
        together, apart, conflicts = [], [], 0
        for _ in range(runs):  # alternating
            seconds, conflicts = convergence(bench, keys)
            together.append(seconds)
            apart.append(converge_in_processes(bench.root, bench.server.url, bench.name(), keys))
        spread = "" if runs == 1 else " (runs: {})"
        report.add(
            f"convergence after heal: 3 replicas, {keys:,} keys changed on each (the same keys)",
            "time to identical state",
            "s",
            statistics.median(together),
            target="within 5 s (10k keys each)",
            note=f"median of {runs}{spread.format(', '.join(f'{t:.1f}' for t in together))}; "
            f"{conflicts:,} conflicts resolved (lww); the three in one process (one GIL)",
        )
        report.add(
            f"convergence after heal: 3 replica processes, {keys:,} keys changed on each "
            "(the same keys)",
            "time to identical state",
            "s",
            statistics.median(apart),
            target="within 5 s (10k keys each)",
            note=f"median of {runs}{spread.format(', '.join(f'{t:.1f}' for t in apart))}; "
            "one process per replica, as on three devices (benchmarks/state/replica.py)",
        )
    finally:
        bench.close()
    report.finish()


if __name__ == "__main__":
    main()
