"""The schemes of format version 6: differences across a period.

- lag: integer blocks as ``u[i] - u[i - lag]`` (ADC counts of a mains current sampled at a
  multiple of the line frequency), the residuals as a nested integer block;
- float-div: float blocks as integers ``k / divisor`` (decimals: the divisor ``10**e``),
  ``k`` differenced across the period, plus each value's adjustment (dense or sparse).

``data/frames_v6.json`` holds generated cases (integer arithmetic only, so the values are
the same on every machine; no wall-clock time) and the frames edgekit wrote for them; every
later reader must decode them and the encoder must still write them byte for byte.
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
from edgekit.codec._format import ALP, FDIV, FORMAT_VERSION, LAG
from edgekit.codec._frame import Reader
from edgekit.errors import CorruptDataError
from tests._support.frames import golden_values, reseal, write_golden

Array = np.ndarray[Any, Any]
DATA = Path(__file__).parent / "data" / "frames_v6.json"
CASES: dict[str, dict[str, Any]] = json.loads(DATA.read_text())
#: Bytes before the first block's payload of a 1-D frame: header, then scheme id and length.
PAYLOAD_AT = 4 + 1 + 1 + 1 + 8 + 4 + 5


def periodic_counts(seed: int, n: int, period: int, noise: int = 3) -> Array:
    """A waveform of ``period`` samples (random integer levels) repeated with a slowly
    drifting gain, plus integer noise: ADC counts of a mains current (int64)."""
    rng = np.random.default_rng(seed)
    shape = rng.integers(-2000, 2001, period)
    gain = 1000 + (np.arange(n) // 500) % 40
    return np.tile(shape, n // period + 1)[:n] * gain // 1000 + rng.integers(-noise, noise + 1, n)


def periodic_decimals(seed: int, n: int, period: int, decimals: int) -> Array:
    """:func:`periodic_counts` divided by ``10**decimals`` (float64: the nearest double of
    each decimal), with a NaN payload, a -0.0, an infinity and a value with more digits."""
    out: Array = periodic_counts(seed, n, period) / 10.0**decimals
    out.view(np.uint64)[7] = 0x7FF8000000000ABC
    out[11] = -0.0
    out[n // 2] = np.inf
    out[n // 3] = 1.0 / 3.0
    return out


def converted_decimals(seed: int, n: int, dtype: str = "<f8") -> Array:
    """Decimals of 6 places (a random walk around 60) taken from Celsius to Fahrenheit and
    back in floating point: about one in seven ends an ulp or two off its decimal, as
    values computed and written out in full are."""
    rng = np.random.default_rng(seed)
    c = np.round(60 + 0.5 * np.cumsum(rng.standard_normal(n)), 6).astype(dtype)
    out: Array = ((c * 1.8 + 32) - 32) / 1.8
    return out.astype(dtype)


def smooth_waveform(n: int) -> Array:
    """A smooth waveform of large amplitude rounded to integers (float64 of integers)."""
    t = np.arange(n)
    out: Array = np.round(
        20_000 * np.sin(2 * np.pi * t / 400) * np.exp(np.sin(2 * np.pi * t / 1300))
    )
    return out


def golden_cases() -> dict[str, tuple[Array, dict[str, Any]]]:
    """The cases of ``data/frames_v6.json``: values and the ``compress`` arguments."""
    return {
        "lag_mains_counts_i2": (periodic_counts(1, 6000, 5).astype(np.int16), {}),
        "lag_daily_u4_2_blocks": (
            (periodic_counts(2, 9000, 24, 1) + 5000).astype(np.uint32),
            {"block_size": 4500},
        ),
        "fdiv_mains_f8": (periodic_decimals(3, 5000, 5, 4), {}),
        "fdiv_hourly_f4": (periodic_decimals(4, 6000, 24, 1).astype(np.float32), {}),
        "fdiv_mains_f8_2_blocks": (periodic_decimals(5, 10_000, 7, 3), {"block_size": 5000}),
    }


def regenerate() -> None:
    """Rewrite ``data/frames_v6.json`` (only when the format changes on purpose)."""
    write_golden(DATA, golden_cases())


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.usefixtures("format_8_encoder")
def test_committed_v6_frame_decodes_and_is_still_written(name: str) -> None:
    case = CASES[name]
    frame = bytes.fromhex(case["frame_hex"])
    assert frame[4] == 6
    assert set(case["schemes"]) in ({"lag"}, {"float-div"})
    assert list(frame_info(frame).schemes) == case["schemes"]
    want = golden_values(case)
    got = decompress(frame)
    assert got.dtype == want.dtype and got.tobytes() == want.tobytes()
    assert compress(want, **case["kwargs"], compact=False) == frame
    x, kwargs = golden_cases()[name]
    assert x.tobytes() == want.tobytes() and kwargs == case["kwargs"]


@pytest.mark.parametrize("period", [4, 5, 7, 24, 96])
def test_the_finder_takes_the_period_not_a_multiple(period: int) -> None:
    u = periodic_counts(period, 8192, period).view(np.uint64)
    assert _schemes.find_block_lag(u, 64.0) == period


def test_the_finder_finds_no_period_in_a_walk_or_in_noise() -> None:
    rng = np.random.default_rng(6)
    walk = np.cumsum(rng.integers(-30, 31, 8192))
    noise = rng.integers(-3000, 3001, 8192)
    for u in (walk, noise, np.zeros(8192, dtype=np.int64)):
        assert _schemes.find_block_lag(u.view(np.uint64), 64.0) == 0


def test_lag_beats_the_earlier_schemes_on_mains_counts_and_marks_version_6() -> None:
    x = periodic_counts(8, 20_000, 5).astype(np.int16)
    frame = compress(x, compact=False)
    assert frame_info(frame).schemes == ("lag",) and frame[4] == 6
    lanes = x.astype(np.int64).view(np.uint64)
    _scheme, before = _schemes.encode_int_lanes(lanes, x, modes=True)
    assert len(frame) < 0.75 * len(before)
    newer = bytearray(frame)
    newer[4] = FORMAT_VERSION + 1
    with pytest.raises(CorruptDataError, match="version"):
        decompress(reseal(newer))


def test_float_div_beats_the_earlier_schemes_on_periodic_decimals() -> None:
    x = periodic_decimals(9, 20_000, 24, 2)
    frame = compress(x, block_size=20_000, compact=False)
    assert frame_info(frame).schemes == ("float-div",) and frame[4] == 6
    scheme, before = _schemes.encode_float_block(x, _schemes.FloatPlan(x), allow_lag=False)
    assert scheme != FDIV and len(frame) < 0.75 * len(before)
    assert decompress(frame).tobytes() == x.tobytes()


def test_decimals_an_ulp_off_take_float_div_without_a_lag() -> None:
    """ALP stores each exception's position and value (10 bytes); float-div takes a
    decimal an ulp or two off as a small adjustment. A frame of one block takes float-div
    without building ALP; blocks of a longer frame take it where it is 3 % smaller."""
    x = converted_decimals(11, 30_000)
    scheme, alp = _schemes.encode_float_block(x, _schemes.FloatPlan(x), allow_lag=False)
    assert scheme == ALP
    one = compress(x, compact=False)
    assert frame_info(one).schemes == ("float-div",) and one[4] == 6
    assert struct.unpack("<dH", one[PAYLOAD_AT : PAYLOAD_AT + 10]) == (1e6, 0)
    assert len(one) < 0.8 * len(alp)
    blocks = compress(x, block_size=10_000, compact=False)
    assert set(frame_info(blocks).schemes) == {"float-div"}
    assert len(blocks) < 0.8 * len(alp)
    for frame in (one, blocks):
        assert decompress(frame).tobytes() == x.tobytes()


def test_exact_decimals_and_values_far_off_keep_alp() -> None:
    """Decimals to the bit have nothing to adjust; where the values ALP misses are far
    from any decimal (one in 40 at random), float-div's adjustments cost about as much as
    ALP's exceptions: ALP stays."""
    rng = np.random.default_rng(12)
    exact = np.round(60 + 0.5 * np.cumsum(rng.standard_normal(30_000)), 6)
    noisy = exact.copy()
    noisy[::40] = rng.uniform(40, 80, noisy[::40].size)
    for x in (exact, noisy):
        for kwargs in ({}, {"block_size": 10_000}):
            frame = compress(x, compact=False, **kwargs)
            assert set(frame_info(frame).schemes) == {"alp"}
            assert decompress(frame).tobytes() == x.tobytes()


