"""Scans that do not silently come back empty (issue #19 point 3), and service-type names.

Real zeroconf traffic on 127.0.0.1; publishers run in a subprocess, as another
program on the link would. Other tests on the machine share loopback, so a
scanner that must settle browses a type of its own.
"""

from __future__ import annotations

import subprocess
import sys
import time
import warnings
from collections.abc import Iterator

import pytest

from edgekit.errors import InvalidInputError, ScanWarning
from edgekit.scan import MdnsScanner, scan, scan_mdns
from edgekit.scan.mdns import ANSWER_WINDOW_S, FIRST_INTERVAL_S, _normalize_type
from tests.scan.test_mdns import LOOPBACK, unique_type

# Registers one service of each type given on 127.0.0.1, ``gap`` seconds apart
# (0: all at once), prints "ready" once the first are up, then serves until killed.
PUBLISHER = """
import asyncio, sys
from zeroconf import IPVersion
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

async def main(gap, types):
    aiozc = AsyncZeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
    infos = [AsyncServiceInfo(stype, f"dev{i}.{stype}", port=7000 + i, server=f"dev{i}.local.",
                              parsed_addresses=["127.0.0.1"]) for i, stype in enumerate(types)]
    batches = [[info] for info in infos] if gap else [infos]
    for i, batch in enumerate(batches):
        if i:
            await asyncio.sleep(gap)
        await asyncio.gather(*[await aiozc.async_register_service(x) for x in batch])
        if i == 0:
            print("ready", flush=True)
    await asyncio.Event().wait()

asyncio.run(main(float(sys.argv[1]), sys.argv[2:]))
"""


def publish(gap: float, types: list[str]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-c", PUBLISHER, str(gap), *types], stdout=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
    return proc


@pytest.fixture
def three_services() -> Iterator[str]:
    """Three services of one fresh type, registered by another process."""
    stype = unique_type()
    proc = publish(0, [stype] * 3)
    try:
        yield stype
    finally:
        proc.kill()
        proc.wait()


async def test_wait_complete_waits_for_types_arriving_a_second_apart() -> None:
    """The old 0.3 s settle returned True with the first type of three."""
    types = [unique_type() for _ in range(3)]
    proc = publish(1.0, types)  # the first type is up; the others follow 1 s apart
    try:
        async with MdnsScanner(None, interfaces=LOOPBACK) as scanner:
            await scanner.async_wait_complete(15.0)  # False only if the shared link churns
            found = {s.type for s in scanner.services.values()}
        assert set(types) <= found
    finally:
        proc.kill()
        proc.wait()


async def test_settled_after_two_quiet_query_rounds(three_services: str) -> None:
    stype = three_services
    async with MdnsScanner([stype], interfaces=LOOPBACK) as scanner:
        start = time.monotonic()
        assert not scanner.settled
        assert await scanner.async_wait_complete(10.0)
        elapsed = time.monotonic() - start
        assert scanner.settled and not scanner.pending
        assert len(scanner.services) == 3
        # the answers came with the first round; two more went unanswered
        assert scanner.rounds >= 3
        assert elapsed >= FIRST_INTERVAL_S + ANSWER_WINDOW_S


def test_scan_mdns_for_2_s_finds_3_of_3_from_another_process(three_services: str) -> None:
    stype = three_services
    inventory = scan(["mdns"], timeout=2.0, mdns=MdnsScanner(interfaces=LOOPBACK))
    names = {d.name for d in inventory if stype in d.services}
    assert names == {"dev0", "dev1", "dev2"}


def test_scan_mdns_ends_once_settled(three_services: str) -> None:
    start = time.monotonic()
    services = scan_mdns([three_services], timeout=30.0, interfaces=LOOPBACK)
    assert time.monotonic() - start < 15.0
    assert [s.port for s in services] == [7000, 7001, 7002]


def test_a_scan_that_found_nothing_warns() -> None:
    nothing = unique_type()
    with pytest.warns(ScanWarning, match="before its answers settled.*timeout=5"):
        assert scan_mdns([nothing], timeout=0.3, interfaces=LOOPBACK) == []
    with pytest.warns(ScanWarning, match="went unanswered.*UDP port 5353"):
        assert scan_mdns([nothing], timeout=10.0, interfaces=LOOPBACK) == []
    with pytest.warns(ScanWarning, match=f"no {nothing} service"):
        scan(["mdns"], timeout=0.3, mdns=MdnsScanner([nothing], interfaces=LOOPBACK))


def test_a_scan_that_found_something_does_not_warn(three_services: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", ScanWarning)
        assert len(scan_mdns([three_services], timeout=10.0, interfaces=LOOPBACK)) == 3


def test_scan_warnings_are_shown_every_time() -> None:
    """A notebook cell run twice warns twice (Python's default shows a warning once)."""
    nothing = unique_type()
    code = (
        "import warnings\n"
        "from edgekit.scan import scan_mdns\n"
        f"for _ in range(2): scan_mdns([{nothing!r}], timeout=0.2, interfaces=['127.0.0.1'])\n"
    )
    err = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    ).stderr
    assert err.count("ScanWarning: mDNS found no") == 2


async def test_async_scan_mdns_waits_for_settle_not_for_an_unavailable_protocol(
    three_services: str, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from edgekit.scan import async_scan

    monkeypatch.setenv("PATH", str(tmp_path))  # no WiFi tool: that protocol ends at once
    start = time.monotonic()
    inventory = await async_scan(
        ["mdns", "wifi"], timeout=30.0, mdns=MdnsScanner([three_services], interfaces=LOOPBACK)
    )
    assert time.monotonic() - start < 15.0
    assert "wifi" in inventory.unavailable
    assert len(inventory) == 3


@pytest.mark.parametrize(
    ("given", "full"),
    [
        ("http", "_http._tcp.local."),
        ("_http", "_http._tcp.local."),
        ("sleep-proxy", "_sleep-proxy._tcp.local."),
        ("_http._tcp", "_http._tcp.local."),
        ("_http._tcp.local", "_http._tcp.local."),
        ("_ipp._udp.local.", "_ipp._udp.local."),
        (" _hap._tcp ", "_hap._tcp.local."),
        ("_printer._sub._http._tcp", "_printer._sub._http._tcp.local."),
        ("_androidtvremote2._tcp", "_androidtvremote2._tcp.local."),  # real, over 15 characters
    ],
)
def test_service_type_shorthands(given: str, full: str) -> None:
    assert _normalize_type(given) == full
    assert MdnsScanner(given).service_types == [full]
    assert MdnsScanner(service_types=[given]).service_types == [full]


@pytest.mark.parametrize(
    "bad",
    ["", "a b", "http://printer", "_http.local.", "_http._sctp", "_123._tcp", "-x", "x.y",
     "_http._tcp.example.com."],
)  # fmt: skip
def test_what_cannot_be_a_service_type_is_refused(bad: str) -> None:
    with pytest.raises(InvalidInputError, match="is not a DNS-SD service type"):
        MdnsScanner([bad])


async def test_nothing_there_settles_after_two_unanswered_rounds() -> None:
    async with MdnsScanner([unique_type()], interfaces=LOOPBACK) as scanner:
        start = time.monotonic()
        assert not scanner.settled  # no round asked yet: silence is no answer
        assert await scanner.async_wait_complete(10.0)
        assert time.monotonic() - start >= FIRST_INTERVAL_S + ANSWER_WINDOW_S
        assert scanner.rounds >= 2 and scanner.services == {}
