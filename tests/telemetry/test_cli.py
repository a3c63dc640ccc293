"""``edgekit serve`` and ``edgekit status``: from the files, from a running serve, live."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from edgekit._cli import main
from edgekit.sync import SyncQueue
from edgekit.telemetry import Telemetry, serve
from tests._support.servers import free_port

TOKEN = "cli-token-0123456789abcdef"


@pytest.fixture
def qpath(tmp_path: Path) -> Path:
    path = tmp_path / "q"
    with SyncQueue(path) as q:
        q.put_many([b"x%d" % i for i in range(6)], topic="cli")
    return path


def edgekit(*args: str, **env_vars: str) -> subprocess.Popen[str]:
    """``python -m edgekit ARGS`` in a child process, its output piped (text)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "160", **env_vars}
    return subprocess.Popen(
        [sys.executable, "-m", "edgekit", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.fixture
def served(qpath: Path, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``edgekit serve --queue qpath`` in a child process, with a token; (process, URL)."""
    (tmp_path / "token").write_text(TOKEN + "\n")
    port = free_port()
    proc = edgekit(
        "serve", "--queue", str(qpath), "--port", str(port), "--token-file", str(tmp_path / "token")
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert f"http://127.0.0.1:{port}/" in line, line + (proc.stderr.read() if proc.stderr else "")
    yield proc, f"http://127.0.0.1:{port}"
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


def get_json(url: str) -> dict[str, object]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        found: dict[str, object] = json.loads(response.read())
    return found


def test_serve_watches_a_queue_another_process_writes(
    served: tuple[subprocess.Popen[str], str], qpath: Path
) -> None:
    proc, url = served
    assert get_json(url + "/status.json")["queue"]["depth"] == 6  # type: ignore[index]
    with SyncQueue(qpath) as q:  # this process writes, the serve process reads
        q.put_many([b"y"] * 4, topic="cli")
        assert get_json(url + "/status.json")["queue"]["depth"] == 10  # type: ignore[index]
        q.ack(q.lease(10))
        assert get_json(url + "/status.json")["queue"]["depth"] == 0  # type: ignore[index]
    with pytest.raises(urllib.error.HTTPError, match="401"):
        urllib.request.urlopen(url + "/metrics", timeout=10)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(15) == 0


def test_status_from_a_running_serve(
    served: tuple[subprocess.Popen[str], str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, url = served
    assert main(["status", "--url", url, "--token-file", str(tmp_path / "token"), "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["queue"]["depth"] == 6 and found["healthz"]["healthy"] is True
    assert main(["status", "--url", url, "--token-file", str(tmp_path / "token")]) == 0
    out = capsys.readouterr().out
    assert "healthy" in out and "topic cli" in out and "depth" in out
    assert main(["status", "--url", url]) == 1
    assert "HTTP 401" in capsys.readouterr().err


def test_status_from_the_files(
    qpath: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from edgekit.state import StateStore

    with StateStore(tmp_path / "state") as store:
        store.set("config/rate_hz", 50)
        store.set("config/site", "pump-3")
    args = ["status", "--queue", str(qpath), "--state", str(tmp_path / "state")]
    assert main([*args, "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["queue"]["depth"] == 6 and found["queue"]["topics"]["cli"][0] == 6
    assert found["state"]["keys"] == 2
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "queue" in out and "state" in out and "disk free" in out
    with SyncQueue(tmp_path / "second") as q:
        q.put(b"one", topic="other")
    assert main([*args, "--queue", str(tmp_path / "second")]) == 0
    out = capsys.readouterr().out
    assert "queue q" in out and "queue second" in out and "topic other" in out


def test_status_watch_updates_until_interrupted(qpath: Path) -> None:
    # FORCE_COLOR: rich draws every frame as on a terminal (else only the last one)
    proc = edgekit("status", "--queue", str(qpath), "--watch", "--interval", "0.2", FORCE_COLOR="1")
    time.sleep(1.5)
    with SyncQueue(qpath) as q:
        q.put_many([b"z"] * 5, topic="cli")
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    out = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out)  # the terminal's escapes
    assert re.search(r"depth\W+6\b", out) and re.search(r"depth\W+11\b", out), out


def test_refusals(qpath: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--queue", str(qpath), "--host", "0.0.0.0", "--port", "0"]) == 1
    assert "beyond loopback, only with a token" in capsys.readouterr().err
    assert main(["serve", "--queue", str(tmp_path / "missing"), "--port", "0"]) == 1
    assert "not a queue directory" in capsys.readouterr().err
    (tmp_path / "empty").write_text("\n")
    assert main(["serve", "--token-file", str(tmp_path / "empty"), "--port", "0"]) == 1
    assert "is empty" in capsys.readouterr().err
    assert main(["status"]) == 2
    assert main(["status", "--url", "http://127.0.0.1:1", "--queue", str(qpath)]) == 2
    assert main(["status", "--url", f"http://127.0.0.1:{free_port()}"]) == 1
    assert "refused" in capsys.readouterr().err.lower()


def test_serve_in_process_and_status_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The page's server a host starts itself, read by ``edgekit status --url``."""
    with serve(Telemetry(data_dir=tmp_path), port=0) as server:
        assert main(["status", "--url", server.url, "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["queue"] is None and found["health"]["disk_free_bytes"] > 0
