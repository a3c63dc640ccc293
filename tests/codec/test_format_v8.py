"""Format version 8: the repeat-div scheme, float blocks as the repeat scheme's copies
plus literals coded as float-div multiples predicted from the multiple one period back;
and the split scheme, noisy floats as their top 16 bits (the sign folded in) through the
integer schemes plus the low bits packed.

A z-normalised appliance trace (the UCR/aeon archives store such series) cycles through a
few levels, and where it does not repeat a value exactly it lands near the value one cycle
back: the literal's decimal multiple minus the one a period back takes ~21 bits where the
decimal itself took ~27 (aeon's ACSF1: 0.91x -> 1.06x pcodec's ratio). Noise in float64
(matplotlib's EEG channels) has no decimal or base; its exponents cluster, which the
Huffman stage codes in ~7-8 bits a value (sign folded in) where alp-rd spent 16 (or its
dictionary bits plus exceptions): ratio 1.11 -> 1.14-1.15, above every blosc2 setting.

``data/frames_v8.json`` holds generated cases (:func:`cycling_readings`, seeded integer
arithmetic, no wall-clock time) and the frames edgekit wrote for them; every later reader
must decode them and the encoder must still write them byte for byte.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgekit.codec import _schemes, compress, decompress, frame_info
from edgekit.codec._format import LAG, REPEAT, REPEAT_DIV, SPLIT
from edgekit.errors import CorruptDataError
from tests._support.frames import assert_golden_case, reseal, write_golden

Array = np.ndarray[Any, Any]
DATA = Path(__file__).parent / "data"
CASES: dict[str, dict[str, Any]] = json.loads((DATA / "frames_v8.json").read_text())


def cycling_readings(seed: int, n: int, period: int = 4, fresh: float = 0.35) -> Array:
    """Power readings (integer watts) of an appliance cycling with ``period``: a share
    ``fresh`` takes the reading one period back moved by up to 500 watts, the rest repeat
    the reading one period back (two in three) or one of the last 15; z-normalised and
    rounded to 8 decimals."""
    rng = np.random.default_rng(seed)
    a = np.empty(n)
    a[:period] = rng.integers(100, 2000, period)[:n]
    pick = rng.random(n)
    back = rng.integers(1, 16, n)
    step = rng.integers(-500, 501, n)
    recent = fresh + (1 - fresh) * 2 / 3
    for i in range(period, n):
        if pick[i] < fresh:
            a[i] = a[i - period] + step[i]
        else:
            a[i] = a[i - period] if pick[i] < recent else a[max(i - back[i], 0)]
    out: Array = np.round((a - a.mean()) / (a.std() or 1.0), 8)
    return out


def noise(seed: int, n: int) -> Array:
    """Gaussian noise through a 20-sample moving average, as a band-limited EEG channel
    (float64 to the last bit: no decimal, no base)."""
    white = np.random.default_rng(seed).standard_normal(n + 19)
    out: Array = np.convolve(white, np.full(20, 0.05), "valid")
    return out


def place_specials(x: Array, specials: list[tuple[int, int]]) -> Array:
    """``x`` with, at each ``(position, kind)`` inside it, a NaN with a payload (kinds 0
    and 1), -0.0, +inf, -inf, the smallest subnormal or the largest finite value (2-6)."""
    info = np.finfo(x.dtype)
    uint = np.uint64 if x.dtype.itemsize == 8 else np.uint32
    nan_bits = [0x7FF8000000000123, 0xFFF00000000ABCDE] if uint is np.uint64 else [0x7FC00123]
    for pos, kind in specials:
        if pos < x.size:
            if kind < 2:
                x.view(uint)[pos] = nan_bits[kind % len(nan_bits)]
            else:
                x[pos] = (-0.0, np.inf, -np.inf, info.smallest_subnormal, info.max)[kind - 2]
    return x


def golden_cases() -> dict[str, tuple[Array, dict[str, Any]]]:
    """The cases of ``data/frames_v8.json``: values and the ``compress`` arguments."""
    return {
        "repeat_div_cycling_f8": (cycling_readings(1, 6000), {}),
        "repeat_div_period_3_f8": (cycling_readings(2, 12_000, period=3, fresh=0.3), {}),
        "repeat_div_5_decimals_f4": (np.round(cycling_readings(3, 8000), 5).astype(np.float32), {}),
        "split_noise_f8": (noise(5, 800), {}),
        "split_noise_f4": (noise(6, 3000).astype(np.float32), {}),
        "split_full_2_blocks_f8": (noise(7, 3000), {"block_size": 2000, "compact": False}),
        "repeat_div_full_2_blocks_f8": (
            cycling_readings(3, 10_000),
            {"block_size": 5000, "compact": False},
        ),
    }


def regenerate() -> None:
    """Rewrite ``data/frames_v8.json`` (only when the format changes on purpose)."""
    write_golden(DATA / "frames_v8.json", golden_cases())


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.usefixtures("format_8_encoder")
def test_committed_v8_frame_decodes_and_is_still_written(name: str) -> None:
    case = CASES[name]
    frame = bytes.fromhex(case["frame_hex"])
    assert frame[4] == 8 and {"repeat-div", "split"} & set(case["schemes"])
    assert list(frame_info(frame).schemes) == case["schemes"]
    assert_golden_case(case)


def test_repeat_div_wins_on_cycling_readings_and_marks_version_8(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    x = cycling_readings(4, 20_000)
    frame = compress(x)
    assert frame_info(frame).schemes == ("repeat-div",) and frame[4:6] == bytes((8, 0x8A))
    assert compress(x, compact=False)[4] == 8
    assert decompress(frame).tobytes() == x.tobytes()
    # The repeat scheme of format 4 codes each literal as a decimal of its own.
    monkeypatch.setattr(_schemes, "_encode_repeat_div", lambda *args, **kwargs: None)
    repeat = compress(x)
    assert frame_info(repeat).schemes == ("repeat",) and repeat[4] == 7
    assert len(frame) < 0.97 * len(repeat)  # (the rule: kept where 3 % smaller)


def test_noise_literals_skip_repeat_div(monkeypatch: pytest.MonkeyPatch) -> None:
    """Readings that return to a few 3-decimal levels between stretches of resampled values
    (a Wii remote's, 42 bits of noise in each literal's adjustment): the plain repeat form
    is built first and repeat-div not at all (on the Wii remote it saved 3 % for a third of
    the compress time); the cycling readings' decimals (1-2 bit adjustments) still take it.
    """
    rng = np.random.default_rng(7)
    levels = np.round(rng.normal(1.0, 0.05, 40), 3)
    n = 36_000
    x = np.where(rng.random(n) < 0.5, levels[rng.integers(0, 40, n)], 0.98 + 0.02 * rng.random(n))
    lags = _schemes.kernels().repeat_lags(x.view(np.uint64))
    bits = _schemes._div_adjustment_bits(x, x[lags == 0], _schemes.FloatPlan(x))
    assert bits >= _schemes.RD_NOISE_SHARE * 52
    built: list[int] = []
    divided = _schemes._encode_repeat_div

    def spy(*args: Any, **kwargs: Any) -> bytes | None:
        built.append(1)
        return divided(*args, **kwargs)

    monkeypatch.setattr(_schemes, "_encode_repeat_div", spy)
    frame = compress(x)
    assert frame_info(frame).schemes == ("repeat",) and not built
    assert decompress(frame).tobytes() == x.tobytes()
    # Where it could save more (the gain threshold raised), it is built and weighed.
    monkeypatch.setattr(_schemes, "RD_NOISE_GAIN", 2.0)
    assert compress(x) == frame and built
    cycling = cycling_readings(4, 20_000)
    lags = _schemes.kernels().repeat_lags(cycling.view(np.uint64))
    literals = cycling[lags == 0]
    assert _schemes._div_adjustment_bits(cycling, literals, _schemes.FloatPlan(cycling)) < 4


def test_values_that_do_not_repeat_keep_the_other_schemes() -> None:
    x = np.round(np.cumsum(np.random.default_rng(5).standard_normal(20_000)), 3)
    assert "repeat-div" not in frame_info(compress(x)).schemes


def _repeat_div_payload(x: Array) -> bytes | None:
    """The repeat-div payload the encoder builds for ``x`` (None where not decimal)."""
    plan = _schemes.FloatPlan(x)
    uint = np.uint64 if x.dtype.itemsize == 8 else np.uint32
    lags = _schemes.kernels().repeat_lags(x.view(uint))
    positions = np.flatnonzero(lags == 0)
    ischeme, ipayload = _schemes.encode_int_lanes(lags.view(np.uint64), None)
    head = struct.pack("<IBI", positions.size, ischeme, len(ipayload)) + ipayload
    return _schemes._encode_repeat_div(x, lags, positions, plan, head, entropy=True)


def _frame(x: Array, payload: bytes, scheme: int = REPEAT_DIV) -> bytes:
    """A full-layout frame of one block of ``x.size`` values of ``x``'s dtype."""
    code = 9 if x.dtype.itemsize == 4 else 10
    head = struct.pack("<4sBBBQI", b"EKCS", 8, code, 1, x.size, 65536)
    return reseal(head + struct.pack("<BI", scheme, len(payload)) + payload + bytes(8))


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(2, 3000),
    period=st.integers(1, 12),
    fresh=st.floats(0.0, 1.0),
    dtype=st.sampled_from(["<f4", "<f8"]),
    specials=st.lists(st.tuples(st.integers(0, 2999), st.integers(0, 6)), max_size=8),
)
def test_round_trip_bit_for_bit(
    seed: int,
    n: int,
    period: int,
    fresh: float,
    dtype: str,
    specials: list[tuple[int, int]],
) -> None:
    # Any period, any share of literals, NaN payloads, -0.0, infinities, subnormals and
    # values beyond the multiples' range (k 0: the adjustment holds the whole value).
    x = place_specials(cycling_readings(seed, n, period, fresh).astype(dtype), specials)
    payload = _repeat_div_payload(x)
    if payload is None:
        return  # no repeat, or not decimal (no ALP exponent at or above its factor)
    got = decompress(_frame(x, payload))
    assert got.dtype == x.dtype and got.tobytes() == x.tobytes()
    frame = compress(x)
    assert decompress(frame).tobytes() == x.tobytes()


