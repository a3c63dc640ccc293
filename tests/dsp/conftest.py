"""Fixtures of the dsp tests: espeak-ng speech with silence around it."""

from __future__ import annotations

import numpy as np
import pytest

from tests._support.audio import SR


@pytest.fixture(scope="session")
def speech_16k(speech) -> np.ndarray:
    """A few seconds of espeak-ng speech (int16, 16 kHz) with silence around it."""
    words = speech("hey jarvis, turn on the kitchen lights please", sr=SR)
    pad = np.zeros(SR // 2, dtype=np.int16)
    return np.concatenate([pad, words, pad])
