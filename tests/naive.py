"""Slow, obviously-correct reference versions of edgekit's kernels, for equivalence tests.

One section per layer; each function states what it mirrors.
"""

from __future__ import annotations

# --- dsp -----------------------------------------------------------------------


def upfirdn(h, x, up, down):
    """Upsample by ``up``, filter with FIR ``h``, keep every ``down``-th sample (full length).

    Mirrors the polyphase loop of ``edgekit.dsp.Resampler`` and ``scipy.signal.upfirdn``.
    """
    import numpy as np

    h = np.asarray(h, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    stuffed = np.zeros(len(x) * up)
    stuffed[::up] = x
    full = np.convolve(stuffed, h)
    n_out = (len(stuffed) + len(h) - 1 + down - 1) // down
    return full[::down][:n_out]


def sosfilt_df2t(sos, x):
    """Second-order sections in direct form II transposed, one sample at a time.

    Mirrors ``edgekit.dsp.sosfilt`` (and ``scipy.signal.sosfilt``).
    """
    y = [float(v) for v in x]
    for b0, b1, b2, _a0, a1, a2 in sos:
        z0 = z1 = 0.0
        for i, xi in enumerate(y):
            yi = b0 * xi + z0
            z0 = b1 * xi - a1 * yi + z1
            z1 = b2 * xi - a2 * yi
            y[i] = yi
    return y


# --- codec ---------------------------------------------------------------------


# --- infer ---------------------------------------------------------------------


# --- scan ----------------------------------------------------------------------


# --- sync ----------------------------------------------------------------------
