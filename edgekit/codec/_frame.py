"""Frame plumbing shared by every codec format: magic, version, checksum, bounded reads.

Every frame is ``magic (4 bytes) | version (u8) | body | xxh3_64 (u64 LE) of all bytes before
it`` (a compact series frame keeps the low 32 bits of it, u32 LE). All integers are
little-endian. See ``docs/codec-format.md``.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import xxhash

from edgekit._jit import kernel_view
from edgekit.codec._format import CHECKSUM_SIZE, FORMAT_VERSION, SHORT_CHECKSUM_SIZE
from edgekit.errors import CorruptDataError, InvalidInputError

#: xxh3_64 of a bytes-like object as an int (the C function itself, no wrapper).
xxh3_64_fast = xxhash.xxh3_64_intdigest


def xxh3_64(data: bytes | bytearray | memoryview) -> int:
    """xxh3 64-bit digest (seed 0)."""
    return int(xxh3_64_fast(data))


def xxh3_128(data: bytes | bytearray | memoryview) -> bytes:
    """xxh3 128-bit digest (seed 0), 16 bytes big-endian as xxhash gives them."""
    return bytes(xxhash.xxh3_128_digest(data))


def as_bytes(data: object, what: str = "data") -> memoryview:
    """A flat byte view of ``bytes``/``bytearray``/``memoryview``, else InvalidInputError."""
    if isinstance(data, (bytes, bytearray)):
        return memoryview(data)
    if isinstance(data, memoryview):
        return data.cast("B") if data.format != "B" or data.ndim != 1 else data
    raise InvalidInputError(
        f"{what} must be bytes, bytearray or memoryview, not {type(data).__name__}"
    )


def seal(body: bytearray, *, short: bool = False) -> bytes:
    """Append the xxh3_64 checksum of ``body`` (``short``: its low 32 bits, 4 bytes)."""
    digest = xxh3_64(body)
    body += _U32.pack(digest & 0xFFFFFFFF) if short else _U64.pack(digest)
    return bytes(body)


_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_MAGIC_VERSION = struct.Struct("<4sB")


def open_frame(data: object, magic: bytes, what: str, *, short: bool = False) -> Reader:
    """Check magic, version and checksum (``short``: the 4-byte one of a compact frame);
    return a reader of the bytes before the checksum, positioned after the version byte."""
    view = data if type(data) is memoryview and data.format == "B" else as_bytes(data, what)
    assert isinstance(view, memoryview)
    size = len(view)
    check = SHORT_CHECKSUM_SIZE if short else CHECKSUM_SIZE
    if size < len(magic) + 1 + check:
        raise CorruptDataError(f"{what}: {size} bytes is too short for a frame")
    found, version = _MAGIC_VERSION.unpack_from(view)
    if found != magic:
        raise CorruptDataError(f"{what}: bad magic {found!r}, expected {magic!r}")
    if version == 0 or version > FORMAT_VERSION:
        raise CorruptDataError(
            f"{what}: format version {version} is not supported (this edgekit reads 1..{FORMAT_VERSION})"
        )
    body = view[: size - check]
    digest = xxh3_64_fast(body)
    if short:
        ok = digest & 0xFFFFFFFF == _U32.unpack_from(view, size - check)[0]
    else:
        ok = digest == _U64.unpack_from(view, size - check)[0]
    if not ok:
        raise CorruptDataError(f"{what}: checksum mismatch (truncated or corrupted)")
    return Reader(body, 5, what)


class Reader:
    """Bounds-checked little-endian reads from a byte view; every overrun is CorruptDataError."""

    __slots__ = ("pos", "view", "what")

    def __init__(self, view: memoryview, pos: int, what: str) -> None:
        self.view = view
        self.pos = pos
        self.what = what

    @property
    def remaining(self) -> int:
        return len(self.view) - self.pos

    def fail(self, reason: str) -> CorruptDataError:
        return CorruptDataError(f"{self.what}: {reason} (at byte {self.pos})")

    def need(self, n: int, field: str) -> None:
        if n < 0 or n > self.remaining:
            raise self.fail(f"{field} needs {n} bytes, {self.remaining} left")

    def take(self, n: int, field: str) -> memoryview:
        self.need(n, field)
        out = self.view[self.pos : self.pos + n]
        self.pos += n
        return out

    def u8(self, field: str) -> int:
        self.need(1, field)
        value = self.view[self.pos]
        self.pos += 1
        return int(value)

    def _unpack(self, fmt: str, size: int, field: str) -> int:
        self.need(size, field)
        (value,) = struct.unpack_from(fmt, self.view, self.pos)
        self.pos += size
        return int(value)

    def u16(self, field: str) -> int:
        return self._unpack("<H", 2, field)

    def u32(self, field: str) -> int:
        return self._unpack("<I", 4, field)

    def u64(self, field: str) -> int:
        return self._unpack("<Q", 8, field)

    def array(self, dtype: str, count: int, field: str) -> np.ndarray[Any, Any]:
        """``count`` items of ``dtype`` (a little-endian numpy code such as ``'<u8'``)."""
        size = np.dtype(dtype).itemsize
        if count < 0:
            raise self.fail(f"{field}: negative count")
        raw = self.take(count * size, field)
        return kernel_view(np.frombuffer(raw, dtype=dtype, count=count))

    def end(self) -> None:
        if self.remaining:
            raise self.fail(f"{self.remaining} unexpected trailing bytes")
