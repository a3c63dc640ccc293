"""BLE advertisement parsing: agreement with bluetooth-data-tools, fields, batch form, fuzzing.

Corpus: ``data/adv_corpus_bdt.hex`` holds real payloads from Bluetooth-Devices/
bluetooth-data-tools (tests/benchmarks/test_parse_gap.py); ``VECTORS`` below adds
payloads built to the iBeacon, Eddystone and BTHome specifications and the
BTHome v2 example of bthome.io (temperature 25.06 °C, humidity 50.55 %, as in
Bluetooth-Devices/bthome-ble tests/test_parser_v2.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from bluetooth_data_tools import parse_advertisement_data_tuple
from hypothesis import given
from hypothesis import strategies as st

from edgekit.errors import EdgekitError, InvalidInputError
from edgekit.scan import Advertisement, parse_advertisement, parse_advertisements

DATA = Path(__file__).parent / "data"


def corpus() -> list[bytes]:
    lines = (DATA / "adv_corpus_bdt.hex").read_text().splitlines()
    return [bytes.fromhex(line) for line in lines if line and not line.startswith("#")]


IBEACON = bytes.fromhex("0201061aff4c000215e2c56db5dffb48d2b060d0f5a71096e000010002c5")
EDDYSTONE_UID = bytes.fromhex("0201060303aafe1716aafe00e700112233445566778899aabbccddeeff0000")
EDDYSTONE_URL = bytes.fromhex("0303aafe0d16aafe10f801") + b"google\x00"
EDDYSTONE_TLM = bytes.fromhex("0303aafe1116aafe20000bb81a800000001000000064")
BTHOME = bytes.fromhex("0201060b094154435f3844313842320a16d2fc4002ca0903bf13")
RICH = (
    bytes.fromhex("0201050319c103020af405030f180a180505aabbccdd")
    + bytes.fromhex("1107")
    + bytes(range(16))
    + bytes.fromhex("0720ddccbbaa0102")
    + bytes.fromhex("1321")
    + bytes(range(16))
    + b"\x09\x08"
    + b"\x06\x08short"
    + b"\x06\x09long!"
)
VECTORS = [IBEACON, EDDYSTONE_UID, EDDYSTONE_URL, EDDYSTONE_TLM, BTHOME, RICH]


@pytest.mark.parametrize("payload", corpus() + VECTORS, ids=lambda p: p.hex()[:24])
def test_agrees_with_bluetooth_data_tools(payload: bytes) -> None:
    ours = parse_advertisement(payload)
    assert ours.as_bleak_tuple() == parse_advertisement_data_tuple((payload,))
    assert ours.malformed == ()


def test_batch_equals_single_on_corpus() -> None:
    payloads = corpus() + VECTORS
    batch = parse_advertisements(payloads)
    assert len(batch) == len(payloads)
    assert batch.to_list() == [parse_advertisement(p) for p in payloads]
    assert batch[-1] == parse_advertisement(payloads[-1])
    assert batch[1:3] == [parse_advertisement(p) for p in payloads[1:3]]
    assert list(batch) == batch.to_list()
    with pytest.raises(IndexError):
        batch[len(payloads)]


def test_fields_of_a_rich_payload() -> None:
    adv = parse_advertisement(RICH)
    assert adv.flags == 0x05
    assert adv.appearance == 0x03C1
    assert adv.tx_power == -12
    assert adv.local_name == "long!"  # complete name wins over the short one
    assert adv.service_uuids[:2] == [
        "0000180f-0000-1000-8000-00805f9b34fb",
        "0000180a-0000-1000-8000-00805f9b34fb",
    ]
    assert adv.service_uuids[2] == "ddccbbaa-0000-1000-8000-00805f9b34fb"
    assert adv.service_uuids[3] == "0f0e0d0c-0b0a-0908-0706-050403020100"
    assert adv.service_data["aabbccdd-0000-1000-8000-00805f9b34fb"] == b"\x01\x02"
    assert adv.service_data["0f0e0d0c-0b0a-0908-0706-050403020100"] == b"\x09\x08"
    assert adv.raw == RICH


def test_short_name_when_no_complete_name() -> None:
    assert parse_advertisement(b"\x05\x08abcd").local_name == "abcd"
    assert parse_advertisement(b"\x03\x09\xff\xfe").local_name == "\ufffd\ufffd"


def test_malformed_structures_are_reported() -> None:
    adv = parse_advertisement(b"\x02\x01\x06\x01\x09\x05\xff\x4c\x00\x01")
    assert adv.flags == 6
    assert len(adv.malformed) == 2
    assert "carries no data" in adv.malformed[0]
    assert "overruns" in adv.malformed[1]
    assert "stray byte" in parse_advertisement(b"\x02\x01\x06\x07").malformed[0]
    assert "length invalid" in parse_advertisement(b"\x03\x0a\x01\x02").malformed[0]
    assert parse_advertisement(b"\x00\x00\x02\x01\x06\x00").malformed == ()


def test_batch_columns() -> None:
    payloads = [IBEACON, BTHOME, b"\x02\x0a\x08", b""]
    batch = parse_advertisements(payloads)
    absent = batch.ABSENT
    assert batch.flags.tolist() == [6, 6, absent, absent]
    assert batch.tx_power.tolist() == [absent, absent, 8, absent]
    assert batch.company_id.tolist() == [0x004C, absent, absent, absent]
    assert batch.appearance.tolist() == [absent] * 4
    assert batch.malformed_count.tolist() == [0, 0, 0, 0]
    assert batch.local_names() == [None, "ATC_8D18B2", None, None]


def test_empty_batch_and_bytes_like_inputs() -> None:
    assert len(parse_advertisements([])) == 0
    assert parse_advertisements([bytearray(IBEACON), memoryview(BTHOME)]).to_list() == [
        parse_advertisement(IBEACON),
        parse_advertisement(BTHOME),
    ]
    assert parse_advertisement(bytearray(IBEACON)) == parse_advertisement(IBEACON)


def test_bad_input_types() -> None:
    with pytest.raises(InvalidInputError):
        parse_advertisement("02 01 06")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        parse_advertisements([b"\x02\x01\x06", 5])  # type: ignore[list-item]


@given(st.binary(max_size=64))
def test_fuzz_single_agrees_and_never_raises(payload: bytes) -> None:
    adv = parse_advertisement(payload)
    assert isinstance(adv, Advertisement)
    assert adv.as_bleak_tuple() == parse_advertisement_data_tuple((payload,))


def _ad_structures() -> st.SearchStrategy[bytes]:
    types = st.sampled_from(
        [
            0x01,
            0x02,
            0x03,
            0x04,
            0x05,
            0x06,
            0x07,
            0x08,
            0x09,
            0x0A,
            0x16,
            0x19,
            0x20,
            0x21,
            0xFF,
            0x00,
            0x2A,
        ]
    )
    structure = st.tuples(types, st.binary(max_size=20)).map(
        lambda t: bytes([len(t[1]) + 1, t[0]]) + t[1]
    )
    return st.lists(structure, max_size=6).map(b"".join)


@given(st.lists(st.one_of(st.binary(max_size=40), _ad_structures()), max_size=20))
def test_fuzz_batch_equals_single(payloads: list[bytes]) -> None:
    try:
        batch = parse_advertisements(payloads)
    except EdgekitError:
        return
    singles = [parse_advertisement(p) for p in payloads]
    assert batch.to_list() == singles
    assert batch.malformed_count.tolist() == [len(a.malformed) for a in singles]
    assert batch.uuid_count.tolist() == [len(a.service_uuids) for a in singles]
    assert batch.local_names() == [a.local_name for a in singles]
    absent = batch.ABSENT
    assert batch.tx_power.tolist() == [
        absent if a.tx_power is None else a.tx_power for a in singles
    ]
    assert batch.company_id.tolist() == [next(iter(a.manufacturer_data), absent) for a in singles]
    for p in payloads:
        assert parse_advertisement(p).as_bleak_tuple() == parse_advertisement_data_tuple((p,))


_UUIDS = st.one_of(
    st.integers(0, 0xFFFF).map(lambda v: f"{v:08x}-0000-1000-8000-00805f9b34fb"),
    st.integers(0x10000, 0xFFFFFFFF).map(lambda v: f"{v:08x}-0000-1000-8000-00805f9b34fb"),
    st.uuids().map(str),
)


@given(
    name=st.none() | st.text(max_size=20),
    uuids=st.lists(_UUIDS, max_size=4),
    service_data=st.dictionaries(_UUIDS, st.binary(max_size=8), max_size=3),
    mfr=st.dictionaries(st.integers(0, 0xFFFF), st.binary(max_size=10), max_size=3),
    tx=st.none() | st.integers(-128, 127),
    flags=st.none() | st.integers(0, 255),
    appearance=st.none() | st.integers(0, 0xFFFF),
)
def test_encode_parse_round_trip(name, uuids, service_data, mfr, tx, flags, appearance) -> None:  # type: ignore[no-untyped-def]
    adv = Advertisement(name, uuids, service_data, mfr, tx, flags, appearance)
    raw = adv.to_bytes()
    back = parse_advertisement(raw)
    assert back.malformed == ()
    assert back.local_name == (name or None)
    assert sorted(back.service_uuids) == sorted(uuids)
    assert back.service_data == service_data
    assert back.manufacturer_data == mfr
    assert (back.tx_power, back.flags, back.appearance) == (tx, flags, appearance)
    assert parse_advertisements([raw])[0] == back


def test_encode_rejects_what_does_not_fit() -> None:
    with pytest.raises(InvalidInputError):
        Advertisement("x" * 300, [], {}, {}, None).to_bytes()
    with pytest.raises(InvalidInputError):
        Advertisement(None, ["not-a-uuid"], {}, {}, None).to_bytes()
    with pytest.raises(InvalidInputError):
        Advertisement(None, [], {}, {0x10000: b""}, None).to_bytes()
    with pytest.raises(InvalidInputError):
        Advertisement(None, [], {}, {}, 200).to_bytes()


def test_warmup_compiles_the_kernel() -> None:
    import edgekit

    timings = edgekit.warmup(("scan",))
    assert "scan" in timings


def test_batch_worst_case_item_density() -> None:
    payloads = [
        b"\x01\x02" * 127,  # every structure empty: one malformed item per 2 bytes
        b"\x03\x03\xaa\xbb" * 63 + b"\x07",  # one UUID per 4 bytes, then a stray byte
        b"\x02\x03\xaa" * 84,  # odd-length UUID lists
        bytes([0xFF, 0x02]) + bytes(253),
    ]
    batch = parse_advertisements(payloads)
    assert batch.to_list() == [parse_advertisement(p) for p in payloads]
    assert batch.malformed_count.tolist() == [127, 1, 84, 1]


def govee_records() -> list[dict]:  # type: ignore[type-arg]
    import json

    return json.loads((DATA / "adv_records_govee.json").read_text("utf-8"))["records"]


@pytest.mark.parametrize("record", govee_records(), ids=lambda r: r["model"])
def test_public_govee_records_encode_parse_and_agree(record: dict) -> None:  # type: ignore[type-arg]
    mfr = {int(k): bytes.fromhex(v) for k, v in record["manufacturer_data"].items()}
    adv = Advertisement(record["name"] or None, record["service_uuids"], {}, mfr, None, 0x06)
    raw = adv.to_bytes()
    ours = parse_advertisement(raw)
    assert ours.as_bleak_tuple() == parse_advertisement_data_tuple((raw,))
    assert ours.manufacturer_data == mfr
    assert ours.service_uuids == record["service_uuids"]
    assert ours.local_name == (record["name"] or None)


def test_views_match_advertisements() -> None:
    payloads = corpus() + VECTORS + [b"\x02\x01", b""]
    batch = parse_advertisements(payloads)
    for view, payload in zip(batch.views(), payloads, strict=True):
        adv = parse_advertisement(payload)
        assert view.local_name == adv.local_name
        assert (view.tx_power, view.flags, view.appearance) == (
            adv.tx_power,
            adv.flags,
            adv.appearance,
        )
        assert view.raw == payload
        assert view.service_uuids == adv.service_uuids
        assert view.service_data == adv.service_data
        assert view.manufacturer_data == adv.manufacturer_data
        assert view.malformed == adv.malformed
        assert view.to_advertisement() == adv
    assert "AdvertisementView 0" in repr(batch.views()[0])


def test_batch_counts_memoryview_offsets_in_bytes() -> None:
    from array import array

    wide = memoryview(array("H", [0x0102, 0x0506, 0x0304]))  # 3 items, 6 bytes
    payloads = [IBEACON, wide, BTHOME, IBEACON]
    assert parse_advertisements(payloads).to_list() == [
        parse_advertisement(IBEACON),
        parse_advertisement(wide.tobytes()),
        parse_advertisement(BTHOME),
        parse_advertisement(IBEACON),
    ]
    cast = memoryview(bytearray(BTHOME)).cast("B")[::2]  # non-contiguous
    assert parse_advertisements([cast, IBEACON])[1] == parse_advertisement(IBEACON)


def test_batch_takes_any_iterable() -> None:
    payloads = [IBEACON, BTHOME, b"\x02\x0a\x08"]
    assert parse_advertisements(p for p in payloads).to_list() == [
        parse_advertisement(p) for p in payloads
    ]
    assert (
        parse_advertisements(tuple(payloads)).to_list() == parse_advertisements(payloads).to_list()
    )


def test_batch_rejects_non_bytes_items_by_position() -> None:
    with pytest.raises(InvalidInputError, match=r"payload 1 .* not str"):
        parse_advertisements(p for p in [IBEACON, "0201"])  # type: ignore[misc]
    with pytest.raises(InvalidInputError, match="not int"):
        parse_advertisements(5)  # type: ignore[arg-type]
