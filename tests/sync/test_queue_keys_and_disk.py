"""Issue #20.7 (queue parts) and #19.4: a key given to a plaintext queue, a tampered
encrypted record met by ``peek``, the full-disk message, ``edgekit queue peek`` when
nothing is ready."""

from __future__ import annotations

import os
import re
from pathlib import Path

import lmdb
import pytest

from edgekit._cli import main
from edgekit.errors import InvalidInputError, QueueFullError
from edgekit.sync import SyncQueue
from edgekit.sync.queue._layout import CHECKSUM_SIZE

KEY = bytes(range(32))


def test_a_key_for_a_plaintext_queue_is_refused_without_migrate(tmp_path: Path) -> None:
    path = tmp_path / "q"
    with SyncQueue(path) as q:
        q.put_many([b"secret %d" % i for i in range(3)], topic="t", headers={"h": "v"})
        q.put(b"x" * 2000, topic="t", key="k")  # (lz4-compressed)
        q.nack(q.lease(1), delay=0, error="503")
    with pytest.raises(InvalidInputError, match="migrate=True"):
        SyncQueue(path, encryption_key=KEY)
    with SyncQueue(path) as q:  # untouched: still opens without a key
        assert len(q) == 4
    with SyncQueue(path, encryption_key=KEY, migrate=True) as q:
        stats = q.stats()
        assert (stats.ready, len(q)) == (4, 4)
        assert stats.stored_bytes == sum(n for _, n in stats.topics.values())
        got = q.lease(10)
        assert [m.payload for m in got] == [b"secret 0", b"secret 1", b"secret 2", b"x" * 2000]
        assert got[0].attempt == 2 and got[0].headers == {"h": "v"} and got[3].key == "k"
        q.nack(got[0], error="later")  # its remembered error survived the rewrite too
    env = lmdb.open(str(path), max_dbs=16)
    with env.begin() as txn:  # every record is encrypted (LMDB's free pages may still
        records = [v for k, v in txn.cursor() if k[:1] == b"\xff"]  # hold old copies)
    env.close()
    assert len(records) == 4 and all(b"secret" not in r and r[1] & 2 for r in records)
    with pytest.raises(InvalidInputError, match="encrypted"):
        SyncQueue(path)
    with SyncQueue(path, encryption_key=KEY, migrate=True) as q:  # (already encrypted: a no-op)
        assert len(q) == 4


def test_a_key_for_a_new_or_empty_queue_needs_no_migrate(tmp_path: Path) -> None:
    with SyncQueue(tmp_path / "q", encryption_key=KEY) as q:
        q.put(b"a")
    with SyncQueue(tmp_path / "e") as q:
        pass
    with SyncQueue(tmp_path / "e", encryption_key=KEY) as q:
        assert len(q) == 0


def test_peek_quarantines_a_tampered_encrypted_record(tmp_path: Path) -> None:
    path = tmp_path / "q"
    with SyncQueue(path, encryption_key=KEY) as q:
        q.put_many([b"a", b"b", b"c"], topic="t")
    env = lmdb.open(str(path), max_dbs=16)
    with env.begin(write=True) as txn:
        skey = b"\xff" + (2).to_bytes(8, "big")
        record = bytearray(txn.get(skey))
        record[-1 - CHECKSUM_SIZE] ^= 1  # (the AES-GCM tag)
        txn.put(skey, bytes(record))
    env.close()
    with SyncQueue(path, encryption_key=KEY) as q:
        assert [m.payload for m in q.peek(10)] == [b"a", b"c"]  # no raise
        assert [m.payload for m in q.peek(10)] == [b"a", b"c"]
        (dead,) = q.dead_letters()
        assert dead.id == 2 and dead.dead_reason == "corrupt record: checksum mismatch"
        assert (q.stats().dead, len(q)) == (1, 2)
        assert [m.payload for m in q.lease(10)] == [b"a", b"c"]


def _fill(q: SyncQueue) -> None:
    for _ in range(10_000):
        q.put_many([os.urandom(1000)] * 100)


def test_full_disk_message_is_true(small_disk: Path) -> None:
    """Something else left 2 MiB of the disk: the message gave "-4,096 bytes" there."""
    st = os.statvfs(small_disk)
    with open(small_disk / "other", "wb") as f:
        f.write(bytes(st.f_bavail * st.f_frsize - 2 * 1024 * 1024))
    with (
        SyncQueue(small_disk / "q", compression=None) as q,
        pytest.raises(QueueFullError) as caught,
    ):
        _fill(q)
    message = str(caught.value)
    assert re.search(
        r"cannot grow its map past its [\d,]+ bytes: the disk has [\d,]+ bytes free", message
    )
    assert "-" not in message.replace(str(small_disk), "")  # no negative size


def test_cli_peek_says_what_waits_when_nothing_is_ready(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "q"
    with SyncQueue(path) as q:
        q.put_many([b"a", b"b", b"c", b"d"])
        m = q.lease(4)
        q.nack(m[:3], delay=3600)
    assert main(["queue", "peek", str(path)]) == 0
    assert "(no ready messages; 3 delayed, 1 in flight, not shown)" in capsys.readouterr().out
