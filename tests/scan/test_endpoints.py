"""Device endpoints: what to connect to, from real mDNS traffic on 127.0.0.1, the BlueZ
D-Bus mock, and the captured nmcli / iw output in tests/scan/data."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from edgekit.errors import InvalidInputError
from edgekit.scan import (
    AccessPoint,
    BleEndpoint,
    BleScanner,
    BleSighting,
    Inventory,
    MdnsAdvertiser,
    MdnsEndpoint,
    MdnsScanner,
    MdnsService,
    WifiEndpoint,
    parse_iw_scan,
    parse_nmcli,
)
from tests._support.bluez import Bluez
from tests.scan.test_mdns import LOOPBACK, unique_type

DATA = Path(__file__).parent / "data"


async def until(predicate: Callable[[], object], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.05)


def endpoints_of(inv: Inventory, identity: str) -> dict[str, Any]:
    device = inv.get(identity)
    return {} if device is None else dict(device.endpoints)


def service(
    instance: str,
    stype: str = "_http._tcp.local.",
    *,
    host: str | None = "gw.local.",
    addresses: tuple[str, ...] = ("192.0.2.20",),
    port: int | None = 80,
    txt: dict[str, Any] | None = None,
) -> MdnsService:
    return MdnsService(f"{instance}.{stype}", stype, host, addresses, port, txt or {})


# -- real mDNS traffic --------------------------------------------------------------


def feeding(inv: Inventory, scanner: MdnsScanner) -> MdnsScanner:
    """``scanner`` feeding ``inv`` as async_scan does, but kept running until stopped (a
    one-shot scan ends once its answers settle, before departures are seen)."""
    scanner.on_event = lambda event: (
        inv.remove_mdns(event.service) if event.kind == "removed" else inv.add_mdns(event.service)
    )
    return scanner


async def test_scan_keeps_each_service_instance_and_a_goodbye_removes_it() -> None:
    from zeroconf import IPVersion
    from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

    t_web, t_broker = unique_type(), unique_type()
    host = f"ek{uuid.uuid4().hex[:8]}.local."
    aiozc = AsyncZeroconf(interfaces=LOOPBACK, ip_version=IPVersion.V4Only)
    web = AsyncServiceInfo(
        t_web,
        f"Gateway.{t_web}",
        parsed_addresses=["127.0.0.1"],
        port=8080,
        properties={"path": "/ui", "raw": b"\xff\x00", "flag": None},
        server=host,
    )
    broker = AsyncServiceInfo(
        t_broker,
        f"Gateway broker.{t_broker}",
        parsed_addresses=["127.0.0.1"],
        port=1883,
        properties={"v": "5"},
        server=host,
    )
    for info in (web, broker):
        await (await aiozc.async_register_service(info))
    inv = Inventory()
    scanner = feeding(inv, MdnsScanner([t_web, t_broker], interfaces=LOOPBACK))
    try:
        await scanner.async_start()
        await until(lambda: len(endpoints_of(inv, f"host:{host}")) == 2)
        device = inv.get(f"host:{host}")
        assert device is not None and len(inv) == 1
        by_type = {e.service_type: e for e in device.endpoints.values()}
        ui = by_type[t_web]
        assert isinstance(ui, MdnsEndpoint) and ui.kind == "mdns"
        assert (ui.instance, ui.host, ui.port, ui.addresses) == (
            "Gateway",
            host,
            8080,
            ("127.0.0.1",),
        )
        assert ui.txt == {"path": "/ui", "raw": b"\xff\x00", "flag": None}
        assert ui.label == f"{t_web[1:].split('.')[0]} 127.0.0.1:8080"
        assert by_type[t_broker].port == 1883 and by_type[t_broker].instance == "Gateway broker"

        (row,) = json.loads(inv.to_json())
        assert sorted(e["port"] for e in row["endpoints"]) == [1883, 8080]
        web_json = next(e for e in row["endpoints"] if e["port"] == 8080)
        assert web_json["txt"] == {"path": "/ui", "raw": "ff00", "flag": None}
        assert web_json["kind"] == "mdns" and web_json["host"] == host

        # goodbye packets: multicast UDP that a loaded machine may handle late, so give
        # them more than the usual wait
        await (await aiozc.async_unregister_service(broker))
        await until(lambda: len(device.endpoints) == 1, timeout=30.0)
        assert [e.service_type for e in device.endpoints.values()] == [t_web]
        assert device.services == {t_web}
        assert inv.get(f"host:{host}") is device  # the device stays while an endpoint is left

        await (await aiozc.async_unregister_service(web))
        await until(lambda: not device.endpoints, timeout=30.0)
        assert device.services == set() and len(inv) == 1  # no endpoint left: it ages out
        assert inv.expire(now=device.last_seen + inv.stale_after + 1.0) == 1
        assert len(inv) == 0
    finally:
        await scanner.async_stop()
        await aiozc.async_close()


async def test_ttl_expiry_removes_the_endpoint_of_a_vanished_host() -> None:
    stype = unique_type()
    instance = f"Vanishing{uuid.uuid4().hex[:6]}"
    script = Path(__file__).with_name("mdns_publisher.py")
    proc = subprocess.Popen(
        [sys.executable, str(script), stype, instance, "3"], stdout=subprocess.PIPE
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        inv = Inventory()
        host = f"host:{instance.lower()}.local."
        async with feeding(inv, MdnsScanner([stype], interfaces=LOOPBACK)):
            await until(lambda: len(endpoints_of(inv, host)) == 1)
            (endpoint,) = endpoints_of(inv, host).values()
            assert endpoint.port == 4242 and endpoint.instance == instance
            proc.kill()  # gone without a goodbye packet: the 3 s TTL runs out
            proc.wait()
            await until(lambda: not endpoints_of(inv, host), timeout=15.0)
            assert host in inv
    finally:
        proc.kill()
        proc.wait()


def test_edgekit_scan_shows_an_endpoints_column(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from edgekit._cli import main

    stype = unique_type()
    args = ["scan", "--mdns", "--timeout", "5", "--interface", "127.0.0.1", "--type", stype]
    monkeypatch.setenv("COLUMNS", "300")  # rich folds narrow columns
    with MdnsAdvertiser("CLI printer", stype, 631, interfaces=LOOPBACK):
        assert main(args) == 0
        table = capsys.readouterr().out
        assert main([*args, "--json"]) == 0
        devices = json.loads(capsys.readouterr().out)
    header = next(line for line in table.splitlines() if "endpoints" in line)
    assert header.index("addresses") < header.index("endpoints")
    assert f"{stype[1:].split('.')[0]} 127.0.0.1:631" in table
    (endpoint,) = devices[0]["endpoints"]
    assert (endpoint["service_type"], endpoint["instance"], endpoint["port"]) == (
        stype,
        "CLI printer",
        631,
    )


# -- BLE through the BlueZ D-Bus mock --------------------------------------------------


async def _set_address_type(bluez: Bluez, path: str, address_type: str) -> None:
    from dbus_fast import Message, MessageType, Variant
    from dbus_fast.aio import MessageBus

    bus = await MessageBus(bus_address=bluez.address).connect()
    try:
        reply = await bus.call(
            Message(
                destination="org.bluez",
                path=path,
                interface="org.freedesktop.DBus.Mock",
                member="UpdateProperties",
                signature="sa{sv}",
                body=["org.bluez.Device1", {"AddressType": Variant("s", address_type)}],
            )
        )
    finally:
        bus.disconnect()
    assert reply.message_type == MessageType.METHOD_RETURN, reply.body


async def test_ble_address_type_from_bluez(bluez: Bluez) -> None:
    await bluez.add_adapter()
    inv = Inventory()
    seen: list[BleSighting] = []

    def on_sighting(sighting: BleSighting) -> None:
        seen.append(sighting)
        inv.add(sighting)

    async with BleScanner(on_sighting=on_sighting):
        await bluez.add_device("C0:11:22:33:44:55", "ATC_8D18B2", -60)  # the mock: random
        path = await bluez.add_device("00:1A:7D:DA:71:13", "Printer", -70)
        await until(lambda: len(seen) >= 2)
        await _set_address_type(bluez, path, "public")
        await until(lambda: any(s.address_type == "public" for s in seen))
    assert seen[0].address_type == "random"
    sensor = inv.get("C0:11:22:33:44:55")
    assert sensor is not None
    assert list(sensor.endpoints.values()) == [
        BleEndpoint("C0:11:22:33:44:55", "random", sensor.last_seen)
    ]
    printer = inv.get("00:1A:7D:DA:71:13")
    assert printer is not None
    (endpoint,) = printer.endpoints.values()  # updated in place, not added
    assert isinstance(endpoint, BleEndpoint) and endpoint.address_type == "public"
    assert endpoint.label == "ble 00:1A:7D:DA:71:13 public"


# -- WiFi from captured tool output ------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "parse"), [("nmcli_wifi_list.txt", parse_nmcli), ("iw_scan.txt", parse_iw_scan)]
)
def test_wifi_endpoints_from_captured_output(
    fixture: str, parse: Callable[[str], list[AccessPoint]]
) -> None:
    aps = parse((DATA / fixture).read_text("utf-8"))
    inv = Inventory()
    for i, ap in enumerate(aps):
        inv.add_wifi(ap, now=float(i))
    for ap in aps:
        assert ap.bssid is not None
        device = inv.get(ap.bssid)
        assert device is not None
        (endpoint,) = device.endpoints.values()
        assert endpoint == WifiEndpoint(ap.bssid, ap.ssid, ap.channel, ap.band, device.last_seen)
    home = inv.get("AA:BB:CC:11:22:33")
    assert home is not None
    assert home.to_dict()["endpoints"] == [
        {
            "kind": "wifi",
            "label": "wifi HomeNet AA:BB:CC:11:22:33 ch 6 2.4 GHz",
            "bssid": "AA:BB:CC:11:22:33",
            "ssid": "HomeNet",
            "channel": 6,
            "band": "2.4",
            "last_seen": home.last_seen,
        }
    ]
    hidden = inv.get("DE:AD:BE:EF:00:01")
    assert hidden is not None
    assert next(iter(hidden.endpoints.values())).label.startswith("wifi (hidden) DE:AD:BE:EF:00:01")


# -- the inventory's bookkeeping -----------------------------------------------------------


def test_same_instance_updates_in_place_and_labels() -> None:
    inv = Inventory()
    inv.add_mdns(service("Kitchen", txt={"v": "1"}), now=1.0)
    device = inv.add_mdns(service("KITCHEN", port=8080, txt={"v": "2"}), now=2.0)
    (endpoint,) = device.endpoints.values()  # DNS names are case-insensitive
    assert (endpoint.port, endpoint.txt, endpoint.last_seen) == (8080, {"v": "2"}, 2.0)
    assert endpoint.label == "http 192.0.2.20:8080"
    v6 = service("Cam", "_rtsp._tcp.local.", addresses=("fe80::1", "192.0.2.7"), port=554)
    assert inv.add_mdns(v6, now=3.0).endpoints["mdns:cam._rtsp._tcp.local."].label == (
        "rtsp 192.0.2.7:554"
    )
    only_v6 = service("Cam", "_rtsp._tcp.local.", addresses=("fe80::1",), port=554)
    assert inv.add_mdns(only_v6, now=4.0).sorted_endpoints()[-1].label == "rtsp [fe80::1]:554"
    assert BleEndpoint("C0:00:00:00:00:01").label == "ble C0:00:00:00:00:01"


def test_rows_html_and_json_show_endpoints() -> None:
    inv = Inventory()
    for port, stype in ((80, "_http._tcp.local."), (1883, "_mqtt._tcp.local.")):
        inv.add_mdns(service("Gateway", stype, port=port, txt={"fn": "<b>gw</b>"}), now=1.0)
    for i in range(5):
        inv.add_mdns(
            service(f"Printer {i}", "_ipp._tcp.local.", port=631, host="p.local."), now=2.0
        )
    rows = {r["name"]: r for r in inv.rows()}
    assert rows["Gateway"]["endpoints"] == "http 192.0.2.20:80, mqtt 192.0.2.20:1883"
    assert rows["Printer 4"]["endpoints"].endswith(", +1 more")
    assert "endpoints" in str(inv).splitlines()[0]
    assert "http 192.0.2.20:80" in inv._repr_html_()
    gateway = inv.get("host:gw.local.")
    assert gateway is not None
    page = gateway._repr_html_()
    assert "<code>http 192.0.2.20:80</code>" in page and "port=1883" in page
    assert "<b>gw</b>" not in page  # TXT from the network is escaped
    from rich.console import Console

    console = Console(record=True, width=300)
    console.print(inv)
    assert "mqtt 192.0.2.20:1883" in console.export_text()


def test_absorb_merges_endpoints() -> None:
    inv = Inventory()
    inv.add_ble("00:17:88:01:02:03", None, address_type="public", now=1.0)
    inv.add_mdns(service("Hue", "_hue._tcp.local.", host="hue.local.", port=443), now=2.0)
    assert len(inv) == 2
    linked = service(
        "Hue", "_hue._tcp.local.", host="hue.local.", port=443, txt={"mac": "00:17:88:01:02:03"}
    )
    device = inv.add_mdns(linked, now=3.0)
    assert len(inv) == 1
    assert [e.label for e in device.sorted_endpoints()] == [
        "hue 192.0.2.20:443",
        "ble 00:17:88:01:02:03 public",
    ]
    assert [e.last_seen for e in device.endpoints.values()] == [1.0, 3.0]  # least recent first


def test_endpoints_are_bounded_and_stale_ones_leave_a_live_device() -> None:
    inv = Inventory(max_endpoints=64, stale_after=100.0)
    for i in range(70):
        device = inv.add_mdns(service(f"svc{i}", f"_t{i}._tcp.local."), now=float(i))
    assert len(device.endpoints) == 64
    assert device.services == {f"_t{i}._tcp.local." for i in range(6, 70)}  # as the endpoints
    device = inv.add_mdns(service("svc69", "_t69._tcp.local."), now=170.0)
    assert list(device.endpoints) == ["mdns:svc69._t69._tcp.local."]  # the rest unheard > 100 s
    assert device.services == {"_t69._tcp.local."}


def test_merging_devices_keeps_the_endpoint_bound() -> None:
    inv = Inventory(max_endpoints=3)
    for i in range(3):
        inv.add_mdns(service(f"a{i}", f"_a{i}._tcp.local.", host="a.local."), now=float(i))
    inv.add_mdns(
        service("b", "_b._tcp.local.", host="b.local.", txt={"mac": "00:11:22:33:44:55"}), now=5.0
    )
    device = inv.add_mdns(
        service("a0", "_a0._tcp.local.", host="a.local.", txt={"mac": "00:11:22:33:44:55"}), now=6.0
    )
    assert len(inv) == 1 and len(device.endpoints) == 3
    assert set(device.endpoints) == {
        "mdns:a2._a2._tcp.local.",
        "mdns:b._b._tcp.local.",
        "mdns:a0._a0._tcp.local.",
    }


def test_remove_of_an_unknown_service_and_bad_bound() -> None:
    inv = Inventory()
    assert inv.remove_mdns(service("Nobody")) is None
    device = inv.add_mdns(service("Kitchen"), now=1.0)
    assert inv.remove_mdns(service("Other", "_ipp._tcp.local.")) is device  # same host
    assert len(device.endpoints) == 1
    with pytest.raises(InvalidInputError, match="max_endpoints"):
        Inventory(max_endpoints=0)
