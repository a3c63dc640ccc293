"""The multi-value Huffman decoder against the one-value reference decoder.

``huff_decode_multi`` (several values per table lookup, unaligned 64-bit reads, into
uint64 lanes or a narrow dtype) must give the same values and the same verdict on
bad streams as ``huff_decode4`` (one value per lookup over 64-bit words), which
test_kh.py checks against the naive Python tables.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgekit.codec import _huffman, compress, decompress, frame_info
from edgekit.codec._kernels import huffman as kh

Array = np.ndarray[Any, Any]


def _layouts(parts: list[bytes]) -> tuple[Array, Array, Array, Array]:
    """The streams as the multi decoder reads them (bytes, STREAM_PAD zeros after each)
    and as the reference reads them (64-bit words, two zero words after each)."""
    wb, starts, words, wstarts = [], [], [], []
    at = wat = 0
    for part in parts:
        wb.append(part + bytes(kh.STREAM_PAD))
        starts.append(at)
        at += len(part) + kh.STREAM_PAD
        w = np.zeros((len(part) + 7) // 8 + 2, dtype=np.uint64)
        w.view(np.uint8)[: len(part)] = np.frombuffer(part, dtype=np.uint8)
        words.append(w)
        wstarts.append(wat)
        wat += w.size
    return (
        np.frombuffer(b"".join(wb), dtype=np.uint8).copy(),
        np.array(starts, dtype=np.int64),
        np.concatenate(words),
        np.array(wstarts, dtype=np.int64),
    )


Result = tuple[int, Array]


def _both(
    lens: Array, parts: list[bytes], nbits: list[int], m: int, center: int
) -> tuple[list[Result], Result]:
    """(status, values) of the multi decoder into uint64, int16 and uint8 outputs, and of
    the reference (its values as residuals ``center + unzigzag(z)``)."""
    wb, starts, words, wstarts = _layouts(parts)
    nb = np.array(nbits, dtype=np.int64)
    single = kh.huff_value_table(lens, kh.MULTI_BITS)
    multi = kh.huff_multi_table(single)
    got = []
    for dtype in (np.uint64, np.int16, np.uint8):
        out = np.zeros(m + 2, dtype=dtype)
        status = kh.huff_decode_multi(wb, starts, nb, m, multi, single, np.uint64(center), out, 2)
        got.append((status, out[2:]))
    entry, base = kh.huff_symbol_tables(lens, _huffman.MAXLEN)
    z = np.zeros(m, dtype=np.uint64)
    status = kh.huff_decode4(words, wstarts, nb, m, entry, base, z)
    d = (z >> np.uint64(1)) ^ (np.uint64(0) - (z & np.uint64(1)))
    return got, (status, d + np.uint64(center))


def _check(got: list[Result], ref: Result) -> None:
    status, values = ref
    for s, out in got:
        assert s == (0 if status == 0 else -1)
        if status == 0:
            assert out.tobytes() == values.astype(out.dtype).tobytes()


magnitudes = st.one_of(
    st.integers(-20, 20), st.integers(-3000, 3000), st.integers(-(2**63), 2**63 - 1)
)


@settings(max_examples=150, deadline=None)
@given(values=st.lists(magnitudes, min_size=1, max_size=300), center=st.integers(0, 2**64 - 1))
def test_multi_decoder_equals_the_reference(values: list[int], center: int) -> None:
    r = np.array(values, dtype=np.int64).view(np.uint64) + np.uint64(center)
    z, _syms, counts = kh.huff_prepare(r, np.uint64(center))
    lens = kh.huff_lengths(counts, _huffman.MAXLEN)
    codes = kh.huff_codes(lens, _huffman.MAXLEN)
    parts = [kh.huff_encode(np.ascontiguousarray(z[j::4]), codes, lens) for j in range(4)]
    streams = [p.tobytes() for p, _ in parts]
    nbits = [int(b) for _, b in parts]
    got, ref = _both(lens, streams, nbits, len(values), center)
    assert ref[0] == 0 and np.array_equal(ref[1], r)
    _check(got, ref)
    # A stream that ends one bit early is refused by both.
    for j in range(4):
        if nbits[j] > 0:
            short = list(nbits)
            short[j] -= 1
            got, ref = _both(lens, streams, short, len(values), center)
            assert ref[0] == -1
            _check(got, ref)


@settings(max_examples=300, deadline=None)
@given(
    counts=st.lists(st.integers(0, 1000), min_size=130, max_size=130).filter(any),
    data=st.data(),
)
def test_multi_decoder_on_garbage_streams_agrees_with_the_reference(
    counts: list[int], data: st.DataObject
) -> None:
    lens = kh.huff_lengths(np.array(counts, dtype=np.int64), _huffman.MAXLEN)
    m = data.draw(st.integers(0, 200))
    streams, nbits = [], []
    for j in range(4):
        carried = (m - j + 3) // 4
        raw = data.draw(st.binary(max_size=10 * carried + 2))
        streams.append(raw)
        nbits.append(data.draw(st.integers(0, min(8 * len(raw), 74 * carried))))
    streams = [s[: (b + 7) // 8] for s, b in zip(streams, nbits, strict=True)]
    got, ref = _both(lens, streams, nbits, m, data.draw(st.integers(0, 2**64 - 1)))
    _check(got, ref)


@pytest.mark.parametrize(
    "dtype", ["int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64"]
)
def test_huffman_frames_of_every_integer_dtype_round_trip(dtype: str) -> None:
    # A random walk (wrapping in the narrow dtypes) with many distinct steps: two blocks
    # of the huffman scheme (8-bit data has too few distinct values to be sure of it).
    wide = np.dtype(dtype).itemsize > 1
    steps = np.random.default_rng(7).normal(0, 300 if wide else 9, 70_000)
    x = np.cumsum(steps).astype(np.int64).astype(dtype)
    frame = compress(x)
    assert "huffman" in frame_info(frame).schemes or not wide
    fast = decompress(frame)
    assert fast.dtype == x.dtype and fast.tobytes() == x.tobytes()
    assert decompress(bytearray(frame)).tobytes() == x.tobytes()  # the general path
