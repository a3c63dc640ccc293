"""Regenerate ``demo_speech.wav``, the demo's speech for machines without espeak-ng.

Run from the repository root: ``python edgekit/pipelines/data/make_demo_speech.py``.
It needs espeak-ng; the WAV is 16 kHz, 16-bit mono, the phrase of
``edgekit.pipelines.demo.DEMO_PHRASE``.
"""

from __future__ import annotations

import wave
from pathlib import Path

from edgekit.pipelines.demo import DEMO_PHRASE, SAMPLE_RATE, synthesize


def main() -> None:
    samples = synthesize(DEMO_PHRASE)
    target = Path(__file__).with_name("demo_speech.wav")
    with wave.open(str(target), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(SAMPLE_RATE)
        writer.writeframes(samples.astype("<i2").tobytes())
    print(f"wrote {target} ({len(samples) / SAMPLE_RATE:.2f} s)")


if __name__ == "__main__":
    main()
