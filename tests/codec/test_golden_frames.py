"""Frames of format version 1, committed as bytes, keep decoding to the same values.

``data/frames_v1.json`` holds, per case, the input values and the frame that edgekit wrote
for them (version 1). Every later reader must decode them; the current encoder must also
still write them byte for byte (a change of encoder choices shows up here first).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgekit.codec import compress, decompress, frame_info

CASES: dict[str, dict[str, Any]] = json.loads(
    (Path(__file__).parent / "data" / "frames_v1.json").read_text()
)


def _values(case: dict[str, Any]) -> np.ndarray[Any, Any]:
    flat = np.frombuffer(bytes.fromhex(case["values_hex"]), dtype=case["dtype"])
    return flat.reshape(case["shape"])


@pytest.mark.parametrize("name", sorted(CASES))
def test_committed_v1_frame_decodes_to_its_values(name: str) -> None:
    case = CASES[name]
    frame = bytes.fromhex(case["frame_hex"])
    assert frame[4] == 1  # format version of the committed frame
    assert list(frame_info(frame).schemes) == case["schemes"]
    want = _values(case)
    for data in (frame, bytearray(frame), memoryview(frame)):
        got = decompress(data)
        assert got.dtype == want.dtype and got.shape == want.shape
        assert got.tobytes() == want.tobytes()


@pytest.mark.parametrize("name", sorted(CASES))
def test_encoder_still_writes_the_committed_frame(name: str) -> None:
    case = CASES[name]
    assert compress(_values(case), **case["kwargs"]).hex() == case["frame_hex"]


def test_the_committed_frames_cover_every_scheme_family() -> None:
    schemes = {s for case in CASES.values() for s in case["schemes"]}
    assert {"alp", "alp-rd", "dictionary", "huffman", "delta", "for", "shuffle-lz4"} <= schemes
