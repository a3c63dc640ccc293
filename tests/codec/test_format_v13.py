"""Format version 13: integer blocks as runs of one value (the runs scheme).

A flag or a state that holds for tens of samples (a relay, a door, a survey's answer
repeated for each of a person's rows) costs a bit a value or more through the other
schemes: bit-packed at width 1, or the Huffman stage's shortest code on each zero
difference; the sparse scheme codes each change in about two bytes. The runs scheme codes
each run's value and its length through the integer schemes.

``data/frames_v13.json`` holds generated cases (seeded integer arithmetic, no wall-clock
time) and the frames edgekit wrote for them; every later reader must decode them and the
encoder must still write them byte for byte. ``data/randhie_flags.npz`` holds the first
8,000 rows of three yes/no columns (``idp``, ``hlthg``, ``hlthp``, as int8) of the RAND
Health Insurance Experiment data that statsmodels 0.15.0 ships (``statsmodels.datasets.
randhie``; public domain, see its ``COPYRIGHT``): real data the codec's benchmarks never
had.
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
from edgekit.codec._format import FORMAT_VERSION, LAG, RUNS, SPARSE
from edgekit.codec._frame import Reader
from edgekit.errors import CorruptDataError
from tests._support.frames import (
    assert_golden_case,
    assert_written_no_larger,
    first_block,
    format_12_encoder,
    golden_cases_of,
    golden_values,
    reseal,
    write_golden,
)

Array = np.ndarray[Any, Any]
DATA = Path(__file__).parent / "data"
CASES: dict[str, dict[str, Any]] = json.loads((DATA / "frames_v13.json").read_text())
OLDER = golden_cases_of(range(1, 13))
#: Cases the encoder now writes smaller (a nested block whose residuals take 2 to 64
#: distinct values as their ranks, wide-rank: 65 to 255 before): size in bytes. The
#: committed frame still decodes.
NOW_RANKED = {"runs_counts_i4_full": 1070}


def state_runs(seed: int, n: int, levels: int = 2, mean_run: float = 25.0) -> Array:
    """A state channel: runs of geometric length (``mean_run`` values on average), each
    at one of ``levels`` states (not the one before), as int64."""
    rng = np.random.default_rng(seed)
    lengths = rng.geometric(1 / mean_run, n)
    states = np.cumsum(rng.integers(1, max(levels, 2), lengths.size)) % levels
    out: Array = np.repeat(states, lengths)[:n].astype(np.int64)
    return out


def mostly_zero_counts(seed: int, n: int) -> Array:
    """Daily event counts: zero on most days in long quiet spells, a few in busy ones."""
    rng = np.random.default_rng(seed)
    busy = np.repeat(rng.random(n // 20 + 1) < 0.25, 20)[:n]
    out: Array = np.where(busy, rng.poisson(3.0, n), 0).astype(np.int64)
    return out


def golden_cases() -> dict[str, tuple[Array, dict[str, Any]]]:
    """The cases of ``data/frames_v13.json``: values and the ``compress`` arguments."""
    return {
        "runs_state_i8": (state_runs(1, 6000), {}),
        "runs_state_u1_blocks": (
            state_runs(2, 9000, levels=4).astype(np.uint8),
            {"block_size": 4096},
        ),
        "runs_counts_i4_full": (mostly_zero_counts(3, 8000).astype(np.int32), {"compact": False}),
    }


def regenerate() -> None:
    """Rewrite ``data/frames_v13.json`` (only when the format changes on purpose)."""
    write_golden(DATA / "frames_v13.json", golden_cases())


@pytest.fixture(scope="module")
def flags() -> dict[str, Array]:
    with np.load(DATA / "randhie_flags.npz") as z:
        return {name: z[name] for name in z.files}


@pytest.mark.parametrize("name", sorted(CASES))
def test_committed_v13_frame_decodes_and_is_still_written(name: str) -> None:
    case = CASES[name]
    frame = bytes.fromhex(case["frame_hex"])
    assert frame[4] == 13 and "runs" in case["schemes"]
    assert list(frame_info(frame).schemes) == case["schemes"]
    if name not in NOW_RANKED:
        assert_golden_case(case)
        return
    values = golden_values(case)
    again = compress(values, **case["kwargs"])
    assert len(again) == NOW_RANKED[name] < len(frame)
    assert frame_info(again).schemes == frame_info(frame).schemes
    for data in (frame, again):
        assert decompress(data).tobytes() == values.tobytes()


@pytest.mark.parametrize("name", sorted(OLDER))
def test_the_older_golden_cases_are_written_no_larger(name: str) -> None:
    """Every golden case of versions 1 to 12 decodes from what format 13 writes, which is
    no larger than what the format-12 encoder writes; where they differ, the frame says
    version 13."""
    assert_written_no_larger(OLDER[name], format_12_encoder, 13)


@pytest.mark.parametrize(("name", "before", "now"), [("idp", 660, 400), ("hlthg", 770, 700)])
def test_survey_flags_take_the_runs_scheme(
    flags: dict[str, Array], name: str, before: int, now: int
) -> None:
    """RAND HIE yes/no columns, one row a person-year (runs of a person's rows): a bit a
    value bit-packed, two thirds of that as ranked pairs (wide-rank), less as runs
    (measured: idp 1,001 → 665 → 332 bytes, 339 changes; hlthg 1,001 → 777 → 493, 733
    changes; over the whole columns pcodec's ratio is 190.7 and 112.7, the runs scheme's
    211.7 and 145.0), in every integer dtype."""
    for dtype in ("<i8", "<i2", "<u1", "<u4"):
        x = flags[name].astype(dtype)
        frame = compress(x)
        assert frame_info(frame).schemes == ("runs",) and frame[4] == 13
        with format_12_encoder():
            older = compress(x)
        assert len(older) >= before and len(frame) <= now
        for data in (frame, bytearray(frame), memoryview(frame)):
            got = decompress(data)
            assert got.dtype == x.dtype and got.tobytes() == x.tobytes()


@pytest.mark.parametrize("dtype", ["<f8", "<f4"])
def test_a_float_dictionary_takes_runs_for_its_indices(dtype: str) -> None:
    """A float reading held for a while among a few hundred levels (a thermostat's set
    point, counts stored as floats): a dictionary block whose indices take the runs
    scheme; the frame says version 13."""
    rng = np.random.default_rng(8)
    levels = np.round(rng.normal(20.0, 3.0, 300), 2)
    x = levels[state_runs(9, 12_000, levels=300)].astype(dtype)
    frame = compress(x)
    at = first_block(frame)
    _count, _dscheme, dlen = struct.unpack_from("<IBI", frame, at + 5)
    assert frame_info(frame).schemes == ("dictionary",) and frame[4] == 13
    assert frame[at + 5 + 9 + dlen] == RUNS  # (the index scheme, after the dictionary)
    with format_12_encoder():
        older = compress(x)
    assert older[4] < 13 and len(frame) < 0.5 * len(older)
    assert decompress(frame).tobytes() == x.tobytes()


def test_short_runs_keep_their_scheme() -> None:
    """Noise, a waveform and a clock: the pre-check finds few equal neighbours and the
    frame is the format-12 encoder's, byte for byte."""
    rng = np.random.default_rng(4)
    t = np.arange(20_000)
    for x in (
        rng.integers(0, 4, 20_000),
        (1000 * np.sin(t / 30)).astype(np.int16),
        1_700_000_000_000_000_000 + t * 15_625_000,
    ):
        assert _kernels.runs_share(x.astype(np.int64).view(np.uint64)) < _schemes.RUNS_MIN_SHARE
        with format_12_encoder():
            older = compress(x)
        assert compress(x) == older


def test_split_and_fill_are_inverse() -> None:
    x = state_runs(5, 5000, levels=3).view(np.uint64)
    values, lengths = _kernels.runs_split(x)
    assert values.size == 1 + np.count_nonzero(np.diff(x.view(np.int64)))
    assert int(lengths.sum()) + values.size == x.size
    out = np.empty_like(x)
    assert _kernels.runs_fill(values, lengths, out) == 0
    assert np.array_equal(out, x)
    one = np.full(7, 9, dtype=np.uint64)
    assert [a.tolist() for a in _kernels.runs_split(one)] == [[9], [6]]


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 20_000),
    levels=st.integers(1, 300),
    mean_run=st.floats(1.0, 400.0),
    dtype=st.sampled_from(["<i1", "<u1", "<i2", "<u2", "<i4", "<u4", "<i8", "<u8"]),
    block_size=st.sampled_from([256, 1000, 4096, 65536]),
    far=st.booleans(),
)
def test_round_trip(
    seed: int, n: int, levels: int, mean_run: float, dtype: str, block_size: int, far: bool
) -> None:
    x = state_runs(seed, n, levels, mean_run)
    if far:  # (states anywhere in the dtype's range)
        info = np.iinfo(dtype)
        rng = np.random.default_rng(seed)
        table = rng.integers(info.min, info.max, levels, endpoint=True, dtype=dtype)
        x = table[x]
    x = x.astype(dtype)
    frame = compress(x, block_size=block_size)
    assert decompress(frame).tobytes() == x.tobytes()
    assert (frame[4] == 13) == ("runs" in frame_info(frame).schemes)


