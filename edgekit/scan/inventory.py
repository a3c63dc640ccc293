"""One inventory of every device heard, merged by identity, with a hard bound on memory.

:class:`Inventory` takes BLE sightings, mDNS services and WiFi access points and
merges them into :class:`Device` records. Identities are the BLE address, the
MAC/BSSID, the mDNS host name (SRV target) and MAC addresses a service puts in
its TXT record (``mac=``, ``macaddress=``, HomeKit's ``id=``/``deviceid=``); two
records that share any identity belong to one device, and devices that come to
share one are merged.

Each device keeps the endpoints (:class:`Endpoint`) it was heard on (an mDNS
service instance with its host, port, addresses and TXT; a BLE address with its
type; a WiFi BSS), so what was found can be connected to. An mDNS goodbye or TTL
expiry removes that endpoint (:meth:`Inventory.remove_mdns`); an endpoint not
heard for ``stale_after`` seconds is dropped the next time its device is heard.

Memory is bounded: at most ``max_devices`` devices are kept, and when a new one
arrives at the bound the least recently seen is evicted (BLE MAC randomization
produces an endless stream of new addresses); each keeps at most
``max_endpoints`` endpoints, least recently seen evicted first, and at most
``max_values`` entries in each field it accumulates (identities, addresses, IP
addresses, TXT keys, company ids, manufacturer data, service UUIDs, service data,
SSIDs), least recently heard dropped first, so one address advertising a fresh
random UUID every time stays small. Devices not seen
for ``stale_after`` seconds are dropped by :meth:`Inventory.expire`, which every
ingest calls at most once a second.
"""

from __future__ import annotations

import html
import json
import re
import time
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from edgekit._snapshot import iso_utc
from edgekit.errors import BackendUnavailableError, InvalidInputError
from edgekit.scan.advertisement import Advertisement
from edgekit.scan.mdns import MdnsService, TxtValue
from edgekit.scan.recognize import RuleSet, recognize
from edgekit.scan.wifi import AccessPoint

__all__ = [
    "BleEndpoint",
    "BleSighting",
    "Device",
    "Endpoint",
    "Inventory",
    "MdnsEndpoint",
    "WifiEndpoint",
]

_MAC_TXT_KEYS = ("mac", "macaddress", "mac_address", "id", "deviceid", "btaddr", "wifi_mac")
_HEX = frozenset("0123456789abcdefABCDEF")


_CANONICAL = re.compile(r"[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}")


def _mac_in(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    if _CANONICAL.fullmatch(value):
        return value.upper()
    digits = "".join(ch for ch in value if ch not in ":-.")
    if len(digits) == 12 and set(digits) <= _HEX:
        return ":".join(digits[i : i + 2] for i in range(0, 12, 2)).upper()
    return None


@dataclass(frozen=True)
class BleSighting:
    """One BLE advertisement heard from an address.

    Attributes:
        address: the advertiser's address (``AA:BB:CC:DD:EE:FF``, or a
            platform UUID on macOS).
        advertisement: the parsed payload.
        rssi: received signal strength in dBm, or ``None``.
        time: time.time() of reception, in seconds.
        rssi_smoothed: exponential moving average of RSSI for this address (dBm).
        address_type: ``"public"`` or ``"random"``, or ``None`` where the
            platform does not say (BlueZ does; macOS and Windows do not).
    """

    address: str
    advertisement: Advertisement
    rssi: float | None = None
    time: float = 0.0
    rssi_smoothed: float | None = None
    address_type: str | None = None


_KIND_ORDER = {"mdns": 0, "ble": 1, "wifi": 2}


def _hexed(txt: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k): (v.hex() if isinstance(v, bytes) else v) for k, v in txt.items()}


