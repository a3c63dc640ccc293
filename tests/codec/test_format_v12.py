"""Format version 12: floats on a grid with an offset (the float-grid scheme).

A calibrated sensor stores ``bias + j * step``: BROAD's accelerometers hold ``offset + j x
0.000981`` m/s² with an offset that is no multiple of the step, a few ulps off each point.
Float-mult-adj has no offset; the step comes from the gaps between sampled values (as for
float-mult-adj since session 32), the offset from any value's remainder. The block codes
the multiples ``j`` and each value's ulp adjustment.

``data/frames_v12.json`` holds generated cases (seeded integer arithmetic, no wall-clock
time) and the frames edgekit wrote for them; every later reader must decode them and the
encoder must still write them byte for byte. ``data/broad_imu.npz`` (``acc28_x``: BROAD
trial 28, ``imu_acc`` axis 0, samples 10,000-17,999; CC BY 4.0, see ``test_fine_steps``)
is real data the codec's benchmarks never saw.
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
from edgekit.codec._format import DICT, FGRID, FMULT_ADJ, FORMAT_VERSION
from edgekit.codec._frame import Reader
from edgekit.errors import CorruptDataError
from tests._support.frames import (
    assert_golden_case,
    assert_written_no_larger,
    first_block,
    format_11_encoder,
    golden_cases_of,
    reseal,
    write_golden,
)

Array = np.ndarray[Any, Any]
DATA = Path(__file__).parent / "data"
CASES: dict[str, dict[str, Any]] = json.loads((DATA / "frames_v12.json").read_text())
OLDER = golden_cases_of(range(1, 12))
STEP = 0.000981
BIAS = -0.000291712


def offset_grid(seed: int, n: int, levels: int | None = None) -> Array:
    """An accelerometer axis in m/s²: ``bias + j x 0.000981`` computed as a calibration
    does (counts times the step, minus the bias; float64), ``j`` a random walk of ADC
    counts; ``levels``: drawn from that many of its values instead (a dictionary)."""
    rng = np.random.default_rng(seed)
    j = np.cumsum(rng.integers(-60, 61, n)) + 9000
    if levels is not None:
        j = rng.choice(j[:levels], n)
    out: Array = j * STEP + BIAS
    return out


def golden_cases() -> dict[str, tuple[Array, dict[str, Any]]]:
    """The cases of ``data/frames_v12.json``: values and the ``compress`` arguments."""
    return {
        "float_grid_f8": (offset_grid(1, 6000), {}),
        "float_grid_f8_blocks": (offset_grid(2, 9000), {"block_size": 4096}),
        "float_grid_dictionary_full": (offset_grid(3, 8000, levels=700), {"compact": False}),
    }


def regenerate() -> None:
    """Rewrite ``data/frames_v12.json`` (only when the format changes on purpose)."""
    write_golden(DATA / "frames_v12.json", golden_cases())


@pytest.mark.parametrize("name", sorted(CASES))
def test_committed_v12_frame_decodes_and_is_still_written(name: str) -> None:
    case = CASES[name]
    frame = bytes.fromhex(case["frame_hex"])
    assert frame[4] == 12
    assert list(frame_info(frame).schemes) == case["schemes"]
    assert_golden_case(case)


@pytest.mark.parametrize("name", sorted(OLDER))
def test_the_older_golden_cases_are_written_no_larger(name: str) -> None:
    """Every golden case of versions 1 to 11 decodes from what format 12 writes, which is
    no larger than what the format-11 encoder writes; where they differ, the frame says
    version 12."""
    assert_written_no_larger(OLDER[name], format_11_encoder, 12)


def test_the_plan_finds_step_and_offset() -> None:
    x = offset_grid(4, 5000)
    base, offset = _kernels.grid_plan(x)
    assert base == pytest.approx(STEP, rel=1e-12)
    assert (offset - BIAS) / STEP == pytest.approx(round((offset - BIAS) / STEP), abs=1e-6)
    assert _kernels.fmult_adj_base(x) == 0.0  # (an offset: no multiples of a base)


def test_frame_bases_are_both_plans_from_one_sample() -> None:
    """``frame_bases`` (the plan's call) gives what ``fmult_adj_base`` and ``grid_plan``
    give one by one: on a grid, on multiples, on decimals, on noise, as float32."""
    rng = np.random.default_rng(8)
    cases = (
        offset_grid(4, 5000),
        np.cumsum(rng.integers(-60, 61, 5000)) * STEP,
        np.round(20 + np.cumsum(rng.integers(-3, 4, 5000)) * 0.1, 1),
        rng.standard_normal(5000),
        (np.cumsum(rng.integers(-60, 61, 5000)) * STEP).astype(np.float32),
        np.zeros(10),
    )
    for x in cases:
        adj_base, base, offset = _kernels.frame_bases(x)
        assert adj_base == _kernels.fmult_adj_base(x)
        assert (base, offset) == _kernels.grid_plan(x)


def test_no_grid_without_an_offset_decimals_or_noise() -> None:
    """Multiples of a base are float-mult-adj's, decimals ALP's, noise nobody's."""
    rng = np.random.default_rng(6)
    for x in (
        np.cumsum(rng.integers(-60, 61, 5000)) * STEP,
        np.round(20 + np.cumsum(rng.integers(-3, 4, 5000)) * 0.1, 1),
        rng.standard_normal(5000),
        offset_grid(6, 5000).astype(np.float32),
    ):
        assert _kernels.grid_plan(x) == (0.0, 0.0)


def test_a_broad_accelerometer_takes_the_grid_scheme() -> None:
    """BROAD trial 28's accelerometer, axis 0: 48.0 bits a value before (repeat, its
    literals through alp-rd), 13.7 with the grid (pcodec 33.2, zstd-19 38-40); bit for bit
    back from bytes and bytearray."""
    with np.load(DATA / "broad_imu.npz") as z:
        x = z["acc28_x"]
    frame = compress(x)
    assert frame_info(frame).schemes == ("float-grid",) and frame[4] == 12
    assert 8 * len(frame) / x.size < 16
    with format_11_encoder():
        before = compress(x)
    assert len(frame) < 0.4 * len(before)
    for data in (frame, bytearray(frame)):
        assert decompress(data).tobytes() == x.tobytes()


def test_a_dictionary_codes_its_values_on_the_grid() -> None:
    x = offset_grid(7, 8000, levels=700)
    token = _schemes.track_nested()
    try:
        scheme, payload = _schemes.encode_float_block(x, _schemes.FloatPlan(x))
        nested = _schemes.take_nested()
    finally:
        _schemes.reset_nested(token)
    _count, vscheme, _vlen = struct.unpack_from("<IBI", payload)
    assert scheme == DICT and vscheme == FGRID and nested >= FGRID
    assert decompress(compress(x)).tobytes() == x.tobytes()


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(64, 6000),
    levels=st.one_of(st.none(), st.integers(70, 1500)),
    specials=st.lists(
        st.tuples(st.integers(0, 5999), st.sampled_from([np.nan, np.inf, -np.inf, -0.0, 1e300])),
        max_size=5,
    ),
)
def test_round_trip(
    seed: int, n: int, levels: int | None, specials: list[tuple[int, float]]
) -> None:
    x = offset_grid(seed, n, levels)
    for at, value in specials:
        if at < n:
            x[at] = value
    frame = compress(x)
    assert decompress(frame).tobytes() == x.tobytes()
    assert decompress(compress(x, block_size=1024)).tobytes() == x.tobytes()


