"""The queue's data file across processes and on a full disk (edgekit.sync._mapfile)."""

from __future__ import annotations

import multiprocessing as mp
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from edgekit.errors import QueueFullError
from edgekit.sync import SyncQueue

_MiB = 1 << 20


def _grow_then_write(path: str, grown: mp.Event, adopted: mp.Event) -> None:  # type: ignore[type-arg]
    with SyncQueue(path, map_size=_MiB, compression=None) as q:
        with q._store.lock:
            q._store.set_map_size(8 * _MiB)  # grown, nothing committed yet
        grown.set()
        adopted.wait(30)
        q.put_many([os.urandom(60_000) for _ in range(100)])  # pages far past 1 MiB


def test_a_stale_process_never_shrinks_the_file_under_another(tmp_path: Path) -> None:
    """A process whose map is out of date adopts the file's length: before, LMDB cut the
    file to the stale size and the process that had grown it died of SIGBUS."""
    path = str(tmp_path / "q")
    ctx = mp.get_context("spawn")
    grown, adopted = ctx.Event(), ctx.Event()
    with SyncQueue(path, map_size=_MiB) as stale:
        child = ctx.Process(target=_grow_then_write, args=(path, grown, adopted))
        child.start()
        assert grown.wait(60)
        with stale._store.lock:
            stale._store.set_map_size(0)  # as after MDB_MAP_RESIZED, with the grower mid-way
        adopted.set()
        child.join(60)
        assert child.exitcode == 0  # -7 (SIGBUS) before
        assert os.path.getsize(tmp_path / "q" / "data.mdb") >= 8 * _MiB
        assert stale.stats().map_size_bytes >= 8 * _MiB
        assert len(stale.lease(1000)) == 100


@pytest.mark.parametrize("durability", ["process", "power"])
def test_the_map_has_disk_blocks_under_it(tmp_path: Path, durability: str) -> None:
    with SyncQueue(tmp_path / "q", map_size=2 * _MiB, durability=durability) as q:
        q.put_many([os.urandom(1000) for _ in range(3000)])  # grows the map
        st = os.stat(tmp_path / "q" / "data.mdb")
        assert st.st_size == q.stats().map_size_bytes > 2 * _MiB
        assert st.st_blocks * 512 >= st.st_size  # no holes a write could SIGBUS on


_FILL = textwrap.dedent(
    """
    import os, sys
    from edgekit.errors import QueueFullError
    from edgekit.sync import SyncQueue

    path, durability = sys.argv[1], sys.argv[2]
    payloads = []
    with SyncQueue(path, durability=durability, compression=None, map_size=1 << 20) as q:
        try:
            while True:
                p = os.urandom(50_000)
                q.put(p)
                payloads.append(p)
        except QueueFullError as exc:
            print("full:", exc, file=sys.stderr)
        first = q.lease(10_000)  # on the disk the puts left free (fewer than asked)
        assert first and [m.payload for m in first] == payloads[: len(first)]
        q.ack(first)
        q.put(b"after")  # room again once acked
        got = [m.payload for m in first]
        while batch := q.lease(10):
            got += [m.payload for m in batch]
            q.ack(batch)
        assert got == payloads + [b"after"], "lost or changed messages"
    print(len(payloads))
    """
)


@pytest.mark.parametrize("durability", ["process", "power"])
def test_full_disk_is_queue_full_error_not_a_crash(small_disk: Path, durability: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _FILL, str(small_disk / "q"), durability],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])  # -7: SIGBUS
    assert "full:" in done.stderr
    assert int(done.stdout) > 20  # most of the 6 MiB held messages


def test_a_growth_refused_for_space_leaves_the_file_as_it_was(small_disk: Path) -> None:
    with SyncQueue(small_disk / "q", map_size=_MiB) as q:
        before = os.path.getsize(small_disk / "q" / "data.mdb")
        with q._store.lock, pytest.raises(QueueFullError, match="no disk space"):
            q._store.set_map_size(64 * _MiB)
        assert os.path.getsize(small_disk / "q" / "data.mdb") == before
        q.put(b"still fine")
        assert [m.payload for m in q.lease(1)] == [b"still fine"]


def test_a_file_system_without_locks_is_a_queue_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    import fcntl

    from edgekit.errors import QueueError

    def no_locks(fd: int, op: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    with pytest.raises(QueueError, match="cannot lock"):
        SyncQueue(tmp_path / "q")
