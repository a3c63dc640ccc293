"""Format version 11: the copy scheme, spans of integer values that repeat earlier ones.

A speech synthesiser builds its waveform from stored units: espeak-ng's speech repeats
stretches of hundreds of samples exactly (13 % of a sentence's samples, from up to 92,000
samples back) and holds digital silence for thousands (16 %). The Huffman stage codes each
of those values at a bit or more; a span (where it starts, its length, how far back it
copies from) takes a few bytes. An integer block whose spans cover a tenth of it or more
stores them in a span table and codes the other values through the integer schemes; a span
may copy from earlier blocks.

``data/frames_v11.json`` holds generated cases (seeded integer arithmetic, no wall-clock
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
from edgekit.codec._format import CODE_OF_DTYPE, COPY, FOR, FORMAT_VERSION, HUFF, RAW
from edgekit.codec._kernels import spans as _spans
from edgekit.codec._kernels.spans import LOOKUP, STRIDE, WINDOW, find_spans, span_share
from edgekit.errors import CorruptDataError
from tests._support.audio import speech
from tests._support.frames import (
    assert_golden_case,
    assert_written_no_larger,
    format_10_encoder,
    golden_cases_of,
    reseal,
    write_golden,
)

Array = np.ndarray[Any, Any]
DATA = Path(__file__).parent / "data"
CASES: dict[str, dict[str, Any]] = json.loads((DATA / "frames_v11.json").read_text())
OLDER = golden_cases_of(range(1, 11))
#: espeak-ng's own sample rate (no resampling: its samples as it wrote them).
ESPEAK_SR = 22050


def unit_speech(seed: int, n: int, dtype: str = "<i2") -> Array:
    """A waveform built as a synthesiser builds one: stretches of silence, fresh noise and
    copies of earlier stretches (300 to 1,500 values, from anywhere before)."""
    rng = np.random.default_rng(seed)
    out = np.zeros(n, dtype=np.int64)
    at = 0
    while at < n:
        kind = rng.integers(0, 3)
        length = int(rng.integers(300, 1500))
        stop = min(at + length, n)
        if kind == 1 or at < 2000:
            out[at:stop] = np.cumsum(rng.integers(-400, 401, stop - at)) % 20000 - 10000
        elif kind == 2:
            src = int(rng.integers(0, at - length)) if at > length else 0
            out[at:stop] = out[src : src + stop - at]
        at = stop
    return out.astype(dtype)


def golden_cases() -> dict[str, tuple[Array, dict[str, Any]]]:
    """The cases of ``data/frames_v11.json``: values and the ``compress`` arguments."""
    return {
        "copy_int16_compact": (unit_speech(1, 12_000), {}),
        "copy_int64_blocks": (unit_speech(2, 12_000, "<i8"), {"block_size": 4096}),
        "copy_uint32_full": (unit_speech(4, 9000, "<i4").view("<u4"), {"compact": False}),
    }


def regenerate() -> None:
    """Rewrite ``data/frames_v11.json`` (only when the format changes on purpose)."""
    write_golden(DATA / "frames_v11.json", golden_cases())


@pytest.mark.parametrize("name", sorted(CASES))
def test_committed_v11_frame_decodes_and_is_still_written(name: str) -> None:
    case = CASES[name]
    frame = bytes.fromhex(case["frame_hex"])
    assert frame[4] == 11 and "copy" in case["schemes"]
    assert list(frame_info(frame).schemes) == case["schemes"]
    assert_golden_case(case)


@pytest.mark.parametrize("name", sorted(OLDER))
def test_the_older_golden_cases_are_written_no_larger(name: str) -> None:
    """Every golden case of versions 1 to 10 decodes from what format 11 writes, which is
    no larger than what the format-10 encoder writes; where they differ, the frame says
    version 11."""
    assert_written_no_larger(OLDER[name], format_10_encoder, 11)


def test_espeak_speech_takes_the_copy_scheme_and_fewer_bytes() -> None:
    """Real synthesised speech (espeak-ng at its own rate): silence and reused units go
    into spans, a sixth fewer bytes or more; bit for bit back on both decode paths."""
    x = speech(
        "Edge devices store sensor series and timestamps every second of the day. "
        "Sensor series, timestamps, every second.",
        sr=ESPEAK_SR,
    )
    frame = compress(x)
    with format_10_encoder():
        before = compress(x)
    assert "copy" in frame_info(frame).schemes and frame[4] == 11 and before[4] < 11
    assert len(frame) < 0.85 * len(before)
    for data in (frame, bytearray(frame)):
        assert decompress(data).tobytes() == x.tobytes()


def test_series_without_long_repeats_never_search_for_spans() -> None:
    """A clock, a random walk and noise: the probes find nothing, no span is searched."""
    rng = np.random.default_rng(3)
    for x in (
        1_700_000_000_000 + np.cumsum(rng.integers(15, 17, 30_000)) * 1_000_000,
        np.cumsum(rng.integers(-50, 51, 30_000)).astype(np.int32),
        rng.integers(-(2**15), 2**15, 30_000).astype(np.int16),
    ):
        assert span_share(x.view(f"<u{x.itemsize}")) == 0.0
        assert _schemes.frame_spans(x) is None
        assert "copy" not in frame_info(compress(x)).schemes


def test_held_readings_are_not_searched_for_copies() -> None:
    """Where most sampled adjacent values are equal (held readings: BSRN's 1-minute
    pressure), the runs scheme codes them and the frame is not searched for spans, though
    its probes find plenty; the frame is the runs scheme's either way."""
    rng = np.random.default_rng(9)
    x = np.repeat(950 + np.cumsum(rng.integers(-1, 2, 300)), rng.integers(40, 200, 300))
    bits = x.view(np.uint64)
    assert span_share(bits) >= _schemes.COPY_MIN_SHARE
    assert _schemes.frame_spans(x) is None
    assert frame_info(compress(x)).schemes == ("runs",)
    assert find_spans(bits, _schemes.COPY_MIN_SPAN)[0].size  # (spans there were)


