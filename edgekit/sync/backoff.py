"""Exponential backoff with jitter, shared by the queue's nack and the engine's reconnect."""

from __future__ import annotations

import random
from dataclasses import dataclass

from edgekit.errors import InvalidInputError

__all__ = ["Backoff"]


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter.

    The delay before retry ``attempt`` (1 for the first retry) is
    ``min(maximum, initial * multiplier ** (attempt - 1))`` seconds, reduced by a
    random fraction of up to ``jitter`` (0: none, 1: "full jitter") so that many
    devices that lost the link together do not retry in lockstep.

    Attributes:
        initial: Delay before the first retry, in seconds.
        maximum: Upper bound of the delay, in seconds.
        multiplier: Growth factor per attempt.
        jitter: Fraction of the delay that is randomised away, in [0, 1].
    """

    initial: float = 1.0
    maximum: float = 300.0
    multiplier: float = 2.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if not (self.initial >= 0 and self.maximum >= self.initial):
            raise InvalidInputError("Backoff needs 0 <= initial <= maximum (seconds)")
        if not self.multiplier >= 1:
            raise InvalidInputError("Backoff.multiplier must be >= 1")
        if not 0 <= self.jitter <= 1:
            raise InvalidInputError("Backoff.jitter must be in [0, 1]")

    def ceiling(self, attempt: int) -> float:
        """The delay before retry ``attempt`` without jitter, in seconds."""
        exponent = min(max(attempt - 1, 0), 64)
        return float(min(self.maximum, self.initial * self.multiplier**exponent))

    def delay(self, attempt: int) -> float:
        """The jittered delay before retry ``attempt`` (1-based), in seconds."""
        ceiling = self.ceiling(attempt)
        return ceiling * (1.0 - self.jitter * random.random())
