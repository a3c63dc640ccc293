"""The dsp layer's warm-up: every kernel once, through the public API (see edgekit.warmup)."""

from __future__ import annotations

import numpy as np


def warmup() -> None:
    """Compile (or load from cache) every kernel for each dtype the public API uses."""
    from edgekit import dsp

    rng = np.random.default_rng(0)
    f64 = rng.standard_normal(2048) * 0.1
    blocks = (f64, f64.astype(np.float32), (f64 * 32767).astype(np.int16))
    dsp.MicroFrontend().process(blocks[2][:480])
    sos = dsp.butter(2, 1000, "lowpass", 16000)
    for x in blocks:
        dsp.stft(x, n_fft=256)
        dsp.melspectrogram(y=x, sr=16000, n_fft=256, n_mels=8)
        dsp.mfcc(y=x, sr=16000, n_fft=256, n_mels=8, n_mfcc=4)
        dsp.sosfilt(sos, x)
        dsp.preemphasis(x)
        dsp.LevelMeter().process(x)
        dsp.resample(x[:100], 48000, 16000)
        for kind in ("mel", "log_mel", "mfcc"):
            dsp.FeatureStream(
                kind, sr=16000, n_fft=256, hop_length=128, n_mels=8, n_mfcc=4
            ).process(x)
    dsp.power_to_db(np.abs(f64).reshape(32, 64))
    dsp.power_to_db(np.abs(f64).astype(np.float32))
