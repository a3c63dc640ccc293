"""Codec frame surgery for tests that mutate frames on purpose, and the golden-frame files
(``tests/codec/data/frames_v*.json``: input values and the frame edgekit wrote for them)."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import xxhash

Array = np.ndarray[Any, Any]


def is_compact(frame: bytes | bytearray) -> bool:
    """Whether ``frame`` is a series frame in the compact layout (format version 7)."""
    return frame[:4] == b"EKCS" and len(frame) > 5 and frame[5] & 0x80 != 0


def reseal(frame: bytes | bytearray) -> bytes:
    """Recompute a frame's trailing xxh3 checksum (the 4-byte one of a compact series
    frame) so that a mutation reaches the parser."""
    if is_compact(frame):
        body = bytes(frame[:-4])
        return body + struct.pack("<I", xxhash.xxh3_64_intdigest(body) & 0xFFFFFFFF)
    body = bytes(frame[:-8])
    return body + struct.pack("<Q", xxhash.xxh3_64_intdigest(body))


def first_block(frame: bytes) -> int:
    """Offset of the first block header of a 1-D series frame (full or compact layout)."""
    if not is_compact(frame):
        return 19
    at = 6
    while frame[at] & 0x80:
        at += 1
    return at + 1


def compact_of(frame: bytes) -> bytes:
    """The compact-layout frame (format version 7, or the full frame's when newer) of a
    full-layout 1-D frame of one block: the same block, behind the short header and before
    the 4-byte checksum."""
    version, code, ndim, n, _block_size = struct.unpack_from("<BBBQI", frame, 4)
    assert ndim == 1 and n <= 65536
    count = bytearray()
    while n >= 0x80:
        count.append(n & 0x7F | 0x80)
        n >>= 7
    count.append(n)
    version = max(version, 7)
    return reseal(b"EKCS" + bytes((version, code | 0x80)) + count + frame[19:-8] + bytes(4))


def write_golden(path: Path, cases: dict[str, tuple[Array, dict[str, Any]]]) -> None:
    """Write a golden-frame file: per case its dtype, shape, ``compress`` arguments, the
    schemes and frame edgekit writes now, and the values (only when a format changes on
    purpose)."""
    from edgekit.codec import compress, frame_info

    out = {}
    for name, (x, kwargs) in cases.items():
        frame = compress(x, **kwargs)
        out[name] = {
            "dtype": x.dtype.str,
            "shape": list(x.shape),
            "kwargs": kwargs,
            "schemes": list(frame_info(frame).schemes),
            "values_hex": x.tobytes().hex(),
            "frame_hex": frame.hex(),
        }
    path.write_text(json.dumps(out, indent=1) + "\n")


def golden_values(case: dict[str, Any]) -> Array:
    """The input values of a golden-frame case."""
    flat = np.frombuffer(bytes.fromhex(case["values_hex"]), dtype=case["dtype"])
    out: Array = flat.reshape(case["shape"])
    return out


def assert_golden_case(case: dict[str, Any]) -> None:
    """A golden-frame case's frame decodes to its values from ``bytes``, ``bytearray`` and
    ``memoryview``, and the encoder still writes it byte for byte."""
    from edgekit.codec import compress, decompress

    frame = bytes.fromhex(case["frame_hex"])
    want = golden_values(case)
    for data in (frame, bytearray(frame), memoryview(frame)):
        got = decompress(data)
        assert got.dtype == want.dtype and got.tobytes() == want.tobytes()
    assert compress(want, **case["kwargs"]).hex() == case["frame_hex"]


def golden_cases_of(versions: range) -> dict[str, dict[str, Any]]:
    """The golden cases of the format ``versions`` (``tests/codec/data/frames_v*.json``)."""
    data = Path(__file__).resolve().parents[1] / "codec" / "data"
    return {
        name: case
        for v in versions
        for name, case in json.loads((data / f"frames_v{v}.json").read_text()).items()
    }


def assert_written_no_larger(
    case: dict[str, Any], before: Callable[[], AbstractContextManager[None]], version: int
) -> None:
    """An older golden case decodes from what the encoder writes now, which is no larger
    than what the encoder ``before`` (a format's predecessor) writes; where they differ,
    the frame says ``version`` or a newer one (a later format's scheme may be in it)."""
    from edgekit.codec import compress, decompress

    x = golden_values(case)
    frame = compress(x, **case["kwargs"])
    with before():
        older = compress(x, **case["kwargs"])
    assert decompress(frame).tobytes() == x.tobytes()
    assert len(frame) <= len(older)
    if frame != older:
        assert frame[4] >= version and len(frame) < len(older)


@contextmanager
def format_12_encoder() -> Iterator[None]:
    """The encoder as it was before format 13: no integer block takes the runs scheme. The
    golden cases of version 12 are still written byte for byte with it; with format 13 on,
    ``test_format_v13`` checks that every older case is written no larger."""
    from edgekit.codec import _schemes

    saved = _schemes.RUNS_MIN_VALUES
    _schemes.RUNS_MIN_VALUES = 1 << 62
    try:
        yield
    finally:
        _schemes.RUNS_MIN_VALUES = saved


@contextmanager
def format_11_encoder() -> Iterator[None]:
    """The encoder as it was before format 12: no float block takes the grid scheme (nor an
    integer block the runs scheme of format 13). The golden cases of version 11 are still
    written byte for byte with it; with format 12 on, ``test_format_v12`` checks that every
    older case is written no larger."""
    from edgekit.codec import _schemes

    saved = _schemes.GRID_MIN_VALUES
    _schemes.GRID_MIN_VALUES = 1 << 62
    try:
        with format_12_encoder():
            yield
    finally:
        _schemes.GRID_MIN_VALUES = saved


@contextmanager
def format_10_encoder() -> Iterator[None]:
    """The encoder as it was before format 11: no integer block takes the copy scheme (nor
    a float block the grid scheme of format 12). The golden cases of version 10 are still
    written byte for byte with it; with format 11 on, ``test_format_v11`` checks that every
    older case is written no larger."""
    from edgekit.codec import _schemes

    saved = _schemes.COPY_MIN_VALUES
    _schemes.COPY_MIN_VALUES = 1 << 62
    try:
        with format_11_encoder():
            yield
    finally:
        _schemes.COPY_MIN_VALUES = saved


@contextmanager
def format_9_encoder() -> Iterator[None]:
    """The encoder as it was before format 10: a dictionary's values never take the float
    lanes (nor an integer block the copy scheme of format 11). The golden cases of version
    9 are still written byte for byte with it; with format 10 on, ``test_format_v10``
    checks that every older case is written no larger."""
    from edgekit.codec import _schemes

    saved = _schemes.FLANES_MIN_VALUES
    _schemes.FLANES_MIN_VALUES = 1 << 62
    try:
        with format_10_encoder():
            yield
    finally:
        _schemes.FLANES_MIN_VALUES = saved


@contextmanager
def format_8_encoder() -> Iterator[None]:
    """The encoder as it was before format 9: integer lanes never take the single-stream
    huffman scheme (nor a dictionary's values the float lanes of format 10). The golden
    cases of versions 1 to 8 are still written byte for byte with it (a change of any other
    encoder choice shows up there first); with format 9 on, ``test_format_v9`` checks that
    they are written no larger."""
    from edgekit.codec import _schemes

    saved = _schemes.HUFF1_MAX_VALUES
    _schemes.HUFF1_MAX_VALUES = 0
    try:
        with format_9_encoder():
            yield
    finally:
        _schemes.HUFF1_MAX_VALUES = saved
