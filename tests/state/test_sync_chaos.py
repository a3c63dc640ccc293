"""Partitions and server failures: three replicas in three processes that write while the
server is down (one clock 30 s ahead) converge to what each key's strategy says; an R3
bucket on a 3-server cluster loses nothing when a server is killed mid-sync."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from edgekit.state import StateStore
from edgekit.state.sync import StateSync
from tests.state import _plain

ROOT = Path(__file__).resolve().parents[2]


class Node:
    """A replica in a child process (tests/state/_sync_node.py)."""

    def __init__(self, root: Path, name: str, url: str, bucket: str, ahead_s: float = 0.0):
        self.name = name
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.state._sync_node",
                str(root / name),
                name,
                url,
                bucket,
                str(ahead_s),
            ],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert json.loads(self.proc.stdout.readline()) == {"ready": name}

    def ask(self, **cmd: Any) -> dict[str, Any]:
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, f"node {self.name} died"
        return json.loads(line)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.write('{"op": "quit"}\n')
            self.proc.stdin.flush()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def order(entry: dict[str, Any]) -> tuple[list[int], str]:
    return entry["hlc"], entry["node_id"]


def partition_run(server, root: Path, keys: int, seed: int) -> None:
    rng = random.Random(seed)
    nodes = [
        Node(root, f"n{i}", server.url, "PART", ahead_s=30.0 if i == 2 else 0.0) for i in range(3)
    ]
    try:
        # Before the partition: a shared base, and n2's write (30 s ahead) that n0 and n1 see.
        nodes[0].ask(op="set", key="del/k", value="base")
        nodes[2].ask(op="set", key="causal/k", value="from n2, 30 s ahead")
        for node in (nodes[0], nodes[2], nodes[1], nodes[0]):
            assert "error" not in node.ask(op="sync")
        server.stop()
        writes: dict[str, list[dict[str, Any]]] = {}
        for i in range(keys):  # overlapping keys, in random order, each node's own clock
            for kind in ("lww", "fww", "keep"):
                for node in rng.sample(nodes, rng.randint(1, 3)):
                    key = f"{kind}/k{i}"
                    entry = node.ask(op="set", key=key, value=f"{node.name}:{i}")
                    writes.setdefault(key, []).append(entry)
        # causally after n2's write, though their clocks are 30 s behind it
        writes["causal/k"] = [nodes[0].ask(op="set", key="causal/k", value="n0, later")]
        deleted = nodes[1].ask(op="delete", key="del/k")
        server.start()
        for _ in range(3):
            for node in nodes:
                report = node.ask(op="sync", timeout=30)
                assert "error" not in report, report
        dumps = [node.ask(op="dump") for node in nodes]
        assert [d["pending"] for d in dumps] == [0, 0, 0]
        views = [d["entries"] for d in dumps]
        differ = {
            k: [v.get(k) for v in views]
            for k in views[0]
            if not views[0][k] == views[1].get(k) == views[2].get(k)
        }
        assert not differ, json.dumps(list(differ.items())[:2])
        final = dumps[0]["entries"]
        for key, entries in writes.items():
            got = final[key]
            pick = min if key.startswith("fww/") else max
            want = pick(entries, key=order)
            assert got["value"] == want["value"], (key, got, entries)
            if key.startswith("keep/"):
                others = sorted(e["value"] for e in entries if e is not want)
                assert sorted(got.get("siblings", [])) == others, (key, got, entries)
        assert final["causal/k"]["value"] == "n0, later"
        assert final["del/k"]["deleted"] and final["del/k"]["hlc"] == deleted["hlc"]
    finally:
        for node in nodes:
            node.close()


def test_partition_three_processes_converge_by_strategy(nats_server, tmp_path):
    partition_run(nats_server, tmp_path, keys=15, seed=1)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(5))
def test_partition_three_processes_converge_by_strategy_long(nats_server, tmp_path, seed):
    partition_run(nats_server, tmp_path, keys=200, seed=seed)


def test_r3_bucket_loses_nothing_when_a_server_is_killed_mid_sync(nats_cluster, tmp_path):
    urls = [s.url for s in nats_cluster]
    n = 2000
    with StateStore(tmp_path / "a", node_id="a") as a, StateStore(tmp_path / "b", node_id="b") as b:
        a.update({f"dev/{i}": {"i": i} for i in range(n)})
        sa = StateSync(
            a, urls, bucket="R3", create_bucket=True, replicas=3, in_flight=100, request_timeout=2
        )
        done: list[Any] = []
        runner = threading.Thread(target=lambda: done.append(sa.sync_now(90)))
        runner.start()
        deadline = time.monotonic() + 60
        while sa.status().sent < n // 5 and runner.is_alive() and time.monotonic() < deadline:
            time.sleep(0.002)
        connected = sa._nc.connected_url.port  # the server a's link goes to
        victim = next(s for s in nats_cluster if s.port == connected)
        victim.kill()
        runner.join(120)
        assert done and done[0].sent <= n
        assert a.pending_count() == 0
        alive = [s.url for s in nats_cluster if s is not victim]
        bucket = _plain.dump(alive, "R3", expect=n)
        assert len(bucket) == n
        assert all(bucket[f"dev/{i}"]["v"] == {"i": i} for i in range(n))
        with StateSync(b, alive, bucket="R3") as sb:
            assert sb.sync_now(60).received == n
        assert dict(b.items()) == dict(a.items())
        sa.stop()
