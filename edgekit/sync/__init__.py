"""A durable store-and-forward queue on LMDB and an engine that drains it to
NATS JetStream, MQTT, HTTP or a directory."""

from __future__ import annotations

__all__: list[str] = []
