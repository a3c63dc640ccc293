"""Block levels in dBFS and a simple energy voice-activity detector with hangover."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from edgekit.dsp._audio_input import checked_block
from edgekit.dsp._validate import kernels, positive_int
from edgekit.errors import InvalidInputError

__all__ = ["EnergyVad", "Level", "LevelMeter"]


class Level(NamedTuple):
    """Level of one block: RMS and peak in dBFS (0 dBFS = full scale: 1.0, or 32768 for int16)."""

    rms_db: float
    peak_db: float


def _db(power: float, floor_db: float) -> float:
    if power <= 0.0:
        return floor_db
    return max(floor_db, 10.0 * math.log10(power))


class LevelMeter:
    """RMS and peak level of each block, in dBFS.

    Args:
        floor_db: the value reported for silence (and the lowest value reported).
    """

    def __init__(self, floor_db: float = -120.0) -> None:
        self.floor_db = float(floor_db)
        self._level = kernels().block_level

    def process(self, block: np.ndarray) -> Level:
        """The level of one block (int16, float32 or float64 samples)."""
        block = checked_block(block)
        ms, peak = self._level(block)
        if ms < 0:
            raise InvalidInputError("block contains NaN or infinity")
        return Level(_db(ms, self.floor_db), _db(peak * peak, self.floor_db))


class EnergyVad:
    """Voice activity from block energy: speech when the RMS level is above a threshold.

    Speech starts after ``min_speech_blocks`` loud blocks in a row and lasts
    ``hangover_blocks`` quiet blocks after the last loud one, so short pauses
    inside words do not cut an utterance.

    Args:
        threshold_db: RMS level (dBFS) above which a block is loud.
        hangover_blocks: quiet blocks that still count as speech after a loud block.
        min_speech_blocks: loud blocks in a row needed to start speech.
    """

    def __init__(
        self, threshold_db: float = -40.0, *, hangover_blocks: int = 20, min_speech_blocks: int = 1
    ) -> None:
        self.threshold_db = float(threshold_db)
        if not math.isfinite(self.threshold_db):
            raise InvalidInputError("threshold_db must be finite")
        if (
            isinstance(hangover_blocks, bool)
            or not isinstance(hangover_blocks, int)
            or hangover_blocks < 0
        ):
            raise InvalidInputError(f"hangover_blocks must be an int >= 0, got {hangover_blocks!r}")
        self.hangover_blocks = hangover_blocks
        self.min_speech_blocks = positive_int(min_speech_blocks, "min_speech_blocks")
        self._meter = LevelMeter()
        self._loud_run = 0
        self._quiet_left = 0
        self.speaking = False
        self.last_level: Level | None = None

    def reset(self) -> None:
        """Back to silence."""
        self._loud_run = 0
        self._quiet_left = 0
        self.speaking = False
        self.last_level = None

    def process(self, block: Any) -> bool:
        """Feed one block; True while speech is on (including the hangover)."""
        level = self._meter.process(block)
        self.last_level = level
        if level.rms_db > self.threshold_db:
            self._loud_run += 1
            if self._loud_run >= self.min_speech_blocks:
                self.speaking = True
                self._quiet_left = self.hangover_blocks
        else:
            self._loud_run = 0
            if self.speaking:
                if self._quiet_left > 0:
                    self._quiet_left -= 1
                else:
                    self.speaking = False
        return self.speaking
