"""Fuzzed ``from_state``: garbage, truncations, bit flips and hostile headers (with a valid
checksum) give CorruptDataError and nothing else."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
import xxhash
from hypothesis import given
from hypothesis import strategies as st

from edgekit.analytics.detectors import EwmaZScore, HalfSpaceTrees, MatrixProfileDiscord
from edgekit.errors import CorruptDataError

CLASSES = [EwmaZScore, HalfSpaceTrees, MatrixProfileDiscord]


def _states() -> dict[type, bytes]:
    x = np.sin(np.arange(400) / 7.0) + np.arange(400) % 5 / 10
    return {
        EwmaZScore: EwmaZScore(warmup=5).fit(x).state(),
        HalfSpaceTrees: HalfSpaceTrees(n_trees=2, height=3, window_size=50, seed=1).fit(x).state(),
        MatrixProfileDiscord: MatrixProfileDiscord(window=8, history=64).fit(x).state(),
    }


STATES = _states()


def _seal(body: bytes) -> bytes:
    return body + struct.pack("<Q", xxhash.xxh3_64_intdigest(body))


def _split(blob: bytes) -> tuple[dict, bytes]:
    (hlen,) = struct.unpack_from("<I", blob, 6)
    return json.loads(blob[10 : 10 + hlen]), blob[10 + hlen : -8]


def _join(header: dict, arrays: bytes) -> bytes:
    h = json.dumps(header).encode()
    return _seal(b"EKAD" + struct.pack("<HI", 1, len(h)) + h + arrays)


def _load(cls: type, blob: bytes) -> None:
    try:
        det = cls.from_state(blob)
    except CorruptDataError:
        return
    # accepted: it must then work
    det.score(np.linspace(0.0, 1.0, 70)[:, None] if not det.univariate else np.linspace(0, 1, 70))


@pytest.mark.parametrize("cls", CLASSES)
@given(data=st.binary(max_size=300))
def test_garbage(cls, data):
    with pytest.raises(CorruptDataError):
        cls.from_state(data)
    with pytest.raises(CorruptDataError):
        cls.from_state(_seal(data))


@pytest.mark.parametrize("cls", CLASSES)
@given(cut=st.integers(0, 10_000), flip=st.integers(0, 10_000 * 8))
def test_truncated_and_flipped(cls, cut, flip):
    blob = STATES[cls]
    with pytest.raises(CorruptDataError):
        cls.from_state(blob[: cut % len(blob)])
    bad = bytearray(blob)
    bad[(flip // 8) % len(bad)] ^= 1 << (flip % 8)
    with pytest.raises(CorruptDataError):
        cls.from_state(bytes(bad))
    _load(cls, _seal(bytes(bad[:-8])))  # the same flip with a valid checksum


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@pytest.mark.parametrize("cls", CLASSES)
@given(data=st.data())
def test_hostile_headers(cls, data):
    header, arrays = _split(STATES[cls])
    path = data.draw(st.sampled_from(_paths(header)))
    value = data.draw(_JSON)
    target = header
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    _load(cls, _join(header, arrays))


def _paths(obj, prefix=()):
    out = [prefix] if prefix else []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


def test_other_class_and_version():
    blob = STATES[EwmaZScore]
    with pytest.raises(CorruptDataError, match="not of HalfSpaceTrees"):
        HalfSpaceTrees.from_state(blob)
    header, arrays = _split(blob)
    versioned = bytearray(_join(header, arrays)[:-8])
    versioned[4:6] = struct.pack("<H", 2)
    with pytest.raises(CorruptDataError, match="version 2"):
        EwmaZScore.from_state(_seal(bytes(versioned)))
    assert EwmaZScore.from_state(blob).state() == blob
