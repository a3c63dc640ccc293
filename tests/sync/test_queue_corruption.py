"""A damaged queue file never takes the host down (issue #20.5): zeroed pages, random bit
flips and truncation give a ``CorruptDataError`` or quarantined records, never an abort,
never a silently stranded message. Every open and drain runs in a child process, so an
abort is a test failure, not a crash of pytest."""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

import pytest

from edgekit.errors import CorruptDataError
from edgekit.sync import SyncQueue
from edgekit.sync.queue import salvage_queue
from tests._support.child import run_child

N = 3000
PAGE = 4096

# Puts N messages (three topics, 60-400 bytes) and dies with the queue open, as a device
# that lost power does: the next process to open it finds an unclean shutdown.
_BUILD = """
import os, random, sys
from edgekit.sync import SyncQueue
rng = random.Random(7)
q = SyncQueue(sys.argv[1], compression=None)
for i in range({n}):
    q.put(b"m%05d " % i + bytes(rng.randrange(256) for _ in range(rng.randrange(60, 400))),
          topic="t%d" % (i % 3))
print(q._store.env.info()["last_pgno"] + 1, flush=True)
os._exit(0)
"""

# Opens the queue and drains it: delivered, dead (quarantined) and left, or the error.
_DRAIN = """
import json, sys
from edgekit.errors import CorruptDataError
from edgekit.sync import SyncQueue
out = {}
try:
    with SyncQueue(sys.argv[1]) as q:
        before = len(q)
        delivered = 0
        while True:
            batch = q.lease(100)
            if not batch:
                break
            delivered += len(batch)
            q.ack(batch)
        out = dict(outcome="drained", before=before, delivered=delivered, left=len(q),
                   dead=q.stats().dead, listed=len(q.dead_letters(10 ** 6)))
except CorruptDataError as exc:
    out = dict(outcome="CorruptDataError", message=str(exc))
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def crashed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """A queue left open by a process that died, and its pages in use."""
    path = tmp_path_factory.mktemp("crashed") / "q"
    code = f"import sys; sys.argv[1:] = [{str(path)!r}]\n" + _BUILD.format(n=N)
    return path, int(run_child(code))


def _copy(crashed: tuple[Path, int], tmp_path: Path) -> tuple[Path, int]:
    path = tmp_path / "q"
    shutil.copytree(crashed[0], path)
    return path, crashed[1]


def _drain(path: Path) -> dict[str, object]:
    out = run_child(f"import sys; sys.argv[1:] = [{str(path)!r}]\n" + _DRAIN)
    return dict(json.loads(out.splitlines()[-1]))


def _salvage(path: Path, new: Path) -> dict[str, int]:
    code = (
        "from edgekit.sync.queue import salvage_queue\n"
        f"print(salvage_queue({str(path)!r}, {str(new)!r}).to_json())"
    )
    return dict(json.loads(run_child(code).splitlines()[-1]))


def _held(result: dict[str, object], path: Path, tmp_path: Path) -> None:
    """Never an abort (run_child asserted a clean exit); never a stranded message; a
    damaged file names the way out, and salvage runs without taking the host down."""
    if result["outcome"] == "drained":
        assert result["left"] == 0
        assert result["delivered"] + result["dead"] == N  # type: ignore[operator]
        assert result["listed"] == result["dead"]
        return
    assert "salvage" in str(result["message"])
    assert _drain(path)["outcome"] == "CorruptDataError"  # again: a failed open stays unclean
    report = _salvage(path, tmp_path / "saved")
    assert report["saved"] + report["lost"] >= 0 and report["walks"] >= 1
    with SyncQueue(tmp_path / "saved") as q:
        assert len(q) + q.stats().dead == report["saved"]


def _data(path: Path) -> Path:
    return path / "data.mdb"


@pytest.mark.parametrize("seed", range(6))
def test_zeroed_pages(crashed: tuple[Path, int], tmp_path: Path, seed: int) -> None:
    path, pages = _copy(crashed, tmp_path)
    rng = random.Random(seed)
    with open(_data(path), "r+b") as f:
        for page in rng.sample(range(2, pages), 5):  # (pages 0 and 1: LMDB's meta pages)
            f.seek(page * PAGE)
            f.write(bytes(PAGE))
    _held(_drain(path), path, tmp_path)


@pytest.mark.parametrize("seed", range(12))
def test_random_bit_flips(crashed: tuple[Path, int], tmp_path: Path, seed: int) -> None:
    path, pages = _copy(crashed, tmp_path)
    rng = random.Random(seed)
    with open(_data(path), "r+b") as f:
        for _ in range(50):
            at = rng.randrange(2 * PAGE, pages * PAGE)
            f.seek(at)
            byte = f.read(1)[0]
            f.seek(at)
            f.write(bytes([byte ^ (1 << rng.randrange(8))]))
    _held(_drain(path), path, tmp_path)


@pytest.mark.parametrize("length", [0, 2 * PAGE])
def test_truncated_file_is_reported_not_opened_as_new(
    crashed: tuple[Path, int], tmp_path: Path, length: int
) -> None:
    path, _ = _copy(crashed, tmp_path)
    os.truncate(_data(path), length)
    result = _drain(path)
    assert result["outcome"] == "CorruptDataError"
    assert "truncated" in str(result["message"]) and "salvage" in str(result["message"])
    with pytest.raises(CorruptDataError, match="truncated"):  # (in this process: no abort)
        SyncQueue(path)


def test_flipped_payload_is_quarantined_after_a_clean_close(tmp_path: Path) -> None:
    """No check runs after a clean close: the checksum catches the damaged record."""
    path = tmp_path / "q"
    with SyncQueue(path, compression=None) as q:
        q.put_many([b"a" * 100, b"b" * 100, b"c" * 100], topic="t")
    data = _data(path).read_bytes()
    at = data.index(b"b" * 100) + 50
    with open(_data(path), "r+b") as f:
        f.seek(at)
        f.write(b"B")
    result = _drain(path)
    assert (result["delivered"], result["dead"], result["listed"], result["left"]) == (2, 1, 1, 0)


def test_check_and_salvage_of_a_sound_queue(tmp_path: Path) -> None:
    path = tmp_path / "q"
    with SyncQueue(path, max_attempts=1) as q:
        q.put_many([b"x%d" % i for i in range(50)], topic="t")
        q.reject(q.lease(2), reason="refused")
        found = q.check()
        assert (found.records, found.corrupt_records) == (50, 0)
    report = salvage_queue(path, tmp_path / "new")
    assert (report.saved, report.dead_letters, report.lost, report.walks) == (50, 2, 0, 1)
    with SyncQueue(tmp_path / "new") as q:
        assert len(q) == 48
        assert [d.dead_reason for d in q.dead_letters()] == ["refused", "refused"]
        assert [m.payload for m in q.lease(100)] == [b"x%d" % i for i in range(2, 50)]
