"""The status server: its endpoints, headers, token, refusals, and the last-hour history."""

from __future__ import annotations

import http.client
import json
import re
import socket
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from edgekit.errors import InvalidInputError
from edgekit.telemetry import Server, Telemetry, async_serve, serve
from edgekit.telemetry.history import SERIES, History
from edgekit.telemetry.server import SECURITY_HEADERS, STATIC_DIR
from tests._support.servers import free_port
from tests.infer.models import silero_feeds

TOKEN = "s3cret-token-of-the-test-0123456789"


def request(
    server: Server,
    path: str,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One request with the path sent as it is (http.client normalises nothing)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def raw(server: Server, data: bytes) -> bytes:
    """Send raw bytes; the start of the answer (its status line first)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(data)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    return answer


@pytest.fixture(scope="module")
def device(tmp_path_factory: pytest.TempPathFactory, vad: Any) -> Iterator[tuple[Any, Server]]:
    """A queue with 5 messages and Silero VAD run 10 times, served on a free port."""
    from edgekit.sync import SyncQueue

    with SyncQueue(tmp_path_factory.mktemp("served") / "q") as q:
        q.put_many([b"m%d" % i for i in range(5)], topic="served")
        for _ in range(10):
            vad.run(silero_feeds())
        telemetry = Telemetry().observe(q, vad)
        with serve(telemetry, port=0, refresh_s=0.2, history=History(interval_s=0.2)) as server:
            yield q, server


def test_endpoints(device: tuple[Any, Server]) -> None:
    _, server = device
    status, headers, body = request(server, "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=")
    assert b'edgekit_queue_messages{queue="q",topic="served"} 5.0' in body
    status, headers, body = request(server, "/status.json")
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    found = json.loads(body)
    assert found["queue"]["depth"] == 5 and found["infer"]["calls"] >= 10
    assert found["healthz"] == {"healthy": True, "reasons": []}
    assert set(found["history"]) == {"t", *SERIES}
    status, _, body = request(server, "/healthz")
    assert status == 200 and json.loads(body) == {"healthy": True, "reasons": []}
    status, headers, body = request(server, "/")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert body == (STATIC_DIR / "index.html").read_bytes()
    for name, kind in (("status.js", "text/javascript"), ("status.css", "text/css")):
        status, headers, body = request(server, f"/static/{name}")
        assert status == 200 and headers["Content-Type"].startswith(kind)
    status, _, body = request(server, "/metrics", method="HEAD")
    assert status == 200 and body == b""


def test_events_stream_status(device: tuple[Any, Server]) -> None:
    q, server = device
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", "/events")
    response = conn.getresponse()
    assert response.status == 200 and response.getheader("Content-Type") == "text/event-stream"
    assert response.readline().startswith(b"retry: ")
    depths = []
    for _ in range(40):
        line = response.readline()
        if line.startswith(b"data: "):
            event = json.loads(line[6:])
            depths.append(event["queue"]["depth"])
            if len(depths) == 1:
                q.put(b"one more", topic="served")
            elif depths[-1] == 6:
                break
    conn.close()
    assert depths[0] == 5 and depths[-1] == 6
    q.ack(q.lease(1))


def test_security_headers_on_every_answer(device: tuple[Any, Server]) -> None:
    _, server = device
    for path, method, expected in (
        ("/", "GET", 200),
        ("/nothing", "GET", 404),
        ("/static/nothing.js", "GET", 404),
        ("/metrics", "POST", 405),
    ):
        status, headers, _ = request(server, path, method)
        assert status == expected, path
        for name, value in SECURITY_HEADERS.items():
            assert headers.get(name) == value, (path, name)
    csp = SECURITY_HEADERS["Content-Security-Policy"]
    assert "http" not in csp and "*" not in csp and "frame-ancestors 'none'" in csp


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"])
def test_read_only(device: tuple[Any, Server], method: str) -> None:
    _, server = device
    status, headers, _ = request(server, "/status.json", method)
    assert status == 405 and headers["Allow"] == "GET, HEAD"


@pytest.mark.parametrize(
    "path",
    [
        "/static/../server.py",
        "/static/..%2fserver.py",
        "/static/%2e%2e/history.py",
        "/static/%2e%2e%2f%2e%2e%2ferrors.py",
        "/static/..%5cserver.py",
        "/static/../../../../../../etc/passwd",
        "/static//etc/passwd",
        "/static/%2fetc%2fpasswd",
        "/static/status.js%00.css",
        "/static/index.html/",
        "/../../../../etc/passwd",
        "/static/__init__.py",
    ],
)
def test_path_traversal_refused(device: tuple[Any, Server], path: str) -> None:
    _, server = device
    status, _, body = request(server, path)
    assert status in (400, 404), (path, status)
    assert b"import" not in body and b"root:" not in body


def test_oversized_requests_refused(device: tuple[Any, Server]) -> None:
    _, server = device
    long_path = b"/status.json?x=" + b"a" * 10_000
    big_header = b"X-Big: " + b"b" * 10_000 + b"\r\n"
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(200))
    for line, headers in ((long_path, b""), (b"/", big_header), (b"/", many)):
        answer = raw(server, b"GET " + line + b" HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
        assert re.match(rb"HTTP/1\.[01] 4\d\d ", answer), answer[:100]
    status, _, _ = request(server, "/status.json", body=b"x" * 100)
    assert status == 413
    chunked = (
        b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    )
    assert raw(server, chunked).startswith(b"HTTP/1.1 413")


def test_dns_rebinding_refused(device: tuple[Any, Server]) -> None:
    """Without a token, a Host that names no loopback address is refused: a web page whose
    name an attacker rebinds to 127.0.0.1 cannot read the device from a browser."""
    _, server = device
    for host in ("attacker.example", f"attacker.example:{server.port}", "192.0.2.1"):
        assert request(server, "/status.json", headers={"Host": host})[0] == 421, host
    for host in ("127.0.0.1", f"127.0.0.1:{server.port}", f"localhost:{server.port}", "[::1]:1"):
        assert request(server, "/status.json", headers={"Host": host})[0] == 200, host


def test_event_streams_are_bounded(tmp_path: Any) -> None:
    telemetry = Telemetry(data_dir=tmp_path)
    with serve(telemetry, port=0, max_clients=2) as server:
        open_ = []
        for _ in range(2):
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            conn.request("GET", "/events")
            assert conn.getresponse().status == 200
            open_.append(conn)
        assert request(server, "/events")[0] == 503
        for conn in open_:
            conn.close()


def test_beyond_loopback_needs_a_token(tmp_path: Any) -> None:
    telemetry = Telemetry(data_dir=tmp_path)
    for host in ("0.0.0.0", "::", "192.0.2.10", "edge.example"):
        with pytest.raises(InvalidInputError, match="beyond loopback, only with a token"):
            Server(telemetry, host=host, port=0)
    with pytest.raises(InvalidInputError, match="at least 16"):
        Server(telemetry, host="0.0.0.0", port=0, token="short")
    for host in ("127.0.0.1", "127.0.0.2", "::1", "localhost"):
        Server(telemetry, host=host, port=0)  # no token needed


def test_token(tmp_path: Any) -> None:
    """Bound to every address with a token: every path needs it, in a header, the query
    (which sets the page's cookie) or that cookie; a wrong one is 401 like none."""
    telemetry = Telemetry(data_dir=tmp_path)
    with serve(telemetry, host="0.0.0.0", port=0, token=TOKEN) as server:
        for path in ("/", "/metrics", "/status.json", "/healthz", "/events", "/static/status.js"):
            status, headers, _ = request(server, path)
            assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
            assert headers["Cache-Control"] == "no-store"
        for bad in ("", "x", TOKEN[:-1], TOKEN + "x", TOKEN.upper()):
            assert request(server, "/metrics", headers={"Authorization": f"Bearer {bad}"})[0] == 401
            assert request(server, f"/metrics?token={bad}")[0] == 401
            assert request(server, "/metrics", headers={"Cookie": f"edgekit_token={bad}"})[0] == 401
        good = {"Authorization": f"Bearer {TOKEN}"}
        assert request(server, "/metrics", headers=good)[0] == 200
        status, headers, _ = request(server, f"/?token={TOKEN}")
        assert status == 200
        cookie = headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert request(server, "/status.json", headers={"Cookie": cookie.split(";")[0]})[0] == 200


def test_port_taken(tmp_path: Any) -> None:
    telemetry = Telemetry(data_dir=tmp_path)
    with serve(telemetry, port=0) as first, pytest.raises(InvalidInputError, match="cannot listen"):
        serve(telemetry, port=first.port)


async def test_async_serve_on_the_callers_loop(tmp_path: Any) -> None:
    import aiohttp

    telemetry = Telemetry(data_dir=tmp_path)
    server = await async_serve(telemetry, port=free_port())
    try:
        async with aiohttp.ClientSession() as session, session.get(server.url + "/healthz") as r:
            assert r.status == 200 and (await r.json())["healthy"] is True
    finally:
        await server.async_stop()


def test_history_ring() -> None:
    now = [1000.0]
    history = History(span_s=60, interval_s=5, clock=lambda: now[0])
    status: dict[str, dict[str, Any]] = {
        "queue": {"depth": 3},
        "sync": {"messages_per_s": 1.5},
        "infer": {"p50_us": 100.0, "p99_us": np.float64(250.0)},
    }
    assert history.add(status)
    now[0] += 4
    assert not history.due() and not history.add(status)  # sooner than interval_s
    for i in range(30):
        now[0] += 5
        status["queue"]["depth"] = i
        assert history.add(status)
    assert len(history) == 13  # 60 s at one sample every 5 s, both ends included
    columns = history.since(None)
    assert columns["t"][0] == now[0] - 60 and columns["t"][-1] == now[0]
    assert columns["queue_depth"][-1] == 29 and columns["infer_p99_us"][-1] == 250.0
    assert history.since(now[0] - 10)["queue_depth"] == [28, 29]
    history.add({"queue": None})
    now[0] += 5
    history.add({"infer": {"p50_us": True}, "time": now[0]})
    last = history.since(now[0] - 1)
    assert last["queue_depth"] == [None] and last["infer_p50_us"] == [None]
    with pytest.raises(InvalidInputError):
        History(interval_s=0)
    with pytest.raises(InvalidInputError):
        History(span_s=1, interval_s=5)
