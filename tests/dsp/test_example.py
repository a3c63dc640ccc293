"""The streaming-microphone example runs on a WAV file when there is no microphone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from tests._support.audio import write_wav

ROOT = Path(__file__).resolve().parents[2]


def test_example_streams_a_wav_file(tmp_path: Path, speech) -> None:
    pcm = speech("testing the streaming example", sr=22050)  # resampled to 16 kHz inside
    path = write_wav(tmp_path / "words.wav", pcm, sr=22050)
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
