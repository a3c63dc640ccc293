"""The local status server: ``/metrics``, ``/status.json``, ``/healthz``, ``/events`` and the page.

Read-only (GET and HEAD only), bound to 127.0.0.1 unless told otherwise; any other
address needs a token, compared in constant time. Every response carries the security
headers of :data:`SECURITY_HEADERS`. ``serve()`` runs it on a loop thread of its own,
``async_serve()`` on the caller's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import json
import math
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from edgekit._aio import LoopThread
from edgekit.errors import BackendUnavailableError, InvalidInputError, StateError
from edgekit.telemetry.history import History

try:
    from aiohttp import web
except ImportError as exc:  # the server is imported only when asked for
    raise BackendUnavailableError(
        'the status server needs aiohttp: pip install "edgekit[telemetry]"'
    ) from exc

if TYPE_CHECKING:
    from edgekit.telemetry.observe import Telemetry

__all__ = ["SECURITY_HEADERS", "Server", "async_serve", "serve"]

STATIC_DIR = Path(__file__).with_name("_static")

#: Headers on every response, errors included: no source beyond this server, no framing,
#: no sniffing, no referrer, nothing cached.
SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}

#: Longest request line and header field, in bytes; more headers than MAX_HEADERS are refused.
MAX_LINE_BYTES = 4096
MAX_HEADERS = 64
#: Shortest token accepted, in characters.
MIN_TOKEN_CHARS = 16
COOKIE = "edgekit_token"
_CONTENT_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}
_STATIC_NAME = re.compile(r"^[a-z0-9_-]+\.(html|js|css)$")


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (127.0.0.0/8, ::1) or ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _plain(value: Any) -> Any:
    """JSON-ready: NaN and infinities become None (JSON has neither), tuples lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, str)):
        return value
    as_dict = getattr(value, "as_dict", None)
    return _plain(as_dict()) if callable(as_dict) else str(value)


def _json(value: Any) -> str:
    return json.dumps(_plain(value), separators=(",", ":"), allow_nan=False)


