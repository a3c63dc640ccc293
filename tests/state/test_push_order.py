"""StateSync's push round: a pending key the watch already brought a winning remote entry
for is applied and not pushed; replicas push a large round in orders of their own; three
replicas that changed the same keys offline converge on what the strategy says."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from edgekit.state import StateStore
from edgekit.state.sync import StateSync
from edgekit.state.wire import encode


def test_a_pending_key_the_watch_brought_a_winner_for_is_applied_not_pushed(tmp_path: Path):
    with (
        StateStore(tmp_path / "a", node_id="a") as a,
        StateStore(tmp_path / "b", node_id="b") as b,
    ):
        mine = a.set("k", "a's")
        theirs = b.set("k", "b's")  # later: wins under lww
        assert (theirs.hlc, theirs.node_id) > (mine.hlc, mine.node_id)
        sync = StateSync(a, "nats://127.0.0.1:1", bucket="never")  # never connects
        # the watch delivered b's entry at revision 7 before a's push of the key
        sync._burst.append(("k", encode(theirs), 7, theirs.hlc.wall_ms, False))
        sync._burst_keys.add("k")
        failed: list[str] = []
        asyncio.run(sync._push(a.pending()[0], failed))  # returns before any network use
        assert a.entry("k") == theirs
        assert a.pending_count() == 0 and a.base_revision("k") == 7
        assert sync.status().sent == 0 and sync.status().received == 1 and failed == []


def test_a_large_round_is_pushed_in_an_order_of_each_node(tmp_path: Path):
    with (
        StateStore(tmp_path / "a", node_id="a") as a,
        StateStore(tmp_path / "b", node_id="b") as b,
    ):
        for store in (a, b):
            store.update({f"dev/{i}": i for i in range(100)})
        small = [StateSync(s, bucket="x", in_flight=200) for s in (a, b)]
        large = [StateSync(s, bucket="x", in_flight=10) for s in (a, b)]
        for sync in small:  # fits in flight: oldest first
            assert sync._push_order(sync.store.pending()) == sync.store.pending()
        orders = [[e.key for e in s._push_order(s.store.pending())] for s in large]
        assert sorted(orders[0]) == sorted(orders[1]) == sorted(f"dev/{i}" for i in range(100))
        assert orders[0] != orders[1]
        assert orders[0] == [e.key for e in large[0]._push_order(a.pending())]  # stable


def test_three_replicas_with_the_same_keys_changed_offline_converge(
    shared_nats, bucket, tmp_path: Path
):
    keys = 600
    stores = [StateStore(tmp_path / f"n{r}", node_id=f"n{r}") for r in range(3)]
    syncs = [
        StateSync(s, shared_nats.url, bucket=bucket, create_bucket=True, in_flight=50)
        for s in stores
    ]
    try:
        syncs[0].sync_now(10)
        for r, store in enumerate(stores):
            store.update({f"dev/{i}": {"i": i, "by": r} for i in range(keys)})
        stores[0].set("dev/0", "n0 again")  # the newest write of dev/0
        for sync in syncs:
            sync.start()
        deadline = time.monotonic() + 60
        while True:
            statuses = [s.status() for s in syncs]
            views = [s.entries() for s in stores]
            if (
                not any(st.pending_changes for st in statuses)
                and len({st.revision for st in statuses}) == 1
                and views[0] == views[1] == views[2]
            ):
                break
            assert time.monotonic() < deadline, [st.pending_changes for st in statuses]
            time.sleep(0.05)
        final = dict(stores[0].items())
        expected = {f"dev/{i}": {"i": i, "by": 2} for i in range(keys)} | {"dev/0": "n0 again"}
        assert final == expected  # lww: the highest stamp of each key
        assert sum(st.sent for st in statuses) >= keys
    finally:
        for sync in syncs:
            sync.stop()
        for store in stores:
            store.close()
