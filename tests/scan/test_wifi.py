"""WiFi parsers on captured tool output (tests/scan/data), and WifiScanner's backend choice.

The fixtures reproduce each tool's real output format for one radio
environment: the same ten networks seen by nmcli (terse mode, ``\\``-escaped
``:``), ``iw dev wlp2s0 scan`` (SSID bytes ``\\xNN``-escaped, RSN/WPA IEs),
macOS ``system_profiler SPAirPortDataType -json`` (no BSSIDs) and Windows
``netsh wlan show networks mode=bssid`` (CRLF line ends): hidden SSIDs, escaped
and non-ASCII SSIDs, open/WEP/WPA/WPA2/WPA3/transition/OWE/Enterprise, and the
2.4, 5 and 6 GHz bands.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgekit.errors import BackendUnavailableError, EdgekitError, InvalidInputError, ScanError
from edgekit.scan import (
    AccessPoint,
    WifiScanner,
    channel_to_frequency,
    frequency_to_channel,
    parse_iw_scan,
    parse_netsh,
    parse_nmcli,
    parse_system_profiler,
)

DATA = Path(__file__).parent / "data"
CAFE = "Café Wi‑Fi ☕"


def by_bssid(aps: list[AccessPoint]) -> dict[str | None, AccessPoint]:
    return {ap.bssid: ap for ap in aps}


def test_nmcli() -> None:
    aps = by_bssid(parse_nmcli((DATA / "nmcli_wifi_list.txt").read_text("utf-8")))
    assert len(aps) == 10
    home = aps["AA:BB:CC:11:22:33"]
    assert (home.ssid, home.frequency_mhz, home.channel, home.band) == ("HomeNet", 2437, 6, "2.4")
    assert home.security == "WPA2" and home.rssi_dbm == -40.0 and home.source == "nmcli"
    assert aps["AA:BB:CC:11:22:34"].security == "WPA2/WPA3"
    six = aps["AA:BB:CC:11:22:35"]
    assert (six.band, six.channel, six.frequency_mhz, six.security) == ("6", 37, 6135, "WPA3")
    assert aps["DE:AD:BE:EF:00:01"].ssid == ""
    assert aps["10:20:30:40:50:60"].ssid == CAFE and aps["10:20:30:40:50:60"].security == "open"
    guest = aps["10:20:30:40:50:61"]
    assert guest.ssid == "Cafe:Guest\\net" and guest.security == "OWE" and guest.band == "5"
    assert aps["10:20:30:40:50:62"].security == "WPA2-Enterprise"
    assert aps["10:20:30:40:50:63"].security == "WEP"
    assert aps["10:20:30:40:50:64"].security == "WPA/WPA2"
    assert aps["10:20:30:40:50:65"].security == "open"


def test_iw_scan() -> None:
    aps = by_bssid(parse_iw_scan((DATA / "iw_scan.txt").read_text("utf-8")))
    assert len(aps) == 9
    home = aps["AA:BB:CC:11:22:33"]
    assert (home.ssid, home.channel, home.band, home.rssi_dbm) == ("HomeNet", 6, "2.4", -41.0)
    assert home.security == "WPA2"
    assert aps["AA:BB:CC:11:22:34"].security == "WPA2/WPA3"
    assert aps["AA:BB:CC:11:22:34"].frequency_mhz == 5180
    six = aps["AA:BB:CC:11:22:35"]
    assert (six.band, six.channel, six.security) == ("6", 37, "WPA3")
    assert aps["DE:AD:BE:EF:00:01"].ssid == ""  # zero-filled hidden SSID
    assert aps["10:20:30:40:50:60"].ssid == CAFE and aps["10:20:30:40:50:60"].security == "open"
    guest = aps["10:20:30:40:50:61"]
    assert guest.ssid == " Cafe:Guest\\net " and guest.security == "OWE"
    assert aps["10:20:30:40:50:62"].security == "WPA2-Enterprise"
    assert aps["10:20:30:40:50:63"].security == "WEP"
    assert aps["10:20:30:40:50:64"].security == "WPA/WPA2"


def test_system_profiler() -> None:
    aps = {
        ap.ssid: ap
        for ap in parse_system_profiler((DATA / "system_profiler_airport.json").read_text("utf-8"))
    }
    assert len(aps) == 6
    assert all(ap.bssid is None for ap in aps.values())
    current = aps["HomeNet-5G"]
    assert (current.channel, current.band, current.frequency_mhz, current.rssi_dbm) == (
        36,
        "5",
        5180,
        -58.0,
    )
    assert current.security == "WPA2/WPA3"
    assert aps["HomeNet"].security == "WPA2" and aps["HomeNet"].band == "2.4"
    assert (aps["HomeNet-6E"].band, aps["HomeNet-6E"].frequency_mhz) == ("6", 6135)
    assert aps["HomeNet-6E"].security == "WPA3"
    assert aps[CAFE].security == "open"
    assert aps['Cafe"Guest\\net'].security == "OWE"
    assert aps["CorpNet"].security == "WPA2-Enterprise"


def test_netsh() -> None:
    aps = by_bssid(parse_netsh((DATA / "netsh_networks_bssid.txt").read_text("utf-8")))
    assert len(aps) == 7
    home = aps["AA:BB:CC:11:22:33"]
    assert (home.ssid, home.channel, home.band, home.frequency_mhz) == ("HomeNet", 6, "2.4", 2437)
    assert home.rssi_dbm == -50.5 and home.security == "WPA2"
    assert aps["AA:BB:CC:11:22:34"].ssid == "HomeNet" and aps["AA:BB:CC:11:22:34"].band == "5"
    six = aps["AA:BB:CC:11:22:35"]
    assert (six.band, six.channel, six.frequency_mhz, six.security) == ("6", 37, 6135, "WPA3")
    assert aps["DE:AD:BE:EF:00:01"].ssid == ""
    assert aps["10:20:30:40:50:60"].ssid == CAFE and aps["10:20:30:40:50:60"].security == "open"
    assert (
        aps["10:20:30:40:50:61"].ssid == "Cafe:Guest\\net"
        and aps["10:20:30:40:50:61"].security == "OWE"
    )
    assert aps["10:20:30:40:50:62"].security == "WPA2-Enterprise"


@pytest.mark.parametrize(
    ("freq", "expected"),
    [
        (2412, (1, "2.4")),
        (2484, (14, "2.4")),
        (5180, (36, "5")),
        (5825, (165, "5")),
        (5955, (1, "6")),
        (5935, (2, "6")),
        (7115, (233, "6")),
        (900, None),
    ],
)
def test_channels(freq: int, expected: tuple[int, str] | None) -> None:
    assert frequency_to_channel(freq) == expected
    if expected:
        assert channel_to_frequency(*expected) == freq


def test_bad_band() -> None:
    with pytest.raises(InvalidInputError):
        channel_to_frequency(1, "60")


_LINES = st.sampled_from(
    [
        (DATA / name).read_text("utf-8").splitlines()
        for name in ("nmcli_wifi_list.txt", "iw_scan.txt", "netsh_networks_bssid.txt")
    ]
)


@given(
    st.text(max_size=300)
    | _LINES.flatmap(
        lambda lines: st.lists(st.sampled_from(lines) | st.text(max_size=40), max_size=30).map(
            "\n".join
        )
    )
)
def test_fuzz_parsers(text: str) -> None:
    for parse in (parse_nmcli, parse_iw_scan, parse_system_profiler, parse_netsh):
        try:
            parse(text)
        except EdgekitError:
            pass
        except (ValueError, KeyError, AttributeError, TypeError) as exc:  # pragma: no cover
            raise AssertionError(f"{parse.__name__} leaked {exc!r}") from exc


def _fake_tool(directory: Path, name: str, fixture: Path, status: int = 0) -> None:
    script = directory / name
    script.write_text(f"#!/bin/sh\ncat '{fixture}'\nexit {status}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


def test_scanner_runs_nmcli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_tool(tmp_path, "nmcli", DATA / "nmcli_wifi_list.txt")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    aps = WifiScanner("nmcli").scan()
    assert len(aps) == 10


def test_scanner_auto_falls_back_to_iw(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "devs.txt").write_text("phy#0\n\tInterface wlp2s0\n\t\tifindex 3\n")
    script = tmp_path / "iw"
    script.write_text(
        f"#!/bin/sh\nif [ \"$1\" = dev ] && [ $# -eq 1 ]; then cat '{tmp_path / 'devs.txt'}'; "
        f"else cat '{DATA / 'iw_scan.txt'}'; fi\n"
    )
    script.chmod(0o755)
    _fake_tool(
        tmp_path, "nmcli", DATA / "nmcli_wifi_list.txt", status=8
    )  # NetworkManager not running
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}/usr/bin:/bin")
    monkeypatch.setattr("sys.platform", "linux")
    aps = WifiScanner().scan()
    assert len(aps) == 9 and aps[0].source == "iw"


def test_scanner_reports_why_nothing_works(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr("sys.platform", "linux")
    with pytest.raises(BackendUnavailableError, match=r"nmcli.*iw"):
        WifiScanner().scan()
    with pytest.raises(BackendUnavailableError):
        WifiScanner("iw").scan()


def test_scanner_tool_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_tool(tmp_path, "nmcli", DATA / "nmcli_wifi_list.txt", status=10)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}/usr/bin:/bin")
    with pytest.raises(ScanError):
        WifiScanner("nmcli").scan()


async def test_memory_backend_and_async() -> None:
    ap = AccessPoint("AA:BB:CC:00:00:01", "Lab", 2412, 1, "2.4", -40.0, "WPA2", "memory")
    scanner = WifiScanner("memory", access_points=[ap])
    assert await scanner.async_scan() == [ap]
    assert scanner.scan() == [ap]  # blocking, safe inside a running loop
    with pytest.raises(InvalidInputError):
        WifiScanner("airport")
