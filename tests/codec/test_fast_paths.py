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
from hypothesis import example, given, settings
from hypothesis import strategies as st

from edgekit.codec import _schemes, compress, decompress, frame_info, series
from edgekit.codec._format import LAG, MULT, NESTING_SCHEMES
from edgekit.codec.series import version_of
from edgekit.errors import CorruptDataError
from tests._support.frames import compact_of, first_block, reseal

DTYPES = ["i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f4", "f8"]
HEADER_1D = 4 + 1 + 1 + 1 + 8 + 4


def same_bits(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def general_float_frame(x: np.ndarray[Any, Any], level: int | None = None) -> bytes:
    """The (compact) frame the general per-block chooser makes for a one-block float array."""
    probe = np.zeros(1, dtype=x.dtype)
    plan = _schemes.FloatPlan(x, probe=probe, modes=_schemes.float_modes(x, probe))
    token = _schemes.track_nested()
    try:
        scheme, payload = _schemes.encode_float_block(x, plan, entropy=level != 1)
        # (a block of a nesting scheme is as new as its nested schemes: single-stream
        # huffman lanes, a dictionary's values in float lanes or float-mult-adj)
        nested = _schemes.take_nested() if scheme in NESTING_SCHEMES else 0
        version = version_of(max(scheme, nested))
    finally:
        _schemes.reset_nested(token)
    code = 9 if x.dtype.itemsize == 4 else 10
    head = struct.pack("<4sBBBQI", b"EKCS", version, code, 1, x.size, 65536)
    return compact_of(head + struct.pack("<BI", scheme, len(payload)) + payload + bytes(8))


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
# (a ramp of 55 values, then one value 156 times: float-div, without the Huffman stage,
# took 558 bytes where shuffle-lz4 takes 218; the fast path now leaves it to the chooser)
@example(x=np.full(211, 18182.516, dtype="f4"), decimals=2, specials=[], level=1)
# (ALP's payload under its estimate: float-div pays on it, as the chooser finds)
@example(x=np.full(150, 59700.125, dtype="f4"), decimals=1, specials=[], level=None)
# (a ramp with one jump of 993,544: float-div, bit-packed, came out at 1,685 bytes over
# ALP's estimate of 1,136; ALP takes 530, as the chooser finds)
@example(x=np.where(np.arange(551) == 542, 993544.0, 3.25), decimals=1, specials=[], level=1)
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


# --- the small-frame decode path: one compiled call on the bytes themselves -------------------


def small_arrays(dtype: str) -> st.SearchStrategy[np.ndarray[Any, Any]]:
    """Small 1-D arrays of ``dtype``: arbitrary values and smooth (kernel-scheme) ones."""
    arbitrary = hnp.arrays(dtype, st.integers(0, 600))
    if dtype[0] == "f":
        arbitrary = hnp.arrays(
            dtype,
            st.integers(0, 600),
            elements={"allow_nan": True, "allow_infinity": True, "allow_subnormal": True},
        )
    smooth = st.builds(
        lambda n, seed, decimals: _smooth(dtype, n, seed, decimals),
        st.integers(0, 600),
        st.integers(0, 2**32 - 1),
        st.integers(0, 3),
    )
    return st.one_of(arbitrary, smooth)


def _smooth(dtype: str, n: int, seed: int, decimals: int) -> np.ndarray[Any, Any]:
    walk = np.cumsum(np.random.default_rng(seed).integers(-3, 4, n))
    if dtype[0] == "f":
        return np.round(walk / 10**decimals, decimals).astype(dtype)
    info = np.iinfo(dtype)
    return np.clip(walk + (info.min + info.max) // 2, info.min, info.max).astype(dtype)


def outcome(frame: bytes | bytearray) -> np.ndarray[Any, Any] | str:
    """The decoded array, or the CorruptDataError's message."""
    try:
        return decompress(frame)
    except CorruptDataError as exc:
        return f"CorruptDataError: {exc}"


def decode_general(frame: bytes) -> np.ndarray[Any, Any] | str:
    """The general path's outcome (a ``bytearray`` never takes the fast path)."""
    return outcome(bytearray(frame))


@settings(max_examples=60)
@given(data=st.data(), dtype=st.sampled_from(DTYPES), level=st.sampled_from([None, 1]))
def test_small_frames_of_every_dtype_round_trip_through_the_fast_path(
    data: st.DataObject, dtype: str, level: int | None
) -> None:
    x = data.draw(small_arrays(dtype))
    frame = compress(x, level=level)
    y = decompress(frame)
    assert same_bits(x, y)
    assert same_bits(y, decode_general(frame))  # type: ignore[arg-type]


@pytest.mark.parametrize("dtype", DTYPES)
def test_kernel_scheme_frames_are_decoded_by_the_fast_path_alone(
    dtype: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    x = _smooth(dtype, 300, 7, 1)
    frame = compress(x)
    schemes = frame_info(frame).schemes
    kernel_schemes = {"alp", "for", "delta", "delta-of-delta", "huffman", "huffman-1"}
    assert set(schemes) <= kernel_schemes, schemes

    def no_general_path(*args: object) -> None:
        raise AssertionError("the general path was taken")

    monkeypatch.setattr(series, "_read_header", no_general_path)
    assert same_bits(decompress(frame), x)


def test_the_fast_path_calls_the_compiled_overload_and_falls_back_to_the_dispatcher() -> None:
    frame = compress(np.arange(10.0), compact=False)
    decompress(frame)
    decode = series._FAST_DECODERS[frame[:7]][1]
    assert "Dispatcher" not in type(decode).__name__  # numba's entry point, no type dispatch

    class NoOverloads:
        """A dispatcher of a numba that exposes no compiled overloads."""

        def __call__(self, *args: object) -> int:
            return 0

    fake = NoOverloads()
    assert series._compiled_overload(fake, (b"", np.empty(0))) is fake


@pytest.mark.parametrize("dtype", ["int64", "uint64", "int32"])
def test_lag_blocks_of_int_mult_residuals_are_decoded_by_the_kernel(
    dtype: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A logger's clock in ns whose ms ticks (16, 0, 15, 16, 0, 16, 0, 15) repeat with
    slips: a lag block of int-mult residuals, decoded by the kernel alone in 8-byte
    lanes (a narrower dtype goes through the general path)."""
    pattern, rng, ticks, i = [16, 0, 15, 16, 0, 16, 0, 15], np.random.default_rng(7), [], 0
    while len(ticks) < 6000:
        ticks.append(pattern[i % 8])
        i += 1 if rng.random() >= 0.005 else int(rng.integers(2, 9))
    ms = 1_500_000 + np.cumsum(np.array(ticks, dtype=np.int64))
    x = (ms * 1_000_000 if dtype != "int32" else ms * 1000).astype(dtype)
    frame = compress(x)
    at = first_block(frame)
    assert (frame[at], frame[at + 7]) == (LAG, MULT)  # (block header 5 bytes, lag u16)
    if dtype != "int32":
        monkeypatch.setattr(series, "_read_header", lambda *args: pytest.fail("general path"))
    assert same_bits(decompress(frame), x)


def test_raw_float_blocks_are_decoded_by_the_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    one = np.array([0.1], dtype="f8")
    noise = np.frombuffer(np.random.default_rng(3).bytes(2400), dtype="f8").copy()
    noise_f4 = np.frombuffer(np.random.default_rng(4).bytes(1200), dtype="f4").copy()
    frames = {"one": compress(one), "noise": compress(noise), "noise f4": compress(noise_f4)}
    frames["mixed"] = compress(np.concatenate([noise[:100], np.arange(100.0)]), block_size=100)
    for name, frame in frames.items():
        assert "raw" in frame_info(frame).schemes, name
    monkeypatch.setattr(series, "_read_header", lambda *args: pytest.fail("general path"))
    assert same_bits(decompress(frames["one"]), one)
    assert same_bits(decompress(frames["noise"]), noise)
    assert same_bits(decompress(frames["noise f4"]), noise_f4)
    assert same_bits(decompress(frames["mixed"]), np.concatenate([noise[:100], np.arange(100.0)]))


@settings(max_examples=200)
@given(
    dtype=st.sampled_from(DTYPES),
    size=st.sampled_from([1, 2, 5, 50, 300]),
    seed=st.integers(0, 2**32 - 1),
    edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=3),
    cut=st.integers(0, 10**6),
    resealed=st.booleans(),
)
def test_damaged_small_frames_fail_as_on_the_general_path(
    dtype: str, size: int, seed: int, edits: list[tuple[int, int]], cut: int, resealed: bool
) -> None:
    """Corrupted or truncated small frames give exactly what the general path gives:
    CorruptDataError (same message), or, where a mutation left a valid frame, the same
    values."""
    frame = bytearray(compress(_smooth(dtype, size, seed, seed % 3)))
    for pos, value in edits:
        frame[pos % len(frame)] = value
    data = reseal(frame) if resealed else bytes(frame)
    for candidate in (data, data[: cut % len(data)], reseal(data[: 13 + cut % (len(data) - 13)])):
        got, expected = outcome(candidate), decode_general(candidate)
        if isinstance(got, str) or isinstance(expected, str):
            assert isinstance(got, str) and isinstance(expected, str) and got == expected
        else:
            assert same_bits(got, expected)


def _float_div_frame() -> tuple[np.ndarray[Any, Any], bytes]:
    from tests.codec.test_format_v6 import periodic_decimals

    x = periodic_decimals(9, 20_000, 24, 2)
    frame = compress(x, block_size=20_000)
    assert frame_info(frame).schemes == ("float-div",)
    return x, frame


def test_float_div_blocks_are_decoded_by_the_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    """Float-div blocks (multiples across a period, adjustments sparse or dense, a NaN
    payload, -0.0 and an infinity among them) take the kernel's block loop, as the
    repeat-div blocks do: no block goes back to Python."""
    x, frame = _float_div_frame()
    expected = decode_general(frame)
    monkeypatch.setattr(series, "_read_header", lambda *args: pytest.fail("general path"))
    assert same_bits(decompress(frame), x) and same_bits(x, expected)  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None)
@given(
    edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=3),
    resealed=st.booleans(),
)
def test_damaged_float_div_frames_fail_as_on_the_general_path(
    edits: list[tuple[int, int]], resealed: bool
) -> None:
    """A damaged float-div block goes back to Python from the kernel (which only answers
    yes or no), so the error, or the values where the damage left a valid frame, are the
    general path's."""
    _x, good = _float_div_frame()
    frame = bytearray(good)
    for pos, value in edits:
        frame[HEADER_1D + pos % (len(frame) - HEADER_1D)] = value
    data = reseal(frame) if resealed else bytes(frame)
    got, expected = outcome(data), decode_general(data)
    if isinstance(got, str) or isinstance(expected, str):
        assert isinstance(got, str) and isinstance(expected, str) and got == expected
    else:
        assert same_bits(got, expected)
