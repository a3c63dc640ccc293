"""Format version 10: a dictionary's sorted values as float lanes.

A dictionary block keeps its distinct values sorted. Where they are not decimals (an
accelerometer's readings are ``offset + j x 0.000981``; a gyroscope's ``offset + j x
0.00106``) no float scheme saw their order: shuffle-lz4 took 43 bits a value of BROAD's
gyroscope. Their bit patterns, read as integers that order like the values (float-quant's
lanes without a shift), step by nearly the same amount from one value to the next, which
the integer schemes code in a few bits: BROAD's accelerometer values 32 KB -> 11 KB.

``data/frames_v10.json`` holds generated cases (seeded integer arithmetic, no wall-clock
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

from edgekit.codec import _schemes, compress, decompress, frame_info
from edgekit.codec._format import DICT, FLANES, FORMAT_VERSION, LAG, RAW
from edgekit.codec._frame import Reader
from edgekit.errors import CorruptDataError
from tests._support.frames import (
    assert_golden_case,
    assert_written_no_larger,
    first_block,
    format_9_encoder,
    golden_cases_of,
    reseal,
    write_golden,
)

Array = np.ndarray[Any, Any]
DATA = Path(__file__).parent / "data"
CASES: dict[str, dict[str, Any]] = json.loads((DATA / "frames_v10.json").read_text())
OLDER = golden_cases_of(range(1, 10))


def grid_readings(seed: int, n: int, step: float = 0.000981, levels: int = 900) -> Array:
    """An IMU axis logged in SI units: ``offset + j x step`` (float64) for ADC counts ``j``
    of a slowly moving reading, ``levels`` of them (not decimals: ALP misses them)."""
    rng = np.random.default_rng(seed)
    j = np.clip(np.cumsum(rng.integers(-3, 4, n)), -levels // 2, levels // 2) + levels // 2
    out: Array = -17.3708866 + j * step
    return out


def golden_cases() -> dict[str, tuple[Array, dict[str, Any]]]:
    """The cases of ``data/frames_v10.json``: values and the ``compress`` arguments."""
    return {
        "dictionary_float_lanes_f8": (grid_readings(1, 6000), {}),
        "dictionary_float_lanes_f4": (grid_readings(2, 6000).astype(np.float32), {}),
        "dictionary_float_lanes_full_2_blocks_f8": (
            grid_readings(3, 9000, 0.00106, 1500),
            {"block_size": 4500, "compact": False},
        ),
    }


def regenerate() -> None:
    """Rewrite ``data/frames_v10.json`` (only when the format changes on purpose)."""
    write_golden(DATA / "frames_v10.json", golden_cases())


def _values_scheme(frame: bytes) -> int:
    """The scheme of the first block's dictionary values (a dictionary block)."""
    at = first_block(frame)
    assert frame[at] == DICT
    return frame[at + 5 + 4]


@pytest.mark.usefixtures("format_11_encoder")  # (format 12 takes such grids)
@pytest.mark.parametrize("name", sorted(CASES))
def test_committed_v10_frame_decodes_and_is_still_written(name: str) -> None:
    case = CASES[name]
    frame = bytes.fromhex(case["frame_hex"])
    assert frame[4] == 10 and list(frame_info(frame).schemes) == case["schemes"]
    assert _values_scheme(frame) == FLANES
    assert_golden_case(case)


@pytest.mark.parametrize("name", sorted(OLDER))
def test_the_older_golden_cases_are_written_no_larger(name: str) -> None:
    """Every golden case of versions 1 to 9 decodes from what format 10 writes, which is
    no larger than what the format-9 encoder writes; where they differ, the frame says
    version 10."""
    assert_written_no_larger(OLDER[name], format_9_encoder, 10)


@pytest.mark.usefixtures("format_11_encoder")  # (format 12 takes such grids)
def test_grid_readings_take_float_lanes_and_a_third_fewer_bytes() -> None:
    x = grid_readings(4, 20_000, levels=3000)
    frame = compress(x)
    with format_9_encoder():
        before = compress(x)
    assert frame_info(frame).schemes == frame_info(before).schemes == ("dictionary",)
    assert _values_scheme(frame) == FLANES and frame[4] == 10 and before[4] < 10
    assert len(frame) < 0.8 * len(before)
    assert decompress(frame).tobytes() == x.tobytes()


def test_decimal_levels_keep_their_values_scheme() -> None:
    """Levels that are short decimals stay ALP's (their lanes would be larger)."""
    rng = np.random.default_rng(5)
    x = np.round(rng.integers(0, 200, 5000) * 0.5 + 20, 1)
    frame = compress(x)
    assert frame_info(frame).schemes == ("dictionary",)
    assert _values_scheme(frame) != FLANES and frame[4] < 10


def _specials() -> st.SearchStrategy[float]:
    return st.sampled_from([0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, -1.5, 1e300])


