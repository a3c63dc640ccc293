"""MqttTransport: publish with QoS 1 and ack on PUBACK (paho-mqtt 2.x)."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlparse

from edgekit.errors import BackendUnavailableError, InvalidInputError, TransportError
from edgekit.sync._reach import async_probe
from edgekit.sync.queue import Message
from edgekit.sync.topics import check_headers, check_topic
from edgekit.sync.transport import Delivery, DownlinkHandler, Transport, call_handler, sort_out

__all__ = ["MqttTransport"]


def _import_paho() -> Any:
    try:
        import paho.mqtt.client as mqtt
    except ImportError as exc:
        raise BackendUnavailableError("paho-mqtt", extra="mqtt") from exc
    return mqtt


class MqttTransport(Transport):
    """Publishes each message to ``<topic_prefix>/<topic>`` with QoS 1.

    A message is acked in the queue when the broker's PUBACK arrives. paho-mqtt
    keeps its own outgoing queue in memory only; edgekit's queue in front of it is
    what survives a crash. MQTT has no deduplication: a redelivery after a lost
    PUBACK reaches subscribers twice (at-least-once); the message's ``dedup_id`` is
    sent as the MQTT 5 user property ``dedup_id`` when ``protocol=5``.

    Args:
        url: ``mqtt://host:port`` or ``mqtts://host:port`` (TLS).
        topic_prefix: Topics are ``<topic_prefix>/<topic>``.
        client_id: MQTT client id (default: a random one).
        username: Username, or None.
        password: Password, or None.
        tls: An ``ssl.SSLContext``, True for the default context, or None (``mqtts://``
            implies True).
        protocol: 4 (MQTT 3.1.1) or 5.
        ack_timeout: Seconds to wait for a batch's PUBACKs.
        connect_timeout: Seconds to wait for the connection.
        keepalive: MQTT keepalive, in seconds.
        downlink_topic: Topic filter for :meth:`async_consume`.
    """

    name = "mqtt"
    _max_packet: int | None = None  # the broker's Maximum Packet Size (MQTT 5 CONNACK)

    def __init__(
        self,
        url: str = "mqtt://127.0.0.1:1883",
        *,
        topic_prefix: str = "edgekit",
        client_id: str | None = None,
        username: str | None = None,
        password: str | None = None,
        tls: ssl.SSLContext | bool | None = None,
        protocol: int = 4,
        ack_timeout: float = 5.0,
        connect_timeout: float = 2.0,
        keepalive: int = 30,
        downlink_topic: str | None = None,
    ) -> None:
        parsed = urlparse(url)
        if parsed.scheme not in ("mqtt", "mqtts", "tcp", "ssl") or not parsed.hostname:
            raise InvalidInputError(f"MQTT url must look like mqtt://host:port, not {url!r}")
        if protocol not in (4, 5):
            raise InvalidInputError("protocol must be 4 (MQTT 3.1.1) or 5")
        self.host = parsed.hostname
        secure = parsed.scheme in ("mqtts", "ssl")
        self.port = parsed.port or (8883 if secure else 1883)
        self.tls = tls if tls is not None else (True if secure else None)
        self.topic_prefix = topic_prefix.rstrip("/")
        self.client_id = client_id or f"edgekit-{uuid.uuid4().hex[:12]}"
        self.username = username if username is not None else parsed.username
        self.password = password if password is not None else parsed.password
        self.protocol = protocol
        self.ack_timeout = float(ack_timeout)
        self.connect_timeout = float(connect_timeout)
        self.keepalive = int(keepalive)
        self.downlink_topic = downlink_topic
        self._client: Any = None
        self._connected = threading.Event()
        self._failed = threading.Event()  # a connect attempt failed (paho retries it)
        self._refusal: str | None = None  # the broker's CONNACK reason, when it refused
        self._why: str | None = None  # why the last connect failed, until one succeeds
        self._lock = threading.Lock()
        self._waiting: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Future[int]]] = {}
        self._early: dict[int, int] = {}  # PUBACK reason codes that came before their wait
        self._downlink: Any = None

    @property
    def connected(self) -> bool:
        return self._client is not None and self._connected.is_set()

    def topic(self, topic: str) -> str:
        """The MQTT topic a queue topic is published to."""
        return f"{self.topic_prefix}/{topic}" if self.topic_prefix else topic

    # paho callbacks run on paho's network thread.
    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if getattr(reason, "is_failure", False):
            self._refusal = f"the broker refused the connection: {reason}"
            self._failed.set()
        else:
            self._max_packet = getattr(props, "MaximumPacketSize", None)  # MQTT 5 CONNACK
            self._refusal = self._why = None
            self._connected.set()
            if self.downlink_topic is not None and self._downlink is not None:
                client.subscribe(self.downlink_topic, qos=1)

    def _on_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        self._connected.clear()
        with self._lock:
            waiting, self._waiting = self._waiting, {}
        for loop, fut in waiting.values():
            loop.call_soon_threadsafe(_resolve, fut, _LOST)

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        code = int(getattr(reason, "value", 0)) if getattr(reason, "is_failure", False) else 0
        with self._lock:
            entry = self._waiting.pop(mid, None)
            if entry is None:
                self._early[mid] = code
                return
        loop, fut = entry
        loop.call_soon_threadsafe(_resolve, fut, code)

    async def async_connect(self) -> None:
        mqtt = _import_paho()
        if self.connected:
            return
        if self._client is None:
            version = mqtt.MQTTv5 if self.protocol == 5 else mqtt.MQTTv311
            client = mqtt.Client(
                mqtt.CallbackAPIVersion.VERSION2,
                client_id=self.client_id,
                protocol=version,
                reconnect_on_failure=True,
                manual_ack=True,
            )
            client.max_inflight_messages_set(1000)
            client.reconnect_delay_set(0.25, 5)
            if self.username is not None:
                client.username_pw_set(self.username, self.password)
            if self.tls is True:
                client.tls_set_context(ssl.create_default_context())
            elif isinstance(self.tls, ssl.SSLContext):
                client.tls_set_context(self.tls)
            client.on_connect = self._on_connect
            client.on_connect_fail = lambda client, userdata: self._failed.set()
            client.on_disconnect = self._on_disconnect
            client.on_publish = self._on_publish
            client.on_message = self._on_message
            self._client = client
            try:
                client.connect_async(self.host, self.port, keepalive=self.keepalive)
            except Exception as exc:
                self._client = None
                raise TransportError(
                    f"cannot connect to MQTT {self.host}:{self.port}: {exc!r}"
                ) from exc
            self._failed.clear()
            client.loop_start()
        # Wait for CONNACK, or a failed attempt, then say why (paho keeps retrying).
        deadline = time.monotonic() + self.connect_timeout
        while not self._connected.is_set() and not self._failed.is_set():
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.02)
        if self._connected.is_set():
            return
        if self._failed.is_set():  # paho hides the OSError: probe for it
            self._failed.clear()
            refusal, self._refusal = self._refusal, None
            self._why = (
                refusal
                or await async_probe(self.host, self.port, self.connect_timeout)
                or "the link failed after TCP connected (TLS settings?)"
            )
        raise TransportError(
            f"cannot connect to MQTT broker {self.host}:{self.port}: "
            + (self._why or f"timed out: no CONNACK in {self.connect_timeout:g} s")
        )

    async def async_send(self, messages: Sequence[Message]) -> Delivery:
        """Publish a batch with QoS 1 and sort it out by PUBACK.

        A message the broker can never take (a topic it refuses, over the MQTT 5
        Maximum Packet Size of its CONNACK, a PUBACK reason code >= 0x80 other than
        0x97 quota exceeded) is rejected alone; a lost link or a missing PUBACK retries.
        """
        if not messages:
            return Delivery()
        if not self.connected:
            return Delivery(
                failed=[m.id for m in messages], error="not connected", disconnected=True
            )
        mqtt = _import_paho()
        loop = asyncio.get_running_loop()
        futures: dict[int, asyncio.Future[int]] = {}
        refused: dict[int, str] = {}
        error: str | None = None
        silent = False
        for m in messages:
            topic = self.topic(m.topic)
            pairs = [("dedup_id", m.dedup_id), *m.headers.items()]
            why = self._unpublishable(m, topic, pairs)
            if why is not None:
                refused[m.id] = why
                continue
            props = None
            if self.protocol == 5:
                from paho.mqtt.packettypes import PacketTypes
                from paho.mqtt.properties import Properties

                props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
                props.UserProperty = pairs
            fut: asyncio.Future[int] = loop.create_future()
            # Not under self._lock: paho calls on_publish holding its own lock.
            try:
                info = self._client.publish(topic, m.payload, qos=1, properties=props)
            except ValueError as exc:  # a topic paho refuses
                refused[m.id] = f"MQTT cannot publish to {topic!r}: {exc}"
                continue
            if info.rc == mqtt.MQTT_ERR_PAYLOAD_SIZE:
                refused[m.id] = f"MQTT cannot publish it: {mqtt.error_string(info.rc)}"
                continue
            if info.rc != mqtt.MQTT_ERR_SUCCESS:  # the link: this and the rest are retried
                error = f"publish failed: {mqtt.error_string(info.rc)}"
                silent = info.rc == mqtt.MQTT_ERR_NO_CONN
                break
            with self._lock:
                early = self._early.pop(info.mid, None)
                if early is None:
                    self._waiting[info.mid] = (loop, fut)
                else:
                    fut.set_result(early)
            futures[m.id] = fut
        if futures:
            _done, pending = await asyncio.wait(futures.values(), timeout=self.ack_timeout)
            for fut in pending:
                fut.cancel()
            if pending:
                error = error or f"{len(pending)} PUBACKs timed out after {self.ack_timeout} s"
                silent = True
        failed: set[int] = set()
        for m in messages:
            if m.id in refused:
                continue
            fut_m = futures.get(m.id)
            code = _LOST if fut_m is None or fut_m.cancelled() else fut_m.result()
            if code == 0:
                continue
            if code in (_LOST, _QUOTA_EXCEEDED):
                failed.add(m.id)
                silent = silent or code == _LOST
                error = error or ("the link was lost" if code == _LOST else "quota exceeded (0x97)")
            else:
                refused[m.id] = f"the broker refused it: {_reason_name(code)} (0x{code:02X})"
        silent = bool(failed) and (silent or not self.connected)
        return sort_out(messages, refused, failed, error=error, disconnected=silent)

    def _unpublishable(self, m: Message, topic: str, pairs: list[tuple[str, str]]) -> str | None:
        """Why the broker can never take ``m`` (a topic or header a queue written before
        they were checked at put could hold; over the broker's Maximum Packet Size), or None."""
        try:
            check_topic(m.topic)
            check_headers(m.headers)
        except InvalidInputError as exc:
            return str(exc)
        if self._max_packet is None or self.protocol != 5:
            return None
        props = sum(5 + len(k.encode()) + len(v.encode()) for k, v in pairs)
        rest = 2 + len(topic.encode()) + 2 + _varint_len(props) + props + len(m.payload)
        size = 1 + _varint_len(rest) + rest
        if size > self._max_packet:
            return (
                f"PUBLISH packet of {size:,} bytes exceeds the broker's Maximum Packet Size "
                f"of {self._max_packet:,} bytes"
            )
        return None

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        if self._downlink is None:
            client.ack(msg.mid, msg.qos)
            return
        loop, queue = self._downlink
        loop.call_soon_threadsafe(
            queue.put_nowait, (msg.topic, bytes(msg.payload), msg.mid, msg.qos)
        )

    async def async_consume(self, handler: DownlinkHandler, *, stop: asyncio.Event) -> None:
        """Subscribe to ``downlink_topic`` (QoS 1) and hand each message to ``handler``.

        The PUBACK for a downlink message is sent after ``handler`` returns; a handler
        that raises leaves it unacked until the session is resumed.
        """
        if self.downlink_topic is None:
            raise TransportError("MqttTransport needs downlink_topic for a downlink")
        inbox: asyncio.Queue[tuple[str, bytes, int, int]] = asyncio.Queue()
        self._downlink = (asyncio.get_running_loop(), inbox)
        if not self.connected:
            await self.async_connect()
        self._client.subscribe(self.downlink_topic, qos=1)
        while not stop.is_set():
            try:
                subject, data, mid, qos = await asyncio.wait_for(inbox.get(), timeout=0.5)
            except asyncio.TimeoutError:
                continue
            try:
                await call_handler(handler, subject, data, {})
            except Exception:
                continue
            if self._client is not None:
                self._client.ack(mid, qos)

    async def async_close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.disconnect()
            # paho's thread may sleep up to 1 s between reconnects: do not wait for all of it
            # (it is a daemon thread and exits by itself once told to).
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(asyncio.to_thread(client.loop_stop)), 0.3)
        self._connected.clear()


_LOST = -1  # a PUBACK that will not come: the link went down
_QUOTA_EXCEEDED = 0x97  # the only PUBACK failure worth a retry


def _reason_name(code: int) -> str:
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.reasoncodes import ReasonCode

    try:
        return str(ReasonCode(PacketTypes.PUBACK, identifier=code))
    except Exception:
        return "unknown reason"


def _varint_len(n: int) -> int:
    """Bytes of an MQTT variable byte integer."""
    return 1 if n < 128 else 2 if n < 16384 else 3 if n < 2097152 else 4


def _resolve(fut: asyncio.Future[int], code: int) -> None:
    if not fut.done():
        fut.set_result(code)
