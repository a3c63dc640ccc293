"""A damaged store gives CorruptDataError or StateError, never a crash or a raw
exception; what still reads stays readable."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import lmdb
import pytest

from edgekit.errors import CorruptDataError, EdgekitError, StateError
from edgekit.state import StateStore

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_700_000_000.0


def make(path: Path, n: int = 200) -> None:
    with StateStore(path, node_id="n", clock=lambda: T0) as s:
        for i in range(n):
            s.set(f"k/{i}", {"i": i, "pad": "x" * (i % 50)})
        for i in range(0, n, 7):
            s.delete(f"k/{i}")


def test_garbage_data_file(tmp_path: Path) -> None:
    d = tmp_path / "s"
    d.mkdir()
    (d / "data.mdb").write_bytes(b"not lmdb at all " * 1000)
    with pytest.raises(CorruptDataError, match="does not hold a valid state store"):
        StateStore(d)


def test_truncated_data_file(tmp_path: Path) -> None:
    d = tmp_path / "s"
    make(d)
    data = d / "data.mdb"
    data.write_bytes(data.read_bytes()[:8192])
    with pytest.raises(CorruptDataError, match="was truncated"):
        StateStore(d)


def test_side_file_garbage_or_foreign(tmp_path: Path) -> None:
    d = tmp_path / "s"
    make(d, 3)
    side = d / "state.json"
    side.write_text("{not json")
    with pytest.raises(CorruptDataError, match=r"state\.json does not read"):
        StateStore(d)
    side.write_text(json.dumps({"kind": "something.else"}))
    with pytest.raises(StateError, match="not an edgekit state store"):
        StateStore(d)
    side.write_text(json.dumps({"kind": "edgekit.state", "format": 99}))
    with pytest.raises(StateError, match="format 99"):
        StateStore(d)


def poke(path: Path, key: bytes, record: bytes) -> None:
    """Overwrite one entry's record behind the store's back."""
    env = lmdb.open(str(path), max_dbs=8)
    db = env.open_db(b"entries")
    with env.begin(write=True) as txn:
        txn.put(key, record, db=db)
    env.close()


@pytest.mark.parametrize(
    "record", [b"", b"\x00", b"\x00" * 14 + b"{not json", b"\x04" + b"\xff" * 30]
)
def test_damaged_record(tmp_path: Path, record: bytes) -> None:
    d = tmp_path / "s"
    make(d, 20)
    poke(d, b"k/3", record)
    with StateStore(d, clock=lambda: T0) as s:  # opens: the other keys still read
        assert s.get("k/4") == {"i": 4, "pad": "x" * 4}
        for call in (lambda: s.get("k/3"), lambda: s.entry("k/3"), s.items, s.entries):
            with pytest.raises(CorruptDataError, match="k/3"):
                call()
        assert "k/3" in s.keys()  # noqa: SIM118 (keys() lists it)
        s.set("k/3", "repaired")  # a write replaces the damaged record
        assert s.get("k/3") == "repaired"


def test_damaged_key_bytes(tmp_path: Path) -> None:
    d = tmp_path / "s"
    make(d, 5)
    poke(d, b"k/\xff\xfe", b"\x04" + b"\x00" * 13 + b"1")
    with StateStore(d, clock=lambda: T0) as s:
        assert s.get("k/1") == {"i": 1, "pad": "x"}
        with pytest.raises(CorruptDataError, match="damaged"):
            s.keys()


CHILD = """
import sys
from edgekit.state import StateStore
from edgekit.errors import EdgekitError
try:
    with StateStore(sys.argv[1], clock=lambda: 1.7e9) as s:
        for k in s.keys():
            s.get(k)
        s.items(); s.entries(); s.pending(); s.stats(); s.set("new", 1)
    print("ok")
except EdgekitError as e:
    print("error", type(e).__name__)
"""


def test_random_byte_damage_never_crashes(tmp_path: Path) -> None:
    """Bytes flipped anywhere in the used pages: the store opens and reads, or it gives
    an EdgekitError; the process never dies (run in children, where a crash would show)."""
    d = tmp_path / "s"
    make(d, 300)
    data = (d / "data.mdb").read_bytes()
    side = (d / "state.json").read_bytes()
    used = 4096 * 40
    rng = random.Random(7)
    outcomes = []
    for trial in range(6):
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            damaged[rng.randrange(used)] = rng.randrange(256)
        t = tmp_path / f"t{trial}"
        t.mkdir()
        (t / "data.mdb").write_bytes(bytes(damaged))
        (t / "state.json").write_bytes(side)
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(t)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        outcomes.append(done.stdout.split()[0])
    assert set(outcomes) <= {"ok", "error"}


def test_errors_are_edgekit_errors() -> None:
    assert issubclass(CorruptDataError, EdgekitError) and issubclass(StateError, EdgekitError)
