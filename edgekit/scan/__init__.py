"""Find what is around: mDNS/DNS-SD services, BLE advertisements and WiFi access points,
merged into one device inventory with vendor and device-type recognition.

Importing this package imports neither zeroconf, bleak nor numba: each scanner
imports its backend when it starts, and :func:`parse_advertisements` compiles
its numba kernel on first use.
"""

from __future__ import annotations

from edgekit.scan.advertisement import (
    Advertisement,
    AdvertisementBatch,
    AdvertisementView,
    encode_advertisement,
    parse_advertisement,
    parse_advertisements,
)
from edgekit.scan.beacons import (
    BTHomeMeasurement,
    BTHomePacket,
    EddystoneTLM,
    EddystoneUID,
    EddystoneURL,
    IBeacon,
    decode_bthome,
    decode_eddystone,
    decode_ibeacon,
)
from edgekit.scan.ble import BleScanner, scan_ble
from edgekit.scan.inventory import (
    BleEndpoint,
    BleSighting,
    Device,
    Endpoint,
    Inventory,
    MdnsEndpoint,
    WifiEndpoint,
)
from edgekit.scan.mdns import MdnsAdvertiser, MdnsEvent, MdnsScanner, MdnsService, scan_mdns
from edgekit.scan.names import (
    VendorInfo,
    company_name,
    is_locally_administered,
    lookup_vendor,
    service_name,
)
from edgekit.scan.oneshot import PROTOCOLS, async_scan, scan
from edgekit.scan.recognize import (
    Recognition,
    Recognizable,
    Rule,
    RuleSet,
    default_rules,
    recognize,
)
from edgekit.scan.wifi import (
    AccessPoint,
    WifiScanner,
    channel_to_frequency,
    frequency_to_channel,
    parse_iw_scan,
    parse_netsh,
    parse_nmcli,
    parse_system_profiler,
)

__all__ = [
    "PROTOCOLS",
    "AccessPoint",
    "Advertisement",
    "AdvertisementBatch",
    "AdvertisementView",
    "BTHomeMeasurement",
    "BTHomePacket",
    "BleEndpoint",
    "BleScanner",
    "BleSighting",
    "Device",
    "EddystoneTLM",
    "EddystoneUID",
    "EddystoneURL",
    "Endpoint",
    "IBeacon",
    "Inventory",
    "MdnsAdvertiser",
    "MdnsEndpoint",
    "MdnsEvent",
    "MdnsScanner",
    "MdnsService",
    "Recognition",
    "Recognizable",
    "Rule",
    "RuleSet",
    "VendorInfo",
    "WifiEndpoint",
    "WifiScanner",
    "async_scan",
    "channel_to_frequency",
    "company_name",
    "decode_bthome",
    "decode_eddystone",
    "decode_ibeacon",
    "default_rules",
    "encode_advertisement",
    "frequency_to_channel",
    "is_locally_administered",
    "lookup_vendor",
    "parse_advertisement",
    "parse_advertisements",
    "parse_iw_scan",
    "parse_netsh",
    "parse_nmcli",
    "parse_system_profiler",
    "recognize",
    "scan",
    "scan_ble",
    "scan_mdns",
    "service_name",
]
