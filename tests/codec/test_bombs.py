"""Decompression bombs: small hostile frames that declare huge outputs (issue #20, point 4).

Each bomb is a valid, checksummed frame built from the codec's own blocks; the decoders
must refuse it with CorruptDataError before allocating the output, and never let a
MemoryError escape.
"""

from __future__ import annotations

import dataclasses
import struct
import textwrap
import tracemalloc
from collections.abc import Callable

import numpy as np
import pytest

from edgekit.codec import Delta, compress, decode_series, decompress, encode_series, patch
from edgekit.codec._format import DEFAULT_MAX_BYTES, HEAD_1D
from edgekit.codec._frame import xxh3_128
from edgekit.errors import CorruptDataError
from tests._support.child import run_child
from tests._support.frames import reseal

#: Bytes a decoder may allocate while refusing a bomb.
SMALL = 4 << 20


def series_bomb(blocks: int, dtype: str = "<u8") -> bytes:
    """A 1-D frame of ``blocks`` full blocks of zeros: 14 bytes a block, 65536 values each."""
    frame = compress(np.zeros(65536, dtype), compact=False)
    block = frame[HEAD_1D:-8]
    head = frame[:7] + struct.pack("<QI", 65536 * blocks, 65536)
    return reseal(head + block * blocks + bytes(8))


@pytest.fixture(autouse=True, scope="module")
def _warm() -> None:
    """Compile (or load) the kernels first: a cold numba cache allocates a lot once."""
    for dtype in ("<u8", "<i8"):
        frame = series_bomb(1, dtype)
        decompress(frame), decompress(bytearray(frame))
    old = bytes(256)
    patch(old, dataclasses.replace(_copy_bomb(old, 1), target_digest=xxh3_128(old)).to_bytes())


def peak_bytes(call: Callable[[], object]) -> int:
    """Peak traced allocation (bytes) while ``call`` raises CorruptDataError."""
    tracemalloc.start()
    try:
        with pytest.raises(CorruptDataError, match="max_bytes"):
            call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_series_bomb_is_refused_before_allocating() -> None:
    bomb = series_bomb(4096)  # 56 KiB declaring 2 GiB (37,000x)
    assert len(bomb) < 60_000
    assert peak_bytes(lambda: decompress(bomb)) < SMALL
    assert peak_bytes(lambda: decompress(bytearray(bomb))) < SMALL  # the general path
    record = encode_series(np.arange(3), np.zeros(3))
    assert decode_series(record)[0].tolist() == [0, 1, 2]


def test_series_bomb_in_a_record_is_refused() -> None:
    ts = series_bomb(4096, "<i8")
    vs = compress(np.zeros(1), compact=False)
    body = b"EKCR\x01" + struct.pack("<I", len(ts)) + ts + struct.pack("<I", len(vs)) + vs
    assert peak_bytes(lambda: decode_series(reseal(body + bytes(8)))) < SMALL


@pytest.mark.parametrize("dtype", ["<u8", "<i4", "<u1", "<f8", "<f4"])
def test_max_bytes_is_the_decoded_size_and_the_caller_can_raise_it(dtype: str) -> None:
    frame = series_bomb(2, dtype)
    nbytes = 2 * 65536 * np.dtype(dtype).itemsize
    for data in (frame, bytearray(frame)):
        assert decompress(data, max_bytes=nbytes).nbytes == nbytes
        assert not decompress(data, max_bytes=None).any()
        with pytest.raises(CorruptDataError, match=f"max_bytes={nbytes - 1}"):
            decompress(data, max_bytes=nbytes - 1)
    assert DEFAULT_MAX_BYTES == 256 << 20


def test_out_of_memory_is_corrupt_data_not_memory_error() -> None:
    """A 280 KiB frame asking for 9.8 GiB, with the bound lifted, under an address-space limit."""
    code = textwrap.dedent(
        """
        import resource, sys
        import numpy as np
        from edgekit.codec import decompress
        from edgekit.errors import CorruptDataError
        from tests.codec.test_bombs import series_bomb

        bomb = series_bomb(20_000)
        decompress(series_bomb(1)), decompress(bytearray(series_bomb(1)))  # warm the kernels
        with open("/proc/self/statm") as f:
            vm = int(f.read().split()[0]) * resource.getpagesize()
        limit = vm + (1 << 30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        for data in (bomb, bytearray(bomb)):
            try:
                decompress(data, max_bytes=None)
            except CorruptDataError as exc:
                assert "cannot allocate" in str(exc), exc
            else:
                sys.exit("decoded")
        print("ok")
        """
    )
    # (the child imports the test module; it may load or compile the codec's kernels while
    # three test workers share two cores: 120 s was not always enough in CI)
    assert run_child(code, timeout=280) == "ok"


def _copy_bomb(old: bytes, copies: int) -> Delta:
    ops = np.zeros((copies, 3), dtype=np.int64)
    ops[:, 2] = len(old)
    return Delta(len(old), xxh3_128(old), copies * len(old), bytes(16), ops, b"")


def test_patch_bomb_is_refused_before_allocating() -> None:
    old = bytes(range(256)) * 256  # 64 KiB
    delta = _copy_bomb(old, 4200)  # 275 MB of target from a 71 KB delta
    frame = delta.to_bytes()
    assert len(frame) < 72_000
    assert peak_bytes(lambda: patch(old, frame)) < SMALL
    assert peak_bytes(lambda: Delta.from_bytes(frame)) < SMALL
    assert peak_bytes(lambda: patch(old, delta)) < SMALL
    small = dataclasses.replace(_copy_bomb(old, 3), target_digest=xxh3_128(old * 3))
    assert patch(old, small.to_bytes(), max_bytes=3 * len(old)) == old * 3
    with pytest.raises(CorruptDataError, match="max_bytes"):
        patch(old, small.to_bytes(), max_bytes=3 * len(old) - 1)


def test_patch_out_of_memory_is_corrupt_data() -> None:
    old = b"base"
    delta = Delta(len(old), xxh3_128(old), 1 << 62, bytes(16), np.zeros((0, 3), np.int64), b"")
    with pytest.raises(CorruptDataError, match="cannot allocate"):
        patch(old, delta, max_bytes=None)
