"""Lossless compression of numeric arrays into self-describing frames, and the series encoder.

:func:`compress` splits the flattened (C order) array into blocks and encodes each block
with the cheapest scheme for it; :func:`decompress` returns an array of the same dtype
and shape, equal to the bit. The frame layout is in ``docs/codec-format.md``.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, NoReturn, cast

import numpy as np

from edgekit._jit import kernel_view
from edgekit.codec import _schemes
from edgekit.codec._format import (
    ALP,
    BLOCK_HEAD_FORMAT,
    BLOCK_HEADER,
    BLOCK_NOT_HERE,
    CHECKSUM_SIZE,
    CODE_OF_DTYPE,
    COMPACT_FLAG,
    COPY,
    COUNT_VARINT_MAX,
    DEFAULT_MAX_BYTES,
    DELTA,
    DOD,
    DTYPE_CODES,
    ERR_BLOCK_HEADER,
    ERR_BLOCK_PAYLOAD,
    ERR_TRAILING,
    ERRORS,
    FDIV,
    FGRID,
    FIRST_V2_SCHEME,
    FIRST_V3_SCHEME,
    FIRST_V4_SCHEME,
    FIRST_V5_SCHEME,
    FIRST_V6_SCHEME,
    FIRST_V7_SCHEME,
    FIRST_V8_SCHEME,
    FIRST_V9_SCHEME,
    FIRST_V10_SCHEME,
    FIRST_V11_SCHEME,
    FIRST_V12_SCHEME,
    FIRST_V13_SCHEME,
    FLOAT_SCHEMES,
    FMULT,
    FMULT_ADJ,
    FOR,
    FORMAT_VERSION,
    FORMAT_VERSION_1,
    FORMAT_VERSION_2,
    FORMAT_VERSION_3,
    FORMAT_VERSION_4,
    FORMAT_VERSION_5,
    FORMAT_VERSION_6,
    FORMAT_VERSION_7,
    FORMAT_VERSION_8,
    FORMAT_VERSION_9,
    FORMAT_VERSION_10,
    FORMAT_VERSION_11,
    FORMAT_VERSION_12,
    FORMAT_VERSION_13,
    FQUANT,
    HEAD_1D_FORMAT,
    HUFF,
    HUFF1,
    INT_SCHEMES,
    LAG,
    MAGIC_RECORD,
    MAGIC_SERIES,
    MAX_BLOCK_SIZE,
    MAX_NDIM,
    MULT,
    NESTING_SCHEMES,
    RAW,
    REPEAT,
    REPEAT_DIV,
    SCHEME_NAMES,
    SHORT_CHECKSUM_SIZE,
)
from edgekit.codec._frame import Reader, as_bytes, open_frame, seal, xxh3_64_fast
from edgekit.errors import CorruptDataError, InvalidInputError

__all__ = [
    "DEFAULT_BLOCK_SIZE",
    "FrameInfo",
    "SeriesEncoder",
    "compress",
    "decode_series",
    "decompress",
    "encode_series",
    "frame_info",
]

#: Values per block (each block picks its own scheme); at most 65536.
DEFAULT_BLOCK_SIZE = 65536

Array = np.ndarray[Any, Any]

#: dtype code of each little-endian dtype (arrays of these need no conversion).
_CODE_LE = {dt: code for code, dt in DTYPE_CODES.items()}
_BLOCK_HEAD = struct.Struct(BLOCK_HEAD_FORMAT)
_HEAD_1D = struct.Struct(HEAD_1D_FORMAT)
#: numpy dtype of the bit view of each float dtype.
_BITS_OF: dict[np.dtype[Any], np.dtype[Any]] = {
    np.dtype("<f4"): np.dtype("<u4"),
    np.dtype("<f8"): np.dtype("<u8"),
}


def _check_array(array: object) -> Array:
    if not isinstance(array, np.ndarray):
        try:
            array = np.asarray(array)
        except Exception as exc:
            raise InvalidInputError(f"cannot make an array of {type(array).__name__}") from exc
    assert isinstance(array, np.ndarray)
    native = array.dtype.newbyteorder("=")
    if native not in CODE_OF_DTYPE:
        raise InvalidInputError(
            f"dtype {array.dtype} is not supported; use int8..int64, uint8..uint64, float32 or float64"
        )
    if array.ndim > MAX_NDIM:
        raise InvalidInputError(f"{array.ndim} dimensions is more than {MAX_NDIM}")
    return kernel_view(np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")))


def compress(
    array: object,
    *,
    level: int | None = None,
    block_size: int = DEFAULT_BLOCK_SIZE,
    compact: bool = True,
) -> bytes:
    """Compress a numeric array losslessly into one self-describing frame.

    Args:
        array: int8..int64, uint8..uint64, float32 or float64 data of any shape; N-D
            arrays keep their shape and are encoded flattened in C order. NaN payloads,
            -0.0, infinities and subnormals are kept to the bit.
        level: 1 = bit-packing and ALP only (fastest); 2 or None = also try the Huffman
            stage on integer residuals (default).
        block_size: values per block (1..65536); each block picks its own scheme.
        compact: write a 1-D array that fits in one block in the compact layout of format
            version 7 (a 7-9 byte header and a 4-byte checksum instead of 19 and 8: it
            matters on frames of a few hundred bytes). ``False`` writes the full layout,
            which readers of format versions 1 to 6 also read.

    Returns:
        The frame bytes (see ``docs/codec-format.md``).

    Raises:
        InvalidInputError: unsupported dtype, too many dimensions, or a bad level/block size.
    """
    if (
        type(array) is np.ndarray
        and 0 < array.ndim <= MAX_NDIM
        and array.flags.c_contiguous
        and array.flags.writeable
        and (code := _CODE_LE.get(array.dtype)) is not None
    ):
        x: Array = array  # the common case: nothing to convert
    else:
        x = _check_array(array)
        code = CODE_OF_DTYPE[x.dtype.newbyteorder("=")]
    if level not in (None, 1, 2):
        raise InvalidInputError(f"level must be None, 1 or 2, not {level!r}")
    if not isinstance(block_size, int) or not 1 <= block_size <= MAX_BLOCK_SIZE:
        raise InvalidInputError(
            f"block_size must be an int in 1..{MAX_BLOCK_SIZE}, not {block_size!r}"
        )
    entropy = level != 1
    flat = x.reshape(-1)
    n = flat.size
    if x.ndim == 1 and compact and n <= block_size:
        out = bytearray(MAGIC_SERIES)
        out += bytes((FORMAT_VERSION_7, code | COMPACT_FLAG))
        while n >= 0x80:  # the value count as a varint
            out.append(n & 0x7F | 0x80)
            n >>= 7
        out.append(n)
        n = flat.size
    elif x.ndim == 1:
        out = bytearray(_HEAD_1D.pack(MAGIC_SERIES, FORMAT_VERSION_1, code, 1, n, block_size))
    else:
        out = bytearray(MAGIC_SERIES)
        out += struct.pack("<BBB", FORMAT_VERSION_1, code, x.ndim)
        out += struct.pack(f"<{x.ndim}Q", *x.shape)
        out += struct.pack("<I", block_size)
    # The version byte stays 1 unless a block (or integer lanes nested in one) uses a
    # scheme of version 2 or later.
    token = _schemes.track_nested()
    try:
        newest = 0
        if x.dtype.kind == "f":
            if n:
                pairs = None
                probe = np.zeros(1, dtype=x.dtype)
                modes = _schemes.float_modes(flat, probe)
                if n <= block_size and modes == (0.0, 0):
                    # One block: one kernel call does it all when ALP wins outright (unless
                    # repeated values may make the repeat scheme smaller), or the float-div
                    # scheme where the ALP multiples repeat a period or ALP's exceptions are
                    # decimals it takes as small adjustments (code 2: ALP is not built), or
                    # many (code 3: ALP is built only where float-div with a lag is not
                    # under the bytes they alone would take).
                    bits = _BITS_OF[x.dtype]
                    done, pairs, payload, floor = _schemes.kernels().alp_single_block(
                        flat,
                        flat.view(bits),
                        _schemes.alp_emax(x),
                        probe,
                        probe.view(bits),
                        entropy,
                    )
                    size = (
                        _schemes.alp_estimate(flat, pairs, probe)
                        if done in (2, 3) and not payload.size
                        else payload.size
                    )
                    if done != 1 and (
                        _schemes.repeats_may_pay(flat, 8 * size / n)
                        or _schemes.adjusted_may_pay(flat, 8 * size / n)
                    ):
                        done = 1
                    found = None
                    if done == 0:
                        found = _schemes.alp_or_float_div(flat, payload, entropy=entropy)
                    elif done == 2:
                        found = _schemes.float_div_of(
                            flat, pairs, probe, payload, size, entropy=entropy
                        )
                    elif done == 3:  # (None: ALP takes over 0.6 of the bytes)
                        found = _schemes.float_div_before_alp(
                            flat, pairs, probe, size, floor, entropy=entropy
                        )
                    if found is not None:
                        scheme, best = found
                        out += _BLOCK_HEAD.pack(scheme, len(best))
                        out += best
                        return _sealed(out, _with_nested(scheme))
                plan = _schemes.FloatPlan(flat, pairs, probe, modes)
                for start in range(0, n, block_size):
                    block = flat[start : start + block_size] if n > block_size else flat
                    scheme, payload = _schemes.encode_float_block(block, plan, entropy=entropy)
                    newest = max(newest, _with_nested(scheme))
                    out += _BLOCK_HEAD.pack(scheme, len(payload))
                    out += payload
            return _sealed(out, newest)
        # (spans that repeat earlier values, searched where probes find them: the copy
        # scheme of the blocks they cover)
        spans = _schemes.frame_spans(flat) if entropy else None
        for start in range(0, n, block_size):
            stop = min(start + block_size, n)
            scheme, payload = _schemes.encode_frame_block(flat, start, stop, spans, entropy=entropy)
            newest = max(newest, _with_nested(scheme))
            out += _BLOCK_HEAD.pack(scheme, len(payload))
            out += payload
        return _sealed(out, newest)
    finally:
        _schemes.reset_nested(token)


def _with_nested(scheme: int) -> int:
    """The scheme id that sets the version of a block of ``scheme``: the nested lanes'
    newest where the scheme nests lanes that the encoders of ``_schemes`` chose."""
    nested = _schemes.take_nested()
    return max(scheme, nested) if scheme in NESTING_SCHEMES else scheme


def version_of(newest: int) -> int:
    """The format version of a frame whose newest scheme id (nested ones included) is
    ``newest``: 1 for the schemes of version 1."""
    for first, version in _FIRST_SCHEMES:
        if newest >= first:
            return version
    return 1


def _sealed(out: bytearray, newest: int) -> bytes:
    """Seal a series frame, marked with the version of its largest block scheme id
    ``newest`` (a compact frame is at least version 7)."""
    out[4] = max(out[4], version_of(newest))
    return seal(out, short=bool(out[5] & COMPACT_FLAG))


#: The first scheme id of each format version from 2 on, newest first.
_FIRST_SCHEMES = (
    (FIRST_V13_SCHEME, FORMAT_VERSION_13),
    (FIRST_V12_SCHEME, FORMAT_VERSION_12),
    (FIRST_V11_SCHEME, FORMAT_VERSION_11),
    (FIRST_V10_SCHEME, FORMAT_VERSION_10),
    (FIRST_V9_SCHEME, FORMAT_VERSION_9),
    (FIRST_V8_SCHEME, FORMAT_VERSION_8),
    (FIRST_V7_SCHEME, FORMAT_VERSION_7),
    (FIRST_V6_SCHEME, FORMAT_VERSION_6),
    (FIRST_V5_SCHEME, FORMAT_VERSION_5),
    (FIRST_V4_SCHEME, FORMAT_VERSION_4),
    (FIRST_V3_SCHEME, FORMAT_VERSION_3),
    (FIRST_V2_SCHEME, FORMAT_VERSION_2),
)


@dataclass(frozen=True)
class FrameInfo:
    """What a series frame holds, read from its header and block table.

    Attributes:
        dtype: element dtype.
        shape: array shape.
        block_size: values per block.
        schemes: scheme name of each block, in order.
        block_bytes: payload bytes of each block.
        nbytes: frame size in bytes.
    """

    dtype: np.dtype[Any]
    shape: tuple[int, ...]
    block_size: int
    schemes: tuple[str, ...]
    block_bytes: tuple[int, ...]
    nbytes: int


_U32 = struct.Struct("<I")
_CODE_NDIM = struct.Struct("<BB")
_SHAPE_1D = struct.Struct("<QI")


@cache
def _shape_struct(ndim: int) -> struct.Struct:
    return struct.Struct(f"<{ndim}QI")


def _read_header(
    data: object, max_elements: int | None, max_bytes: int | None = None
) -> tuple[Reader, np.dtype[Any], tuple[int, ...], int, int]:
    view = (
        data if type(data) is memoryview and data.format == "B" else as_bytes(data, "series frame")
    )
    compact = len(view) > 5 and view[5] & COMPACT_FLAG != 0
    rd = open_frame(view, MAGIC_SERIES, "series frame", short=compact)
    if compact:
        code, n = _read_compact_header(rd)
        shape: tuple[int, ...] = (n,)
        block_size = max(n, 1)
    else:
        code, shape, block_size, n = _read_full_header(rd)
    dtype = DTYPE_CODES.get(code)
    if dtype is None:
        raise rd.fail(f"unknown dtype code {code}")
    if not 1 <= block_size <= MAX_BLOCK_SIZE:
        raise rd.fail(f"block size {block_size} out of 1..{MAX_BLOCK_SIZE}")
    if max_elements is not None and n > max_elements:
        raise rd.fail(f"frame holds {n} elements, more than max_elements={max_elements}")
    nblocks = -(-n // block_size)
    if nblocks * BLOCK_HEADER > len(rd.view) - rd.pos:
        raise rd.fail(f"{n} elements need {nblocks} blocks, the frame is too short for them")
    if max_bytes is not None and n * dtype.itemsize > max_bytes:
        raise rd.fail(
            f"frame decodes to {n * dtype.itemsize} bytes, more than max_bytes={max_bytes}"
        )
    return rd, dtype, shape, block_size, n


def _read_full_header(rd: Reader) -> tuple[int, tuple[int, ...], int, int]:
    """(dtype code, shape, block size, value count) of a full-layout frame; ``rd`` ends
    after them."""
    view = rd.view
    if len(view) < 7:
        rd.need(2, "dtype and ndim")
    code, ndim = _CODE_NDIM.unpack_from(view, 5)
    rd.pos = 7
    if ndim > MAX_NDIM:
        raise rd.fail(f"ndim {ndim} > {MAX_NDIM}")
    if len(view) < 11 + 8 * ndim:
        rd.need(8 * ndim + 4, "shape and block size")
    if ndim == 1:
        n, block_size = _SHAPE_1D.unpack_from(view, 7)
        shape: tuple[int, ...] = (n,)
    else:
        *dims, block_size = _shape_struct(ndim).unpack_from(view, 7)
        shape = tuple(dims)
        n = math.prod(shape)
    rd.pos = 11 + 8 * ndim
    return code, shape, block_size, n


def _read_compact_header(rd: Reader) -> tuple[int, int]:
    """(dtype code, value count) of a compact frame (version 7); ``rd`` ends after them."""
    view = rd.view
    if view[4] < FORMAT_VERSION_7:
        raise rd.fail(f"the compact layout needs format version 7, not {view[4]}")
    rd.pos = 6
    n = shift = 0
    for i in range(COUNT_VARINT_MAX):
        byte = rd.u8("value count")
        n |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            if byte == 0 and i:
                raise rd.fail("value count varint is not minimal")
            break
    else:
        raise rd.fail(f"value count varint longer than {COUNT_VARINT_MAX} bytes")
    if n > MAX_BLOCK_SIZE:
        raise rd.fail(f"a compact frame holds at most {MAX_BLOCK_SIZE} values, not {n}")
    return view[5] & ~COMPACT_FLAG & 0xFF, n


_U64 = struct.Struct("<Q")
#: Smallest 1-D frame: header, one block header, checksum.
_MIN_1D = _HEAD_1D.size + CHECKSUM_SIZE
#: Frames up to this size (bytes) are checksummed from a copy of their body: a bytes
#: slice costs less than a memoryview for small frames; larger ones are not copied.
_CHECKSUM_COPY_LIMIT = 1 << 14


def _lane(dt: np.dtype[Any]) -> np.dtype[Any]:
    """The dtype of the array the fast path's kernel fills for frames of ``dt``."""
    if dt.kind == "f":
        return dt
    if dt.itemsize == 2:  # int16 and uint16 (the same bits): written straight in
        return np.dtype("<i2")
    # Other integers go through uint64 lanes (int64 and uint64 are the same bits): one
    # compiled decoder chain for them all (a chain per dtype costs 30-80 s of JIT
    # compilation on a cold cache; int16, the most common narrow dtype, has its own).
    return np.dtype("<u8")


