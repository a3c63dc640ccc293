"""Bucket names for the state tests; the NATS fixtures (``shared_nats``, ``nats_server``,
``nats_cluster``) are in tests/conftest.py."""

from __future__ import annotations

import itertools

import pytest

_BUCKETS = itertools.count(1)


@pytest.fixture
def bucket() -> str:
    """A bucket name no other test of the session uses (tests share one server)."""
    return f"state{next(_BUCKETS)}"