def _runs_frame() -> tuple[bytes, int, bytes]:
    frame = compress(state_runs(6, 3000), compact=False)
    at = first_block(frame)
    scheme, size = struct.unpack_from("<BI", frame, at)
    assert scheme == RUNS
    return frame, at, frame[at + 5 : at + 5 + size]


def _with_payload(payload: bytes) -> bytes:
    frame, at, old = _runs_frame()
    body = frame[:at] + struct.pack("<BI", RUNS, len(payload)) + payload
    return reseal(body + frame[at + 5 + len(old) :])


def _lengths_at(payload: bytes) -> int:
    """Where the run lengths' scheme byte is (after the count, the lag and the values)."""
    _count, _lag, _vscheme, vlen = struct.unpack_from("<IBBI", payload)
    return 10 + vlen


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda p: struct.pack("<I", 0) + p[4:], "run count 0"),
        (lambda p: struct.pack("<I", 3001) + p[4:], "run count 3001"),
        (lambda p: p[:5] + bytes([LAG]) + p[6:], "run value scheme"),
        (lambda p: p[:5] + bytes([RUNS]) + p[6:], "run value scheme"),
        (lambda p: p[: _lengths_at(p)] + bytes([RUNS]) + p[_lengths_at(p) + 1 :], "length scheme"),
        (lambda p: p[:6], "."),
        (lambda p: p[:-1], "."),
    ],
)
def test_damaged_runs_blocks_are_refused(edit: Any, match: str) -> None:
    _frame, _at, payload = _runs_frame()
    with pytest.raises(CorruptDataError, match=match):
        decompress(_with_payload(edit(payload)))


