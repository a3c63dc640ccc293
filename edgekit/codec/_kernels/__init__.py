"""Numba kernels of the codec layer, one module per algorithm; this package re-exports them.

- ``bitpack``: ``w``-bit lanes, residuals, the for/delta/delta-of-delta payloads.
- ``huffman``: the Huffman stage over zigzag residuals and its payload.
- ``floats``: ALP, ALP_RD and the dictionary scheme.
- ``modes``: format-2 modes (int-mult, float-mult, float-quant): planners and decoders.
- ``blocks``: one call per block or frame (scheme choice, encoders, the decode loops).
- ``cdc``: content-defined chunking (FastCDC).
- ``repeat``: the repeat scheme's lags and its decoders' fill (format versions 4, 8).
- ``sparse``: the sparse scheme's payload and decoder (format version 5).
- ``fmadj``: the planner of the adjusted float-mult scheme (format version 5).
- ``lag``: the period finder and transforms of the lag schemes (format version 6).
- ``levels``: the levels scheme's planner and decoder's gather (format version 7).
- ``huff1``: the single-stream huffman scheme of short blocks (format version 9).

Every id, size and status code comes from ``edgekit.codec._format``. Kernels that read
untrusted bytes never index out of bounds: callers validate sizes first, and the bit
readers stop at the end of their buffer and report an error code instead. Imported
lazily (``edgekit.codec._schemes.kernels``), so ``import edgekit.codec`` stays numba-free;
the layer's warm-up is ``edgekit.codec._warmup``.
"""

from __future__ import annotations

from edgekit.codec._kernels.bitpack import (
    bitlen,
    copy_bytes,
    decode_packed_block,
    int_stats,
    narrow_lanes,
    pack_plain,
    pack_residuals,
    residuals,
    unpack_plain,
    unpack_residuals,
)
from edgekit.codec._kernels.blocks import (
    alp_payload,
    alp_single_block,
    constant_order,
    decode_f32_blocks,
    decode_f32_frame,
    decode_f64_blocks,
    decode_f64_frame,
    decode_int_blocks,
    decode_int_frame,
    fmult_payload,
    fquant_payload,
    int_payload,
    mult_payload,
    mult_planned,
    rank_payload,
    wide_rank_payload,
)
from edgekit.codec._kernels.cdc import cdc_cut_points, gear_table
from edgekit.codec._kernels.floats import (
    alp_choose,
    alp_decode,
    alp_encode,
    alp_plan,
    alp_rank,
    alp_rd_bits,
    alp_rd_cut,
    alp_rd_decode,
    alp_search,
    count_distinct,
    decode_alp_block,
    dict_encode,
    dict_gather,
    dictionary_may_pay,
    even_sample,
    keys_to_bits,
    order_keys,
)
from edgekit.codec._kernels.fmadj import adj_factor, fmult_adj_base
from edgekit.codec._kernels.huff1 import decode_huff1_block, huff1_payload
from edgekit.codec._kernels.huffdec import decode_huff_lanes
from edgekit.codec._kernels.huffman import (
    _symbol,
    decode_huff_block,
    huff_candidate,
    huff_codes,
    huff_decode4,
    huff_decode4_integrate,
    huff_encode,
    huff_encode4,
    huff_kraft_ok,
    huff_lengths,
    huff_order,
    huff_prepare,
    huff_symbol_tables,
    huff_value_table,
    order_bits,
    order_sample,
    select_kth,
    symbol_histogram,
    third_order_gain,
    zigzag_centered,
)
from edgekit.codec._kernels.lag import (
    fdiv_gain,
    fdiv_join,
    fdiv_pays,
    fdiv_split,
    fdiv_split_at,
    find_lag,
    float_multiples,
    lag_residuals,
    lag_windows,
    sparse_adjustments,
    unlag,
)
from edgekit.codec._kernels.levels import int_levels, levels_fill
from edgekit.codec._kernels.modes import (
    decode_fmult_block,
    decode_fquant_block,
    decode_mult_block,
    decode_wide_rank_block,
    float_mult_base,
    float_quant_shift,
    int_mult_plan,
)
from edgekit.codec._kernels.repeat import (
    count_zeros,
    dict_from_lags,
    period_cost,
    period_residuals,
    repeat_div_fill,
    repeat_fill,
    repeat_lags,
    split_literals,
    top_lags,
)
from edgekit.codec._kernels.repeatdec import decode_repeat_block, decode_repeat_div_block
from edgekit.codec._kernels.sparse import decode_sparse_block, sparse_payload

__all__ = [
    "_symbol",
    "adj_factor",
    "alp_choose",
    "alp_decode",
    "alp_encode",
    "alp_payload",
    "alp_plan",
    "alp_rank",
    "alp_rd_bits",
    "alp_rd_cut",
    "alp_rd_decode",
    "alp_search",
    "alp_single_block",
    "bitlen",
    "cdc_cut_points",
    "constant_order",
    "copy_bytes",
    "count_distinct",
    "count_zeros",
    "decode_alp_block",
    "decode_f32_blocks",
    "decode_f32_frame",
    "decode_f64_blocks",
    "decode_f64_frame",
    "decode_fmult_block",
    "decode_fquant_block",
    "decode_huff1_block",
    "decode_huff_block",
    "decode_huff_lanes",
    "decode_int_blocks",
    "decode_int_frame",
    "decode_mult_block",
    "decode_packed_block",
    "decode_repeat_block",
    "decode_repeat_div_block",
    "decode_sparse_block",
    "decode_wide_rank_block",
    "dict_encode",
    "dict_from_lags",
    "dict_gather",
    "dictionary_may_pay",
    "even_sample",
    "fdiv_gain",
    "fdiv_join",
    "fdiv_pays",
    "fdiv_split",
    "fdiv_split_at",
    "find_lag",
    "float_mult_base",
    "float_multiples",
    "float_quant_shift",
    "fmult_adj_base",
    "fmult_payload",
    "fquant_payload",
    "gear_table",
    "huff1_payload",
    "huff_candidate",
    "huff_codes",
    "huff_decode4",
    "huff_decode4_integrate",
    "huff_encode",
    "huff_encode4",
    "huff_kraft_ok",
    "huff_lengths",
    "huff_order",
    "huff_prepare",
    "huff_symbol_tables",
    "huff_value_table",
    "int_levels",
    "int_mult_plan",
    "int_payload",
    "int_stats",
    "keys_to_bits",
    "lag_residuals",
    "lag_windows",
    "levels_fill",
    "mult_payload",
    "mult_planned",
    "narrow_lanes",
    "order_bits",
    "order_keys",
    "order_sample",
    "pack_plain",
    "pack_residuals",
    "period_cost",
    "period_residuals",
    "rank_payload",
    "repeat_div_fill",
    "repeat_fill",
    "repeat_lags",
    "residuals",
    "select_kth",
    "sparse_adjustments",
    "sparse_payload",
    "split_literals",
    "symbol_histogram",
    "third_order_gain",
    "top_lags",
    "unlag",
    "unpack_plain",
    "unpack_residuals",
    "wide_rank_payload",
    "zigzag_centered",
]
