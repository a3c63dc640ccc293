"""Numba kernels of the analytics layer, one module per family.

- ``stats``: Welford, EWMA, rolling windows, P-square quantiles, rate of change.
- ``change``: CUSUM, Page-Hinkley, Bayesian online change-point detection.
- ``detectors``: alarm hysteresis, the EWMA z-score, Half-Space Trees, the left matrix
  profile (STOMP-style sliding dot products).
- ``contextual``, ``fusion``: the NAB detector and the IMU filters.
- ``multivariate``: T-squared and Q of rows against a fitted projection (HotellingT2, PcaT2Q).
- ``nab``: the NAB scorer's corpus-wide threshold sweep.

The public modules import the module they need lazily, on first use, so that
``import edgekit.analytics`` stays numba-free. This package imports nothing.
"""
