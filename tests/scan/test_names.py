"""Bluetooth SIG names and IEEE vendor lookup from the shipped tables."""

from __future__ import annotations

import bluetooth_numbers
import pytest

from edgekit.errors import InvalidInputError
from edgekit.scan import company_name, is_locally_administered, lookup_vendor, service_name
from edgekit.scan.names import normalize_mac


def test_shipped_tables_match_bluetooth_numbers() -> None:
    """The shipped table was generated from bluetooth-numbers; a newer package may add names."""
    companies = bluetooth_numbers.company
    same = sum(company_name(cid) == name for cid, name in companies.items())
    assert same >= 0.99 * len(companies)
    services = {k: v for k, v in bluetooth_numbers.service.items() if isinstance(k, int)}
    same = sum(service_name(k) == v for k, v in services.items())
    assert same >= 0.99 * len(services)
    assert company_name(0x004C) == "Apple, Inc."
    assert company_name(0xFFFF + 1) is None


def test_service_names() -> None:
    assert service_name(0x180F) == "Battery Service"
    assert service_name("180f") == "Battery Service"
    assert service_name("0000180F-0000-1000-8000-00805F9B34FB") == "Battery Service"
    assert service_name("12345678-1234-1234-1234-123456789abc") is None


def test_vendor_lookup_registries() -> None:
    philips = lookup_vendor("00:17:88:01:02:03")
    assert philips.vendor == "Philips Lighting BV" and philips.registry == "MA-L"
    assert lookup_vendor("00-17-88-01-02-03") == philips
    assert lookup_vendor("0017.8801.0203").vendor == philips.vendor
    assert lookup_vendor(bytes.fromhex("001788010203")).vendor == philips.vendor
    mas = lookup_vendor("70:B3:D5:F2:F0:00")
    assert mas.registry == "MA-S" and mas.vendor == "TELEPLATFORMS"
    mam = lookup_vendor("20:85:93:B0:00:01")
    assert mam.registry == "MA-M" and mam.vendor == "IOG Products LLC"


def test_locally_administered() -> None:
    info = lookup_vendor("DA:A1:19:00:00:01")
    assert info.locally_administered and info.vendor is None
    assert is_locally_administered("02:00:00:00:00:00")
    assert not is_locally_administered("00:17:88:01:02:03")
    assert lookup_vendor("01:00:5E:00:00:FB").multicast


@pytest.mark.parametrize("bad", ["", "00:11:22:33:44", "zz:11:22:33:44:55", b"\x00", 5])
def test_bad_macs(bad: object) -> None:
    with pytest.raises(InvalidInputError):
        normalize_mac(bad)  # type: ignore[arg-type]
