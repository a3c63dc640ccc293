"""The one-at-a-time parser: lazy fields, the bounded payload cache, read-only results.

Payloads: the real corpus of ``data/adv_corpus_bdt.hex`` (see test_advertisement.py)
and hypothesis mutations of it; bluetooth-data-tools' compiled parser is the oracle.
"""

from __future__ import annotations

import copy
import pickle
import random
from pathlib import Path

import pytest
from bluetooth_data_tools import parse_advertisement_data_tuple
from hypothesis import given
from hypothesis import strategies as st

from edgekit.errors import InvalidInputError
from edgekit.scan import Advertisement, parse_advertisement, parse_advertisements
from edgekit.scan.advertisement import PARSE_CACHE_SIZE, _LazyAdvertisement, _parse_cached

DATA = Path(__file__).parent / "data"
CORPUS = [
    bytes.fromhex(line)
    for line in (DATA / "adv_corpus_bdt.hex").read_text().splitlines()
    if line and not line.startswith("#")
]
# The BTHOME v2 example of test_advertisement.py plus a 16-bit service UUID list.
BTHOME = bytes.fromhex("0201060b094154435f3844313842320a16d2fc4002ca0903bf130303d2fc")
FIELDS = (
    "local_name",
    "service_uuids",
    "service_data",
    "manufacturer_data",
    "tx_power",
    "flags",
    "appearance",
    "malformed",
    "raw",
)


def _mutated() -> st.SearchStrategy[bytes]:
    """Corpus payloads with bytes overwritten, cut or appended (length bytes included)."""

    def mutate(args: tuple[int, list[tuple[int, int]], int, bytes]) -> bytes:
        index, edits, cut, tail = args
        p = bytearray(CORPUS[index % len(CORPUS)])
        for pos, value in edits:
            if p:
                p[pos % len(p)] = value
        return bytes(p[: len(p) - cut % 4]) + tail

    return st.tuples(
        st.integers(0, len(CORPUS) - 1),
        st.lists(st.tuples(st.integers(0, 40), st.integers(0, 255)), max_size=4),
        st.integers(0, 3),
        st.binary(max_size=4),
    ).map(mutate)


@given(st.one_of(_mutated(), st.binary(max_size=64)), st.permutations(FIELDS))
def test_lazy_fields_agree_with_bdt_and_the_batch_in_any_read_order(
    payload: bytes, order: list[str]
) -> None:
    _parse_cached.cache_clear()
    adv = parse_advertisement(payload)
    read = {name: getattr(adv, name) for name in order}  # first read decodes, in any order
    name, uuids, service_data, mfr, tx = parse_advertisement_data_tuple((payload,))
    assert read["local_name"] == name
    assert read["service_uuids"] == uuids
    assert read["service_data"] == service_data
    assert read["manufacturer_data"] == mfr
    assert read["tx_power"] == tx
    assert read["raw"] == payload
    batch = parse_advertisements([payload])
    absent = batch.ABSENT
    assert batch.flags.tolist() == [absent if read["flags"] is None else read["flags"]]
    assert batch.appearance.tolist() == [
        absent if read["appearance"] is None else read["appearance"]
    ]
    assert batch.malformed_count.tolist() == [len(read["malformed"])]
    assert batch.uuid_count.tolist() == [len(read["service_uuids"])]
    assert batch[0] == adv
    assert Advertisement(*(read[f] for f in FIELDS)) == adv  # eager equals lazy


def test_repeated_bytes_return_the_same_object() -> None:
    _parse_cached.cache_clear()
    first = parse_advertisement(BTHOME)
    assert parse_advertisement(bytes(bytearray(BTHOME))) is first  # equal bytes, another object
    assert parse_advertisement(bytearray(BTHOME)) is first
    assert parse_advertisement(memoryview(BTHOME)) is first
    assert type(parse_advertisement(bytearray(BTHOME)).raw) is bytes
    info = _parse_cached.cache_info()
    assert (info.hits, info.misses) == (4, 1)


def test_cache_is_bounded() -> None:
    _parse_cached.cache_clear()
    rnd = random.Random(5)
    for _ in range(PARSE_CACHE_SIZE + 500):
        assert parse_advertisement(CORPUS[0] + rnd.randbytes(6)).local_name == "LOOKin_98F33163"
    assert _parse_cached.cache_info().currsize == PARSE_CACHE_SIZE


