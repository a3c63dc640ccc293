"""A durable store-and-forward queue on LMDB and an engine that drains it to
NATS JetStream, MQTT, HTTP or a directory.

- :class:`SyncQueue`: put, lease, ack, nack, dead letters; bounded, multi-process.
- :class:`SyncEngine`: leases batches, sends them through a transport, acks on
  confirmation; retries and reconnects with backoff.
- Transports behind one interface (:class:`Transport`): :class:`DirectoryTransport`,
  :class:`MemoryTransport`, :class:`NatsTransport`, :class:`MqttTransport`,
  :class:`HttpTransport`. The NATS, MQTT and HTTP transports import their client
  library only when connecting (extras ``nats``, ``mqtt``, ``http``).
- :func:`encode_batch` / :func:`decode_batch`: the binary batch frame the HTTP
  transport can POST instead of JSON.
"""

from __future__ import annotations

from edgekit.sync.backoff import Backoff
from edgekit.sync.batch_frame import decode_batch, encode_batch
from edgekit.sync.engine import SyncEngine, SyncStatus, TokenBucket, make_transport
from edgekit.sync.http_transport import HttpTransport
from edgekit.sync.mqtt_transport import MqttTransport
from edgekit.sync.nats_transport import NatsTransport
from edgekit.sync.queue import Message, QueueStats, SyncQueue
from edgekit.sync.transport import (
    Delivery,
    DirectoryTransport,
    MemoryTransport,
    Transport,
    envelope,
)

__all__ = [
    "Backoff",
    "Delivery",
    "DirectoryTransport",
    "HttpTransport",
    "MemoryTransport",
    "Message",
    "MqttTransport",
    "NatsTransport",
    "QueueStats",
    "SyncEngine",
    "SyncQueue",
    "SyncStatus",
    "TokenBucket",
    "Transport",
    "decode_batch",
    "encode_batch",
    "envelope",
    "make_transport",
]
