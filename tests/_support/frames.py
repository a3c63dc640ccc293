"""Codec frame surgery for tests that mutate frames on purpose."""

from __future__ import annotations

import struct

import xxhash


def reseal(frame: bytes | bytearray) -> bytes:
    """Recompute a frame's trailing xxh3 checksum so that a mutation reaches the parser."""
    body = bytes(frame[:-8])
    return body + struct.pack("<Q", xxhash.xxh3_64_intdigest(body))
