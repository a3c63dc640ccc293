"""Warm-up of the scan kernels (outside ``_kernels``, which imports nothing of the layer)."""

from __future__ import annotations

from edgekit.scan.advertisement import parse_advertisements


def warmup() -> None:
    """Compile (or load from cache) the batch parser's kernel on a tiny payload."""
    parse_advertisements([b"\x02\x01\x06\x03\x03\x12\x18"])
