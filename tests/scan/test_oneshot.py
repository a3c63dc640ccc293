"""scan(): every protocol at once; unavailable protocols reported, not raised, unless asked alone."""

from __future__ import annotations

import pytest

from edgekit.errors import BackendUnavailableError, InvalidInputError, ScanWarning
from edgekit.scan import (
    AccessPoint,
    BleScanner,
    Inventory,
    MdnsAdvertiser,
    MdnsScanner,
    RuleSet,
    WifiScanner,
    async_scan,
    scan,
)
from tests.scan.test_advertisement import IBEACON
from tests.scan.test_mdns import LOOPBACK, unique_type

AP = AccessPoint("00:17:88:01:02:03", "HomeNet", 2437, 6, "2.4", -50.0, "WPA2", "memory")


def test_scan_all_protocols_into_one_inventory() -> None:
    stype = unique_type()
    with MdnsAdvertiser("Printer", stype, 631, txt={"ty": "Test"}, interfaces=LOOPBACK):
        inventory = scan(
            timeout=2.0,
            mdns=MdnsScanner([stype], interfaces=LOOPBACK),
            ble=BleScanner(backend="memory", records=[("C0:00:00:00:00:01", IBEACON, -60.0)]),
            wifi=WifiScanner("memory", access_points=[AP]),
        )
    protocols = sorted(p for d in inventory for p in d.protocols)
    assert protocols == ["ble", "mdns", "wifi"]
    assert inventory.unavailable == {}
    assert inventory.get("C0:00:00:00:00:01").protocols == {"ble"}  # type: ignore[union-attr]


async def test_scan_inside_running_loop_reports_unavailable(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path}/none")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.warns(ScanWarning, match="mDNS found no _nothing._tcp.local. service"):
        inventory = scan(
            ("ble", "wifi", "mdns"),
            timeout=0.5,
            mdns=MdnsScanner(["_nothing._tcp"], interfaces=LOOPBACK),
        )
    assert set(inventory.unavailable) == {"ble", "wifi"}
    assert "BackendUnavailableError" in inventory.unavailable["ble"]


async def test_only_protocol_asked_raises(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr("sys.platform", "linux")
    with pytest.raises(BackendUnavailableError):
        await async_scan(["wifi"], timeout=0.1)


async def test_live_updates_and_bad_arguments() -> None:
    ticks: list[int] = []
    await async_scan(
        ["wifi"],
        timeout=0.1,
        wifi=WifiScanner("memory", access_points=[AP]),
        on_update=lambda inv: ticks.append(len(inv)),
    )
    assert ticks[-1] == 1
    with pytest.raises(InvalidInputError):
        await async_scan(["zigbee"])
    with pytest.raises(InvalidInputError):
        await async_scan(["wifi"], timeout=0)


async def test_scan_passes_rules_to_its_inventory() -> None:
    rules = RuleSet([{"id": "lab", "when": {"name": "^HomeNet$"}, "then": {"vendor": "Lab"}}])
    wifi = WifiScanner("memory", access_points=[AP])
    inventory = await async_scan(["wifi"], timeout=0.1, wifi=wifi, rules=rules)
    assert inventory.rules is rules
    assert inventory.devices[0].vendor == "Lab"
    with pytest.raises(InvalidInputError, match="Inventory"):
        await async_scan(["wifi"], timeout=0.1, wifi=wifi, inventory=Inventory(), rules=rules)
