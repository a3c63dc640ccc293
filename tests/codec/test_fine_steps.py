"""Floats on a fine grid that the value GCD misses: the adjusted float-mult scheme's base
found from the gaps between sampled values, taken inside dictionaries and repeat blocks.

A gyroscope logged in degrees/s to 4 places and stored in rad/s (BROAD: ``x = d * pi / 180``
through a near-identity rotation) holds multiples ``k * pi / 1.8e6`` with ``k`` in the
millions, each off by a few ulps. Euclid on values that large loses the step in its own
rounding; on the gaps between the sorted values (small multiples) it keeps it.

``data/broad_imu.npz`` holds three extracts of BROAD (github.com/dlaidig/broad at commit
7e2f818, CC BY 4.0: D. Laidig, M. Caruso, A. Cereatti, T. Seel, "BROAD - A Benchmark for
Robust Inertial Orientation Estimation", Data 6(7), 2021), ``imu_gyr`` as float64, bits as
in the files: ``gyr28_x``, trial 28 (disturbed, stationary magnet A), axis 0, samples
10,000-17,999; ``gyr04_y``, trial 04 (undisturbed, slow rotation with breaks A), axis 1,
samples 8,000-15,999; and ``acc28_x``, trial 28's ``imu_acc`` axis 0, samples 10,000-17,999
(``test_format_v12``). Neither trial is one of the codec's held-out series (01, 21, 26).
"""

from __future__ import annotations

import functools
import math
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from edgekit.codec import _kernels, _schemes, compress, decompress, frame_info, series
from edgekit.codec._format import DICT, FGRID, FLANES, FMULT, FMULT_ADJ, REPEAT
from edgekit.codec._kernels.modes import approx_step, sample_magnitudes
from edgekit.errors import CorruptDataError
from tests._support.frames import first_block, reseal

Array = np.ndarray[Any, Any]
DEGREE_STEP = math.pi / 1.8e6  # a ten-thousandth of a degree in radians


@pytest.fixture(scope="module")
def broad() -> dict[str, Array]:
    with np.load(Path(__file__).parent / "data" / "broad_imu.npz") as z:
        return {name: z[name] for name in z.files}


def degrees_in_radians(seed: int, n: int, distinct: int | None = None) -> Array:
    """A random walk in degrees/s to 4 places (a 16-bit gyroscope's counts of 0.061 deg/s,
    rounded), turned to rad/s through a rotation a few ulps off the identity; ``distinct``:
    drawn from that many levels instead (a dictionary's block)."""
    rng = np.random.default_rng(seed)
    counts = np.cumsum(rng.integers(-40, 41, n)) + 2000
    if distinct is not None:
        counts = rng.choice(counts[:distinct], n)
    deg = np.round(counts * 0.06103515625, 4)
    cross = rng.integers(-200, 201, n) * 0.061
    return deg * (math.pi / 180) + cross * (math.pi / 180) * 1e-16


def _block(x: Array) -> tuple[int, bytes | memoryview, int]:
    """(scheme, payload, newest nested scheme) of ``x`` as one block."""
    token = _schemes.track_nested()
    try:
        scheme, payload = _schemes.encode_float_block(x, _schemes.FloatPlan(x))
        return scheme, payload, _schemes.take_nested()
    finally:
        _schemes.reset_nested(token)


@pytest.mark.parametrize("name", ["gyr28_x", "gyr04_y"])
def test_the_base_of_broad_gyroscopes_is_a_ten_thousandth_of_a_degree(
    broad: dict[str, Array], name: str
) -> None:
    """The value GCD misses it on trial 28's fast turns (values to 12 rad/s) and on trial
    04's sorted values (a dictionary's); the gaps give it on both."""
    x = broad[name]
    for values in (x, np.unique(x)):
        s, mags, top = sample_magnitudes(values)
        assert float(_kernels.gap_step(s, top)) == pytest.approx(DEGREE_STEP, rel=1e-12)
        assert float(_kernels.fmult_adj_base(values)) == pytest.approx(DEGREE_STEP, rel=1e-12)
    s, mags, top = sample_magnitudes(x if name == "gyr28_x" else np.unique(x))
    by_values = approx_step(mags, top * 2.0**-20, top * 2.0**-40)
    assert by_values != pytest.approx(DEGREE_STEP, rel=1e-9)


