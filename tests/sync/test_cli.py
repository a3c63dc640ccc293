"""The ``edgekit queue`` and ``edgekit sync`` commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgekit._cli import main
from edgekit.sync import DirectoryTransport, SyncQueue


@pytest.fixture
def qpath(tmp_path: Path) -> Path:
    path = tmp_path / "q"
    with SyncQueue(path, max_attempts=1) as q:
        q.put_many([b"hello %d" % i for i in range(5)], topic="cli")
        q.nack(q.lease(1))  # one dead letter
    return path


def test_queue_stats(qpath: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["queue", "stats", str(qpath), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["depth"] == 4 and stats["dead"] == 1
    assert main(["queue", "stats", str(qpath)]) == 0
    assert "topic cli" in capsys.readouterr().out


def test_queue_peek_and_requeue_dead(qpath: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["queue", "peek", str(qpath), "-n", "2"]) == 0
    out = capsys.readouterr().out
    assert "hello 1" in out and "hello 2" in out and "hello 3" not in out
    assert main(["queue", "peek", str(qpath), "--dead"]) == 0
    assert "hello 0" in capsys.readouterr().out
    assert main(["queue", "requeue-dead", str(qpath)]) == 0
    assert "requeued 1" in capsys.readouterr().out


def test_sync_to_directory(qpath: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["sync", str(qpath), "--dir", str(out)]) == 0
    assert "sent 4 messages; 0 left" in capsys.readouterr().out
    assert len(DirectoryTransport.read(out)) == 4


def test_sync_to_nats(qpath: Path, shared_nats, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    code = main(
        ["sync", str(qpath), "--nats", shared_nats.url, "--stream", "CLI", "--create-stream"]
    )
    assert code == 0
    assert "sent 4 messages" in capsys.readouterr().out


def test_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["queue", "stats", str(tmp_path / "missing")]) != 0
    assert main(["sync", str(tmp_path)]) != 0
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "data.mdb").write_bytes(b"\x00" * 8192)
    assert main(["queue", "stats", str(bad)]) != 0
    err = capsys.readouterr().err
    assert "LMDB" in err or "queue" in err
