"""Every decoder only ever raises CorruptDataError on bad bytes: random, mutated, hostile frames."""

from __future__ import annotations

import contextlib
import json
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgekit.codec import (
    Delta,
    Signature,
    compress,
    decode_series,
    decompress,
    diff,
    encode_series,
    frame_info,
    patch,
    signature,
)
from edgekit.codec._format import FORMAT_VERSION, RANK
from edgekit.errors import CorruptDataError, InvalidInputError
from tests._support.frames import format_8_encoder, format_9_encoder, format_11_encoder, reseal
from tests.codec.test_format_v5 import averaged_readings, gappy_clock, order2_series
from tests.codec.test_format_v6 import periodic_counts, periodic_decimals, smooth_waveform
from tests.codec.test_format_v7 import scaled_counts
from tests.codec.test_format_v8 import cycling_readings, noise
from tests.codec.test_format_v11 import unit_speech
from tests.codec.test_format_v12 import offset_grid
from tests.codec.test_format_v13 import mostly_zero_counts, state_runs
from tests.codec.test_modes import nested_scheme
from tests.codec.test_repeat import recurring_readings


def _committed_v2(name: str) -> bytes:
    cases = json.loads((Path(__file__).parent / "data" / "frames_v2.json").read_text())
    return bytes.fromhex(cases[name]["frame_hex"])


def _rank_single() -> bytes:
    """An int-mult frame whose lanes are single ranks (20 scattered deltas, skewed)."""
    rng = np.random.default_rng(0)
    deltas = rng.choice(np.arange(1, 5000), 20, replace=False)
    p = 0.6 ** np.arange(20)
    return compress(5 + np.cumsum(rng.choice(deltas, 1000, p=p / p.sum()) * 1000))


