"""StateSync against a real nats-server -js: round trips, the documented entry format,
foreign writes and garbage from a plain nats-py client, lost compare-and-sets, the watch,
an outage, and the twin's on_delta after a reconnect."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from pathlib import Path

import pytest

from edgekit.errors import BackendUnavailableError, InvalidInputError, TransportConfigError
from edgekit.state import StateStore, Twin
from edgekit.state.sync import StateSync, StateSyncStatus, SyncReport
from tests.state import _plain


def wait_for(predicate, timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met after {timeout} s")
        time.sleep(0.005)


@pytest.fixture
def stores(tmp_path: Path):
    opened: list[StateStore] = []

    def make(name: str, **kwargs) -> StateStore:
        store = StateStore(tmp_path / name, node_id=name, **kwargs)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


def test_round_trip_between_two_stores(shared_nats, bucket, stores):
    a, b = stores("a"), stores("b")
    values = {"cfg/mode": "eco", "cfg/limits": {"rpm": [100, 200]}, "n": 3, "x.y=z": None}
    a.update(values)
    a.set("gone", 1)
    a.delete("gone")
    with StateSync(a, shared_nats.url, bucket=bucket, create_bucket=True) as sa:
        report = sa.sync_now(10)
        assert report == SyncReport(sent=5, received=0, conflicts=0)
        assert sa.status().pending_changes == 0
    with StateSync(b, shared_nats.url, bucket=bucket) as sb:
        report = sb.sync_now(10)
    assert report.received == 5 and report.sent == 0
    assert dict(b.items()) == values
    assert b.entry("gone").deleted
    assert b.entry("cfg/mode") == a.entry("cfg/mode")  # stamp and node travel too
    assert b.pending() == []


def test_the_bucket_holds_the_documented_format(shared_nats, bucket, stores):
    a = stores("a")
    entry = a.set("twin/pump/desired/rpm", 1200)
    a.delete("old")  # a delete of a key never written: nothing to push
    with StateSync(a, shared_nats.url, bucket=bucket, create_bucket=True) as sa:
        sa.sync_now(10)
    doc = _plain.dump(shared_nats.url, bucket, expect=1)
    assert doc == {
        "twin/pump/desired/rpm": {
            "v": 1200,
            "hlc": [entry.hlc.wall_ms, entry.hlc.logical],
            "node": "a",
            "deleted": False,
        }
    }


def test_foreign_writes_are_cloud_writes_at_the_server_time(shared_nats, bucket, stores):
    a = stores("a", conflict={"cfg/*": "cloud_wins", "*": "lww"})
    a.set("cfg/mode", "local")
    with StateSync(a, shared_nats.url, bucket=bucket, create_bucket=True) as sa:
        sa.sync_now(10)
        sa.stop()  # offline: both sides change cfg/mode
        a.set("cfg/mode", "edge-later")
        _plain.put(shared_nats.url, bucket, "cfg/mode", b'"from-the-cloud"')
        _plain.put(shared_nats.url, bucket, "cfg/text", b"plain text, not JSON")
        _plain.put(shared_nats.url, bucket, "cfg/obj", b'{"setpoint": 21.5}')
        _plain.put(shared_nats.url, bucket, "cfg/dropme", b"1")
        _plain.delete(shared_nats.url, bucket, "cfg/dropme")
        report = sa.sync_now(10)
    assert report.conflicts == 1
    assert a.get("cfg/mode") == "from-the-cloud"  # cloud_wins over a later edge write
    assert a.get("cfg/text") == "plain text, not JSON"
    assert a.get("cfg/obj") == {"setpoint": 21.5}
    assert a.entry("cfg/dropme").deleted
    entry = a.entry("cfg/text")
    assert entry.node_id == "cloud" and entry.hlc.logical == 0
    # the server's timestamp of the KV entry, in ms (the server keeps its own clock)
    assert entry.hlc.wall_ms == _plain.server_ms(shared_nats.url, bucket, "cfg/text")
    (conflict,) = a.conflicts()
    assert conflict.strategy == "cloud_wins" and conflict.local.value == "edge-later"


def test_garbage_in_the_bucket_is_counted_for_its_key_and_the_sync_goes_on(
    shared_nats, bucket, stores, caplog
):
    a, b = stores("a"), stores("b")
    a.set("seed", 0)
    with StateSync(a, shared_nats.url, bucket=bucket, create_bucket=True) as sa:
        sa.sync_now(10)
    _plain.put(shared_nats.url, bucket, "bad/bytes", b"\xff\xfe\x00\x01")
    _plain.put(shared_nats.url, bucket, "bad/nan", b"[NaN]")
    _plain.put(shared_nats.url, bucket, "bad/shape", b'{"v": 1, "hlc": "x", "node": "n"}')
    _plain.put(shared_nats.url, bucket, "good/1", b'"fine"')
    with StateSync(b, shared_nats.url, bucket=bucket) as sb:
        report = sb.sync_now(10)
        status = sb.status()
        assert report.received == 2  # seed and good/1
        assert b.get("good/1") == "fine" and b.get("seed") == 0
        assert "bad/bytes" not in b and "bad/nan" not in b
        assert status.bad_entries == 3
        assert "bad/" in status.last_error and "not applied" in status.last_error
        assert any("bad/bytes" in r.getMessage() for r in caplog.records)
        # a local write over a garbage entry replaces it in the bucket
        b.set("bad/bytes", {"repaired": True})
        assert sb.sync_now(10).sent == 1
    assert _plain.dump(shared_nats.url, bucket, expect=1)["bad/bytes"]["v"] == {"repaired": True}


def test_a_lost_compare_and_set_merges_and_both_converge(shared_nats, bucket, stores):
    a = stores("a", conflict="fww")
    b = stores("b", conflict="fww")
    a.set("k", "base")
    sa = StateSync(a, shared_nats.url, bucket=bucket, create_bucket=True)
    sb = StateSync(b, shared_nats.url, bucket=bucket)
    sa.sync_now(10)
    sb.sync_now(10)
    sa.stop()
    sb.stop()  # both offline; both write k
    first = a.set("k", "first")
    b.set("k", "second")
    assert sa.sync_now(10).sent == 1
    report = sb.sync_now(10)  # CAS lost: reads the remote, fww keeps the first write
    assert report.conflicts == 1 and report.received == 1
    assert b.entry("k") == first
    sa.sync_now(10)
    assert a.entry("k") == b.entry("k") == first
    assert a.pending() == b.pending() == []
    sa.stop()
    sb.stop()


def test_remote_changes_arrive_through_the_watch(shared_nats, bucket, stores):
    a, b = stores("a"), stores("b")
    seen: list = []
    a.subscribe(seen.append)
    with (
        StateSync(a, shared_nats.url, bucket=bucket, create_bucket=True) as sa,
        StateSync(b, shared_nats.url, bucket=bucket) as sb,
    ):
        sa.sync_now(10)
        sa.start()
        sb.start()
        b.set("from/b", 1)  # pushed by b's loop, applied by a's watch
        wait_for(lambda: a.get("from/b") == 1, what="a sees b's write")
        _plain.put(shared_nats.url, bucket, "from/cloud", b"2")
        wait_for(lambda: a.get("from/cloud") == 2, what="a sees the cloud's write")
        wait_for(lambda: b.get("from/cloud") == 2, what="b sees the cloud's write")
        status = sa.status()
        assert isinstance(status, StateSyncStatus) and status.running and status.connected
        assert status.received >= 2 and status.last_sync_at is not None
        assert set(status.as_dict()) >= {
            "connected",
            "lag_s",
            "last_sync_at",
            "pending_changes",
            "last_error",
        }
        json.loads(status.to_json())
    assert [c.origin for c in seen if c.entry.key.startswith("from/")] == ["remote", "remote"]


def test_prefixes_limit_what_is_pushed_and_applied(shared_nats, bucket, stores):
    a, b = stores("a"), stores("b")
    a.update({"twin/p/desired/x": 1, "local/only": 2})
    with StateSync(a, shared_nats.url, bucket=bucket, create_bucket=True, prefixes=["twin/"]) as sa:
        assert sa.sync_now(10).sent == 1
        assert a.pending_count() == 1  # local/only stays local
    _plain.put(shared_nats.url, bucket, "other/k", b"3")
    with StateSync(b, shared_nats.url, bucket=bucket, prefixes=["twin/"]) as sb:
        sb.sync_now(10)
    assert dict(b.items()) == {"twin/p/desired/x": 1}


def test_an_outage_reconciles_both_sides(nats_server, stores):
    a, b = stores("a"), stores("b")
    with (
        StateSync(a, nats_server.url, bucket="out", create_bucket=True) as sa,
        StateSync(b, nats_server.url, bucket="out") as sb,
    ):
        a.set("shared", "a0")
        sa.sync_now(10)
        sb.sync_now(10)
        sa.start()
        sb.start()
        nats_server.stop()
        wait_for(lambda: not sa.status().connected, what="a sees the outage")
        a.update({"a/1": 1, "shared": "a1"})
        b.update({"b/1": 1})
        time.sleep(0.01)
        b.set("shared", "b-later")
        assert sa.status().pending_changes == 2
        nats_server.start()
        wait_for(lambda: a.get("b/1") == 1 and b.get("a/1") == 1, 20, "both sides reconciled")
        wait_for(lambda: a.get("shared") == b.get("shared") == "b-later", 10, "lww on shared")
        wait_for(lambda: sa.status().pending_changes == sb.status().pending_changes == 0)
        assert sa.status().last_error is None  # the outage's error cleared once back


def test_reconnect_fires_on_delta_once_with_the_final_desired_state(shared_nats, bucket, stores):
    device, cloud = stores("device"), stores("cloud")
    twin = Twin(device, "pump")
    with (
        StateSync(device, shared_nats.url, bucket=bucket, create_bucket=True, history=16) as sd,
        StateSync(cloud, shared_nats.url, bucket=bucket) as sc,
    ):
        twin.report({"rpm": 0, "mode": "off"})
        sd.sync_now(10)
        sc.sync_now(10)
        sd.stop()  # the device goes offline
        fired: list[dict] = []
        twin.on_delta(fired.append)
        remote = Twin(cloud, "pump")
        for rpm in (100, 200, 300):  # intermediate desired states, each synced
            remote.set_desired({"rpm": rpm})
            sc.sync_now(10)
        remote.set_desired({"mode": "eco"})
        sc.sync_now(10)
        assert fired == []
        sd.start()  # reconnect: the watch resumes after the last revision seen
        wait_for(lambda: twin.desired == {"rpm": 300, "mode": "eco"}, what="desired arrives")
        time.sleep(0.2)
        assert fired == [{"rpm": 300, "mode": "eco"}]
        twin.report({"rpm": 300, "mode": "eco"})  # the device acts, reports
        wait_for(lambda: remote.delta == {}, what="the cloud sees the delta empty")
        assert fired[-1] == {}


def test_configuration_errors(shared_nats, bucket, stores, monkeypatch):
    a = stores("a")
    with pytest.raises(TransportConfigError, match=f"no KeyValue bucket '{bucket}'.*create_bucket"):
        StateSync(a, shared_nats.url, bucket=bucket).sync_now(5)
    with pytest.raises(InvalidInputError, match="bucket name"):
        StateSync(a, shared_nats.url, bucket="a.b")
    with pytest.raises(InvalidInputError, match="nats://host"):
        StateSync(a, "http://x", bucket=bucket)
    monkeypatch.setitem(sys.modules, "nats", None)
    with pytest.raises(BackendUnavailableError, match=r"edgekit\[nats\]"):
        StateSync(a, shared_nats.url, bucket=bucket).sync_now(5)


def test_no_server_says_why_within_the_timeout(stores):
    from tests._support.servers import free_port

    a = stores("a")
    a.set("k", 1)
    sync = StateSync(a, f"nats://127.0.0.1:{free_port()}", bucket="b", connect_timeout=0.5)
    start = time.monotonic()
    with pytest.raises(Exception, match="connection refused") as info:
        sync.sync_now(2)
    assert time.monotonic() - start < 8
    assert type(info.value).__name__ == "TransportError"
    assert sync.status().pending_changes == 1 and not sync.status().connected
    sync.stop()


def test_sync_now_is_safe_from_a_thread_while_running(shared_nats, bucket, stores):
    a = stores("a")
    with StateSync(a, shared_nats.url, bucket=bucket, create_bucket=True) as sa:
        sa.start()
        errors: list[BaseException] = []

        def writer(n: int) -> None:
            try:
                for i in range(50):
                    a.set(f"t{n}/{i}", i)
                sa.sync_now(10)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert sa.status().pending_changes == 0
    assert len(_plain.dump(shared_nats.url, bucket, expect=150)) == 150


def test_server_timestamps_are_read_exactly():
    """The ms of a KV entry, from a watch's ack subject (both forms) or a get's header."""
    from edgekit.state.sync import _iso_ms, _watch_meta

    ns = 1796328561358999999  # 999999 ns past the ms: truncated, never rounded up
    assert _watch_meta(f"$JS.ACK.KV_b.c.1.42.7.{ns}.0") == (42, 1796328561358, 0)
    assert _watch_meta(f"$JS.ACK._.HASH.KV_b.c.1.42.7.{ns}.3.tok") == (42, 1796328561358, 3)
    assert _iso_ms("2026-12-03T19:12:24.123999999Z") == 1796325144123
    assert _iso_ms("2026-12-03T19:12:24Z") == 1796325144000
    assert _iso_ms("2026-12-03T19:12:24.1Z") == 1796325144100


def test_a_busy_watch_is_applied_in_bursts(shared_nats, bucket, stores):
    """A plain client writes 2,000 entries (keys written twice, garbage among them) while
    the sync runs: the watch applies them in far fewer transactions, in order, every
    one notified once, the garbage counted."""
    a = stores("a")
    calls: list[int] = []
    many = a.apply_remote_many

    def counting(items, **kwargs):
        items = list(items)
        calls.append(len(items))
        return many(items, **kwargs)

    a.apply_remote_many = counting  # type: ignore[method-assign]
    seen: list = []
    a.subscribe(lambda c: seen.append((c.entry.key, c.entry.value)))
    writes = [(f"k/{i % 1500}", i) for i in range(2000)]

    async def cloud(kv) -> None:
        await kv.put("k/bad", b"\xff not json")
        for start in range(0, len(writes), 200):
            await asyncio.gather(
                *(kv.put(k, json.dumps(v).encode()) for k, v in writes[start : start + 200])
            )

    with StateSync(a, shared_nats.url, bucket=bucket, create_bucket=True) as sa:
        sa.sync_now(10)
        sa.start()
        _plain.with_kv(shared_nats.url, bucket, cloud)
        wait_for(lambda: sa.status().received == 2000, what="all 2,000 entries applied")
        assert sa.status().bad_entries == 1
    final = dict(writes)
    assert dict(a.items()) == final
    assert sum(calls) == 2000 and len(calls) < 500, calls
    for key, value in final.items():  # the key's changes in order: its last write last
        assert [v for k, v in seen if k == key][-1] == value
    assert len(seen) == 2000
