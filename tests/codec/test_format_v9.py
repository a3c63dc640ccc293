"""Format version 9: the single-stream huffman scheme of short integer lanes.

The huffman scheme writes four interleaved streams (for a decoder that reads four values
at a time), each with a 4-byte bit count and a padded last byte: about 16 bytes a block,
a tenth of the lanes of a few hundred values (a compact frame of sensor readings, a
dictionary's indices, the adjustments of a float-div block). Below 4,096 values the same
code (order, center, code lengths) is written as one stream with a varint bit count.
River's room-light occupancy series (509 values, a dictionary of 120 levels and runs of
zeros) was 489 bytes, 5 bytes above blosc2's shuffle + zstd-9; it is 449.

``data/frames_v9.json`` holds generated cases (seeded integer arithmetic, no wall-clock
time) and the frames edgekit wrote for them; every later reader must decode them and the
encoder must still write them byte for byte.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgekit.codec import _kernels, _schemes, compress, decompress, frame_info
from edgekit.codec._format import HUFF, HUFF1, HUFF1_MAX_VALUES
from edgekit.codec._frame import Reader
from edgekit.errors import CorruptDataError
from tests._support.frames import (
    assert_golden_case,
    assert_written_no_larger,
    first_block,
    format_8_encoder,
    format_9_encoder,
    golden_cases_of,
    reseal,
    write_golden,
)

Array = np.ndarray[Any, Any]
DATA = Path(__file__).parent / "data"
CASES: dict[str, dict[str, Any]] = json.loads((DATA / "frames_v9.json").read_text())
OLDER = golden_cases_of(range(1, 9))


def walk(seed: int, n: int, scale: int = 20) -> Array:
    """A random walk of Laplace steps (int64): a slowly moving sensor's counts."""
    steps = np.round(np.random.default_rng(seed).laplace(0, scale, n))
    out: Array = np.cumsum(steps).astype(np.int64)
    return out


