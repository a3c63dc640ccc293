"""The repeat-div block (format version 8) in the compiled block loop of float frames.

The kernel decodes a repeat-div block whole (lags, residuals, adjustments, fill) or leaves
it to the Python side. It must never take a block the Python decoder refuses, nor decode
one to other values: every payload here, written by the encoder or corrupted by
hypothesis, goes through both, and where the kernel says yes the Python side agrees to
the bit."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgekit.codec import _kernels, _schemes, compress, decompress, frame_info
from edgekit.codec._format import ADJ_DENSE, ADJ_SPARSE, REPEAT_DIV
from edgekit.codec._frame import Reader
from edgekit.errors import CorruptDataError
from tests.codec.test_format_v8 import _repeat_div_payload, cycling_readings

Array = np.ndarray[Any, Any]


def _kernel(payload: bytes, n: int, dtype: np.dtype[Any]) -> Array | None:
    """The block decoded by the kernel, or None where it leaves it to Python."""
    out = np.zeros(n, dtype=dtype)
    bits = out.view(np.uint64 if dtype.itemsize == 8 else np.uint32)
    buf = np.frombuffer(payload, dtype=np.uint8)
    if _kernels.decode_repeat_div_block(buf, 0, len(payload), n, out, bits):
        return out
    return None


def _python(payload: bytes, n: int, dtype: np.dtype[Any]) -> Array | None:
    """The block decoded on the Python side, or None where it names an error."""
    out = np.zeros(n, dtype=dtype)
    block = Reader(memoryview(payload), 0, "block")
    try:
        _schemes.decode_float_block(REPEAT_DIV, block, n, dtype, out)
        block.end()
    except CorruptDataError:
        return None
    return out


def _adjustment_form(payload: bytes) -> int:
    """ADJ_DENSE or ADJ_SPARSE: the form of an encoder-written payload's adjustments."""
    at = 14
    for _ in range(2):  # the lags and the residuals, each with its length
        at += 5 + int.from_bytes(payload[at + 1 : at + 5], "little")
    return payload[at]


@pytest.mark.parametrize(
    ("seed", "n", "dtype"),
    [(4, 20_000, "<f8"), (5, 65_536, "<f8"), (6, 9_000, "<f4"), (7, 300, "<f8")],
)
def test_the_kernel_decodes_the_encoders_blocks(seed: int, n: int, dtype: str) -> None:
    x = cycling_readings(seed, n).astype(dtype)
    payload = _repeat_div_payload(x)
    assert payload is not None
    got = _kernel(payload, n, x.dtype)
    assert got is not None and got.tobytes() == x.tobytes()


def test_both_adjustment_forms_take_the_kernel() -> None:
    """Sparse adjustments (values printed to 8 decimals: a few land off their multiple) and
    dense ones (every third value an ulp off)."""
    forms = {}
    for nudged in (False, True):
        x = cycling_readings(8, 20_000)
        if nudged:
            x[::3] = np.nextafter(x[::3], np.inf)
        payload = _repeat_div_payload(x)
        assert payload is not None
        forms[_adjustment_form(payload)] = x
        got = _kernel(payload, x.size, x.dtype)
        assert got is not None and got.tobytes() == x.tobytes()
    assert set(forms) == {ADJ_DENSE, ADJ_SPARSE}


def test_frames_take_the_block_loop_and_decode_bit_for_bit() -> None:
    x = cycling_readings(10, 150_000)
    frame = compress(x)
    assert set(frame_info(frame).schemes) == {"repeat-div"}
    assert decompress(frame).tobytes() == x.tobytes()
    assert decompress(bytearray(frame)).tobytes() == x.tobytes()


_BASE = {
    dtype: _repeat_div_payload(cycling_readings(11, 3000).astype(dtype)) for dtype in ("<f4", "<f8")
}


@settings(max_examples=300, deadline=None)
@given(
    dtype=st.sampled_from(["<f4", "<f8"]),
    edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=4),
    cut=st.integers(0, 40),
    n=st.sampled_from([3000, 2999, 3001]),
)
def test_corrupt_blocks_the_kernel_takes_the_python_side_takes_alike(
    dtype: str, edits: list[tuple[int, int]], cut: int, n: int
) -> None:
    """A corrupted block: the kernel takes it only where the Python side decodes it, to the
    same bits (the Python side names the error of every other)."""
    base = _BASE[dtype]
    assert base is not None
    data = bytearray(base[: len(base) - cut] if cut else base)
    for at, value in edits:
        data[at % len(data)] = value
    payload = bytes(data)
    got = _kernel(payload, n, np.dtype(dtype))
    if got is not None:
        want = _python(payload, n, np.dtype(dtype))
        assert want is not None and want.tobytes() == got.tobytes()