def test_bad_input_is_an_error_and_not_cached() -> None:
    for bad in ("0201", 5, None, (b"\x02\x01\x06",), [1, 2]):
        with pytest.raises(InvalidInputError, match="must be bytes"):
            parse_advertisement(bad)  # type: ignore[arg-type]


def test_results_are_read_only() -> None:
    adv = parse_advertisement(BTHOME)
    for target in (adv, parse_advertisements([BTHOME])[0]):  # decoded, and not yet decoded
        with pytest.raises(AttributeError, match="read-only"):
            target.local_name = "x"
        with pytest.raises(AttributeError, match="read-only"):
            target.raw = b""
        with pytest.raises(AttributeError, match="read-only"):
            del target.flags
    uuids, service_data, mfr = adv.service_uuids, adv.service_data, adv.manufacturer_data
    assert isinstance(uuids, list) and isinstance(service_data, dict) and isinstance(mfr, dict)
    for change in (
        lambda: uuids.append("x"),
        lambda: uuids.extend(["x"]),
        lambda: uuids.insert(0, "x"),
        lambda: uuids.pop(),
        lambda: uuids.remove(uuids[0]),
        lambda: uuids.clear(),
        lambda: uuids.sort(),
        lambda: uuids.reverse(),
        lambda: uuids.__setitem__(0, "x"),
        lambda: uuids.__delitem__(0),
        lambda: uuids.__iadd__(["x"]),
        lambda: uuids.__imul__(2),
        lambda: service_data.__setitem__("x", b""),
        lambda: service_data.__delitem__(next(iter(service_data))),
        lambda: service_data.pop(next(iter(service_data))),
        lambda: service_data.popitem(),
        lambda: service_data.clear(),
        lambda: service_data.update({"x": b""}),
        lambda: service_data.setdefault("x", b""),
        lambda: service_data.__ior__({"x": b""}),
        lambda: mfr.__setitem__(1, b""),  # the shared empty dict
    ):
        with pytest.raises(InvalidInputError, match="read-only"):
            change()
    assert parse_advertisement(BTHOME) == Advertisement(
        "ATC_8D18B2",
        ["0000fcd2-0000-1000-8000-00805f9b34fb"],
        {"0000fcd2-0000-1000-8000-00805f9b34fb": bytes.fromhex("4002ca0903bf13")},
        {},
        None,
        6,
        raw=BTHOME,
    )
    copied = dict(service_data)
    copied["x"] = b""  # a copy is an ordinary dict
    assert "x" not in parse_advertisement(BTHOME).service_data


def test_tuple_like_helpers_pickle_and_copy() -> None:
    adv = parse_advertisement(BTHOME)
    name, uuids, *_rest, raw = adv
    assert uuids == ["0000fcd2-0000-1000-8000-00805f9b34fb"]
    assert (name, raw) == ("ATC_8D18B2", BTHOME)
    assert adv._fields == FIELDS
    assert list(adv._asdict()) == list(FIELDS)
    changed = adv._replace(local_name="other")
    assert changed.local_name == "other" and changed.service_data == adv.service_data
    assert changed != adv
    with pytest.raises(InvalidInputError):
        adv._replace(name="x")
    for clone in (pickle.loads(pickle.dumps(adv)), copy.copy(adv), copy.deepcopy(adv)):
        assert clone == adv
    assert pickle.loads(pickle.dumps(adv.service_uuids)) == adv.service_uuids
    assert copy.deepcopy(adv.service_data) == adv.service_data
    assert hash(adv) == hash(parse_advertisements([BTHOME])[0])
    assert repr(adv).startswith("Advertisement(local_name='ATC_8D18B2', service_uuids=[")
    assert adv != tuple(adv)


def test_equality_decodes_only_what_it_must() -> None:
    a = parse_advertisements([BTHOME])[0]
    b = parse_advertisements([BTHOME])[0]
    assert a == b and type(a) is type(b) is _LazyAdvertisement  # equal without decoding
    assert a.local_name == "ATC_8D18B2" and type(a) is Advertisement  # decoded on first read
    assert a == b
    assert a != parse_advertisements([BTHOME + b"\x00"])[0]
    eager = Advertisement(a.local_name, a.service_uuids, a.service_data, {}, None, 6)
    assert eager != a  # raw differs
    assert eager._replace(raw=BTHOME) == b
    built = type(parse_advertisements([b""])[0])(None, [], {}, {7: b"x"}, None)
    assert type(built) is Advertisement and built.manufacturer_data == {7: b"x"}