@pytest.mark.parametrize("change", [-1, 1])
def test_runs_that_do_not_fill_the_block_are_refused(change: int) -> None:
    """One run count fewer or more (its lengths re-coded to match the count)."""
    x = state_runs(6, 3000).view(np.uint64)
    values, lengths = _kernels.runs_split(x)
    m = values.size + change
    values = np.resize(values, m)
    lengths = np.resize(lengths, m)
    vscheme, vpayload = _schemes.encode_int_lanes(values, None)
    lscheme, lpayload = _schemes.encode_int_lanes(lengths, None)
    payload = struct.pack("<IBBI", m, 0, vscheme, len(vpayload)) + bytes(vpayload)
    with pytest.raises(CorruptDataError, match="do not fill"):
        decompress(_with_payload(payload + bytes([lscheme]) + bytes(lpayload)))


def test_a_flags_run_values_are_coded_two_runs_back(flags: dict[str, Array]) -> None:
    """Two states alternate run by run: less the value two runs back, the values are 0
    but the first two (a sparse block of a few bytes, where bit-packed they take a bit a
    run)."""
    frame = compress(flags["idp"].astype(np.int64))
    at = first_block(frame)
    lag, vscheme, vlen = struct.unpack_from("<BBI", frame, at + 5 + 4)
    assert lag == _schemes.RUNS_LAG == 2 and vscheme == SPARSE and vlen < 40


