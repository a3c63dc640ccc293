"""The schemes of format version 5.

- sparse: integer residuals that are one constant but at a few positions (a logger's clock
  with rare gaps and duplicates), the exceptions as varints;
- float-mult-adj: floats near multiples of a base (averages of 1 to 12 readings printed
  to 8 decimals), as the multiples plus each value's ulp adjustment.

``data/frames_v5.json`` holds generated cases (:func:`gappy_clock`: device-uptime clocks,
no wall-clock time; one order-2 series; :func:`averaged_readings`) and the frames edgekit
wrote for them; every later reader must decode them and the encoder must still write them
byte for byte.
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
from edgekit.codec._format import (
    ERR_PARAMS,
    ERR_POSITION,
    ERR_SHORT,
    FMULT_ADJ,
    FORMAT_VERSION,
)
from edgekit.codec._frame import Reader
from edgekit.errors import CorruptDataError
from tests._support.frames import golden_values, reseal, write_golden

Array = np.ndarray[Any, Any]
CASES: dict[str, dict[str, Any]] = json.loads(
    (Path(__file__).parent / "data" / "frames_v5.json").read_text()
)
#: Cases the encoder now writes smaller, each block's Huffman residual order chosen by its
#: sampled cost rather than by the narrowest range (a few jumps make every range as wide),
#: then with a coarser base (a divisor of 10 d times ``10**e / d``) and rank-coded
#: adjustments: (size in bytes, schemes). The committed frame still decodes.
NOW_ORDER = {
    "fmult_adj_twelfths_f8": (1451, ["float-mult-adj"]),
    "fmult_adj_hundredths_f8_2_blocks": (3058, ["float-mult-adj", "float-mult-adj"]),
}
#: Bytes before the first block's payload of a 1-D frame: header, then scheme id and length.
PAYLOAD_AT = 4 + 1 + 1 + 1 + 8 + 4 + 5
HOUR_NS = 3_600_000_000_000


def gappy_clock(seed: int, n: int, step: int, start: int, dtype: str = "<i8") -> Array:
    """A clock of ``n`` ticks ``step`` apart from ``start`` (device uptime, not wall
    time) that misses 1 to 6 ticks at about 1 % of the steps and repeats a tick (delta 0)
    at about 0.3 %."""
    rng = np.random.default_rng(seed)
    deltas = np.full(n - 1, step, dtype=np.int64)
    gaps = rng.random(n - 1) < 0.01
    deltas[gaps] *= rng.integers(2, 8, int(gaps.sum()))
    deltas[rng.random(n - 1) < 0.003] = 0
    out: Array = (start + np.concatenate([[0], np.cumsum(deltas)])).astype(dtype)
    return out


def order2_series() -> Array:
    """Positions of a steadily accelerating axis (constant second difference 6) with a few
    jolts: order-2 residuals that are one constant but at 4 positions (uint64)."""
    i = np.arange(3000, dtype=np.uint64)
    x = np.uint64(1000) + np.uint64(3) * i * i
    x[[500, 1200, 1201, 2800]] += np.uint64(12)
    return x


def averaged_readings(seed: int, n: int, scale: float = 1.0) -> Array:
    """Averages of 1, 2, 3, 4, 6 or 12 integer readings of a slowly varying level, times
    ``scale``, rounded to 8 decimals (a logger's averaged CO2 or humidity), with a NaN
    payload and a -0.0."""
    rng = np.random.default_rng(seed)
    level = 600 + np.cumsum(rng.integers(-4, 5, n))
    count = rng.choice([1, 2, 3, 4, 6, 12], n)
    total = level * count + rng.integers(0, count)
    out: Array = np.round(total / count * scale, 8)
    out.view(np.uint64)[5] = 0x7FF8000000000ABC
    out[9] = -0.0
    return out


def golden_cases() -> dict[str, tuple[Array, dict[str, Any]]]:
    """The cases of ``data/frames_v5.json``: values and the ``compress`` arguments."""
    return {
        "sparse_hourly_gaps_i8": (gappy_clock(1, 1500, HOUR_NS, 7 * HOUR_NS), {}),
        "sparse_quarter_second_i4_3_blocks": (
            gappy_clock(2, 3000, 250, 123_456, "<i4"),
            {"block_size": 1024},
        ),
        "sparse_order2_u8": (order2_series(), {}),
        "fmult_adj_twelfths_f8": (averaged_readings(1, 1500), {}),
        "fmult_adj_hundredths_f8_2_blocks": (
            averaged_readings(2, 3000, 0.01),
            {"block_size": 2048},
        ),
    }


def regenerate() -> None:
    """Rewrite ``data/frames_v5.json`` (only when the format changes on purpose)."""
    write_golden(Path(__file__).parent / "data" / "frames_v5.json", golden_cases())


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.usefixtures("format_8_encoder")
def test_committed_v5_frame_decodes_and_is_still_written(name: str) -> None:
    case = CASES[name]
    frame = bytes.fromhex(case["frame_hex"])
    assert frame[4] == 5
    assert set(case["schemes"]) in ({"sparse"}, {"float-mult-adj"})
    assert list(frame_info(frame).schemes) == case["schemes"]
    want = golden_values(case)
    got = decompress(frame)
    assert got.dtype == want.dtype and got.tobytes() == want.tobytes()
    again = compress(want, **case["kwargs"], compact=False)
    if name in NOW_ORDER:
        assert (len(again), list(frame_info(again).schemes)) == NOW_ORDER[name]
        assert len(again) < len(frame) and decompress(again).tobytes() == want.tobytes()
    else:
        assert again == frame
    x, kwargs = golden_cases()[name]
    assert x.tobytes() == want.tobytes() and kwargs == case["kwargs"]


def test_sparse_beats_int_mult_on_a_gappy_clock_and_marks_version_5() -> None:
    x = gappy_clock(3, 5000, HOUR_NS, 0)
    frame = compress(x, compact=False)
    assert frame_info(frame).schemes == ("sparse",) and frame[4] == 5
    # Version 2's int-mult (the best scheme before) takes more than twice the bytes.
    mult = _schemes.kernels().mult_payload(x.view(np.uint64), True, x.nbytes)
    assert 0 < len(frame) < 0.5 * mult.size
    newer = bytearray(frame)
    newer[4] = FORMAT_VERSION + 1
    with pytest.raises(CorruptDataError, match="version"):
        decompress(reseal(newer))


def test_a_perfect_grid_stays_a_version_1_delta_block() -> None:
    frame = compress(np.arange(2000, dtype=np.int64) * HOUR_NS, compact=False)
    assert frame_info(frame).schemes == ("delta",) and frame[4] == 1


@settings(max_examples=80, deadline=None)
@given(
    dtype=st.sampled_from(["<i8", "<u8", "<i4", "<u2", "<i2"]),
    n=st.integers(64, 3000),
    step=st.integers(-(2**62), 2**62),
    start=st.integers(-(2**63), 2**63 - 1),
    exceptions=st.lists(
        st.tuples(st.integers(0, 2999), st.integers(-(2**63), 2**63 - 1)), max_size=40
    ),
    block_size=st.sampled_from([64, 1000, 65536]),
)
def test_round_trip_bit_for_bit(
    dtype: str,
    n: int,
    step: int,
    start: int,
    exceptions: list[tuple[int, int]],
    block_size: int,
) -> None:
    # A regular grid (any step, wrapping modulo the dtype) with deltas replaced anywhere by
    # any value: gaps, duplicates, steps backwards, extreme jumps.
    deltas = np.full(n, step % 2**64, dtype=np.uint64)
    for pos, value in exceptions:
        deltas[pos % n] = np.uint64(value % 2**64)
    deltas[0] = np.uint64(start % 2**64)
    lanes = np.cumsum(deltas, dtype=np.uint64)
    x = lanes.astype(np.dtype(dtype).newbyteorder("=").str.replace("i", "u")).view(dtype)
    frame = compress(x, block_size=block_size, compact=False)
    got = decompress(frame)
    assert got.dtype == x.dtype and got.tobytes() == x.tobytes()


def _sparse_frame() -> bytes:
    frame = compress(gappy_clock(4, 2000, 1000, 5), compact=False)
    assert frame_info(frame).schemes == ("sparse",)
    return frame


@pytest.mark.parametrize(
    ("at", "value", "match"),
    [
        (0, 3, "order"),  # residual order 3
        (9, 0xFF, "truncated"),  # the constant's varint never ends ...
    ],
)
def test_bad_sparse_fields_are_corrupt(at: int, value: int, match: str) -> None:
    bad = bytearray(_sparse_frame())
    bad[PAYLOAD_AT + at] = value
    if at == 9:  # ... up to the end of the block
        end = len(bad) - 8
        bad[PAYLOAD_AT + at : end] = b"\xff" * (end - PAYLOAD_AT - at)
    with pytest.raises(CorruptDataError, match=match):
        decompress(reseal(bad))


def _payload(order: int, constant: int, step: int, nexc: int, pairs: list[int]) -> bytes:
    def varint(v: int) -> bytes:
        out = bytearray()
        while v >= 128:
            out.append((v & 127) | 128)
            v >>= 7
        out.append(v)
        return bytes(out)

    head = bytes([order]) + bytes(8 * order)
    body = varint(constant) + varint(step) + varint(nexc)
    return head + body + b"".join(varint(v) for v in pairs)


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        # more exceptions than residuals
        (_payload(1, 2, 1, 100, []), ERR_PARAMS),
        # a gap past the block, a gap of 2**64 - 1 (never read as a negative position)
        (_payload(1, 2, 1, 1, [99, 0]), ERR_POSITION),
        (_payload(1, 2, 1, 1, [2**64 - 1, 0]), ERR_POSITION),
        # two gaps that together pass the end
        (_payload(1, 2, 1, 2, [50, 0, 49, 0]), ERR_POSITION),
        # the exceptions run out of bytes
        (_payload(1, 2, 1, 3, [1, 0]), ERR_SHORT),
    ],
)
def test_the_decoder_refuses_out_of_range_exceptions(payload: bytes, status: int) -> None:
    from edgekit.codec._kernels.sparse import decode_sparse_block

    buf = np.frombuffer(payload, dtype=np.uint8)
    out = np.zeros(100, dtype=np.uint64)
    got, _pos = decode_sparse_block(buf, 0, buf.size, 100, out)
    assert got == status


def test_the_decoder_reads_a_hand_made_payload() -> None:
    from edgekit.codec._kernels.sparse import decode_sparse_block

    # order 1, first 0, constant zigzag(5) = 10, step 5, exceptions: residual 1 is
    # 5 + 5 * 1 (zigzag 2), residual 4 is 5 + 5 * -1 (zigzag 1).
    buf = np.frombuffer(_payload(1, 10, 5, 2, [1, 2, 2, 1]), dtype=np.uint8)
    out = np.zeros(7, dtype=np.uint64)
    assert decode_sparse_block(buf, 0, buf.size, 7, out) == (0, buf.size)
    assert out.tolist() == [0, 5, 15, 20, 25, 25, 30]


@pytest.mark.usefixtures("format_8_encoder")
def test_averages_to_8_decimals_use_float_mult_adj() -> None:
    # (the planner works on a 256-value sample: at 0.01 it misses the base for some seeds)
    for seed, scale in ((6, 1.0), (6, 0.1), (7, 0.01)):
        x = averaged_readings(seed, 4000, scale)
        frame = compress(x, compact=False)
        assert frame_info(frame).schemes == ("float-mult-adj",) and frame[4] == 5
        got = decompress(frame)
        assert got.tobytes() == x.tobytes()
        # The best scheme of the earlier versions (ALP: every value with its 8 decimals).
        plan = _schemes.FloatPlan(x, modes=_schemes.float_modes(x, np.zeros(1)))
        best = _schemes.encode_float_block(x, plan, allow_repeat=False, allow_adjusted=False)
        assert len(frame) < 0.8 * len(best[1])


@pytest.mark.usefixtures("format_8_encoder")
def test_mostly_whole_hundredths_take_a_coarser_base_and_ranked_adjustments() -> None:
    """Averages of one reading (most) or three, to hundredths, rounded to 8 decimals (a
    room humidity logger): the planner's base is a third of a hundredth (10**-2 / 3); a
    hundredth (F = 3) leaves the thirds to the averaged values, whose few distinct
    adjustments are coded as ranks (a wide-rank block nested, version 5)."""
    rng = np.random.default_rng(21)
    level = 2700 + np.cumsum(rng.integers(-30, 31, 3000))
    count = np.where(rng.random(3000) < 0.75, 1, 3)
    x = np.round((level * count + rng.integers(0, count)) / count / 100, 8)
    base = float(_kernels.fmult_adj_base(x))
    assert base == pytest.approx(1 / 300, rel=1e-9)
    coarser = _schemes._coarser_adj_base(x, base)
    assert coarser == pytest.approx(0.01, rel=1e-9)
    fine, coarse = (_schemes._encode_fmult_adj(x, b, entropy=True) for b in (base, coarser))
    assert len(coarse) < 0.85 * len(fine)
    frame = compress(x, compact=False)
    assert frame_info(frame).schemes == ("float-mult-adj",) and frame[4] == 5
    (klen,) = struct.unpack_from("<I", frame, PAYLOAD_AT + 9)
    assert frame[PAYLOAD_AT + 13 + klen] == 13  # the adjustments: wide-rank
    assert decompress(frame).tobytes() == x.tobytes()


def test_decimals_and_noise_do_not_use_float_mult_adj() -> None:
    rng = np.random.default_rng(8)
    for x in (np.round(np.cumsum(rng.standard_normal(3000)), 2), rng.standard_normal(3000)):
        assert _schemes.kernels().fmult_adj_base(x) == 0.0
        assert "float-mult-adj" not in frame_info(compress(x, compact=False)).schemes


@settings(max_examples=60, deadline=None)
@given(
    dtype=st.sampled_from(["<f4", "<f8"]),
    base=st.sampled_from([1 / 3, 1 / 12, 0.01 / 12, 0.001 / 6, 7.3, 1e-300, 1e300]),
    ks=st.lists(st.integers(-(2**53), 2**53), min_size=64, max_size=400),
    noise=st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=20),
    block_size=st.sampled_from([64, 300, 65536]),
)
def test_float_mult_adj_round_trip_bit_for_bit(
    dtype: str, base: float, ks: list[int], noise: list[float], block_size: int
) -> None:
    # Multiples of a base (rounded to 8 decimals when that keeps them finite), with any
    # float (NaN payloads, infinities, -0.0, subnormals) anywhere.
    with np.errstate(all="ignore"):
        x = (np.asarray(ks, dtype=np.float64) * base).astype(dtype)
        rounded = np.round(x, 8)
        x = np.where(np.isfinite(rounded) & (rounded != 0), rounded, x).astype(dtype)
        for i, v in enumerate(noise):
            x[(i * 37) % x.size] = v  # (a float64 past float32's range becomes inf)
    x.view(np.uint64 if x.dtype.itemsize == 8 else np.uint32)[3] |= (
        0x7F800001 if dtype == "<f4" else 0x7FF0000000000001
    )
    payload = _schemes._encode_fmult_adj(x, base, entropy=True)
    got = np.empty_like(x)
    rd = Reader(memoryview(payload), 0, "test block")
    _schemes.decode_float_block(FMULT_ADJ, rd, x.size, x.dtype, got)
    rd.end()
    assert got.tobytes() == x.tobytes()
    frame = compress(x, block_size=block_size, compact=False)
    assert decompress(frame).tobytes() == x.tobytes()


def _adj_frame() -> bytes:
    frame = compress(averaged_readings(7, 2000), compact=False)
    assert frame_info(frame).schemes == ("float-mult-adj",)
    return frame


@pytest.mark.parametrize(
    ("at", "value", "match"),
    [(8, 99, "multiple scheme"), (8, 8, "multiple scheme"), (9, -1, "multiples")],
)
def test_bad_float_mult_adj_fields_are_corrupt(at: int, value: int, match: str) -> None:
    """``value`` -1: the byte's bits flipped (the low byte of the multiples' length)."""
    bad = bytearray(_adj_frame())
    bad[PAYLOAD_AT + at] = value if value >= 0 else bad[PAYLOAD_AT + at] ^ 0xFF
    with pytest.raises(CorruptDataError, match=match):
        decompress(reseal(bad))


def test_a_bad_adjustment_scheme_and_a_truncated_block_are_corrupt() -> None:
    frame = _adj_frame()
    klen = struct.unpack_from("<I", frame, PAYLOAD_AT + 9)[0]
    at = PAYLOAD_AT + 13 + klen
    for scheme in (FMULT_ADJ, 5, 200):
        bad = bytearray(frame)
        bad[at] = scheme
        with pytest.raises(CorruptDataError, match="adjustment scheme"):
            decompress(reseal(bad))
    cut = bytearray(frame[: at + 3]) + bytes(8)
    struct.pack_into("<I", cut, PAYLOAD_AT - 4, at + 3 - PAYLOAD_AT)
    with pytest.raises(CorruptDataError):
        decompress(reseal(cut))
