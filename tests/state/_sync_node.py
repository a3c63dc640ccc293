"""One replica of the partition test, in its own process: a StateStore with its own StateSync.

Usage: python -m tests.state._sync_node STORE_DIR NODE_ID NATS_URL BUCKET CLOCK_OFFSET_S

Reads one JSON command a line on stdin and answers one JSON line on stdout:
``{"op": "set", "key": K, "value": V}`` and ``{"op": "delete", "key": K}`` (answer: the
entry), ``{"op": "sync", "timeout": S}`` (the SyncReport, or ``{"error": ...}``),
``{"op": "dump"}`` (every entry, tombstones included, and the pending count),
``{"op": "quit"}``. The store's clock is the wall clock plus CLOCK_OFFSET_S.
"""

from __future__ import annotations

import json
import sys
import time

from edgekit.errors import EdgekitError
from edgekit.state import StateStore
from edgekit.state.sync import StateSync

CONFLICT = {"fww/*": "fww", "keep/*": "keep_both", "*": "lww"}


def main() -> None:
    path, node, url, bucket, offset = sys.argv[1:6]
    ahead = float(offset)
    store = StateStore(path, node_id=node, conflict=CONFLICT, clock=lambda: time.time() + ahead)
    sync = StateSync(store, url, bucket=bucket, create_bucket=True, connect_timeout=1.0)
    out = sys.stdout
    out.write(json.dumps({"ready": node}) + "\n")
    out.flush()
    for line in sys.stdin:
        cmd = json.loads(line)
        op = cmd["op"]
        answer: dict
        if op == "set":
            answer = store.set(cmd["key"], cmd["value"]).as_dict()
        elif op == "delete":
            entry = store.delete(cmd["key"])
            answer = {} if entry is None else entry.as_dict()
        elif op == "sync":
            try:
                answer = sync.sync_now(cmd.get("timeout", 20)).as_dict()
            except EdgekitError as exc:
                answer = {"error": str(exc)}
        elif op == "dump":
            answer = {
                "entries": {e.key: e.as_dict() for e in store.entries()},
                "pending": store.pending_count(),
            }
        elif op == "quit":
            break
        else:
            answer = {"error": f"unknown op {op!r}"}
        out.write(json.dumps(answer) + "\n")
        out.flush()
    sync.stop()
    store.close()


if __name__ == "__main__":
    main()
