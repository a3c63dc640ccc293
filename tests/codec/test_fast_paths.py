"""The fast paths of compress/decompress give the same frames and values as the general ones.

compress: contiguous little-endian arrays skip conversion; a frame of one float block is
planned, chosen and ALP-encoded in one kernel call. decompress: 1-D ``bytes`` frames take a
header fast path, and every block of a kernel scheme is decoded in one kernel call that
hands other schemes back to Python and resumes after them.
"""

from __future__ import annotations

import struct
from typing import Any

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgekit.codec import _schemes, compress, decompress, frame_info
from edgekit.errors import CorruptDataError
from tests.codec.conftest import reseal

DTYPES = ["i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f4", "f8"]
HEADER_1D = 4 + 1 + 1 + 1 + 8 + 4


def same_bits(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def general_float_frame(x: np.ndarray[Any, Any], level: int | None = None) -> bytes:
    """The frame the general per-block chooser makes for a one-block float array."""
    head = struct.pack("<4sBBBQI", b"EKCS", 1, 9 if x.dtype.itemsize == 4 else 10, 1, x.size, 65536)
    scheme, payload = _schemes.encode_float_block(x, _schemes.FloatPlan(x), entropy=level != 1)
    body = head + struct.pack("<BI", scheme, len(payload)) + payload
    return reseal(body + bytes(8))


def decode_every_way(frame: bytes) -> np.ndarray[Any, Any]:
    """Decode from bytes (fast header path), bytearray and memoryview; all must agree."""
    a = decompress(frame)
    for other in (bytearray(frame), memoryview(frame)):
        assert same_bits(a, decompress(other))
    return a


special_floats = st.sampled_from(
    [0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, -5e-324, 1.1, 0.3, 1e300, -2.5]
)


@settings(max_examples=80)
@given(
    x=hnp.arrays(
        st.sampled_from(["f4", "f8"]),
        st.integers(0, 700),
        elements={"allow_nan": True, "allow_infinity": True, "allow_subnormal": True},
    ),
    decimals=st.integers(-1, 4),
    specials=st.lists(st.tuples(st.integers(0, 699), special_floats), max_size=8),
    level=st.sampled_from([None, 1]),
)
def test_one_block_float_fast_path_matches_the_general_chooser(
    x: np.ndarray[Any, Any],
    decimals: int,
    specials: list[tuple[int, float]],
    level: int | None,
) -> None:
    if decimals >= 0 and x.size:
        # Decimal-looking data (where ALP wins outright) as well as arbitrary bits.
        steps = np.nan_to_num(x.astype(np.float64), posinf=1, neginf=-1)
        with np.errstate(all="ignore"):
            walk = np.clip(np.cumsum(np.clip(steps, -1e6, 1e6)), -1e6, 1e6)
        x = np.round(walk, decimals).astype(x.dtype)
    with np.errstate(over="ignore"):
        for pos, value in specials:
            if pos < x.size:
                x[pos] = value
    frame = compress(x, level=level)
    if x.size:
        assert frame == general_float_frame(x, level)
    assert same_bits(decode_every_way(frame), x)


def test_nan_payloads_and_negative_zero_through_the_fast_paths() -> None:
    for dtype, bits, payloads in [
        ("f8", "u8", [0x7FF8000000000001, 0xFFF0000000ABCDEF, 0x7FF0000000000001]),
        ("f4", "u4", [0x7FC00001, 0xFFC12345, 0x7F800001]),
    ]:
        x = np.round(np.linspace(-50, 50, 300), 1).astype(dtype)
        x[[3, 100, 299]] = np.array(payloads, dtype=bits).view(dtype)
        x[7] = -0.0
        frame = compress(x)
        assert frame_info(frame).schemes == ("alp",)
        y = decode_every_way(frame)
        assert np.array_equal(x.view(bits), y.view(bits))


@pytest.mark.parametrize("dtype", DTYPES)
def test_empty_and_one_element_of_every_dtype(dtype: str) -> None:
    for x in (np.zeros(0, dtype=dtype), np.ones(1, dtype=dtype), np.ones((1, 1), dtype=dtype)):
        y = decode_every_way(compress(x))
        assert same_bits(x, y)
    if dtype[0] == "f":
        x = np.array([-0.0], dtype=dtype)
        assert same_bits(x, decode_every_way(compress(x)))


def test_kernel_loop_resumes_after_blocks_left_to_python() -> None:
    rng = np.random.default_rng(5)
    parts = [
        np.round(10 * np.cumsum(rng.standard_normal(256)), 1),  # alp (kernel)
        rng.standard_normal(256),  # alp-rd (python)
        np.round(10 * np.cumsum(rng.standard_normal(256)), 1),  # alp (kernel)
        np.repeat(rng.standard_normal(8), 32),  # dictionary (python)
        np.round(10 * np.cumsum(rng.standard_normal(256)), 1),  # alp (kernel)
    ]
    x = np.concatenate(parts)
    frame = compress(x, block_size=256)
    schemes = frame_info(frame).schemes
    assert schemes[0] == schemes[2] == schemes[4] == "alp"
    assert schemes[1] != "alp" and schemes[3] != "alp"
    assert same_bits(decode_every_way(frame), x)


@pytest.mark.parametrize("dtype", ["i1", "u2", "i4", "i8", "u8"])
def test_integer_kernel_loop_resumes_after_raw_blocks(dtype: str) -> None:
    rng = np.random.default_rng(6)
    info = np.iinfo(dtype)
    noise = rng.integers(info.min, info.max, 100, dtype=dtype, endpoint=True)
    ramp = (np.arange(100) % 50).astype(dtype)
    x = np.concatenate([ramp, noise, ramp, noise, ramp])
    frame = compress(x, block_size=100)
    schemes = frame_info(frame).schemes
    assert schemes[1] == schemes[3] == "raw" and "raw" not in schemes[::2]
    assert same_bits(decode_every_way(frame), x)


def test_block_errors_found_by_the_kernel_loop_are_named() -> None:
    x = np.round(np.cumsum(np.random.default_rng(1).standard_normal(500)), 2)
    frame = bytearray(compress(x, block_size=250))
    # Second block: one byte longer than its payload (an extra byte inserted).
    first_len = struct.unpack_from("<I", frame, HEADER_1D + 1)[0]
    second = HEADER_1D + 5 + first_len
    length = struct.unpack_from("<I", frame, second + 1)[0]
    bad = bytearray(frame)
    struct.pack_into("<I", bad, second + 1, length + 1)
    bad[second + 5 + length : second + 5 + length] = b"\x00"
    with pytest.raises(CorruptDataError, match="block 1: 1 unexpected trailing bytes"):
        decompress(reseal(bad))
    # Truncated inside the second block's header.
    with pytest.raises(CorruptDataError, match="block header"):
        decompress(reseal(frame[: second + 3] + bytes(8)))
    # A payload length past the end of the frame.
    bad = bytearray(frame)
    struct.pack_into("<I", bad, second + 1, 10**6)
    with pytest.raises(CorruptDataError, match="block payload"):
        decompress(reseal(bad))
    # An ALP exponent out of range.
    bad = bytearray(frame)
    bad[second + 5] = 40
    with pytest.raises(CorruptDataError, match="block 1: alp block: exponent"):
        decompress(reseal(bad))
