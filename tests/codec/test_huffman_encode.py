"""The four-stream Huffman encoder (one loop, branch-free 32-bit writers) against the
one-stream encoder run on each stream apart, on blocks long enough to fill many words."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.codec import _huffman, _kernels


def _lanes(kind: str, n: int) -> np.ndarray:
    rng = np.random.default_rng(14)
    if kind == "audio":  # int16-like residuals: codes and extra bits in one 32-bit write
        return rng.normal(0, 900, n).astype(np.int64).view(np.uint64)
    if kind == "wide":  # extra fields of up to 62 bits: the split writes
        return rng.integers(0, 2**64, n, dtype=np.uint64)
    # mostly small, a tenth huge: both paths interleaved within each stream
    small = rng.integers(-20, 20, n)
    huge = rng.integers(-(2**62), 2**62, n)
    return np.where(rng.random(n) < 0.9, small, huge).astype(np.int64).view(np.uint64)


@pytest.mark.parametrize("kind", ["audio", "wide", "mixed"])
@pytest.mark.parametrize("n", [65536, 65533, 4097])
def test_four_streams_match_each_stream_encoded_apart(kind: str, n: int) -> None:
    r = _lanes(kind, n)
    z, syms, counts = _kernels.huff_prepare(r, np.uint64(0))
    lens = _kernels.huff_lengths(counts, _huffman.MAXLEN)
    codes = _kernels.huff_codes(lens, _huffman.MAXLEN)
    joined, nbits = _kernels.huff_encode4(z, syms, codes, lens)
    parts = [_kernels.huff_encode(np.ascontiguousarray(z[j::4]), codes, lens) for j in range(4)]
    assert nbits.tolist() == [bits for _, bits in parts]
    assert joined.tobytes() == b"".join(part.tobytes() for part, _ in parts)
