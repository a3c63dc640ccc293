"""Format version 7: the compact layout of a 1-D series frame of one block, and the levels
scheme.

- A frame of a 1-D array that fits in one block drops the full header's ndim, u64 count
  and block size for a varint count, and keeps 4 bytes of the checksum: 11-13 bytes of
  frame around the block instead of 27 (on a 51-value series, 145 bytes -> 129).
  ``compact=False`` writes the full layout that readers of versions 1-6 read.
- levels: integer blocks as indices into their sorted distinct values, where a few hundred
  levels are spread over a wider range (ADC counts times a scale, rounded).

``data/frames_v7.json`` holds generated cases (integer arithmetic, no wall-clock time) and
the frames edgekit wrote for them; every later reader must decode them and the encoder must
still write them byte for byte.
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
from hypothesis.extra import numpy as hnp

from edgekit.codec import (
    _kernels,
    _schemes,
    compress,
    decode_series,
    decompress,
    encode_series,
    frame_info,
)
from edgekit.codec._format import LAG, LEVELS
from edgekit.errors import CorruptDataError
from tests._support.frames import (
    assert_golden_case,
    compact_of,
    golden_values,
    reseal,
    write_golden,
)

Array = np.ndarray[Any, Any]
DATA = Path(__file__).parent / "data"
CASES: dict[str, dict[str, Any]] = json.loads((DATA / "frames_v7.json").read_text())
DTYPES = ["<i1", "<i2", "<i4", "<i8", "<u1", "<u2", "<u4", "<u8", "<f4", "<f8"]


def walk(seed: int, n: int, step: int) -> Array:
    """A random walk of integer steps in -step..step (int64)."""
    return np.cumsum(np.random.default_rng(seed).integers(-step, step + 1, n))


def scaled_counts(seed: int, n: int, scale: float, limit: int = 150) -> Array:
    """ADC counts (a clipped walk of steps -3..3) times ``scale``, rounded (int64): a few
    hundred levels about ``scale`` apart."""
    counts = np.clip(np.cumsum(np.random.default_rng(seed).integers(-3, 4, n)), -limit, limit)
    out: Array = np.round(counts * scale).astype(np.int64)
    return out


def golden_cases() -> dict[str, tuple[Array, dict[str, Any]]]:
    """The cases of ``data/frames_v7.json``: values and the ``compress`` arguments."""
    return {
        "compact_yearly_i8_51": (35_000 + walk(1, 51, 3000), {}),
        "compact_empty_f4": (np.zeros(0, np.float32), {}),
        "compact_hundredths_f8_300": (walk(2, 300, 40) / 100, {}),
        "compact_counts_u1_200": ((walk(3, 200, 2) % 256).astype(np.uint8), {}),
        "compact_counts_i2_20000": (walk(4, 20_000, 9).astype(np.int16), {}),
        "compact_level1_f4_128": ((walk(5, 128, 7) / 10).astype(np.float32), {"level": 1}),
        "levels_mg_i2": (scaled_counts(8, 5000, 10.2).astype(np.int16), {}),
        "levels_full_2_blocks_i4": (
            (scaled_counts(9, 8000, 7.3, 300) + 1000).astype(np.int32),
            {"block_size": 4000},
        ),
    }


def regenerate() -> None:
    """Rewrite ``data/frames_v7.json`` (only when the format changes on purpose)."""
    write_golden(DATA / "frames_v7.json", golden_cases())


def one_block_golden_cases() -> list[tuple[str, dict[str, Any]]]:
    """Every 1-D case of one block in the golden files of versions 1-6."""
    out = []
    for version in range(1, 7):
        cases = json.loads((DATA / f"frames_v{version}.json").read_text())
        for name, case in sorted(cases.items()):
            n = int(np.prod(case["shape"]))
            if len(case["shape"]) == 1 and n <= case["kwargs"].get("block_size", 65536):
                out.append((f"v{version}-{name}", case))
    return out


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.usefixtures("format_8_encoder")
def test_committed_v7_frame_decodes_and_is_still_written(name: str) -> None:
    case = CASES[name]
    frame = bytes.fromhex(case["frame_hex"])
    assert frame[4] == 7 and (frame[5] & 0x80 or "levels" in case["schemes"])
    assert list(frame_info(frame).schemes) == case["schemes"]
    assert_golden_case(case)


@pytest.mark.parametrize(("name", "case"), one_block_golden_cases())
def test_the_compact_frame_is_the_full_frame_reframed(name: str, case: dict[str, Any]) -> None:
    x = golden_values(case)
    full = compress(x, **case["kwargs"], compact=False)
    assert compress(x, **case["kwargs"]) == compact_of(full)
    saved = 27 - (11 if x.size < 128 else 12 if x.size < 16384 else 13)
    assert len(full) - len(compress(x, **case["kwargs"])) == saved


@pytest.mark.usefixtures("format_8_encoder")
def test_only_1d_arrays_of_one_block_are_compact() -> None:
    x = walk(6, 1000, 5)
    assert compress(x)[4:6] == bytes((7, 0x84))
    assert compress(x, block_size=999)[4:7] == bytes((1, 4, 1))  # two blocks
    assert compress(x.reshape(10, 100))[4:7] == bytes((1, 4, 2))  # 2-D
    assert compress(x, compact=False)[4:7] == bytes((1, 4, 1))
    assert frame_info(compress(x)).block_size == 1000


@settings(max_examples=150, deadline=None)
@given(
    x=hnp.arrays(
        st.sampled_from(DTYPES),
        st.one_of(st.integers(0, 300), st.sampled_from([127, 128, 16383, 16384, 65535, 65536])),
    ),
    level=st.sampled_from([None, 1]),
)
def test_round_trip_bit_for_bit(x: Array, level: int | None) -> None:
    frame = compress(x, level=level)
    # (9: lanes in the single-stream huffman scheme; 10: a dictionary's values as float
    # lanes; 11: copy blocks, long runs of one value; 12: float grids; 13: runs)
    assert frame[4] in (7, 9, 10, 11, 12, 13)
    full = compress(x, level=level, compact=False)
    assert frame == compact_of(full)
    for data in (frame, bytearray(frame), memoryview(frame)):
        got = decompress(data)
        assert got.dtype == x.dtype and got.tobytes() == x.tobytes()
    assert frame_info(frame).schemes == frame_info(full).schemes


def test_records_hold_compact_frames() -> None:
    ts = np.arange(100, dtype=np.int64) * 10**9
    values = walk(7, 200, 30).reshape(100, 2) / 10
    got_ts, got_values = decode_series(encode_series(ts, values))
    assert got_ts.tobytes() == ts.tobytes() and got_values.tobytes() == values.tobytes()


def _frame(count: bytes, body: bytes = b"", version: int = 7, code: int = 4) -> bytes:
    """A compact int64 frame with the given count bytes and block bytes, checksummed."""
    return reseal(b"EKCS" + bytes((version, code | 0x80)) + count + body + bytes(4))


@pytest.mark.parametrize(
    ("frame", "match"),
    [
        (_frame(b"\x00", version=6), "compact layout needs format version 7"),
        (_frame(b"\x00", version=14), "version 14 is not supported"),
        (_frame(b"\x80\x00"), "not minimal"),
        (_frame(b"\x80\x80\x00"), "not minimal"),
        (_frame(b"\x80\x80\x80\x01"), "longer than 3 bytes"),
        (_frame(b"\x81\x80\x04"), "at most 65536 values, not 65537"),
        (_frame(b"\x05"), "too short"),
        (_frame(b"\x00", b"\x00"), "trailing"),
        (_frame(b"\x00", code=11), "unknown dtype code 11"),
        (_frame(b"\x01", b"\x02" + struct.pack("<I", 9) + bytes(8)), "block payload needs 9"),
        (_frame(b"\x01", b"\x63" + struct.pack("<I", 0)), "block 0: scheme 99"),
        (b"EKCS\x07\x84\x00" + bytes(4), "checksum"),
        (_frame(b"\x00")[:-1], "checksum"),
        (b"EKCS\x07\x84\x00", "too short"),
    ],
)
def test_bad_compact_headers_are_corrupt(frame: bytes, match: str) -> None:
    for data in (frame, bytearray(frame)):
        with pytest.raises(CorruptDataError, match=match):
            decompress(data)
    if "block 0" not in match:  # (frame_info reads the block table, not the payloads)
        with pytest.raises(CorruptDataError, match=match):
            frame_info(frame)


def test_bounds_hold_on_compact_frames() -> None:
    frame = compress(np.arange(1000, dtype=np.int64))
    for data in (frame, bytearray(frame)):
        with pytest.raises(CorruptDataError, match="max_elements"):
            decompress(data, max_elements=999)
        with pytest.raises(CorruptDataError, match="max_bytes"):
            decompress(data, max_bytes=7999)
        assert decompress(data, max_bytes=8000).size == 1000


def test_a_flipped_compact_flag_is_a_checksum_error() -> None:
    frame = bytearray(compress(np.arange(300, dtype=np.int64) ** 2))
    frame[5] &= 0x7F
    with pytest.raises(CorruptDataError, match="checksum"):
        decompress(bytes(frame))


# --- the levels scheme ------------------------------------------------------------------------


def test_levels_win_on_scaled_counts_and_mark_version_7() -> None:
    x = scaled_counts(10, 7000, 10.2).astype(np.int16)
    frame = compress(x, compact=False)
    assert frame_info(frame).schemes == ("levels",) and frame[4] == 7
    u = x.astype(np.int64).view(np.uint64)
    # (the best other scheme: the values' ranks, wide-rank)
    other = _schemes.encode_int_lanes(u, x, modes=True)[1]
    assert len(frame) < 0.85 * len(other)
    assert decompress(frame).tobytes() == x.tobytes()


def test_dense_and_wide_blocks_keep_the_other_schemes() -> None:
    rng = np.random.default_rng(11)
    dense = np.cumsum(rng.integers(-40, 41, 20_000)).astype(np.int64)  # every level
    levels, _ = _kernels.int_levels(dense.view(np.uint64), 1 << 20, 5000)
    assert levels.size == 0
    wide = scaled_counts(12, 5000, 10.2) * 10_000  # spans more than 2**20
    assert _kernels.int_levels(wide.view(np.uint64), 1 << 20, 1250)[0].size == 0
    many = scaled_counts(13, 2000, 10.2, 2000)  # more levels than one per 4 values
    assert _kernels.int_levels(many.view(np.uint64), 1 << 20, 100)[0].size == 0
    assert frame_info(compress(scaled_counts(14, 900, 10.2))).schemes != ("levels",)


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.integers(-3000, 3000), min_size=2, max_size=3000),
    step=st.integers(1, 400),
    max_levels=st.integers(1, 3000),
)
def test_int_levels_follows_its_rule(values: list[int], step: int, max_levels: int) -> None:
    """Levels where the block spans under 2**20, takes 2 to ``max_levels`` distinct values
    whose median gap (the sorted gaps' middle one) is 2 or more, and its sample is not
    dense (numpy's ``unique`` and ``sort`` the oracle)."""
    from edgekit.codec._kernels.levels import _dense_sample

    x = np.array(values, dtype=np.int64) * step
    u = x.view(np.uint64)
    levels, index = _kernels.int_levels(u, 1 << 20, max_levels)
    uniq = np.unique(x)
    gaps = np.sort(np.diff(uniq))
    expected = (
        not _dense_sample(u)
        and int(x.max()) - int(x.min()) < 1 << 20
        and 2 <= uniq.size <= max_levels
        and gaps[gaps.size // 2] >= 2
    )
    assert (levels.size > 0) == expected
    if expected:
        assert levels.tobytes() == uniq.tobytes()
        assert index.dtype == np.uint64 and levels[index.astype(np.int64)].tobytes() == x.tobytes()
    else:
        assert index.size == 0


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1024, 6000),
    scale=st.floats(2.0, 40.0),
    dtype=st.sampled_from(["<i2", "<i4", "<i8", "<u2", "<u4", "<u8"]),
    offset=st.integers(-(2**15), 2**15),
)
def test_levels_round_trip_bit_for_bit(
    seed: int, n: int, scale: float, dtype: str, offset: int
) -> None:
    x = (scaled_counts(seed, n, scale, 500) + offset).astype(dtype)
    frame = compress(x)
    got = decompress(frame)
    assert got.dtype == x.dtype and got.tobytes() == x.tobytes()
    u = x.astype(np.int64).view(np.uint64) if x.dtype.kind == "i" else x.astype(np.uint64)
    levels, index = _kernels.int_levels(u, 1 << 20, n)
    if levels.size:
        assert np.all(np.diff(levels) > 0) and levels[index.astype(np.int64)].tobytes() == (
            u.view(np.int64).tobytes()
        )


def _levels_frame(payload: bytes, n: int) -> bytes:
    """A full-layout int64 frame of one levels block of ``n`` values."""
    head = struct.pack("<4sBBBQI", b"EKCS", 7, 4, 1, n, 65536)
    return reseal(head + struct.pack("<BI", LEVELS, len(payload)) + payload + bytes(8))


def _levels_payload(levels: list[int], index: list[int], count: int | None = None) -> bytes:
    """A levels payload with raw nested blocks."""
    raw_levels = np.array(levels, "<i8").tobytes()
    return (
        struct.pack("<IBI", len(levels) if count is None else count, 0, len(raw_levels))
        + raw_levels
        + b"\x00"
        + np.array(index, "<i8").tobytes()
    )


def test_the_decoder_reads_a_hand_made_levels_payload() -> None:
    frame = _levels_frame(_levels_payload([-5, 7, 100], [2, 0, 1, 1]), 4)
    assert decompress(frame).tolist() == [100, -5, 7, 7]


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        (_levels_payload([1, 2], [0, 1, 1, 0], count=0), "level count 0 out of 1..4"),
        (_levels_payload([1, 2, 3, 4, 5], [0, 1, 1, 0]), "level count 5 out of 1..4"),
        (_levels_payload([1, 2], [0, 1, 2, 0]), "not below the level count 2"),
        (_levels_payload([1, 2], [0, 1, -1, 0]), "not below the level count 2"),
        (_levels_payload([1, 2], [0, 1, 1]), "raw block"),
        (struct.pack("<IBI", 2, LAG, 0), "bad level scheme 17"),
        (struct.pack("<IBI", 2, LEVELS, 0), "bad level scheme 19"),
        (struct.pack("<IBI2q", 2, 0, 16, 1, 2) + bytes([LEVELS]), "bad index scheme 19"),
        (struct.pack("<IB", 2, 0), "level length"),
    ],
)
def test_bad_levels_fields_are_corrupt(payload: bytes, match: str) -> None:
    frame = _levels_frame(payload, 4)
    for data in (frame, bytearray(frame)):
        with pytest.raises(CorruptDataError, match=match):
            decompress(data)