class Endpoint:
    """One way a device was heard and can be reached: the base of
    :class:`MdnsEndpoint`, :class:`BleEndpoint` and :class:`WifiEndpoint`.

    Attributes:
        kind: ``"mdns"``, ``"ble"`` or ``"wifi"`` (a class attribute).
        last_seen: time.time() of the latest record, in seconds.
    """

    __slots__ = ()
    kind: ClassVar[str]
    last_seen: float

    @property
    def key(self) -> str:
        """What identifies it within a device: a record with the same key replaces it."""
        raise NotImplementedError

    @property
    def label(self) -> str:
        """A short display form (``http 192.168.1.20:80``)."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: ``kind``, ``label`` and every field (tuples become
        lists, bytes TXT values hex)."""
        out: dict[str, Any] = {"kind": self.kind, "label": self.label}
        for f in fields(self):  # type: ignore[arg-type]  # every subclass is a dataclass
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                value = list(value)
            elif f.name == "txt":
                value = _hexed(value)
            out[f.name] = value
        return out


@dataclass(frozen=True, slots=True)
class MdnsEndpoint(Endpoint):
    """A DNS-SD service instance: where to connect (``host``/``addresses`` and ``port``).

    Attributes:
        service_type: service type (``"_http._tcp.local."``).
        instance: instance label (``"Kitchen"``).
        host: host name, the SRV target (``"kitchen.local."``), or ``None``.
        port: TCP/UDP port.
        addresses: IPv4/IPv6 addresses as strings.
        txt: TXT record (str, bytes or ``None`` values).
        last_seen: time.time() of the latest record, in seconds.
    """

    kind: ClassVar[str] = "mdns"
    service_type: str
    instance: str
    host: str | None
    port: int | None
    addresses: tuple[str, ...]
    txt: Mapping[str, TxtValue]
    last_seen: float = 0.0

    @property
    def key(self) -> str:
        """``mdns:`` and the full instance name, lower case."""
        return f"mdns:{self.instance}.{self.service_type}".lower()

    @property
    def label(self) -> str:
        """``http 192.168.1.20:80``: the type's first label without ``_``, the first
        IPv4 address (else IPv6 in brackets, else the host) and the port."""
        name = self.service_type.split(".", 1)[0].lstrip("_") or "mdns"
        where = _preferred_address(self.addresses) or self.host or "?"
        return f"{name} {where}:{self.port}" if self.port is not None else f"{name} {where}"


@dataclass(frozen=True, slots=True)
class BleEndpoint(Endpoint):
    """A BLE advertiser's address.

    Attributes:
        address: the address (``AA:BB:CC:DD:EE:FF``, or a platform UUID on macOS).
        address_type: ``"public"`` or ``"random"``; ``None`` where the platform
            does not say (BlueZ does; macOS and Windows do not).
        last_seen: time.time() of the latest record, in seconds.
    """

    kind: ClassVar[str] = "ble"
    address: str
    address_type: str | None = None
    last_seen: float = 0.0

    @property
    def key(self) -> str:
        """``ble:`` and the address."""
        return f"ble:{self.address}"

    @property
    def label(self) -> str:
        """``ble C0:11:22:33:44:55 random``."""
        return (
            f"ble {self.address} {self.address_type}"
            if self.address_type
            else f"ble {self.address}"
        )


@dataclass(frozen=True, slots=True)
class WifiEndpoint(Endpoint):
    """A WiFi access point (BSS).

    Attributes:
        bssid: the AP's MAC address (``None`` where the tool hides it).
        ssid: network name (``""`` for a hidden network).
        channel: channel number within ``band``.
        band: ``"2.4"``, ``"5"`` or ``"6"`` (GHz).
        last_seen: time.time() of the latest record, in seconds.
    """

    kind: ClassVar[str] = "wifi"
    bssid: str | None
    ssid: str
    channel: int | None
    band: str | None
    last_seen: float = 0.0

    @property
    def key(self) -> str:
        """``wifi:`` and the BSSID (or ``wifi:ssid:`` and the SSID without one)."""
        return f"wifi:{self.bssid}" if self.bssid else f"wifi:ssid:{self.ssid}"

    @property
    def label(self) -> str:
        """``wifi HomeNet 00:17:88:01:02:03 ch 6 2.4 GHz``."""
        parts = ["wifi", self.ssid or "(hidden)"]
        if self.bssid:
            parts.append(self.bssid)
        if self.channel is not None:
            parts.append(f"ch {self.channel}")
        if self.band:
            parts.append(f"{self.band} GHz")
        return " ".join(parts)


