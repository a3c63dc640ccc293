"""Round trips of compress/decompress: every dtype, sizes 0..N, special floats, N-D, real data."""

from __future__ import annotations

from typing import Any

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgekit.codec import DEFAULT_BLOCK_SIZE, compress, decompress, frame_info
from edgekit.errors import InvalidInputError

DTYPES = ["i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f4", "f8"]


def same_bits(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def roundtrip(x: np.ndarray[Any, Any], **kwargs: Any) -> bytes:
    before = x.copy()
    frame = compress(x, **kwargs)
    assert same_bits(x, before), "compress wrote into its input"
    y = decompress(frame)
    assert same_bits(np.ascontiguousarray(x, dtype=x.dtype.newbyteorder("<")), y)
    return frame


@settings(max_examples=60)
@given(
    x=hnp.arrays(
        st.sampled_from(DTYPES),
        hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=40),
        elements={"allow_nan": True, "allow_infinity": True, "allow_subnormal": True},
    ),
    level=st.sampled_from([None, 1, 2]),
    block_size=st.sampled_from([1, 3, 64, DEFAULT_BLOCK_SIZE]),
)
def test_roundtrip_any_array(x: np.ndarray[Any, Any], level: int | None, block_size: int) -> None:
    roundtrip(x, level=level, block_size=block_size)


