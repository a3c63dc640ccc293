"""Local rows of the state benchmark: ``StateStore.set``/``get`` against diskcache and raw
LMDB + json, interleaved in one run.

Every side writes one small JSON value per transaction with the same durability: no
fsync, a returned write survives kill -9 (edgekit ``durability="process"``; raw LMDB with
``sync=False, metasync=False``, once with ``writemap=True`` as the store opens it, once
with LMDB's default read-only map; diskcache as it is: SQLite in WAL mode with
``synchronous=NORMAL``, which syncs only at checkpoints).
Rates are operations per second (1 / the median time per call). ``benchmarks/state/
__main__.py`` adds these rows to the state table; ``python -m benchmarks.state.local``
prints them alone.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks._common import Report, interleaved_medians

__all__ = ["add_local_rows"]

KEYS = 1000
VALUE = {"temp": 21.5, "unit": "C", "ok": True, "seq": 0}


def _cases(
    root: Path,
) -> tuple[dict[str, Callable[[], Any]], dict[str, Callable[[], Any]], list[Any]]:
    import diskcache
    import lmdb

    from edgekit.state import StateStore

    store = StateStore(root / "edgekit", node_id="bench", durability="process")
    cache = diskcache.Cache(str(root / "diskcache"))
    keys = [f"sensor/{i}" for i in range(KEYS)]
    bkeys = [k.encode() for k in keys]
    n = [0]

    def nxt() -> int:
        n[0] = (n[0] + 1) % KEYS
        return n[0]

    def raw(name: str, writemap: bool) -> tuple[Any, Callable[[], None], Callable[[], Any]]:
        env = lmdb.open(
            str(root / name), map_size=1 << 28, sync=False, metasync=False, writemap=writemap
        )
        for k in bkeys:
            with env.begin(write=True) as txn:
                txn.put(k, json.dumps(VALUE, separators=(",", ":")).encode())

        def put() -> None:
            i = nxt()
            with env.begin(write=True) as txn:
                txn.put(bkeys[i], json.dumps({**VALUE, "seq": i}, separators=(",", ":")).encode())

        def get() -> Any:
            with env.begin() as txn:
                return json.loads(txn.get(bkeys[nxt()]))

        return env, put, get

    for k in keys:  # (every get finds its key)
        store.set(k, VALUE)
        cache.set(k, VALUE)
    env_w, put_w, get_w = raw("lmdb-writemap", True)
    env_d, put_d, get_d = raw("lmdb-default", False)
    sets = {
        "edgekit": lambda: store.set(keys[(i := nxt())], {**VALUE, "seq": i}),
        "diskcache": lambda: cache.set(keys[(i := nxt())], {**VALUE, "seq": i}),
        "raw LMDB + json (writemap)": put_w,
        "raw LMDB + json (default map)": put_d,
    }
    gets = {
        "edgekit": lambda: store.get(keys[nxt()]),
        "diskcache": lambda: cache.get(keys[nxt()]),
        "raw LMDB + json (writemap)": get_w,
        "raw LMDB + json (default map)": get_d,
    }
    return sets, gets, [store, cache, env_w, env_d]


def add_local_rows(report: Report, quick: bool) -> None:
    """Add the rows ``local set`` and ``local get`` (ops/s) to ``report``."""
    root = Path(tempfile.mkdtemp(prefix="edgekit-bench-state-", dir="/var/tmp"))
    try:
        sets, gets, handles = _cases(root)
        try:
            repeat = 5 if quick else 15
            for case, cases, target in (
                ("local set, small JSON value, one txn each, process", sets, ">= 60k/s"),
                ("local get", gets, ">= 150k/s"),
            ):
                medians = interleaved_medians(cases, repeat=repeat, budget=0.05)
                rates = {name: 1 / s for name, s in medians.items()}
                report.add(
                    case, "rate", "ops/s", rates.pop("edgekit"),
                    peers=rates, higher_is_better=True, target=target,
                )  # fmt: skip
        finally:
            for h in handles:
                h.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    from benchmarks._common import parse_args, pin_threads

    pin_threads()
    args = parse_args("edgekit.state local set/get vs diskcache and raw LMDB + json")
    report = Report("state_local", quick=args.quick)
    add_local_rows(report, args.quick)
    report.finish()