def test_the_period_field_is_the_prediction() -> None:
    # The encoder takes the most common lag here (4); another period in the same payload
    # is a valid frame that decodes to other values.
    x = cycling_readings(6, 5000)
    payload = _repeat_div_payload(x)
    assert payload is not None and struct.unpack_from("<H", payload, 8)[0] == 4
    assert decompress(_frame(x, payload)).tobytes() == x.tobytes()
    other = payload[:8] + struct.pack("<H", 7) + payload[10:]
    assert decompress(_frame(x, other)).tobytes() != x.tobytes()


def test_the_period_is_found_where_the_first_values_never_repeat() -> None:
    """The period candidates are the common lags among the first PERIOD_LAGS values; where
    none of those repeats (a ramp, then a cycle), they come from the whole block."""
    ramp = np.round(np.arange(_schemes.PERIOD_LAGS) * 0.001 + 0.0005, 4)
    x = np.concatenate((ramp, 100.0 + cycling_readings(8, 6000)))
    plan = _schemes.FloatPlan(x)
    lags = _schemes.kernels().repeat_lags(x.view(np.uint64))
    assert not lags[: _schemes.PERIOD_LAGS].any() and lags.any()
    assert plan.pairs.shape[1] > 0
    payload = _repeat_div_payload(x)
    assert payload is not None
    period = struct.unpack_from("<H", payload, 8)[0]
    assert period in _schemes.kernels().top_lags(lags, _schemes.PERIOD_CANDIDATES)
    assert decompress(_frame(x, payload)).tobytes() == x.tobytes()
    assert decompress(compress(x)).tobytes() == x.tobytes()