def _preferred_address(addresses: tuple[str, ...]) -> str | None:
    """The address to show: the first IPv4 one, else the first IPv6 one in brackets."""
    for address in addresses:
        if ":" not in address:
            return address
    return f"[{addresses[0]}]" if addresses else None


@dataclass(slots=True)
class Device:
    """A device as the inventory knows it.

    Attributes:
        id: stable key (its first identity).
        identities: every identity merged into it (``mac:...``, ``host:...``).
        name: best name heard (mDNS instance, BLE local name or SSID).
        protocols: protocols it was heard on (``ble``, ``mdns``, ``wifi``).
        first_seen: time.time() of the first record, seconds.
        last_seen: time.time() of the latest record, seconds.
        rssi: exponential moving average of RSSI in dBm (BLE and WiFi), or ``None``.
        addresses: MAC/BLE addresses.
        ip_addresses: IP addresses from mDNS.
        services: mDNS service types (``_googlecast._tcp.local.``); a type leaves
            with the last of its endpoints.
        txt: merged TXT records of its mDNS services.
        company_ids: BLE manufacturer-data company ids.
        manufacturer_data: latest BLE manufacturer data by company id.
        service_uuids: BLE service UUIDs (advertised or with service data).
        service_data: latest BLE service data by service UUID.
        ssids: WiFi network names it serves (access points).
        endpoints: its :class:`Endpoint` records by :attr:`Endpoint.key`,
            least recently seen first (at most the inventory's ``max_endpoints``).

    ``identities``, ``addresses``, ``ip_addresses``, ``txt``, ``company_ids``,
    ``manufacturer_data``, ``service_uuids``, ``service_data`` and ``ssids``
    each hold at most the inventory's ``max_values`` entries, the most recently
    heard (``id`` always stays among the identities).
        vendor: vendor name, when recognised.
        kind: device type, when recognised (``"media player"``, ``"printer"``...).
        model: model, when recognised.
        records: number of records merged.
    """

    id: str
    identities: set[str] = field(default_factory=set)
    name: str | None = None
    protocols: set[str] = field(default_factory=set)
    first_seen: float = 0.0
    last_seen: float = 0.0
    rssi: float | None = None
    addresses: set[str] = field(default_factory=set)
    ip_addresses: set[str] = field(default_factory=set)
    services: set[str] = field(default_factory=set)
    txt: dict[str, Any] = field(default_factory=dict)
    company_ids: set[int] = field(default_factory=set)
    manufacturer_data: dict[int, bytes] = field(default_factory=dict)
    service_uuids: set[str] = field(default_factory=set)
    service_data: dict[str, bytes] = field(default_factory=dict)
    ssids: set[str] = field(default_factory=set)
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    vendor: str | None = None
    kind: str | None = None
    model: str | None = None
    records: int = 0
    _signature: tuple[Any, ...] = field(default=(), repr=False, compare=False)
    _recent: dict[str, dict[Any, None]] = field(default_factory=dict, repr=False, compare=False)

    def sorted_endpoints(self) -> list[Endpoint]:
        """Its endpoints in display order: mDNS, then BLE, then WiFi, each by label."""
        return sorted(self.endpoints.values(), key=lambda e: (_KIND_ORDER[e.kind], e.label))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (sets become sorted lists, bytes become hex, endpoints
        a list of :meth:`Endpoint.to_dict` in :meth:`sorted_endpoints` order)."""
        out: dict[str, Any] = {}
        for key in self.__dataclass_fields__:
            value = getattr(self, key)
            if isinstance(value, set):
                value = sorted(value)
            elif key in ("txt", "manufacturer_data", "service_data"):
                value = _hexed(value)
            elif key == "endpoints":
                value = [e.to_dict() for e in self.sorted_endpoints()]
            elif key in ("_signature", "_recent"):
                continue
            out[key] = value
        return out

    def _repr_html_(self) -> str:
        """An HTML table of the device's known fields, for Jupyter."""
        rows = []
        for key, value in self.to_dict().items():
            if value in (None, [], {}, ""):
                continue
            if key == "endpoints":
                cell = "<br>".join(_endpoint_html(e) for e in value)
            elif key in ("first_seen", "last_seen"):
                cell = html.escape(iso_utc(value))
            else:
                cell = html.escape(_display(value))
            rows.append(f"<tr><th>{html.escape(key)}</th><td>{cell}</td></tr>")
        return f"<table><caption>device {html.escape(self.id)}</caption>{''.join(rows)}</table>"

    def _absorb(self, other: Device) -> None:
        self.identities |= other.identities
        self.protocols |= other.protocols
        self.addresses |= other.addresses
        self.ip_addresses |= other.ip_addresses
        self.services |= other.services
        self.company_ids |= other.company_ids
        self.service_uuids |= other.service_uuids
        self.ssids |= other.ssids
        for key, endpoint in other.endpoints.items():
            mine = self.endpoints.get(key)
            if mine is None or mine.last_seen < endpoint.last_seen:
                self.endpoints[key] = endpoint
        self.endpoints = dict(sorted(self.endpoints.items(), key=lambda kv: kv[1].last_seen))
        for name, order in other._recent.items():
            self._recent[name] = {**order, **self._recent.get(name, {})}
        self.txt = {**other.txt, **self.txt}
        self.manufacturer_data = {**other.manufacturer_data, **self.manufacturer_data}
        self.service_data = {**other.service_data, **self.service_data}
        self.first_seen = min(self.first_seen, other.first_seen)
        self.last_seen = max(self.last_seen, other.last_seen)
        self.name = self.name or other.name
        self.rssi = self.rssi if self.rssi is not None else other.rssi
        self.vendor = self.vendor or other.vendor
        self.kind = self.kind or other.kind
        self.model = self.model or other.model
        self.records += other.records