def test_a_broad_gyroscope_block_takes_float_mult_adj(
    broad: dict[str, Array], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Trial 28's gyroscope: 52.7 bits a value before (shuffle-lz4 and alp-rd saw noise),
    about 21 now, as a repeat block whose literals take float-mult-adj; zstd -19 takes
    40.6. The whole block as float-mult-adj is 0.3 % smaller, but estimated above the
    repeat block (:func:`_schemes._adjusted_above`: on full gyroscope axes it was 1.2-1.45x
    their size and cost half their compress time); built, it is taken."""
    x = broad["gyr28_x"]
    frame = compress(x)
    at = first_block(frame)
    assert frame_info(frame).schemes == ("repeat",)
    lag_bytes = struct.unpack_from("<I", frame, at + 10)[0]
    assert frame[at + 14 + lag_bytes] == FMULT_ADJ
    assert 8 * len(frame) / x.size < 24
    monkeypatch.setattr(_schemes, "ADJ_SKIP_MARGIN", 0.0)
    adjusted = compress(x)
    assert frame_info(adjusted).schemes == ("float-mult-adj",)
    assert len(frame) < 1.005 * len(adjusted)
    for data in (frame, bytearray(frame), adjusted):
        assert decompress(data).tobytes() == x.tobytes()


def test_a_dictionary_codes_its_values_at_the_blocks_base(broad: dict[str, Array]) -> None:
    """Trial 04's gyroscope: 1,766 distinct values among 8,000 (a dictionary). Their own
    sample (sorted) gives Euclid nothing; the block's base does: the values take
    float-mult-adj (982 bytes, the lanes took 5,989), the frame 6.8 bits a value (13.1
    before) and says version 5 or later."""
    x = broad["gyr04_y"]
    scheme, payload, nested = _block(x)
    count, vscheme, vlen = struct.unpack_from("<IBI", payload)
    assert scheme == DICT and count == np.unique(x).size and vscheme == FMULT_ADJ
    assert nested >= FMULT_ADJ
    values = np.unique(x)
    assert vlen < 0.3 * len(_schemes._encode_flanes(values, entropy=True))
    frame = compress(x)
    assert frame[4] >= 5 and 8 * len(frame) / x.size < 8
    assert decompress(frame).tobytes() == x.tobytes()


def test_repeat_literals_take_float_mult_adj() -> None:
    """Generated degrees in radians whose values mostly repeat earlier ones: a repeat block
    whose literals are adjusted multiples; the frame says version 5 or later (the repeat
    scheme is version 4, its literals' scheme 5)."""
    rng = np.random.default_rng(5)
    deg = np.round(rng.integers(-100_000, 100_000, 20_000) * 0.06103515625, 4)
    levels = deg * (math.pi / 180)
    x = np.where(rng.random(20_000) < 0.5, levels[rng.integers(0, 40, 20_000)], levels)
    scheme, _payload, nested = _block(x)
    assert scheme == REPEAT and nested >= FMULT_ADJ
    frame = compress(x)
    assert frame[4] >= 5
    assert decompress(frame).tobytes() == x.tobytes()


@pytest.mark.parametrize(
    ("name", "held", "scheme", "literals"),
    [
        ("gyr28_x", False, FMULT_ADJ, None),
        ("acc28_x", False, FGRID, None),
        ("gyr28_x", True, REPEAT, FMULT_ADJ),
        ("acc28_x", True, REPEAT, FGRID),
    ],
)
def test_adjusted_and_grid_blocks_are_decoded_by_the_kernel(
    broad: dict[str, Array],
    name: str,
    held: bool,
    scheme: int,
    literals: int | None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Float-mult-adj and float-grid blocks, and repeat blocks whose literals take them
    (BROAD's values, each held for two samples), decode in the compiled frame decoder: the
    general path took BROAD trial 21's repeat gyroscope at 0.2x pcodec's speed. (The
    whole gyroscope block is built as float-mult-adj where its estimate would skip it.)"""
    x = np.repeat(broad[name][:4000], 2) if held else broad[name]
    monkeypatch.setattr(_schemes, "ADJ_SKIP_MARGIN", 0.0)
    frame = compress(x)
    at = first_block(frame)
    assert frame[at] == scheme
    if literals is not None:
        # (block header 5 bytes; literal count u32, lags' scheme u8 and length u32)
        lag_bytes = struct.unpack_from("<I", frame, at + 10)[0]
        assert frame[at + 14 + lag_bytes] == literals
    # (a bytes frame: the whole-frame kernel; a bytearray: the kernel's block loop, after
    # the header is read in Python)
    monkeypatch.setattr(_schemes, "decode_float_block", lambda *a: pytest.fail("Python block"))
    assert decompress(bytearray(frame)).tobytes() == x.tobytes()
    monkeypatch.setattr(series, "_read_header", lambda *a: pytest.fail("general path"))
    assert decompress(frame).tobytes() == x.tobytes()


def _outcome(frame: bytes | bytearray) -> Array | str:
    try:
        return decompress(frame)
    except CorruptDataError as exc:
        return f"CorruptDataError: {exc}"


@functools.cache
def _kernel_frames() -> dict[str, bytes]:
    with np.load(Path(__file__).parent / "data" / "broad_imu.npz") as z:
        gyr, acc = z["gyr28_x"][:3000], z["acc28_x"][:3000]
    return {
        "float-mult-adj": compress(gyr),
        "float-grid": compress(acc),
        "repeat of float-mult-adj": compress(np.repeat(gyr, 2)),
        "repeat of float-grid": compress(np.repeat(acc, 2)),
        "float32 repeat of float-mult-adj": compress(np.repeat(gyr, 2).astype(np.float32)),
    }


@settings(max_examples=200, deadline=None)
@given(
    name=st.sampled_from(
        [
            "float-mult-adj",
            "float-grid",
            "repeat of float-mult-adj",
            "repeat of float-grid",
            "float32 repeat of float-mult-adj",
        ]
    ),
    edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=3),
    resealed=st.booleans(),
)
def test_damaged_adjusted_and_grid_blocks_decode_as_in_python(
    name: str, edits: list[tuple[int, int]], resealed: bool
) -> None:
    """The kernel answers only yes or no: a damaged block it does not take goes to Python,
    so every damaged frame gives what the Python decoders give (the same values, or a
    CorruptDataError), never a crash."""
    frame = bytearray(_kernel_frames()[name])
    at = first_block(frame)  # (from the block header on)
    for pos, value in edits:
        frame[at + pos % (len(frame) - at)] = value
    data = reseal(frame) if resealed else bytes(frame)
    got = _outcome(data)
    with pytest.MonkeyPatch.context() as python_only:
        python_only.setattr(series, "_FLOAT_KERNEL_SCHEMES", frozenset())
        expected = _outcome(bytearray(data))
    if isinstance(got, str) or isinstance(expected, str):
        assert isinstance(got, str) and isinstance(expected, str)
    else:
        assert got.tobytes() == expected.tobytes()


def _repeated_degrees(n: int) -> Array:
    """Generated degrees in radians, half of them one of 40 levels (a repeat block whose
    literals are adjusted multiples)."""
    rng = np.random.default_rng(5)
    deg = np.round(rng.integers(-100_000, 100_000, n) * 0.06103515625, 4)
    levels = deg * (math.pi / 180)
    return np.where(rng.random(n) < 0.5, levels[rng.integers(0, 40, n)], levels)


def test_repeat_div_is_not_tried_on_literals_near_multiples_of_a_base(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Literals near multiples of a base (float-mult-adj) are not decimals: repeat-div is
    not built for them (its divisor leaves wide adjustments: without the lags, it is
    larger than the whole frame of the plain repeat block)."""
    x = _repeated_degrees(40_000)
    frame = compress(x)
    assert frame_info(frame).schemes == ("repeat",)
    built: list[int] = []
    divided = _schemes._encode_repeat_div

    def spy(*args: Any, **kwargs: Any) -> bytes | None:
        got = divided(*args, **kwargs)
        built.append(-1 if got is None else len(got))
        return got

    monkeypatch.setattr(_schemes, "_encode_repeat_div", spy)
    assert compress(x) == frame and built == []
    lags = _kernels.repeat_lags(x.view(np.uint64))
    _literals, positions = _kernels.split_literals(x, lags)
    plan = _schemes.FloatPlan(x)
    assert plan.adj_base
    spy(x, lags, positions, plan, b"", entropy=True)
    assert built[0] > len(frame)
    assert decompress(frame).tobytes() == x.tobytes()


def test_a_nested_scheme_newer_than_its_block_sets_the_version() -> None:
    """A dictionary (version 1) whose values are exact multiples of 1/3 (float-mult,
    version 2): the nested scheme counts for the frame's version."""
    rng = np.random.default_rng(0)
    levels = rng.integers(0, 3000, 600) / 3
    x = levels[rng.integers(0, 600, 20_000)]
    scheme, payload, nested = _block(x)
    assert scheme == DICT and nested >= payload[4] and payload[4] in (FMULT, FMULT_ADJ, FLANES)
    assert decompress(compress(x)).tobytes() == x.tobytes()


def test_generated_degrees_find_the_base_in_time_order_and_sorted() -> None:
    for seed in range(5):
        x = degrees_in_radians(seed, 12_000)
        for values in (x, np.unique(x)):
            assert float(_kernels.fmult_adj_base(values)) == pytest.approx(DEGREE_STEP, rel=1e-9)
        assert decompress(compress(x)).tobytes() == x.tobytes()


def test_offset_grids_noise_and_decimals_find_no_gap_base() -> None:
    """Gaps of an offset grid (a calibrated accelerometer: bias + j x step) give its step,
    but its values are not multiples of it; noise and decimals keep their schemes."""
    rng = np.random.default_rng(11)
    grid = 0.0006892880038 + np.cumsum(rng.integers(-30, 31, 5000)) * 0.000981
    for x in (grid, rng.standard_normal(5000), np.round(np.cumsum(rng.standard_normal(5000)), 2)):
        assert _kernels.fmult_adj_base(x) == 0.0


def test_adjusted_estimate_is_near_the_payload(broad: dict[str, Array]) -> None:
    """:func:`adj_split_bits` on the block's windows is within 10 % of the payload (the
    planner skips the payload where the estimate is far above the best so far)."""
    for x in (broad["gyr28_x"], degrees_in_radians(2, 20_000)):
        w = _schemes._windows(x)
        scratch = np.empty_like(w)
        bits = _kernels.adj_split_bits(
            w, w.view("<u8"), DEGREE_STEP, scratch, scratch.view("<u8"), _schemes.KMAX_ADJ
        )
        size = len(_schemes._encode_fmult_adj(w, DEGREE_STEP, entropy=True))
        assert bits / 8 == pytest.approx(size, rel=0.1)


def _split_reference(x: Array, base: float) -> tuple[Array, Array]:
    """The adjusted float-mult split in numpy (format version 5's definition)."""
    uint = np.dtype(f"<u{x.itemsize}")
    with np.errstate(all="ignore"):
        y = x.astype(np.float64) / base
        k = np.where(np.abs(y) < _schemes.KMAX_ADJ, np.round(y), 0.0).astype(np.int64)
        approx = (k.astype(np.float64) * base).astype(x.dtype)
    adj = x.view(uint) - approx.view(uint)
    lanes = adj.view(np.int64) if uint.itemsize == 8 else adj.view(np.int32).astype(np.int64)
    return k, lanes


@settings(max_examples=150, deadline=None)
@given(
    x=st.one_of(
        hnp.arrays(np.float64, st.integers(1, 300)),
        hnp.arrays(np.float32, st.integers(1, 300)),
    ),
    base=st.sampled_from([DEGREE_STEP, 0.005, 1 / 12, 3.0, 1e-300, 2.0**-40]),
)
def test_fmult_split_is_the_format_definition(x: Array, base: float) -> None:
    """The kernel split equals numpy's for any floats (NaN, infinities, -0.0, subnormals)."""
    uint = np.dtype(f"<u{x.itemsize}")
    scratch = np.empty_like(x)
    k, adj = _kernels.fmult_split(
        x, x.view(uint), base, scratch, scratch.view(uint), _schemes.KMAX_ADJ
    )
    k_ref, adj_ref = _split_reference(x, base)
    assert np.array_equal(k, k_ref) and np.array_equal(adj, adj_ref)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(64, 6000),
    distinct=st.one_of(st.none(), st.integers(70, 1500)),
)
def test_degrees_in_radians_round_trip(seed: int, n: int, distinct: int | None) -> None:
    x = degrees_in_radians(seed, n, distinct)
    frame = compress(x)
    assert decompress(frame).tobytes() == x.tobytes()
    assert decompress(compress(x.astype(np.float32))).tobytes() == x.astype(np.float32).tobytes()


# --- float32: the step under float32's rounding ----------------------------------------


@pytest.mark.parametrize("name", ["gyr28_x", "gyr04_y"])
def test_float32_gyroscopes_find_the_degree_step(broad: dict[str, Array], name: str) -> None:
    """As float32 the multiples are rounded by up to half the step (near 12 rad/s): the
    value GCD misses it, the gaps' GCD with float32's rounding carried through finds it
    to float32's precision, and it is snapped to a ten-thousandth of a degree."""
    x = broad[name].astype(np.float32)
    s, mags, top = sample_magnitudes(x)
    assert float(_kernels.float32_step(s, mags, top)) == pytest.approx(DEGREE_STEP, rel=1e-7)
    assert float(_kernels.fmult_adj_base(x)) == pytest.approx(DEGREE_STEP, rel=1e-15)
    assert approx_step(mags, top * 2.0**-17, top * 2.0**-40) != pytest.approx(DEGREE_STEP, rel=1e-3)


@pytest.mark.parametrize("held", [False, True])
def test_float32_gyroscope_frames_take_the_step_and_decode_in_the_kernel(
    broad: dict[str, Array], held: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Trial 28's gyroscope as float32: a repeat block whose literals take float-mult-adj
    (its sparse adjustments decoded by the kernel), a fifth smaller than without the step
    (17,236 bytes against 21,779 when measured; held two samples, 9,485 against 11,807)."""
    x = (np.repeat(broad["gyr28_x"][:4000], 2) if held else broad["gyr28_x"]).astype(np.float32)
    frame = compress(x)
    at = first_block(frame)
    lag_bytes = struct.unpack_from("<I", frame, at + 10)[0]
    assert frame[at] == REPEAT and frame[at + 14 + lag_bytes] == FMULT_ADJ
    with monkeypatch.context() as without:
        plain, bases = _kernels.fmult_adj_base, _kernels.frame_bases
        without.setattr(_kernels, "fmult_adj_base", lambda v: 0.0 if v.itemsize == 4 else plain(v))
        without.setattr(
            _kernels, "frame_bases", lambda v: (0.0, 0.0, 0.0) if v.itemsize == 4 else bases(v)
        )
        assert len(frame) < 0.85 * len(compress(x))
    monkeypatch.setattr(_schemes, "decode_float_block", lambda *a: pytest.fail("Python block"))
    assert decompress(bytearray(frame)).tobytes() == x.tobytes()
    monkeypatch.setattr(series, "_read_header", lambda *a: pytest.fail("general path"))
    assert decompress(frame).tobytes() == x.tobytes()


def test_float32_noise_decimals_and_offset_grids_find_no_base() -> None:
    """The gaps of an offset grid give its step, but its values are not multiples of it;
    decimals give a power of ten (ALP's); noise gives none."""
    rng = np.random.default_rng(11)
    grid = 0.0006892880038 + np.cumsum(rng.integers(-30, 31, 5000)) * 0.000981
    walk = np.cumsum(rng.standard_normal(5000))
    for x in (grid, rng.standard_normal(5000), np.round(walk, 2), np.round(walk, 3)):
        assert _kernels.fmult_adj_base(x.astype(np.float32)) == 0.0


def _degrees_at_rest(seed: int, n: int) -> Array:
    """A float32 gyroscope near rest: counts of 0.061 deg/s in a slow walk about 0, in
    degrees to 4 places, in radians."""
    rng = np.random.default_rng(seed)
    counts = np.cumsum(rng.integers(-3, 4, n))
    counts -= counts[n // 2]
    return (np.round(counts * 0.06103515625, 4) * (math.pi / 180)).astype(np.float32)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(64, 20_000), outliers=st.integers(0, 40))
def test_float32_multiples_round_trip(seed: int, n: int, outliers: int) -> None:
    """Whatever step the planner finds (or a near one: a walk over few counts fits a
    lattice of its own), every value comes back bit for bit, outliers included."""
    x = _degrees_at_rest(seed, n)
    rng = np.random.default_rng(seed)
    x[rng.integers(0, n, outliers)] = rng.standard_normal(outliers).astype(np.float32)
    assert decompress(compress(x)).tobytes() == x.tobytes()
