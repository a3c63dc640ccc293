"""The pipelines examples run as scripts (subprocesses), on espeak speech and on WAV files."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests._support.audio import padded, write_wav

ROOT = Path(__file__).resolve().parents[2]


#: Seconds an example may take: about 8 s alone here; CI's loaded test workers (each
#: compiling kernels for other tests at the same time) once took the gateway past 120.
EXAMPLE_TIMEOUT = 240


def run_example(name: str, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    try:
        result = subprocess.run(
            [sys.executable, str(ROOT / "examples" / name), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=EXAMPLE_TIMEOUT,
            cwd=ROOT,
        )
    except subprocess.TimeoutExpired as exc:  # the whole output: where it stopped
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout
        pytest.fail(f"{name} did not finish in {EXAMPLE_TIMEOUT} s; its output:\n{out}")
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_wakeword_example_detects_in_espeak_speech() -> None:
    out = run_example("pipelines_wakeword.py", "--model", "alexa")
    assert out.count("detected alexa") == 2, out


def test_wakeword_example_reads_a_wav(tmp_path, speech) -> None:
    path = write_wav(tmp_path / "w.wav", padded(speech("okay nabu")))
    out = run_example("pipelines_wakeword.py", "--model", "okay_nabu", str(path))
    assert "1 detection(s)" in out and "okay_nabu" in out, out


def test_vad_example_prints_segments(tmp_path, speech) -> None:
    out = run_example("pipelines_vad.py")
    assert out.count("speech ") == 2, out
    path = write_wav(tmp_path / "v.wav", padded(speech("one sentence in a file")))
    assert run_example("pipelines_vad.py", str(path)).count("speech ") == 1


def test_gateway_example_runs_every_layer(tmp_path) -> None:
    out = run_example("gateway.py", "--data", str(tmp_path))
    assert '"event": "wake_word"' in out and '"event": "speech"' in out, out
    assert "600 readings" in out, out
    # Other tests may announce _edgekit._tcp on loopback at the same time: the
    # gateway must find itself, and may find them too.
    assert "mdns: edgekit gateway._edgekit._tcp.local. at 127.0.0.1:8765" in out, out
    assert re.search(r"mdns: [1-9]\d* gateway\(s\) found", out), out
    assert "0 left in the queue" in out, out
    files = sorted((tmp_path / "outbox").glob("*.json"))
    assert files
    messages = [m for f in files for m in json.loads(f.read_bytes())["messages"]]
    assert {m["topic"] for m in messages} == {"events", "temperature"}
