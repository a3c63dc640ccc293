"""Streaming audio features and filters, block by block with carried state (numba kernels)."""

from __future__ import annotations

__all__: list[str] = []