def test_a_copy_payload_of_the_size_to_beat_or_more_is_not_built() -> None:
    """encode_copy with a ``limit``: the payload where it comes in under it, else None,
    and whether the block is to be encoded whole too either way."""
    x = np.tile(np.arange(300, dtype=np.int64) * 7919 % 1000, 20)
    spans = _schemes.frame_spans(x)
    assert spans is not None
    full = _schemes.encode_copy(x, 0, x.size, spans, entropy=True)
    assert full is not None and full[0] is not None
    size, whole = len(full[0]), full[1]
    assert _schemes.encode_copy(x, 0, x.size, spans, entropy=True, limit=size + 1) == full
    assert _schemes.encode_copy(x, 0, x.size, spans, entropy=True, limit=size) == (None, whole)
    assert _schemes.encode_copy(x, 0, x.size, spans, entropy=True, limit=1) == (None, whole)


def test_long_copies_are_found() -> None:
    """A copy of 256 values or more from at least its length back is found whole (it has
    a looked-up window whose copy is indexed every STRIDE x LOOKUP values; a later window
    may have taken that one's slot of the table: rarely, and the next chance is as far on);
    a run (a copy from fewer values back than its length) over most of its length. Every
    span found copies its values, value by value."""
    rng = np.random.default_rng(4)
    whole = 0
    trials = 300
    for trial in range(trials):
        x = rng.integers(0, 2**16, 8000).astype(np.uint16)
        length = int(rng.integers(256, 1500))
        dst = int(rng.integers(length, x.size - length))
        run = trial % 3 == 0
        dist = int(rng.integers(1, 40)) if run else int(rng.integers(length, dst + 1))
        for i in range(dst, dst + length):  # (value by value: a short distance is a run)
            x[i] = x[i - dist]
        starts, dists, lengths = find_spans(x, 256)
        covered = np.zeros(x.size, dtype=bool)
        for s, d, ln in zip(starts, dists, lengths, strict=True):
            assert ln >= 256 and 1 <= d <= s
            assert all(x[i] == x[i - d] for i in range(s, s + ln))
            covered[s : s + ln] = True
        share = covered[dst : dst + length].mean()
        if run:
            assert share >= 0.5, (trial, dst, dist, length, share)
        whole += not run and share == 1.0
    assert whole >= 0.9 * (trials - trials // 3)
    assert STRIDE * LOOKUP + WINDOW <= 256


def _spans_growing_every_match(v: Array, min_span: int) -> tuple[list[int], ...]:
    """find_spans as it was before runs shorter than ``min_span`` were skipped: every
    match grown both ways (pure Python, the kernel's own hash and slots)."""
    n = v.size
    starts: list[int] = []
    dists: list[int] = []
    lengths: list[int] = []
    if n < max(min_span, WINDOW + 1):
        return starts, dists, lengths
    bits = 10
    while (1 << bits) < 2 * (n // STRIDE + 1):
        bits += 1
    table = [-1] * (1 << bits)

    def slot(i: int) -> int:
        h = 0
        for k in range(WINDOW):
            h = (h * _spans.BASE + int(v[i + k])) % 2**64
        return (h * int(_spans._MIX)) % 2**64 >> (64 - bits)

    indexed = done = 0
    i = LOOKUP
    while i + WINDOW <= n:
        while indexed < i and indexed + WINDOW <= n:
            table[slot(indexed)] = indexed
            indexed += STRIDE
        j = table[slot(i)]
        if 0 <= j < i and np.array_equal(v[i : i + WINDOW], v[j : j + WINDOW]):
            d, a, e = i - j, i, i + WINDOW
            while a > done and a - d > 0 and v[a - 1] == v[a - 1 - d]:
                a -= 1
            while e < n and v[e] == v[e - d]:
                e += 1
            if e - a >= min_span:
                starts.append(a)
                dists.append(d)
                lengths.append(e - a)
                done = e
                i = (e + LOOKUP - 1) // LOOKUP * LOOKUP
                continue
        i += LOOKUP
    return starts, dists, lengths


@settings(max_examples=40, deadline=None)
@given(
    segments=st.lists(
        st.tuples(st.integers(0, 2), st.integers(1, 300), st.integers(0, 2**32 - 1)),
        min_size=1,
        max_size=25,
    ),
    min_span=st.sampled_from([16, 40, 100, 256]),
)
def test_short_runs_skipped_find_the_same_spans(
    segments: list[tuple[int, int, int]], min_span: int
) -> None:
    """Skipping the matches inside a run shorter than the shortest span finds the same
    spans as growing every match (runs, copies and fresh values of any length)."""
    x = _build(segments, "<u2")
    found = find_spans(x, min_span)
    assert [list(a) for a in found] == list(_spans_growing_every_match(x, min_span))


def _segments() -> st.SearchStrategy[list[tuple[int, int, int]]]:
    """A series as segments: (kind, length, seed): 0 fresh values, 1 a run, 2 a copy."""
    return st.lists(
        st.tuples(st.integers(0, 2), st.integers(1, 1500), st.integers(0, 2**32 - 1)),
        min_size=1,
        max_size=30,
    )


def _build(segments: list[tuple[int, int, int]], dtype: str) -> Array:
    dt = np.dtype(dtype)
    x = np.zeros(0, dtype=dt)
    for kind, length, seed in segments:
        rng = np.random.default_rng(seed)
        if kind == 0 or x.size == 0:
            part = rng.integers(0, 256, length * dt.itemsize, dtype=np.uint8).view(dt)
        elif kind == 1:
            part = np.full(length, x[-1], dtype=dt)
        else:
            part = np.resize(x[int(rng.integers(0, x.size)) :], length)
        x = np.concatenate([x, part])
    return x


@settings(max_examples=60, deadline=None)
@given(
    segments=_segments(),
    dtype=st.sampled_from(["<i1", "<u1", "<i2", "<u2", "<i4", "<u4", "<i8", "<u8"]),
    block_size=st.sampled_from([300, 1024, 4096, 65536]),
)
def test_copies_round_trip_bit_for_bit(
    segments: list[tuple[int, int, int]], dtype: str, block_size: int
) -> None:
    """Runs and copies of any length, from any distance, in blocks of any size, for every
    integer dtype: the frame decodes to the values on both paths (the compiled block loop
    and the Python one)."""
    x = _build(segments, dtype)
    saved = _schemes.COPY_MIN_VALUES
    _schemes.COPY_MIN_VALUES = 1  # (frames of any size are searched)
    try:
        frame = compress(x, block_size=block_size)
    finally:
        _schemes.COPY_MIN_VALUES = saved
    for data in (frame, bytearray(frame)):
        got = decompress(data)
        assert got.dtype == x.dtype and got.tobytes() == x.tobytes()


def _frame(values: Array, payload: bytes, block_size: int = 65536, before: bytes = b"") -> bytes:
    """A full-layout int16 frame of ``values.size`` values: the blocks ``before`` (whole,
    headers included) then one copy block of ``payload``."""
    code = CODE_OF_DTYPE[np.dtype(np.int16)]
    head = struct.pack("<4sBBBQI", b"EKCS", 11, code, 1, values.size, block_size)
    return reseal(head + before + struct.pack("<BI", COPY, len(payload)) + payload + bytes(8))


def _varints(*values: int) -> bytes:
    out = bytearray()
    for v in values:
        while v >= 0x80:
            out.append(v & 0x7F | 0x80)
            v >>= 7
        out.append(v)
    return bytes(out)


def _raw_rest(values: list[int]) -> bytes:
    return bytes([RAW]) + np.array(values, dtype="<i2").tobytes()


def _every_candidate_built(flat: Array, spans: Any) -> int:
    """The size the chooser's rules pick with every candidate built in full (no size to
    beat): copy unless another is smaller, the block's own scheme unless runs are."""
    lanes, stats = _schemes.int_lanes(flat)
    runs = _schemes.encode_runs(lanes, entropy=True)
    copied = (
        None if spans is None else _schemes.encode_copy(flat, 0, flat.size, spans, entropy=True)
    )
    other = None
    if copied is None or copied[1]:
        other = len(_schemes.encode_int_block(lanes, flat, entropy=True, stats=stats)[1])
        if runs is not None and len(runs) < other:
            other = len(runs)
    elif runs is not None:
        other = len(runs)
    if copied is None:
        assert other is not None
        return other
    assert copied[0] is not None
    return len(copied[0]) if other is None or len(copied[0]) <= other else other


@settings(max_examples=40, deadline=None)
@given(
    segments=_segments(),
    dtype=st.sampled_from(["<i2", "<u2", "<i8"]),
)
def test_candidates_built_against_the_size_to_beat_are_never_larger(
    segments: list[tuple[int, int, int]], dtype: str
) -> None:
    """Runs first, then copy and the block's own scheme against the size to beat: the
    block is never larger than with every candidate built in full."""
    x = _build(segments, dtype)
    saved = _schemes.COPY_MIN_VALUES
    _schemes.COPY_MIN_VALUES = 1
    token = _schemes.track_nested()
    try:
        spans = _schemes.frame_spans(x)
        _scheme, payload = _schemes.encode_frame_block(x, 0, x.size, spans, entropy=True)
        assert len(payload) <= _every_candidate_built(x, spans)
    finally:
        _schemes.reset_nested(token)
        _schemes.COPY_MIN_VALUES = saved


def test_the_decoder_reads_a_hand_made_block() -> None:
    """Two spans: a run (distance 1) and a copy from two values back, overlapping itself;
    the other values raw (a nested scheme the block loop leaves to Python) or bit-packed
    (one it decodes)."""
    # values: 5 7 | 7 7 7 (run) | 9 | 7 9 7 9 (copy 2 back) | -3
    want = np.array([5, 7, 7, 7, 7, 9, 7, 9, 7, 9, -3], dtype=np.int16)
    table = _varints(2, 2, 3, 1, 1, 4, 2)
    frame = _frame(want, table + _raw_rest([5, 7, 9, -3]))
    for data in (frame, bytearray(frame)):
        assert decompress(data).tobytes() == want.tobytes()
    rest = np.arange(200, dtype=np.int16) % 4
    scheme, payload = _schemes.encode_int_values(rest, entropy=False)
    assert scheme == FOR
    want = np.concatenate([rest[:100], np.full(300, rest[99]), rest[100:]])
    frame = _frame(want, _varints(1, 100, 300, 1) + bytes([scheme]) + bytes(payload))
    for data in (frame, bytearray(frame)):
        assert decompress(data).tobytes() == want.tobytes()
    # A block all spans: no nested block; its span copies from the block before.
    first = np.array([1, 2, 3], dtype=np.int16)
    before = struct.pack("<BI", RAW, 6) + first.tobytes()
    frame = _frame(np.array([1, 2, 3, 2, 3, 2], dtype=np.int16), _varints(1, 0, 3, 2), 3, before)
    for data in (frame, bytearray(frame)):
        assert decompress(data).tolist() == [1, 2, 3, 2, 3, 2]


def _assert_corrupt(frame: bytes, match: str) -> None:
    for data in (frame, bytearray(frame)):
        with pytest.raises(CorruptDataError, match=match):
            decompress(data)


def test_bad_copy_blocks_are_corrupt() -> None:
    x = np.zeros(6, dtype=np.int16)
    rest = _raw_rest([1, 2])
    # a span copying from before the frame, of length 0, past the block's end; distance 0
    _assert_corrupt(_frame(x, _varints(1, 2, 4, 3) + rest), "before the frame")
    _assert_corrupt(_frame(x, _varints(1, 2, 0, 1) + _raw_rest([1] * 6)), "before the frame")
    _assert_corrupt(_frame(x, _varints(1, 2, 5, 1) + rest), "out of the block")
    _assert_corrupt(_frame(x, _varints(1, 2, 4, 0) + rest), "out of the block")
    _assert_corrupt(_frame(x, _varints(7) + rest), "out of the block")
    # truncated or overlong varints
    _assert_corrupt(_frame(x, _varints(1, 2)), "truncated")
    _assert_corrupt(_frame(x, b"\xff" * 11 + rest), "truncated")
    # the rest: a copy block nested, an unknown scheme, short, trailing bytes
    _assert_corrupt(_frame(x, _varints(1, 2, 4, 1) + bytes([COPY]) + rest[1:]), "rest scheme 24")
    _assert_corrupt(_frame(x, _varints(1, 2, 4, 1) + bytes([99]) + rest[1:]), "rest scheme 99")
    _assert_corrupt(_frame(x, _varints(1, 2, 4, 1) + rest[:-1]), "raw block")
    _assert_corrupt(_frame(x, _varints(1, 2, 4, 1) + rest + b"\x00"), "trailing")
    _assert_corrupt(_frame(x, _varints(1, 2, 4, 1) + bytes([HUFF]) + b"\x00"), "huffman")


def test_a_copy_frame_is_refused_by_format_10_readers_version() -> None:
    """The frame says version 11: a reader of format 10 refuses it by its version (the
    newest version this reader knows is 11)."""
    frame = bytearray(compress(unit_speech(5, 12_000)))
    assert frame[4] == 11
    frame[4] = FORMAT_VERSION + 1
    with pytest.raises(CorruptDataError, match="version"):
        decompress(reseal(frame))