#: Per dtype code: (dtype, dtype of the array the kernel fills, kernel name) for the
#: fast path.
_FAST_CODES: dict[int, tuple[np.dtype[Any], np.dtype[Any], str]] = {
    code: (
        dt,
        _lane(dt),
        ("decode_f64_frame" if dt.itemsize == 8 else "decode_f32_frame")
        if dt.kind == "f"
        else "decode_int_frame",
    )
    for code, dt in DTYPE_CODES.items()
}
#: The first 7 bytes (magic, version, dtype code, ndim = 1) of every full-layout frame the
#: fast path takes, and the first 6 (magic, version, flagged dtype code) of every compact
#: one, with their dtype code: one dict lookup checks these header fields.
_FAST_PREFIXES: dict[bytes, int] = {
    MAGIC_SERIES + bytes((version, code, 1)): code
    for version in range(1, FORMAT_VERSION + 1)
    for code in _FAST_CODES
} | {
    MAGIC_SERIES + bytes((version, code | COMPACT_FLAG)): code
    for version in range(FORMAT_VERSION_7, FORMAT_VERSION + 1)
    for code in _FAST_CODES
}
#: Smallest compact frame: magic, version, dtype, one count byte, checksum.
_MIN_COMPACT = 7 + SHORT_CHECKSUM_SIZE
#: Block schemes the block loop kernels decode (their first byte); others go to Python.
_FLOAT_KERNEL_SCHEMES = frozenset(
    (RAW, ALP, FMULT, FQUANT, REPEAT, REPEAT_DIV, FDIV, FMULT_ADJ, FGRID)
)
_INT_KERNEL_SCHEMES = frozenset((FOR, DELTA, DOD, HUFF, MULT, LAG, HUFF1, COPY))
#: (value count u64, block size u32) after the 7-byte prefix of a 1-D frame.
_unpack_n_block = struct.Struct("<QI").unpack_from
_unpack_u64 = _U64.unpack_from
_unpack_u32 = _U32.unpack_from

