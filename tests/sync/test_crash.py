"""kill -9 at random moments while a child puts and syncs: nothing lost, nothing duplicated."""

from __future__ import annotations

import asyncio
import collections
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgekit.sync import NatsTransport, SyncEngine, SyncQueue
from tests._support.servers import NatsServer
from tests.sync.test_nats import stream_messages

ROOT = Path(__file__).resolve().parents[2]


def crash_cycles(nats: NatsServer, tmp_path: Path, cycles: int, seed: int) -> dict[str, int]:
    """Kill a putting-and-syncing child ``cycles`` times; returns what was returned, lost, duplicated."""
    rng = random.Random(seed)
    qdir = tmp_path / "q"
    returned: set[int] = set()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for cycle in range(cycles):
        child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.sync._crash_child",
                str(qdir),
                nats.url,
                str(cycle * 1_000_000),
            ],
            stdout=subprocess.PIPE,
            cwd=ROOT,
            env=env,
        )
        assert child.stdout is not None
        # Wait for the first put, then kill at a random moment.
        first = child.stdout.readline()
        assert first, f"child failed to start (cycle {cycle})"
        returned.add(int(first))
        time.sleep(rng.uniform(0.0, 0.3))
        child.send_signal(signal.SIGKILL)
        rest, _ = child.communicate(timeout=30)
        returned.update(int(line) for line in rest.split())
        # LMDB must open cleanly after every kill, with every returned put still counted.
        with SyncQueue(qdir) as q:
            q.stats()
    # Drain what is left, then compare with JetStream.
    with SyncQueue(qdir) as q:
        transport = NatsTransport(
            nats.url, stream="CRASH", subject_prefix="crash", create_stream=True
        )
        with SyncEngine(q, transport, visibility_timeout=1.0) as engine:
            engine.sync_now(60)
        assert len(q) == 0 and q.stats().dead == 0
    msgs = asyncio.run(stream_messages(nats.url, "CRASH"))
    counts = collections.Counter(int(m.data) for m in msgs)
    return {
        "cycles": cycles,
        "returned": len(returned),
        "upstream": len(counts),
        "lost": len(returned - set(counts)),
        "duplicated": sum(1 for n in counts.values() if n > 1),
    }


def check(result: dict[str, int]) -> None:
    assert result["duplicated"] == 0, result
    assert result["lost"] == 0, result
    assert result["returned"] > result["cycles"], result


def test_kill9_cycles(nats_server: NatsServer, tmp_path: Path) -> None:
    check(crash_cycles(nats_server, tmp_path, cycles=20, seed=7))


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_kill9_cycles_long(nats_server: NatsServer, tmp_path: Path) -> None:
    check(crash_cycles(nats_server, tmp_path, cycles=200, seed=11))
