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


def pytest_sessionstart(session: pytest.Session) -> None:
    """Under the shifted-clock run (noxfile's run_shifted_clock), check the shift took."""
    shift = os.environ.get("EDGEKIT_TEST_CLOCK_SHIFT")
    if shift:
        import time

        seconds, real_now = (float(part) for part in shift.split(":"))
        ahead = time.time() - real_now
        if not seconds - 3600 < ahead < seconds + 86400:
            raise pytest.UsageError(
                f"EDGEKIT_TEST_CLOCK_SHIFT asks for the clock {seconds:.0f} s ahead; "
                f"it is {ahead:.0f} s ahead (is libfaketime preloaded?)"
            )


@pytest.fixture(scope="session")
def speech():
    """``speech(text, voice="en", speed=160, sr=16000)``: espeak-ng speech as int16 samples."""
    from tests._support.audio import speech as synthesize

    return synthesize


# The default run spreads the tests over pytest-xdist workers (noxfile: ``-n 3 --dist
# loadgroup``). Tests that browse or advertise mDNS on 127.0.0.1 would see each other's
# services across workers, so they run in one group, one after another, on one worker.
_MDNS_TESTS = (
    "tests/scan/test_cli.py",
    "tests/scan/test_endpoints.py",
    "tests/scan/test_inventory.py",
    "tests/scan/test_mdns.py",
    "tests/scan/test_mdns_cache.py",
    "tests/scan/test_mdns_settle.py",
    "tests/scan/test_oneshot.py",
    "tests/scan/test_pause.py",
    "tests/telemetry/test_guard.py::test_cpu_over_pauses_a_real_mdns_scanner",
    "tests/pipelines/",
    "tests/telemetry/test_collector.py",
    "tests/test_cli_errors.py",
    "tests/test_docs.py",
    "tests/test_examples.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.startswith(_MDNS_TESTS):
            item.add_marker(pytest.mark.xdist_group("mdns"))
