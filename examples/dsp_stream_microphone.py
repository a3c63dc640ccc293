"""Stream microphone audio through edgekit.dsp, 10 ms at a time.

Every block goes through:

- a 80 Hz high-pass ``SosFilter`` (removes DC and rumble),
- ``LevelMeter`` and ``EnergyVad`` (is someone speaking?),
- ``MicroFrontend`` (the 40 uint16 features a microWakeWord model consumes),
- ``MfccStream`` (13 MFCCs of a 25 ms window every 10 ms).

With a microphone (``pip install sounddevice``) it listens for ``--seconds``.
Without one (no ``sounddevice``, no input device, or ``--wav`` given) it plays a
WAV file through the same code path, block by block; with no WAV file at hand it
synthesises one with ``espeak-ng`` (or falls back to a generated chirp).

Run::

    python examples/dsp_stream_microphone.py              # microphone, or a fallback
    python examples/dsp_stream_microphone.py --wav x.wav  # any WAV (resampled to 16 kHz)

Needs: nothing beyond ``pip install edgekit``; sounddevice for a microphone, espeak-ng
for speech when there is neither a microphone nor a WAV file.
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from edgekit import dsp

SR = 16000
BLOCK = SR // 100  # 10 ms


def wav_blocks(path: Path | None) -> Iterator[np.ndarray]:
    """10 ms int16 blocks of a WAV file (mono mix, resampled to 16 kHz) in real-time order."""
    if path is None:
        raw = _fallback_wav()
        print("no microphone: playing synthesised speech")
    else:
        raw = path.read_bytes()
        print(f"no microphone: playing {path}")
    with wave.open(io.BytesIO(raw)) as reader:
        sr = reader.getframerate()
        channels = reader.getnchannels()
        if reader.getsampwidth() != 2:
            raise SystemExit("only 16-bit PCM WAV files are supported")
        pcm = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2")
    pcm = pcm.reshape(-1, channels).mean(axis=1).astype(np.int16)
    resampler = dsp.Resampler(sr, SR) if sr != SR else None
    step = max(1, sr // 100)
    pending = np.zeros(0, dtype=np.int16)
    for start in range(0, len(pcm), step):
        chunk = pcm[start : start + step]
        if resampler is not None:
            out = resampler.process(chunk)  # float32 in [-1, 1)
            chunk = np.clip(np.round(out * 32768), -32768, 32767).astype(np.int16)
        pending = np.concatenate([pending, chunk])
        while len(pending) >= BLOCK:
            yield pending[:BLOCK]
            pending = pending[BLOCK:]


def _fallback_wav() -> bytes:
    exe = shutil.which("espeak-ng")
    if exe:
        text = "hey jarvis. turn on the lights in the kitchen, please."
        return subprocess.run([exe, "--stdout", text], check=True, capture_output=True).stdout
    t = np.arange(2 * SR) / SR
    chirp = 0.3 * np.sin(2 * np.pi * (200 * t + 900 * t**2)) * (t > 0.5)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(SR)
        writer.writeframes((chirp * 32767).astype("<i2").tobytes())
    return buf.getvalue()


def microphone_blocks(seconds: float) -> Iterator[np.ndarray] | None:
    """10 ms int16 blocks from the default input device, or None without one."""
    try:
        import sounddevice as sd  # type: ignore[import-not-found]

        sd.check_input_settings(samplerate=SR, channels=1, dtype="int16")
    except Exception:  # no package, no PortAudio, or no input device
        return None

    def blocks() -> Iterator[np.ndarray]:
        with sd.InputStream(samplerate=SR, channels=1, dtype="int16", blocksize=BLOCK) as stream:
            for _ in range(int(seconds * 100)):
                data, _overflowed = stream.read(BLOCK)
                yield data[:, 0].copy()

    print(f"listening to the microphone for {seconds} s")
    return blocks()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wav", type=Path, help="play this WAV file instead of the microphone")
    parser.add_argument("--seconds", type=float, default=5.0, help="microphone listening time")
    args = parser.parse_args()

    source = None if args.wav else microphone_blocks(args.seconds)
    if source is None:
        source = wav_blocks(args.wav)

    highpass = dsp.SosFilter(dsp.butter(2, 80.0, "highpass", SR))
    meter = dsp.LevelMeter()
    vad = dsp.EnergyVad(threshold_db=-45.0, hangover_blocks=15)
    frontend = dsp.MicroFrontend()
    mfcc = dsp.MfccStream(sr=SR, n_fft=512, hop_length=160, win_length=400, n_mels=40, n_mfcc=13)

    busy = 0.0
    n_blocks = 0
    features = []
    for block in source:
        start = time.perf_counter()
        filtered = highpass.process(block)  # float32
        level = meter.process(filtered)
        speaking = vad.process(filtered)
        words = frontend.process(block)  # (0 or 1, 40) uint16
        cepstra = mfcc.process(filtered)  # (13, 0 or 1) float32
        busy += time.perf_counter() - start
        n_blocks += 1
        features.extend(words)
        if n_blocks % 25 == 0:  # 4 lines a second
            bar = "#" * max(0, int((level.rms_db + 80) / 2))
            state = "SPEECH" if speaking else "      "
            c0 = f"{cepstra[0, -1]:7.1f}" if cepstra.shape[1] else "      -"
            print(f"{n_blocks / 100:5.2f} s {state} {level.rms_db:6.1f} dBFS  mfcc0 {c0}  {bar}")
    if n_blocks:
        frames = np.asarray(features)
        print(
            f"{n_blocks} blocks, {len(frames)} frontend frames; "
            f"{busy / n_blocks * 1e6:.1f} us of DSP per 10 ms block (first block includes JIT load)"
        )


if __name__ == "__main__":
    main()
