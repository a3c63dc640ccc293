"""A plain nats-py client, as a cloud service that knows nothing of edgekit uses the bucket."""

from __future__ import annotations

import asyncio
import datetime
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import nats

T = TypeVar("T")


def with_kv(url: str | list[str], bucket: str, fn: Callable[[Any], Awaitable[T]]) -> T:
    """``await fn(kv)`` with the bucket's KeyValue on a fresh connection; closed after."""

    async def run() -> T:
        nc = await nats.connect(url, connect_timeout=2, max_reconnect_attempts=5)
        try:
            kv = await nc.jetstream(timeout=3).key_value(bucket)
            return await fn(kv)
        finally:
            await nc.close()

    return asyncio.run(run())


def put(url: str | list[str], bucket: str, key: str, data: bytes) -> int:
    """Put raw bytes at ``key`` (no compare-and-set); returns the revision."""
    return with_kv(url, bucket, lambda kv: kv.put(key, data))


def delete(url: str | list[str], bucket: str, key: str) -> None:
    with_kv(url, bucket, lambda kv: kv.delete(key))


def server_ms(url: str | list[str], bucket: str, key: str) -> int:
    """The server's timestamp of ``key``'s last KV entry, in ms since the epoch."""

    async def read(kv: Any) -> int:
        msg = await kv._js.get_msg(f"KV_{bucket}", subject=f"$KV.{bucket}.{key}")
        epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
        return (msg.time - epoch) // datetime.timedelta(milliseconds=1)

    return with_kv(url, bucket, read)


def dump(url: str | list[str], bucket: str, expect: int | None = None) -> dict[str, Any]:
    """Every live key of the bucket, its value decoded as JSON. On a cluster electing a
    stream leader a read may time out or list nothing, and nats-py's ``keys()`` may end its
    watch before the first entry arrives (an empty list on a loaded machine): read again,
    until ``expect`` keys."""

    async def read(kv: Any) -> dict[str, Any]:
        try:
            keys = await kv.keys()
        except nats.js.errors.NoKeysError:
            return {}
        out = {}
        for key in keys:
            out[key] = json.loads((await kv.get(key)).value)
        return out

    for _attempt in range(10):
        try:
            found = with_kv(url, bucket, read)
        except nats.errors.Error:
            time.sleep(0.5)
            continue
        if expect is None or len(found) >= expect:
            return found
        time.sleep(0.5)
    return with_kv(url, bucket, read)