@pytest.mark.parametrize("lag", [1, 2, 3, 255])
def test_any_lag_of_the_run_values_decodes(lag: int) -> None:
    """The reader takes any lag the field holds, as the lag schemes define it (the first
    ``lag`` values as first differences after the first)."""
    x = state_runs(10, 3000, levels=5)
    values, lengths = _kernels.runs_split(x.view(np.uint64))
    vscheme, vpayload = _schemes.encode_int_lanes(_kernels.lag_residuals(values, lag), None)
    lscheme, lpayload = _schemes.encode_int_lanes(lengths, None)
    head = struct.pack("<IBBI", values.size, lag, vscheme, len(vpayload))
    payload = head + bytes(vpayload) + bytes([lscheme]) + bytes(lpayload)
    assert decompress(_with_payload(payload)).tobytes() == x.tobytes()


def test_a_run_length_near_two_to_the_64_is_refused() -> None:
    lengths = np.array([2**64 - 1, 5], dtype=np.uint64)
    out = np.empty(6, dtype=np.uint64)
    assert _kernels.runs_fill(np.array([1, 2], dtype=np.uint64), lengths, out) != 0


@settings(max_examples=200, deadline=None)
@given(
    edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=4),
    resealed=st.booleans(),
)
def test_damaged_runs_frames_decode_or_raise_corrupt_data(
    edits: list[tuple[int, int]], resealed: bool
) -> None:
    frame, at, _payload = _runs_frame()
    damaged = bytearray(frame)
    for pos, value in edits:
        damaged[at + pos % (len(damaged) - at)] = value
    data = reseal(damaged) if resealed else bytes(damaged)
    try:
        got = decompress(data)
    except CorruptDataError:
        return
    assert got.size == 3000


def test_runs_are_never_nested() -> None:
    """A runs scheme where nested lanes are read (a levels block's index, a lag's
    residuals) is refused as a bad scheme."""
    with pytest.raises(CorruptDataError, match="bad index scheme"):
        _schemes._nested_int_scheme(Reader(memoryview(bytes([RUNS])), 0, "test"), "index scheme")


def test_a_runs_frame_is_refused_by_format_12_readers_version() -> None:
    frame = bytearray(compress(state_runs(7, 4000)))
    assert frame[4] == 13
    frame[4] = FORMAT_VERSION + 1
    with pytest.raises(CorruptDataError, match="version"):
        decompress(reseal(frame))


@settings(max_examples=300, deadline=None)
@given(
    runs=st.lists(st.tuples(st.integers(-3, 3), st.integers(1, 40)), min_size=2, max_size=400),
    step=st.sampled_from([1, 10, 1000]),
)
def test_a_size_to_beat_keeps_every_payload_under_it(
    runs: list[tuple[int, int]], step: int
) -> None:
    """Integer lanes coded against a size to beat (``beat``: a block against its runs or
    its copy) come out no larger than without it wherever that is under the size: a mode
    that cannot beat it leaves sparse and bit-packed to be tried (a sparse residual behind
    int-mult: the quickstart's drifting temperature's run values), and the Huffman stage
    and wide-rank give up only above it."""
    u = np.repeat(np.cumsum([v * step for v, _ in runs]), [n for _, n in runs]).view(np.uint64)
    for lanes in (u, _kernels.lag_residuals(u, 2)):
        free = _schemes.encode_int_lanes(lanes, None, entropy=True, modes=True)
        size = len(free[1])
        got = _schemes.encode_int_lanes(
            lanes, None, entropy=True, modes=True, beat=_schemes._headroom(size + 1)
        )
        assert len(got[1]) <= size
