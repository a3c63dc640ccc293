"""TelemetryRecorder: a simulated day offline (a fast clock) reaches a real nats-server in
order when the link returns; frames decode; a refusing queue loses nothing."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgekit.errors import CorruptDataError, InvalidInputError
from edgekit.sync import Backoff, MemoryTransport, NatsTransport, SyncEngine, SyncQueue
from edgekit.telemetry import Telemetry, TelemetryRecorder, decode_telemetry
from edgekit.telemetry.recorder import encode_telemetry, flat_samples, series_name
from tests._support.servers import NatsServer

START = 1_800_000_000.0  # a fixed time, seconds since the epoch
DAY = 8640  # samples at 10 s


async def stream_payloads(url: str, stream: str) -> list[bytes]:
    """Every message's payload in a JetStream stream, in stream order."""
    import nats

    nc = await nats.connect(servers=[url])
    try:
        js = nc.jetstream()
        info = await js.stream_info(stream)
        return [
            (await js.get_msg(stream, seq)).data or b""
            for seq in range(info.state.first_seq, info.state.last_seq + 1)
        ]
    finally:
        await nc.close()


def test_a_day_offline_arrives_in_order(tmp_path: Path) -> None:
    server = NatsServer(tmp_path / "nats")
    server.root.mkdir()
    server.start()
    clock = [START]
    queue = SyncQueue(tmp_path / "q", clock=lambda: clock[0])
    transport = NatsTransport(
        server.url, stream="TEL", create_stream=True, ack_timeout=5.0, connect_timeout=2.0
    )
    engine = SyncEngine(queue, transport, idle_interval=0.05, reconnect=Backoff(0.05, 0.5))
    telemetry = Telemetry(clock=lambda: clock[0]).observe(queue, engine)
    recorder = TelemetryRecorder(telemetry, queue, clock=lambda: clock[0], health=False)
    engine.start()
    try:
        deadline = time.monotonic() + 30  # connected before the first sample: the loop
        while not engine.status().connected and time.monotonic() < deadline:  # below is fast
            time.sleep(0.01)
        for _ in range(360):  # an hour online
            recorder.sample()
            clock[0] += 10.0
        engine.sync_now(30)
        server.stop()
        for _ in range(DAY):  # a day with the uplink down
            recorder.sample()
            clock[0] += 10.0
        assert not engine.status().connected
        held = queue.stats().topics["edgekit/telemetry"][0]
        assert held >= DAY // 60
        server.start()
        recorder.flush()
        engine.sync_now(60)
    finally:
        engine.stop()
    payloads = asyncio.run(stream_payloads(server.url, "TEL"))
    server.stop()
    queue.close()
    frames = [decode_telemetry(p) for p in payloads]
    stamps = np.concatenate([f.timestamps_ms for f in frames])
    expected = round(START * 1000) + 10_000 * np.arange(360 + DAY, dtype=np.int64)
    np.testing.assert_array_equal(stamps, expected)  # every sample, once, in order
    rows = [row for f in frames for row in f.rows()]
    depth = [row['edgekit_queue_depth_messages{queue="q"}'] for row in rows]
    connected = [row['edgekit_sync_connected{engine="q"}'] for row in rows]
    assert max(depth[360:]) >= held - 1  # the backlog grew while offline ...
    assert all(connected[:360]) and not any(connected[360 + 100 :])  # ... with the link down
    stats = recorder.stats()
    assert stats.samples == 360 + DAY and stats.frames == len(payloads) and stats.errors == 0


def test_frames_decode_to_the_samples(tmp_path: Path) -> None:
    clock = [START]
    queue = SyncQueue(tmp_path / "q", clock=lambda: clock[0])
    telemetry = Telemetry(clock=lambda: clock[0]).observe(queue)
    recorder = TelemetryRecorder(telemetry, queue, clock=lambda: clock[0], samples_per_frame=5)
    expected = []
    for _ in range(12):
        expected.append(flat_samples(telemetry.families(health=False)))
        recorder.sample()  # reads the same (the queue changes only after it read)
        clock[0] += 10.0
    recorder.flush()
    messages = queue.lease(100, topic="edgekit/telemetry")
    frames = [decode_telemetry(m.payload) for m in messages]
    rows = [row for f in frames for row in f.rows()]
    assert [row["time"] for row in rows] == [START + 10 * i for i in range(12)]
    for row, want in zip(rows, expected, strict=True):
        for name, value in want.items():
            if not name.startswith("edgekit_queue_oldest"):
                assert row[name] == value, name
    assert any(name.startswith("edgekit_health_") for name in frames[0].names)
    json_bytes = sum(len(json.dumps(r)) for r in rows)
    stats = recorder.stats()
    assert stats.frame_bytes == sum(len(m.payload) for m in messages)
    assert stats.bytes_per_sample * 3 < json_bytes / len(rows)
    queue.close()


