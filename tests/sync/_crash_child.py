"""Child of the crash test: puts numbered messages and syncs them to NATS until killed.

Usage: python -m tests.sync._crash_child QUEUE_DIR NATS_URL START

After each put returns, its number is written to stdout (flushed), so the parent
knows which puts had returned when it sent SIGKILL.
"""

from __future__ import annotations

import sys
import time

from edgekit.sync import Backoff, NatsTransport, SyncEngine, SyncQueue


def main() -> None:
    path, url, start = sys.argv[1], sys.argv[2], int(sys.argv[3])
    queue = SyncQueue(path)
    transport = NatsTransport(url, stream="CRASH", subject_prefix="crash", create_stream=True)
    engine = SyncEngine(
        queue,
        transport,
        batch_size=50,
        visibility_timeout=1.0,
        idle_interval=0.005,
        reconnect=Backoff(0.05, 0.2),
    )
    engine.start()
    out = sys.stdout
    i = start
    while True:
        queue.put(b"%d" % i, topic=f"t{i % 2}")
        out.write(f"{i}\n")
        out.flush()
        i += 1
        if i % 50 == 0:
            time.sleep(0.001)


if __name__ == "__main__":
    main()
