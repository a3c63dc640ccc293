"""kill -9 at random moments while a child writes to a StateStore: every write that
returned is there after reopening, updates are all or nothing, the store opens cleanly,
bases keep their revisions and the pending keys still name every unsynced change.

The child is forked from the test process (no interpreter start per cycle). Each step
is one of: set ``k/<n % 40>`` to n (every other time also marked synced at revision n);
set ``u/a`` and ``u/b`` to n in one ``update``; set ``d/<n>`` and delete it; apply a
remote entry ``r/<n % 10>`` = n at revision n. After each call returns, a line names it
on a pipe, so the parent knows which writes had returned when it sent SIGKILL. The
store's clock is a constant (the HLC counts on): nothing depends on the date.
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest

from edgekit.state import Entry, Hlc, StateStore

T0 = 1_700_000_000.0
T0_MS = int(T0 * 1000)


def writer(path: Path, start: int, fd: int) -> None:
    """The child: write until killed, a line on ``fd`` after each write returned."""
    store = StateStore(path, node_id="crash", clock=lambda: T0)
    n = start
    while True:
        step = n % 4
        if step == 0:
            entry = store.set(f"k/{n % 40}", n)
            os.write(fd, f"set k/{n % 40} {n}\n".encode())
            if n % 8 == 0:
                store.mark_synced(entry.key, entry.hlc, n)
                os.write(fd, f"synced {entry.key} {n}\n".encode())
            n += 1
            continue
        if step == 3:
            store.apply_remote(Entry(f"r/{n % 10}", n, Hlc(T0_MS, n), "peer"), n)
            line = f"remote r/{n % 10} {n}\n"
        elif step == 1:
            store.update({"u/a": n, "u/b": n})
            line = f"update {n}\n"
        else:
            store.set(f"d/{n}", n)
            store.delete(f"d/{n}")
            line = f"deleted d/{n}\n"
        os.write(fd, line.encode())
        n += 1


def spawn(path: Path, start: int) -> tuple[int, int]:
    """Fork a writer; returns (its pid, the read end of its pipe)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.close(r)
            writer(path, start, w)
        except BaseException as exc:
            os.write(w, f"error {exc!r}\n".encode())
        finally:
            os._exit(1)
    os.close(w)
    return pid, r


def read_all(fd: int) -> str:
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks).decode()


def crash_cycles(tmp_path: Path, cycles: int, seed: int) -> int:
    """Kill a writing child ``cycles`` times, checking the store after each; returns how
    many writes had returned in all."""
    rng = random.Random(seed)
    path = tmp_path / "s"
    latest: dict[str, int] = {}  # key -> the last value a returned set gave it
    last_set: dict[str, int] = {}  # key -> when it was last set locally (a returned set)
    synced: dict[str, int] = {}  # key -> the last revision marked synced
    remote: dict[str, int] = {}  # key -> the last revision applied from the remote
    deleted: set[str] = set()
    returned = 0
    for cycle in range(cycles):
        pid, fd = spawn(path, cycle * 1_000_000)
        time.sleep(rng.uniform(0.0, 0.15))
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        lines = read_all(fd).splitlines()
        assert os.WIFSIGNALED(status), f"the child exited by itself (cycle {cycle}): {lines[-1:]}"
        fresh: set[str] = set()  # this cycle's deletes (the last cycle checks them all)
        for line in lines:
            parts = line.split()
            if not parts:
                continue
            returned += 1
            if parts[0] == "set":
                latest[parts[1]] = last_set[parts[1]] = int(parts[2])
            elif parts[0] == "synced":
                synced[parts[1]] = int(parts[2])
            elif parts[0] == "remote":
                latest[parts[1]] = remote[parts[1]] = int(parts[2])
            elif parts[0] == "update":
                latest["u/a"] = latest["u/b"] = int(parts[1])
            elif parts[0] == "deleted":
                fresh.add(parts[1])
        deleted |= fresh
        with StateStore(path, clock=lambda: T0) as s:
            for key, value in latest.items():
                # a write after the last line may have committed too: never less
                assert s.get(key) >= value, (cycle, key)
            assert s.get("u/a") == s.get("u/b")  # an update is all or nothing
            for key in deleted if cycle == cycles - 1 else fresh:
                assert s.get(key) is None and s.entry(key) is not None, (cycle, key)
            for key, revision in {**synced, **remote}.items():
                assert s.base(key)[1] >= revision, (cycle, key)
            pending = {e.key for e in s.pending()}
            for key, n in last_set.items():
                if n % 8:  # a key never marked synced (k/x with x % 8 == 0 are)
                    assert key in pending, (cycle, key)
            entries = s.entries()
            assert len(pending) == s.pending_count() <= len(entries)
            assert not pending & set(remote)  # applied remote entries are not pending
            stats = s.stats()
            assert stats.keys + stats.tombstones == len(entries)
            assert stats.keys == len(s.keys())
    return returned


def test_kill_9_loses_nothing_that_returned(tmp_path: Path) -> None:
    assert crash_cycles(tmp_path, 20, seed=15) > 20


@pytest.mark.slow
def test_kill_9_loses_nothing_that_returned_long(tmp_path: Path) -> None:
    assert crash_cycles(tmp_path, 200, seed=1515) > 200
