"""Compress a sensor series three ways and ship a model update as a blob delta.

Run: ``python examples/codec_sensor_series.py``. Uses the CO2 series shipped in
statsmodels, a simulated 10 Hz sensor loop, and a synthetic 2 MiB blob.

Needs: pip install "edgekit[notebook]" (statsmodels, for the CO2 data set).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from edgekit.codec import (
    SeriesEncoder,
    Signature,
    compress,
    decode_series,
    decompress,
    diff,
    frame_info,
    patch,
    signature,
)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    try:
        from statsmodels.datasets import co2
    except ImportError:
        sys.exit('this example needs statsmodels: pip install "edgekit[notebook]"')

    # 1. A whole array: real weekly CO2 readings (ppm, with NaN gaps).
    ppm = co2.load_pandas().data["co2"].to_numpy(dtype=np.float64)
    frame = compress(ppm)
    assert decompress(frame).tobytes() == ppm.tobytes()
    info = frame_info(frame)
    print(
        f"CO2: {ppm.nbytes} -> {len(frame)} bytes ({ppm.nbytes / len(frame):.1f}x), {info.schemes}"
    )

    # 2. A sensor loop: 10 Hz samples, a frame every 600 points (one minute).
    rng = np.random.default_rng(0)
    frames: list[bytes] = []
    encoder = SeriesEncoder(600, channels=3, on_frame=frames.append)
    t0 = 1_700_000_000_000_000_000
    for i in range(1500):
        jitter = int(rng.normal(0, 200_000))  # the loop wakes up +-0.2 ms late or early
        reading = np.round(20 + np.sin(i / 50) + rng.normal(0, 0.02, 3), 2)
        encoder.append(t0 + i * 100_000_000 + jitter, reading)
    encoder.flush()
    raw = 1500 * (8 + 3 * 8)
    sent = sum(len(f) for f in frames)
    print(f"sensor loop: {len(frames)} frames, {raw} -> {sent} bytes ({raw / sent:.1f}x)")
    ts, values = decode_series(frames[0])
    print(f"  first frame: {ts.size} timestamps, values {values.shape}, first {values[0]}")

    # 3. A blob update: the device sends its signature, the server answers with a delta.
    old = rng.integers(0, 256, 2 << 20, dtype=np.uint8).tobytes()
    new = old[:700_000] + b"a new layer" + old[700_000:1_500_000] + bytes(64) + old[1_500_064:]
    sig = signature(old).to_bytes()
    delta = diff(Signature.from_bytes(sig), new).to_bytes()
    assert patch(old, delta) == new
    print(
        f"blob: {len(new)} bytes new, signature {len(sig)} bytes up, delta {len(delta)} bytes down"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