def test_a_block_of_many_exceptions_tries_float_div_with_its_lag_before_alp(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where over an eighth of a block's values are ALP exceptions (a third of periodic
    decimals an ulp off: over the quarter ``fdiv_pays`` takes), float-div with the lag
    comes first; it is under the bytes the exceptions alone would take in ALP, so ALP is
    not built."""
    x = periodic_counts(13, 20_000, 12, noise=300) / 1000.0
    off = np.random.default_rng(13).random(x.size) < 1 / 3
    x[off] = np.nextafter(x[off], np.inf)
    code, _pairs, _payload, floor = _kernels.alp_single_block(
        x, x.view(np.uint64), _schemes.alp_emax(x), np.zeros(1), np.zeros(1, np.uint64), True
    )
    assert code == 3 and floor > 0.3 * 10 * x.size

    def not_built(*args: object) -> None:
        raise AssertionError("ALP was built")

    monkeypatch.setattr(_kernels, "alp_payload", not_built)
    frame = compress(x, compact=False)
    assert frame_info(frame).schemes == ("float-div",)
    assert struct.unpack("<dH", frame[PAYLOAD_AT : PAYLOAD_AT + 10]) == (1e3, 12)
    assert len(frame) < 0.97 * floor
    assert decompress(frame).tobytes() == x.tobytes()


def test_a_block_of_many_exceptions_without_a_period_gets_what_the_chooser_gives() -> None:
    """Exceptions far from any decimal (a third of a random walk's values, at random):
    no lag, so ALP is built, or the general chooser runs; the frame is the one the
    general chooser makes."""
    from tests.codec.test_fast_paths import general_float_frame

    rng = np.random.default_rng(14)
    x = np.round(60 + 0.5 * np.cumsum(rng.standard_normal(20_000)), 3)
    far = rng.random(x.size) < 1 / 3
    x[far] = rng.uniform(40, 80, int(far.sum()))
    code = _kernels.alp_single_block(
        x, x.view(np.uint64), _schemes.alp_emax(x), np.zeros(1), np.zeros(1, np.uint64), True
    )[0]
    assert code == 3
    frame = compress(x)
    assert frame == general_float_frame(x)
    assert decompress(frame).tobytes() == x.tobytes()


@settings(max_examples=25, deadline=None)
@given(
    dtype=st.sampled_from(["<f4", "<f8"]),
    n=st.integers(64, 20_000),
    seed=st.integers(0, 2**32 - 1),
    block_size=st.sampled_from([4096, 65_536]),
)
def test_converted_decimals_round_trip_and_stay_near_alp(
    dtype: str, n: int, seed: int, block_size: int
) -> None:
    """Whichever scheme each block takes, the values come back bit for bit; a frame of one
    block that takes float-div on its estimate alone (ALP not built) is never more than a
    percent above ALP's payload."""
    x = converted_decimals(seed, n, dtype)
    frame = compress(x, block_size=block_size, compact=False)
    assert decompress(frame).tobytes() == x.tobytes()
    if n <= block_size and frame_info(frame).schemes == ("float-div",):
        plan = _schemes.FloatPlan(x)
        e, f, _cost = _kernels.alp_choose(x, plan.pairs, plan.probe)
        _scheme, alp = _schemes._encode_alp(x, e, f, plan.probe, entropy=True)
        assert len(frame) - PAYLOAD_AT <= 1.01 * len(alp) + 16


@pytest.mark.usefixtures("format_8_encoder")
def test_smooth_waveforms_take_third_differences_as_a_lag_of_1() -> None:
    """Where third differences cost 0.1 bit a value or more less than second ones (a
    smooth waveform of large amplitude: PPG, audio), the huffman candidate is built on
    them: a lag block of lag 1 over huffman of order 2, decoded in the kernel loop."""
    x = smooth_waveform(3000).astype(np.int32)
    frame = compress(x, compact=False)
    assert frame_info(frame).schemes == ("lag",) and frame[4] == 6
    payload = frame[PAYLOAD_AT:-8]
    assert struct.unpack_from("<HB", payload) == (1, 4) and payload[3] == 2  # huffman, order 2
    u = x.astype(np.int64).view(np.uint64)
    # (without third differences: huffman, or wide-rank where few second differences recur)
    second = _schemes.encode_int_lanes(u, x, modes=True)
    assert second[0] in (4, 13) and len(payload) < 0.9 * len(second[1])
    for data in (frame, bytearray(frame), compress(x)):
        assert decompress(data).tobytes() == x.tobytes()
    # The compiled block loop decodes lag blocks as the Python side does, into the values
    # of every integer dtype.
    python_side = _schemes.decode_int_lanes(
        LAG, Reader(memoryview(payload), 0, "t"), x.size, x.dtype
    )
    assert python_side.view(np.int64).tolist() == x.tolist()
    for dtype in ("<i2", "<u2", "<i4", "<u4", "<i8", "<u8"):
        y = (x // 2).astype(dtype)
        assert decompress(compress(y)).tobytes() == y.tobytes()
    # Never in nested lanes: the modes' lanes and the lag scheme's own residuals.
    assert _kernels.int_payload(u, True, 8 * u.size, False)[0] == 4


def test_a_clock_whose_deltas_repeat_a_period_takes_a_lag_over_its_constant() -> None:
    """A 64 Hz clock read in milliseconds, in ns (deltas 15, 16, 16, 16, 15, ...: 125 ms
    every 8 ticks), with two missed ticks: across 8 ticks the values differ by one
    constant, which the nested sparse scheme codes with its exceptions."""
    ms = np.arange(8000) * 1000 // 64
    ms = np.delete(ms, [3000, 6001])
    x = (1_700_000_000_000 + ms) * 1_000_000
    frame = compress(x, compact=False)
    assert frame_info(frame).schemes == ("lag",) and frame[4] == 6
    payload = frame[PAYLOAD_AT:-8]
    assert struct.unpack_from("<HB", payload) == (8, 15)  # lag 8, nested sparse
    direct = _schemes.encode_int_lanes(x.view(np.uint64), x, modes=True)
    assert len(payload) < 0.2 * len(direct[1])
    for data in (frame, bytearray(frame), compress(x)):
        assert decompress(data).tobytes() == x.tobytes()


@pytest.mark.usefixtures("format_8_encoder")
def test_small_cheap_and_aperiodic_blocks_keep_the_earlier_schemes() -> None:
    rng = np.random.default_rng(10)
    small = periodic_decimals(10, 2000, 5, 2)  # below LAG_MIN_VALUES
    walk = np.round(np.cumsum(rng.standard_normal(10_000)), 2)
    grid = np.arange(10_000, dtype=np.int64) * 7  # cheap already
    for x in (small, walk, grid):
        frame = compress(x, compact=False)
        assert not {"lag", "float-div"} & set(frame_info(frame).schemes)
        assert frame[4] < 6


@settings(max_examples=40, deadline=None)
@given(
    dtype=st.sampled_from(["<i2", "<i4", "<i8", "<u2", "<u8"]),
    period=st.integers(2, 128),
    n=st.integers(4096, 9000),
    seed=st.integers(0, 2**32 - 1),
    exceptions=st.lists(
        st.tuples(st.integers(0, 8999), st.integers(-(2**63), 2**63 - 1)), max_size=20
    ),
)
def test_integer_round_trip_bit_for_bit(
    dtype: str, period: int, n: int, seed: int, exceptions: list[tuple[int, int]]
) -> None:
    lanes = periodic_counts(seed, n, period).view(np.uint64).copy()
    for pos, value in exceptions:
        lanes[pos % n] = np.uint64(value % 2**64)
    x = lanes.astype(np.dtype(dtype).str.replace("i", "u")).view(dtype)
    got = decompress(compress(x, compact=False))
    assert got.dtype == x.dtype and got.tobytes() == x.tobytes()
    # The scheme itself, at any lag (also beyond the block).
    u = x.astype(np.int64).view(np.uint64) if x.dtype.kind == "i" else x.astype(np.uint64)
    for lag in (1, period, n + 5):
        payload = _schemes._encode_lag(u, lag, entropy=True)
        out = np.empty(n, dtype=np.uint64)
        _schemes._decode_lag(Reader(memoryview(payload), 0, "lag"), n, out)
        assert out.tobytes() == u.tobytes()


_SPECIAL = st.sampled_from(
    [
        0x7FF8000000000ABC,
        0xFFF0000000000000,
        0x8000000000000000,
        0x0000000000000001,
        0x7FEFFFFFFFFFFFFF,
    ]
)


@settings(max_examples=40, deadline=None)
@given(
    f32=st.booleans(),
    period=st.integers(2, 100),
    decimals=st.integers(0, 6),
    seed=st.integers(0, 2**32 - 1),
    specials=st.lists(st.tuples(st.integers(0, 6999), _SPECIAL), max_size=12),
    divisor=st.sampled_from([1.0, 100.0, 1e6, 1200.0, 3.0, 1e-3]),
)
def test_float_round_trip_bit_for_bit(
    f32: bool,
    period: int,
    decimals: int,
    seed: int,
    specials: list[tuple[int, int]],
    divisor: float,
) -> None:
    x = periodic_counts(seed, 7000, period) / 10.0**decimals
    for pos, bits in specials:
        x.view(np.uint64)[pos] = bits
    if f32:
        with np.errstate(all="ignore"):
            x = x.astype(np.float32)
    got = decompress(compress(x, compact=False))
    assert got.dtype == x.dtype and got.tobytes() == x.tobytes()
    # The scheme itself at any divisor and lag: dense and sparse adjustments.
    for lag in (0, period):
        payload = _schemes._encode_fdiv(x, divisor, lag, entropy=True)
        out = np.empty_like(x)
        rd = Reader(memoryview(payload), 0, "float-div")
        _schemes._decode_fdiv(rd, x.size, x.dtype, out)
        assert rd.remaining == 0 and out.tobytes() == x.tobytes()


def test_adjustments_are_sparse_where_few_values_miss_and_dense_otherwise() -> None:
    x = periodic_decimals(11, 6000, 5, 3)
    sparse = _schemes._encode_fdiv(x, 1000.0, 5, entropy=True)
    dense = _schemes._encode_fdiv(x, 7.0, 5, entropy=True)
    klen = struct.unpack_from("<I", sparse, 11)[0]
    assert sparse[15 + klen] == _schemes.ADJ_SPARSE
    assert (
        struct.unpack_from("<I", sparse, 16 + klen)[0] == 4
    )  # the NaN, the -0.0, the infinity and 1/3
    klen = struct.unpack_from("<I", dense, 11)[0]
    assert dense[15 + klen] == _schemes.ADJ_DENSE


def _frame(kind: str) -> bytes:
    if kind == "lag":
        frame = compress(periodic_counts(12, 5000, 5).astype(np.int16), compact=False)
    else:
        frame = compress(periodic_decimals(12, 5000, 5, 4), compact=False)
    assert frame_info(frame).schemes == (kind,)
    return frame


@pytest.mark.parametrize(
    ("at", "value", "match"),
    [
        (0, 0, "lag 0"),  # lag u16 low byte ...
        (2, LAG, "lag residual scheme"),  # a lag block nested in itself
        (2, 200, "lag residual scheme"),
    ],
)
def test_bad_lag_fields_are_corrupt(at: int, value: int, match: str) -> None:
    bad = bytearray(_frame("lag"))
    bad[PAYLOAD_AT + at] = value
    if at == 0:
        bad[PAYLOAD_AT + 1] = 0  # ... and high byte
    with pytest.raises(CorruptDataError, match=match):
        decompress(reseal(bad))


@pytest.mark.parametrize(
    ("divisor", "match"),
    [(0.0, "divisor"), (-10.0, "divisor"), (float("nan"), "divisor"), (float("inf"), "divisor")],
)
def test_a_bad_divisor_is_corrupt(divisor: float, match: str) -> None:
    bad = bytearray(_frame("float-div"))
    struct.pack_into("<d", bad, PAYLOAD_AT, divisor)
    with pytest.raises(CorruptDataError, match=match):
        decompress(reseal(bad))


def _adjustments_at(frame: bytes) -> int:
    klen = struct.unpack_from("<I", frame, PAYLOAD_AT + 11)[0]
    return PAYLOAD_AT + 15 + klen


def test_bad_adjustment_fields_are_corrupt() -> None:
    frame = _frame("float-div")
    at = _adjustments_at(frame)
    assert frame[at] == _schemes.ADJ_SPARSE
    for offset, value, match in [
        (0, 7, "adjustment form"),
        (1, 0xFF, "adjustments in a block"),  # count above the block
        (5, FDIV, "gap scheme"),
        (5, LAG, "gap scheme"),
    ]:
        bad = bytearray(frame)
        if offset == 1:
            struct.pack_into("<I", bad, at + 1, 5001)
        else:
            bad[at + offset] = value
        with pytest.raises(CorruptDataError, match=match):
            decompress(reseal(bad))
    bad = bytearray(frame)
    bad[PAYLOAD_AT + 10] = LAG  # the multiples' scheme
    with pytest.raises(CorruptDataError, match="multiple scheme"):
        decompress(reseal(bad))


def test_adjustment_positions_outside_the_block_are_corrupt() -> None:
    x = periodic_decimals(13, 5000, 5, 4)
    payload = bytearray(_schemes._encode_fdiv(x, 1e4, 5, entropy=False))
    at = 15 + struct.unpack_from("<I", payload, 11)[0]
    assert payload[at] == _schemes.ADJ_SPARSE
    count = struct.unpack_from("<I", payload, at + 1)[0]
    # Gaps as a raw nested block: the first gap past the block, then a repeated position.
    for gaps in ([5000] + [1] * (count - 1), [3] + [0] * (count - 1)):
        raw = np.array(gaps, dtype="<u8").tobytes()
        bad = bytes(payload[: at + 5]) + struct.pack("<BI", 0, len(raw)) + raw + bytes([0])
        bad += np.zeros(count, dtype="<u8").tobytes()
        with pytest.raises(CorruptDataError, match="position out of the block"):
            _schemes._decode_fdiv(Reader(memoryview(bad), 0, "b"), 5000, x.dtype, np.empty(5000))


def test_truncated_blocks_are_corrupt() -> None:
    for kind in ("lag", "float-div"):
        frame = _frame(kind)
        for keep in (1, 3, 12, 40):
            cut = bytearray(frame[: PAYLOAD_AT + keep]) + bytes(8)
            struct.pack_into("<I", cut, PAYLOAD_AT - 4, keep)
            with pytest.raises(CorruptDataError):
                decompress(reseal(cut))


def test_unlag_inverts_lag_residuals_in_place() -> None:
    rng = np.random.default_rng(14)
    u = rng.integers(0, 2**64, 3000, dtype=np.uint64)
    for lag in (1, 2, 17, 2999, 3000, 5000):
        r = _kernels.lag_residuals(u, lag)
        _kernels.unlag(r, lag)
        assert r.tobytes() == u.tobytes()


@pytest.mark.usefixtures("format_10_encoder")  # (its waveform repeats: copies)
@pytest.mark.parametrize(
    ("n", "amplitude", "bits"),
    [
        (20_000, 1e6, (4.0, 6.5)),  # the multi-value table (8,192 values or more)
        (20_000, 1e7, (6.5, 9.5)),  # the direct decoder, long values after a branch
        (3_000, 1e6, (4.0, 6.5)),  # a short block
    ],
)
def test_the_kernel_loop_sums_a_lag_of_1_in_each_huffman_decoder(
    n: int, amplitude: float, bits: tuple[float, float]
) -> None:
    """The block loop fuses a lag of 1's running sum with the nested huffman residuals'
    integration (or runs it after the decoders that integrate as they go): its values are
    those of the Python side, which decodes the lanes and then the lag, in every decoder,
    and where the block's streams are read from a padded copy (a compact frame's last
    block has only its checksum after it)."""
    t = np.arange(n)
    wave = np.sin(2 * np.pi * t / 400) * np.exp(np.sin(2 * np.pi * t / 1300))
    x = np.round(amplitude * wave).astype(np.int64)
    frame = compress(x, compact=False)
    assert frame_info(frame).schemes == ("lag",)
    payload = frame[PAYLOAD_AT:-8]
    assert struct.unpack_from("<HB", payload) == (1, 4) and payload[3] == 2
    assert bits[0] <= 8 * len(payload) / n < bits[1]
    python_side = _schemes.decode_int_lanes(LAG, Reader(memoryview(payload), 0, "t"), n, x.dtype)
    assert python_side.view(np.int64).tolist() == x.tolist()
    for data in (frame, compress(x), bytearray(compress(x))):
        assert decompress(data).tobytes() == x.tobytes()
