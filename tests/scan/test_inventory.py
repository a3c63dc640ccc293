"""Inventory: merging by identity, timestamps, EMA RSSI, staleness, memory bound, rendering."""

from __future__ import annotations

import json
import random

import pytest

from edgekit.errors import InvalidInputError
from edgekit.scan import (
    AccessPoint,
    BleSighting,
    Inventory,
    MdnsService,
    parse_advertisement,
)

IBEACON = bytes.fromhex("0201061aff4c000215e2c56db5dffb48d2b060d0f5a71096e000010002c5")


def cast(server: str = "cc1.local.", txt: dict | None = None) -> MdnsService:  # type: ignore[type-arg]
    return MdnsService(
        "Living Room._googlecast._tcp.local.",
        "_googlecast._tcp.local.",
        server,
        ("192.0.2.5",),
        8009,
        txt if txt is not None else {"md": "Chromecast", "fn": "Living Room"},
    )


def test_ble_merges_by_address_with_first_last_seen_and_ema() -> None:
    inv = Inventory(rssi_alpha=0.5)
    adv = parse_advertisement(IBEACON)
    inv.add_ble("c0:11:22:33:44:55", adv, rssi=-60, now=100.0)
    inv.add(BleSighting("C0:11:22:33:44:55", adv, rssi=-40, time=105.0))
    (device,) = inv.devices
    assert device.first_seen == 100.0 and device.last_seen == 105.0
    assert device.rssi == pytest.approx(-50.0)
    assert device.records == 2 and device.protocols == {"ble"}
    assert device.company_ids == {0x004C}
    assert inv.get("C0:11:22:33:44:55") is device
    assert "c0-11-22-33-44-55" in inv


def test_mdns_host_and_txt_mac_merge_with_wifi_and_ble() -> None:
    inv = Inventory()
    inv.add_mdns(cast(txt={"md": "Chromecast", "mac": "00:17:88:01:02:03"}), now=10.0)
    inv.add_wifi(
        AccessPoint("00:17:88:01:02:03", "cast-setup", 2437, 6, "2.4", -50.0, "open"), now=11.0
    )
    inv.add_mdns(cast(), now=12.0)  # same host name, TXT without MAC
    assert len(inv) == 1
    device = inv.devices[0]
    assert device.protocols == {"mdns", "wifi"}
    assert device.identities == {"host:cc1.local.", "mac:00:17:88:01:02:03"}
    assert device.ip_addresses == {"192.0.2.5"} and device.ssids == {"cast-setup"}


def test_two_devices_merge_when_an_identity_links_them() -> None:
    inv = Inventory()
    inv.add_ble("00:17:88:01:02:03", None, now=1.0)
    inv.add_mdns(cast(server="other.local.", txt={}), now=2.0)
    assert len(inv) == 2
    inv.add_mdns(cast(server="other.local.", txt={"macaddress": "001788010203"}), now=3.0)
    assert len(inv) == 1
    device = inv.devices[0]
    assert device.protocols == {"ble", "mdns"} and device.first_seen == 1.0
    assert inv.get("host:other.local.") is inv.get("00:17:88:01:02:03")


def test_staleness_expiry() -> None:
    inv = Inventory(stale_after=60.0)
    inv.add_ble("C0:00:00:00:00:01", None, now=0.0)
    inv.add_ble("C0:00:00:00:00:02", None, now=50.0)
    assert inv.expire(now=100.0) == 1
    assert [d.id for d in inv] == ["mac:C0:00:00:00:00:02"]
    inv.add_ble("C0:00:00:00:00:03", None, now=200.0)  # ingest expires too
    assert [d.id for d in inv] == ["mac:C0:00:00:00:00:03"]


def test_hard_memory_bound_under_mac_randomization() -> None:
    inv = Inventory(max_devices=500, stale_after=1e9)
    rnd = random.Random(7)
    for i in range(100_000):
        address = ":".join(f"{rnd.getrandbits(8):02X}" for _ in range(6))
        inv.add_ble(address, None, rssi=-70, now=float(i))
        assert len(inv) <= 500
    assert len(inv) == 500 and inv.evicted == 100_000 - 500
    assert len(inv._index) == 500  # identities of evicted devices are gone too


def test_one_million_random_addresses_stay_bounded() -> None:
    inv = Inventory(max_devices=10_000, stale_after=1e9)
    rnd = random.Random(11)
    for i in range(1_000_000):
        inv.add_ble(f"{rnd.getrandbits(48):012X}", None, now=float(i))
        if i % 100_000 == 0:
            assert len(inv) <= 10_000
    assert len(inv) == 10_000 and len(inv._index) == 10_000
    assert inv.evicted == 990_000


def test_renderings() -> None:
    inv = Inventory()
    inv.add_mdns(cast(), now=1.0)
    inv.add_ble("C0:11:22:33:44:55", parse_advertisement(IBEACON), rssi=-61, now=2.0)
    text = str(inv)
    assert "Living Room" in text and "-61" in text
    page = inv._repr_html_()
    assert page.startswith("<table>") and "Chromecast" in page
    device_page = inv.devices[0]._repr_html_()
    assert device_page.startswith("<table>") and "C0:11:22:33:44:55" in device_page
    from rich.console import Console

    console = Console(record=True, width=200)
    console.print(inv)
    assert "Chromecast" in console.export_text()
    data = json.loads(inv.to_json())
    assert data[0]["addresses"] == ["C0:11:22:33:44:55"] and data[0]["manufacturer_data"][
        "76"
    ].startswith("0215")
    frame = inv.to_dataframe()
    assert list(frame["kind"])[1:] == ["tv"]  # an iBeacon frame says no kind
    assert "Inventory: 2 devices" in repr(inv)


