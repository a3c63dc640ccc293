"""Every ``edgekit`` error is one line on stderr with a non-zero status, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import numpy as np
import pytest

from edgekit._cli import main
from edgekit._cli.root import DEBUG_ENV, cli


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and "\n" not in err, err
    assert err.startswith("Error: ")
    return err


def test_scan_bad_type(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "--mdns", "--type", "no such type!", "--timeout", "0.1"]) != 0
    assert "no such type!" in _one_line_error(capsys)


def test_codec_bad_file_and_unwritable_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad.ekc").write_bytes(b"not a frame")
    assert main(["codec", "info", str(tmp_path / "bad.ekc")]) != 0
    assert "frame" in _one_line_error(capsys)
    np.save(tmp_path / "x.npy", np.arange(10))
    target = tmp_path / "missing" / "x.ekc"
    assert main(["codec", "compress", str(tmp_path / "x.npy"), str(target)]) != 0
    assert _one_line_error(capsys) == f"Error: No such file or directory: {target}"


@pytest.fixture
def buggy_command() -> Iterator[str]:
    """A command with a bug, added to the real root group for one test."""

    @click.command("buggy-test-command")
    def buggy() -> None:
        table: dict[str, int] = {}
        table["missing key"] += 1

    cli.add_command(buggy)
    yield "buggy-test-command"
    cli.commands.pop("buggy-test-command")


def test_unexpected_error_is_one_line_with_a_hint(
    buggy_command: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(DEBUG_ENV, raising=False)
    assert main([buggy_command]) == 1
    err = _one_line_error(capsys)
    assert "unexpected KeyError: 'missing key'" in err and f"{DEBUG_ENV}=1" in err
    monkeypatch.setenv(DEBUG_ENV, "1")
    with pytest.raises(KeyError):  # the traceback, for whoever asked for it
        main([buggy_command])


def test_the_installed_command_prints_no_traceback(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "edgekit", "sync", str(tmp_path), "--nats", "nat://x:4222"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0 and "Traceback" not in done.stderr
    assert "nats://host:4222" in done.stderr
