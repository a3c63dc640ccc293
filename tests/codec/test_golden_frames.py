"""Committed frames of format versions 1 and 2 keep decoding to the same values.

``data/frames_v1.json`` holds, per case, the input values and the frame that edgekit wrote
for them (version 1); ``data/frames_v2.json`` the same for the modes of version 2 (int-mult,
float-mult, float-quant, and the rank scheme nested in int-mult). Every later reader must
decode them; the current encoder must also still write them byte for byte (a change of
encoder choices shows up here first), except the version-1 cases listed in ``NOW_V2``,
where a version-2 mode now wins, and ``NOW_SPLIT`` (format 8), the version-2 cases in ``NOW_RANK``,
``NOW_SPARSE`` and ``NOW_F32_STEP``, and the cases of either in ``NOW_ORDER``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from edgekit.codec import compress, decompress, frame_info
from tests._support.frames import golden_values

DATA = Path(__file__).parent / "data"
CASES: dict[str, dict[str, Any]] = json.loads((DATA / "frames_v1.json").read_text())
CASES_V2: dict[str, dict[str, Any]] = json.loads((DATA / "frames_v2.json").read_text())
#: Version-1 cases that the encoder now writes with a version-2 scheme, smaller: the
#: Huffman timestamps are all multiples of 256 (a clock read through a float64), which
#: int-mult divides out (552 bytes instead of 1106).
NOW_V2 = {"huffman_i8": "int-mult"}
#: Version-1 cases that the encoder now writes with format 8's split scheme (Gaussian
#: noise: its exponents through the Huffman stage), smaller: (size in bytes).
NOW_SPLIT = {"alp_rd_f8": 2141}
#: Version-2 cases whose int-mult lanes the encoder now codes with the nested rank scheme
#: (added later in version 2), smaller: the committed frame (nested huffman) still decodes.
NOW_RANK = {"int_mult_ns_from_ms_clock_i8": 678}
#: Version-2 cases that the encoder now writes with the sparse scheme of version 5,
#: smaller (their exceptions as varints): the committed frame still decodes.
NOW_SPARSE = {"int_mult_constant_hourly_gaps_i8": 69}
#: Version-2 float32 cases that the encoder now writes with format 5's float-mult-adj
#: (its base found under float32's rounding: :func:`_kernels.float32_step`), smaller:
#: (size in bytes, schemes). The committed frame still decodes.
NOW_F32_STEP = {"float_mult_f4": (1986, ["float-mult-adj"])}
#: Cases the encoder now writes smaller, each block's Huffman residual order chosen by its
#: sampled cost rather than by the narrowest range (a few jumps make every range as wide),
#: and blocks whose residuals take 2 to 255 distinct values as their ranks (wide-rank, 65
#: to 255 before): (size in bytes, schemes). The committed frame still decodes.
NOW_ORDER = {
    "dictionary_f8": (160, ["dictionary"]),
    "multi_block_i2": (353, ["delta-of-delta", "wide-rank", "wide-rank", "wide-rank", "for"]),
    "float_quant_f8": (4785, ["float-quant", "float-quant"]),
}


def _assert_now_order(name: str, frame: bytes, case: dict[str, Any]) -> None:
    assert (len(frame), list(frame_info(frame).schemes)) == NOW_ORDER[name]
    assert len(frame) < len(case["frame_hex"]) // 2
    assert decompress(frame).tobytes() == golden_values(case).tobytes()


@pytest.mark.parametrize("name", sorted(CASES))
def test_committed_v1_frame_decodes_to_itsgolden_values(name: str) -> None:
    case = CASES[name]
    frame = bytes.fromhex(case["frame_hex"])
    assert frame[4] == 1  # format version of the committed frame
    assert list(frame_info(frame).schemes) == case["schemes"]
    want = golden_values(case)
    for data in (frame, bytearray(frame), memoryview(frame)):
        got = decompress(data)
        assert got.dtype == want.dtype and got.shape == want.shape
        assert got.tobytes() == want.tobytes()


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.usefixtures("format_8_encoder")
def test_encoder_still_writes_the_committed_frame(name: str) -> None:
    case = CASES[name]
    frame = compress(golden_values(case), **case["kwargs"], compact=False)
    if name in NOW_V2:
        assert frame[4] == 2 and set(frame_info(frame).schemes) == {NOW_V2[name]}
        assert len(frame) < len(case["frame_hex"]) // 2
        assert decompress(frame).tobytes() == golden_values(case).tobytes()
    elif name in NOW_ORDER:
        _assert_now_order(name, frame, case)
    elif name in NOW_SPLIT:
        assert frame[4] == 8 and frame_info(frame).schemes == ("split",)
        assert len(frame) == NOW_SPLIT[name] < len(case["frame_hex"]) // 2
        assert decompress(frame).tobytes() == golden_values(case).tobytes()
        assert frame_info(compress(golden_values(case), level=1)).schemes == ("alp-rd",)
    else:
        assert frame.hex() == case["frame_hex"]


@pytest.mark.parametrize("name", sorted(CASES_V2))
@pytest.mark.usefixtures("format_8_encoder")
def test_committed_v2_frame_decodes_and_is_still_written(name: str) -> None:
    case = CASES_V2[name]
    frame = bytes.fromhex(case["frame_hex"])
    assert frame[4] == 2
    assert list(frame_info(frame).schemes) == case["schemes"]
    want = golden_values(case)
    for data in (frame, bytearray(frame), memoryview(frame)):
        got = decompress(data)
        assert got.dtype == want.dtype and got.shape == want.shape
        assert got.tobytes() == want.tobytes()
    frame = compress(want, **case["kwargs"], compact=False)
    if name in NOW_RANK:
        assert len(frame) == NOW_RANK[name] < len(case["frame_hex"]) // 2
        assert list(frame_info(frame).schemes) == case["schemes"]
        assert decompress(frame).tobytes() == want.tobytes()
    elif name in NOW_SPARSE:
        assert frame[4] == 5 and len(frame) == NOW_SPARSE[name] < len(case["frame_hex"]) // 2
        assert set(frame_info(frame).schemes) == {"sparse"}
        assert decompress(frame).tobytes() == want.tobytes()
    elif name in NOW_ORDER:
        _assert_now_order(name, frame, case)
    elif name in NOW_F32_STEP:
        assert (len(frame), list(frame_info(frame).schemes)) == NOW_F32_STEP[name]
        assert len(frame) < len(case["frame_hex"]) // 2
        assert decompress(frame).tobytes() == want.tobytes()
    else:
        assert frame.hex() == case["frame_hex"]


def test_the_v2_frames_cover_every_mode() -> None:
    schemes = {s for case in CASES_V2.values() for s in case["schemes"]}
    assert {"int-mult", "float-mult", "float-quant"} <= schemes


def test_the_committed_frames_cover_every_scheme_family() -> None:
    schemes = {s for case in CASES.values() for s in case["schemes"]}
    assert {"alp", "alp-rd", "dictionary", "huffman", "delta", "for", "shuffle-lz4"} <= schemes