#: Per frame prefix: (lane dtype, compiled whole-frame kernel, dtype to convert the lanes
#: to or None), filled on first use of each prefix by :func:`_load_fast_decoder`.
_FastDecoder = tuple[np.dtype[Any], Callable[[bytes, Array], int], np.dtype[Any] | None]
_FAST_DECODERS: dict[bytes, _FastDecoder] = {}


def _compiled_overload(dispatcher: Any, args: tuple[Any, ...]) -> Callable[..., Any]:
    """The machine code numba compiled for arguments of the types of ``args``, callable
    without numba's per-call type dispatch (about 0.3 us of a small frame's decode).

    Falls back to the dispatcher itself when this numba does not expose the overload
    (or runs with the JIT disabled). The entry point does not check argument types (an
    array of another dtype would be read as if it had the compiled one): call it only
    with arguments of exactly the types of ``args`` (here: ``bytes`` and a C-contiguous
    1-D array of the lane dtype, made by the caller).
    """
    dispatcher(*args)  # compiles, or loads from numba's cache, the overload for these types
    try:
        from numba import typeof

        sig = tuple(typeof(a) for a in args)  # type: ignore[no-untyped-call]
        entry = dispatcher.overloads[sig].entry_point
    except (AttributeError, KeyError, TypeError, ValueError):
        return cast(Callable[..., Any], dispatcher)
    return cast(Callable[..., Any], entry) if callable(entry) else dispatcher


