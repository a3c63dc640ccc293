"""MdnsScanner / MdnsAdvertiser against real zeroconf traffic on 127.0.0.1."""

from __future__ import annotations

import asyncio
import sys
import uuid

import pytest

from edgekit.errors import BackendUnavailableError, InvalidInputError
from edgekit.scan import MdnsAdvertiser, MdnsEvent, MdnsScanner, scan_mdns

LOOPBACK = ["127.0.0.1"]


def unique_type() -> str:
    return f"_ek{uuid.uuid4().hex[:8]}._tcp.local."


async def publisher(stype: str, count: int, *, txt: dict | None = None):  # type: ignore[no-untyped-def]
    from zeroconf import IPVersion
    from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

    aiozc = AsyncZeroconf(interfaces=LOOPBACK, ip_version=IPVersion.V4Only)
    infos = [
        AsyncServiceInfo(
            stype,
            f"svc{i:03d}.{stype}",
            parsed_addresses=["127.0.0.1"],
            port=20000 + i,
            properties=txt if txt is not None else {"id": str(i), "md": "Edge Sensor"},
            server=f"host{i:03d}.local.",
        )
        for i in range(count)
    ]
    tasks = await asyncio.gather(*(aiozc.async_register_service(info) for info in infos))
    await asyncio.gather(*tasks)
    return aiozc, infos


async def test_hundred_services_all_resolved_within_5s() -> None:
    stype = unique_type()
    aiozc, _ = await publisher(stype, 100)
    try:
        loop = asyncio.get_running_loop()
        start = loop.time()
        async with MdnsScanner([stype], interfaces=LOOPBACK) as scanner:
            assert await scanner.async_wait_complete(5.0, expected=100)
            elapsed = loop.time() - start
            services = scanner.services
        assert elapsed < 5.0
        assert len(services) == 100
        for i in range(100):
            s = services[f"svc{i:03d}.{stype}"]
            assert s.addresses == ("127.0.0.1",)
            assert s.port == 20000 + i
            assert s.server == f"host{i:03d}.local."
            assert s.txt == {"id": str(i), "md": "Edge Sensor"}
            assert s.instance == f"svc{i:03d}"
    finally:
        await aiozc.async_close()


async def test_browse_all_types_through_meta_query() -> None:
    stype = unique_type()
    aiozc, _ = await publisher(stype, 3)
    try:
        async with MdnsScanner(None, interfaces=LOOPBACK) as scanner:
            for _ in range(100):
                if sum(s.type == stype for s in scanner.services.values()) == 3:
                    break
                await asyncio.sleep(0.05)
            assert sum(s.type == stype for s in scanner.services.values()) == 3
    finally:
        await aiozc.async_close()


async def test_txt_decoding() -> None:
    stype = unique_type()
    aiozc, _ = await publisher(stype, 1, txt={"s": "grüße", "b": b"\xff\xfe", "flag": None})
    try:
        async with MdnsScanner([stype], interfaces=LOOPBACK) as scanner:
            assert await scanner.async_wait_complete(5.0, expected=1)
            (service,) = scanner.services.values()
        assert service.txt == {"s": "grüße", "b": b"\xff\xfe", "flag": None}
    finally:
        await aiozc.async_close()


async def test_added_updated_removed_events() -> None:
    stype = unique_type()
    seen: list[MdnsEvent] = []
    async with MdnsScanner([stype], interfaces=LOOPBACK, on_event=seen.append) as scanner:
        advertiser = MdnsAdvertiser("Kitchen", stype, 8080, txt={"v": "1"}, interfaces=LOOPBACK)
        await advertiser.async_start()
        try:
            assert await scanner.async_wait_complete(5.0, expected=1)
            await advertiser.async_update({"v": "2"})
            for _ in range(100):
                if any(e.kind == "updated" for e in seen):
                    break
                await asyncio.sleep(0.05)
        finally:
            await advertiser.async_stop()
        for _ in range(100):
            if any(e.kind == "removed" for e in seen):
                break
            await asyncio.sleep(0.05)
    kinds = [e.kind for e in seen]
    assert kinds[0] == "added" and "updated" in kinds and kinds[-1] == "removed"
    updated = next(e for e in seen if e.kind == "updated")
    assert updated.service.txt == {"v": "2"}
    assert updated.service.name == f"Kitchen.{stype}"


async def test_events_iterator() -> None:
    stype = unique_type()
    async with MdnsScanner([stype], interfaces=LOOPBACK) as scanner:
        events = scanner.events()
        waiter = asyncio.ensure_future(events.__anext__())
        aiozc, _ = await publisher(stype, 1)
        try:
            event = await asyncio.wait_for(waiter, 5.0)
            assert event.kind == "added" and event.service.port == 20000
        finally:
            await events.aclose()
            await aiozc.async_close()


async def test_flooding_peer_is_bounded() -> None:
    from zeroconf import DNSOutgoing, DNSPointer, DNSText, IPVersion, const
    from zeroconf.asyncio import AsyncZeroconf

    stype = unique_type()
    flooder = AsyncZeroconf(interfaces=LOOPBACK, ip_version=IPVersion.V4Only)
    try:
        async with MdnsScanner(
            [stype], interfaces=LOOPBACK, max_services=200, max_cache_records=500
        ) as scanner:
            await asyncio.sleep(0.2)
            for burst in range(10):
                out = DNSOutgoing(const._FLAGS_QR_RESPONSE | const._FLAGS_AA)
                for i in range(300):
                    name = f"flood{burst}-{i}.{stype}"
                    out.add_answer_at_time(
                        DNSPointer(stype, const._TYPE_PTR, const._CLASS_IN, 4500, name), 0
                    )
                    out.add_answer_at_time(
                        DNSText(name, const._TYPE_TXT, const._CLASS_IN, 4500, b"\x03a=b"), 0
                    )
                flooder.zeroconf.async_send(out)
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)
            scanner.trim_cache()
            assert scanner.cache_size <= 500
            assert len(scanner.pending) + len(scanner.services) <= 200
            assert scanner.dropped > 0
    finally:
        await flooder.async_close()


