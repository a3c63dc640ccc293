"""Lossless compression of numeric sensor series and binary deltas of blobs (numba kernels)."""

from __future__ import annotations

__all__: list[str] = []