def lights(seed: int, n: int) -> Array:
    """A light sensor's lux readings averaged over 1 to 4 samples (float64, 8 decimals):
    runs of 0.0 at night, by day one of 100 levels between 300 and 600 (river's
    room-occupancy light sensor takes 120 values in 509 readings)."""
    rng = np.random.default_rng(seed)
    average = rng.integers(1, 5, 100)
    pool = np.round((300 + rng.integers(0, 300, 100)) * average // 1 / average, 8)
    pool += np.round(rng.integers(0, 4, 100) % average / average, 8)
    day = (np.arange(n) // 60) % 2 == 1
    out: Array = np.where(day, pool[rng.integers(0, 100, n)], 0.0)
    return out


def golden_cases() -> dict[str, tuple[Array, dict[str, Any]]]:
    """The cases of ``data/frames_v9.json``: values and the ``compress`` arguments."""
    return {
        "huffman1_walk_i4": (walk(1, 700).astype(np.int32), {}),
        "huffman1_order0_u1": (
            np.random.default_rng(2).binomial(40, 0.3, 900).astype(np.uint8),
            {},
        ),
        "huffman1_full_2_blocks_i2": (
            walk(3, 3000, 6).astype(np.int16),
            {"block_size": 1500, "compact": False},
        ),
        "dictionary_huffman1_f8": (lights(4, 600), {}),
    }


def regenerate() -> None:
    """Rewrite ``data/frames_v9.json`` (only when the format changes on purpose)."""
    write_golden(DATA / "frames_v9.json", golden_cases())


@pytest.mark.parametrize("name", sorted(CASES))
def test_committed_v9_frame_decodes_and_is_still_written(name: str) -> None:
    case = CASES[name]
    frame = bytes.fromhex(case["frame_hex"])
    assert frame[4] == 9 and list(frame_info(frame).schemes) == case["schemes"]
    with format_9_encoder():
        assert_golden_case(case)


def test_the_committed_frames_cover_a_block_and_nested_lanes() -> None:
    schemes = {s for case in CASES.values() for s in case["schemes"]}
    assert {"huffman-1", "dictionary"} <= schemes


@pytest.mark.parametrize("name", sorted(OLDER))
def test_the_older_golden_cases_are_written_no_larger(name: str) -> None:
    """Every golden case of versions 1 to 8 decodes from what format 9 writes, which is
    no larger than what the format-8 encoder writes; where they differ, the frame says
    version 9."""
    with format_9_encoder():
        assert_written_no_larger(OLDER[name], format_8_encoder, 9)


def test_short_lanes_take_one_stream_and_long_ones_four() -> None:
    """Below HUFF1_MAX_VALUES the single stream; from there on the four streams (whose
    decoder reads four values at a time); at level 1 neither."""
    short = walk(5, HUFF1_MAX_VALUES - 1)
    assert frame_info(compress(short)).schemes == ("huffman-1",)
    assert compress(short)[4] == 9
    assert frame_info(compress(walk(5, HUFF1_MAX_VALUES))).schemes == ("huffman",)
    assert compress(short, level=1)[4] == 7
    with format_8_encoder():
        assert frame_info(compress(short)).schemes == ("huffman",)


def test_it_saves_the_four_streams_overhead() -> None:
    """The same code in one stream: 12 to 18 bytes fewer (three 4-byte bit counts, the
    padding of four last bytes against one, a varint of 2 or 3 bytes)."""
    for seed, n in ((6, 300), (7, 700), (8, 4000)):
        x = walk(seed, n)
        with format_8_encoder():
            four = compress(x)
        one = compress(x)
        assert frame_info(four).schemes == ("huffman",)
        assert 12 <= len(four) - len(one) <= 18, (n, len(four), len(one))


def test_a_dictionary_whose_indices_take_one_stream_is_version_9() -> None:
    """A float block's nested lanes (a dictionary's indices) in the single stream make the
    frame version 9 (a format-8 reader would not know the nested scheme id)."""
    x = lights(9, 500)
    with format_9_encoder():
        frame = compress(x)
    assert frame_info(frame).schemes == ("dictionary",) and frame[4] == 9
    payload = frame[first_block(frame) + 5 : -4]
    _count, _dscheme, dlen = struct.unpack_from("<IBI", payload)
    assert payload[9 + dlen] == HUFF1  # the index lanes' scheme
    with format_8_encoder():
        older = compress(x)
    assert older[4] == 7 and len(frame) < len(older) - 10


def test_blocks_whose_lanes_are_the_kernels_keep_their_version() -> None:
    """Float-mult lanes come from the kernels (never the single stream): a float-mult
    frame stays version 2, though the dictionary tried on its way used the single stream."""
    rng = np.random.default_rng(10)
    x = np.cumsum(rng.integers(-9, 10, 3000)) * 0.0048828125
    frame = compress(x, compact=False)
    assert frame_info(frame).schemes == ("float-mult",) and frame[4] == 2


def test_runs_of_zeros_and_averaged_levels_take_20_bytes_fewer() -> None:
    """The generated counterpart of the room-light series (runs of 0.0, averaged levels):
    its dictionary's indices and values in single streams."""
    x = lights(11, 509)
    with format_8_encoder():
        before = len(compress(x))
    assert len(compress(x)) < before - 20


U64 = st.integers(0, 2**64 - 1)


@settings(max_examples=150, deadline=None)
@given(
    values=st.one_of(
        st.lists(st.integers(-300, 300), min_size=3, max_size=600),
        st.lists(U64, min_size=3, max_size=200),
        st.lists(st.sampled_from([0, 1, 2**40, -(2**63), 2**63 - 1]), min_size=3, max_size=300),
    ),
    order=st.integers(0, 2),
)
def test_payload_round_trip(values: list[int], order: int) -> None:
    """Any lanes, any order, values whose extra bits run to 62: the payload decodes to
    them, from the payload alone and with bytes after it."""
    u = np.array([v % 2**64 for v in values], dtype=np.uint64)
    payload = _kernels.huff1_payload(u, order, 1 << 40)
    assert payload.size
    for tail in (b"", b"\xff" * 40):
        buf = np.frombuffer(payload.tobytes() + tail, dtype=np.uint8)
        out = np.zeros(u.size, dtype=np.uint64)
        assert _kernels.decode_huff1_block(buf, 0, buf.size, u.size, out) == (0, payload.size)
        assert out.tolist() == u.tolist()


def test_the_payload_is_empty_when_it_would_not_beat_the_limit() -> None:
    u = walk(12, 500).view(np.uint64)
    size = _kernels.huff1_payload(u, 1, 1 << 20).size
    assert _kernels.huff1_payload(u, 1, size + 1).size == size
    assert _kernels.huff1_payload(u, 1, size).size == 0


def _payload() -> bytes:
    """A huffman-1 payload of order 1 (heads, center, code lengths, varint, stream)."""
    return _kernels.huff1_payload(walk(13, 300).view(np.uint64), 1, 1 << 20).tobytes()


def _decode(payload: bytes, n: int = 300) -> int:
    buf = np.frombuffer(payload, dtype=np.uint8)
    status, _pos = _kernels.decode_huff1_block(buf, 0, buf.size, n, np.zeros(n, np.uint64))
    return int(status)


def _varint_at() -> int:
    """Offset of the bit count varint in :func:`_payload` (order 1)."""
    p = _payload()
    at = 1 + 8 + 8
    return at + 2 + (p[at + 1] - p[at] + 2) // 2


def test_bad_fields_are_refused() -> None:
    p = _payload()
    assert _decode(p) == 0
    v = _varint_at()
    bad = {
        "order 3": bytes([3]) + p[1:],
        "no symbol range": p[:17] + bytes([9, 3]) + p[19:],
        "symbol out of range": p[:17] + bytes([p[17], 200]) + p[19:],
        "lengths no prefix code": p[:19] + bytes([0x11] * (v - 19)) + p[v:],
        "truncated heads": p[:12],
        "truncated varint": p[: v + 1] if p[v] & 0x80 else p[:v],
        "endless varint": p[:v] + b"\xff" * 6 + p[v + 1 :],
        "more bits than values take": p[:v] + b"\xff\xff\x7f" + p[v + 2 :],
        "truncated stream": p[:-3],
        "bits left over": p[:v] + bytes([p[v] + 1]) + p[v + 1 :] if p[v] < 0x7F else p,
    }
    for name, payload in bad.items():
        if payload != p:
            assert _decode(payload) < 0, name
    assert _decode(p, n=1) < 0  # fewer values than the order needs
    assert _decode(p, n=299) < 0  # the stream holds more values


def test_a_corrupt_block_is_corrupt_data_through_every_decoder() -> None:
    """The compiled block loop and the Python side both name a bad single stream."""
    x = walk(14, 600)
    frame = bytearray(compress(x, compact=False))
    at = 19 + 5  # the first block's payload
    assert frame[19] == HUFF1
    frame[at] = 3  # residual order 3
    for data in (bytes(reseal(frame)), bytearray(reseal(frame))):
        with pytest.raises(CorruptDataError):
            decompress(data)


def test_the_python_side_decodes_nested_lanes_as_the_kernel_loop() -> None:
    x = walk(15, 900)
    frame = compress(x, compact=False)
    payload = frame[19 + 5 : -8]
    lanes = _schemes.decode_int_lanes(HUFF1, Reader(memoryview(payload), 0, "t"), x.size, x.dtype)
    assert lanes.view(np.int64).tolist() == x.tolist()
    assert _schemes.encode_int_lanes(x.view(np.uint64), x)[0] == HUFF1
    with format_8_encoder():
        assert _schemes.encode_int_lanes(x.view(np.uint64), x)[0] == HUFF