_BOUNDED_SETS = ("identities", "addresses", "ip_addresses", "company_ids", "service_uuids", "ssids")
_BOUNDED_DICTS = ("txt", "manufacturer_data", "service_data")


def _keep(device: Device, name: str, items: Iterable[Hashable], limit: int) -> list[Any]:
    """Add ``items`` to the set field ``name`` as its most recent entries and drop
    the oldest beyond ``limit`` (never the device id); returns what was dropped."""
    values: set[Any] = getattr(device, name)
    order = device._recent.setdefault(name, {})
    for item in items:
        order.pop(item, None)
        order[item] = None
        values.add(item)
    dropped = []
    while len(order) > limit:
        old = next(iter(order))
        del order[old]
        if old == device.id:
            order[old] = None  # the id stays: it keys the device
            continue
        values.discard(old)
        dropped.append(old)
    return dropped


def _keep_items(device: Device, name: str, items: Mapping[Any, Any], limit: int) -> None:
    """Put ``items`` in the dict field ``name`` as its most recent entries and
    drop the oldest beyond ``limit``."""
    values: dict[Any, Any] = getattr(device, name)
    for key, value in items.items():
        values.pop(key, None)
        values[key] = value
    while len(values) > limit:
        del values[next(iter(values))]


def _display(value: Any) -> str:
    """A value as people read it: lists as comma-separated text, mappings as k=v pairs."""
    if isinstance(value, (list, tuple, set, frozenset)):
        return ", ".join(_display(v) for v in value)
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={_display(v)}" for k, v in value.items())
    return str(value)


def _endpoint_html(endpoint: dict[str, Any]) -> str:
    details = "; ".join(
        f"{k}={_display(v)}"
        for k, v in endpoint.items()
        if k not in ("kind", "label", "last_seen") and v not in (None, [], {}, "")
    )
    return f"<code>{html.escape(endpoint['label'])}</code> {html.escape(details)}"


def _devices(n: int) -> str:
    return "1 device" if n == 1 else f"{n} devices"


_COLUMNS = (
    "name",
    "kind",
    "vendor",
    "model",
    "protocols",
    "addresses",
    "endpoints",
    "rssi",
    "last_seen",
)
_ENDPOINTS_SHOWN = 4  # labels in the endpoints column; the rest as "+N more"


