"""The codec frame formats in numbers: every id, size and status code, defined once.

The Python side and the numba kernels both import them from here (numba reads a
module-level int as a constant when it compiles a kernel). A leaf module: it imports
nothing of edgekit. The layouts are specified in ``docs/codec-format.md``.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

# --- every frame ------------------------------------------------------------------------------

#: Newest format version this edgekit reads and writes. A series frame is written as
#: version 1 unless one of its blocks uses a scheme of version 2 (MULT, FMULT, FQUANT), and
#: as version 3 when one uses the scheme of version 3 (WIDE_RANK), as version 4 when one uses
#: the scheme of version 4 (REPEAT), as version 5 when one uses a scheme of version 5 (SPARSE,
#: FMULT_ADJ), as version 6 when one uses a scheme of version 6 (LAG, FDIV), as version 7
#: when one uses the scheme of version 7 (LEVELS), as version 8 when one uses the scheme of
#: version 8 (REPEAT_DIV, SPLIT), as version 9 when a block or the integer lanes nested in one
#: use the scheme of version 9 (HUFF1), as version 10 when a block or the float block nested
#: in one (a dictionary's values) uses the scheme of version 10 (FLANES), as version 11 when
#: a block uses the scheme of version 11 (COPY), as version 12 when a block or the float block
#: nested in one uses the scheme of version 12 (FGRID), as version 13 when a block uses the
#: scheme of version 13 (RUNS). A frame in the compact layout (version 7: a 1-D array in one
#: block) is written as version 7, or 8 to 13 when its block uses one of theirs.
FORMAT_VERSION = 13
#: The version of frames that use only the schemes of version 1.
FORMAT_VERSION_1 = 1
#: The version of frames whose newest scheme is one of version 2, 3 and 4.
FORMAT_VERSION_2 = 2
FORMAT_VERSION_3 = 3
FORMAT_VERSION_4 = 4
FORMAT_VERSION_5 = 5
FORMAT_VERSION_6 = 6
FORMAT_VERSION_7 = 7
FORMAT_VERSION_8 = 8
FORMAT_VERSION_9 = 9
FORMAT_VERSION_10 = 10
FORMAT_VERSION_11 = 11
FORMAT_VERSION_12 = 12
FORMAT_VERSION_13 = 13
#: Bytes of the trailing xxh3_64 checksum.
CHECKSUM_SIZE = 8
#: Bytes of the checksum of a compact series frame: the low 32 bits of its xxh3_64.
SHORT_CHECKSUM_SIZE = 4

MAGIC_SERIES = b"EKCS"
MAGIC_RECORD = b"EKCR"
MAGIC_SIGNATURE = b"EKSG"
MAGIC_DELTA = b"EKDL"

#: Bytes a decoder may produce from one frame unless its caller raises the bound
#: (``max_bytes=``): the decoded array of a series frame, the target of a delta. A frame can
#: legitimately decode to tens of thousands of times its size (a 1 Hz timestamp grid reaches
#: ~21,000x, the format allows ~37,000x), so no ratio separates real data from a bomb; an
#: absolute cap does.
DEFAULT_MAX_BYTES = 256 << 20

#: dtype code <-> numpy dtype (little-endian).
DTYPE_CODES: dict[int, np.dtype[Any]] = {
    1: np.dtype("<i1"),
    2: np.dtype("<i2"),
    3: np.dtype("<i4"),
    4: np.dtype("<i8"),
    5: np.dtype("<u1"),
    6: np.dtype("<u2"),
    7: np.dtype("<u4"),
    8: np.dtype("<u8"),
    9: np.dtype("<f4"),
    10: np.dtype("<f8"),
}
CODE_OF_DTYPE = {dt.newbyteorder("="): code for code, dt in DTYPE_CODES.items()}

# --- series frame -----------------------------------------------------------------------------

MAX_NDIM = 32
#: Values per block, at most.
MAX_BLOCK_SIZE = 65536
#: Header of a 1-D series frame: magic, version u8, dtype code u8, ndim u8 (1), value count
#: u64, block size u32.
HEAD_1D_FORMAT = "<4sBBBQI"
HEAD_1D = struct.calcsize(HEAD_1D_FORMAT)
#: Set in the dtype byte of a series frame in the compact layout (version 7): a 1-D array
#: in one block, its value count a varint of 1..3 bytes (no ndim, shape or block size), and
#: a 4-byte checksum.
COMPACT_FLAG = 0x80
#: Bytes of a compact frame's value count (LEB128: 7 bits a byte, up to MAX_BLOCK_SIZE).
COUNT_VARINT_MAX = 3
#: Header of every block: scheme id u8, payload length u32.
BLOCK_HEAD_FORMAT = "<BI"
BLOCK_HEADER = struct.calcsize(BLOCK_HEAD_FORMAT)

#: Block scheme ids (the first byte of a block). RANK is only a nested integer scheme (the
#: lanes of a MULT or FQUANT block), never a block's own scheme.
RAW, FOR, DELTA, DOD, HUFF, ALP, ALP_RD, SHUFFLE_LZ4, DICT, MULT, FMULT, FQUANT, RANK = range(13)
#: The rank scheme as an integer block's own scheme, with up to 255 residuals (version 3).
WIDE_RANK = 13
#: Float blocks as literals plus copies of earlier values of the block (version 4).
REPEAT = 14
#: Integer blocks whose residuals are one constant but at a few positions (version 5).
SPARSE = 15
#: Float blocks as near-multiples of a base plus their ulp adjustments (version 5).
FMULT_ADJ = 16
#: Integer blocks as differences ``u[i] - u[i - lag]`` across a period (version 6).
LAG = 17
#: Float blocks as integers ``k / divisor`` (k lag-differenced) plus each value's adjustment
#: (version 6).
FDIV = 18
#: Integer blocks as indices into their sorted distinct values (version 7).
LEVELS = 19
#: Float blocks as the repeat scheme's copies plus literals coded as float-div multiples
#: predicted from the multiple one period back (version 8).
REPEAT_DIV = 20
#: Float blocks as each value's top 16 bits (the sign folded in) through the integer
#: schemes and the bits below them packed (version 8).
SPLIT = 21
#: Integer lanes as the huffman scheme's payload with one stream (version 9): blocks and
#: nested lanes of fewer than HUFF1_MAX_VALUES values, never the lanes of a mode.
HUFF1 = 22
HUFF1_MAX_VALUES = 4096
#: Float blocks as their bit patterns read as integers that order like the values, through
#: the integer schemes (version 10): a dictionary's sorted values.
FLANES = 23
#: Integer blocks as spans that copy earlier values of the frame (a run of one value, a
#: stretch of waveform repeated) plus the other values through the integer schemes
#: (version 11).
COPY = 24
#: Float blocks as near-multiples of a base plus an offset, plus their ulp adjustments
#: (version 12): a calibrated sensor's ``bias + j * step``.
FGRID = 25
#: Integer blocks (and a float dictionary's indices) as their runs of one value: each
#: run's value and length through the integer schemes (version 13): a flag or a state held
#: for tens of samples.
RUNS = 26
#: Largest lag of the lag schemes (a u16 field).
LAG_LIMIT = 65535
#: Adjustment forms of the float-div and repeat-div schemes: dense (a nested integer block
#: of every value's) or sparse (the positions' gaps and the values of those not 0).
ADJ_DENSE, ADJ_SPARSE = 0, 1
#: The first scheme id of format version 2 (MULT, FMULT, FQUANT).
FIRST_V2_SCHEME = MULT
#: The first scheme id of format version 3 (WIDE_RANK).
FIRST_V3_SCHEME = WIDE_RANK
#: The first scheme id of format version 4 (REPEAT).
FIRST_V4_SCHEME = REPEAT
#: The first scheme id of format version 5 (SPARSE, FMULT_ADJ).
FIRST_V5_SCHEME = SPARSE
#: The first scheme id of format version 6 (LAG, FDIV).
FIRST_V6_SCHEME = LAG
#: The first scheme id of format version 7 (LEVELS).
FIRST_V7_SCHEME = LEVELS
#: The first scheme id of format version 8 (REPEAT_DIV, SPLIT).
FIRST_V8_SCHEME = REPEAT_DIV
#: The first scheme id of format version 9 (HUFF1).
FIRST_V9_SCHEME = HUFF1
#: The first scheme id of format version 10 (FLANES).
FIRST_V10_SCHEME = FLANES
#: The first scheme id of format version 11 (COPY).
FIRST_V11_SCHEME = COPY
#: The first scheme id of format version 12 (FGRID).
FIRST_V12_SCHEME = FGRID
#: The first scheme id of format version 13 (RUNS).
FIRST_V13_SCHEME = RUNS
SCHEME_NAMES = {
    RAW: "raw",
    FOR: "for",
    DELTA: "delta",
    DOD: "delta-of-delta",
    HUFF: "huffman",
    ALP: "alp",
    ALP_RD: "alp-rd",
    SHUFFLE_LZ4: "shuffle-lz4",
    DICT: "dictionary",
    MULT: "int-mult",
    FMULT: "float-mult",
    FQUANT: "float-quant",
    RANK: "rank",
    WIDE_RANK: "wide-rank",
    REPEAT: "repeat",
    SPARSE: "sparse",
    FMULT_ADJ: "float-mult-adj",
    LAG: "lag",
    FDIV: "float-div",
    LEVELS: "levels",
    REPEAT_DIV: "repeat-div",
    SPLIT: "split",
    HUFF1: "huffman-1",
    FLANES: "float-lanes",
    COPY: "copy",
    FGRID: "float-grid",
    RUNS: "runs",
}
#: Schemes of integer blocks (also the inner scheme of an ALP block: RAW, then FOR + order
#: for the bit-packed orders 0..2, then HUFF) and of float blocks.
INT_SCHEMES = (
    RAW,
    FOR,
    DELTA,
    DOD,
    HUFF,
    MULT,
    WIDE_RANK,
    SPARSE,
    LAG,
    LEVELS,
    HUFF1,
    COPY,
    RUNS,
)
#: Block schemes whose nested integer lanes the Python encoders choose (and may be the
#: single-stream huffman scheme of version 9); the lanes of the others are the kernels'.
NESTING_SCHEMES = (
    DICT,
    REPEAT,
    FMULT_ADJ,
    LAG,
    FDIV,
    LEVELS,
    REPEAT_DIV,
    SPLIT,
    FLANES,
    COPY,
    FGRID,
    RUNS,
)
#: Integer block schemes never nested (in the lanes of a mode, of a lag or a levels block).
TOP_ONLY_INT_SCHEMES = (LAG, LEVELS, COPY, RUNS)
FLOAT_SCHEMES = (
    RAW,
    ALP,
    ALP_RD,
    SHUFFLE_LZ4,
    DICT,
    FMULT,
    FQUANT,
    REPEAT,
    FMULT_ADJ,
    FDIV,
    REPEAT_DIV,
    SPLIT,
    FLANES,
    FGRID,
)
#: Float block schemes never nested (the literals of a repeat block, a dictionary's values).
TOP_ONLY_FLOAT_SCHEMES = (DICT, REPEAT, REPEAT_DIV, SPLIT)
#: Integer schemes nested in ALP, FMULT, FQUANT and MULT (the lanes of a mode); RANK only
#: in FQUANT and MULT.
NESTED_INT_SCHEMES = (RAW, FOR, DELTA, DOD, HUFF, RANK)
#: Rank scheme: most distinct residuals in its dictionary (nested RANK; WIDE_RANK blocks).
RANK_MAX = 64
RANK_WIDE_MAX = 255

#: Largest ALP exponent and factor (10**22 is the largest exact power of ten in a double).
ALP_MAX_EXPONENT = 22
#: Huffman stage: symbols, longest code (bits), interleaved streams.
HUFF_NSYM = 130
HUFF_MAXLEN = 12
HUFF_STREAMS = 4

# --- status codes of the kernels that parse untrusted bytes -----------------------------------

#: A block loop stopped at a block whose scheme the Python side decodes.
BLOCK_NOT_HERE = 1
ERR_SHORT = -1
ERR_ORDER = -2
ERR_SYMBOLS = -3
ERR_KRAFT = -4
ERR_STREAM_LENGTH = -5
ERR_STREAM = -6
ERR_WIDTH = -7
ERR_PARAMS = -8
ERR_POSITION = -9
ERR_SCHEME = -10
#: Framing errors of the block loops: ``series`` words these with the byte counts.
ERR_BLOCK_HEADER = -11
ERR_BLOCK_PAYLOAD = -12
ERR_TRAILING = -13
ERR_INDEX = -14
ERR_LEFT = -15

#: The message of each payload error code.
ERRORS = {
    ERR_SHORT: "payload is truncated",
    ERR_ORDER: "bad residual order for the block length",
    ERR_SYMBOLS: "bad symbol range",
    ERR_KRAFT: "code lengths do not form a prefix code",
    ERR_STREAM_LENGTH: "huffman stream longer than its values can use",
    ERR_STREAM: "huffman stream is corrupt",
    ERR_WIDTH: "bit width above 64",
    ERR_PARAMS: "exponent, factor or exception count out of range",
    ERR_POSITION: "exception position out of the block",
    ERR_SCHEME: "bad nested integer scheme",
    ERR_INDEX: "dictionary index out of range",
    ERR_LEFT: "left part wider than the word",
}
