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
from edgekit.sync.transport import Delivery, Transport, json_body, sort_out

__all__ = ["HttpTransport"]


def _import_aiohttp() -> Any:
    try:
        import aiohttp
    except ImportError as exc:
        raise BackendUnavailableError("aiohttp", extra="http") from exc
    return aiohttp


def _said(status: int, text: str) -> str:
    """An HTTP status and the start of the response body, on one line."""
    text = " ".join(text.split())[:200]
    return f"HTTP {status}: {text}" if text else f"HTTP {status}"


def _listed(text: str, part: list[Message]) -> dict[int, str]:
    """The items a 4xx response names as refused: ``{"rejected": {"<id>": "reason"}}`` or
    ``{"rejected": [id, ...]}`` (ids of this part only); empty when it names none."""
    try:
        listed = json.loads(text)["rejected"]
    except (ValueError, KeyError, TypeError):
        return {}
    if isinstance(listed, list):
        listed = {str(i): "refused by the server" for i in listed}
    if not isinstance(listed, dict):
        return {}
    ids = {str(m.id): m.id for m in part}
    return {ids[k]: f"refused by the server: {v}" for k, v in listed.items() if k in ids}


class HttpTransport(Transport):
    """POSTs each batch to ``url`` as a JSON envelope (see :func:`envelope`) or a binary
    batch frame (``body="binary"``: see :mod:`edgekit.sync.batch_frame`; Content-Type
    ``application/vnd.edgekit.batch``, payloads as they are instead of base64).

    A 2xx response acks the batch; a 5xx, 408 or 429 retries it (nack with backoff, an
    attempt counted); a timeout or a connection error retries it without counting an
    attempt. A 4xx is about some message of the batch: when its JSON body names the
    refused items (``{"rejected": {"<id>": "reason", ...}}`` or ``{"rejected": [id,
    ...]}``) those are dead-lettered and the rest is POSTed again; otherwise the batch is
    split in halves and each POSTed again, until the refused message is alone and
    dead-lettered with the status and the start of the response body, while its
    neighbours go through. The ``Idempotency-Key`` header carries the dedup ids of the
    first and last messages of each POST so that a server can drop a replayed one.

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
        parsed = urlparse(url if isinstance(url, str) else "")
        try:
            port = parsed.port
        except ValueError:  # not a number, or out of range
            port = -1
        if parsed.scheme not in ("http", "https") or not parsed.hostname or port == -1:
            raise InvalidInputError(
                f"HTTP url must look like http(s)://host[:port]/path, not {url!r}"
            )
        self._host: str = parsed.hostname
        self._port: int = port or (443 if parsed.scheme == "https" else 80)
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
        if self._session is None:
            await self.async_connect()
        refused: dict[int, str] = {}
        failed: set[int] = set()
        unsent: set[int] = set()
        error: str | None = None
        silent = False
        parts = [list(messages)]  # a stack: the next part to POST is last
        while parts:
            part = parts.pop()
            if error is not None:  # after a failure: not sent, no attempt counted
                unsent.update(m.id for m in part)
                continue
            status, text = await self._post(part, refused)
            part = [m for m in part if m.id not in refused]  # could not be encoded
            if not part or 200 <= status < 300:
                continue
            if status == 0 or not 400 <= status < 500 or status in (408, 429):
                failed.update(m.id for m in part)
                error = f"POST {self.url}: " + (text if status == 0 else _said(status, text))
                silent = status == 0  # no answer: the link
                continue
            listed = _listed(text, part)
            if listed:  # the server said which items it refused: POST the rest again
                refused.update(listed)
                rest = [m for m in part if m.id not in listed]
                if rest:
                    parts.append(rest)
            elif len(part) == 1:
                refused[part[0].id] = f"POST {self.url}: {_said(status, text)}"
            else:  # bisect until the refused message is alone: its neighbours go through
                half = len(part) // 2
                parts += [part[half:], part[:half]]
        return sort_out(messages, refused, failed, unsent=unsent, error=error, disconnected=silent)

    async def _post(self, part: list[Message], refused: dict[int, str]) -> tuple[int, str]:
        """POST one part; (HTTP status, response text), or (0, the error) without an answer.
        A message that cannot be encoded is added to ``refused`` and left out."""
        aiohttp = _import_aiohttp()
        if self.body == "binary":
            body = batch_frame.encode_batch(part)
            content_type = batch_frame.CONTENT_TYPE
        else:
            body, sent, bad = json_body(part)
            refused.update(bad)
            if not sent:  # nothing left to POST
                return 200, ""
            part = sent
            content_type = "application/json"
        headers = {
            "Content-Type": content_type,
            "Idempotency-Key": f"{part[0].dedup_id}..{part[-1].dedup_id}",
            **self.headers,
        }
        try:
            async with self._session.post(
                self.url, data=body, headers=headers, ssl=self.ssl
            ) as response:
                status = int(response.status)
                text = ""
                with contextlib.suppress(Exception):
                    text = (await response.read())[:4096].decode(errors="replace")
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            self._ok = False
            return 0, repr(exc)
        self._ok = True
        return status, text

    async def async_close(self) -> None:
        session, self._session = self._session, None
        self._ok = False
        if session is not None:
            await session.close()
