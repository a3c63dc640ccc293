"""Wake-word detection with a microWakeWord int8 TFLite model through edgekit.infer.

Computes TFLite Micro frontend features (pymicro-features) of speech, feeds them
30 ms at a time to the stateful model with ``quantized=False`` (float features in,
probability out), and reports the peak of the 5-window average per phrase.

    python examples/infer_wakeword.py [okay_nabu|alexa|hey_mycroft|hey_jarvis]

Needs: pip install "edgekit[litert]" pymicro-features, and espeak-ng.
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np

from edgekit.infer import InferenceEngine
from edgekit.pipelines.wakeword import MODELS_DIR

PHRASES = {
    "okay_nabu": "okay nabu",
    "alexa": "alexa",
    "hey_mycroft": "hey mycroft",
    "hey_jarvis": "hey jarvis",
}


def model_path(name: str) -> Path:
    return MODELS_DIR / f"{name}.tflite"  # the microWakeWord models edgekit ships


def speak(text: str) -> np.ndarray:
    wav = subprocess.run(["espeak-ng", "--stdout", text], check=True, capture_output=True).stdout
    with wave.open(io.BytesIO(wav)) as reader:
        rate = reader.getframerate()
        samples = np.frombuffer(reader.readframes(reader.getnframes()), "<i2").astype(np.float64)
    t = np.arange(0, len(samples) / rate, 1 / 16000)
    audio = np.interp(t, np.arange(len(samples)) / rate, samples).astype(np.int16)
    pad = np.zeros(8000, np.int16)
    return np.concatenate([pad, audio, pad])


def features(audio: np.ndarray) -> np.ndarray:
    from pymicro_features import MicroFrontend

    frontend, data, pos, out = MicroFrontend(), audio.tobytes(), 0, []
    while pos + 320 <= len(data):
        result = frontend.process_samples(data[pos : pos + 320])
        pos += result.samples_read * 2
        if result.features:
            out.append(result.features)
    return np.asarray(out, np.float32)


def run(name: str) -> None:
    engine = InferenceEngine(model_path(name))
    print(engine)
    output = engine.outputs[0].name
    for text in (PHRASES[name], "what time is it", "good morning everyone"):
        engine.reset()  # a fresh stream: the model keeps state between calls
        f = features(speak(text))
        probs = [
            float(engine.run(f[i : i + 3][None], quantized=False)[output].item())
            for i in range(0, len(f) - 2, 3)
        ]
        peak = np.convolve(probs, np.ones(5) / 5, "valid").max()
        print(f"{text!r:28} peak {peak:.3f} {'<- wake word' if peak > 0.5 else ''}")
    print(engine.stats())


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default="okay_nabu", choices=list(PHRASES))
    args = parser.parse_args(argv)
    try:
        import pymicro_features  # noqa: F401
    except ImportError:
        sys.exit("this example needs pymicro-features: pip install pymicro-features")
    if shutil.which("espeak-ng") is None:
        sys.exit("this example needs espeak-ng (Debian: apt-get install espeak-ng)")
    run(args.model)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
