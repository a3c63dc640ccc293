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
                "5",  # the answer comes after ~1.1 s (just announced: held for 1 s)
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


@pytest.mark.parametrize("option", ["--type", "--service-type"])
def test_edgekit_scan_bare_type_name(capsys: pytest.CaptureFixture[str], option: str) -> None:
    bare = unique_type().split(".")[0].lstrip("_")  # "ek1a2b3c4d": means _ek1a2b3c4d._tcp
    stype = f"_{bare}._tcp.local."
    with MdnsAdvertiser("Bare", stype, 80, interfaces=LOOPBACK):
        args = ["scan", "--mdns", "--json", "--interface", "127.0.0.1", option, bare]
        assert main([*args, "--timeout", "5"]) == 0
    devices = json.loads(capsys.readouterr().out)
    assert [(d["name"], d["services"]) for d in devices] == [("Bare", [stype])]


@pytest.mark.parametrize("bad", ["a b", "http://printer", "_http._sctp"])
def test_edgekit_scan_bad_type_is_one_line(capsys: pytest.CaptureFixture[str], bad: str) -> None:
    assert main(["scan", "--mdns", "--type", bad, "--timeout", "0.2"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and "is not a DNS-SD service type" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_edgekit_scan_says_when_mdns_found_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["scan", "--mdns", "--json", "--interface", "127.0.0.1", "--type", unique_type()]
    assert main([*args, "--timeout", "0.3"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == []
    (line,) = [x for x in captured.err.splitlines() if "warning" in x]
    assert line.startswith("warning: mDNS found no _ek") and "timeout=5" in line