def test_a_new_series_closes_the_frame(tmp_path: Path) -> None:
    queue = SyncQueue(tmp_path / "q")
    telemetry = Telemetry().observe(queue)
    recorder = TelemetryRecorder(telemetry, queue, health=False)
    recorder.sample()
    queue.put(b"x", topic="new/topic")  # a new edgekit_queue_messages{topic=...} series
    assert recorder.sample() == 1
    assert recorder.stats().pending == 1
    frame = decode_telemetry(queue.peek(10, topic="edgekit/telemetry")[0].payload)
    assert not any("new/topic" in n for n in frame.names)
    queue.close()


def test_a_refusing_queue_holds_frames_until_it_accepts(tmp_path: Path) -> None:
    queue = SyncQueue(tmp_path / "q", max_bytes=8192, eviction="reject", compression=None)
    telemetry = Telemetry().observe(queue)
    recorder = TelemetryRecorder(telemetry, queue, samples_per_frame=2, health=False)
    filler = queue.put_many([b"\xff" * 4000] * 2, topic="bulk")
    recorder.sample()
    assert recorder.sample() == 0  # refused: the queue is full
    stats = recorder.stats()
    assert stats.held_frames == 1 and stats.errors == 1
    transport = MemoryTransport()
    with SyncEngine(queue, transport, topic="bulk") as engine:
        engine.sync_now(30)
    assert len(transport.delivered) == len(filler) == 2
    recorder.sample()
    assert recorder.sample() == 2  # the held frame, then the new one
    stamps = [
        decode_telemetry(m.payload).timestamps_ms.tolist()
        for m in queue.peek(10, topic="edgekit/telemetry")
    ]
    assert stamps[0][0] <= stamps[1][0] and len(stamps) == 2
    queue.close()


def test_the_thread_samples_and_stop_flushes(tmp_path: Path) -> None:
    queue = SyncQueue(tmp_path / "q")
    recorder = TelemetryRecorder(Telemetry().observe(queue), queue, interval_s=0.02)
    with recorder:
        deadline = time.monotonic() + 10
        while recorder.stats().samples < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
    stats = recorder.stats()
    assert stats.samples >= 3 and stats.pending == 0
    total = sum(
        len(decode_telemetry(m.payload).timestamps_ms)
        for m in queue.peek(100, topic="edgekit/telemetry")
    )
    assert total == stats.samples
    text = Telemetry().observe(recorder).metrics_text().decode()
    assert f'edgekit_recorder_samples_total{{recorder="recorder"}} {float(stats.samples)}' in text
    queue.close()


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        (b"nope", "does not start"),
        (b"EKT1\xff\x00\x00\x00", "run past"),
        (b"EKT1\x03\x00\x00\x00abc", "do not decode"),
    ],
)
def test_bad_frames_are_corrupt_data(payload: bytes, match: str) -> None:
    with pytest.raises(CorruptDataError, match=match):
        decode_telemetry(payload)


def test_names_and_values_must_match() -> None:
    frame = encode_telemetry(["a", "b"], np.array([1, 2]), np.ones((2, 3)))
    with pytest.raises(CorruptDataError, match="2 names but 3 series"):
        decode_telemetry(frame)


def test_series_names_escape_like_prometheus() -> None:
    assert series_name("m", {}) == "m"
    assert series_name("m", {"b": 'say "hi"\n', "a": "x\\y"}) == 'm{a="x\\\\y",b="say \\"hi\\"\\n"}'


def test_bad_arguments(tmp_path: Path) -> None:
    queue = SyncQueue(tmp_path / "q")
    telemetry: Any = Telemetry()
    with pytest.raises(InvalidInputError, match="interval_s"):
        TelemetryRecorder(telemetry, queue, interval_s=0)
    with pytest.raises(InvalidInputError, match="samples_per_frame"):
        TelemetryRecorder(telemetry, queue, samples_per_frame=0)
    queue.close()