def _hand_payload(
    lags: list[int],
    residuals: list[int],
    adjustments: list[int],
    *,
    divisor: float = 100.0,
    period: int = 2,
    count: int | None = None,
    residual_scheme: int = 0,
) -> bytes:
    """A repeat-div payload with raw nested blocks and dense adjustments."""
    raw_lags = np.array(lags, "<i8").tobytes()
    raw_res = np.array(residuals, "<i8").tobytes()
    literals = lags.count(0) if count is None else count
    return (
        struct.pack("<dH", divisor, period)
        + struct.pack("<IBI", literals, 0, len(raw_lags))
        + raw_lags
        + struct.pack("<BI", residual_scheme, len(raw_res))
        + raw_res
        + bytes([0, 0])
        + np.array(adjustments, "<i8").tobytes()
    )


def test_the_decoder_reads_a_hand_made_payload() -> None:
    # k: 150, 275, then 150 + 25 (predicted from two back), a copy of 275, a copy of 175
    # lag 2 back; divisor 100 -> 1.5, 2.75, 1.75, 2.75, 1.75; one adjustment of one ulp.
    payload = _hand_payload([0, 0, 0, 2, 2], [150, 275, 25], [0, 1, 0])
    x = np.zeros(5)
    got = decompress(_frame(x, payload))
    want = np.array([1.5, 2.75, 1.75, 2.75, 1.75])
    want.view(np.uint64)[1] += 1
    want.view(np.uint64)[3] += 1
    assert got.tobytes() == want.tobytes()


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        (_hand_payload([0, 0, 1], [1, 2], [0, 0], divisor=math.nan), "bad divisor nan"),
        (_hand_payload([0, 0, 1], [1, 2], [0, 0], divisor=0.0), "bad divisor 0.0"),
        (_hand_payload([0, 0, 1], [1, 2], [0, 0], divisor=-1.0), "bad divisor -1.0"),
        (_hand_payload([0, 0, 1], [1, 2], [0, 0], period=0), "period 0"),
        (_hand_payload([0, 0, 1], [1, 2], [0, 0], count=0), "0 literals"),
        (_hand_payload([0, 0, 1], [1, 2], [0, 0], count=3), "does not match the lags"),
        (_hand_payload([0, 0, 3], [1, 2], [0, 0]), "reaches before the block"),
        (_hand_payload([0, 0, -1], [1, 2], [0, 0]), "reaches before the block"),
        (_hand_payload([0, 0, 1], [1, 2], [0, 0], residual_scheme=LAG), "bad residual scheme"),
        (_hand_payload([0, 0, 1], [1], [0, 0]), "residuals"),
        (_hand_payload([0, 0, 1], [1, 2], [0]), "raw block"),
        (_hand_payload([0, 0, 1], [1, 2], [0, 0])[:9], "divisor and period"),
    ],
)
def test_bad_repeat_div_fields_are_corrupt(payload: bytes, match: str) -> None:
    _assert_corrupt(_frame(np.zeros(3), payload), match)


