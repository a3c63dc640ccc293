"""``edgekit sync`` when it cannot connect: one line that says why, at once or at --timeout."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgekit._cli import main
from edgekit.sync import SyncQueue
from tests._support.servers import NatsServer, free_port


@pytest.fixture
def qpath(tmp_path: Path) -> Path:
    path = tmp_path / "q"
    with SyncQueue(path) as q:
        q.put_many([b"m%d" % i for i in range(3)], topic="cli")
    return path


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and "\n" not in err, err
    assert err.startswith("Error: ")
    return err


@pytest.mark.parametrize(
    ("flag", "url", "expected"),
    [
        ("--nats", "nat://127.0.0.1:4222", "--nats: NATS url must look like nats://host:4222"),
        ("--nats", "mqtt://127.0.0.1:1883", "--nats: NATS url must look like"),
        ("--mqtt", "nats://127.0.0.1:4222", "--mqtt: MQTT url must look like mqtt://"),
        ("--http", "htp://example", "--http: HTTP url must look like http(s)://"),
    ],
)
def test_scheme_checked_per_flag(
    qpath: Path, flag: str, url: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sync", str(qpath), flag, url]) == 1
    assert expected in _one_line_error(capsys)


def test_no_stream_said_at_once(
    qpath: Path, nats_server: NatsServer, capsys: pytest.CaptureFixture[str]
) -> None:
    start = time.monotonic()  # a fresh server: no stream at all
    code = main(["sync", str(qpath), "--nats", nats_server.url, "--no-create-stream"])
    assert code == 1 and time.monotonic() - start < 10  # not after the 60 s timeout
    err = _one_line_error(capsys)
    assert "no JetStream stream takes subject 'edgekit.>'" in err and "--create-stream" in err


@pytest.mark.parametrize(
    ("host", "expected"),
    [("127.0.0.1", "connection refused"), ("no-such-host.invalid", "name not resolved")],
)
def test_refused_and_unresolved(
    qpath: Path, host: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"nats://{host}:{free_port()}"
    assert main(["sync", str(qpath), "--nats", url, "--timeout", "0.5"]) == 1
    err = _one_line_error(capsys)
    assert "3 messages left after 0.5 s" in err and expected in err


def test_timeout_honoured_against_a_silent_server(
    qpath: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"nats://127.0.0.1:{silent.getsockname()[1]}"
        start = time.monotonic()
        assert main(["sync", str(qpath), "--nats", url, "--timeout", "3"]) == 1
        took = time.monotonic() - start
    # The timeout, then stop() ends the connect attempt in flight (2 s connect timeout at
    # most): about 3.3 s on an idle machine; the bound is generous for a loaded CI machine
    # (three test workers on two cores measured 6.6 s). A hang would take far longer.
    assert 3.0 <= took < 8.0
    assert "timed out" in _one_line_error(capsys)


def test_follow_says_each_new_error_and_stops_on_ctrl_c(qpath: Path) -> None:
    url = f"nats://127.0.0.1:{free_port()}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgekit", "sync", str(qpath), "--nats", url, "--follow"],
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()  # blocks until the engine's first error
        assert "connection refused" in line and "(retrying)" in line
        start = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
        assert time.monotonic() - start < 5
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0 and "sent 0 messages" in out and "Traceback" not in err
