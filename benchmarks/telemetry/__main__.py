"""edgekit.telemetry: the issue's target table.

``python -m benchmarks.telemetry [--quick]``. The cost rows (telemetry observing
``SyncQueue.put`` and ``InferenceEngine.run``, one scrape, the recorder) come from
``benchmarks/telemetry/costs.py``; this module adds the status page: its first render
in headless Chromium (Debian ``chromium`` + ``chromedriver``), from navigation start to
the figures on screen (the page's ``edgekit-first-render`` performance mark), and its
first contentful paint and load event next to the same figures of the peer in the same
browser and run: Prometheus' own web UI (Debian ``prometheus``: its classic UI,
``/classic/status``, server-rendered with jQuery and Bootstrap).
Cache off, a fresh load each time, loads alternated, medians.
"""

from __future__ import annotations

from benchmarks._common import Report, parse_args, pin_threads

pin_threads()

import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from benchmarks.telemetry import costs  # noqa: E402

_TIMING = """
const nav = performance.getEntriesByType("navigation")[0];
const paint = performance.getEntriesByName("first-contentful-paint")[0];
const mark = performance.getEntriesByName("edgekit-first-render")[0];
return {load: nav ? nav.loadEventEnd : null, fcp: paint ? paint.startTime : null,
        render: mark ? mark.startTime : null};
"""


def _load(driver: Any, url: str, *, mark: bool) -> dict[str, float]:
    """Navigate to ``url``; its timings (ms from navigation start) once loaded and rendered."""
    driver.get("about:blank")
    driver.get(url)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = driver.execute_script(_TIMING)
        if found["load"] and found["fcp"] and (found["render"] or not mark):
            return {k: float(v) for k, v in found.items() if v is not None}
        time.sleep(0.02)
    raise RuntimeError(f"{url} did not render within 30 s: {found}")


def page_rows(report: Report, quick: bool) -> None:
    """The status page's first render, FCP and load event; Prometheus' UI as the peer."""
    from edgekit.infer import InferenceEngine
    from edgekit.sync import DirectoryTransport, SyncEngine, SyncQueue
    from edgekit.telemetry import Telemetry, serve
    from tests._support.browser import chromium, console_errors
    from tests._support.servers import Prometheus
    from tests.infer.models import silero_feeds, silero_path
    from tests.telemetry.screenshot import inventory

    rounds = 5 if quick else 15
    with tempfile.TemporaryDirectory(prefix="edgekit-bench-telemetry-") as tmp:
        root = Path(tmp)
        prometheus = Prometheus(root)
        prometheus.start()
        driver = chromium()
        try:
            with SyncQueue(root / "q") as q, InferenceEngine(silero_path(), warmup=1) as vad:
                q.put_many([b"reading %d" % i for i in range(500)], topic="sensors")
                engine = SyncEngine(q, DirectoryTransport(root / "out"))
                for _ in range(100):
                    vad.run(silero_feeds())
                telemetry = Telemetry(data_dir=root).observe(q, engine, vad, inventory())
                with serve(telemetry, port=prometheus.target_port) as server:
                    driver.execute_cdp_cmd("Network.enable", {})
                    driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
                    # Debian's prometheus ships the classic UI (server-rendered, jQuery and
                    # Bootstrap from its own /classic/static), not the React one.
                    urls = {
                        "edgekit": server.url + "/",
                        "prometheus": prometheus.url + "/classic/status",
                    }
                    for url in urls.values():
                        with urllib.request.urlopen(url, timeout=10) as response:
                            assert response.status == 200, url
                    for name, url in urls.items():  # warm: the browser, both servers
                        _load(driver, url, mark=name == "edgekit")
                    samples: dict[str, list[dict[str, float]]] = {name: [] for name in urls}
                    for _ in range(rounds):
                        for name, url in urls.items():
                            samples[name].append(_load(driver, url, mark=name == "edgekit"))
                    errors = [e for e in console_errors(driver) if server.url in e["message"]]
                    assert not errors, errors
                engine.close()
        finally:
            driver.quit()
            prometheus.stop()

    def median(name: str, key: str) -> float:
        return statistics.median(s[key] for s in samples[name])

    report.add(
        "status page, headless Chromium",
        "first render (figures shown)",
        "ms",
        median("edgekit", "render"),
        target="< 1000 ms",
        note=f"median of {rounds} cold loads (cache off); 39 devices, a queue, sync, inference",
    )
    for key, metric in (("fcp", "first contentful paint"), ("load", "load event end")):
        report.add(
            "status page, headless Chromium",
            metric,
            "ms",
            median("edgekit", key),
            peers={"Prometheus classic UI /classic/status": median("prometheus", key)},
        )


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    report = Report("telemetry", quick=args.quick)
    costs.add_rows(report, quick=args.quick)
    page_rows(report, args.quick)
    report.finish()


if __name__ == "__main__":
    main()
