"""Voice activity with Silero VAD through edgekit.infer.

Speaks a sentence with espeak-ng (or reads a 16 kHz mono WAV given as argument),
pads it with a second of silence on each side, and prints the speech probability
of every 32 ms chunk as a bar.

    python examples/infer_silero_vad.py [file.wav]

Needs: pip install "edgekit[onnx]" and silero-vad (``pip install --no-deps silero-vad``:
its dependencies would pull torch, which this example does not need).
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np

from edgekit.infer import InferenceEngine


def silero_model() -> Path:
    spec = importlib.util.find_spec("silero_vad")  # found, not imported: importing pulls torch
    if spec is None or not spec.submodule_search_locations:
        sys.exit("silero-vad is not installed: pip install --no-deps silero-vad")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "silero_vad.onnx"


def read_audio(wav: str | None) -> np.ndarray:
    if wav:
        data = Path(wav).read_bytes()
    elif shutil.which("espeak-ng"):
        data = subprocess.run(
            ["espeak-ng", "--stdout", "edge devices listen for voices"],
            check=True,
            capture_output=True,
        ).stdout
    else:
        sys.exit("give a 16 kHz mono WAV file, or install espeak-ng")
    with wave.open(io.BytesIO(data)) as reader:
        rate = reader.getframerate()
        samples = np.frombuffer(reader.readframes(reader.getnframes()), "<i2")
    if rate != 16000:  # espeak-ng speaks at 22050 Hz: resample crudely by interpolation
        t = np.arange(0, len(samples) / rate, 1 / 16000)
        samples = np.interp(t, np.arange(len(samples)) / rate, samples)
    return samples.astype(np.float32) / 32768


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wav", nargs="?", help="16 kHz mono 16-bit WAV file (default: espeak-ng)")
    args = parser.parse_args(argv)
    audio = read_audio(args.wav)
    silence = np.zeros(16000, np.float32)
    audio = np.concatenate([silence, audio, silence])
    # No ResultCache here: the state input changes every chunk, so even silent chunks
    # never repeat bit for bit and every lookup would be a miss.
    engine = InferenceEngine(silero_model())
    state = np.zeros((2, 1, 128), np.float32)
    context = np.zeros(64, np.float32)
    sr = np.array(16000, np.int64)
    for i, start in enumerate(range(0, len(audio) - 511, 512)):
        chunk = audio[start : start + 512]
        out = engine.run(
            {"input": np.concatenate([context, chunk])[None], "state": state, "sr": sr}
        )
        state, context = out["stateN"], chunk[-64:]
        p = float(out["output"][0, 0])
        print(f"{i * 32:6d} ms {p:5.2f} {'#' * int(p * 40)}")
    print(engine.stats())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
