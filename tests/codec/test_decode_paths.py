"""The decoders' choices of path and their tables, against plain Python references.

Huffman blocks take the multi-value table (several values a lookup) or one value a lookup
depending on their code lengths and size; both must give the same values. The multi-value
table is checked entry by entry against a direct construction, and the dictionary gather
against out-of-range indices. Generated data only (edge cases of the decoders).
"""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.codec import compress, decompress, frame_info
from edgekit.codec._format import ERR_INDEX, HUFF_NSYM
from edgekit.codec._kernels import floats as kf
from edgekit.codec._kernels import huffman as kh


def _multi_reference(single: np.ndarray) -> np.ndarray:
    """The multi-value table built value by value from each pattern's start (Python)."""
    bits = kh.MULTI_BITS
    out = np.zeros(single.size, dtype=np.uint64)
    for w in range(single.size):
        used = count = ent = 0
        while count < 3:
            s = int(single[w >> used])
            ln, e = s & 15, (s >> 4) & 63
            if s == 0 or used + ln + e > bits:
                break
            z = ((s >> 10) << e) | ((w >> (used + ln)) & ((1 << e) - 1))
            d = (z >> 1) ^ -(z & 1)
            count += 1
            ent |= (d & 0xFFFF) << (16 * count)
            used += ln + e
        out[w] = ent | used | (count << 4)
    return out


@pytest.mark.parametrize(
    "lengths",
    [
        [3, 3, 3, 4, 3, 4, 4, 4, 3, 4, 5, 6, 7, 8, 9, 9],  # int16 audio residuals
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 12],  # one short code, long extra fields
        [12] * 130,  # only long codes: no entry holds a value
    ],
)
def test_multi_table_equals_the_value_by_value_construction(lengths: list[int]) -> None:
    lens = np.zeros(HUFF_NSYM, dtype=np.int64)
    lens[: len(lengths)] = lengths
    assert kh.huff_kraft_ok(lens, kh.MULTI_BITS)
    single = kh.huff_value_table(lens, kh.MULTI_BITS)
    assert np.array_equal(kh.huff_multi_table(single), _multi_reference(single))


@pytest.mark.parametrize("scale", [3, 70, 150])  # about 4, 8.7 and 11 bits a value
@pytest.mark.parametrize("block_size", [4096, 65536])  # short blocks: one value a lookup
def test_huffman_blocks_round_trip_on_either_path(scale: int, block_size: int) -> None:
    rng = np.random.default_rng(scale)
    x = np.cumsum(np.round(rng.laplace(0, scale, 70_000))).astype(np.int16)
    frame = compress(x, block_size=block_size)
    assert "huffman" in frame_info(frame).schemes
    assert decompress(frame).tobytes() == x.tobytes()


def test_dictionary_gather_rejects_indices_out_of_range() -> None:
    values = np.array([1.5, -2.0, 3.25])
    out = np.zeros(4)
    assert kf.dict_gather(values, np.array([2, 0, 1, 2]), out) == 0
    assert out.tolist() == [3.25, 1.5, -2.0, 3.25]
    for bad in (3, -1, -(2**63)):
        assert kf.dict_gather(values, np.array([0, bad, 1, 2]), out) == ERR_INDEX
