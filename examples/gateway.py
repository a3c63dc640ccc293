"""An edge gateway in one script: every edgekit layer, wired the way a host application would.

- audio (a WAV argument, or espeak-ng speech) streams in 20 ms blocks through a wake-word
  detector and a voice activity detector (dsp -> infer, in edgekit.pipelines);
- a simulated temperature sensor feeds a SensorUplink (codec -> sync queue);
- detections and speech segments go on the same durable SyncQueue as JSON events;
- the gateway announces itself over mDNS and scans for gateways (scan), on 127.0.0.1;
- a SyncEngine drains the queue through a DirectoryTransport (the outbox a real uplink
  would be: NATS, MQTT or HTTP with a URL instead).

    python examples/gateway.py [--data DIR] [--model okay_nabu] [file.wav]

Runs with no network services. Needs: pip install "edgekit[onnx,litert,mdns]",
pip install --no-deps silero-vad, and espeak-ng when no WAV is given.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

from edgekit.codec import decode_series
from edgekit.errors import EdgekitError
from edgekit.pipelines import SensorUplink, VoiceActivityDetector, WakeWordDetector
from edgekit.scan import MdnsAdvertiser, scan_mdns
from edgekit.sync import DirectoryTransport, SyncEngine, SyncQueue

BLOCK = 320  # samples: 20 ms at 16 kHz
LOOPBACK = ["127.0.0.1"]


def espeak(text: str) -> np.ndarray:
    """``text`` spoken by espeak-ng, resampled to 16 kHz int16."""
    wav = subprocess.run(["espeak-ng", "--stdout", text], check=True, capture_output=True).stdout
    with wave.open(io.BytesIO(wav)) as reader:
        rate = reader.getframerate()
        samples = np.frombuffer(reader.readframes(reader.getnframes()), "<i2").astype(np.float64)
    t = np.arange(0, len(samples) / rate, 1 / 16000)
    return np.interp(t, np.arange(len(samples)) / rate, samples).astype(np.int16)


def audio_source(wav: str | None, phrase: str) -> np.ndarray:
    if wav:
        with wave.open(wav) as reader:
            if (reader.getframerate(), reader.getnchannels(), reader.getsampwidth()) != (
                16000,
                1,
                2,
            ):
                sys.exit(f"{wav}: needs 16 kHz mono 16-bit PCM")
            return np.frombuffer(reader.readframes(reader.getnframes()), "<i2").astype(np.int16)
    if shutil.which("espeak-ng") is None:
        sys.exit("give a WAV file, or install espeak-ng")
    silence = np.zeros(8000, np.int16)
    return np.concatenate(
        [silence, espeak(phrase), silence, espeak("turn on the kitchen light"), silence]
    )


def listen(queue: SyncQueue, audio: np.ndarray, model: str) -> None:
    """The microphone loop: wake word and voice activity on every block; events to the queue."""
    wake, vad = WakeWordDetector(model), VoiceActivityDetector()
    events = []
    for start in range(0, len(audio), BLOCK):
        block = audio[start : start + BLOCK]
        for d in wake.process(block):
            events.append(
                {"event": "wake_word", "name": d.name, "time_s": d.time_s, "p": d.probability}
            )
        for s in vad.process(block):
            events.append({"event": "speech", "start_s": s.start_s, "end_s": s.end_s})
    for s in vad.flush():
        events.append({"event": "speech", "start_s": s.start_s, "end_s": s.end_s})
    for event in events:
        print("  audio:", json.dumps(event))
        queue.put(json.dumps(event).encode(), topic="events", priority=1)
    print(f"  audio: {len(audio) / 16000:.1f} s, {len(events)} events queued")


def sense(queue: SyncQueue, n: int = 600) -> None:
    """A temperature sensor sampled every 10 s, compressed in frames of 256 readings."""
    rng = np.random.default_rng(0)
    t0 = time.time_ns()
    uplink = SensorUplink(queue, topic="temperature", frame_points=256)
    for i in range(n):
        reading = round(21.0 + 2 * np.sin(i / 90) + rng.normal(0, 0.05), 2)
        uplink.append(t0 + i * 10_000_000_000, reading)
    uplink.flush()
    ratio = n * 16 / uplink.bytes_put
    print(
        f"  sensor: {n} readings -> {uplink.frames_put} frames, {uplink.bytes_put} bytes ({ratio:.1f}x)"
    )


def discover() -> None:
    """Announce this gateway over mDNS and browse for gateways (loopback only)."""
    try:
        with MdnsAdvertiser(
            "edgekit gateway", "_edgekit._tcp", 8765, txt={"layers": "5"}, interfaces=LOOPBACK
        ):
            found = scan_mdns(["_edgekit._tcp"], timeout=5.0, interfaces=LOOPBACK)
    except EdgekitError as exc:
        print(f"  mdns: unavailable ({exc})")
        return
    for service in found:
        print(f"  mdns: {service.name} at {', '.join(service.addresses)}:{service.port}")
    print(f"  mdns: {len(found)} gateway(s) found")


def run(data: Path, wav: str | None, model: str) -> None:
    """The gateway: queue and outbox in ``data``."""
    outbox = data / "outbox"
    started = time.perf_counter()
    with SyncQueue(data / "queue") as queue:
        print("listening")
        listen(queue, audio_source(wav, model.replace("_", " ")), model)
        print("sensing")
        sense(queue)
        print("discovering")
        discover()
        print("syncing")
        with SyncEngine(queue, DirectoryTransport(outbox)) as engine:
            sent = engine.sync_now(timeout=30)
        print(f"  sync: {sent} messages delivered to {outbox}, {len(queue)} left in the queue")
    delivered = DirectoryTransport.read(outbox)
    readings = sum(
        len(decode_series(m["payload"])[0]) for m in delivered if m["topic"] == "temperature"
    )
    events = [json.loads(m["payload"]) for m in delivered if m["topic"] == "events"]
    print(
        f"outbox: {len(delivered)} messages: {len(events)} events, {readings} sensor readings "
        f"({time.perf_counter() - started:.1f} s)"
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wav", nargs="?", help="16 kHz mono 16-bit WAV file")
    parser.add_argument("--data", help="directory for the queue and outbox (default: a temp dir)")
    parser.add_argument("--model", default="okay_nabu")
    args = parser.parse_args(argv)
    if args.data:
        run(Path(args.data), args.wav, args.model)
    else:
        with tempfile.TemporaryDirectory(prefix="edgekit-gateway-") as tmp:
            run(Path(tmp), args.wav, args.model)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
