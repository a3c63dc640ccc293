"""Find speech segments with edgekit.pipelines.VoiceActivityDetector (Silero VAD).

Reads a 16 kHz mono 16-bit WAV file, or, without one, speaks two sentences with
espeak-ng with silence around them; streams the audio in 20 ms blocks, printing
each segment as soon as it is complete, then the speech probability as bars.

    python examples/pipelines_vad.py [file.wav]

Needs: pip install "edgekit[onnx]", pip install --no-deps silero-vad, and espeak-ng
when no WAV is given.
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
import wave

import numpy as np

from edgekit.pipelines import VoiceActivityDetector

BLOCK = 320  # samples: 20 ms at 16 kHz


def espeak(text: str) -> np.ndarray:
    """``text`` spoken by espeak-ng, resampled to 16 kHz int16."""
    wav = subprocess.run(["espeak-ng", "--stdout", text], check=True, capture_output=True).stdout
    with wave.open(io.BytesIO(wav)) as reader:
        rate = reader.getframerate()
        samples = np.frombuffer(reader.readframes(reader.getnframes()), "<i2").astype(np.float64)
    t = np.arange(0, len(samples) / rate, 1 / 16000)
    return np.interp(t, np.arange(len(samples)) / rate, samples).astype(np.int16)


def read_wav(path: str) -> np.ndarray:
    with wave.open(path) as reader:
        if (reader.getframerate(), reader.getnchannels(), reader.getsampwidth()) != (16000, 1, 2):
            sys.exit(f"{path}: needs 16 kHz mono 16-bit PCM")
        return np.frombuffer(reader.readframes(reader.getnframes()), "<i2").astype(np.int16)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wav", nargs="?", help="16 kHz mono 16-bit WAV file (default: espeak-ng)")
    args = parser.parse_args(argv)
    if args.wav:
        audio = read_wav(args.wav)
    elif shutil.which("espeak-ng"):
        silence = np.zeros(16000, np.int16)
        audio = np.concatenate(
            [
                silence,
                espeak("edge devices listen for voices"),
                silence,
                espeak("then sleep"),
                silence,
            ]
        )
    else:
        print("give a WAV file, or install espeak-ng", file=sys.stderr)
        return 2
    vad = VoiceActivityDetector()
    print(vad)
    for start in range(0, len(audio), BLOCK):  # a microphone loop
        for segment in vad.process(audio[start : start + BLOCK]):
            print(f"speech {segment.start_s:6.2f} s .. {segment.end_s:6.2f} s")
    for segment in vad.flush():
        print(f"speech {segment.start_s:6.2f} s .. {segment.end_s:6.2f} s (at the end)")
    probs = vad.scores(audio)
    step = vad.window / vad.sr
    for i in range(0, len(probs), 4):  # every 4th 32 ms window
        p = float(probs[i])
        print(f"{i * step:6.2f} s {p:4.2f} {'#' * int(p * 40)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