def test_bad_arguments() -> None:
    with pytest.raises(InvalidInputError):
        Inventory(max_devices=0)
    with pytest.raises(InvalidInputError):
        Inventory().add("not a record")  # type: ignore[arg-type]


def test_names_from_the_network_never_break_the_table() -> None:
    """A peer may announce any name: rich markup in it is shown, not interpreted."""
    from rich.console import Console

    inv = Inventory()
    inv.add_mdns(
        MdnsService(
            "HP [/] [bold]x._ipp._tcp.local.",
            "_ipp._tcp.local.",
            "hp.local.",
            ("192.0.2.9",),
            631,
            {"fn": "[/red] <script>"},
        ),
        now=1.0,
    )
    console = Console(record=True, width=200)
    console.print(inv)
    assert "[/]" in console.export_text()
    assert "<script>" not in inv._repr_html_()


def test_inventory_recognizes_from_service_data_as_recognize_does() -> None:
    """The inventory keeps BLE service data, so rules on it (a MiBeacon product id, a
    BTHome payload) hold for devices it holds: on every labelled BLE capture the
    inventory's answer equals recognize() given the capture's service data."""
    import json
    from pathlib import Path

    from edgekit.scan import Advertisement
    from edgekit.scan.recognize import recognize

    records = json.loads(
        (Path(__file__).parent / "data" / "recognition_holdout.json").read_text("utf-8")
    )["records"]
    checked = with_data = 0
    for record in records:
        if "ble" not in record:
            continue
        b = record["ble"]
        service_data = {u: bytes.fromhex(v) for u, v in b.get("service_data", {}).items()}
        adv = Advertisement(
            b.get("name") or None,
            list(b.get("service_uuids", [])),
            service_data,
            {int(c): bytes.fromhex(v) for c, v in b.get("manufacturer_data", {}).items()},
            None,
        )
        address = b.get("address") or "C0:11:22:33:44:55"
        inventory = Inventory()
        inventory.add_ble(address, adv, rssi=-60, now=1.0)
        (device,) = inventory.devices  # (recognition runs when the inventory is read)
        bare = Inventory(recognize=False).add_ble(address, adv, rssi=-60, now=1.0)
        want = recognize(bare, service_data=service_data)
        assert device.service_data == service_data
        assert (device.vendor, device.kind, device.model) == (want.vendor, want.kind, want.model)
        checked += 1
        with_data += bool(service_data) and want.model is not None
    assert checked > 400 and with_data >= 10


def test_one_address_with_fresh_random_uuids_stays_bounded() -> None:
    import tracemalloc
    import uuid

    from edgekit.scan import Advertisement

    inv = Inventory(stale_after=1e9, recognize=False)
    rnd = random.Random(13)

    def advert(i: int) -> Advertisement:
        u = str(uuid.UUID(int=rnd.getrandbits(128)))
        return Advertisement(f"n{i}", [u], {u: bytes(4)}, {i % 70_000: bytes(8)}, None, 6)

    for i in range(1_000):
        inv.add_ble("C0:11:22:33:44:55", advert(i), now=float(i))
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(1_000, 100_000):
        inv.add_ble("C0:11:22:33:44:55", advert(i), now=float(i))
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert len(inv) == 1
    device = inv.devices[0]
    limit = inv.max_values
    assert len(device.service_uuids) == len(device.service_data) == limit
    assert len(device.company_ids) == len(device.manufacturer_data) == limit
    last = str(uuid.UUID(int=0))  # the most recent ones are kept
    inv.add_ble("C0:11:22:33:44:55", Advertisement(None, [last], {}, {}, None, 6), now=1e6)
    assert last in device.service_uuids and len(device.service_uuids) == limit
    assert 99_999 % 70_000 in device.company_ids
    assert grown < 1_000_000  # bytes; unbounded, 99,000 UUIDs took over 10 MB
    assert device.name == "n99999"


def test_accumulated_fields_bounded_keeping_the_most_recent() -> None:
    inv = Inventory(max_values=3, stale_after=1e9)
    for i in range(10):
        service = MdnsService(
            f"Cam {i}._http._tcp.local.",
            "_http._tcp.local.",
            f"cam{i}.local.",
            (f"192.0.2.{i}",),
            80,
            {"mac": "00:17:88:01:02:03", f"k{i}": "v"},
        )
        inv.add_mdns(service, now=float(i))
        ap = AccessPoint("00:17:88:01:02:03", f"ssid{i}", 2437, 6, "2.4", -50.0, "open")
        inv.add_wifi(ap, now=float(i))
    assert len(inv) == 1
    device = inv.devices[0]
    assert device.ip_addresses == {"192.0.2.7", "192.0.2.8", "192.0.2.9"}
    assert list(device.txt) == ["k8", "mac", "k9"] and device.ssids == {"ssid7", "ssid8", "ssid9"}
    mac = "mac:00:17:88:01:02:03"
    assert device.identities == {device.id, "host:cam9.local.", mac}  # the id always stays
    assert "host:cam5.local." not in inv  # dropped identities leave the index
    assert len(inv._index) == 3
    with pytest.raises(InvalidInputError, match="max_values"):
        Inventory(max_values=0)
