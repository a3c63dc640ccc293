"""BleScanner on bleak against BlueZ's D-Bus API mocked by python-dbusmock (see conftest.py)."""

from __future__ import annotations

import asyncio

import pytest

from edgekit.errors import BackendUnavailableError, InvalidInputError, ScanError
from edgekit.scan import BleScanner, decode_bthome, decode_ibeacon, scan_ble
from edgekit.scan.inventory import BleSighting
from tests._support.bluez import Bluez
from tests.scan.test_advertisement import BTHOME, IBEACON

BTHOME_UUID = "0000fcd2-0000-1000-8000-00805f9b34fb"
IBEACON_DATA = IBEACON[7:]  # manufacturer data after the company id


async def _until(predicate, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_active_scan_parses_and_smooths(bluez: Bluez) -> None:
    await bluez.add_adapter()
    seen: list[BleSighting] = []
    async with BleScanner(on_sighting=seen.append, rssi_alpha=0.5) as scanner:
        path = await bluez.add_device(
            "C0:11:22:33:44:55",
            "ATC_8D18B2",
            -60,
            service_data={BTHOME_UUID: bytes.fromhex("4002ca0903bf13")},
            uuids=[BTHOME_UUID],
        )
        await bluez.add_device(
            "D0:00:00:00:00:01", "", -70, manufacturer_data={0x004C: IBEACON_DATA}
        )
        await _until(lambda: len(seen) >= 2)
        await bluez.advertise(
            path, -40, service_data={BTHOME_UUID: bytes.fromhex("4002cb0903bf13")}
        )
        await _until(lambda: len(seen) >= 3)
        latest = dict(scanner.latest)
    sensor = [s for s in seen if s.address == "C0:11:22:33:44:55"]
    assert sensor[0].advertisement.local_name == "ATC_8D18B2"
    assert sensor[0].advertisement.service_uuids == [BTHOME_UUID]
    packet = decode_bthome(sensor[0].advertisement)
    assert packet is not None and packet.values() == {"temperature": 25.06, "humidity": 50.55}
    assert sensor[-1].rssi == -40 and sensor[-1].rssi_smoothed == pytest.approx(-50.0)
    assert decode_bthome(sensor[-1].advertisement).values()["temperature"] == 25.07  # type: ignore[union-attr]
    assert sensor[-1].time >= sensor[0].time > 0
    beacon = latest["D0:00:00:00:00:01"]
    assert decode_ibeacon(beacon.advertisement).major == 1  # type: ignore[union-attr]


async def test_sightings_iterator(bluez: Bluez) -> None:
    await bluez.add_adapter()
    async with BleScanner() as scanner:
        stream = scanner.sightings()
        waiter = asyncio.ensure_future(stream.__anext__())
        await bluez.add_device(
            "C0:00:00:00:00:09",
            "Tile",
            -50,
            service_data={"0000feed-0000-1000-8000-00805f9b34fb": b"\x02"},
        )
        sighting = await asyncio.wait_for(waiter, 5.0)
        await stream.aclose()
    assert sighting.address == "C0:00:00:00:00:09" and sighting.advertisement.local_name == "Tile"


async def test_passive_mode_unsupported_is_a_clear_error(bluez: Bluez) -> None:
    await bluez.add_adapter()
    with pytest.raises(ScanError, match="passive"):
        await BleScanner(mode="passive").async_start()


async def test_no_adapter(bluez: Bluez) -> None:
    with pytest.raises(BackendUnavailableError, match="Bluetooth adapter"):
        await BleScanner().async_start()


async def test_no_bluez_on_the_bus(dbus_bus: str) -> None:
    with pytest.raises(BackendUnavailableError, match="BlueZ"):
        await BleScanner().async_start()


async def test_no_system_bus(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path}/none")
    with pytest.raises(BackendUnavailableError):
        await BleScanner().async_start()


def test_scan_ble_sync_front(bluez: Bluez) -> None:
    asyncio.run(bluez.add_adapter())

    async def add_later() -> None:
        await asyncio.sleep(0.5)
        await bluez.add_device("C0:00:00:00:00:0A", "LYWSD03MMC", -55)

    import threading

    thread = threading.Thread(target=lambda: asyncio.run(add_later()))
    thread.start()
    found = scan_ble(timeout=1.5)
    thread.join()
    assert [s.address for s in found] == ["C0:00:00:00:00:0A"]


async def test_memory_backend() -> None:
    records = [
        ("c0:00:00:00:00:01", IBEACON, -60.0),
        ("C0:00:00:00:00:02", BTHOME, None),
        ("C0:00:00:00:00:01", IBEACON, -40.0),
    ]
    scanner = BleScanner(backend="memory", records=records, rssi_alpha=0.5)
    found = await scanner.async_scan(0.05)
    assert [s.address for s in found] == ["C0:00:00:00:00:01", "C0:00:00:00:00:02"]
    assert found[0].rssi_smoothed == pytest.approx(-50.0)
    assert found[1].advertisement.local_name == "ATC_8D18B2"


def test_invalid_arguments() -> None:
    with pytest.raises(InvalidInputError):
        BleScanner(mode="aggressive")
    with pytest.raises(InvalidInputError):
        BleScanner(backend="hci")
    with pytest.raises(InvalidInputError):
        BleScanner(rssi_alpha=0)
