"""Binary delta of blobs: FastCDC content-defined chunking, signatures, deltas and patches.

A device that holds ``old`` sends ``signature(old)`` (about 12 bytes per chunk); the
side that has ``new`` answers with ``diff(signature, new)``: copy ranges of ``old``
plus LZ4-compressed literal bytes. ``patch(old, delta)`` rebuilds ``new`` and checks
both the base and the result against xxh3-128 digests.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from edgekit._jit import kernel_view
from edgekit.codec._format import (
    DEFAULT_MAX_BYTES,
    FORMAT_VERSION_1,
    MAGIC_DELTA,
    MAGIC_SIGNATURE,
)
from edgekit.codec._frame import as_bytes, open_frame, seal, xxh3_128
from edgekit.codec._schemes import kernels
from edgekit.errors import CorruptDataError, InvalidInputError

__all__ = ["Chunks", "Delta", "Signature", "chunks", "diff", "patch", "signature"]

Array = np.ndarray[Any, Any]

DEFAULT_MIN = 2048
DEFAULT_AVG = 8192
DEFAULT_MAX = 65536
MAX_CHUNK = 1 << 24
OP_COPY = 0
OP_LITERAL = 1


@cache
def _gear() -> Array:
    return kernels().gear_table()  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Chunks:
    """Content-defined chunks of a blob.

    Attributes:
        offsets: start of each chunk (bytes), int64.
        lengths: length of each chunk (bytes), int64.
        digests: xxh3-64 digest of each chunk, uint64.
    """

    offsets: Array
    lengths: Array
    digests: Array

    def __len__(self) -> int:
        return int(self.offsets.size)


def _check_sizes(min_size: int, avg_size: int, max_size: int) -> None:
    for name, value in (("min_size", min_size), ("avg_size", avg_size), ("max_size", max_size)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise InvalidInputError(f"{name} must be an int, not {value!r}")
    if not 64 <= min_size <= avg_size <= max_size <= MAX_CHUNK:
        raise InvalidInputError(
            f"need 64 <= min_size <= avg_size <= max_size <= {MAX_CHUNK}, got {min_size}, {avg_size}, {max_size}"
        )
    if avg_size & (avg_size - 1):
        raise InvalidInputError(f"avg_size must be a power of two, not {avg_size}")


def _masks(avg_size: int) -> tuple[int, int]:
    """FastCDC normalized-chunking masks (level 2): harder before avg_size, easier after."""
    bits = avg_size.bit_length() - 1
    hard = bits + 2  # avg_size <= 2**24 keeps this at most 26
    easy = max(bits - 2, 1)

    # Spread the mask bits over bits 62..2 of the hash (the gear hash mixes upward; bit 63
    # stays clear so that the two-bytes-per-step scan can test a shifted mask).
    def spread(k: int) -> int:
        mask = 0
        for i in range(k):
            mask |= 1 << (62 - (i * 60) // k)
        return mask

    return spread(hard), spread(easy)


def _cut_points(view: memoryview, min_size: int, avg_size: int, max_size: int) -> Array:
    data = kernel_view(np.frombuffer(view, dtype=np.uint8))
    if data.size == 0:
        return np.zeros(0, dtype=np.int64)
    mask_s, mask_l = _masks(avg_size)
    return kernels().cdc_cut_points(  # type: ignore[no-any-return]
        data, _gear(), min_size, avg_size, max_size, np.uint64(mask_s), np.uint64(mask_l)
    )


def _chunk_digests(view: memoryview, ends: Array) -> Array:
    """xxh3-64 of each chunk: one C call per chunk, no per-chunk Python frames."""
    import xxhash

    digest = xxhash.xxh3_64_intdigest
    bounds = ends.tolist()
    starts = [0, *bounds[:-1]]
    return np.fromiter(
        map(digest, map(view.__getitem__, map(slice, starts, bounds))),
        dtype=np.uint64,
        count=len(bounds),
    )


def chunks(
    data: bytes | bytearray | memoryview,
    *,
    min_size: int = DEFAULT_MIN,
    avg_size: int = DEFAULT_AVG,
    max_size: int = DEFAULT_MAX,
) -> Chunks:
    """Split ``data`` into content-defined chunks (FastCDC, normalized chunking, gear hash).

    Args:
        data: the blob.
        min_size: smallest chunk in bytes (the last chunk may be shorter).
        avg_size: target average chunk size in bytes (a power of two).
        max_size: largest chunk in bytes.

    Raises:
        InvalidInputError: bad sizes, or ``data`` is not bytes-like.
    """
    view = as_bytes(data)
    _check_sizes(min_size, avg_size, max_size)
    ends = _cut_points(view, min_size, avg_size, max_size)
    offsets = np.concatenate([[0], ends[:-1]]).astype(np.int64) if ends.size else ends
    lengths = ends - offsets
    digests = _chunk_digests(view, ends)
    return Chunks(offsets, lengths, digests)


@dataclass(frozen=True)
class Signature:
    """What ``diff`` needs to know about the old blob: chunk lengths and digests.

    Attributes:
        min_size: chunking minimum (bytes).
        avg_size: chunking average (bytes).
        max_size: chunking maximum (bytes).
        size: length of the old blob (bytes).
        digest: xxh3-128 of the old blob.
        lengths: chunk lengths (bytes), int64.
        digests: chunk xxh3-64 digests, uint64.
    """

    min_size: int
    avg_size: int
    max_size: int
    size: int
    digest: bytes
    lengths: Array
    digests: Array

    def to_bytes(self) -> bytes:
        """Serialize into a checksummed frame (see ``docs/codec-format.md``)."""
        out = bytearray(MAGIC_SIGNATURE)
        out += struct.pack(
            "<BIIIQ", FORMAT_VERSION_1, self.min_size, self.avg_size, self.max_size, self.size
        )
        out += self.digest
        out += struct.pack("<I", self.lengths.size)
        out += self.lengths.astype("<u4").tobytes()
        out += self.digests.astype("<u8").tobytes()
        return seal(out)

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> Signature:
        """Parse a signature frame.

        Raises:
            CorruptDataError: the bytes are not a valid signature frame.
        """
        rd = open_frame(data, MAGIC_SIGNATURE, "signature")
        min_size, avg_size, max_size = rd.u32("min_size"), rd.u32("avg_size"), rd.u32("max_size")
        try:
            _check_sizes(min_size, avg_size, max_size)
        except InvalidInputError as exc:
            raise rd.fail(str(exc)) from exc
        size = rd.u64("size")
        digest = bytes(rd.take(16, "digest"))
        count = rd.u32("chunk count")
        lengths = rd.array("<u4", count, "chunk lengths").astype(np.int64)
        digests = rd.array("<u8", count, "chunk digests").astype(np.uint64)
        rd.end()
        if int(lengths.sum()) != size or (count and int(lengths.min()) == 0):
            raise rd.fail("chunk lengths do not add up to the blob size")
        return cls(min_size, avg_size, max_size, size, digest, lengths, digests)


def signature(
    old: bytes | bytearray | memoryview,
    *,
    min_size: int = DEFAULT_MIN,
    avg_size: int = DEFAULT_AVG,
    max_size: int = DEFAULT_MAX,
) -> Signature:
    """The signature of ``old``: its chunking parameters, chunk digests and whole digest.

    Raises:
        InvalidInputError: bad sizes or ``old`` is not bytes-like.
    """
    view = as_bytes(old, "old")
    found = chunks(view, min_size=min_size, avg_size=avg_size, max_size=max_size)
    return Signature(
        min_size, avg_size, max_size, len(view), xxh3_128(view), found.lengths, found.digests
    )


@dataclass(frozen=True)
class Delta:
    """Instructions that turn the old blob into the new one.

    Attributes:
        base_size: length of the old blob (bytes).
        base_digest: xxh3-128 of the old blob; :func:`patch` refuses another base.
        target_size: length of the new blob (bytes).
        target_digest: xxh3-128 of the new blob; :func:`patch` checks its result.
        ops: ``(kind, offset, length)`` rows, int64; kind 0 copies ``old[offset:offset+length]``,
            kind 1 takes the next ``length`` literal bytes (offset unused).
        literals: the literal bytes, concatenated.
    """

    base_size: int
    base_digest: bytes
    target_size: int
    target_digest: bytes
    ops: Array
    literals: bytes

    @property
    def copied_bytes(self) -> int:
        """Bytes taken from the old blob."""
        return int(self.ops[self.ops[:, 0] == OP_COPY, 2].sum()) if len(self.ops) else 0

    def to_bytes(self) -> bytes:
        """Serialize into a checksummed frame; literals are LZ4-compressed."""
        import lz4.block

        out = bytearray(MAGIC_DELTA)
        out += struct.pack("<BQ", FORMAT_VERSION_1, self.base_size)
        out += self.base_digest
        out += struct.pack("<Q", self.target_size)
        out += self.target_digest
        out += struct.pack("<I", len(self.ops))
        for kind, offset, length in self.ops.tolist():
            if kind == OP_COPY:
                out += struct.pack("<BQQ", OP_COPY, offset, length)
            else:
                out += struct.pack("<BQ", OP_LITERAL, length)
        packed = lz4.block.compress(self.literals, store_size=False) if self.literals else b""
        out += struct.pack("<QQ", len(self.literals), len(packed))
        out += packed
        return seal(out)

    @classmethod
    def from_bytes(
        cls, data: bytes | bytearray | memoryview, *, max_bytes: int | None = DEFAULT_MAX_BYTES
    ) -> Delta:
        """Parse a delta frame.

        Args:
            data: the delta frame bytes.
            max_bytes: refuse a delta whose target is larger than this, before decoding its
                literals (default 256 MiB; ``None``: no limit).

        Raises:
            CorruptDataError: the bytes are not a valid delta frame, or its target is larger
                than ``max_bytes``.
        """
        import lz4.block

        rd = open_frame(data, MAGIC_DELTA, "delta")
        base_size = rd.u64("base size")
        base_digest = bytes(rd.take(16, "base digest"))
        target_size = rd.u64("target size")
        target_digest = bytes(rd.take(16, "target digest"))
        _check_target(target_size, max_bytes)
        count = rd.u32("op count")
        rd.need(count * 9, "ops")  # every op takes at least 9 bytes
        ops = np.zeros((count, 3), dtype=np.int64)
        total = 0
        literal_total = 0
        for i in range(count):
            kind = rd.u8("op kind")
            if kind == OP_COPY:
                offset, length = rd.u64("copy offset"), rd.u64("copy length")
                if offset + length > base_size:
                    raise rd.fail("copy range beyond the base")
            elif kind == OP_LITERAL:
                offset, length = 0, rd.u64("literal length")
                literal_total += length
            else:
                raise rd.fail(f"unknown op kind {kind}")
            total += length
            if total > target_size:
                raise rd.fail("ops produce more than the target size")
            ops[i] = (kind, offset, length)
        if total != target_size:
            raise rd.fail("ops do not produce the target size")
        raw_len, packed_len = rd.u64("literal bytes"), rd.u64("packed literal bytes")
        if raw_len != literal_total:
            raise rd.fail("literal byte count does not match the ops")
        packed = bytes(rd.take(packed_len, "literals"))
        rd.end()
        if raw_len > 255 * packed_len + 16:
            raise rd.fail("literal length is impossible for lz4")
        literals = b""
        if raw_len:
            try:
                literals = lz4.block.decompress(packed, uncompressed_size=raw_len)
            except Exception as exc:
                raise rd.fail(f"literals do not decode: {exc}") from exc
            if len(literals) != raw_len:
                raise rd.fail("literals have the wrong length")
        return cls(base_size, base_digest, target_size, target_digest, ops, literals)


def diff(
    sig: Signature,
    new: bytes | bytearray | memoryview,
    *,
    old: bytes | bytearray | memoryview | None = None,
) -> Delta:
    """Delta from the blob described by ``sig`` to ``new``.

    Chunks of ``new`` whose digest appears in the signature become copies; the rest
    become literals. Adjacent copies and literals are merged. When the side making the
    delta also has the old blob (``old=``, checked against the signature's digest), each
    literal run is trimmed byte by byte: the copies around it are extended while old and
    new bytes agree, so a small edit costs about its own size instead of a chunk or two.

    Raises:
        InvalidInputError: ``sig`` is not a Signature, ``new``/``old`` is not bytes-like,
            or ``old`` is not the blob the signature describes.
    """
    if not isinstance(sig, Signature):
        raise InvalidInputError(f"sig must be a Signature, not {type(sig).__name__}")
    view = as_bytes(new, "new")
    base: memoryview | None = None
    if old is not None:
        base = as_bytes(old, "old")
        if len(base) != sig.size or xxh3_128(base) != sig.digest:
            raise InvalidInputError("diff: old is not the blob this signature describes")
    found = chunks(view, min_size=sig.min_size, avg_size=sig.avg_size, max_size=sig.max_size)
    old_offsets = np.concatenate([[0], np.cumsum(sig.lengths)[:-1]]).astype(np.int64)
    where: dict[tuple[int, int], int] = {}
    at: set[tuple[int, int, int]] = set()  # every (digest, length, offset) of the old chunks
    for off, length, dig in zip(
        old_offsets.tolist(), sig.lengths.tolist(), sig.digests.tolist(), strict=False
    ):
        where.setdefault((dig, length), off)
        at.add((dig, length, off))
    # Runs as [kind, old offset or new offset, length]: literals keep their offset in new.
    runs: list[list[int]] = []
    for off, length, dig in zip(
        found.offsets.tolist(), found.lengths.tolist(), found.digests.tolist(), strict=False
    ):
        src = where.get((dig, length))
        if src is not None and runs and runs[-1][0] == OP_COPY:
            follow = runs[-1][1] + runs[-1][2]
            if (dig, length, follow) in at:
                src = follow  # a repeated chunk: prefer the copy that continues the last one
        if src is not None:
            if runs and runs[-1][0] == OP_COPY and runs[-1][1] + runs[-1][2] == src:
                runs[-1][2] += length
            else:
                runs.append([OP_COPY, src, length])
        elif runs and runs[-1][0] == OP_LITERAL:
            runs[-1][2] += length
        else:
            runs.append([OP_LITERAL, off, length])
    if base is not None:
        runs = _trim_literals(
            runs,
            kernel_view(np.frombuffer(base, dtype=np.uint8)),
            kernel_view(np.frombuffer(view, np.uint8)),
        )
    ops: list[list[int]] = []
    literals = bytearray()
    for kind, offset, length in runs:
        if length == 0:
            continue
        if kind == OP_LITERAL:
            literals += view[offset : offset + length]
            ops.append([OP_LITERAL, 0, length])
        elif ops and ops[-1][0] == OP_COPY and ops[-1][1] + ops[-1][2] == offset:
            ops[-1][2] += length
        else:
            ops.append([OP_COPY, offset, length])
    table = np.array(ops, dtype=np.int64).reshape(-1, 3)
    return Delta(sig.size, sig.digest, len(view), xxh3_128(view), table, bytes(literals))


def _common_prefix(a: Array, b: Array) -> int:
    """Length of the common prefix of two uint8 arrays."""
    n = min(a.size, b.size)
    if n == 0:
        return 0
    diff_at = np.flatnonzero(a[:n] != b[:n])
    return int(diff_at[0]) if diff_at.size else n


def _trim_literals(runs: list[list[int]], old: Array, new: Array) -> list[list[int]]:
    """Grow the copies around each literal run while old and new bytes agree."""
    for i, run in enumerate(runs):
        if run[0] != OP_LITERAL:
            continue
        lit_start, lit_len = run[1], run[2]
        if i > 0 and runs[i - 1][0] == OP_COPY:
            prev = runs[i - 1]
            end = prev[1] + prev[2]
            grow = _common_prefix(old[end : end + lit_len], new[lit_start : lit_start + lit_len])
            prev[2] += grow
            lit_start += grow
            lit_len -= grow
        if lit_len and i + 1 < len(runs) and runs[i + 1][0] == OP_COPY:
            nxt = runs[i + 1]
            back = min(lit_len, nxt[1])
            a = old[nxt[1] - back : nxt[1]][::-1]
            b = new[lit_start + lit_len - back : lit_start + lit_len][::-1]
            grow = _common_prefix(a, b)
            nxt[1] -= grow
            nxt[2] += grow
            lit_len -= grow
        run[1], run[2] = lit_start, lit_len
    return runs


def _check_target(target_size: int, max_bytes: int | None) -> None:
    if max_bytes is not None and target_size > max_bytes:
        raise CorruptDataError(
            f"delta: target of {target_size} bytes is more than max_bytes={max_bytes}"
        )


def patch(
    old: bytes | bytearray | memoryview,
    delta: Delta | bytes | bytearray | memoryview,
    *,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
) -> bytes:
    """Apply ``delta`` (a :class:`Delta` or its bytes) to ``old`` and return the new blob.

    Args:
        old: the base blob.
        delta: the delta made against ``old``.
        max_bytes: refuse a delta whose target is larger than this, before allocating it
            (default 256 MiB; ``None``: no limit).

    Raises:
        InvalidInputError: ``old`` is not the blob the delta was made against.
        CorruptDataError: the delta is corrupt, its target is larger than ``max_bytes`` or
            does not fit in memory, or the result fails its digest check.
    """
    if not isinstance(delta, Delta):
        delta = Delta.from_bytes(delta, max_bytes=max_bytes)
    _check_target(delta.target_size, max_bytes)
    view = as_bytes(old, "old")
    if len(view) != delta.base_size or xxh3_128(view) != delta.base_digest:
        raise InvalidInputError(
            "patch: old is not the base this delta was made against (digest differs)"
        )
    try:
        out = bytearray(delta.target_size)
    except (MemoryError, OverflowError) as exc:
        raise CorruptDataError(
            f"delta: cannot allocate the target of {delta.target_size} bytes"
        ) from exc
    pos = 0
    lit = 0
    for kind, offset, length in delta.ops.tolist():
        if pos + length > delta.target_size:
            raise CorruptDataError("delta: ops overrun the target size")
        if kind == OP_COPY:
            if offset < 0 or length < 0 or offset + length > len(view):
                raise CorruptDataError("delta: copy range beyond the base")
            out[pos : pos + length] = view[offset : offset + length]
        else:
            if lit + length > len(delta.literals):
                raise CorruptDataError("delta: literals run out")
            out[pos : pos + length] = delta.literals[lit : lit + length]
            lit += length
        pos += length
    if pos != delta.target_size:
        raise CorruptDataError("delta: ops do not fill the target")
    try:
        result = bytes(out)
    except MemoryError as exc:
        raise CorruptDataError(f"delta: cannot allocate the target of {pos} bytes") from exc
    if xxh3_128(result) != delta.target_digest:
        raise CorruptDataError("delta: result does not match the target digest")
    return result
