"""SeriesEncoder and the timestamp/value record frame."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.codec import SeriesEncoder, decode_series, encode_series
from edgekit.errors import InvalidInputError


def test_frames_every_n_points_and_on_flush() -> None:
    seen: list[bytes] = []
    enc = SeriesEncoder(100, on_frame=seen.append)
    ts = 1_700_000_000_000_000_000 + np.arange(250, dtype=np.int64) * 10**9
    vs = np.round(np.sin(np.arange(250) / 10), 3)
    frames = []
    for i in range(250):
        frames += enc.append(int(ts[i]), float(vs[i]))
    assert len(frames) == 2 and enc.pending == 50
    last = enc.flush()
    assert last is not None and enc.flush() is None
    frames.append(last)
    assert seen == frames and enc.frames_emitted == 3
    got_ts = np.concatenate([decode_series(f)[0] for f in frames])
    got_vs = np.concatenate([decode_series(f)[1] for f in frames])
    assert np.array_equal(got_ts, ts) and np.array_equal(got_vs, vs)


def test_batches_and_multichannel_values() -> None:
    enc = SeriesEncoder(64, channels=3, value_dtype=np.float32, timestamp_dtype=np.uint32)
    ts = np.arange(200, dtype=np.uint32) * 20
    vs = np.random.default_rng(0).standard_normal((200, 3)).astype(np.float32)
    frames = enc.append(ts[:10], vs[:10]) + enc.append(ts[10:], vs[10:])
    tail = enc.flush()
    assert tail is not None and len(frames) == 3
    frames.append(tail)
    parts = [decode_series(f) for f in frames]
    assert np.array_equal(np.concatenate([p[0] for p in parts]), ts)
    got = np.concatenate([p[1] for p in parts])
    assert got.dtype == np.float32 and got.shape == (200, 3) and np.array_equal(got, vs)
    assert enc.append(np.uint32(5), np.zeros(3)) == [] and enc.pending == 1


def test_bad_appends_are_refused_without_losing_pending_samples() -> None:
    enc = SeriesEncoder(10, value_dtype=np.int16)
    enc.append([1, 2], [3, 4])
    with pytest.raises(InvalidInputError):
        enc.append([1, 2], [3])
    with pytest.raises(InvalidInputError):
        enc.append([1.5], [3])
    with pytest.raises(InvalidInputError):
        enc.append([1], [0.5])
    assert enc.pending == 2
    frame = enc.flush()
    assert frame is not None
    assert decode_series(frame)[1].tolist() == [3, 4]
    for kwargs in ({"points_per_frame": 0}, {"channels": 0}, {"timestamp_dtype": np.float64}):
        with pytest.raises(InvalidInputError):
            SeriesEncoder(**kwargs)  # type: ignore[arg-type]


def test_encode_series_checks_shapes() -> None:
    with pytest.raises(InvalidInputError):
        encode_series(np.arange(3), np.arange(4.0))
    with pytest.raises(InvalidInputError):
        encode_series(np.arange(3.0), np.arange(3.0))
    ts, vs = decode_series(encode_series(np.arange(0), np.zeros(0)))
    assert ts.size == 0 and vs.size == 0
