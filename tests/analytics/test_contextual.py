"""ContextNovelty: the protocol's invariants, its behaviour, and its NAB score on the extract."""

from __future__ import annotations

import itertools
import json
import struct

import numpy as np
import pytest
import xxhash
from hypothesis import given, settings
from hypothesis import strategies as st

from edgekit.analytics import ContextNovelty
from edgekit.analytics.nab import detector_likelihoods
from edgekit.errors import CorruptDataError, InvalidInputError

from .test_nab import load_extract


def daily(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 10 + 5 * np.sin(2 * np.pi * t / 96) + rng.normal(0, 0.2, n)


def test_a_spike_alarms_once_and_a_repeated_pattern_does_not() -> None:
    x = daily(3000)
    det = ContextNovelty().fit(x[:600])
    x[2000] = 40.0  # far beyond the range seen: a new extreme
    s = det.score(x[600:])
    alarms = np.flatnonzero(s >= det.threshold) + 600
    assert 2000 in alarms
    assert len(alarms) <= 3
    assert s[2001 - 600 : 2001 - 600 + det.suppress].max() == 0.0  # held quiet after it
    assert ((s >= 0) & (s <= 1)).all()


def test_a_new_context_without_a_new_extreme_is_found() -> None:
    x = daily(4000, seed=1)
    det = ContextNovelty().fit(x[:600])
    x[2520] = 5.5  # a drop to near the minimum at the daily peak: in range, out of context
    s = det.score(x[600:])
    assert 2520 <= int(np.argmax(s)) + 600 <= 2528  # the highest score of the stream
    assert s.max() > 10 * np.median(s)


@settings(max_examples=25, deadline=None)
@given(cuts=st.lists(st.integers(0, 1500), max_size=6))
def test_block_size_never_changes_the_output(cuts: list[int]) -> None:
    x = daily(1500, seed=2)
    x[700] = np.nan
    x[900] = 30.0
    whole = ContextNovelty(suppress=20).fit(x[:300]).score(x[300:])
    det = ContextNovelty(suppress=20).fit(x[:300])
    edges = [0, *sorted(c % 1200 for c in cuts), 1200]
    parts = [det.score(x[300 + a : 300 + b]) for a, b in itertools.pairwise(edges)]
    np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_update_is_score_one_sample_at_a_time_and_nan_is_skipped() -> None:
    x = daily(1200, seed=3)
    x[800] = np.nan
    a = ContextNovelty(suppress=10).fit(x[:200])
    b = ContextNovelty(suppress=10).fit(x[:200])
    batch = a.score(x[200:])
    one = np.array([b.update(v)[0] for v in x[200:]])
    np.testing.assert_array_equal(one, batch)
    assert np.isnan(batch[600]) and np.isfinite(np.delete(batch, 600)).all()


def test_state_resumes_exactly() -> None:
    x = daily(2000, seed=4)
    x[1500] = 50.0
    det = ContextNovelty(table_bits=10, history=500).fit(x[:300])
    det.score(x[300:1000])
    blob = det.state()
    back = ContextNovelty.from_state(blob)
    np.testing.assert_array_equal(back.score(x[1000:]), det.score(x[1000:]))
    assert back.threshold == det.threshold == 0.5
    # reset() forgets the recent past only: the learnt contexts still know the pattern.
    det.reset()
    assert max(det.update(v)[0] for v in x[1000:1300]) < 0.5
    with pytest.raises(CorruptDataError):
        ContextNovelty.from_state(blob[:-1] + bytes([blob[-1] ^ 1]))
    with pytest.raises(CorruptDataError):
        ContextNovelty.from_state(b"garbage" * 10)


def _reseal(header: dict, arrays: bytes) -> bytes:
    h = json.dumps(header).encode()
    body = b"EKAD" + struct.pack("<HI", 1, len(h)) + h + arrays
    return body + struct.pack("<Q", xxhash.xxh3_64_intdigest(body))


FITTED = ContextNovelty(table_bits=6, history=40, average=4).fit(daily(300)).state()
UNFITTED = ContextNovelty(table_bits=6, history=40, average=4).state()


@settings(max_examples=200, deadline=None)
@given(
    blob=st.sampled_from([FITTED, UNFITTED]),
    at=st.integers(0, 10_000),
    value=st.integers(0, 255),
    patch=st.sampled_from(
        [{}, {"table_bits": 24}, {"history": 5}, {"average": 10**9}, {"trigger": 0.0}]
    ),
)
def test_hostile_states_are_refused_or_work(blob: bytes, at: int, value: int, patch: dict) -> None:
    (hlen,) = struct.unpack_from("<I", blob, 6)
    header = json.loads(blob[10 : 10 + hlen])
    header["params"].update(patch)
    arrays = bytearray(blob[10 + hlen : -8])
    if arrays:
        arrays[at % len(arrays)] = value  # any byte of the state arrays, checksum valid
    try:
        det = ContextNovelty.from_state(_reseal(header, bytes(arrays)))
    except CorruptDataError:
        return
    try:
        s = det.score(daily(200, seed=5))  # accepted: it must then work
    except InvalidInputError:
        assert not det._fitted
        return
    assert ((s >= 0) & (s <= 1)).all()


def test_bad_use_is_named() -> None:
    with pytest.raises(InvalidInputError, match="fitted first"):
        ContextNovelty().update(1.0)
    with pytest.raises(InvalidInputError, match="levels"):
        ContextNovelty(levels=0)
    with pytest.raises(InvalidInputError, match="trigger"):
        ContextNovelty(trigger=1.5)
    with pytest.raises(InvalidInputError, match="univariate"):
        ContextNovelty().fit(np.zeros((10, 2)))
    learnt = ContextNovelty(threshold=None, quantile=0.9).fit(daily(500))
    assert learnt.threshold is not None and learnt.threshold < 0.5


def test_nab_score_on_the_extract_beats_the_gaussian_baseline() -> None:
    corpus, values, raw, _ = load_extract()
    ours = corpus.optimize(detector_likelihoods(ContextNovelty, values), "standard")
    gaussian = corpus.optimize(raw["windowedGaussian"], "standard")
    assert ours.score > gaussian.score