async def test_scan_mdns_inside_running_loop_and_sync_advertiser() -> None:
    stype = unique_type()
    advertiser = MdnsAdvertiser("Sync", stype, 9000, txt={"k": "v"}, interfaces=LOOPBACK)
    advertiser.start()  # sync front, from inside this running loop
    try:
        services = scan_mdns([stype], timeout=3.0, interfaces=LOOPBACK)
    finally:
        advertiser.stop()
    assert [s.name for s in services] == [f"Sync.{stype}"]
    assert services[0].txt == {"k": "v"} and services[0].port == 9000


def test_scan_mdns_from_plain_sync_code() -> None:
    stype = unique_type()
    with MdnsAdvertiser("Plain", stype, 9001, interfaces=LOOPBACK):
        services = scan_mdns([stype.replace(".local.", "")], timeout=3.0, interfaces=LOOPBACK)
    assert [s.port for s in services] == [9001]


def test_invalid_arguments() -> None:
    with pytest.raises(InvalidInputError):
        MdnsScanner(["http://printer"])
    with pytest.raises(InvalidInputError):
        MdnsScanner(query_timeout=0)
    with pytest.raises(InvalidInputError):
        MdnsAdvertiser("x", "_http._tcp", 0)


async def test_invalid_interfaces() -> None:
    with pytest.raises(InvalidInputError):
        await MdnsScanner(interfaces=["not-an-ip"]).async_start()


async def test_missing_zeroconf_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "zeroconf", None)
    with pytest.raises(BackendUnavailableError, match="mdns"):
        await MdnsScanner(interfaces=LOOPBACK).async_start()


async def test_ttl_expiry_removes_a_vanished_host_and_refresh_keeps_a_live_one() -> None:
    import subprocess
    from pathlib import Path

    stype = unique_type()
    script = Path(__file__).with_name("mdns_publisher.py")
    procs = {
        name: subprocess.Popen(
            [sys.executable, str(script), stype, name, "3"], stdout=subprocess.PIPE
        )
        for name in ("Vanishing", "Staying")
    }
    try:
        for proc in procs.values():
            assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        seen: list[MdnsEvent] = []
        async with MdnsScanner([stype], interfaces=LOOPBACK, on_event=seen.append) as scanner:
            assert await scanner.async_wait_complete(5.0, expected=2)
            procs["Vanishing"].kill()  # gone without a goodbye packet
            procs["Vanishing"].wait()
            loop = asyncio.get_running_loop()
            start = loop.time()
            while loop.time() - start < 8.0:  # well past the 3 s TTL
                await asyncio.sleep(0.1)
            names = set(scanner.services)
        removed = [e.service.name for e in seen if e.kind == "removed"]
        assert removed == [f"Vanishing.{stype}"]
        assert names == {f"Staying.{stype}"}
    finally:
        for proc in procs.values():
            proc.kill()
            proc.wait()


def test_txt_decoding_never_raises() -> None:
    from hypothesis import given
    from hypothesis import strategies as st

    from edgekit.scan.mdns import _decode_txt

    @given(st.dictionaries(st.binary(max_size=10), st.none() | st.binary(max_size=20), max_size=8))
    def check(properties: dict[bytes, bytes | None]) -> None:
        decoded = _decode_txt(properties)
        assert len(decoded) <= len(properties)
        names = [key.decode("utf-8", "replace") for key in properties]
        for value, name in zip(properties.values(), names, strict=True):
            if names.count(name) > 1:  # undecodable keys may collide; the last wins
                continue
            got = decoded[name]
            if value is not None and isinstance(got, str):
                assert got.encode("utf-8") == value

    check()


async def test_a_goodbye_during_a_resolution_is_not_undone(monkeypatch: pytest.MonkeyPatch) -> None:
    # A resolution under way when the service's goodbye arrives may still answer (from the
    # records the goodbye leaves a second to live): the service must stay removed, and not
    # be asked again. (CI once saw a goodbye seemingly ignored for 30 s.)
    import zeroconf.asyncio
    from zeroconf import ServiceStateChange

    release = asyncio.Event()

    class SlowInfo:
        def __init__(self, stype: str, name: str) -> None:
            self.server, self.port, self.properties = "h.local.", 80, {}

        async def async_request(self, zc: object, timeout: int) -> bool:
            await release.wait()
            return True

        def parsed_addresses(self) -> list[str]:
            return ["127.0.0.1"]

    monkeypatch.setattr(zeroconf.asyncio, "AsyncServiceInfo", SlowInfo)
    stype, name = "_x._tcp.local.", "a._x._tcp.local."
    scanner = MdnsScanner([stype], interfaces=LOOPBACK)
    scanner._aiozc = type("Zc", (), {"zeroconf": None})()
    scanner._in_flight.add(name)
    task = asyncio.create_task(scanner._resolve(name, stype, 0, asyncio.Semaphore(1)))
    await asyncio.sleep(0.01)
    scanner._on_change(None, stype, name, ServiceStateChange.Removed)
    release.set()
    await task
    assert name not in scanner._services and name not in scanner._pending
    assert not scanner._in_flight and not scanner._gone
