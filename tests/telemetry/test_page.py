"""The status page in headless Chromium: it renders the figures, follows the queue live,
logs no console error and asks for nothing beyond its own server.

``python -m tests.telemetry.screenshot`` makes the docs' screenshot (docs/img/status-page.png).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edgekit.telemetry import Server, Telemetry, serve
from edgekit.telemetry.history import History
from tests._support.browser import console_errors, requests
from tests.infer.models import silero_feeds

TOKEN = "page-token-0123456789abcdef"


def wait(driver: Any, condition: Any, timeout: float = 15.0) -> Any:
    from selenium.webdriver.support.wait import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(condition)


def cell(driver: Any, key: str) -> str:
    """The value shown in the row of ``key`` (``queue.depth``), or "" while absent (read in
    one script: the page replaces its rows at each update)."""
    script = "const td = document.querySelector(arguments[0]); return td ? td.textContent : '';"
    return str(driver.execute_script(script, f'tr[data-key="{key}"] td'))


def points(driver: Any, plot: str) -> int:
    """How many points the plot ``plot`` (an svg id) draws."""
    return int(driver.execute_script(f"return document.getElementById('{plot}').dataset.points"))


HOSTILE = '<img src="/x" onerror="document.title=1">'


def hostile_inventory() -> Any:
    """An inventory of one mDNS device whose name is markup (anyone on the network can
    advertise any name): the page must show it as text."""
    from edgekit.scan import Inventory, MdnsService

    inventory = Inventory()
    name = f"{HOSTILE}._http._tcp.local."
    inventory.add_mdns(MdnsService(name, "_http._tcp.local.", "h.local.", ("192.0.2.9",), 80))
    return inventory


@pytest.fixture(scope="module")
def device(tmp_path_factory: pytest.TempPathFactory, vad: Any) -> Iterator[tuple[Any, Server]]:
    from edgekit.state import StateStore
    from edgekit.sync import SyncQueue

    root = tmp_path_factory.mktemp("page")
    with SyncQueue(root / "q") as q, StateStore(root / "state") as state:
        q.put_many([b"reading %d" % i for i in range(3)], topic="sensors")
        state.set("config/rate_hz", 50)
        for _ in range(10):
            vad.run(silero_feeds())
        telemetry = Telemetry(data_dir=root).observe(q, vad, state, hostile_inventory())
        history = History(interval_s=0.2)
        with serve(telemetry, port=0, refresh_s=0.2, history=history) as server:
            yield q, server


def test_page_renders_and_follows_the_queue(browser: Any, device: tuple[Any, Server]) -> None:
    from selenium.webdriver.common.by import By

    q, server = device
    console_errors(browser), requests(browser)  # forget earlier pages
    browser.get(server.url + "/")
    wait(browser, lambda d: cell(d, "queue.depth") == "3")
    assert browser.find_element(By.ID, "health-state").text == "healthy"
    assert cell(browser, "queue.topics.sensors").startswith("3 messages, ")
    assert cell(browser, "infer.model") == "silero_vad.onnx"
    assert cell(browser, "infer.p50_us").endswith(" µs")
    assert cell(browser, "health.disk_free_bytes").endswith("iB")
    assert cell(browser, "state.keys") == "1"
    shown = browser.execute_script("return document.querySelector('#devices td').textContent")
    assert shown == HOSTILE and browser.title == "edgekit status"  # text, not markup
    assert browser.find_element(By.ID, "card-state").is_displayed()
    assert not browser.find_element(By.ID, "card-guard").is_displayed()  # not observed
    # The plots fill as the history samples (every 0.2 s here).
    wait(browser, lambda d: points(d, "plot-queue") >= 3)
    wait(browser, lambda d: points(d, "plot-infer") >= 6)  # p50 and p99
    # Live: the queue changes, the page follows without a reload.
    q.put_many([b"more"] * 4, topic="sensors")
    wait(browser, lambda d: cell(d, "queue.depth") == "7")
    q.ack(q.lease(7))
    wait(browser, lambda d: cell(d, "queue.depth") == "0")
    assert int(browser.find_element(By.TAG_NAME, "body").get_attribute("data-updates")) > 3

    assert console_errors(browser) == []
    asked = requests(browser)
    assert asked and all(url.startswith(server.url + "/") for url in asked), asked
    assert server.url + "/x" not in asked  # the hostile name's <img> never loaded
    assert {url.removeprefix(server.url) for url in asked} >= {
        "/",
        "/static/status.js",
        "/static/status.css",
        "/events",
        "/status.json",
    }


def test_page_with_a_token(browser: Any, tmp_path: Path) -> None:
    """Opened once as /?token=..., the page keeps the token in an HttpOnly cookie and drops it
    from the address; without it the server answers 401 and the page loads nothing."""
    from selenium.webdriver.common.by import By

    with serve(Telemetry(data_dir=tmp_path), port=0, token=TOKEN, refresh_s=0.2) as server:
        try:
            browser.get(f"{server.url}/?token={TOKEN}")
            wait(browser, lambda d: d.find_element(By.ID, "health-state").text == "healthy")
            assert browser.current_url == server.url + "/"
            assert TOKEN not in browser.execute_script("return document.cookie")  # HttpOnly
            assert console_errors(browser) == []
            browser.delete_all_cookies()
            browser.get(server.url + "/")
            assert "a token is needed" in browser.page_source
        finally:
            browser.delete_all_cookies()
            console_errors(browser), requests(browser)
