"""pause() / resume() of the scanners: real zeroconf on 127.0.0.1, the BlueZ D-Bus mock, a
fake nmcli printing captured output (tests/scan/data/nmcli_wifi_list.txt)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from edgekit.scan import BleScanner, MdnsEvent, MdnsScanner, WifiScanner
from edgekit.scan.inventory import BleSighting
from tests._support.bluez import Bluez
from tests.scan.test_advertisement import BTHOME, IBEACON
from tests.scan.test_mdns import LOOPBACK, publisher, unique_type

DATA = Path(__file__).parent / "data"


def count_sends(scanner: MdnsScanner) -> list[int]:
    """Count the packets the scanner's zeroconf sends (every query goes through async_send)."""
    zc = scanner._aiozc.zeroconf
    sent = [0]
    send = zc.async_send

    def counted(*args: Any, **kwargs: Any) -> None:
        sent[0] += 1
        send(*args, **kwargs)

    zc.async_send = counted
    return sent


async def until(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def test_mdns_pause_sends_nothing_keeps_the_services_and_resumes() -> None:
    stype = unique_type()
    aiozc, _ = await publisher(stype, 2)
    try:
        async with MdnsScanner([stype], interfaces=LOOPBACK) as scanner:
            assert await scanner.async_wait_complete(5.0, expected=2)
            await asyncio.to_thread(scanner.pause)  # blocking, from another thread
            await scanner.async_pause()  # idempotent
            assert scanner.paused
            sent = count_sends(scanner)
            rounds = scanner.rounds
            await asyncio.sleep(2.0)  # a round was due 1 s after the first
            assert (scanner.rounds, sent[0]) == (rounds, 0)
            assert len(scanner.services) == 2
            await asyncio.to_thread(scanner.resume)
            assert not scanner.paused
            assert await until(lambda: scanner.rounds > rounds, 3.0)
            assert sent[0] > 0 and len(scanner.services) == 2
    finally:
        await aiozc.async_close()


async def test_mdns_paused_before_start_starts_paused() -> None:
    stype = unique_type()
    aiozc, _ = await publisher(stype, 2)
    scanner = MdnsScanner([stype], interfaces=LOOPBACK)
    scanner.pause()  # not started: only the flag
    try:
        await scanner.async_start()
        await asyncio.sleep(1.2)
        assert scanner.rounds == 0 and scanner.services == {} and not scanner.pending
        await scanner.async_resume()
        assert await scanner.async_wait_complete(5.0, expected=2)
    finally:
        await scanner.async_stop()
        await aiozc.async_close()
    scanner.pause()  # stopped: only the flag, the next start starts paused
    assert scanner.paused


async def test_mdns_ageing_is_frozen_while_paused() -> None:
    stype = unique_type()
    script = Path(__file__).with_name("mdns_publisher.py")
    proc = subprocess.Popen(
        [sys.executable, str(script), stype, "Vanishing", "2"], stdout=subprocess.PIPE
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        seen: list[MdnsEvent] = []
        async with MdnsScanner([stype], interfaces=LOOPBACK, on_event=seen.append) as scanner:
            assert await scanner.async_wait_complete(5.0, expected=1)
            await scanner.async_pause()
            proc.kill()  # gone without a goodbye packet, while the scanner is paused
            proc.wait()
            await asyncio.sleep(3.0)  # past the 2 s TTL
            assert list(scanner.services) == [f"Vanishing.{stype}"]  # not aged while paused
            await scanner.async_resume()
            assert await until(lambda: not scanner.services, 6.0)  # ageing goes on
        assert [e.kind for e in seen] == ["added", "removed"]
    finally:
        proc.kill()
        proc.wait()


async def _discovering(bluez: Bluez) -> bool:
    from dbus_fast import Message
    from dbus_fast.aio import MessageBus

    bus = await MessageBus(bus_address=bluez.address).connect()
    try:
        reply = await bus.call(
            Message(
                destination="org.bluez",
                path="/org/bluez/hci0",
                interface="org.freedesktop.DBus.Properties",
                member="Get",
                signature="ss",
                body=["org.bluez.Adapter1", "Discovering"],
            )
        )
    finally:
        bus.disconnect()
    return bool(reply.body[0].value)


async def test_ble_pause_stops_the_radio_scan(bluez: Bluez) -> None:
    await bluez.add_adapter()
    seen: list[BleSighting] = []
    async with BleScanner(on_sighting=seen.append) as scanner:
        path = await bluez.add_device("C0:11:22:33:44:55", "ATC_8D18B2", -60)
        assert await until(lambda: len(seen) == 1, 5.0)
        assert await _discovering(bluez)
        await asyncio.to_thread(scanner.pause)  # blocking, from another thread
        scanner.pause()  # idempotent (on the loop's thread: scheduled)
        assert scanner.paused and not await _discovering(bluez)
        await bluez.advertise(path, -40)
        await asyncio.sleep(0.5)
        assert len(seen) == 1 and list(scanner.latest) == ["C0:11:22:33:44:55"]
        await scanner.async_resume()
        assert await _discovering(bluez)
        await bluez.advertise(path, -45)
        assert await until(lambda: len(seen) >= 2, 5.0)
        assert seen[-1].rssi == -45


async def test_ble_memory_replay_waits_while_paused() -> None:
    records = [("C0:00:00:00:00:01", IBEACON, -60.0), ("C0:00:00:00:00:02", BTHOME, -50.0)]
    scanner = BleScanner(backend="memory", records=records)
    scanner.pause()
    async with scanner:
        await asyncio.sleep(0.1)
        assert scanner.latest == {}
        scanner.resume()  # on the loop's thread: scheduled
        assert await until(lambda: len(scanner.latest) == 2, 2.0)


def test_wifi_pause_runs_no_scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runs = tmp_path / "runs"
    script = tmp_path / "nmcli"
    script.write_text(f"#!/bin/sh\necho run >> '{runs}'\ncat '{DATA / 'nmcli_wifi_list.txt'}'\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    scanner = WifiScanner("nmcli")
    scanner.pause()
    assert scanner.scan() == []  # paused before the first scan: nothing heard yet
    scanner.resume()
    found = scanner.scan()
    assert len(found) == 10
    scanner.pause()
    scanner.pause()
    assert scanner.paused and scanner.scan() == found  # the last result, no tool run
    assert runs.read_text().count("run") == 1
    scanner.resume()
    assert scanner.scan() == found and runs.read_text().count("run") == 2
