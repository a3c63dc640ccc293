"""iBeacon, Eddystone and BTHome v2 decoders against spec-built frames; fuzzing."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgekit.errors import CorruptDataError, EdgekitError
from edgekit.scan import (
    EddystoneTLM,
    EddystoneUID,
    EddystoneURL,
    IBeacon,
    decode_bthome,
    decode_eddystone,
    decode_ibeacon,
    parse_advertisement,
)
from edgekit.scan.beacons import BTHOME_UUID, EDDYSTONE_UUID
from tests.scan.test_advertisement import (
    BTHOME,
    EDDYSTONE_TLM,
    EDDYSTONE_UID,
    EDDYSTONE_URL,
    IBEACON,
)


def _adv_with_service_data(uuid: str, data: bytes):  # type: ignore[no-untyped-def]
    return parse_advertisement(b"").__class__(None, [], {uuid: data}, {}, None)


def test_ibeacon() -> None:
    beacon = decode_ibeacon(parse_advertisement(IBEACON))
    assert beacon == IBeacon("e2c56db5-dffb-48d2-b060-d0f5a71096e0", 1, 2, -59)
    assert decode_ibeacon(parse_advertisement(BTHOME)) is None
    short = parse_advertisement(b"\x06\xff\x4c\x00\x02\x15\x00")
    with pytest.raises(CorruptDataError):
        decode_ibeacon(short)


def test_eddystone_uid_url_tlm() -> None:
    assert decode_eddystone(parse_advertisement(EDDYSTONE_UID)) == EddystoneUID(
        -25, "00112233445566778899", "aabbccddeeff"
    )
    assert decode_eddystone(parse_advertisement(EDDYSTONE_URL)) == EddystoneURL(
        -8, "https://www.google.com/"
    )
    assert decode_eddystone(parse_advertisement(EDDYSTONE_TLM)) == EddystoneTLM(
        version=0, encrypted=False, battery_mv=3000, temperature_c=26.5, adv_count=16, uptime_s=10.0
    )
    encrypted = _adv_with_service_data(EDDYSTONE_UUID, b"\x20\x01" + bytes(16))
    assert decode_eddystone(encrypted) == EddystoneTLM(version=1, encrypted=True)
    assert decode_eddystone(_adv_with_service_data(EDDYSTONE_UUID, b"\x30\x00" + bytes(8))) is None
    assert decode_eddystone(parse_advertisement(IBEACON)) is None
    for bad in (b"\x00\x00", b"\x10\x00\x09", b"\x10\x00\x00\x7f", b"\x20\x00\x01"):
        with pytest.raises(CorruptDataError):
            decode_eddystone(_adv_with_service_data(EDDYSTONE_UUID, bad))


def test_bthome_v2_plain() -> None:
    packet = decode_bthome(parse_advertisement(BTHOME))
    assert packet is not None
    assert packet.version == 2 and not packet.encrypted and not packet.trigger_based
    assert packet.values() == {"temperature": 25.06, "humidity": 50.55}
    assert [m.unit for m in packet.measurements] == ["°C", "%"]


def test_bthome_v2_objects_text_raw_signed_and_mac() -> None:
    # MAC included (bit 1), trigger based (bit 2); battery 90 %, signed temperature
    # -5.5 °C (0x45), text "hi", raw 0xbeef, two counts, power 0x5c signed.
    data = (
        bytes([0x46])
        + bytes.fromhex("a5808fe64854")
        + bytes.fromhex("015a45c9ff530268695402beef090509075c9cffffff")
    )
    packet = decode_bthome(_adv_with_service_data(BTHOME_UUID, data))
    assert packet is not None
    assert packet.mac == "54:48:E6:8F:80:A5"
    assert packet.trigger_based
    assert packet.values() == {
        "battery": 90,
        "temperature": -5.5,
        "text": "hi",
        "raw": b"\xbe\xef",
        "count": 5,
        "count_2": 7,
        "power": -1.0,
    }


def test_bthome_encrypted_is_flagged() -> None:
    # From bthome-ble tests/test_parser_v2.py (encrypted temperature/humidity frame).
    data = b"\x41\xa4\x72\x66\xc9\x5f\x73\x00\x11\x22\x33\x78\x23\x72\x14"
    packet = decode_bthome(_adv_with_service_data(BTHOME_UUID, data))
    assert packet is not None and packet.encrypted and packet.measurements == []


@pytest.mark.parametrize(
    "data", [b"", b"\x20\x01\x01", b"\x40\xfe\xca\x09", b"\x40\x02\x01", b"\x42\x01", b"\x40\x53"]
)
def test_bthome_bad_payloads(data: bytes) -> None:
    with pytest.raises(CorruptDataError):
        decode_bthome(_adv_with_service_data(BTHOME_UUID, data))


@given(st.binary(max_size=40), st.sampled_from([BTHOME_UUID, EDDYSTONE_UUID]))
def test_fuzz_decoders(data: bytes, uuid: str) -> None:
    adv = _adv_with_service_data(uuid, data)
    for decode in (decode_bthome, decode_eddystone, decode_ibeacon):
        with contextlib.suppress(EdgekitError):
            decode(adv)


@given(st.binary(max_size=30))
def test_fuzz_ibeacon(data: bytes) -> None:
    adv = parse_advertisement(b"").__class__(None, [], {}, {0x004C: b"\x02\x15" + data}, None)
    with contextlib.suppress(EdgekitError):
        decode_ibeacon(adv)
