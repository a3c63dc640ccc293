"""LevelMeter and EnergyVad."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit import dsp
from edgekit.errors import InvalidInputError


def test_level_of_known_signals() -> None:
    meter = dsp.LevelMeter()
    t = np.arange(1600) / 16000
    sine = np.sin(2 * np.pi * 1000 * t)
    level = meter.process(sine)
    assert level.rms_db == pytest.approx(-3.0103, abs=1e-3)
    assert level.peak_db == pytest.approx(0.0, abs=1e-3)
    half = meter.process((0.5 * sine).astype(np.float32))
    assert half.rms_db == pytest.approx(-3.0103 - 6.0206, abs=1e-3)
    pcm = meter.process(np.full(160, -32768, dtype=np.int16))
    assert pcm == dsp.Level(0.0, 0.0)
    assert meter.process(np.zeros(160)) == dsp.Level(-120.0, -120.0)


def test_level_rejects_bad_blocks() -> None:
    with pytest.raises(InvalidInputError, match="NaN"):
        dsp.LevelMeter().process(np.array([0.0, np.nan]))
    with pytest.raises(InvalidInputError, match="empty"):
        dsp.LevelMeter().process(np.zeros(0))


def test_energy_vad_on_speech(speech) -> None:
    words = speech("hello there, this is a test")
    silence = np.zeros(16000, dtype=np.int16)
    noise = (np.random.default_rng(0).standard_normal(len(words) + 32000) * 30).astype(np.int16)
    audio = np.concatenate([silence, words, silence]) + noise
    vad = dsp.EnergyVad(threshold_db=-40.0, hangover_blocks=10)
    flags = np.array([vad.process(audio[i : i + 160]) for i in range(0, len(audio) - 159, 160)])
    first, last = np.flatnonzero(flags)[[0, -1]]
    speech_start, speech_end = 100, 100 + len(words) // 160
    assert abs(first - speech_start) < 30
    assert speech_end - 30 < last < speech_end + 30
    assert not flags[:80].any() and not flags[-80:].any()
    assert flags[first : last + 1].mean() > 0.9  # hangover bridges short pauses


def test_energy_vad_hangover_and_min_speech() -> None:
    loud = np.full(160, 0.5)
    quiet = np.zeros(160)
    vad = dsp.EnergyVad(threshold_db=-20.0, hangover_blocks=2, min_speech_blocks=2)
    assert [vad.process(b) for b in (loud, quiet, loud, loud, quiet, quiet, quiet)] == [
        False, False, False, True, True, True, False,
    ]  # fmt: skip
    vad.reset()
    assert not vad.speaking
    with pytest.raises(InvalidInputError):
        dsp.EnergyVad(hangover_blocks=-1)
