"""The runs scheme (format version 13): integer blocks as their runs of one value, each
run's value and length through the integer schemes (a flag or a state that holds for
tens of samples: a relay, a door, a survey's answer repeated per person; counts that are
mostly zero). The planner's pre-check, the split and the decoder's fill; the layout is in
``docs/codec-format.md``.
"""

from __future__ import annotations

import numpy as np

from edgekit._jit import njit
from edgekit.codec._format import ERR_PARAMS
from edgekit.codec._kernels.bitpack import even_next

#: Adjacent pairs the pre-check compares (evenly spaced).
RUNS_SAMPLE = 1024


@njit
def runs_share(u):
    """The share of RUNS_SAMPLE evenly spaced adjacent pairs of the lanes ``u`` that are
    equal (all pairs when fewer); 0.0 for fewer than 2 values."""
    n = u.size
    if n < 2:
        return 0.0
    m = min(RUNS_SAMPLE, n - 1)
    same = 0
    q, r = divmod(n - 1, m)
    i = rem = 0
    for _ in range(m):  # (at j * (n - 1) // m)
        same += u[i] == u[i + 1]
        i, rem = even_next(i, rem, q, r, m)
    return same / m


@njit
def runs_split(u):
    """``(values, lengths)`` of the runs of the lanes ``u`` (not empty): each run's value
    and its length less one (uint64 both)."""
    n = u.size
    m = 1
    for i in range(1, n):
        m += u[i] != u[i - 1]
    values = np.empty(m, dtype=np.uint64)
    lengths = np.empty(m, dtype=np.uint64)
    values[0] = u[0]
    j = 0
    start = 0
    for i in range(1, n):
        if u[i] != u[i - 1]:
            lengths[j] = i - start - 1
            j += 1
            values[j] = u[i]
            start = i
    lengths[j] = n - start - 1
    return values, lengths


@njit
def runs_fill(values, lengths, out):
    """``out`` (uint64 lanes) as each of ``values`` repeated its length in ``lengths``
    plus one times, in turn: 0, or ERR_PARAMS (``out`` partly written) where the runs do
    not fill ``out`` exactly."""
    n = out.size
    at = 0
    for j in range(values.size):
        k = lengths[j]
        if k >= np.uint64(n - at):  # (a run past the end; also lengths near 2**64)
            return ERR_PARAMS
        v = values[j]
        stop = at + np.int64(k) + 1
        for i in range(at, stop):
            out[i] = v
        at = stop
    return 0 if at == n else ERR_PARAMS
