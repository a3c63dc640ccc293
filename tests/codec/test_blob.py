"""Content-defined chunking, signatures, deltas and patches."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgekit.codec import Delta, Signature, chunks, diff, patch, signature
from edgekit.errors import CorruptDataError, InvalidInputError

SMALL = {"min_size": 64, "avg_size": 256, "max_size": 1024}


def blob(n: int, seed: int = 0) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


def test_chunks_cover_the_data_within_bounds() -> None:
    data = blob(300_000)
    found = chunks(data)
    assert found.offsets[0] == 0 and int(found.lengths.sum()) == len(data)
    assert np.array_equal(found.offsets[1:], np.cumsum(found.lengths)[:-1])
    assert found.lengths[:-1].min() >= 2048 and found.lengths.max() <= 65536
    assert 4096 < found.lengths.mean() < 16384  # normalized chunking keeps it near 8 KiB
    assert len(chunks(b"")) == 0 and chunks(b"abc").lengths.tolist() == [3]


def test_chunking_is_content_defined() -> None:
    data = blob(200_000, 1)
    shifted = b"0123456789" + data
    a = set(chunks(data).digests.tolist())
    b = set(chunks(shifted).digests.tolist())
    assert len(a & b) >= len(a) - 2  # only the chunks around the edit change


def test_bad_chunk_sizes() -> None:
    for kwargs in (
        {"min_size": 10},
        {"avg_size": 3000},
        {"min_size": 9000, "avg_size": 8192},
        {"max_size": 1 << 30},
    ):
        with pytest.raises(InvalidInputError):
            chunks(b"x", **kwargs)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        chunks("text")  # type: ignore[arg-type]


def test_small_edits_send_few_bytes() -> None:
    old = blob(1 << 20, 2)
    new = old[:400_000] + b"X" * 64 + old[400_000:]
    new = new[:800_000] + bytes(100) + new[800_100:]
    delta = diff(signature(old), new)
    wire = delta.to_bytes()
    assert len(wire) < 60_000
    assert delta.copied_bytes > len(new) - 60_000
    assert patch(old, wire) == new


@settings(max_examples=60)
@given(
    old=st.binary(max_size=4000),
    edits=st.lists(
        st.tuples(st.integers(0, 4000), st.integers(0, 300), st.binary(max_size=300)), max_size=4
    ),
)
def test_patch_of_diff_gives_new(old: bytes, edits: list[tuple[int, int, bytes]]) -> None:
    new = old
    for pos, cut, insert in edits:
        p = pos % (len(new) + 1)
        new = new[:p] + insert + new[p + cut :]
    sig = signature(old, **SMALL)
    sig2 = Signature.from_bytes(sig.to_bytes())
    assert sig2.digest == sig.digest and np.array_equal(sig2.digests, sig.digests)
    delta = diff(sig2, new)
    delta2 = Delta.from_bytes(delta.to_bytes())
    assert patch(old, delta) == new
    assert patch(old, delta2) == new


def test_wrong_base_is_detected() -> None:
    old = blob(50_000, 3)
    new = old[:1000] + b"hello" + old[1000:]
    delta = diff(signature(old), new)
    other = bytearray(old)
    other[30_000] ^= 1
    with pytest.raises(InvalidInputError, match="base"):
        patch(bytes(other), delta)
    with pytest.raises(InvalidInputError, match="base"):
        patch(old[:-1], delta)


def test_bad_delta_object_is_refused() -> None:
    old = blob(5000, 4)
    delta = diff(signature(old, **SMALL), old + b"tail")
    broken = Delta(
        delta.base_size,
        delta.base_digest,
        delta.target_size,
        delta.target_digest,
        delta.ops,
        b"xxxx",
    )
    with pytest.raises(CorruptDataError):
        patch(old, broken)
    with pytest.raises(InvalidInputError):
        diff("not a signature", b"")  # type: ignore[arg-type]


def test_diff_with_old_trims_literals_to_the_edit() -> None:
    old = blob(1 << 20, 5)
    new = old[:300_000] + bytes(range(64)) + old[300_000:]
    new = new[:700_000] + b"\xa5" * 100 + new[700_100:]
    sig = signature(old)
    coarse = diff(sig, new)
    fine = diff(sig, new, old=old)
    assert len(fine.literals) <= 64 + 100 + 2
    assert len(fine.to_bytes()) < len(coarse.to_bytes()) / 10
    assert patch(old, fine.to_bytes()) == new
    with pytest.raises(InvalidInputError, match="signature"):
        diff(sig, new, old=new)


@settings(max_examples=60)
@given(
    old=st.binary(max_size=3000),
    edits=st.lists(
        st.tuples(st.integers(0, 3000), st.integers(0, 200), st.binary(max_size=200)), max_size=4
    ),
)
def test_patch_of_diff_with_old_gives_new(old: bytes, edits: list[tuple[int, int, bytes]]) -> None:
    new = old
    for pos, cut, insert in edits:
        p = pos % (len(new) + 1)
        new = new[:p] + insert + new[p + cut :]
    delta = diff(signature(old, **SMALL), new, old=old)
    assert patch(old, Delta.from_bytes(delta.to_bytes())) == new
