"""Fixtures of the scan tests: a private D-Bus daemon with BlueZ mocked by python-dbusmock."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._support.bluez import Bluez, start_bus, wait_for_name

TEMPLATE = Path(__file__).parent / "dbus" / "bluez_adv.py"
SYSTEM_PYTHON = "/usr/bin/python3"  # python3-dbusmock is a Debian package for the system python


@pytest.fixture
def dbus_bus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A private bus daemon, set as the system bus for this test (DBUS_SYSTEM_BUS_ADDRESS)."""
    proc, address = start_bus(tmp_path)
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", address)
    try:
        yield address
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def bluez(dbus_bus: str, tmp_path: Path) -> Iterator[Bluez]:
    """BlueZ mocked by ``python3 -m dbusmock --template tests/scan/dbus/bluez_adv.py`` on the private bus."""
    assert Path(SYSTEM_PYTHON).exists()
    env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": dbus_bus}
    env.pop("PYTHONPATH", None)
    log = open(tmp_path / "dbusmock.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [SYSTEM_PYTHON, "-m", "dbusmock", "--template", str(TEMPLATE)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_name(dbus_bus, "org.bluez", proc)
        yield Bluez(dbus_bus)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
