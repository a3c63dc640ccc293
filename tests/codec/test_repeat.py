"""The repeat scheme (format version 4): float blocks as their first occurrences (a nested
float block) plus, for every other value, the distance back to its previous occurrence.

``data/frames_v4.json`` holds generated cases (:func:`recurring_readings`: readings that
return to recent levels, z-normalised and printed to 8 decimals as the UCR archives store
them) and the frames edgekit wrote for them; every later reader must decode them and the
encoder must still write them byte for byte.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgekit.codec import _schemes, compress, decompress, frame_info
from edgekit.codec._format import ALP, FORMAT_VERSION, REPEAT
from edgekit.errors import CorruptDataError
from tests._support.frames import golden_values, reseal

Array = np.ndarray[Any, Any]
CASES: dict[str, dict[str, Any]] = json.loads(
    (Path(__file__).parent / "data" / "frames_v4.json").read_text()
)
#: Cases the encoder now writes smaller, each block's Huffman residual order chosen by its
#: sampled cost rather than by the narrowest range (a few jumps make every range as wide):
#: (size in bytes, schemes). The committed frame still decodes.
NOW_ORDER = {
    "repeat_recurring_f8": (7614, ["repeat"]),
    # (and since the float32 step of float-mult-adj, its last block takes that: 18,906
    # bytes with an alp block)
    "repeat_recurring_f4_blocks": (14226, ["repeat", "repeat", "float-mult-adj"]),
}
#: Bytes before the first block's payload of a 1-D frame: header, then scheme id and length.
PAYLOAD_AT = 4 + 1 + 1 + 1 + 8 + 4 + 5


def recurring_readings(seed: int, n: int) -> Array:
    """Readings that go back to one of their last 15 values 65 % of the time (an appliance
    cycling between levels), else step away; z-normalised and rounded to 8 decimals."""
    rng = np.random.default_rng(seed)
    reuse = rng.random(n) < 0.65
    back = rng.integers(1, 16, n)
    step = rng.integers(-3000, 3000, n)
    a = np.empty(n)
    a[0] = 1000.0
    for i in range(1, n):
        a[i] = a[max(i - back[i], 0)] if reuse[i] else a[i - 1] + step[i]
    out: Array = np.round((a - a.mean()) / a.std(), 8)
    return out


def _same_bits(a: Array, b: Array) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.usefixtures("format_8_encoder")
def test_committed_v4_frame_decodes_and_is_still_written(name: str) -> None:
    case = CASES[name]
    frame = bytes.fromhex(case["frame_hex"])
    assert frame[4] == 4
    assert list(frame_info(frame).schemes) == case["schemes"]
    assert "repeat" in case["schemes"]
    want = golden_values(case)
    assert _same_bits(decompress(frame), want)
    again = compress(want, **case["kwargs"], compact=False)
    if name in NOW_ORDER:
        assert (len(again), list(frame_info(again).schemes)) == NOW_ORDER[name]
        assert len(again) < len(frame) and _same_bits(decompress(again), want)
    else:
        assert again == frame


def test_repeat_wins_on_recurring_levels_and_marks_version_4() -> None:
    x = recurring_readings(1, 20_000)
    frame = compress(x, compact=False)
    assert frame_info(frame).schemes == ("repeat",) and frame[4] == 4
    # The best scheme of the earlier versions codes every value (here ALP).
    scheme, payload = _schemes.encode_float_block(x, _schemes.FloatPlan(x), allow_repeat=False)
    assert scheme == ALP and len(frame) < 0.75 * len(payload)
    newer = bytearray(frame)
    newer[4] = FORMAT_VERSION + 1
    with pytest.raises(CorruptDataError, match="version"):
        decompress(reseal(newer))


@settings(max_examples=60, deadline=None)
@given(
    levels=hnp.arrays(
        st.sampled_from(["f4", "f8"]),
        st.integers(1, 40),
        elements={"allow_nan": True, "allow_infinity": True, "allow_subnormal": True},
    ),
    picks=st.lists(st.integers(0, 39), min_size=1, max_size=1500),
    block_size=st.sampled_from([4096, 5000, 65536]),
    specials=st.lists(st.tuples(st.integers(0, 5599), st.integers(0, 4)), max_size=6),
)
def test_round_trip_bit_for_bit(
    levels: Array, picks: list[int], block_size: int, specials: list[tuple[int, int]]
) -> None:
    # Values drawn from few levels (most repeat an earlier one; at least 4,096 values, the
    # scheme's minimum), with NaN payloads, -0.0 and infinities placed anywhere.
    x = np.resize(levels[np.asarray(picks) % levels.size], 4096 + len(picks))
    uint = np.uint64 if x.dtype.itemsize == 8 else np.uint32
    nan_bits = (
        [0x7FF8000000000123, 0xFFF00000000ABCDE] if uint is np.uint64 else [0x7FC00123, 0xFF812345]
    )
    for pos, kind in specials:
        if pos < x.size:
            if kind < 2:
                x.view(uint)[pos] = nan_bits[kind]
            else:
                x[pos] = (-0.0, np.inf, -np.inf)[kind - 2]
    frame = compress(x, block_size=block_size, compact=False)
    assert _same_bits(decompress(frame), x)
    # Every value twice in a row (lags of 1).
    assert _same_bits(
        decompress(compress(np.repeat(x, 2), block_size=block_size, compact=False)), np.repeat(x, 2)
    )


def test_nan_payloads_and_negative_zero_repeat_bit_for_bit() -> None:
    x = recurring_readings(2, 6000)
    x[10::97] = -0.0
    x.view(np.uint64)[5::131] = 0x7FF8000000000ABC
    x.view(np.uint64)[7::131] = 0xFFF0000000000001
    frame = compress(x, compact=False)
    assert frame_info(frame).schemes == ("repeat",)
    assert _same_bits(decompress(frame), x)


def _repeat_frame() -> bytes:
    frame = compress(recurring_readings(3, 5000), compact=False)
    assert frame_info(frame).schemes == ("repeat",)
    return frame


def test_a_repeat_before_the_block_is_corrupt() -> None:
    x = recurring_readings(3, 5000)
    frame = _repeat_frame()
    literals, _ischeme, ilen = struct.unpack_from("<IBI", frame, PAYLOAD_AT)
    # The lags as a raw nested block, the first one reaching back 1 (before the block)
    # and a repeat made a literal, so that the literal count still matches.
    lags = _schemes.kernels().repeat_lags(x.view(np.uint64)).astype("<i8")
    lags[0] = 1
    lags[np.flatnonzero(lags)[1]] = 0
    tail = frame[PAYLOAD_AT + 9 + ilen : -8]
    bad = bytearray(frame[:PAYLOAD_AT])
    bad += struct.pack("<IBI", literals, 0, lags.nbytes) + lags.tobytes() + tail
    struct.pack_into("<I", bad, PAYLOAD_AT - 4, len(bad) - PAYLOAD_AT)
    with pytest.raises(CorruptDataError, match="before the block"):
        decompress(reseal(bad + bytes(8)))


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [(0, 0, "literals"), (0, 5001, "literals"), (0, 1, "literal count"), (4, 14, "lag scheme")],
)
def test_bad_repeat_fields_are_corrupt(field: int, value: int, match: str) -> None:
    bad = bytearray(_repeat_frame())
    if field == 0:
        struct.pack_into("<I", bad, PAYLOAD_AT, value)
    else:
        bad[PAYLOAD_AT + field] = value
    with pytest.raises(CorruptDataError, match=match):
        decompress(reseal(bad))


def test_a_nested_repeat_or_dictionary_literal_block_is_corrupt() -> None:
    frame = _repeat_frame()
    ilen = struct.unpack_from("<I", frame, PAYLOAD_AT + 5)[0]
    at = PAYLOAD_AT + 9 + ilen
    assert frame[at] != REPEAT
    for scheme in (REPEAT, 8):
        bad = bytearray(frame)
        bad[at] = scheme
        with pytest.raises(CorruptDataError, match="literal scheme"):
            decompress(reseal(bad))


def test_the_fill_refuses_negative_and_forward_lags() -> None:
    """A negative lag (possible in a damaged lag block) never reads outside the block."""
    from edgekit.codec._format import ERR_POSITION
    from edgekit.codec._kernels.repeat import repeat_fill

    literals = np.array([7, 8], dtype=np.uint64)
    for lags in ([0, -1, 0], [0, -(2**62), 0], [0, 2, 0]):
        out = np.zeros(3, dtype=np.uint64)
        assert repeat_fill(np.array(lags, dtype=np.int64), literals, out) == ERR_POSITION
    out = np.zeros(3, dtype=np.uint64)
    assert repeat_fill(np.array([0, 1, 0], dtype=np.int64), literals, out) == 0
    assert out.tolist() == [7, 7, 8]
