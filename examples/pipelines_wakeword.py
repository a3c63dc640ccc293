"""Detect a wake word with edgekit.pipelines.WakeWordDetector.

Reads a 16 kHz mono 16-bit WAV file, or, without one, speaks the model's wake word
and an unrelated phrase with espeak-ng, and streams the audio through the detector
in 20 ms blocks as a microphone loop would.

    python examples/pipelines_wakeword.py [--model alexa|hey_jarvis|hey_mycroft|okay_nabu] [file.wav]

Needs: pip install "edgekit[litert]", and espeak-ng when no WAV is given.
(espeak-ng's default voice triggers alexa, okay_nabu and hey_mycroft; for hey_jarvis it
speaks "hey javis", which only some voices, like en-us, say well enough.)
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
import wave

import numpy as np

from edgekit.pipelines import WAKE_WORD_MODELS, WakeWordDetector

BLOCK = 320  # samples: 20 ms at 16 kHz


def espeak(text: str) -> np.ndarray:
    """``text`` spoken by espeak-ng, resampled to 16 kHz int16."""
    wav = subprocess.run(["espeak-ng", "--stdout", text], check=True, capture_output=True).stdout
    with wave.open(io.BytesIO(wav)) as reader:
        rate = reader.getframerate()
        samples = np.frombuffer(reader.readframes(reader.getnframes()), "<i2").astype(np.float64)
    t = np.arange(0, len(samples) / rate, 1 / 16000)
    return np.interp(t, np.arange(len(samples)) / rate, samples).astype(np.int16)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wav", nargs="?", help="16 kHz mono 16-bit WAV file")
    parser.add_argument("--model", default="alexa", choices=WAKE_WORD_MODELS)
    args = parser.parse_args(argv)

    detector = WakeWordDetector(args.model)
    print(detector)
    if args.wav:
        found = detector.detect_file(args.wav)
        print(f"{args.wav}: {len(found)} detection(s)")
        for d in found:
            print(f"  {d.time_s:7.2f} s  {d.name}  p={d.probability:.3f}")
        return 0

    if shutil.which("espeak-ng") is None:
        print("give a WAV file, or install espeak-ng", file=sys.stderr)
        return 2
    silence = np.zeros(8000, np.int16)
    phrase = args.model.replace("_", " ").replace("jarvis", "javis")
    audio = np.concatenate(
        [
            silence,
            espeak(phrase),
            silence,
            espeak("what time is it"),
            silence,
            espeak(phrase),
            silence,
        ]
    )
    print(
        f"streaming {len(audio) / 16000:.1f} s of speech: {phrase!r}, 'what time is it', {phrase!r}"
    )
    for start in range(0, len(audio), BLOCK):  # a microphone loop
        for d in detector.process(audio[start : start + BLOCK]):
            print(f"  {d.time_s:7.2f} s  detected {d.name}  p={d.probability:.3f}")
    scores = detector.scores(audio)
    peak = int(scores.argmax())
    print(
        f"{len(scores)} model steps of {detector.step_s * 1000:.0f} ms; peak probability "
        f"{scores[peak]:.3f} at {detector.step_times(len(scores))[peak]:.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