@settings(max_examples=40)
@given(
    dtype=st.sampled_from(DTYPES),
    n=st.integers(0, 3000),
    kind=st.sampled_from(["walk", "const", "random", "grid", "decimals"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_roundtrip_structured_series(dtype: str, n: int, kind: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    info = np.iinfo(dtype) if dtype[0] in "iu" else None
    if kind == "walk":
        x = np.cumsum(rng.integers(-5, 6, n))
    elif kind == "const":
        x = np.full(n, rng.integers(-100, 100))
    elif kind == "grid":
        x = rng.integers(-1000, 1000) + np.arange(n) * rng.integers(1, 50)
    elif kind == "decimals":
        x = np.round(np.cumsum(rng.standard_normal(n)), int(rng.integers(0, 5)))
    else:
        x = rng.integers(0, 2**63, n, dtype=np.int64) * rng.choice([-1, 1], n)
    if info is not None:
        x = np.asarray(x).astype(np.int64).astype(dtype)  # wraps: fine, any values will do
    else:
        x = np.asarray(x, dtype=np.float64).astype(dtype)
    roundtrip(x, block_size=int(rng.choice([100, 1024, DEFAULT_BLOCK_SIZE])))


@pytest.mark.parametrize("dtype", ["f4", "f8"])
def test_special_floats_keep_their_bits(dtype: str) -> None:
    bits = "u4" if dtype == "f4" else "u8"
    nan_payloads = np.array([0x7FC00001, 0xFFC12345, 0x7F800001], dtype="u4").view("f4")
    if dtype == "f8":
        nan_payloads = np.array(
            [0x7FF8000000000001, 0xFFF0000000ABCDEF, 0x7FF0000000000001], dtype="u8"
        ).view("f8")
    tiny = np.finfo(dtype).smallest_subnormal
    x = np.array([0.0, -0.0, np.inf, -np.inf, tiny, -tiny, 1.5, -2.25, *nan_payloads], dtype=dtype)
    x = np.tile(x, 50)
    y = decompress(compress(x))
    assert np.array_equal(x.view(bits), y.view(bits))
    # The same specials inside ALP-friendly decimal data become exceptions, still exact.
    mixed = np.round(np.linspace(0, 100, 2000), 2).astype(dtype)
    mixed[::97] = np.resize(x, mixed[::97].size)
    z = decompress(compress(mixed))
    assert np.array_equal(mixed.view(bits), z.view(bits))


def test_empty_and_scalar_and_nd_shapes() -> None:
    for shape in [(0,), (0, 5), (3, 0, 2), (), (1,), (4, 5, 6)]:
        x = np.arange(int(np.prod(shape)), dtype=np.int32).reshape(shape)
        roundtrip(x)
    y = decompress(compress(np.arange(24.0).reshape(2, 3, 4)))
    assert y.shape == (2, 3, 4) and y[1, 2, 3] == 23.0


def test_non_contiguous_and_big_endian_inputs_give_native_little_endian() -> None:
    x = np.arange(100, dtype=">i4")[::3]
    y = decompress(compress(x))
    assert y.dtype == np.dtype("<i4") and np.array_equal(x, y)
    f = np.linspace(0, 1, 77).astype(">f8").reshape(7, 11).T
    assert np.array_equal(decompress(compress(f)), f)


def test_lists_are_accepted_and_bad_inputs_rejected() -> None:
    assert decompress(compress([1, 2, 3])).tolist() == [1, 2, 3]
    for bad in (
        np.array([1 + 2j]),
        np.array(["a"]),
        np.zeros(3, dtype=np.float16),
        np.array([True]),
    ):
        with pytest.raises(InvalidInputError):
            compress(bad)
    with pytest.raises(InvalidInputError):
        compress(np.zeros(3), level=7)
    with pytest.raises(InvalidInputError):
        compress(np.zeros(3), block_size=0)
    with pytest.raises(InvalidInputError):
        compress(np.zeros(3), block_size=1 << 17)


def test_extreme_integers_and_wrapping_deltas() -> None:
    for dtype in ("i8", "u8"):
        info = np.iinfo(dtype)
        x = np.array([info.min, info.max, info.min, 0, info.max, info.max - 1] * 300, dtype=dtype)
        roundtrip(x)
    x = np.arange(10_000, dtype=np.uint64) * np.uint64(2**61)  # wraps around 2**64
    roundtrip(x)


def test_regular_grid_timestamps_compress_above_100x() -> None:
    start = 1_700_000_000_000_000_000
    grid = start + np.arange(200_000, dtype=np.int64) * 1_000_000_000
    frame = roundtrip(grid)
    assert grid.nbytes / len(frame) > 100
    assert set(frame_info(frame).schemes) <= {"delta", "delta-of-delta"}


def test_jittery_clock_uses_the_entropy_stage(jittery_clock: np.ndarray[Any, Any]) -> None:
    frame = roundtrip(jittery_clock)
    fast = roundtrip(jittery_clock, level=1)
    assert len(frame) <= len(fast)
    bits = 8 * len(frame) / jittery_clock.size
    assert bits < 40, bits


def test_schemes_are_chosen_per_block() -> None:
    rng = np.random.default_rng(3)
    x = np.concatenate(
        [
            np.full(1000, 7),
            np.arange(1000) * 3,
            np.cumsum(np.cumsum(rng.integers(-1, 2, 1000))),
            rng.integers(0, 2**64, 1000, dtype=np.uint64).view(np.int64),
        ]
    ).astype(np.int64)
    info = frame_info(roundtrip(x, block_size=1000))
    assert info.schemes[0] == "for" and info.schemes[1] == "delta"
    assert info.schemes[2] in {"delta-of-delta", "huffman-1"} and info.schemes[3] == "raw"
    assert info.shape == (4000,) and info.block_size == 1000 and len(info.block_bytes) == 4


def test_float_schemes_alp_alprd_and_fallbacks() -> None:
    rng = np.random.default_rng(4)
    decimals = np.round(20 + np.cumsum(rng.standard_normal(5000)) * 0.1, 2)
    info = frame_info(roundtrip(decimals))
    assert info.schemes == ("alp",)
    assert decimals.nbytes / info.nbytes > 3
    real = rng.standard_normal(5000)
    assert frame_info(roundtrip(real)).schemes == ("split",)  # format 8: exponents, Huffman
    assert frame_info(compress(real, level=1)).schemes == ("alp-rd",)
    periodic = np.tile(rng.standard_normal(100), 30)  # a repeating pattern: LZ4 wins
    assert frame_info(roundtrip(periodic)).schemes == ("shuffle-lz4",)
    levels = rng.integers(0, 300, 8000) * 0.0076293945 + 1.1  # few distinct ADC levels
    info = frame_info(roundtrip(levels))
    assert info.schemes == ("dictionary",) and levels.nbytes / info.nbytes > 5
    noise = rng.integers(0, 2**64, 3000, dtype=np.uint64).view(np.float64)
    assert frame_info(roundtrip(noise)).schemes in {("raw",), ("alp-rd",)}


def test_real_sensor_series_roundtrip_and_compress(
    co2: np.ndarray[Any, Any], sunspots: np.ndarray[Any, Any], pig_cvp: np.ndarray[Any, Any]
) -> None:
    for series, floor in ((co2, 3.0), (sunspots, 2.0), (pig_cvp, 2.0)):
        frame = roundtrip(series)
        assert series.nbytes / len(frame) > floor
        roundtrip(series.astype(np.float32))
