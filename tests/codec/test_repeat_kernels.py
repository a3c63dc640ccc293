"""The repeat (format version 4) and repeat-div (version 8) blocks in the compiled block
loop of float frames.

A kernel decodes each block whole (lags, literals or their residuals and adjustments,
fill) or leaves it to the Python side. It must never take a block the Python decoder
refuses, nor decode one to other values: every payload here, written by the encoder or
corrupted by hypothesis, goes through both, and where the kernel says yes the Python side
agrees to the bit."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgekit.codec import _kernels, _schemes, compress, decompress, frame_info
from edgekit.codec._format import ADJ_DENSE, ADJ_SPARSE, ALP, RAW, REPEAT, REPEAT_DIV
from edgekit.codec._frame import Reader
from edgekit.errors import CorruptDataError
from tests.codec.test_format_v8 import _repeat_div_payload, cycling_readings
from tests.codec.test_repeat import recurring_readings

Array = np.ndarray[Any, Any]


def _kernel(payload: bytes, n: int, dtype: np.dtype[Any], scheme: int) -> Array | None:
    """The block decoded by the kernel, or None where it leaves it to Python."""
    out = np.zeros(n, dtype=dtype)
    bits = out.view(np.uint64 if dtype.itemsize == 8 else np.uint32)
    buf = np.frombuffer(payload, dtype=np.uint8)
    if scheme == REPEAT:
        taken = _kernels.decode_repeat_block(buf, 0, len(payload), n, out, bits)
    else:
        taken = _kernels.decode_repeat_div_block(buf, 0, len(payload), n, out, bits)
    return out if taken else None


def _python(payload: bytes, n: int, dtype: np.dtype[Any], scheme: int) -> Array | None:
    """The block decoded on the Python side, or None where it names an error."""
    out = np.zeros(n, dtype=dtype)
    block = Reader(memoryview(payload), 0, "block")
    try:
        _schemes.decode_float_block(scheme, block, n, dtype, out)
        block.end()
    except CorruptDataError:
        return None
    return out


def _repeat_payload(x: Array) -> bytes:
    """The plain repeat payload the encoder builds for ``x`` (repeat-div not tried)."""
    divided = _schemes._encode_repeat_div
    _schemes._encode_repeat_div = lambda *args, **kwargs: None  # type: ignore[assignment]
    try:
        scheme, payload = _schemes._encode_repeat(x, _schemes.FloatPlan(x), entropy=True)
    finally:
        _schemes._encode_repeat_div = divided  # type: ignore[assignment]
    assert scheme == REPEAT
    return payload


def _adjustment_form(payload: bytes) -> int:
    """ADJ_DENSE or ADJ_SPARSE: the form of an encoder-written repeat-div payload's
    adjustments."""
    at = 14
    for _ in range(2):  # the lags and the residuals, each with its length
        at += 5 + int.from_bytes(payload[at + 1 : at + 5], "little")
    return payload[at]


@pytest.mark.parametrize(
    ("seed", "n", "dtype"),
    [(4, 20_000, "<f8"), (5, 65_536, "<f8"), (6, 9_000, "<f4"), (7, 300, "<f8")],
)
def test_the_kernel_decodes_the_encoders_repeat_div_blocks(seed: int, n: int, dtype: str) -> None:
    x = cycling_readings(seed, n).astype(dtype)
    payload = _repeat_div_payload(x)
    assert payload is not None
    got = _kernel(payload, n, x.dtype, REPEAT_DIV)
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
        got = _kernel(payload, x.size, x.dtype, REPEAT_DIV)
        assert got is not None and got.tobytes() == x.tobytes()
    assert set(forms) == {ADJ_DENSE, ADJ_SPARSE}


def _literals_at(payload: bytes) -> int:
    """Where a repeat payload's literal block (its scheme id) starts."""
    return 4 + 5 + int.from_bytes(payload[5:9], "little")  # (the count, lags with length)


@pytest.mark.parametrize("dtype", ["<f4", "<f8"])
def test_the_kernel_decodes_the_encoders_repeat_blocks(dtype: str) -> None:
    """Alp literals as the encoder writes them, and the same lags with raw literals."""
    x = recurring_readings(3, 20_000)
    x = x if dtype == "<f8" else np.round(x, 3).astype(dtype)  # (f4: 3 decimals)
    payload = _repeat_payload(x)
    at = _literals_at(payload)
    assert payload[at] == ALP
    got = _kernel(payload, x.size, x.dtype, REPEAT)
    assert got is not None and got.tobytes() == x.tobytes()
    literals = x[_kernels.repeat_lags(x.view(np.uint64 if x.itemsize == 8 else np.uint32)) == 0]
    raw = payload[:at] + bytes([RAW]) + literals.tobytes()
    got = _kernel(raw, x.size, x.dtype, REPEAT)
    assert got is not None and got.tobytes() == x.tobytes()


def test_literal_schemes_the_kernel_leaves_go_to_python() -> None:
    x = np.repeat(np.random.default_rng(5).standard_normal(3000), 3)  # noise: alp-rd
    payload = _repeat_payload(x)
    assert payload[_literals_at(payload)] not in (ALP, RAW)
    assert _kernel(payload, x.size, x.dtype, REPEAT) is None
    got = _python(payload, x.size, x.dtype, REPEAT)
    assert got is not None and got.tobytes() == x.tobytes()


def test_frames_take_the_block_loop_and_decode_bit_for_bit() -> None:
    for x, scheme in (
        (cycling_readings(10, 150_000), "repeat-div"),
        (recurring_readings(13, 9000), "repeat"),
    ):
        frame = compress(x)
        assert set(frame_info(frame).schemes) == {scheme}
        assert decompress(frame).tobytes() == x.tobytes()
        assert decompress(bytearray(frame)).tobytes() == x.tobytes()


_BASE = {
    (REPEAT_DIV, t): _repeat_div_payload(cycling_readings(11, 3000).astype(t))
    for t in ("<f4", "<f8")
}
_BASE |= {  # (alp literals: 8 decimals in float64, 3 in float32)
    (REPEAT, t): _repeat_payload(np.round(recurring_readings(12, 3000), d).astype(t))
    for t, d in (("<f4", 3), ("<f8", 8))
}


@settings(max_examples=400, deadline=None)
@given(
    scheme=st.sampled_from([REPEAT, REPEAT_DIV]),
    dtype=st.sampled_from(["<f4", "<f8"]),
    edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=4),
    cut=st.integers(0, 40),
    n=st.sampled_from([3000, 2999, 3001]),
)
def test_corrupt_blocks_the_kernel_takes_the_python_side_takes_alike(
    scheme: int, dtype: str, edits: list[tuple[int, int]], cut: int, n: int
) -> None:
    """A corrupted block: the kernel takes it only where the Python side decodes it, to the
    same bits (the Python side names the error of every other)."""
    base = _BASE[scheme, dtype]
    assert base is not None
    data = bytearray(base[: len(base) - cut] if cut else base)
    for at, value in edits:
        data[at % len(data)] = value
    payload = bytes(data)
    got = _kernel(payload, n, np.dtype(dtype), scheme)
    if got is not None:
        want = _python(payload, n, np.dtype(dtype), scheme)
        assert want is not None and want.tobytes() == got.tobytes()
