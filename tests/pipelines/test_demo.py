"""`edgekit demo` end to end: every layer does real work, and failures exit non-zero."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from edgekit.pipelines import demo

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 240):
    return subprocess.run(
        [sys.executable, "-m", "edgekit", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        timeout=timeout,
    )


def test_demo_runs_every_layer_and_exits_zero(tmp_path: Path) -> None:
    result = run_cli("demo", "--data-dir", str(tmp_path), "--scan-timeout", "2", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    steps = {step["name"]: step for step in report["steps"]}
    assert list(steps) == ["scan", "audio", "sensor", "queue", "sync"]
    assert all(step["ok"] for step in steps.values()), steps
    assert "own _edgekit._tcp service found" in steps["scan"]["summary"]
    assert f"{demo.WAKE_WORD} at" in steps["audio"]["summary"], steps["audio"]
    assert "readings" in steps["sensor"]["summary"]
    # What was synced sits in the outbox as files the transport wrote atomically.
    outbox = tmp_path / "queue.outbox"
    assert outbox.is_dir() and any(outbox.iterdir())
    assert "0 left" in steps["sync"]["summary"]


def test_demo_with_unreachable_nats_fails_clearly(tmp_path: Path) -> None:
    result = run_cli(
        "demo",
        "--data-dir",
        str(tmp_path),
        "--scan-timeout",
        "1",
        "--sync-timeout",
        "2",
        "--nats",
        "nats://127.0.0.1:9",
    )
    assert result.returncode != 0
    assert "sync" in result.stdout and "did not complete" in result.stdout


def test_demo_without_the_nats_extra_names_it(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "sys.modules['nats'] = None\n"
        "from edgekit._cli import main\n"
        f"sys.exit(main(['demo', '--data-dir', {str(tmp_path)!r}, '--scan-timeout', '1',"
        " '--sync-timeout', '2', '--nats', 'nats://127.0.0.1:9']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=240,
        env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"},
    )
    assert result.returncode != 0
    assert "edgekit[nats]" in result.stdout


def test_demo_rejects_two_upstreams() -> None:
    result = run_cli("demo", "--nats", "nats://x", "--mqtt", "mqtt://y")
    assert result.returncode != 0
    assert "not both" in result.stderr


def test_shipped_speech_matches_the_phrase_and_format() -> None:
    path = ROOT / "edgekit" / "pipelines" / "data" / demo.DEMO_WAV
    with wave.open(str(path)) as reader:
        assert (reader.getnchannels(), reader.getsampwidth(), reader.getframerate()) == (
            1,
            2,
            16000,
        )
        assert reader.getnframes() > 16000


def test_demo_speech_falls_back_to_the_shipped_wav(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo.shutil, "which", lambda name: None)
    audio, source = demo.demo_speech()
    assert source.endswith(demo.DEMO_WAV)
    assert audio.dtype == np.int16 and len(audio) > 2 * 16000


def test_sensor_series_is_a_realistic_clock() -> None:
    t, v = demo.sensor_series(3600)
    steps = np.diff(t)
    assert np.all(np.abs(steps - 1000) < 50)  # ms
    assert np.array_equal(v, np.round(v, 2))
