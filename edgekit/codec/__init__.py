"""Lossless compression of numeric sensor series and binary deltas of blobs (numba kernels).

Series: :func:`compress` / :func:`decompress` turn any int/uint/float array into one
self-describing, checksummed frame (delta, delta-of-delta, bit-packing and a Huffman stage
for integers and timestamps; ALP, ALP_RD and byte-shuffle + LZ4 for floats; chosen per
block). :class:`SeriesEncoder` batches appended ``(timestamp, value)`` samples into record
frames for a store-and-forward queue.

Blobs: :func:`chunks` (FastCDC), :func:`signature`, :func:`diff` and :func:`patch` send
only what changed between two versions of a file.

Every decoder raises :class:`~edgekit.errors.CorruptDataError` on bad bytes, never
anything else. The frame format is specified in ``docs/codec-format.md``.
"""

from __future__ import annotations

from edgekit.codec.blob import Chunks, Delta, Signature, chunks, diff, patch, signature
from edgekit.codec.series import (
    DEFAULT_BLOCK_SIZE,
    FrameInfo,
    SeriesEncoder,
    compress,
    decode_series,
    decompress,
    encode_series,
    frame_info,
)

__all__ = [
    "DEFAULT_BLOCK_SIZE",
    "Chunks",
    "Delta",
    "FrameInfo",
    "SeriesEncoder",
    "Signature",
    "chunks",
    "compress",
    "decode_series",
    "decompress",
    "diff",
    "encode_series",
    "frame_info",
    "patch",
    "signature",
]
