"""Codec frame surgery for tests that mutate frames on purpose, and the golden-frame files
(``tests/codec/data/frames_v*.json``: input values and the frame edgekit wrote for them)."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import xxhash

Array = np.ndarray[Any, Any]


def reseal(frame: bytes | bytearray) -> bytes:
    """Recompute a frame's trailing xxh3 checksum so that a mutation reaches the parser."""
    body = bytes(frame[:-8])
    return body + struct.pack("<Q", xxhash.xxh3_64_intdigest(body))


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
