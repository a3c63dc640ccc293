"""HttpTransport: POST each batch as a JSON envelope or a binary batch frame (aiohttp)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence
from typing import Any, Literal
from urllib.parse import urlparse

from edgekit.errors import BackendUnavailableError, InvalidInputError, TransportError
from edgekit.sync import batch_frame
from edgekit.sync._reach import async_probe
from edgekit.sync.queue import Message
from edgekit.sync.transport import Delivery, Transport, envelope

__all__ = ["HttpTransport"]


def _import_aiohttp() -> Any:
    try:
        import aiohttp
    except ImportError as exc:
        raise BackendUnavailableError("aiohttp", extra="http") from exc
    return aiohttp


class HttpTransport(Transport):
    """POSTs each batch to ``url`` as a JSON envelope (see :func:`envelope`) or a binary
    batch frame (``body="binary"``: see :mod:`edgekit.sync.batch_frame`; Content-Type
    ``application/vnd.edgekit.batch``, payloads as they are instead of base64).

    A 2xx response acks the batch; a 5xx, a timeout or a connection error retries it
    (nack with backoff); a 4xx dead-letters it (the server refused it for good; 408
    and 429 are retried). The ``Idempotency-Key`` header carries the dedup ids of the
    batch's first and last messages so that a server can drop a replayed batch.

    Args:
        url: The endpoint.
        headers: Extra request headers (e.g. an ``Authorization`` header).
        timeout: Seconds for the whole request.
        ssl: An ``ssl.SSLContext``, False to skip verification, or None for the default.
        body: ``"json"`` (the envelope) or ``"binary"`` (the batch frame).
    """

    name = "http"

    def __init__(
        self,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        timeout: float = 10.0,
        ssl: Any = None,
        body: Literal["json", "binary"] = "json",
    ) -> None:
        parsed = urlparse(url) if isinstance(url, str) else None
        try:
            self._port = parsed.port if parsed is not None else None
        except ValueError:
            parsed = None
        if parsed is None or parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise InvalidInputError(
                f"HTTP url must look like http(s)://host[:port]/path, not {url!r}"
            )
        self._host = parsed.hostname
        self._port = self._port or (443 if parsed.scheme == "https" else 80)
        if body not in ("json", "binary"):
            raise InvalidInputError(f"body must be 'json' or 'binary', not {body!r}")
        self.body = body
        self.url = url
        self.headers = dict(headers or {})
        self.timeout = float(timeout)
        self.ssl = ssl
        self._session: Any = None
        self._ok = False

    @property
    def connected(self) -> bool:
        return self._session is not None and self._ok

    async def async_connect(self) -> None:
        """Check that the endpoint's host and port take a TCP connection; open a session."""
        aiohttp = _import_aiohttp()
        why = await async_probe(self._host, self._port, min(self.timeout, 5.0))
        if why is not None:
            self._ok = False
            raise TransportError(f"cannot connect to HTTP endpoint {self.url}: {why}")
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        self._ok = True

    async def async_send(self, messages: Sequence[Message]) -> Delivery:
        if not messages:
            return Delivery()
        aiohttp = _import_aiohttp()
        if self._session is None:
            await self.async_connect()
        ids = [m.id for m in messages]
        if self.body == "binary":
            body = batch_frame.encode_batch(messages)
            content_type = batch_frame.CONTENT_TYPE
        else:
            body = json.dumps(envelope(messages), separators=(",", ":")).encode()
            content_type = "application/json"
        headers = {
            "Content-Type": content_type,
            "Idempotency-Key": f"{messages[0].dedup_id}..{messages[-1].dedup_id}",
            **self.headers,
        }
        try:
            async with self._session.post(
                self.url, data=body, headers=headers, ssl=self.ssl
            ) as response:
                status = response.status
                with contextlib.suppress(Exception):
                    await response.read()
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            self._ok = False
            return Delivery(failed=ids, error=f"POST {self.url}: {exc!r}", disconnected=True)
        self._ok = True
        if 200 <= status < 300:
            return Delivery(acked=ids)
        if 400 <= status < 500 and status not in (408, 429):
            return Delivery(rejected=ids, error=f"POST {self.url}: HTTP {status}")
        return Delivery(failed=ids, error=f"POST {self.url}: HTTP {status}")

    async def async_close(self) -> None:
        session, self._session = self._session, None
        self._ok = False
        if session is not None:
            await session.close()
