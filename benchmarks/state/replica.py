"""Convergence after heal with one process per replica (as on three devices).

Each replica process opens its store (the changes made offline are in it already),
waits for the common start, runs its StateSync in the background and reports, every
20 ms, its pending count, the bucket revision its watch reached and a digest of every
entry (tombstones included) while nothing is pending (hashed again only after the
revision, the applied or the sent count moved). The parent times the start until
the three report the same revision and digest with nothing pending.
"""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import time
from pathlib import Path
from typing import Any


def _replica(path: str, url: str, bucket: str, start: Any, stop: Any, out: Any) -> None:
    from edgekit.state import StateStore
    from edgekit.state.sync import StateSync
    from edgekit.sync._reach import import_nats

    import_nats()  # (loaded before the start, as in a running device: the heal is the link)
    with StateStore(path) as store:
        sync = StateSync(store, url, bucket=bucket)
        out.put(("ready", path))
        start.wait()
        sync.start()
        digest, digested = "", None
        try:
            while not stop.is_set():
                time.sleep(0.02)
                status = sync.status()
                if status.pending_changes:
                    digest, digested = "", None
                elif (status.revision, status.received, status.sent) != digested:
                    # (hashed again only when the store may have changed: hashing every
                    # entry every 20 ms would take the replica's CPU)
                    digested = (status.revision, status.received, status.sent)
                    digest = hashlib.sha1(repr(store.entries()).encode()).hexdigest()
                out.put((path, status.pending_changes, status.revision, digest))
        finally:
            sync.stop()


def converge_in_processes(root: Path, url: str, bucket: str, keys: int) -> float:
    """Seconds until three replica processes with ``keys`` keys each changed offline
    (the same keys) hold identical state."""
    from edgekit.state import StateStore
    from edgekit.state.sync import StateSync

    paths = [str(root / f"{bucket}-n{i}") for i in range(3)]
    for r, path in enumerate(paths):
        with StateStore(path, node_id=f"n{r}") as store:
            if r == 0:  # the bucket exists: the three start alike
                with StateSync(store, url, bucket=bucket, create_bucket=True) as sync:
                    sync.sync_now(10)
            store.update({f"dev/{i}": {"i": i, "by": r} for i in range(keys)})
    ctx = mp.get_context("spawn")
    start, stop, out = ctx.Event(), ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_replica, args=(p, url, bucket, start, stop, out)) for p in paths]
    for proc in procs:
        proc.start()
    try:
        for _ in procs:
            out.get(timeout=60)
        began = time.perf_counter()
        start.set()
        last: dict[str, tuple[int, int, str]] = {}
        while time.perf_counter() - began < 120:
            path, pending, revision, digest = out.get(timeout=60)
            last[path] = (pending, revision, digest)
            views = set(last.values())
            if len(last) == 3 and len(views) == 1 and next(iter(views))[2]:
                return time.perf_counter() - began
        raise RuntimeError("the three replicas did not converge in 120 s")
    finally:
        stop.set()
        for proc in procs:
            proc.join(30)