def _mdns_identities(service: MdnsService) -> list[str]:
    identities = []
    if service.server:
        identities.append(f"host:{service.server.lower()}")
    for key in _MAC_TXT_KEYS:
        mac = _mac_in(service.txt.get(key))
        if mac:
            identities.append(f"mac:{mac}")
    if not identities:
        identities.append(f"mdns:{service.name.lower()}")
    return identities


def _mdns_endpoint(service: MdnsService, now: float) -> MdnsEndpoint:
    return MdnsEndpoint(
        service.type,
        service.instance,
        service.server,
        service.port,
        service.addresses,
        service.txt,
        now,
    )


def _endpoint_labels(device: Device) -> str:
    labels = [e.label for e in device.sorted_endpoints()]
    if len(labels) > _ENDPOINTS_SHOWN:
        labels[_ENDPOINTS_SHOWN:] = [f"+{len(labels) - _ENDPOINTS_SHOWN} more"]
    return ", ".join(labels)


class Inventory:
    """Devices heard, merged by identity; see the module docstring.

    Args:
        max_devices: hard bound on devices kept (least recently seen evicted).
        stale_after: seconds without a record after which a device is dropped.
        rssi_alpha: weight of a new RSSI sample in the moving average (0..1].
        max_endpoints: bound on endpoints kept per device (least recently seen
            evicted); 64 covers a host announcing every service it has.
        max_values: bound on entries kept per device in each field it
            accumulates (identities, addresses, ip_addresses, txt keys,
            company_ids, manufacturer_data, service_uuids, service_data,
            ssids), least recently heard dropped first; 128 covers the merged
            TXT keys of a host announcing many services.
        recognize: fill vendor, kind and model with
            :func:`~edgekit.scan.recognize.recognize`; it runs lazily, on the
            devices changed since the inventory was last read.
        rules: the rule table recognition uses (default:
            :func:`~edgekit.scan.recognize.default_rules`).
    """

    def __init__(
        self,
        *,
        max_devices: int = 10_000,
        stale_after: float = 300.0,
        rssi_alpha: float = 0.3,
        max_endpoints: int = 64,
        max_values: int = 128,
        recognize: bool = True,
        rules: RuleSet | None = None,
    ) -> None:
        if rules is not None and not isinstance(rules, RuleSet):
            raise InvalidInputError(f"rules must be a RuleSet, not {type(rules).__name__}")
        if (
            max_devices < 1
            or stale_after <= 0
            or not 0 < rssi_alpha <= 1
            or max_endpoints < 1
            or max_values < 1
        ):
            raise InvalidInputError(
                "need max_devices >= 1, stale_after > 0, 0 < rssi_alpha <= 1,"
                " max_endpoints >= 1 and max_values >= 1"
            )
        self.max_devices = max_devices
        self.max_endpoints = max_endpoints
        self.max_values = max_values
        self.stale_after = stale_after
        self.rssi_alpha = rssi_alpha
        self.recognize = recognize
        self.rules = rules
        self.evicted = 0
        self.unavailable: dict[str, str] = {}
        self._devices: OrderedDict[str, Device] = OrderedDict()  # least recently seen first
        self._index: dict[str, str] = {}  # identity -> device id
        self._last_expire = 0.0
        self._dirty: set[str] = set()

    # -- container protocol ---------------------------------------------------------

    def __len__(self) -> int:
        return len(self._devices)

    def __iter__(self) -> Iterator[Device]:
        self._flush()
        return iter(list(self._devices.values()))

    def __contains__(self, identity: object) -> bool:
        return isinstance(identity, str) and self.get(identity) is not None

    def get(self, identity: str) -> Device | None:
        """The device with this id or identity (``mac:AA:...``, ``host:x.local.``, or a bare MAC)."""
        self._flush()
        if identity in self._devices:
            return self._devices[identity]
        mac = _mac_in(identity)
        key = f"mac:{mac}" if mac else identity
        device_id = self._index.get(key)
        return None if device_id is None else self._devices.get(device_id)

    @property
    def devices(self) -> list[Device]:
        """All devices, most recently seen first."""
        self._flush()
        return list(reversed(self._devices.values()))

    # -- ingest -----------------------------------------------------------------------

    def add(
        self, record: BleSighting | MdnsService | AccessPoint, *, now: float | None = None
    ) -> Device:
        """Merge one record; returns the device it belongs to.

        Raises:
            InvalidInputError: ``record`` is of an unknown type.
        """
        if isinstance(record, BleSighting):
            return self.add_ble(
                record.address,
                record.advertisement,
                rssi=record.rssi,
                now=record.time or now,
                address_type=record.address_type,
            )
        if isinstance(record, MdnsService):
            return self.add_mdns(record, now=now)
        if isinstance(record, AccessPoint):
            return self.add_wifi(record, now=now)
        raise InvalidInputError(f"cannot add a {type(record).__name__} to an Inventory")

    def extend(self, records: Iterable[BleSighting | MdnsService | AccessPoint]) -> None:
        """Merge many records."""
        for record in records:
            self.add(record)

    def add_ble(
        self,
        address: str,
        advertisement: Advertisement | None = None,
        *,
        rssi: float | None = None,
        now: float | None = None,
        address_type: str | None = None,
    ) -> Device:
        """Merge one BLE advertisement from ``address`` (``address_type``: ``"public"``/``"random"``)."""
        mac = _mac_in(address)
        identity = f"mac:{mac}" if mac else f"ble:{address}"
        device = self._upsert([identity], "ble", now)
        limit = self.max_values
        _keep(device, "addresses", (mac or address,), limit)
        self._put(device, BleEndpoint(mac or address, address_type, device.last_seen))
        if advertisement is not None:
            if advertisement.local_name:
                device.name = advertisement.local_name
            if advertisement.manufacturer_data:
                _keep(device, "company_ids", advertisement.manufacturer_data, limit)
                _keep_items(device, "manufacturer_data", advertisement.manufacturer_data, limit)
            if advertisement.service_uuids:
                _keep(device, "service_uuids", advertisement.service_uuids, limit)
            if advertisement.service_data:
                _keep(device, "service_uuids", advertisement.service_data, limit)
                _keep_items(device, "service_data", advertisement.service_data, limit)
        self._rssi(device, rssi)
        self._recognize(device)
        return device

    def add_mdns(self, service: MdnsService, *, now: float | None = None) -> Device:
        """Merge one resolved mDNS service (its endpoint replaces the one of the same instance)."""
        identities = _mdns_identities(service)
        device = self._upsert(identities, "mdns", now)
        device.name = service.instance
        device.services.add(service.type)
        limit = self.max_values
        _keep(device, "ip_addresses", service.addresses, limit)
        macs = [identity[4:] for identity in identities if identity.startswith("mac:")]
        _keep(device, "addresses", macs, limit)
        _keep_items(device, "txt", service.txt, limit)
        self._put(device, _mdns_endpoint(service, device.last_seen))
        self._recognize(device)
        return device

    def remove_mdns(self, service: MdnsService) -> Device | None:
        """Remove the endpoint of a service that left (goodbye packet or TTL expiry).

        The device stays, with its other endpoints; one left with none ages out
        after ``stale_after`` like any device. Returns the device, or ``None``
        when the inventory does not hold it.
        """
        device = self._find(_mdns_identities(service))
        if device is not None:
            self._drop(device, _mdns_endpoint(service, 0.0).key)
        return device

    def add_wifi(self, ap: AccessPoint, *, now: float | None = None) -> Device:
        """Merge one WiFi access point."""
        mac = _mac_in(ap.bssid) if ap.bssid else None
        identity = f"mac:{mac}" if mac else f"ssid:{ap.ssid}"
        device = self._upsert([identity], "wifi", now)
        if mac:
            _keep(device, "addresses", (mac,), self.max_values)
        if ap.ssid:
            _keep(device, "ssids", (ap.ssid,), self.max_values)
            device.name = device.name or ap.ssid
        if device.kind is None:
            device.kind = "access point"
        self._put(device, WifiEndpoint(mac, ap.ssid, ap.channel, ap.band, device.last_seen))
        self._rssi(device, ap.rssi_dbm)
        self._recognize(device)
        return device

    # -- maintenance -----------------------------------------------------------------

    def expire(self, now: float | None = None) -> int:
        """Drop devices not seen for ``stale_after`` seconds; returns how many."""
        now = time.time() if now is None else now
        limit = now - self.stale_after
        dropped = 0
        while self._devices:
            device = next(iter(self._devices.values()))
            if device.last_seen >= limit:
                break
            self._remove(device)
            dropped += 1
        return dropped

    def clear(self) -> None:
        """Forget every device."""
        self._devices.clear()
        self._index.clear()
        self._dirty.clear()

    # -- internals -------------------------------------------------------------------

    def _remove(self, device: Device) -> None:
        self._devices.pop(device.id, None)
        self._dirty.discard(device.id)
        for identity in device.identities:
            if self._index.get(identity) == device.id:
                del self._index[identity]

    def _find(self, identities: list[str]) -> Device | None:
        for identity in identities:
            device_id = self._index.get(identity)
            if device_id is not None:
                return self._devices[device_id]
        return None

    def _put(self, device: Device, endpoint: Endpoint) -> None:
        """Add or replace an endpoint as the most recent; drop stale ones and keep the bound."""
        endpoints = device.endpoints
        key = endpoint.key
        if not endpoints:
            endpoints[key] = endpoint
            return
        endpoints.pop(key, None)
        endpoints[key] = endpoint
        limit = endpoint.last_seen - self.stale_after
        while len(endpoints) > 1:
            old_key, old = next(iter(endpoints.items()))
            if len(endpoints) <= self.max_endpoints and old.last_seen >= limit:
                break
            self._drop(device, old_key)

    def _drop(self, device: Device, key: str) -> None:
        endpoint = device.endpoints.pop(key, None)
        if not isinstance(endpoint, MdnsEndpoint):
            return
        stype = endpoint.service_type
        if not any(
            isinstance(e, MdnsEndpoint) and e.service_type == stype
            for e in device.endpoints.values()
        ):
            device.services.discard(stype)
            self._recognize(device)

    def _upsert(self, identities: list[str], protocol: str, now: float | None) -> Device:
        now = time.time() if now is None else now
        if now - self._last_expire >= 1.0:
            self._last_expire = now
            self.expire(now)
        found: list[Device] = []
        for identity in identities:
            device_id = self._index.get(identity)
            if device_id is not None:
                device = self._devices[device_id]
                if device not in found:
                    found.append(device)
        if not found:
            while len(self._devices) >= self.max_devices:
                self._remove(next(iter(self._devices.values())))
                self.evicted += 1
            device = Device(id=identities[0], first_seen=now)
            self._devices[device.id] = device
        else:
            device = found[0]
            for other in found[1:]:
                self._remove(other)
                device._absorb(other)
                for identity in other.identities:
                    self._index[identity] = device.id
            while len(device.endpoints) > self.max_endpoints:
                self._drop(device, next(iter(device.endpoints)))
            if len(found) > 1:
                self._bound(device)
        for identity in identities:
            self._index[identity] = device.id
        self._unindex(device, _keep(device, "identities", identities, self.max_values))
        device.protocols.add(protocol)
        device.last_seen = max(device.last_seen, now)
        device.records += 1
        self._devices.move_to_end(device.id)
        return device

    def _bound(self, device: Device) -> None:
        """Trim every accumulated field of a merged device to ``max_values``."""
        for name in _BOUNDED_SETS:
            dropped = _keep(device, name, (), self.max_values)
            if name == "identities":
                self._unindex(device, dropped)
        for name in _BOUNDED_DICTS:
            _keep_items(device, name, {}, self.max_values)

    def _unindex(self, device: Device, identities: list[str]) -> None:
        for identity in identities:
            if self._index.get(identity) == device.id:
                del self._index[identity]

    def _rssi(self, device: Device, rssi: float | None) -> None:
        if rssi is None:
            return
        if device.rssi is None:
            device.rssi = float(rssi)
        else:
            device.rssi += self.rssi_alpha * (float(rssi) - device.rssi)

    def _recognize(self, device: Device) -> None:
        if self.recognize:
            self._dirty.add(device.id)

    def _flush(self) -> None:
        """Run recognition on the devices changed since the last read."""
        if not self._dirty:
            return
        dirty, self._dirty = self._dirty, set()
        for device_id in dirty:
            device = self._devices.get(device_id)
            if device is not None:
                self._recognize_now(device)

    def _recognize_now(self, device: Device) -> None:
        signature = (
            device.name,
            len(device.protocols),
            len(device.services),
            len(device.company_ids),
            len(device.service_uuids),
            len(device.addresses),
            tuple(device.txt.items()) if device.txt else (),
            tuple((k, v[:4]) for k, v in device.manufacturer_data.items()),
            tuple((k, v[:6]) for k, v in device.service_data.items()),
        )
        if signature == device._signature:
            return
        device._signature = signature
        result = recognize(device, self.rules)
        device.vendor = result.vendor or device.vendor
        device.kind = result.kind or device.kind
        device.model = result.model or device.model

    # -- output ----------------------------------------------------------------------

    def rows(self) -> list[dict[str, str]]:
        """One dict of display strings a device (the table columns), most recent first."""
        out = []
        for d in self.devices:
            out.append(
                {
                    "name": d.name or "",
                    "kind": d.kind or "",
                    "vendor": d.vendor or "",
                    "model": d.model or "",
                    "protocols": ",".join(sorted(d.protocols)),
                    "addresses": " ".join(sorted(d.addresses | d.ip_addresses))[:60],
                    "endpoints": _endpoint_labels(d),
                    "rssi": "" if d.rssi is None else f"{d.rssi:.0f}",
                    "last_seen": time.strftime("%H:%M:%S", time.localtime(d.last_seen)),
                }
            )
        return out

    def to_json(self, **kwargs: Any) -> str:
        """The devices as a JSON array (most recent first); kwargs go to json.dumps."""
        return json.dumps([d.to_dict() for d in self.devices], **kwargs)

    def to_dataframe(self) -> Any:
        """The devices as a pandas DataFrame (one row a device).

        Raises:
            BackendUnavailableError: pandas is not installed.
        """
        try:
            import pandas as pd
        except ImportError as exc:
            raise BackendUnavailableError(
                "pandas", extra="notebook", reason="Inventory.to_dataframe() needs it"
            ) from exc
        return pd.DataFrame([d.to_dict() for d in self.devices])

    def table(self, title: str | None = None) -> Any:
        """A ``rich.table.Table`` of the devices.

        Raises:
            BackendUnavailableError: rich is not installed (extra ``cli``).
        """
        try:
            from rich.table import Table
            from rich.text import Text
        except ImportError as exc:
            raise BackendUnavailableError("rich", extra="cli") from exc
        table = Table(title=title or _devices(len(self)))
        for column in _COLUMNS:
            table.add_column(column, overflow="fold")
        for row in self.rows():
            table.add_row(*(Text(row[c]) for c in _COLUMNS))  # names come from the network
        return table

    def __rich__(self) -> Any:
        return self.table()

    def __str__(self) -> str:
        rows = self.rows()
        widths = {c: max([len(c), *(len(r[c]) for r in rows)]) for c in _COLUMNS}
        lines = ["  ".join(c.ljust(widths[c]) for c in _COLUMNS)]
        lines += ["  ".join(r[c].ljust(widths[c]) for c in _COLUMNS) for r in rows]
        return "\n".join(line.rstrip() for line in lines)

    def __repr__(self) -> str:
        return f"<Inventory: {_devices(len(self))} (max {self.max_devices})>"

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{c}</th>" for c in _COLUMNS)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(r[c])}</td>" for c in _COLUMNS) + "</tr>"
            for r in self.rows()
        )
        return (
            f"<table><caption>{_devices(len(self))}</caption>"
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        )
