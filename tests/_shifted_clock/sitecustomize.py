"""Loaded (through PYTHONPATH) by every Python process of the shifted-clock test run.

That run preloads libfaketime with ``FAKETIME_DONT_FAKE_MONOTONIC=1``, so the wall
clock is shifted and the monotonic clock is not. libfaketime 0.9.10 then fails
CPython's ``time.sleep``, which waits with ``clock_nanosleep(CLOCK_MONOTONIC,
TIMER_ABSTIME)``, with EINVAL; a timed lock wait (``sem_clockwait`` on the
monotonic clock) is not affected, so ``time.sleep`` waits on one instead.
"""

import os
import threading
import time

if os.environ.get("EDGEKIT_TEST_CLOCK_SHIFT"):

    def _sleep(seconds: float) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        lock = threading.Lock()
        lock.acquire()
        lock.acquire(timeout=seconds)

    time.sleep = _sleep
