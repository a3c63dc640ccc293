"""NAB scoring kernel: the corpus-wide threshold sweep.

Rows carry a weight (the profile's scaled-sigmoid score of a detection there) and a window
id (``-1`` outside every window; probationary rows are removed by the caller).
"""

from __future__ import annotations

import numpy as np

from edgekit._jit import njit


@njit
def sweep(scores, weights, window_ids, n_windows, fn_weight):
    """Score of every distinct threshold, rows given in descending order of ``scores``.

    A row is a detection when its anomaly score is >= the threshold. The score of a
    threshold is the sum of the false positives' weights plus, per window, the largest
    weight of its detections (``-fn_weight`` when it has none). Returns
    ``(thresholds, totals)`` for the threshold ``1.1`` (no detection) and then each
    distinct anomaly score, in descending order.
    """
    n = scores.shape[0]
    best = np.full(n_windows, -fn_weight)
    thresholds = np.empty(n + 1)
    totals = np.empty(n + 1)
    window_part = -fn_weight * n_windows
    fp_part = 0.0
    k = 0
    thresholds[0] = 1.1
    i = 0
    while i < n:
        totals[k] = window_part + fp_part
        k += 1
        current = scores[i]
        thresholds[k] = current
        while i < n and scores[i] == current:
            w = window_ids[i]
            if w < 0:
                fp_part += weights[i]
            elif weights[i] > best[w]:
                window_part += weights[i] - best[w]
                best[w] = weights[i]
            i += 1
    totals[k] = window_part + fp_part
    k += 1
    return thresholds[:k], totals[:k]