@settings(max_examples=60, deadline=None)
@given(
    k=st.lists(st.integers(-(2**52), 2**52), min_size=1, max_size=200),
    base=st.sampled_from([STEP, 1e-300, 3.0, 2.0**-30]),
    offset=st.sampled_from([BIAS, 0.0, -0.0, 1e-320, 0.4]),
)
def test_grid_values_round_each_operation(k: list[int], base: float, offset: float) -> None:
    """``k * base + offset`` in two roundings, as the format document says (no fused
    multiply-add), in float64 and then float32."""
    lanes = np.array(k, dtype=np.int64)
    want = lanes.astype(np.float64) * base + offset
    for dtype in (np.float64, np.float32):
        out = np.empty(lanes.size, dtype=dtype)
        _kernels.grid_values(lanes, base, offset, out)
        assert out.tobytes() == want.astype(dtype).tobytes()


def _grid_frame() -> tuple[bytes, int]:
    frame = compress(offset_grid(8, 3000), compact=False)
    return frame, first_block(frame)


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda p: struct.pack("<d", float("nan")) + p[8:], "base"),
        (lambda p: struct.pack("<d", -1.0) + p[8:], "base"),
        (lambda p: p[:8] + struct.pack("<d", float("inf")) + p[16:], "offset"),
        (lambda p: p[:10], "needs"),
        (lambda p: p[:16] + bytes([77]) + p[17:], "scheme"),
        (lambda p: p[:-3], "."),
    ],
)
def test_damaged_grid_blocks_are_refused(edit: Any, match: str) -> None:
    frame, at = _grid_frame()
    scheme, size = struct.unpack_from("<BI", frame, at)
    assert scheme == FGRID
    payload = frame[at + 5 : at + 5 + size]
    damaged = edit(payload)
    body = frame[:at] + struct.pack("<BI", FGRID, len(damaged)) + damaged + frame[at + 5 + size :]
    with pytest.raises(CorruptDataError, match=match):
        decompress(reseal(body))


def test_a_grid_frame_is_refused_by_format_11_readers_version() -> None:
    frame = bytearray(compress(offset_grid(5, 5000)))
    assert frame[4] == 12
    frame[4] = FORMAT_VERSION + 1
    with pytest.raises(CorruptDataError, match="version"):
        decompress(reseal(frame))


def test_grid_reader_checks_its_fields_directly() -> None:
    payload = struct.pack("<dd", STEP, float("nan")) + bytes(8)
    with pytest.raises(CorruptDataError, match="offset"):
        _schemes.decode_float_block(
            FGRID, Reader(memoryview(payload), 0, "test"), 4, np.dtype("<f8"), np.empty(4)
        )
    assert FMULT_ADJ < FGRID