def _assert_corrupt(frame: bytes, match: str) -> None:
    for data in (frame, bytearray(frame)):
        with pytest.raises(CorruptDataError, match=match):
            decompress(data)


@pytest.mark.parametrize("scheme", [REPEAT_DIV, SPLIT])
def test_the_new_schemes_are_never_nested(scheme: int) -> None:
    # A repeat block's literals (and a dictionary's values) take the other float schemes.
    payload = struct.pack("<IBI", 1, 0, 8) + bytes(8) + bytes([scheme])
    _assert_corrupt(_frame(np.zeros(1), payload, scheme=REPEAT), f"bad literal scheme {scheme}")


def test_split_wins_on_noise_and_marks_version_8(monkeypatch: pytest.MonkeyPatch) -> None:
    x = noise(8, 5000)
    frame = compress(x)
    assert frame_info(frame).schemes == ("split",) and frame[4] == 8
    assert decompress(frame).tobytes() == x.tobytes()
    monkeypatch.setattr(_schemes, "_encode_split", lambda x, entropy: bytes(x.nbytes))
    before = compress(x)
    assert frame_info(before).schemes == ("alp-rd",) and len(frame) < 0.97 * len(before)


def test_decimals_keep_their_schemes() -> None:
    x = np.round(noise(9, 5000), 4)
    assert frame_info(compress(x)).schemes == ("alp",)


def _split_frame(x: Array) -> bytes:
    return _frame(x, _schemes._encode_split(x, entropy=True), scheme=SPLIT)


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 3000),
    dtype=st.sampled_from(["<f4", "<f8"]),
    specials=st.lists(st.tuples(st.integers(0, 2999), st.integers(0, 6)), max_size=10),
)
def test_split_round_trip_bit_for_bit(
    seed: int, n: int, dtype: str, specials: list[tuple[int, int]]
) -> None:
    # NaN payloads, -0.0, infinities, subnormals and the extremes anywhere.
    x = place_specials(noise(seed, n).astype(dtype), specials)
    got = decompress(_split_frame(x)) if x.size else x
    assert got.dtype == x.dtype and got.tobytes() == x.tobytes()
    assert decompress(compress(x)).tobytes() == x.tobytes()


def _split_payload(right: int, left: list[int], rights: list[int]) -> bytes:
    """A split payload with raw nested left parts (int64) and packed right parts."""
    raw = np.array(left, "<i8").tobytes()
    words = _schemes.kernels().pack_plain(np.array(rights, np.uint64), right)
    return struct.pack("<BBI", right, 0, len(raw)) + raw + words.astype("<u8").tobytes()


def test_the_decoder_reads_a_hand_made_split_payload() -> None:
    # 1.5 is 0x3FF8_0000_0000_0001 here (one ulp up), -2.0 is 0xC000...: left parts are
    # the magnitude's top 15 bits times 2 plus the sign.
    payload = _split_payload(48, [0x3FF8 << 1, 0x4000 << 1 | 1], [1, 0])
    want = np.array([1.5, -2.0])
    want.view(np.uint64)[0] += 1
    assert decompress(_frame(np.zeros(2), payload, scheme=SPLIT)).tobytes() == want.tobytes()


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        (_split_payload(48, [1, 2], [3, 4])[:0] + bytes([0]), "bad right bits 0"),
        (bytes([64]), "bad right bits 64"),
        (_split_payload(48, [1, 1 << 16], [3, 4]), "left part is wider than 16 bits"),
        (_split_payload(48, [1, 2], [3, 4])[:-1], "right parts"),
        (_split_payload(48, [1], [3, 4]), "left part"),
        (struct.pack("<BBI", 48, LAG, 0), "bad left part scheme 17"),
        (struct.pack("<BBI", 48, SPLIT, 0), "bad left part scheme 21"),
    ],
)
def test_bad_split_fields_are_corrupt(payload: bytes, match: str) -> None:
    _assert_corrupt(_frame(np.zeros(2), payload, scheme=SPLIT), match)