def _sample_frames() -> dict[str, bytes]:
    rng = np.random.default_rng(7)
    rng9 = np.random.default_rng(9)  # (the samples of format 9: the others draw as before)
    rng10 = np.random.default_rng(10)  # (and of format 10)
    old = rng.integers(0, 256, 20_000, dtype=np.uint8).tobytes()
    new = old[:5000] + b"inserted" + old[5000:15000] + bytes(300) + old[15300:]
    sig = signature(old, min_size=256, avg_size=1024, max_size=4096)
    return {
        "for": compress(np.arange(300, dtype=np.int16) % 17, level=1),
        "delta": compress(np.arange(500, dtype=np.int64) * 7 + 3),
        "dod": compress(np.arange(500, dtype=np.int64) ** 2 + (np.arange(500) % 3), level=1),
        "huffman": _format_8(np.cumsum(np.round(rng.laplace(0, 20, 700))).astype(np.int32)),
        # Format version 9: the huffman stage in one stream, a block's own and nested.
        "huffman-1": compress(np.cumsum(np.round(rng9.laplace(0, 20, 700))).astype(np.int32)),
        "dictionary-huffman-1": _format_9(np.repeat(rng9.standard_normal(90), 4)[::-1].copy()),
        # Format version 10: a dictionary's values as float lanes (readings on a grid).
        "dictionary-float-lanes": _format_11(-17.3708866 + 0.000981 * rng10.integers(0, 200, 3000)),
        "dictionary-float-lanes-f4": _format_11(
            (-8.7 + 0.0010646508 * rng10.integers(0, 200, 3000)).astype(np.float32)
        ),
        # Format version 11: spans copying earlier values, one block and several.
        "copy": compress(unit_speech(7, 12_000)),
        "copy-blocks": compress(unit_speech(8, 12_000, "<i8"), block_size=2048),
        # Format version 12: a grid with an offset, a block's own and a dictionary's values.
        "float-grid": compress(offset_grid(9, 3000)),
        "dictionary-float-grid": compress(offset_grid(10, 8000, levels=600)),
        # Format version 13: runs of one value, one block and several.
        "runs": compress(state_runs(11, 4000)),
        "runs-blocks": compress(mostly_zero_counts(12, 9000).astype(np.int16), block_size=2048),
        "raw": compress(rng.integers(0, 255, 60, dtype=np.uint8)),
        "alp": compress(np.round(np.cumsum(rng.standard_normal(400)), 2)),
        "alp32": compress(np.round(np.cumsum(rng.standard_normal(400)), 1).astype(np.float32)),
        "alp-rd": compress(rng.standard_normal(300), level=1),
        "shuffle-lz4": compress(np.tile(rng.standard_normal(400), 10)),
        "dictionary": compress(np.repeat(rng.standard_normal(30), 20)),
        "multi-block": compress(np.arange(1000, dtype=np.uint32) ** 2, block_size=128),
        # The modes of format version 2.
        "int-mult": compress(
            10**18 + 7 + np.cumsum(rng.choice([0, 15, 16], 600)) * 10**6, block_size=256
        ),
        "int-mult-rank-single": _rank_single(),
        # (the encoder now writes this form as sparse: the committed version-2 frame)
        "int-mult-constant": _committed_v2("int_mult_constant_hourly_gaps_i8"),
        "float-mult": compress(
            np.append(np.cumsum(rng.integers(-9, 10, 400)) * 0.0048828125, [np.nan, -0.0])
        ),
        "float-mult32": compress(
            (np.cumsum(rng.integers(-9, 10, 400)) * 0.1234).astype(np.float32)
        ),
        "float-quant": compress(
            np.append(
                np.cumsum(rng.standard_normal(400)).astype(np.float32).astype(np.float64), 1e-300
            )
        ),
        # The scheme of format version 3: ranks of few distinct ADC counts.
        "wide-rank": compress(
            np.round(np.round(np.random.default_rng(7).normal(0, 12, 3000)) * 9.15 + 950).astype(
                np.int16
            )
        ),
        # The scheme of format version 4: first occurrences plus lags back to repeats.
        "repeat": compress(recurring_readings(7, 4500)),
        # Format version 8: repeats plus literals predicted from one period back.
        "repeat-div": compress(cycling_readings(7, 4500)),
        "split": compress(noise(7, 2000)),
        # The scheme of format version 5: a clock's rare exceptions as varints (order 1,
        # and order 2 across three blocks).
        "sparse": compress(gappy_clock(5, 1200, 3_600_000_000_000, 0)),
        "sparse-order2": compress(order2_series(), block_size=1024),
        "float-mult-adj": compress(averaged_readings(5, 1500, 0.1)),
        # The schemes of format version 6: differences across a period.
        "lag": compress(periodic_counts(5, 4200, 5).astype(np.int16)),
        "float-div": compress(periodic_decimals(5, 4200, 24, 2)),
        # Format version 7: third differences (a lag of 1) and the levels scheme.
        "lag-1": compress(smooth_waveform(3000).astype(np.int32)),
        "levels": compress(scaled_counts(8, 3000, 10.2).astype(np.int16)),
        # A lag over a clock's constant differences, its residuals in a nested sparse block.
        "lag-clock": compress(np.delete(np.arange(5000) * 1000 // 64, [2000]) * 1_000_000),
        # The full layout of one-block 1-D frames (what readers of versions 1-6 read).
        "full-huffman": _format_8(
            np.cumsum(np.round(rng.laplace(0, 20, 700))).astype(np.int32), compact=False
        ),
        "full-huffman-1": compress(
            np.cumsum(np.round(rng9.laplace(0, 20, 700))).astype(np.int32), compact=False
        ),
        "full-alp": compress(np.round(np.cumsum(rng.standard_normal(400)), 2), compact=False),
        "record": encode_series(
            np.arange(100, dtype=np.int64) * 10**9, rng.standard_normal((100, 2))
        ),
        "signature": sig.to_bytes(),
        "delta-frame": diff(sig, new).to_bytes(),
    }


def _format_11(x: np.ndarray[Any, Any], **kwargs: Any) -> bytes:
    """``compress`` without format 12's grid scheme (a format-10 or -11 sample)."""
    with format_11_encoder():
        return compress(x, **kwargs)


def _format_9(x: np.ndarray[Any, Any], **kwargs: Any) -> bytes:
    """``compress`` without format 10's float lanes (a format-9 sample)."""
    with format_9_encoder():
        return compress(x, **kwargs)


def _format_8(x: np.ndarray[Any, Any], **kwargs: Any) -> bytes:
    """``compress`` without format 9's single-stream huffman (a four-stream sample)."""
    with format_8_encoder():
        return compress(x, **kwargs)


FRAMES = _sample_frames()
OLD_FOR_DELTA = np.random.default_rng(7).integers(0, 256, 20_000, dtype=np.uint8).tobytes()


def _decoder(name: str) -> Callable[[bytes], Any]:
    if name == "record":
        return decode_series
    if name == "signature":
        return Signature.from_bytes
    if name == "delta-frame":
        return _patch_or_wrong_base
    return decompress


def _patch_or_wrong_base(data: bytes) -> None:
    """A mutated delta may name another base: that is the one InvalidInputError allowed."""
    try:
        patch(OLD_FOR_DELTA, Delta.from_bytes(data))
    except InvalidInputError as exc:
        if "base" not in str(exc):
            raise


def _only_corrupt(decode: Callable[[bytes], Any], data: bytes) -> None:
    with contextlib.suppress(CorruptDataError):
        decode(data)


def test_sample_frames_decode() -> None:
    assert {
        frame_info(FRAMES[n]).schemes[0] for n in ("for", "delta", "dod", "huffman", "raw")
    } == {
        "for",
        "delta",
        "delta-of-delta",
        "huffman",
        "raw",
    }
    assert frame_info(FRAMES["alp-rd"]).schemes == ("alp-rd",)
    assert frame_info(FRAMES["shuffle-lz4"]).schemes == ("shuffle-lz4",)
    assert frame_info(FRAMES["dictionary"]).schemes == ("dictionary",)
    for name, scheme in [
        ("int-mult", "int-mult"),
        ("int-mult-constant", "int-mult"),
        ("int-mult-rank-single", "int-mult"),
        ("float-mult", "float-mult"),
        ("float-mult32", "float-mult"),
        ("float-quant", "float-quant"),
    ]:
        assert set(frame_info(FRAMES[name]).schemes) == {scheme}, name
    # The rank scheme nested in int-mult, with pairs and with single ranks.
    assert (
        nested_scheme(FRAMES["int-mult"]) == nested_scheme(FRAMES["int-mult-rank-single"]) == RANK
    )
    assert frame_info(FRAMES["repeat"]).schemes == ("repeat",)
    for name, scheme in [
        ("sparse", "sparse"),
        ("sparse-order2", "sparse"),
        ("float-mult-adj", "float-mult-adj"),
    ]:
        assert set(frame_info(FRAMES[name]).schemes) == {scheme}
    for name in ("lag", "float-div", "levels", "repeat-div", "split"):
        assert frame_info(FRAMES[name]).schemes == (name,)
    assert (
        frame_info(FRAMES["lag-1"]).schemes == frame_info(FRAMES["lag-clock"]).schemes == ("lag",)
    )
    # One-block 1-D frames are compact (version 7), the others in the full layout.
    assert FRAMES["int-mult-constant"][4] == 2 and FRAMES["multi-block"][4] == 1
    assert FRAMES["full-huffman"][4] == 1 and FRAMES["full-huffman"][5] == 3
    assert all(FRAMES[n][4] == 7 and FRAMES[n][5] & 0x80 for n in ("huffman", "lag", "alp"))
    assert frame_info(FRAMES["huffman-1"]).schemes == ("huffman-1",)
    assert frame_info(FRAMES["full-huffman-1"]).schemes == ("huffman-1",)
    assert frame_info(FRAMES["dictionary-huffman-1"]).schemes == ("dictionary",)
    assert all(FRAMES[n][4] == 9 for n in ("huffman-1", "full-huffman-1", "dictionary-huffman-1"))
    for name in ("dictionary-float-lanes", "dictionary-float-lanes-f4"):
        assert frame_info(FRAMES[name]).schemes == ("dictionary",) and FRAMES[name][4] == 10
    assert frame_info(FRAMES["copy"]).schemes == ("copy",) and FRAMES["copy"][4] == 11
    assert "copy" in frame_info(FRAMES["copy-blocks"]).schemes
    assert frame_info(FRAMES["float-grid"]).schemes == ("float-grid",)
    assert frame_info(FRAMES["dictionary-float-grid"]).schemes == ("dictionary",)
    assert FRAMES["float-grid"][4] == FRAMES["dictionary-float-grid"][4] == 12
    assert frame_info(FRAMES["runs"]).schemes == ("runs",) and FRAMES["runs"][4] == 13
    assert "runs" in frame_info(FRAMES["runs-blocks"]).schemes
    for name, frame in FRAMES.items():
        _decoder(name)(frame)


@settings(max_examples=200)
@given(data=st.binary(max_size=300))
def test_random_bytes(data: bytes) -> None:
    for decode in (decompress, decode_series, Signature.from_bytes, Delta.from_bytes, frame_info):
        _only_corrupt(decode, data)
        _only_corrupt(decode, b"EKCS\x01" + data)
        _only_corrupt(decode, b"EKCS\x07" + data)


@settings(max_examples=300)
@given(
    name=st.sampled_from(sorted(FRAMES)),
    edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=4),
    cut=st.integers(0, 10**6),
    resealed=st.booleans(),
)
def test_mutated_frames(name: str, edits: list[tuple[int, int]], cut: int, resealed: bool) -> None:
    frame = bytearray(FRAMES[name])
    for pos, value in edits:
        frame[5 + pos % (len(frame) - 13)] = value  # keep magic+version, hit header and body
    data = reseal(frame) if resealed else bytes(frame)
    _only_corrupt(_decoder(name), data)
    _only_corrupt(_decoder(name), reseal(data[: 13 + cut % max(len(data) - 13, 1)]))


def test_checksum_catches_a_flipped_bit() -> None:
    frame = bytearray(FRAMES["alp"])
    frame[len(frame) // 2] ^= 4
    with pytest.raises(CorruptDataError, match="checksum"):
        decompress(bytes(frame))


def test_future_version_and_wrong_magic_are_refused() -> None:
    frame = bytearray(FRAMES["delta"])
    frame[4] = FORMAT_VERSION + 1
    with pytest.raises(CorruptDataError, match="version"):
        decompress(reseal(frame))
    with pytest.raises(CorruptDataError, match="magic"):
        decompress(FRAMES["record"])


def test_hostile_length_fields_do_not_allocate() -> None:
    # A header claiming 2**60 elements: refused before any allocation.
    body = bytearray(b"EKCS\x01")
    body += struct.pack("<BB", 4, 1) + struct.pack("<Q", 2**60) + struct.pack("<I", 65536)
    body += bytes(20)
    with pytest.raises(CorruptDataError, match="too short"):
        decompress(reseal(body + bytes(8)))
    # Shape product overflowing 64 bits.
    body = bytearray(b"EKCS\x01")
    body += (
        struct.pack("<BB", 10, 3) + struct.pack("<3Q", 2**63, 2**63, 2**63) + struct.pack("<I", 1)
    )
    with pytest.raises(CorruptDataError):
        decompress(reseal(body + bytes(8)))
    with pytest.raises(CorruptDataError, match="max_elements"):
        decompress(compress(np.arange(1000)), max_elements=999)
    # A signature claiming 2**32-1 chunks, and a delta claiming a huge target.
    sig = bytearray(b"EKSG\x01") + struct.pack("<IIIQ", 256, 1024, 4096, 10) + bytes(16)
    sig += struct.pack("<I", 2**32 - 1)
    with pytest.raises(CorruptDataError):
        Signature.from_bytes(reseal(sig + bytes(8)))
    delta = bytearray(b"EKDL\x01") + struct.pack("<Q", 10) + bytes(16) + struct.pack("<Q", 2**62)
    delta += (
        bytes(16)
        + struct.pack("<I", 1)
        + struct.pack("<BQ", 1, 2**62)
        + struct.pack("<QQ", 2**62, 5)
    )
    with pytest.raises(CorruptDataError):
        Delta.from_bytes(reseal(delta + bytes(5) + bytes(8)))


def test_bad_huffman_tables_are_refused() -> None:
    frame = FRAMES["full-huffman"]
    # Find the code-length bytes (after header, block header, order, heads, center).
    header = 4 + 1 + 2 + 8 + 4
    offset = header + 5 + 1 + 8 + 8
    lo, hi = frame[offset], frame[offset + 1]
    assert lo <= hi
    bad = bytearray(frame)
    for i in range(offset + 2, offset + 2 + (hi - lo + 2) // 2):
        bad[i] = 0x11  # every used length 1: not a prefix code
    with pytest.raises(CorruptDataError, match="prefix code"):
        decompress(reseal(bad))


@pytest.mark.slow
def test_long_random_mutation_run() -> None:
    """Half a million mutated real frames (resealed so they reach the parsers)."""
    rng = np.random.default_rng(2024)
    names = sorted(FRAMES)
    for i in range(500_000):
        name = names[i % len(names)]
        frame = bytearray(FRAMES[name])
        for _ in range(int(rng.integers(1, 6))):
            pos = int(rng.integers(5, len(frame) - 8))
            op = int(rng.integers(0, 3))
            if op == 0:
                frame[pos] = int(rng.integers(0, 256))
            elif op == 1:
                frame[pos] ^= 1 << int(rng.integers(0, 8))
            else:
                del frame[pos : pos + int(rng.integers(1, 16))]
                if len(frame) < 20:
                    break
        if len(frame) < 14:
            continue
        _only_corrupt(_decoder(name), reseal(frame))
