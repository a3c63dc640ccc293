"""The bucket entry format: round trips, foreign values as cloud writes, garbage as a clear error."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgekit.errors import CorruptDataError
from edgekit.state import Entry
from edgekit.state.hlc import Hlc
from edgekit.state.wire import CLOUD_NODE, decode, encode

SERVER_MS = 1_764_000_000_123

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(
    value=json_values,
    wall=st.integers(0, 2**48),
    logical=st.integers(0, 2**31),
    node=st.text(min_size=1, max_size=20),
    siblings=st.lists(json_values, max_size=3),
)
def test_round_trip(value, wall, logical, node, siblings):
    entry = Entry("a/b.c", value, Hlc(wall, logical), node, siblings=tuple(siblings))
    back, cloud = decode("a/b.c", encode(entry), server_ms=SERVER_MS)
    assert not cloud
    assert back == entry


def test_tombstone_round_trip_and_documented_shape():
    entry = Entry("k", None, Hlc(5, 2), "n1", deleted=True)
    data = encode(entry)
    assert json.loads(data) == {"v": None, "hlc": [5, 2], "node": "n1", "deleted": True}
    assert decode("k", data, server_ms=SERVER_MS) == (entry, False)
    doc = json.loads(encode(Entry("k", {"x": 1}, Hlc(7, 0), "n2", siblings=(3,))))
    assert doc == {"v": {"x": 1}, "hlc": [7, 0], "node": "n2", "deleted": False, "siblings": [3]}


@pytest.mark.parametrize(
    ("data", "value"),
    [
        (b"42", 42),
        (b'{"temp": 21.5}', {"temp": 21.5}),
        (b"[1, 2]", [1, 2]),
        (b"null", None),
        (b'"on"', "on"),
        (b"on", "on"),  # not JSON: taken as UTF-8 text
        ("Grüße".encode(), "Grüße"),
        (b"", ""),
        (b'{"v": 1, "hlc": [1, 2]}', {"v": 1, "hlc": [1, 2]}),  # no "node": not ours
        (b'{"v": 1, "hlc": [1, 2], "node": "x", "extra": 1}', None),  # an unknown field
    ],
)
def test_foreign_values_are_cloud_writes_at_the_server_time(data, value):
    entry, cloud = decode("cfg/mode", data, server_ms=SERVER_MS)
    assert cloud
    assert entry.node_id == CLOUD_NODE
    assert entry.hlc == Hlc(SERVER_MS, 0)
    assert not entry.deleted
    if value is not None or data == b"null":
        assert entry.value == value
    else:
        assert entry.value == json.loads(data)


def test_kv_delete_is_a_cloud_delete():
    entry, cloud = decode("cfg/mode", b"", server_ms=SERVER_MS, deleted=True)
    assert cloud and entry.deleted and entry.value is None
    assert entry.hlc == Hlc(SERVER_MS, 0)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"\xff\xfe\x00garbage", "neither JSON nor UTF-8"),
        (b"NaN", "not a JSON value"),
        (b'{"a": Infinity}', "not a JSON value"),
        (b"[1e999]", "overflows"),
        (b'{"v": 1, "hlc": "soon", "node": "n"}', "hlc must be"),
        (b'{"v": 1, "hlc": [1, -2], "node": "n"}', "hlc must be"),
        (b'{"v": 1, "hlc": [1, 2.5], "node": "n"}', "hlc must be"),
        (b'{"v": 1, "hlc": [1, 2], "node": ""}', "node must be"),
        (b'{"v": 1, "hlc": [1, 2], "node": "n", "deleted": "no"}', "deleted must be"),
        (b'{"v": 1, "hlc": [1, 2], "node": "n", "siblings": 3}', "siblings must be"),
        (b"[" * 100_000, "nested too deeply"),
    ],
)
def test_garbage_is_a_clear_error_naming_the_key(data, words):
    with pytest.raises(CorruptDataError, match=words) as info:
        decode("twin/pump/desired/rpm", data, server_ms=SERVER_MS)
    assert "twin/pump/desired/rpm" in str(info.value)


@settings(max_examples=400)
@given(st.binary(max_size=200))
def test_fuzz_decoder_bytes(data):
    """Any bytes: an entry, or CorruptDataError; never another exception."""
    try:
        entry, cloud = decode("k", data, server_ms=SERVER_MS)
    except CorruptDataError:
        return
    assert entry.key == "k"
    assert cloud == (entry.node_id == CLOUD_NODE) or not cloud


@settings(max_examples=200)
@given(st.dictionaries(st.sampled_from(["v", "hlc", "node", "deleted", "siblings"]), json_values))
def test_fuzz_decoder_near_miss_objects(doc):
    """Objects shaped almost like an entry: decoded or refused with CorruptDataError."""
    try:
        entry, cloud = decode("k", json.dumps(doc).encode(), server_ms=SERVER_MS)
    except CorruptDataError:
        assert "hlc" in doc and "node" in doc
        return
    if not cloud:
        assert entry.hlc == Hlc(*doc["hlc"])