@settings(max_examples=150, deadline=None)
@given(
    values=st.lists(st.one_of(st.floats(width=64), _specials()), min_size=1, max_size=400),
    payloads=st.lists(st.integers(1, 2**51 - 1), max_size=4),
    dtype=st.sampled_from(["<f4", "<f8"]),
    ordered=st.booleans(),
)
def test_float_lanes_round_trip_bit_for_bit(
    values: list[float], payloads: list[int], dtype: str, ordered: bool
) -> None:
    """Any bit pattern (NaN payloads, -0.0, infinities, subnormals), sorted as a
    dictionary's values or not, through every integer scheme the lanes take."""
    with np.errstate(over="ignore"):
        x = np.array(values).astype(dtype)
    bits = x.view(np.uint64 if x.itemsize == 8 else np.uint32)
    for i, p in enumerate(payloads[: x.size]):
        bits[i] = (bits.dtype.type(0x7FF) << 52 | p) if x.itemsize == 8 else 0x7FC00000 | p % 2**22
    if ordered:
        x = np.sort(x)
    payload = _schemes._encode_flanes(x, entropy=True)
    out = np.full(x.size, 7, dtype=x.dtype)
    rd = Reader(memoryview(payload), 0, "test")
    _schemes._decode_flanes(rd, x.size, out)
    rd.end()
    assert out.tobytes() == x.tobytes()


def _frame(x: Array, payload: bytes, scheme: int = FLANES) -> bytes:
    """A full-layout frame of one block of ``x.size`` values of ``x``'s dtype."""
    code = 9 if x.dtype.itemsize == 4 else 10
    head = struct.pack("<4sBBBQI", b"EKCS", 10, code, 1, x.size, 65536)
    return reseal(head + struct.pack("<BI", scheme, len(payload)) + payload + bytes(8))


def _raw_lanes(lanes: list[int]) -> bytes:
    """A float-lanes payload whose nested lanes are raw int64."""
    body = np.array(lanes, dtype=np.int64).tobytes()
    return struct.pack("<BI", RAW, len(body)) + body


def test_the_decoder_reads_a_hand_made_payload() -> None:
    # -0.0 is lane -1, 0.0 lane 0, 1.0 its own bits, -2.0 minus its magnitude minus one.
    lanes = [-1, 0, 0x3FF0_0000_0000_0000, -0x4000_0000_0000_0000 - 1]
    want = np.array([-0.0, 0.0, 1.0, -2.0])
    got = decompress(_frame(np.zeros(4), _raw_lanes(lanes)))
    assert got.tobytes() == want.tobytes()
    want32 = np.array([-0.0, 1.0, -2.0], dtype=np.float32)
    lanes32 = [-1, 0x3F80_0000, -0x4000_0000 - 1]
    got32 = decompress(_frame(np.zeros(3, np.float32), _raw_lanes(lanes32)))
    assert got32.tobytes() == want32.tobytes()
    # A dictionary whose values are float lanes: the block the encoder writes.
    values = _raw_lanes([0x3FF0_0000_0000_0000, 0x4000_0000_0000_0000])
    dict_payload = struct.pack("<IBI", 2, FLANES, len(values)) + values
    dict_payload += bytes([RAW]) + np.array([1, 0, 1], dtype=np.int64).tobytes()
    got = decompress(_frame(np.zeros(3), dict_payload, scheme=DICT))
    assert got.tolist() == [2.0, 1.0, 2.0]


def _assert_corrupt(frame: bytes, match: str) -> None:
    for data in (frame, bytearray(frame)):
        with pytest.raises(CorruptDataError, match=match):
            decompress(data)


def test_bad_float_lanes_fields_are_corrupt() -> None:
    f4 = np.zeros(2, np.float32)
    _assert_corrupt(_frame(f4, _raw_lanes([1, 1 << 31])), "wider than 32 bits")
    _assert_corrupt(_frame(f4, _raw_lanes([-(1 << 31) - 1, 0])), "wider than 32 bits")
    _assert_corrupt(_frame(np.zeros(2), _raw_lanes([1, 2])[:-1]), "lane")
    _assert_corrupt(_frame(np.zeros(2), _raw_lanes([1])), "lane")
    _assert_corrupt(_frame(np.zeros(2), struct.pack("<BI", LAG, 0)), "bad lane scheme 17")
    _assert_corrupt(_frame(np.zeros(2), struct.pack("<BI", 99, 0)), "bad lane scheme 99")
    _assert_corrupt(_frame(np.zeros(2), _raw_lanes([1, 2]) + b"\x00"), "trailing bytes")


@pytest.mark.usefixtures("format_11_encoder")  # (format 12 takes such grids)
def test_a_float_lanes_frame_is_refused_by_format_9_readers_version() -> None:
    """The frame says version 10: a reader of format 9 refuses it by its version (as this
    reader refuses a version newer than its own)."""
    frame = bytearray(compress(grid_readings(6, 5000)))
    assert frame[4] == 10
    frame[4] = FORMAT_VERSION + 1
    with pytest.raises(CorruptDataError, match="version"):
        decompress(reseal(frame))
