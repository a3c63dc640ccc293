"""MdnsScanner's record cache: sized from what is browsed, eviction never read as a departure.

Real zeroconf traffic on 127.0.0.1; the many-service publisher runs in a
subprocess so that it answers on the other core.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest

from edgekit.scan import MdnsEvent, MdnsScanner

LOOPBACK = ["127.0.0.1"]

# Registers N services of one type on 127.0.0.1 without probing (cooperating
# responders: the names are unique by construction), prints "ready", and serves
# until killed.
PUBLISHER = """
import asyncio, sys
from zeroconf import IPVersion
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

async def main(stype, count):
    aiozc = AsyncZeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
    infos = [
        AsyncServiceInfo(stype, f"c{i:04d}.{stype}", parsed_addresses=["127.0.0.1"],
                         port=20000 + i, properties={"i": str(i)}, server=f"c{i:04d}.local.")
        for i in range(count)
    ]
    for start in range(0, count, 200):
        tasks = [await aiozc.async_register_service(x, cooperating_responders=True)
                 for x in infos[start:start + 200]]
        await asyncio.gather(*tasks)
    print("ready", flush=True)
    await asyncio.Event().wait()

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


def unique_type() -> str:
    return f"_ek{uuid.uuid4().hex[:8]}._tcp.local."


@pytest.fixture
def many() -> Iterator[tuple[str, int]]:
    """1,200 services of a fresh type, published from a subprocess."""
    stype, count = unique_type(), 1200
    proc = subprocess.Popen(
        [sys.executable, "-c", PUBLISHER, stype, str(count)], stdout=subprocess.PIPE
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        yield stype, count
    finally:
        proc.kill()
        proc.wait()


async def test_many_services_resolve_without_false_removals(many: tuple[str, int]) -> None:
    # 1,200 services hold ~6,000 records: past the old fixed 4,096-record bound,
    # which evicted resolved services' SRV records and reported them removed.
    stype, count = many
    seen: list[MdnsEvent] = []
    async with MdnsScanner([stype], interfaces=LOOPBACK, on_event=seen.append) as scanner:
        await scanner.async_wait_complete(20.0, expected=count)
        await asyncio.sleep(1.0)  # a few maintenance rounds after resolution
        resolved = len(scanner.services)
        assert scanner.cache_limit >= scanner.cache_size
        assert scanner.cache_limit > 4096
    assert [e for e in seen if e.kind == "removed"] == []
    assert resolved >= 0.99 * count


async def test_evicted_records_are_not_departures() -> None:
    from zeroconf import IPVersion
    from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

    stype, count = unique_type(), 40
    aiozc = AsyncZeroconf(interfaces=LOOPBACK, ip_version=IPVersion.V4Only)
    try:
        infos = [
            AsyncServiceInfo(
                stype,
                f"e{i:02d}.{stype}",
                parsed_addresses=["127.0.0.1"],
                port=21000 + i,
                server=f"e{i:02d}.local.",
            )
            for i in range(count)
        ]
        tasks = [await aiozc.async_register_service(x, cooperating_responders=True) for x in infos]
        await asyncio.gather(*tasks)
        seen: list[MdnsEvent] = []
        async with MdnsScanner(
            [stype], interfaces=LOOPBACK, max_cache_records=32, on_event=seen.append
        ) as scanner:
            assert await scanner.async_wait_complete(10.0, expected=count)
            for _ in range(8):  # 2 s of trimming + maintenance with most SRVs evicted
                scanner.trim_cache()
                assert scanner.cache_size <= 32
                await asyncio.sleep(0.25)
            assert scanner.evicted > 0
            assert len(scanner.services) == count
        assert [e for e in seen if e.kind == "removed"] == []
    finally:
        await aiozc.async_close()


async def test_goodbye_still_removes_with_a_trimmed_cache() -> None:
    from zeroconf import IPVersion
    from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

    stype = unique_type()
    aiozc = AsyncZeroconf(interfaces=LOOPBACK, ip_version=IPVersion.V4Only)
    try:
        info = AsyncServiceInfo(
            stype, f"Leaving.{stype}", parsed_addresses=["127.0.0.1"], port=4242, server="l.local."
        )
        await (await aiozc.async_register_service(info, cooperating_responders=True))
        seen: list[MdnsEvent] = []
        async with MdnsScanner(
            [stype], interfaces=LOOPBACK, max_cache_records=16, on_event=seen.append
        ) as scanner:
            assert await scanner.async_wait_complete(5.0, expected=1)
            await aiozc.async_unregister_service(info)
            loop = asyncio.get_running_loop()
            start = loop.time()
            while scanner.services and loop.time() - start < 5.0:
                await asyncio.sleep(0.05)
            assert scanner.services == {}
        assert [e.kind for e in seen] == ["added", "removed"]
    finally:
        await aiozc.async_close()


def test_cache_limit_follows_what_is_browsed() -> None:
    assert MdnsScanner(["_http._tcp"]).cache_limit == 4096  # nothing tracked yet
    assert MdnsScanner(["_http._tcp"], max_cache_records=500).cache_limit == 500
    # the hard bound: 8 records a service at most, whatever the host asks
    assert MdnsScanner(["_http._tcp"], max_services=10, max_cache_records=10**6).cache_limit == 1104
