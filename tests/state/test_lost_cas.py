"""StateSync after a lost compare-and-set, against a real nats-server -js: the remote entry
comes from the watch's copy when the watch brought it while the push flew, else it is read
from the bucket; and a push round waits while another replica's winning entries arrive."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import nats

from edgekit.state import StateStore
from edgekit.state.sync import _YIELD_MAX, _YIELD_MIN, StateSync
from edgekit.state.wire import encode


async def _kv(url: str, bucket: str) -> tuple[nats.NATS, object]:
    nc = await nats.connect(url)
    return nc, await nc.jetstream().key_value(bucket)


def _synced(store: StateStore, url: str, bucket: str) -> StateSync:
    """``store`` with ``k`` = "base", and a sync of it to ``bucket``."""
    store.set("k", "base")
    return StateSync(store, url, bucket=bucket, create_bucket=True)


def test_a_lost_compare_and_set_is_resolved_from_the_watchs_copy(
    shared_nats, bucket, tmp_path: Path
):
    with StateStore(tmp_path / "a", node_id="a", conflict="cloud_wins") as a:
        sync = _synced(a, shared_nats.url, bucket)

        async def run() -> None:
            await sync.async_sync_now(10)
            nc, kv = await _kv(shared_nats.url, bucket)
            push = sync._kv_update

            async def racing(key: str, data: bytes, last: int) -> int:
                sync._kv_update = push  # (once)
                revision = await kv.put(key, b'"cloud"')  # a cloud write lands first
                while sync._seen < revision:  # the watch brings it while the push flies
                    await asyncio.sleep(0.001)
                return await push(key, data, last)

            sync._kv_update = racing
            a.set("k", "edge")
            report = await sync.async_sync_now(10)
            assert sync._cas_lost == {"watch": 1, "read": 0}
            assert report.sent == 0 and report.received == 1 and report.conflicts == 1
            assert (await kv.get("k")).value == b'"cloud"'
            await nc.close()
            await sync.async_close()

        asyncio.run(run())
        assert a.get("k") == "cloud" and a.pending() == []
        assert a.conflicts()[-1].strategy == "cloud_wins"


def test_a_lost_compare_and_set_the_watch_has_not_brought_is_read(
    shared_nats, bucket, tmp_path: Path
):
    with StateStore(tmp_path / "a", node_id="a", conflict="cloud_wins") as a:
        sync = _synced(a, shared_nats.url, bucket)

        async def run() -> None:
            await sync.async_sync_now(10)
            await sync._sub.unsubscribe()  # the watch lags: it delivers nothing more
            nc, kv = await _kv(shared_nats.url, bucket)
            await kv.put("k", b'"cloud"')
            a.set("k", "edge")
            await sync._push_all(time.monotonic() + 10)
            assert sync._cas_lost == {"watch": 0, "read": 1}
            await nc.close()
            await sync.async_close()

        asyncio.run(run())
        assert a.get("k") == "cloud" and a.pending() == []


def test_a_push_round_waits_while_remote_entries_beat_its_keys(tmp_path: Path):
    with (
        StateStore(tmp_path / "a", node_id="a") as a,
        StateStore(tmp_path / "b", node_id="b") as b,
    ):
        n = 2 * _YIELD_MIN
        a.update({f"k/{i}": "a's" for i in range(n)})
        time.sleep(0.01)
        theirs = [b.set(f"k/{i}", "b's") for i in range(n)]  # later: they win under lww
        sync = StateSync(a, "nats://127.0.0.1:1", bucket="never")  # never connects
        sync._round = {e.key for e in a.pending()}
        sync._yield_end = time.monotonic() + 60
        burst = [(e.key, encode(e), 1 + i, e.hlc.wall_ms, False) for i, e in enumerate(theirs)]
        sync._apply_many(burst[: _YIELD_MIN - 1])  # too few to wait for
        assert sync._yields == 0 and sync._yield_until < time.monotonic()
        sync._apply_many(burst[_YIELD_MIN - 1 :])
        assert sync._yields == 1 and sync._yield_until > time.monotonic()
        assert not sync._round & {f"k/{i}" for i in range(n)}  # each key waits once
        assert a.pending() == [] and dict(a.items()) == dict(b.items())


def test_a_push_round_waits_10_s_at_most(tmp_path: Path):
    with (
        StateStore(tmp_path / "a", node_id="a") as a,
        StateStore(tmp_path / "b", node_id="b") as b,
    ):
        a.update({f"k/{i}": "a's" for i in range(_YIELD_MIN)})
        time.sleep(0.01)
        theirs = [b.set(f"k/{i}", "b's") for i in range(_YIELD_MIN)]
        sync = StateSync(a, "nats://127.0.0.1:1", bucket="never")
        sync._round = {e.key for e in a.pending()}
        sync._yield_end = end = time.monotonic() - _YIELD_MAX  # the round began long ago
        sync._apply_many(
            [(e.key, encode(e), 1 + i, e.hlc.wall_ms, False) for i, e in enumerate(theirs)]
        )
        assert sync._yields == 1 and sync._yield_until == end


def test_remote_entries_that_lose_do_not_make_a_round_wait(tmp_path: Path):
    with (
        StateStore(tmp_path / "a", node_id="a") as a,
        StateStore(tmp_path / "b", node_id="b") as b,
    ):
        n = 2 * _YIELD_MIN
        theirs = [b.set(f"k/{i}", "b's") for i in range(n)]
        time.sleep(0.01)
        a.update({f"k/{i}": "a's" for i in range(n)})  # later: a's win under lww
        sync = StateSync(a, "nats://127.0.0.1:1", bucket="never")
        sync._round = {e.key for e in a.pending()}
        sync._apply_many(
            [(e.key, encode(e), 1 + i, e.hlc.wall_ms, False) for i, e in enumerate(theirs)]
        )
        assert sync._yields == 0 and a.pending_count() == n


def test_base_revisions_read_many_keys_at_once(tmp_path: Path):
    with StateStore(tmp_path / "a", node_id="a") as a:
        one, two = a.set("one", 1), a.set("two", 2)
        a.mark_synced_many([("one", one.hlc, 7), ("two", two.hlc, 9)])
        assert a.base_revisions(["two", "none", "one", "not a key!"]) == [9, 0, 7, 0]
        assert a.base_revisions(["one"]) == [a.base_revision("one")]