class Server:
    """The status server of one :class:`~edgekit.telemetry.Telemetry`.

    Args:
        telemetry: What to show.
        host: Address to bind; anything but loopback needs ``token``.
        port: TCP port (0: a free one, see :attr:`url`).
        token: The secret a client sends as ``Authorization: Bearer <token>`` (or once as
            ``/?token=<token>``, which sets an HttpOnly cookie for the page's own requests).
            At least 16 characters. With a token every path needs it, on any address.
        refresh_s: Seconds between two status events sent to the page while one is open.
        history: The ring of the page's plots (default: the last hour, every 5 s).
        max_clients: Open event streams at most; more are answered 503.

    Raises:
        InvalidInputError: ``host`` is beyond loopback without a token, or the token
            is too short.
    """

    def __init__(
        self,
        telemetry: Telemetry,
        *,
        host: str = "127.0.0.1",
        port: int = 9600,
        token: str | None = None,
        refresh_s: float = 2.0,
        history: History | None = None,
        max_clients: int = 16,
    ) -> None:
        if token is not None and len(token) < MIN_TOKEN_CHARS:
            raise InvalidInputError(
                f"the status server's token is {len(token)} characters: give at least "
                f"{MIN_TOKEN_CHARS} (python -c 'import secrets; print(secrets.token_urlsafe())')"
            )
        if token is None and not is_loopback(host):
            raise InvalidInputError(
                f"the status server binds {host!r}, beyond loopback, only with a token "
                "(token=... or edgekit serve --token-file FILE)"
            )
        if not refresh_s > 0:
            raise InvalidInputError(f"refresh_s must be > 0 seconds, not {refresh_s!r}")
        self.telemetry = telemetry
        self.host = host
        self.port = int(port)
        self.refresh_s = float(refresh_s)
        self.history = history if history is not None else History()
        self.max_clients = int(max_clients)
        self._token = None if token is None else token.encode()
        self._static = {p.name: p.read_bytes() for p in STATIC_DIR.iterdir() if p.is_file()}
        self._runner: Any = None
        self._ticker: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._clients: set[asyncio.Queue[str | None]] = set()
        self._thread: LoopThread | None = None

    @property
    def url(self) -> str:
        """The server's base URL (with the port it got when it was asked for port 0)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    # -- lifecycle --------------------------------------------------------------

    async def async_start(self) -> None:
        """Bind and start serving on the running loop."""
        if self._runner is not None:
            raise StateError("the status server is already running")
        app = web.Application(middlewares=[self._guard], client_max_size=1024)
        app.on_response_prepare.append(self._headers)
        app.router.add_get("/", self._page)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/status.json", self._status_json)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/events", self._events)
        app.router.add_get("/static/{name}", self._asset)
        runner = web.AppRunner(
            app,
            access_log=None,
            shutdown_timeout=1.0,
            max_line_size=MAX_LINE_BYTES,
            max_field_size=MAX_LINE_BYTES,
            max_headers=MAX_HEADERS,
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise InvalidInputError(
                f"the status server cannot listen on {self.host}:{self.port}: {exc.strerror or exc}"
            ) from exc
        self.port = int(runner.addresses[0][1])
        self._runner = runner
        self._wake = asyncio.Event()
        self._ticker = asyncio.create_task(self._tick())

    async def async_stop(self) -> None:
        """Close the event streams and the listening socket."""
        if self._runner is None:
            return
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        for queue in list(self._clients):
            self._push(queue, None)
        runner, self._runner = self._runner, None
        await runner.cleanup()

    def start(self) -> None:
        """Start serving on a loop thread of its own; returns once the socket listens."""
        if self._thread is not None or self._runner is not None:
            raise StateError("the status server is already running")
        thread = LoopThread(name="edgekit-telemetry-server")
        try:
            thread.submit(self.async_start()).result(30)
        except BaseException:
            thread.stop()
            raise
        self._thread = thread

    def stop(self) -> None:
        """Stop a server started by :meth:`start` or :func:`serve` (blocking)."""
        if self._thread is None:
            if self._runner is not None:
                raise StateError("this server runs on your loop: await server.async_stop()")
            return
        thread, self._thread = self._thread, None
        with contextlib.suppress(Exception):
            thread.submit(self.async_stop()).result(10)
        thread.stop()

    def __enter__(self) -> Server:
        if self._thread is None and self._runner is None:
            self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Server:
        if self._runner is None:
            await self.async_start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.async_stop()

    # -- the status ticker ------------------------------------------------------

    async def _read(self, fn: Callable[[], Any]) -> Any:
        """``fn()`` in the default executor: a status read may touch the disk."""
        return await asyncio.get_running_loop().run_in_executor(None, fn)

    def _snapshot(self) -> dict[str, Any]:
        """``telemetry.status()`` with ``healthz``: {"healthy": bool, "reasons": [...]}."""
        status = dict(self.telemetry.status())
        ok, reasons = self.telemetry.healthy()
        status["healthz"] = {"healthy": ok, "reasons": list(reasons)}
        return status

    @staticmethod
    def _push(queue: asyncio.Queue[str | None], event: str | None) -> None:
        """Queue ``event`` for one page; a slow page loses its oldest, never blocks others."""
        if queue.full():
            queue.get_nowait()
        queue.put_nowait(event)

    async def _tick(self) -> None:
        """Sample the history when due; push a status event to each open page."""
        assert self._wake is not None
        while True:
            if self._clients or self.history.due():
                try:
                    status = await self._read(self._snapshot)
                except Exception as exc:  # a failing layer must not stop the page
                    status = {"error": f"{type(exc).__name__}: {exc}"}
                else:
                    self.history.add(status)
                if self._clients:
                    # the last minute of samples: the page keeps those newer than its own
                    recent = self.history.since(self.history.clock() - 60.0)
                    span = self.history.span_s
                    event = _json({**status, "history": recent, "history_span_s": span})
                    for queue in list(self._clients):
                        self._push(queue, event)
            wait = self.refresh_s if self._clients else min(self.history.interval_s, 5.0)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
            self._wake.clear()

    # -- middleware and headers -------------------------------------------------

    async def _headers(self, request: web.Request, response: web.StreamResponse) -> None:
        response.headers.update(SECURITY_HEADERS)

    def _local_host(self, host: str) -> bool:
        """Whether a request's Host header names this server by a loopback name or address."""
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 or "]:" in host else host
        return name.strip("[]") in {"127.0.0.1", "localhost", "::1", self.host}

    def _authorized(self, request: web.Request) -> tuple[bool, bool]:
        """(token accepted, it came in the query): header, query or cookie, constant time."""
        if self._token is None:
            return True, False
        header = request.headers.get("Authorization", "")
        if header[:7].lower() == "bearer ":
            return hmac.compare_digest(header[7:].strip().encode(), self._token), False
        query = request.query.get("token")
        if query is not None:
            return hmac.compare_digest(query.encode(), self._token), True
        cookie = request.cookies.get(COOKIE)
        if cookie is not None:
            return hmac.compare_digest(cookie.encode(), self._token), False
        return False, False

    @web.middleware
    async def _guard(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Refuse any method but GET and HEAD (405), a request with a body (413); without
        a token, a Host header that does not name loopback (421: DNS rebinding); with a
        token, a request without it (401)."""
        if request.method not in ("GET", "HEAD"):
            return web.Response(
                status=405,
                text="read-only: GET and HEAD only\n",
                headers={"Allow": "GET, HEAD"},
            )
        if request.content_length or "Transfer-Encoding" in request.headers:
            return web.Response(status=413, text="a request has no body here\n")
        if self._token is None and not self._local_host(request.host):
            # DNS rebinding: a web page whose name now resolves to 127.0.0.1 reads nothing
            return web.Response(status=421, text="unknown Host: use the server's address\n")
        ok, from_query = self._authorized(request)
        if not ok:
            return web.Response(
                status=401,
                text="a token is needed: Authorization: Bearer <token>\n",
                headers={"WWW-Authenticate": 'Bearer realm="edgekit"'},
            )
        response = await handler(request)
        if from_query and self._token is not None and request.path == "/":
            response.set_cookie(
                COOKIE, self._token.decode(), httponly=True, samesite="Strict", path="/"
            )
        return response

    # -- handlers ---------------------------------------------------------------

    async def _page(self, request: web.Request) -> web.StreamResponse:
        return self._asset_response("index.html")

    async def _asset(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if not _STATIC_NAME.match(name) or name not in self._static:
            return web.Response(status=404, text="not found\n")
        return self._asset_response(name)

    def _asset_response(self, name: str) -> web.StreamResponse:
        kind = _CONTENT_TYPES[Path(name).suffix]
        return web.Response(body=self._static[name], content_type=kind, charset="utf-8")

    async def _metrics(self, request: web.Request) -> web.StreamResponse:
        from prometheus_client import CONTENT_TYPE_LATEST

        body = await self._read(self.telemetry.metrics_text)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _status_json(self, request: web.Request) -> web.StreamResponse:
        status = await self._read(self._snapshot)
        history = self.history.since(None)
        body = _json({**status, "history": history, "history_span_s": self.history.span_s})
        return web.Response(text=body, content_type="application/json")

    async def _healthz(self, request: web.Request) -> web.StreamResponse:
        ok, reasons = await self._read(self.telemetry.healthy)
        return web.Response(
            status=200 if ok else 503,
            text=_json({"healthy": ok, "reasons": reasons}),
            content_type="application/json",
        )

    async def _events(self, request: web.Request) -> web.StreamResponse:
        if len(self._clients) >= self.max_clients:
            return web.Response(status=503, text="too many open event streams\n")
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        if request.method == "HEAD":
            return response
        queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize=2)
        self._clients.add(queue)
        assert self._wake is not None
        self._wake.set()  # the first event now, not after a tick
        try:
            await response.write(f"retry: {int(self.refresh_s * 1000)}\n\n".encode())
            while (event := await queue.get()) is not None:
                await response.write(f"data: {event}\n\n".encode())
        except ConnectionError:
            pass  # the page went away
        finally:
            self._clients.discard(queue)
        return response


def serve(
    telemetry: Telemetry,
    *,
    host: str = "127.0.0.1",
    port: int = 9600,
    token: str | None = None,
    **kwargs: Any,
) -> Server:
    """Serve ``telemetry`` in the background (a loop thread); ``server.stop()`` ends it.

    ``kwargs`` go to :class:`Server` (``refresh_s``, ``history``, ``max_clients``).
    """
    server = Server(telemetry, host=host, port=port, token=token, **kwargs)
    server.start()
    return server


async def async_serve(
    telemetry: Telemetry,
    *,
    host: str = "127.0.0.1",
    port: int = 9600,
    token: str | None = None,
    **kwargs: Any,
) -> Server:
    """Serve ``telemetry`` on the running loop; ``await server.async_stop()`` ends it."""
    server = Server(telemetry, host=host, port=port, token=token, **kwargs)
    await server.async_start()
    return server
