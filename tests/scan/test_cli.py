"""``edgekit scan`` end to end on loopback."""

from __future__ import annotations

import json

import pytest

from edgekit._cli import main
from edgekit.scan import MdnsAdvertiser
from tests.scan.test_mdns import LOOPBACK, unique_type


def test_edgekit_scan_mdns_json(capsys: pytest.CaptureFixture[str]) -> None:
    stype = unique_type()
    with MdnsAdvertiser("CLI printer", stype, 631, txt={"ty": "Laser"}, interfaces=LOOPBACK):
        status = main(
            [
                "scan",
                "--mdns",
                "--timeout",
                "1.5",
                "--json",
                "--interface",
                "127.0.0.1",
                "--type",
                stype,
            ]
        )
    assert status == 0
    devices = json.loads(capsys.readouterr().out)
    assert [d["name"] for d in devices] == ["CLI printer"]
    assert devices[0]["services"] == [stype]


def test_edgekit_scan_table_and_unavailable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path}/none")
    status = main(["scan", "--ble", "--wifi", "--timeout", "0.3"])
    out = capsys.readouterr().out
    assert status == 0
    assert "0 devices" in out and "ble unavailable" in out and "wifi unavailable" in out


def test_edgekit_scan_only_protocol_fails(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr("sys.platform", "linux")
    assert main(["scan", "--wifi", "--timeout", "0.2"]) == 1
    assert "not available" in capsys.readouterr().err
