"""Fixtures shared by every layer's tests; layer fixtures live in tests/<layer>/conftest.py."""

from __future__ import annotations

import os

# Benchmarks and tests alike: one BLAS thread on this small shared machine.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("default", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", parent=settings.get_profile("default"), print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "default")


@pytest.fixture(scope="session")
def speech():
    """``speech(text, voice="en", speed=160, sr=16000)``: espeak-ng speech as int16 samples."""
    from tests.speech import speech as synthesize

    return synthesize