def _load_fast_decoder(prefix: bytes) -> _FastDecoder | None:
    """The fast path's decoder of frames starting with ``prefix`` (None: not a fast one)."""
    code = _FAST_PREFIXES.get(prefix)
    if code is None:
        return None
    dtype, lane, name = _FAST_CODES[code]
    dispatcher = getattr(_schemes.kernels(), name)
    # The argument types of the fast path's call: a frame with no values (header + checksum).
    empty = _HEAD_1D.pack(MAGIC_SERIES, FORMAT_VERSION, code, 1, 0, 1) + bytes(CHECKSUM_SIZE)
    decode = _compiled_overload(dispatcher, (empty, np.empty(0, dtype=lane)))
    _FAST_DECODERS[prefix] = fast = (lane, decode, None if lane == dtype else dtype)
    return fast


def _full_fast(
    data: bytes, size: int, max_elements: int | None, max_bytes: int | None
) -> Array | None:
    """The fast path's decode of a full-layout 1-D frame, or None (general path)."""
    fast = _FAST_DECODERS.get(data[:7]) or _load_fast_decoder(data[:7])
    if fast is None or size < _MIN_1D:
        return None
    n, block_size = _unpack_n_block(data, 7)
    end = size - CHECKSUM_SIZE
    if (
        1 <= block_size <= MAX_BLOCK_SIZE
        and (max_elements is None or n <= max_elements)
        # (at 8 bytes a value: a frame of a narrower dtype near the bound goes to the
        # general path, which checks the decoded dtype's bytes)
        and (max_bytes is None or n <= max_bytes >> 3)
        and -(-n // block_size) * BLOCK_HEADER <= size - _MIN_1D
        and xxh3_64_fast(data[:end] if size <= _CHECKSUM_COPY_LIMIT else memoryview(data)[:end])
        == _unpack_u64(data, end)[0]
    ):
        return _run_fast(fast, data, n)
    return None


def _compact_fast(
    data: bytes, size: int, max_elements: int | None, max_bytes: int | None
) -> Array | None:
    """The fast path's decode of a compact frame, or None (general path)."""
    fast = _FAST_DECODERS.get(data[:6]) or _load_fast_decoder(data[:6])
    if fast is None:
        return None
    n = data[6]
    pos = 7
    if n & 0x80:  # a 2- or 3-byte count (a minimal varint of at most 65536)
        byte = data[7]
        n = n & 0x7F | (byte & 0x7F) << 7
        pos = 8
        if byte & 0x80:
            byte = data[8]
            n |= byte << 14
            pos = 9
        if byte == 0 or byte & 0x80:
            return None
    end = size - SHORT_CHECKSUM_SIZE
    if (
        n <= MAX_BLOCK_SIZE
        and (max_elements is None or n <= max_elements)
        and (max_bytes is None or n <= max_bytes >> 3)
        and (end - pos >= BLOCK_HEADER if n else end == pos)
        and xxh3_64_fast(data[:end] if size <= _CHECKSUM_COPY_LIMIT else memoryview(data)[:end])
        & 0xFFFFFFFF
        == _unpack_u32(data, end)[0]
    ):
        return _run_fast(fast, data, n)
    return None


def _run_fast(fast: _FastDecoder, data: bytes, n: int) -> Array | None:
    """Decode a checked 1-D frame with its whole-frame kernel, or None (general path)."""
    lane, decode, dtype = fast
    try:
        bits = np.empty(n, lane)
    except MemoryError as exc:
        raise _no_memory(n, lane) from exc
    if decode(data, bits) != 0:
        return None
    if dtype is None:
        return bits
    if dtype.itemsize == lane.itemsize:
        return bits.view(dtype)
    if dtype.kind == "i":
        return bits.view(np.int64).astype(dtype)
    return bits.astype(dtype)


def decompress(
    data: bytes | bytearray | memoryview,
    *,
    max_elements: int | None = None,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
) -> Array:
    """Decode a frame made by :func:`compress`.

    Args:
        data: the frame bytes.
        max_elements: refuse frames that claim more elements than this (optional; a frame
            can never claim more than about 13,000 elements per byte it holds).
        max_bytes: refuse frames whose decoded array would exceed this many bytes, before
            allocating it (default 256 MiB; ``None``: no limit). A frame can decode to
            ~37,000 times its size, so raise it only for frames you trust.

    Returns:
        A new array with the original dtype (little-endian) and shape.

    Raises:
        CorruptDataError: the bytes are not a valid frame (truncated, corrupted, hostile),
            the decoded array would exceed ``max_bytes``/``max_elements``, or there is not
            enough memory for it.
        InvalidInputError: ``data`` is not bytes-like.
    """
    if type(data) is bytes and (size := len(data)) >= _MIN_COMPACT:
        # Fast path for a 1-D ``bytes`` frame whose blocks all use kernel schemes: the
        # header checks of the general path, the checksum, then one call of the compiled
        # whole-frame kernel on the bytes themselves. Any failure (or a block left to
        # Python) falls through to the general path, which decodes it or names the error.
        if data[5] & COMPACT_FLAG:
            decoded = _compact_fast(data, size, max_elements, max_bytes)
        else:
            decoded = _full_fast(data, size, max_elements, max_bytes)
        if decoded is not None:
            return decoded
    rd, dtype, shape, block_size, n = _read_header(data, max_elements, max_bytes)
    pos = rd.pos
    end = len(rd.view)
    buf = kernel_view(np.frombuffer(rd.view, dtype=np.uint8))
    k = _schemes.kernels()
    kind = dtype.kind
    start = 0
    lanes: Array | None = None
    if kind == "f":
        bits = out = _alloc(n, dtype)
        decode = k.decode_f64_blocks if dtype.itemsize == 8 else k.decode_f32_blocks
        in_kernel = _FLOAT_KERNEL_SCHEMES
    else:
        # 64-bit integers decode in place; narrower ones through a uint64 buffer.
        bits = lanes = _alloc(n, np.dtype(np.uint64))
        out = lanes.view(dtype) if dtype.itemsize == 8 else _alloc(n, dtype)
        decode = k.decode_int_blocks
        in_kernel = _INT_KERNEL_SCHEMES
    view = rd.view
    while start < n:
        # One kernel call decodes every block of the kernel schemes (usually all of
        # them); it stops at a block of another scheme, decoded here, then goes on.
        # (A well-framed block the kernel would leave at once is not handed to it.)
        status = BLOCK_NOT_HERE
        if (
            end - pos < BLOCK_HEADER
            or view[pos] in in_kernel
            or _BLOCK_HEAD.unpack_from(view, pos)[1] > end - pos - BLOCK_HEADER
        ):
            status, pos, start, got = decode(buf, pos, end, start, n, block_size, bits)
            if status == 0:
                break
        if status != BLOCK_NOT_HERE:
            _raise_block_error(rd, view, status, pos, start // block_size, got)
        scheme, length = _BLOCK_HEAD.unpack_from(view, pos)
        count = min(block_size, n - start)
        stop = pos + BLOCK_HEADER + length
        index = start // block_size
        block = Reader(view[pos + BLOCK_HEADER : stop], 0, f"series frame block {index}")
        if kind == "f":
            if scheme not in FLOAT_SCHEMES:
                raise block.fail(f"scheme {scheme} is not valid for floats")
            _schemes.decode_float_block(scheme, block, count, dtype, out[start : start + count])
        else:
            if scheme not in INT_SCHEMES:
                raise block.fail(f"scheme {scheme} is not valid for integers")
            assert lanes is not None
            if scheme == COPY:
                _schemes.decode_copy(block, count, dtype, lanes, start)
            else:
                _schemes.decode_int_lanes(scheme, block, count, dtype, lanes[start : start + count])
        block.end()
        pos = stop
        start += count
    if pos != end:
        rd.pos = pos
        rd.end()
    if lanes is not None and dtype.itemsize != 8:
        out[:] = lanes.view(np.int64).astype(dtype) if kind == "i" else lanes.astype(dtype)
    result: Array = out.reshape(shape) if len(shape) != 1 else out
    return result


def _no_memory(n: int, dtype: np.dtype[Any]) -> CorruptDataError:
    return CorruptDataError(
        f"series frame: cannot allocate {n} values of {dtype} ({n * dtype.itemsize} bytes)"
    )


def _alloc(n: int, dtype: np.dtype[Any]) -> Array:
    """``np.empty(n, dtype)``; no memory for it is CorruptDataError, never MemoryError."""
    try:
        return np.empty(n, dtype)
    except (MemoryError, ValueError) as exc:
        raise _no_memory(n, dtype) from exc


def _raise_block_error(
    rd: Reader, view: memoryview, status: int, pos: int, index: int, got: int
) -> NoReturn:
    """The CorruptDataError for a failure reported by the block loop kernels."""
    rd.pos = pos
    if status == ERR_BLOCK_HEADER:
        rd.need(BLOCK_HEADER, "block header")
    if status == ERR_BLOCK_PAYLOAD:
        rd.pos = pos + BLOCK_HEADER
        rd.need(_BLOCK_HEAD.unpack_from(view, pos)[1], "block payload")
    payload = pos + BLOCK_HEADER
    if status == ERR_TRAILING:
        stop = payload + _BLOCK_HEAD.unpack_from(view, pos)[1]
        raise CorruptDataError(
            f"series frame block {index}: {stop - got} unexpected trailing bytes"
        )
    name = SCHEME_NAMES.get(view[pos], "unknown")
    reason = ERRORS.get(status, "corrupt")
    raise CorruptDataError(
        f"series frame block {index}: {name} block: {reason} (at byte {got - payload})"
    )


def frame_info(data: bytes | bytearray | memoryview) -> FrameInfo:
    """Read a series frame's header and block table without decoding the values.

    Raises:
        CorruptDataError: the bytes are not a valid frame.
    """
    view = memoryview(data) if not isinstance(data, memoryview) else data
    rd, dtype, shape, block_size, n = _read_header(view, None)
    schemes, sizes = [], []
    for _ in range(0, n, block_size):
        scheme = rd.u8("block scheme")
        length = rd.u32("block length")
        rd.take(length, "block payload")
        schemes.append(SCHEME_NAMES.get(scheme, f"unknown-{scheme}"))
        sizes.append(length)
    rd.end()
    return FrameInfo(dtype, shape, block_size, tuple(schemes), tuple(sizes), len(view))


# --- timestamp + value records -------------------------------------------------------------------


def encode_series(timestamps: object, values: object, *, level: int | None = None) -> bytes:
    """One record frame holding timestamps and their values (compressed separately).

    Args:
        timestamps: 1-D integer array (for example nanoseconds since the epoch).
        values: array whose first axis matches ``timestamps``; a 2-D ``(n, channels)``
            array is stored channel by channel.
        level: as for :func:`compress`.

    Raises:
        InvalidInputError: mismatched lengths or unsupported dtypes.
    """
    ts = _check_array(timestamps)
    vs = _check_array(values)
    if ts.ndim != 1 or ts.dtype.kind not in "iu":
        raise InvalidInputError("timestamps must be a 1-D integer array")
    if vs.ndim not in (1, 2) or vs.shape[0] != ts.shape[0]:
        raise InvalidInputError(
            f"values must be (n,) or (n, channels) with n={ts.shape[0]}, got shape {vs.shape}"
        )
    ts_frame = compress(ts, level=level)
    vs_frame = compress(np.ascontiguousarray(vs.T), level=level)
    out = bytearray(MAGIC_RECORD)
    out += struct.pack("<B", FORMAT_VERSION_1)
    out += struct.pack("<I", len(ts_frame)) + ts_frame
    out += struct.pack("<I", len(vs_frame)) + vs_frame
    return seal(out)


def decode_series(
    data: bytes | bytearray | memoryview, *, max_bytes: int | None = DEFAULT_MAX_BYTES
) -> tuple[Array, Array]:
    """Timestamps and values from a record frame of :func:`encode_series` or :class:`SeriesEncoder`.

    Args:
        data: the record frame bytes.
        max_bytes: bound on each of the two decoded arrays, as for :func:`decompress`.

    Raises:
        CorruptDataError: the bytes are not a valid record frame, or decode beyond ``max_bytes``.
    """
    rd = open_frame(data, MAGIC_RECORD, "series record")
    ts = decompress(rd.take(rd.u32("timestamps length"), "timestamps frame"), max_bytes=max_bytes)
    vs = decompress(rd.take(rd.u32("values length"), "values frame"), max_bytes=max_bytes)
    rd.end()
    if (
        ts.ndim != 1
        or ts.dtype.kind not in "iu"
        or vs.ndim not in (1, 2)
        or vs.shape[-1] != ts.shape[0]
    ):
        raise CorruptDataError("series record: timestamps and values do not match")
    return ts, np.ascontiguousarray(vs.T)


class SeriesEncoder:
    """Accepts appended (timestamp, value) samples and emits a record frame every N points.

    A sensor loop appends as readings come; each full batch of ``points_per_frame``
    samples becomes one frame (:func:`decode_series` reads it), returned by
    :meth:`append` and also passed to ``on_frame`` when given, ready for a queue.
    :meth:`flush` frames whatever is pending.

    Args:
        points_per_frame: samples per frame (1..2**24).
        channels: ``None`` for scalar values, else the number of values per sample.
        timestamp_dtype: integer dtype of timestamps (default int64, e.g. ns).
        value_dtype: dtype of values (default float64).
        level: compression level, as for :func:`compress`.
        on_frame: optional callback called with each frame's bytes.
    """

    def __init__(
        self,
        points_per_frame: int = 4096,
        *,
        channels: int | None = None,
        timestamp_dtype: Any = np.int64,
        value_dtype: Any = np.float64,
        level: int | None = None,
        on_frame: Callable[[bytes], object] | None = None,
    ) -> None:
        if not isinstance(points_per_frame, int) or not 1 <= points_per_frame <= 1 << 24:
            raise InvalidInputError(
                f"points_per_frame must be in 1..2**24, not {points_per_frame!r}"
            )
        if channels is not None and (not isinstance(channels, int) or channels < 1):
            raise InvalidInputError(f"channels must be None or a positive int, not {channels!r}")
        self.points_per_frame = points_per_frame
        self.channels = channels
        self.timestamp_dtype = np.dtype(timestamp_dtype)
        self.value_dtype = np.dtype(value_dtype)
        if self.timestamp_dtype.kind not in "iu":
            raise InvalidInputError(
                f"timestamp_dtype must be an integer dtype, not {self.timestamp_dtype}"
            )
        _check_array(np.zeros(0, self.value_dtype))
        self.level = level
        self.on_frame = on_frame
        self._ts: list[Array] = []
        self._vs: list[Array] = []
        self._pending = 0
        self.frames_emitted = 0

    @property
    def pending(self) -> int:
        """Samples appended but not yet framed."""
        return self._pending

    def append(self, timestamps: object, values: object) -> list[bytes]:
        """Append one sample (scalars) or many (arrays); returns the frames completed by it.

        Raises:
            InvalidInputError: shapes do not match, or values do not fit the dtypes.
        """
        ts = np.atleast_1d(np.asarray(timestamps))
        vs = np.asarray(values)
        if self.channels is None:
            vs = np.atleast_1d(vs)
            want: tuple[int, ...] = (ts.shape[0],)
        else:
            vs = vs.reshape(1, -1) if vs.ndim == 1 and ts.ndim == 1 and ts.size == 1 else vs
            want = (ts.shape[0], self.channels)
        if ts.ndim != 1 or vs.shape != want:
            raise InvalidInputError(
                f"expected timestamps (n,) and values {want}, got {ts.shape} and {vs.shape}"
            )
        if ts.dtype.kind not in "iu":
            raise InvalidInputError(f"timestamps must be integers, not {ts.dtype}")
        if vs.dtype.kind not in "iuf" or (vs.dtype.kind == "f" and self.value_dtype.kind != "f"):
            raise InvalidInputError(f"values of dtype {vs.dtype} do not fit {self.value_dtype}")
        ts_cast = ts.astype(self.timestamp_dtype)
        vs_cast = vs.astype(self.value_dtype)
        if not np.array_equal(ts_cast.astype(ts.dtype), ts):
            raise InvalidInputError(f"timestamps do not fit {self.timestamp_dtype}")
        frames: list[bytes] = []
        start = 0
        while start < ts.shape[0]:
            take = min(self.points_per_frame - self._pending, ts.shape[0] - start)
            self._ts.append(ts_cast[start : start + take])
            self._vs.append(vs_cast[start : start + take])
            self._pending += take
            start += take
            if self._pending == self.points_per_frame:
                frames.append(self._emit())
        return frames

    def flush(self) -> bytes | None:
        """Frame the pending samples now; ``None`` when nothing is pending."""
        if not self._pending:
            return None
        return self._emit()

    def _emit(self) -> bytes:
        ts = np.concatenate(self._ts)
        vs = np.concatenate(self._vs)
        self._ts.clear()
        self._vs.clear()
        self._pending = 0
        frame = encode_series(ts, vs, level=self.level)
        self.frames_emitted += 1
        if self.on_frame is not None:
            self.on_frame(frame)
        return frame
