"""SensorUplink: frames on the queue decode to exactly the appended readings."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgekit.codec import decode_series
from edgekit.errors import InvalidInputError, QueueFullError
from edgekit.pipelines import SERIES_CONTENT_TYPE, SensorUplink
from edgekit.sync import DirectoryTransport, SyncEngine, SyncQueue


@pytest.fixture
def queue(tmp_path):
    with SyncQueue(tmp_path / "queue") as q:
        yield q


def decoded(messages) -> tuple[np.ndarray, np.ndarray]:
    parts = [decode_series(m.payload) for m in messages]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def test_three_line_sensor_loop(queue) -> None:
    rng = np.random.default_rng(3)
    t = 1_700_000_000_000_000_000 + np.cumsum(rng.integers(9_000_000, 11_000_000, 1000))
    v = np.round(20 + np.cumsum(rng.normal(0, 0.05, 1000)), 2)
    uplink = SensorUplink(queue, topic="temp", frame_points=128)
    for ti, vi in zip(t, v, strict=True):
        uplink.append(int(ti), float(vi))
    uplink.flush()
    messages = queue.peek(100)
    assert len(messages) == 8 == uplink.frames_put  # 7 full frames of 128 and one of 104
    ts, vs = decoded(messages)
    np.testing.assert_array_equal(ts, t)
    np.testing.assert_array_equal(vs, v)
    assert ts.dtype == np.int64 and vs.dtype == np.float64
    assert uplink.points_put == 1000 and uplink.pending_points == 0
    assert uplink.bytes_put == sum(len(m.payload) for m in messages) < v.nbytes + t.nbytes
    for m in messages:
        assert m.topic == "temp"
        t0, t1, n = int(m.headers["t0"]), int(m.headers["t1"]), int(m.headers["points"])
        mts, _ = decode_series(m.payload)
        assert (t0, t1, n) == (mts[0], mts[-1], len(mts))
        assert m.headers["content-type"] == SERIES_CONTENT_TYPE
        assert m.key is not None and m.key.startswith(f"temp:{t0}:{t1}:{n}:")
    assert len({m.key for m in messages}) == 8


def test_arrays_and_channels(queue) -> None:
    uplink = SensorUplink(
        queue,
        topic="imu",
        frame_points=100,
        channels=3,
        value_dtype=np.int16,
        key_prefix="dev7/imu",
    )
    t = np.arange(250, dtype=np.int64) * 1000
    v = (np.arange(750).reshape(250, 3) % 200 - 100).astype(np.int16)
    ids = uplink.append(t[:130], v[:130])
    assert len(ids) == 1 and uplink.pending_points == 30
    ids += uplink.append(t[130:], v[130:])
    ids += uplink.flush()
    assert len(ids) == 3 and uplink.flush() == []
    messages = queue.peek(10)
    assert [m.id for m in messages] == ids
    ts, vs = decoded(messages)
    np.testing.assert_array_equal(ts, t)
    np.testing.assert_array_equal(vs, v)
    assert vs.dtype == np.int16 and vs.shape == (250, 3)
    assert [m.headers["t0"] for m in messages] == ["0", "100000", "200000"]
    assert all(m.key.startswith("dev7/imu:") for m in messages)


def test_replayed_readings_are_stored_once(queue) -> None:
    t = np.arange(300, dtype=np.int64)
    v = np.sin(t / 10)
    first = SensorUplink(queue, topic="x", frame_points=100)
    ids = first.append(t, v) + first.flush()
    again = SensorUplink(queue, topic="x", frame_points=100)  # a host replaying after a crash
    assert again.append(t, v) + again.flush() == ids
    assert len(queue) == 3


def test_end_to_end_through_sync_engine_and_directory_transport(tmp_path, queue) -> None:
    outbox = tmp_path / "outbox"
    with SensorUplink(queue, topic="power", frame_points=64) as uplink:
        t = np.arange(1000, dtype=np.int64) * 1_000_000_000
        v = np.round(np.linspace(0, 5, 1000) ** 2, 3)
        for i in range(0, 1000, 7):
            uplink.append(t[i : i + 7], v[i : i + 7])
    engine = SyncEngine(queue, DirectoryTransport(outbox, fsync=False))
    try:
        assert engine.sync_now(timeout=30) == 16
    finally:
        engine.stop()
    assert len(queue) == 0
    delivered = DirectoryTransport.read(outbox)
    assert [m["topic"] for m in delivered] == ["power"] * 16
    parts = [decode_series(m["payload"]) for m in delivered]
    np.testing.assert_array_equal(np.concatenate([p[0] for p in parts]), t)
    np.testing.assert_array_equal(np.concatenate([p[1] for p in parts]), v)
    assert all(m["dedup_id"] == m["key"] for m in delivered)


def test_a_refused_frame_is_kept_and_put_again(tmp_path) -> None:
    with SyncQueue(tmp_path / "small", max_bytes=3000, compression=None) as small:
        uplink = SensorUplink(small, topic="r", frame_points=100)
        rng = np.random.default_rng(0)
        t = np.arange(1000, dtype=np.int64)
        v = rng.random(1000)  # random doubles barely compress: ~800 bytes a frame
        put, i = 0, 0
        while True:
            try:
                put += len(uplink.append(t[i : i + 100], v[i : i + 100]))
            except QueueFullError:
                break
            i += 100
        assert 0 < put < 10
        assert uplink.pending_frames == 1 and uplink.frames_put == put
        kept = small.lease(100)
        small.ack(kept)
        uplink.flush()
        assert uplink.pending_frames == 0 and uplink.frames_put == put + 1
        ts, vs = decoded(kept + small.peek(10))
        np.testing.assert_array_equal(ts, t[: (put + 1) * 100])
        np.testing.assert_array_equal(vs, v[: (put + 1) * 100])


@given(
    frame_points=st.integers(1, 50),
    blocks=st.lists(st.lists(st.floats(allow_nan=False, width=64), max_size=40), max_size=8),
)
def test_any_appends_round_trip(tmp_path_factory, frame_points, blocks) -> None:
    with SyncQueue(tmp_path_factory.mktemp("q")) as q:
        uplink = SensorUplink(q, topic="h", frame_points=frame_points)
        values = [x for block in blocks for x in block]
        start = 0
        for block in blocks:
            ts = np.arange(start, start + len(block), dtype=np.int64) * 3 - 50
            uplink.append(ts, np.array(block, dtype=np.float64))
            start += len(block)
        uplink.flush()
        messages = q.peek(1000)
        assert len(messages) == -(-len(values) // frame_points)
        if values:
            ts, vs = decoded(messages)
            np.testing.assert_array_equal(ts, np.arange(len(values)) * 3 - 50)
            np.testing.assert_array_equal(vs, np.array(values))
            for m in messages:
                mts, _ = decode_series(m.payload)
                assert (int(m.headers["t0"]), int(m.headers["t1"])) == (mts[0], mts[-1])


def test_bad_arguments_raise_clear_errors(queue) -> None:
    with pytest.raises(InvalidInputError, match="SyncQueue"):
        SensorUplink("not a queue", topic="t")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="topic"):
        SensorUplink(queue, topic="")
    with pytest.raises(InvalidInputError, match="key_prefix"):
        SensorUplink(queue, topic="t", key_prefix="k" * 200)
    with pytest.raises(InvalidInputError, match="points_per_frame"):
        SensorUplink(queue, topic="t", frame_points=0)
    uplink = SensorUplink(queue, topic="t", frame_points=4)
    with pytest.raises(InvalidInputError, match="integers"):
        uplink.append(1.5, 2.0)
    with pytest.raises(InvalidInputError):
        uplink.append([1, 2], [1.0])
    uplink.append(1, 2.0)
    assert uplink.pending_points == 1 and "frames_put=0" in repr(uplink)
