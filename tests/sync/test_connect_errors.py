"""Connect errors that say why and what to do, at once (issue #19.2, #20.7).

Real peers only: nats-server, mosquitto and a socket that takes connections and never
answers (a server stuck or behind a firewall that swallows packets). Time bounds are
generous (a loaded 2-core machine): each is far below what the old code took.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edgekit.errors import InvalidInputError, TransportConfigError, TransportError
from edgekit.sync import HttpTransport, MqttTransport, NatsTransport, SyncEngine, SyncQueue
from edgekit.sync.backoff import Backoff
from edgekit.sync.transport import Transport
from tests._support.servers import Mosquitto, NatsServer, free_port, nats_server_binary

UNRESOLVABLE = "no-such-host.invalid"  # RFC 6761: .invalid never resolves


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port of 127.0.0.1 that takes TCP connections and never says a word."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield int(sock.getsockname()[1])


def _wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            assert time.monotonic() < deadline, f"no server on port {port} after 20 s"
            time.sleep(0.05)


def _connect_error(transport: Transport) -> tuple[str, float]:
    """The message of the TransportError a connect raises, and how long it took (s)."""
    import aiohttp  # noqa: F401  (imported before timing: a cold import takes seconds under load)
    import nats.js  # noqa: F401

    start = time.monotonic()
    try:
        with pytest.raises(TransportError) as info:
            asyncio.run(transport.async_connect())
        return str(info.value), time.monotonic() - start
    finally:
        # (paho keeps reconnecting in its own thread until the transport is closed: one
        # left running outlives the test and reads os.environ while pytest changes it)
        asyncio.run(transport.async_close())


@pytest.mark.parametrize(
    "make",
    [
        lambda host, port: NatsTransport(f"nats://{host}:{port}", connect_timeout=0.5),
        lambda host, port: MqttTransport(f"mqtt://{host}:{port}", connect_timeout=0.5),
        lambda host, port: HttpTransport(f"http://{host}:{port}/in", timeout=0.5),
    ],
    ids=["nats", "mqtt", "http"],
)
def test_refused_unresolved_and_silent_are_told_apart(make, silent_port: int) -> None:  # type: ignore[no-untyped-def]
    refused, took = _connect_error(make("127.0.0.1", free_port()))
    assert "connection refused" in refused and took < 5.0
    unresolved, took = _connect_error(make(UNRESOLVABLE, 4222))
    assert "name not resolved" in unresolved and UNRESOLVABLE in unresolved and took < 5.0
    if not isinstance(make("127.0.0.1", 1), HttpTransport):  # HTTP's TCP probe is answered
        silent, took = _connect_error(make("127.0.0.1", silent_port))
        assert "timed out" in silent and took < 5.0


@pytest.mark.parametrize(
    "url", ["nat://127.0.0.1:4222", "nats://", "nats://host:port", "http://127.0.0.1:4222"]
)
def test_nats_url_checked_at_construction(url: str) -> None:
    with pytest.raises(InvalidInputError, match="nats://host:4222"):
        NatsTransport(url)
    NatsTransport("127.0.0.1:4222")  # nats-py reads a bare host:port as nats://


def test_missing_stream_said_at_connect(shared_nats: NatsServer, tmp_path: Path) -> None:
    transport = NatsTransport(shared_nats.url, subject_prefix="nostream", create_stream=False)
    with pytest.raises(TransportConfigError) as info:
        asyncio.run(transport.async_connect())
    text = str(info.value)
    assert "no JetStream stream takes subject 'nostream.>'" in text
    assert "create_stream=True" in text and "--create-stream" in text
    with SyncQueue(tmp_path / "q") as q:
        q.put(b"x", topic="t")
        engine = SyncEngine(q, transport)
        start = time.monotonic()
        with pytest.raises(TransportConfigError, match="no JetStream stream"):
            engine.sync_now(timeout=30)  # at once, not after 30 s
        assert time.monotonic() - start < 10
        engine.stop()
        assert len(q) == 1


def test_overlapping_stream_named_at_once(shared_nats: NatsServer, tmp_path: Path) -> None:
    first = NatsTransport(
        shared_nats.url, stream="OVERLAP_A", subject_prefix="overlap", create_stream=True
    )
    asyncio.run(first.async_connect())
    asyncio.run(first.async_close())
    second = NatsTransport(
        shared_nats.url, stream="OVERLAP_B", subject_prefix="overlap", create_stream=True
    )
    with SyncQueue(tmp_path / "q") as q:
        q.put(b"x", topic="t")
        engine = SyncEngine(q, second)
        start = time.monotonic()
        with pytest.raises(
            TransportConfigError, match="overlaps the subjects of stream 'OVERLAP_A'"
        ):
            engine.sync_now(timeout=30)
        assert time.monotonic() - start < 10
        engine.stop()


def test_jetstream_off_said_at_connect() -> None:
    port = free_port()
    server = subprocess.Popen(
        [nats_server_binary(), "-a", "127.0.0.1", "-p", str(port)],  # no -js
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port)
        for create_stream in (False, True):
            transport = NatsTransport(f"nats://127.0.0.1:{port}", create_stream=create_stream)
            with pytest.raises(TransportConfigError, match=r"JetStream is not enabled.*-js"):
                asyncio.run(transport.async_connect())
    finally:
        server.terminate()
        server.wait(10)


def test_last_error_while_connecting_then_cleared(nats_server: NatsServer, tmp_path: Path) -> None:
    nats_server.stop()  # its port now refuses
    with SyncQueue(tmp_path / "q") as q:
        q.put_many([b"m%d" % i for i in range(5)], topic="t")
        transport = NatsTransport(nats_server.url, subject_prefix="recover", create_stream=True)
        engine = SyncEngine(q, transport, reconnect=Backoff(initial=0.05, maximum=0.2))
        engine.start()
        try:
            deadline = time.monotonic() + 2.0  # the old engine said nothing for ~5 s
            while engine.status().last_error is None and time.monotonic() < deadline:
                time.sleep(0.01)
            assert "connection refused" in str(engine.status().last_error)
            with pytest.raises(TransportError) as info:  # sync_now during the outage
                engine.sync_now(timeout=0.5)
            assert "connection refused" in str(info.value) and "None" not in str(info.value)
            nats_server.start()
            assert engine.sync_now(timeout=30) >= 0 and len(q) == 0
            status = engine.status()
            assert status.connected and status.last_error is None  # not stale
        finally:
            engine.stop()


def test_drain_during_outage_names_the_cause(tmp_path: Path) -> None:
    with SyncQueue(tmp_path / "q") as q:
        q.put(b"x", topic="t")
        engine = SyncEngine(q, NatsTransport(f"nats://{UNRESOLVABLE}:4222"))
        with pytest.raises(TransportError, match="name not resolved") as info:
            engine.sync_now(timeout=0.5)
        assert "None" not in str(info.value)
        engine.stop()


@pytest.mark.parametrize("kind", ["nats", "mqtt"])
def test_stop_returns_while_connecting(kind: str, silent_port: int, tmp_path: Path) -> None:
    transport: Transport
    if kind == "nats":
        transport = NatsTransport(f"nats://127.0.0.1:{silent_port}", connect_timeout=5)
    else:
        transport = MqttTransport(f"mqtt://127.0.0.1:{silent_port}", connect_timeout=5)
    with SyncQueue(tmp_path / "q") as q:
        q.put(b"x", topic="t")
        engine = SyncEngine(q, transport)
        engine.start()
        time.sleep(0.3)  # inside the connect attempt, which would take 5 s (NATS: 11 s)
        start = time.monotonic()
        engine.stop()
        assert time.monotonic() - start < 2.0  # the goal is 1 s; generous for a loaded CI
        assert len(q) == 1


def test_sync_now_honours_its_timeout_while_connecting(silent_port: int, tmp_path: Path) -> None:
    with SyncQueue(tmp_path / "q") as q:
        q.put(b"x", topic="t")
        engine = SyncEngine(q, NatsTransport(f"nats://127.0.0.1:{silent_port}", connect_timeout=5))
        start = time.monotonic()
        with pytest.raises(TransportError, match="timed out"):
            engine.sync_now(timeout=1.0)
        took = time.monotonic() - start
        engine.stop()
        assert 1.0 <= took < 1.8  # 10% is the goal; the old engine took 11 s


def test_mqtt_outage_then_recovery(mosquitto: Mosquitto, tmp_path: Path) -> None:
    mosquitto.stop()  # its port now refuses
    with SyncQueue(tmp_path / "q") as q:
        q.put(b"x", topic="t")
        engine = SyncEngine(q, MqttTransport(mosquitto.url))
        try:
            with pytest.raises(TransportError, match="connection refused"):
                engine.sync_now(timeout=0.5)
            mosquitto.start()
            assert engine.sync_now(timeout=20) == 1
            assert engine.status().last_error is None
        finally:
            engine.stop()


def test_mqtt_broker_refusal_is_said(tmp_path: Path) -> None:
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous false\n")
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    broker = subprocess.Popen(
        [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_for_port(port)
        message, took = _connect_error(MqttTransport(f"mqtt://127.0.0.1:{port}"))
        assert "the broker refused the connection: Not authorized" in message and took < 5.0
    finally:
        broker.terminate()
        broker.wait(10)
