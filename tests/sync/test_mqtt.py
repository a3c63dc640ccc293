"""MqttTransport against a real mosquitto: QoS 1 publish, outage, downlink."""

from __future__ import annotations

import ssl
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from edgekit.errors import InvalidInputError, TransportError
from edgekit.sync import Backoff, MqttTransport, SyncEngine, SyncQueue
from tests._support.servers import Mosquitto, free_port


class Subscriber:
    """A paho subscriber with a persistent session, collecting payloads per topic."""

    def __init__(self, port: int, topic: str) -> None:
        self.got: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"sub-{port}", clean_session=False
        )
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, u, f, r, p: (c.subscribe(topic, qos=1), self.ready.set())
        self.client.reconnect_delay_set(0.1, 0.5)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self.ready.wait(10)
        time.sleep(0.1)

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.got.append((msg.topic, bytes(msg.payload)))

    def wait_for(self, n: int, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len({p for _, p in self.got}) >= n:
                    return
            time.sleep(0.02)

    def close(self) -> None:
        # loop_stop() first: after disconnect() paho's network thread may end and clear
        # itself between loop_stop()'s check and its join (AttributeError, seen in CI)
        self.client.loop_stop()
        self.client.disconnect()


def test_publishes_qos1_in_order(mosquitto: Mosquitto, tmp_path: Path) -> None:
    sub = Subscriber(mosquitto.port, "dev/#")
    try:
        with SyncQueue(tmp_path / "q") as q:
            for i in range(200):
                q.put(b"%d" % i, topic=f"t{i % 2}")
            with SyncEngine(
                q, MqttTransport(mosquitto.url, topic_prefix="dev"), batch_size=50
            ) as e:
                assert e.sync_now(20) == 200
        sub.wait_for(200)
        for k in range(2):
            got = [int(p) for t, p in sub.got if t == f"dev/t{k}"]
            assert got == list(range(k, 200, 2))
    finally:
        sub.close()


def test_outage_keeps_messages_and_delivers_after_restart(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    sub = Subscriber(mosquitto.port, "out/#")
    try:
        with SyncQueue(tmp_path / "q", max_attempts=2) as q:
            transport = MqttTransport(mosquitto.url, topic_prefix="out", ack_timeout=1.0)
            engine = SyncEngine(q, transport, batch_size=20, reconnect=Backoff(0.05, 0.2))
            q.put_many([b"a%d" % i for i in range(50)])
            assert engine.sync_now(10) == 50
            # PUBACK means the broker has them; let it forward them before it goes down.
            sub.wait_for(50)
            mosquitto.stop()
            q.put_many([b"b%d" % i for i in range(50)])
            with pytest.raises(TransportError):
                engine.sync_now(0.5)
            assert len(q) == 50 and q.stats().dead == 0
            mosquitto.start()
            engine.sync_now(20)
            engine.stop()
        sub.wait_for(100)
        payloads = {p for _, p in sub.got}
        assert payloads == {b"a%d" % i for i in range(50)} | {b"b%d" % i for i in range(50)}
    finally:
        sub.close()


def test_downlink_subscription_calls_back(mosquitto: Mosquitto, tmp_path: Path) -> None:
    got: list[tuple[str, bytes]] = []
    done = threading.Event()

    def on_command(topic: str, payload: bytes, headers: dict[str, str]) -> None:
        got.append((topic, payload))
        if len(got) == 3:
            done.set()

    with SyncQueue(tmp_path / "q") as q:
        transport = MqttTransport(mosquitto.url, downlink_topic="cmd/#")
        engine = SyncEngine(q, transport, downlink=on_command)
        engine.start()
        try:
            time.sleep(0.5)
            pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
            pub.connect("127.0.0.1", mosquitto.port)
            pub.loop_start()
            for i in range(3):
                pub.publish("cmd/dev1", b"c%d" % i, qos=1).wait_for_publish(5)
            pub.loop_stop()  # before disconnect(): see Subscriber.close
            pub.disconnect()
            assert done.wait(10)
        finally:
            engine.stop()
    assert [p for _, p in got] == [b"c0", b"c1", b"c2"]


def test_unreachable_broker_and_bad_options(tmp_path: Path) -> None:
    transport = MqttTransport(f"mqtt://127.0.0.1:{free_port()}", connect_timeout=0.3)
    with SyncQueue(tmp_path / "q") as q:
        q.put(b"kept")
        engine = SyncEngine(q, transport, reconnect=Backoff(0.05, 0.1))
        with pytest.raises(TransportError, match="MQTT"):
            engine.sync_now(0.6)
        engine.stop()
        assert len(q) == 1
    with pytest.raises(InvalidInputError):
        MqttTransport("http://x")
    with pytest.raises(InvalidInputError):
        MqttTransport("mqtt://h", protocol=3)
    secure = MqttTransport("mqtts://user:pw@broker.example", tls=ssl.create_default_context())
    assert secure.port == 8883 and secure.username == "user" and secure.password == "pw"
    assert isinstance(secure.tls, ssl.SSLContext)


def test_nats_server_mqtt_listener(tmp_path: Path) -> None:
    """The same transport against nats-server's MQTT listener (MQTT 3.1.1)."""
    import asyncio

    import nats

    from tests._support.servers import NatsServer

    server = NatsServer(tmp_path / "nats", mqtt_port=free_port())
    server.root.mkdir()
    server.start()
    received: list[bytes] = []

    async def scenario() -> None:
        nc = await nats.connect(server.url)
        sub = await nc.subscribe("mq.>")
        with SyncQueue(tmp_path / "q") as q:
            q.put_many([b"m%d" % i for i in range(30)], topic="t")
            transport = MqttTransport(f"mqtt://127.0.0.1:{server.mqtt_port}", topic_prefix="mq")
            engine = SyncEngine(q, transport)
            assert await engine.async_drain(20) == 30
            await engine.async_close()
        for _ in range(30):
            msg = await sub.next_msg(timeout=5)
            received.append(msg.data)
        await nc.close()

    try:
        asyncio.run(scenario())
    finally:
        server.stop()
    assert received == [b"m%d" % i for i in range(30)]
