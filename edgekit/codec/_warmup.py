"""Warm-up of the codec kernels (outside ``_kernels``, which imports nothing of the layer)."""

from __future__ import annotations

import numpy as np

from edgekit.codec.blob import diff, patch, signature
from edgekit.codec.series import compress, decompress


def _both(frame: bytes) -> None:
    """Decode ``frame`` as ``bytes`` (the whole-frame kernels) and as a ``bytearray`` (the
    block loop the other buffers take: a frame read from a socket or a file)."""
    decompress(frame)
    decompress(bytearray(frame))


def warmup() -> None:
    """Compile (or load from cache) every kernel: the public API on tiny inputs of each
    dtype and of each scheme family, decoded from ``bytes`` and from a ``bytearray``."""
    for dtype in (
        np.int8,
        np.int16,
        np.int32,
        np.int64,
        np.uint8,
        np.uint16,
        np.uint32,
        np.uint64,
        np.float32,
        np.float64,
    ):
        x = (np.arange(40) * 3 % 7).astype(dtype)
        _both(compress(x))
    rng = np.random.default_rng(0)
    _both(compress(np.cumsum(rng.integers(-3, 4, 600))))
    noise = rng.standard_normal(300)
    _both(compress(noise))  # split (format 8)
    _both(compress(noise, level=1))  # alp-rd
    _both(compress(np.round(rng.standard_normal(300), 2)))
    _both(compress(np.round(rng.standard_normal(300), 2).astype(np.float32)))
    levels = rng.integers(0, 40, 1000)
    for dtype in (np.float32, np.float64):
        _both(compress((levels * 0.0076293945).astype(dtype)))  # dictionary
        _both(compress((np.tile(levels, 5) * 0.0076293945).astype(dtype)))  # (from its lags)
        _both(compress(np.tile(rng.standard_normal(300), 4).astype(dtype)))  # lz4
    # The format-2 modes: int-mult (factor, constant delta), float-mult, float-quant.
    steps = rng.integers(0, 3, 600)
    _both(compress(np.cumsum(steps) * 1_000_000 + 7))
    _both(compress(np.cumsum(np.where(np.arange(600) % 97 == 3, 2, 1)) * 3600))
    # A 64 Hz logger's clock in ns from ms (deltas 15, 16, 16, 16; late samples): lag
    # blocks over int-mult lanes, in a frame of two blocks (decoded outside the kernel).
    ticks = np.tile([15, 16, 16, 16], 1500)
    ticks[rng.random(6000) < 0.05] += 1
    _both(compress(np.cumsum(ticks) * 1_000_000, block_size=4096))
    for dtype in (np.float32, np.float64):
        _both(compress((np.cumsum(rng.integers(-9, 10, 600)) * 0.0048828125).astype(dtype)))
    _both(compress(np.cumsum(rng.standard_normal(600)).astype(np.float32).astype(np.float64)))
    # The repeat scheme of format version 4: every value twice.
    pairs = np.repeat(np.round(rng.standard_normal(2500), 8), 2)
    for dtype in (np.float32, np.float64):
        _both(compress(pairs.astype(dtype)))
    # The schemes of format version 6: a waveform of 5 samples repeated (lag, float-div).
    wave = np.tile(rng.integers(-2000, 2001, 5), 1000) + rng.integers(-3, 4, 5000)
    _both(compress(wave.astype(np.int16)))
    _both(compress(wave / 100.0))
    # Third differences of a smooth waveform (a lag of 1); levels of scaled counts (format 7).
    t = np.arange(3000)
    smooth = np.round(20_000 * np.sin(t / 64) * np.exp(np.sin(t / 207)))
    for dtype in (np.int16, np.int32, np.int64):
        _both(compress(smooth.astype(dtype)))
    counts = np.round(np.clip(np.cumsum(rng.integers(-3, 4, 3000)), -150, 150) * 10.2)
    for dtype in (np.int16, np.int64):
        _both(compress(counts.astype(dtype)))
    # Repeats and literals one period back (repeat-div, format 8): a cycling appliance.
    watts = np.empty(5000)
    watts[:4] = (300, 900, 1500, 700)
    pick, back = rng.random(5000), rng.integers(1, 16, 5000)
    step = rng.integers(-500, 501, 5000)
    for i in range(4, 5000):
        moved = watts[i - 4] + step[i] if pick[i] < 0.35 else watts[i - 4]
        watts[i] = moved if pick[i] < 0.78 else watts[max(i - back[i], 0)]
    for decimals, dtype in ((8, np.float64), (5, np.float32)):
        z = np.round((watts - watts.mean()) / watts.std(), decimals)
        _both(compress(z.astype(dtype)))
    # Periodic decimals a third of them an ulp off (a CPU load in percent): ALP's
    # exceptions counted, float-div with its lag built first.
    load = np.tile(rng.integers(0, 100_000, 12), 500) + rng.integers(-3000, 3001, 6000)
    off = rng.random(6000) < 1 / 3
    for dtype in (np.float64, np.float32):
        y = (load / 1000.0).astype(dtype)
        y[off] = np.nextafter(y[off], dtype(np.inf))
        _both(compress(y))
    # Noise literals among repeats (the repeat scheme's literals through lz4); decimals
    # with exceptions in blocks (float-div weighed on ALP's payload) and averages of three
    # readings (adjusted float-mult).
    noise = rng.standard_normal(2000)
    _both(compress(noise[rng.integers(0, 2000, 5000)]))
    for dtype in (np.float64, np.float32):
        walk = np.round(60 + 0.5 * np.cumsum(rng.standard_normal(6000)), 8).astype(dtype)
        _both(compress(walk, block_size=3000))
    _both(compress(rng.integers(40_000, 50_000, (3, 4000)).sum(axis=0) / 3000.0))
    # Runs of one value (format 13): a two-state flag, and readings held among 300 levels.
    state = np.repeat(np.arange(100) % 2, rng.integers(5, 40, 100))
    _both(compress(state))
    _both(compress(np.round(rng.normal(20.0, 3.0, 300), 2)[np.repeat(np.arange(300), 20)]))
    old = rng.integers(0, 256, 5000, dtype=np.uint8).tobytes()
    patch(old, diff(signature(old), old[:100] + b"x" + old[100:]))
