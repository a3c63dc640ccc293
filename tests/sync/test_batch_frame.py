"""The binary batch frame's decoder against hostile counts and memory exhaustion (issue #20)."""

from __future__ import annotations

import struct
import textwrap
import tracemalloc

import pytest

from edgekit.errors import CorruptDataError
from edgekit.sync import Message, decode_batch, encode_batch
from tests._support.child import run_child
from tests._support.frames import reseal

#: The encoding of the smallest message: id 1, empty topic, dedup id, key, headers, payload.
SMALLEST = encode_batch([Message(id=1, payload=b"", topic="", key="")])[9:-8]


def batch(count: int, messages: bytes) -> bytes:
    """A sealed batch frame declaring ``count`` messages, with ``messages`` as its body."""
    return reseal(b"EKSB\x01" + struct.pack("<I", count) + messages + bytes(8))


def test_smallest_message_is_the_bound() -> None:
    assert len(SMALLEST) == 34
    assert [m.id for m in decode_batch(batch(3, SMALLEST * 3))] == [1, 1, 1]


def test_count_beyond_what_the_bytes_hold_is_refused_before_parsing() -> None:
    data = batch(1000, SMALLEST * 999)  # room for 999 smallest messages
    tracemalloc.start()
    try:
        with pytest.raises(CorruptDataError, match="1000 messages need at least 34000 bytes"):
            decode_batch(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 << 10


def test_out_of_memory_is_corrupt_data_not_memory_error() -> None:
    """A valid 34 MB batch of a million messages under an address-space limit."""
    code = textwrap.dedent(
        """
        import resource
        from edgekit.errors import CorruptDataError
        from edgekit.sync import decode_batch
        from tests.sync.test_batch_frame import SMALLEST, batch

        data = batch(1_000_000, SMALLEST * 1_000_000)
        decode_batch(batch(1, SMALLEST))
        with open("/proc/self/statm") as f:
            vm = int(f.read().split()[0]) * resource.getpagesize()
        resource.setrlimit(resource.RLIMIT_AS, (vm + (64 << 20), vm + (64 << 20)))
        try:
            decode_batch(data)
        except CorruptDataError as exc:
            assert "not enough memory" in str(exc), exc
            print("ok")
        """
    )
    assert run_child(code) == "ok"  # (the child imports the test module)
