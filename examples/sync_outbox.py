"""Store-and-forward into a directory: the embedded default, no server needed.

Run: python examples/sync_outbox.py [OUTBOX_DIR]

Readings are put on a durable queue while the "link" is down (the outbox directory
cannot be created), then shipped as atomic JSON batch files when it comes back.
The queue lives in a temporary directory, removed at the end; so is the outbox
unless OUTBOX_DIR is given.

Needs: nothing beyond ``pip install edgekit``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from edgekit.errors import TransportError
from edgekit.sync import Backoff, DirectoryTransport, SyncEngine, SyncQueue


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outbox", nargs="?", type=Path, help="keep the batch files here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="edgekit-outbox-") as tmp:
        run(Path(tmp), args.outbox or Path(tmp) / "outbox")
    return 0


def run(work: Path, outbox: Path) -> None:
    blocker = work / "blocked"
    blocker.write_text("a file where a directory should be: the link is down")

    with SyncQueue(work / "queue", max_bytes=8 * 2**20, eviction="drop_oldest") as queue:
        for i in range(100):
            reading = {"sensor": "t1", "seq": i, "celsius": 20 + i / 10, "time": time.time()}
            queue.put(json.dumps(reading).encode(), topic="temperature")
        queue.put(b"door opened", topic="alarms", priority=9, key="door-2024-01-01T10:00")
        print("queued:", queue.stats())

        offline = SyncEngine(queue, DirectoryTransport(blocker / "x"), reconnect=Backoff(0.05, 0.1))
        try:
            offline.sync_now(timeout=0.5)
        except TransportError as exc:
            print("offline, nothing lost:", len(queue), "messages kept;", exc)
        finally:
            offline.stop()

        with SyncEngine(queue, DirectoryTransport(outbox), batch_size=40) as engine:
            sent = engine.sync_now(timeout=10)
            print(f"sent {sent} messages; status: {engine.status()}")

    files = sorted(outbox.glob("*.json"))
    print(f"{len(files)} batch files in {outbox}; first message:")
    print(DirectoryTransport.read(outbox)[0])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
