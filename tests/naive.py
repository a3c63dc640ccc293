"""Slow, obviously-correct reference versions of edgekit's kernels, for equivalence tests.

One section per layer; each function states what it mirrors.
"""

from __future__ import annotations

# --- dsp -----------------------------------------------------------------------


# --- codec ---------------------------------------------------------------------


# --- infer ---------------------------------------------------------------------


# --- scan ----------------------------------------------------------------------


# --- sync ----------------------------------------------------------------------
