"""One poison message never takes good ones down (issues #19.1 and #20.2).

For each transport, against a real server: a stream of good messages with one
message in the middle that the other end can never take. Every good message
arrives, in order per topic; only the poison one is dead, with its reason. Plus: the
topics accepted at put publish on real NATS and MQTT servers, and a reply that
repeats forever counts an attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgekit.errors import InvalidInputError
from edgekit.sync import (
    Backoff,
    DirectoryTransport,
    HttpTransport,
    MqttTransport,
    NatsTransport,
    SyncEngine,
    SyncQueue,
)
from edgekit.sync.topics import check_topic
from tests._support.servers import Mosquitto, NatsServer

GOOD = 60  # good messages, on two topics; the poison one goes in the middle of a batch
POISON_AT = 31


def put_stream(q: SyncQueue, poison: bytes, poison_topic: str = "t1") -> int:
    """Put GOOD good messages (topics t0 and t1) with ``poison`` in the middle; its id."""
    poison_id = -1
    for i in range(GOOD):
        if i == POISON_AT:
            poison_id = q.put(poison, topic=poison_topic)
        q.put(b"good %d" % i, topic=f"t{i % 2}")
    return poison_id


def assert_good_in_order(got: list[tuple[str, bytes]]) -> None:
    """Every good message once, in put order per topic (topics end in t0 / t1)."""
    for k in (0, 1):
        mine = [p for t, p in got if t.endswith(f"t{k}") and p.startswith(b"good")]
        assert mine == [b"good %d" % i for i in range(k, GOOD, 2)]


def assert_only_dead(q: SyncQueue, poison_id: int, reason: str) -> None:
    dead = q.dead_letters()
    assert [m.id for m in dead] == [poison_id]
    assert dead[0].dead_reason is not None and reason in dead[0].dead_reason
    assert len(q) == 0


# -- NATS -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """nats-server -js with max_payload 4 KiB (a larger message closes the connection)."""
    server = NatsServer(tmp_path_factory.mktemp("nats-small"), extra_conf=("max_payload: 4096",))
    server.start()
    yield server
    server.stop()


async def stream_subjects(url: str, stream: str) -> list[tuple[str, bytes]]:
    import nats

    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(stream)
        return [
            (m.subject, m.data)
            for m in [
                await js.get_msg(stream, seq)
                for seq in range(info.state.first_seq, info.state.last_seq + 1)
            ]
        ]
    finally:
        await nc.close()


def test_nats_oversize_message_dead_alone(small_nats: NatsServer, tmp_path: Path) -> None:
    """Over the server's max_payload: rejected before it is sent (sending it would make
    the server close the connection, and the batch would fail forever)."""
    with SyncQueue(tmp_path / "q") as q:
        poison = put_stream(q, b"p" * 5000)
        transport = NatsTransport(
            small_nats.url, stream="PZ1", subject_prefix="pz1", create_stream=True
        )
        with SyncEngine(q, transport, batch_size=50) as engine:
            engine.sync_now(20)
        assert_only_dead(q, poison, "max_payload of 4,096 bytes")
    assert_good_in_order(asyncio.run(stream_subjects(small_nats.url, "PZ1")))


def test_nats_refused_by_jetstream_dead_alone(small_nats: NatsServer, tmp_path: Path) -> None:
    """Over the stream's max_msg_size: JetStream answers a 4xx for that message alone.
    (nats-py loses that answer to publish_async: the PubAck times out and the transport
    asks again with a request, which hears it.)"""

    async def make_stream() -> None:
        import nats

        nc = await nats.connect(small_nats.url)
        await nc.jetstream().add_stream(name="PZ2", subjects=["pz2.>"], max_msg_size=1024)
        await nc.close()

    asyncio.run(make_stream())
    with SyncQueue(tmp_path / "q") as q:
        poison = put_stream(q, b"p" * 2000)
        transport = NatsTransport(
            small_nats.url, stream="PZ2", subject_prefix="pz2", ack_timeout=1.0
        )
        with SyncEngine(q, transport, batch_size=50) as engine:
            engine.sync_now(20)
        assert_only_dead(q, poison, "JetStream refused it")
    assert_good_in_order(asyncio.run(stream_subjects(small_nats.url, "PZ2")))


def test_nats_no_stream_reply_counts_attempts(small_nats: NatsServer, tmp_path: Path) -> None:
    """No stream takes the subject any more (deleted after connect): the "no responders"
    reply counts an attempt each time, so the messages end dead after max_attempts
    (issue #20.2 had it re-published forever) and the engine says why."""

    async def stream(action: str) -> None:
        import nats

        nc = await nats.connect(small_nats.url)
        js = nc.jetstream()
        if action == "add":
            await js.add_stream(name="GONE", subjects=["gone.>"])
        else:
            await js.delete_stream("GONE")
        await nc.close()

    asyncio.run(stream("add"))
    with SyncQueue(tmp_path / "q", max_attempts=3) as q:
        q.put_many([b"a", b"b", b"c"], topic="t")
        transport = NatsTransport(small_nats.url, stream="GONE", subject_prefix="gone")
        engine = SyncEngine(q, transport, retry=Backoff(0.01, 0.02))

        async def run() -> None:
            await transport.async_connect()
            await stream("delete")
            with contextlib.suppress(Exception):
                await engine.async_drain(10)
            await engine.async_close()

        asyncio.run(run())
        dead = q.dead_letters()
        assert [m.payload for m in dead] == [b"a", b"b", b"c"]
        assert {m.dead_reason for m in dead} == {"max_attempts (3) reached"}
        assert all(
            "no JetStream stream takes subject 'gone.t'" in (m.last_error or "") for m in dead
        )
        status = engine.status()
        assert status.errors >= 3 and status.dead == 3
        assert "no JetStream stream" in (status.last_error or "")


# -- MQTT -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def strict_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """mosquitto that lets clients publish under dev/t0, dev/t1 and hyp/ only (ACL), and
    takes packets of at most 4 KiB."""
    root = tmp_path_factory.mktemp("mosquitto-strict")
    acl = root / "acl"
    acl.write_text("topic readwrite dev/t0\ntopic readwrite dev/t1\ntopic readwrite hyp/#\n")
    conf = (f"acl_file {acl}", "max_packet_size 4096")
    broker = Mosquitto(root, extra_conf=conf)
    broker.start()
    yield broker
    broker.stop()


class Subscriber:
    """A paho subscriber collecting (topic, payload) in arrival order."""

    def __init__(self, port: int, topic: str) -> None:
        self.got: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        ready = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: ready.set()
        self.client.on_connect = lambda c, u, f, r, p: c.subscribe(topic, qos=1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert ready.wait(10)

    def _on_message(self, client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.got.append((msg.topic, bytes(msg.payload)))

    def wait_for(self, n: int, timeout: float = 10) -> list[tuple[str, bytes]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.got) < n:
            time.sleep(0.02)
        time.sleep(0.1)  # nothing more should come
        with self.lock:
            return list(self.got)

    def close(self) -> None:
        # loop_stop() first: after disconnect() paho's network thread may end and clear
        # itself between loop_stop()'s check and its join (AttributeError, seen in CI)
        self.client.loop_stop()
        self.client.disconnect()


@pytest.mark.parametrize(
    ("poison", "topic", "reason"),
    [
        (b"secret", "secret", "the broker refused it: Not authorized (0x87)"),
        (b"p" * 5000, "t1", "exceeds the broker's Maximum Packet Size of 4,096 bytes"),
    ],
    ids=["acl-refused", "over-max-packet"],
)
def test_mqtt_refused_message_dead_alone(
    strict_broker: Mosquitto, tmp_path: Path, poison: bytes, topic: str, reason: str
) -> None:
    sub = Subscriber(strict_broker.port, "dev/#")
    try:
        with SyncQueue(tmp_path / "q") as q:
            poison_id = put_stream(q, poison, topic)
            transport = MqttTransport(strict_broker.url, topic_prefix="dev", protocol=5)
            with SyncEngine(q, transport, batch_size=50) as engine:
                engine.sync_now(20)
            assert_only_dead(q, poison_id, reason)
        assert_good_in_order(sub.wait_for(GOOD))
    finally:
        sub.close()


# -- HTTP -----------------------------------------------------------------------------


class Ingest:
    """An HTTP endpoint that refuses (400) any batch holding a poison payload."""

    def __init__(self, say_which: bool) -> None:
        self.say_which = say_which
        self.got: list[tuple[str, bytes]] = []
        self.posts = 0

    async def handle(self, request: web.Request) -> web.Response:
        import base64

        self.posts += 1
        items = (await request.json())["messages"]
        bad = [m["id"] for m in items if base64.b64decode(m["payload"]) == b"poison"]
        if bad:
            body = (
                {"rejected": {str(i): "payload is poison" for i in bad}} if self.say_which else {}
            )
            return web.json_response(body or {"error": "bad item"}, status=400)
        self.got += [(m["topic"], base64.b64decode(m["payload"])) for m in items]
        return web.Response(status=204)


@contextlib.asynccontextmanager
async def serve(ingest: Ingest) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/ingest", ingest.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/ingest"
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("say_which", [False, True], ids=["bisect", "server-names-items"])
async def test_http_400_dead_letters_the_bad_item_alone(queue: SyncQueue, say_which: bool) -> None:
    ingest = Ingest(say_which)
    poison = put_stream(queue, b"poison")
    async with serve(ingest) as url:
        engine = SyncEngine(queue, HttpTransport(url), batch_size=64)
        await engine.async_drain(10)
        await engine.async_close()
    assert_only_dead(queue, poison, "payload is poison" if say_which else "HTTP 400")
    assert_good_in_order(ingest.got)
    # One POST of 61 items; then halves down to the poison item (2 per level) or one more.
    assert ingest.posts <= (2 if say_which else 1 + 2 * 6)


# -- directory ------------------------------------------------------------------------


async def test_directory_unwritable_message_dead_alone(queue: SyncQueue, tmp_path: Path) -> None:
    """A message JSON cannot carry (here a NaN time, as a broken clock would give; put
    cannot make one) is rejected alone; the rest of its batch is written."""
    put_stream(queue, b"poison")
    transport = DirectoryTransport(tmp_path / "out")
    engine = SyncEngine(queue, transport, batch_size=100)
    await transport.async_connect()
    batch = queue.lease(100)
    batch = [
        dataclasses.replace(m, created=float("nan")) if m.payload == b"poison" else m for m in batch
    ]
    poison = next(m.id for m in batch if m.payload == b"poison")
    delivery = await transport.async_send(batch)
    assert engine._settle(batch, delivery) == GOOD
    assert_only_dead(queue, poison, "cannot be written as JSON")
    assert_good_in_order(
        [(m["topic"], m["payload"]) for m in DirectoryTransport.read(tmp_path / "out")]
    )


# -- put-time validation --------------------------------------------------------------


@pytest.mark.parametrize(
    ("topic", "says"),
    [
        ("room 1", "whitespace"),
        ("a\tb", "whitespace"),
        ("a\r\nb", "whitespace"),
        ("a.*", "NATS wildcard"),
        ("a.>", "NATS wildcard"),
        ("a/+/b", "MQTT wildcard"),
        ("a/#", "MQTT wildcard"),
        ("site1.", "empty NATS token"),
        (".site1", "empty NATS token"),
        ("a..b", "empty NATS token"),
        ("$SYS/x", "system topics"),
        ("x" * 256, "at most 255 bytes"),
        ("a\ud800", "not valid UTF-8"),
        ("nul\x00", "control character"),
        ("", "non-empty"),
    ],
)
def test_put_refuses_topic_no_transport_can_publish(
    queue: SyncQueue, topic: str, says: str
) -> None:
    for put in (
        lambda: queue.put(b"x", topic=topic),
        lambda: queue.put(b"x", topic=topic, key="k"),
        lambda: queue.put_many([b"x"], topic=topic),
    ):
        with pytest.raises(InvalidInputError, match=says):
            put()
    assert len(queue) == 0


@pytest.mark.parametrize(
    "headers",
    [
        {"a b": "x"},
        {"a:b": "x"},
        {"a\r\n": "x"},
        {"": "x"},
        {"k": "v\r\nX: y"},
        {"k": "a\nb"},
        {"k": "\x00"},
    ],
)
def test_put_refuses_headers_that_break_a_header_line(
    queue: SyncQueue, headers: dict[str, str]
) -> None:
    with pytest.raises(InvalidInputError, match="header"):
        queue.put(b"x", headers=headers)
    with pytest.raises(InvalidInputError, match="header"):
        queue.put_many([b"x"], headers=headers)


def test_put_accepts_ordinary_topics_and_headers(queue: SyncQueue) -> None:
    for topic in ("temperature", "site1.temperature", "a/b", "zone-2_x", "Größe", "温度"):
        queue.put(b"x", topic=topic, headers={"Content-Type": "application/json", "x-id": "a b: c"})
    assert len(queue) == 6


_token = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="./"), min_size=1, max_size=12
)
_topics = st.lists(_token, min_size=1, max_size=3).map(".".join) | st.lists(
    _token, min_size=1, max_size=3
).map("/".join)


def _accepted(topic: str) -> bool:
    try:
        check_topic(topic)
    except InvalidInputError:
        return False
    return True


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
)
@given(topics=st.lists(_topics.filter(_accepted), min_size=1, max_size=5, unique=True))
def test_every_topic_put_accepts_publishes_on_nats_and_mqtt(
    shared_nats: NatsServer, strict_broker: Mosquitto, topics: list[str]
) -> None:
    sub = Subscriber(strict_broker.port, "hyp/#")
    want = [(t, b"%d" % i) for i, t in enumerate(topics)]
    try:
        with tempfile.TemporaryDirectory() as tmp, SyncQueue(Path(tmp) / "q") as q:
            for transport in (
                NatsTransport(
                    shared_nats.url, stream="HYP", subject_prefix="hyp", create_stream=True
                ),
                MqttTransport(strict_broker.url, topic_prefix="hyp"),
            ):
                for topic, payload in want:
                    q.put(payload, topic=topic)
                with SyncEngine(q, transport) as engine:
                    assert engine.sync_now(10) == len(topics)
                assert q.stats().dead == 0
        stored = asyncio.run(stream_subjects(shared_nats.url, "HYP"))[-len(topics) :]
        assert stored == [(f"hyp.{t}", p) for t, p in want]
        assert sorted(sub.wait_for(len(topics))) == sorted((f"hyp/{t}", p) for t, p in want)
    finally:
        sub.close()
