"""The streaming-microphone example runs on a WAV file when there is no microphone."""

from __future__ import annotations

import os
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def test_example_streams_a_wav_file(tmp_path: Path, speech) -> None:
    pcm = speech("testing the streaming example", sr=22050)  # resampled to 16 kHz inside
    path = tmp_path / "words.wav"
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(22050)
        writer.writeframes(pcm.astype("<i2").tobytes())
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "dsp_stream_microphone.py"), "--wav", str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=True,
    ).stdout
    assert "SPEECH" in out
    blocks = int(out.strip().splitlines()[-1].split()[0])
    assert abs(blocks - len(pcm) * 16000 / 22050 / 160) < 3
    assert np.isfinite(blocks)
