"""Why a server cannot be reached, in words that say the fix: the transports' connect errors;
and nats-py as the NATS transport and ``StateSync`` import it."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
import sys
from typing import Any
from urllib.parse import urlparse

from edgekit.errors import BackendUnavailableError, InvalidInputError

__all__ = ["NATS_SCHEMES", "async_probe", "check_nats_url", "describe", "import_nats"]


def import_nats() -> Any:
    """The ``nats`` package with its JetStream modules (BackendUnavailableError without
    nats-py). Hot paths call it per message: once loaded, two ``sys.modules`` lookups
    (three ``import`` statements: 0.4 us a call)."""
    nats = sys.modules.get("nats")
    if nats is None or sys.modules.get("nats.js.errors") is None:
        try:
            import nats
            import nats.js.api
            import nats.js.errors
        except ImportError as exc:
            raise BackendUnavailableError("nats-py", extra="nats") from exc
    return nats


#: The URL schemes nats-py dials.
NATS_SCHEMES = ("nats", "tls", "ws", "wss")


def check_nats_url(url: object) -> None:
    """Raise InvalidInputError unless ``url`` is a NATS server URL nats-py can dial."""
    text = url if isinstance(url, str) else ""
    parsed = urlparse(text if "://" in text else f"nats://{text}")
    try:
        port_ok = parsed.port is None or parsed.port > 0
    except ValueError:
        port_ok = False
    if parsed.scheme not in NATS_SCHEMES or not parsed.hostname or not port_ok:
        raise InvalidInputError(
            f"NATS url must look like nats://host:4222 (or tls://, ws://, wss://), not {url!r}"
        )


def describe(exc: BaseException, timeout: float | None = None) -> str:
    """A short reason for a connect failure: ``"name not resolved"``, ``"connection
    refused"``, ``"timed out"`` (after ``timeout`` seconds, when given), or the OS's words."""
    if isinstance(exc, socket.gaierror):
        return f"name not resolved ({exc.strerror or exc})"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the server running, on this port?)"
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)) or (
        isinstance(exc, OSError) and exc.errno == errno.ETIMEDOUT
    ):
        after = f" after {timeout:g} s" if timeout is not None else ""
        return f"timed out{after} (no answer: a firewall, a wrong address or a server too busy)"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[0].lower() + exc.strerror[1:]
    return str(exc) or type(exc).__name__


async def async_probe(host: str, port: int, timeout: float) -> str | None:
    """Open and close one TCP connection to ``host:port``; None when it opened, else
    why not (see :func:`describe`)."""
    try:
        _reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, asyncio.TimeoutError) as exc:
        return describe(exc, timeout)
    writer.close()
    with contextlib.suppress(Exception):
        await writer.wait_closed()
    return None
