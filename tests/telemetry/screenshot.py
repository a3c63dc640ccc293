"""Regenerate ``docs/img/status-page.png``: a device running for a while, its page in Chromium.

    python -m tests.telemetry.screenshot [--out docs/img/status-page.png] [--seconds 60]

The device is real and runs for ``--seconds``: a state store, a queue fed with sensor readings on three
topics, a sync engine draining it into a directory with two outages (paused), Silero
VAD (ONNX) run on noise and silence, and an inventory of the devices in the scan tests'
captured records (the mDNS records of ``labelled_devices.json``, the WiFi networks of
``nmcli_wifi_list.txt``). The plots cover the last two minutes here (``History(span_s=120)``)
so that they fill in one run; ``serve`` keeps an hour.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

DATA = Path(__file__).parents[1] / "scan" / "data"


def inventory() -> Any:
    """An Inventory of the scan tests' captured mDNS records and WiFi networks."""
    from edgekit.scan import Inventory, MdnsService
    from edgekit.scan.wifi import parse_nmcli

    inv = Inventory()
    records = json.loads((DATA / "labelled_devices.json").read_text("utf-8"))["records"]
    for i, record in enumerate(r for r in records if "mdns" in r):
        m = record["mdns"]
        address = f"192.0.2.{10 + i}"  # documentation addresses (RFC 5737)
        inv.add_mdns(MdnsService(m["name"], m["type"], m["server"], (address,), 80, m["txt"]))
    for ap in parse_nmcli((DATA / "nmcli_wifi_list.txt").read_text("utf-8")):
        inv.add_wifi(ap)
    return inv


def run(out: Path, seconds: float) -> None:
    from edgekit.infer import InferenceEngine
    from edgekit.state import StateStore
    from edgekit.sync import DirectoryTransport, SyncEngine, SyncQueue
    from edgekit.telemetry import Telemetry, serve
    from edgekit.telemetry.history import History
    from tests._support.browser import chromium, console_errors
    from tests.infer.models import silero_feeds, silero_path

    rng = np.random.default_rng(7)
    stop = threading.Event()
    with tempfile.TemporaryDirectory() as tmp, SyncQueue(Path(tmp) / "uplink") as q:
        engine = SyncEngine(q, DirectoryTransport(Path(tmp) / "cloud"), batch_size=64)
        vad = InferenceEngine(silero_path(), warmup=1)
        state = StateStore(Path(tmp) / "state")
        for key, value in (("config/rate_hz", 20), ("config/site", "pump-3"), ("twin/fw", "1.4.2")):
            state.set(key, value)

        def produce() -> None:
            while not stop.wait(0.05):
                t = time.time()
                q.put(json.dumps({"t": t, "c": 21 + rng.normal()}).encode(), topic="temperature")
                q.put(rng.normal(size=64).astype(np.float32).tobytes(), topic="vibration")
                if rng.random() < 0.1:
                    q.put(b'{"event": "door"}', topic="events", priority=5)

        def infer() -> None:
            while not stop.wait(0.02):
                noise = rng.normal(0, 0.1 if rng.random() < 0.5 else 0.0, 576)
                vad.run(silero_feeds(noise.astype(np.float32)))

        threads = [threading.Thread(target=f, daemon=True) for f in (produce, infer)]
        telemetry = Telemetry(data_dir=tmp).observe(q, engine, vad, state, inventory())
        history = History(span_s=120, interval_s=1)
        with serve(telemetry, port=0, refresh_s=0.5, history=history) as server:
            engine.start()
            for thread in threads:
                thread.start()
            start = time.monotonic()
            outages = [(0.15, 0.35), (0.8, 1.01)]  # fractions of the run, link paused
            while (elapsed := time.monotonic() - start) < seconds:
                paused = any(a * seconds <= elapsed < b * seconds for a, b in outages)
                engine.pause() if paused else engine.resume()
                time.sleep(0.2)
            # The page is shown during the second outage: a backlog waits.
            driver = chromium(1280, 900)
            try:
                driver.get(server.url + "/")
                time.sleep(2.0)
                height = driver.execute_script("return document.documentElement.scrollHeight")
                driver.set_window_size(1280, int(height) + 160)  # + the window frame
                time.sleep(1.0)
                errors = console_errors(driver)
                assert not errors, errors
                out.parent.mkdir(parents=True, exist_ok=True)
                driver.save_screenshot(str(out))
            finally:
                driver.quit()
                stop.set()
                for thread in threads:
                    thread.join()
                engine.stop()
                vad.close()
                state.close()
    print(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/img/status-page.png"))
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the device runs")
    args = parser.parse_args()
    run(args.out, args.seconds)


if __name__ == "__main__":
    main()
