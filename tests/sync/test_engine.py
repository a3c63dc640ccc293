"""SyncEngine with the memory, directory and HTTP transports (a real aiohttp server)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st

from edgekit.errors import CorruptDataError, InvalidInputError, TransportError
from edgekit.sync import (
    Backoff,
    DirectoryTransport,
    HttpTransport,
    MemoryTransport,
    Message,
    SyncEngine,
    SyncQueue,
    TokenBucket,
    decode_batch,
    encode_batch,
)


def test_sync_now_drains_into_memory_in_order(queue: SyncQueue) -> None:
    for i in range(500):
        queue.put(b"%d" % i, topic=f"t{i % 3}")
    transport = MemoryTransport()
    with SyncEngine(queue, transport, batch_size=64) as engine:
        assert engine.sync_now(10) == 500
        status = engine.status()
    assert len(queue) == 0 and status.sent_messages == 500 and status.backlog == 0
    for k in range(3):
        got = [int(m.payload) for m in transport.delivered if m.topic == f"t{k}"]
        assert got == sorted(got) and len(got) == len(range(k, 500, 3))
    assert "<table" in status._repr_html_()


def test_outage_never_dead_letters_and_resumes(tmp_path: Path) -> None:
    with SyncQueue(tmp_path / "q", max_attempts=2) as queue:
        queue.put_many([b"x"] * 20)
        transport = MemoryTransport()
        engine = SyncEngine(queue, transport, reconnect=Backoff(0.01, 0.02))
        transport.online = False
        with pytest.raises(TransportError, match=r"offline|messages left"):
            engine.sync_now(0.3)
        assert queue.stats().dead == 0 and len(queue) == 20
        assert engine.status().last_error is not None
        transport.online = True
        assert engine.sync_now(5) == 20
        engine.stop()


def test_rejected_messages_are_dead_lettered(queue: SyncQueue) -> None:
    queue.put(b"ok", topic="good")
    queue.put(b"no", topic="bad")
    transport = MemoryTransport()
    transport.reject_topics.add("bad")
    with SyncEngine(queue, transport) as engine:
        engine.sync_now(5)
    assert [m.payload for m in transport.delivered] == [b"ok"]
    assert [m.payload for m in queue.dead_letters()] == [b"no"]


def test_background_engine_pause_resume(queue: SyncQueue) -> None:
    transport = MemoryTransport()
    engine = SyncEngine(queue, transport, idle_interval=0.01)
    engine.start()
    try:
        queue.put(b"a")
        engine.sync_now(5)
        assert [m.payload for m in transport.delivered] == [b"a"]
        engine.pause()
        time.sleep(0.05)
        queue.put(b"b")
        time.sleep(0.2)
        assert len(transport.delivered) == 1 and engine.status().paused
        engine.resume()
        engine.sync_now(5)
        assert [m.payload for m in transport.delivered] == [b"a", b"b"]
        assert engine.status().running
    finally:
        engine.stop()
    assert not engine.status().running


def test_a_pause_from_another_thread_lets_no_lease_begin_after_it(
    queue: SyncQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The pump checks for a pause and leases under one lock: a pause() that lands while a
    # lease is under way waits for it, and nothing put after pause() returns is sent (a
    # ResourceGuard pausing the engine from its own thread once saw 20 messages go out).
    transport = MemoryTransport()
    leasing = threading.Event()
    real_lease = queue.lease

    def slow_lease(*args: Any, **kwargs: Any) -> list[Any]:
        leasing.set()
        time.sleep(0.2)
        return real_lease(*args, **kwargs)

    monkeypatch.setattr(queue, "lease", slow_lease)
    with SyncEngine(queue, transport, idle_interval=0.01) as engine:
        engine.start()
        assert leasing.wait(5)
        started = time.monotonic()
        engine.pause()
        assert time.monotonic() - started > 0.02  # it waited for the lease under way
        queue.put_many([b"m"] * 5, topic="t")
        time.sleep(0.5)
        assert transport.delivered == [] and engine.status().paused
        engine.resume()
        engine.sync_now(10)
        assert len(transport.delivered) == 5


async def test_sync_front_is_safe_inside_a_running_loop(queue: SyncQueue) -> None:
    """Like a Jupyter cell: an event loop is running and the sync front is called."""
    queue.put_many([b"j"] * 10)
    engine = SyncEngine(queue, MemoryTransport())
    assert engine.sync_now(5) == 10
    engine.stop()


async def test_async_api_drain_and_run(queue: SyncQueue) -> None:
    transport = MemoryTransport()
    engine = SyncEngine(queue, transport, idle_interval=0.01)
    queue.put_many([b"x"] * 7)
    assert await engine.async_drain(5) == 7
    task = asyncio.ensure_future(engine.async_run())
    queue.put(b"late")
    for _ in range(200):
        if len(transport.delivered) == 8:
            break
        await asyncio.sleep(0.01)
    assert len(transport.delivered) == 8
    await engine.async_close()
    await asyncio.wait_for(task, 5)


def test_token_bucket_limits_bandwidth(queue: SyncQueue) -> None:
    queue.put_many([b"x" * 1000] * 30)
    engine = SyncEngine(queue, MemoryTransport(), batch_size=5, bandwidth_limit=50_000)
    start = time.monotonic()
    engine.sync_now(10)
    elapsed = time.monotonic() - start
    engine.stop()
    # 30 kB at 50 kB/s with a 50 kB burst goes at once; a second round must wait.
    bucket = TokenBucket(1000, burst=1000)
    assert bucket.delay_for(1000) == 0
    assert bucket.delay_for(500) == pytest.approx(0.5, abs=0.05)
    assert elapsed < 5
    with pytest.raises(InvalidInputError):
        TokenBucket(0)


def test_bandwidth_limit_slows_a_large_transfer(queue: SyncQueue) -> None:
    queue.put_many([b"x" * 1000] * 40)
    engine = SyncEngine(queue, MemoryTransport(), batch_size=10, bandwidth_limit=100_000)
    engine.bucket = TokenBucket(100_000, burst=10_000)
    start = time.monotonic()
    engine.sync_now(10)
    engine.stop()
    assert time.monotonic() - start >= 0.25  # 40 kB at 100 kB/s after a 10 kB burst


def test_directory_transport_writes_atomic_files(queue: SyncQueue, tmp_path: Path) -> None:
    out = tmp_path / "outbox"
    queue.put_many([b"%d" % i for i in range(25)], topic="d")
    queue.put(b"\x00\xff binary", key="k1", headers={"h": "1"})
    with SyncEngine(queue, DirectoryTransport(out), batch_size=10) as engine:
        engine.sync_now(10)
    files = sorted(out.glob("*.json"))
    assert len(files) == 3 and not list(out.glob(".*.tmp"))
    messages = DirectoryTransport.read(out)
    assert [m["payload"] for m in messages] == [b"%d" % i for i in range(25)] + [b"\x00\xff binary"]
    assert messages[-1]["dedup_id"] == "k1" and messages[-1]["headers"] == {"h": "1"}
    doc = json.loads(files[0].read_text())
    assert doc["format"] == "edgekit.sync/1"


def test_directory_transport_unwritable_is_a_clear_error(queue: SyncQueue, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InvalidInputError):
        DirectoryTransport(blocker)
    queue.put(b"x")
    engine = SyncEngine(queue, DirectoryTransport(blocker / "sub"), reconnect=Backoff(0.01, 0.01))
    with pytest.raises(TransportError):
        engine.sync_now(0.3)
    engine.stop()
    assert len(queue) == 1


def test_engine_rejects_bad_arguments(queue: SyncQueue) -> None:
    with pytest.raises(InvalidInputError):
        SyncEngine("not a queue", MemoryTransport())  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        SyncEngine(queue, MemoryTransport(), batch_size=0)


class _HttpSink:
    def __init__(self) -> None:
        self.batches: list[dict] = []  # type: ignore[type-arg]
        self.status = 200
        self.fail_first = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        if self.fail_first > 0:
            self.fail_first -= 1
            return web.Response(status=503)
        if self.status == 200:
            self.batches.append(body)
        return web.Response(status=self.status)


@contextlib.asynccontextmanager
async def _serve(path: str, handler: object):  # type: ignore[no-untyped-def]
    """An aiohttp server on 127.0.0.1 posting ``path`` to ``handler``; yields its URL."""
    app = web.Application()
    app.router.add_post(path, handler)  # type: ignore[arg-type]
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}{path}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def http_sink():
    sink = _HttpSink()
    async with _serve("/ingest", sink.handle) as url:
        sink.url = url  # type: ignore[attr-defined]
        yield sink


async def test_http_transport_acks_2xx_retries_5xx(queue: SyncQueue, http_sink: _HttpSink) -> None:
    queue.put_many([b"%d" % i for i in range(30)], topic="h")
    http_sink.fail_first = 2
    engine = SyncEngine(
        queue,
        HttpTransport(http_sink.url),
        batch_size=10,
        retry=Backoff(0.01, 0.02),  # type: ignore[attr-defined]
    )
    assert await engine.async_drain(10) == 30
    await engine.async_close()
    payloads = [m["payload"] for b in http_sink.batches for m in b["messages"]]
    assert len(payloads) == 30
    assert queue.stats().dead == 0


async def test_http_transport_dead_letters_4xx(queue: SyncQueue, http_sink: _HttpSink) -> None:
    http_sink.status = 422
    queue.put(b"refused")
    engine = SyncEngine(queue, HttpTransport(http_sink.url))  # type: ignore[attr-defined]
    await engine.async_drain(5)
    await engine.async_close()
    assert [m.payload for m in queue.dead_letters()] == [b"refused"]


async def test_http_unreachable_keeps_messages(queue: SyncQueue) -> None:
    from tests._support.servers import free_port

    queue.put(b"kept")
    engine = SyncEngine(
        queue,
        HttpTransport(f"http://127.0.0.1:{free_port()}/x", timeout=1),
        reconnect=Backoff(0.01, 0.02),
    )
    with pytest.raises(TransportError, match="last error"):
        await engine.async_drain(0.5)
    await engine.async_close()
    assert len(queue) == 1 and queue.stats().dead == 0
    with pytest.raises(InvalidInputError):
        HttpTransport("ftp://x")


def test_outbox_example_runs(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, str(root / "examples" / "sync_outbox.py"), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert result.returncode == 0, result.stderr
    assert "sent 101 messages" in result.stdout
    assert len(DirectoryTransport.read(tmp_path / "out")) == 101


def test_make_transport_by_name(queue: SyncQueue, tmp_path: Path) -> None:
    from edgekit.sync import MqttTransport, NatsTransport, make_transport

    auto = make_transport("auto", queue=queue)
    assert isinstance(auto, DirectoryTransport) and str(auto.path) == f"{queue.path}.outbox"
    assert isinstance(make_transport("memory"), MemoryTransport)
    assert isinstance(make_transport("nats://127.0.0.1:4222"), NatsTransport)
    assert isinstance(make_transport("mqtt://127.0.0.1:1883"), MqttTransport)
    assert isinstance(make_transport("https://example.invalid/x"), HttpTransport)
    assert make_transport(f"dir:{tmp_path}").path == tmp_path  # type: ignore[attr-defined]
    same = MemoryTransport()
    assert make_transport(same) is same
    for bad in ("ftp://x", "auto-ish", 42):
        with pytest.raises(InvalidInputError):
            make_transport(bad, queue=queue)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        make_transport("auto")


def test_default_engine_writes_next_to_the_queue(queue: SyncQueue) -> None:
    queue.put(b"x")
    with SyncEngine(queue) as engine:
        assert engine.sync_now(5) == 1
    assert len(DirectoryTransport.read(f"{queue.path}.outbox")) == 1


class _BinarySink:
    def __init__(self) -> None:
        self.batches: list[list[Message]] = []
        self.content_types: list[str] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.content_types.append(request.content_type)
        self.batches.append(decode_batch(await request.read()))
        return web.Response(status=204)


async def test_http_transport_posts_binary_batch_frames(queue: SyncQueue) -> None:
    sink = _BinarySink()
    async with _serve("/bin", sink.handle) as url:
        queue.put_many([bytes([i]) * i for i in range(25)], topic="bin")
        queue.put(b"\x00\xff", topic="k", key="key-1", headers={"h": "v"}, priority=3)
        engine = SyncEngine(queue, HttpTransport(url, body="binary"), batch_size=10)
        assert await engine.async_drain(10) == 26
        await engine.async_close()
    assert set(sink.content_types) == {"application/vnd.edgekit.batch"}
    got = [m for batch in sink.batches for m in batch]
    assert got[0].key == "key-1" and got[0].headers == {"h": "v"} and got[0].priority == 3
    assert [m.payload for m in got[1:]] == [bytes([i]) * i for i in range(25)]
    assert all(m.dedup_id == f"{queue.queue_id}-{m.id}" for m in got[1:])
    assert len(queue) == 0


def test_binary_batch_round_trips_and_rejects_damage() -> None:
    messages = [
        Message(id=7, payload=b"abc", topic="t", priority=-2, key=None, attempt=3, queue_id="q1"),
        Message(id=8, payload=b"", topic="t/ü", key="k", headers={"a": "b"}, created=1.5),
    ]
    frame = encode_batch(messages)
    back = decode_batch(frame)
    assert [
        (m.id, m.payload, m.topic, m.priority, m.key, m.headers, m.attempt, m.created) for m in back
    ] == [
        (m.id, m.payload, m.topic, m.priority, m.key, m.headers, m.attempt, m.created)
        for m in messages
    ]
    assert [m.dedup_id for m in back] == ["q1-7", "k"]
    assert decode_batch(encode_batch([])) == []
    with pytest.raises(InvalidInputError, match="body must be"):
        HttpTransport("http://127.0.0.1:1/x", body="xml")  # type: ignore[arg-type]
    for bad in (frame[:-1], frame[:10], b"XXXX" + frame[4:], frame[:4] + b"\x02" + frame[5:]):
        with pytest.raises(CorruptDataError):
            decode_batch(bad)
    flipped = bytearray(frame)
    flipped[20] ^= 1
    with pytest.raises(CorruptDataError):
        decode_batch(bytes(flipped))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_binary_batch_decoder_fuzz(data: bytes) -> None:
    """Any bytes: messages or CorruptDataError, nothing else."""
    with contextlib.suppress(CorruptDataError):
        decode_batch(data)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200), st.integers(0, 199))
def test_binary_batch_decoder_fuzz_near_valid(payload: bytes, cut: int) -> None:
    """Valid frames with a byte changed or cut: CorruptDataError, never another error."""
    frame = bytearray(encode_batch([Message(id=1, payload=payload, topic="t", key="k")]))
    frame[cut % len(frame)] ^= 0x5A
    with pytest.raises(CorruptDataError):
        decode_batch(bytes(frame))
