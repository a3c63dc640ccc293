"""``edgekit demo``: one complete edge application on this machine, step by step.

The demo does real work in every layer and reports what happened:

1. ``scan``: advertises its own ``_edgekit._tcp`` service over mDNS (on 127.0.0.1,
   or every interface with ``lan=True``), then scans mDNS, BLE and WiFi; protocols
   that cannot run here are reported, not raised.
2. ``audio``: "Okay Nabu, ..." spoken by ``espeak-ng`` (or the WAV shipped in the
   package when espeak-ng is missing) through wake-word detection (the
   ``okay_nabu`` microWakeWord model) and voice activity detection (Silero VAD).
3. ``sensor``: a day of a 1 Hz temperature series, compressed by :mod:`edgekit.codec`.
4. ``queue``: every result put on an LMDB :class:`~edgekit.sync.SyncQueue` in a
   per-user data directory (sensor frames through a :class:`SensorUplink`).
5. ``sync``: the queue drained through a :class:`~edgekit.sync.DirectoryTransport`
   (the default), or to NATS JetStream / an MQTT broker when a URL is given.

This module holds the logic and returns plain data; ``edgekit._cli`` renders it.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.dsp._audio_input import to_int16
from edgekit.errors import EdgekitError
from edgekit.pipelines._audio import load_wav

__all__ = ["DEMO_PHRASE", "WAKE_WORD", "DemoReport", "StepResult", "default_data_dir", "run_demo"]

#: What the demo says: the wake word, then a request.
DEMO_PHRASE = "Okay Nabu. What is the temperature in the greenhouse today?"
#: The microWakeWord model that listens for it.
WAKE_WORD = "okay_nabu"
SAMPLE_RATE = 16000
DEMO_WAV = "demo_speech.wav"
SERVICE_TYPE = "_edgekit._tcp"


@dataclass
class StepResult:
    """What one step of the demo did."""

    name: str
    ok: bool
    summary: str
    seconds: float
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class DemoReport:
    """Every step's result, in order; ``ok`` is true when every step succeeded."""

    steps: list[StepResult] = field(default_factory=list)
    data_dir: Path | None = None

    @property
    def ok(self) -> bool:
        return all(step.ok for step in self.steps)

    @property
    def seconds(self) -> float:
        return sum(step.seconds for step in self.steps)


def default_data_dir() -> Path:
    """The per-user data directory of the demo: ``$XDG_DATA_HOME/edgekit/demo``."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return Path(base) / "edgekit" / "demo"


def _read_wav(data: bytes) -> np.ndarray:
    return to_int16(load_wav(io.BytesIO(data), sr=SAMPLE_RATE))


def synthesize(text: str = DEMO_PHRASE, *, voice: str = "en", speed: int = 150) -> np.ndarray:
    """``text`` spoken by espeak-ng as int16 samples at 16 kHz.

    Raises:
        BackendUnavailableError: espeak-ng is not installed.
    """
    from edgekit.errors import BackendUnavailableError

    exe = shutil.which("espeak-ng")
    if exe is None:
        raise BackendUnavailableError(
            "espeak-ng", reason="install it with your package manager (apt-get install espeak-ng)"
        )
    try:
        wav = subprocess.run(
            [exe, "-v", voice, "-s", str(speed), "--stdout", text],
            check=True,
            capture_output=True,
            timeout=60,
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise BackendUnavailableError("espeak-ng", reason=str(exc)) from exc
    return _read_wav(wav)


def demo_speech() -> tuple[np.ndarray, str]:
    """The demo's audio: 0.5 s of silence, the phrase, 1 s of silence; and where it came from."""
    try:
        speech, source = synthesize(), "espeak-ng"
    except EdgekitError:
        data = resources.files("edgekit.pipelines").joinpath(f"data/{DEMO_WAV}").read_bytes()
        speech, source = _read_wav(data), f"edgekit/pipelines/data/{DEMO_WAV}"
    silence = np.zeros(SAMPLE_RATE // 2, dtype=np.int16)
    return np.concatenate([silence, speech, silence, silence]), source


def sensor_series(seconds: int = 86400, *, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """A day of greenhouse temperature at 1 Hz, as a sensor reports it.

    Timestamps are Unix milliseconds from a clock that jitters by a few ms; values
    are a daily cycle plus a slow random walk, quantized to the sensor's 0.01 degC.
    """
    rng = np.random.default_rng(seed)
    start = 1_763_800_000_000
    jitter = np.round(rng.normal(0, 2.0, seconds)).astype(np.int64)
    timestamps = start + np.arange(seconds, dtype=np.int64) * 1000 + jitter
    hours = np.arange(seconds) / 3600.0
    walk = np.cumsum(rng.normal(0, 0.002, seconds))
    values = 21.0 + 6.0 * np.sin((hours - 9.0) / 24.0 * 2 * np.pi) + walk
    return timestamps, np.round(values, 2)


def step_scan(timeout: float, *, lan: bool = False) -> StepResult:
    """Advertise ``_edgekit._tcp`` and scan mDNS, BLE and WiFi for ``timeout`` seconds.

    mDNS runs on 127.0.0.1 unless ``lan`` is true, when it runs on every interface.
    """
    from edgekit.scan import MdnsAdvertiser, MdnsScanner, scan

    start = time.perf_counter()
    name = f"edgekit demo on {socket.gethostname()}"
    interfaces: list[str] | str = "all" if lan else ["127.0.0.1"]
    details: dict[str, Any] = {"interfaces": interfaces, "advertised": name}
    with MdnsAdvertiser(
        name,
        SERVICE_TYPE,
        port=8080,
        txt={"version": "1", "role": "gateway"},
        addresses=None if lan else ["127.0.0.1"],
        interfaces=interfaces,
    ):
        inventory = scan(timeout=timeout, mdns=MdnsScanner(interfaces=interfaces))
    own = [d for d in inventory if any(s.startswith(SERVICE_TYPE) for s in d.services)]
    details.update(
        {
            "inventory": inventory,
            "devices": len(inventory),
            "unavailable": dict(inventory.unavailable),
            "found_self": bool(own),
        }
    )
    protocols_run = [p for p in ("mdns", "ble", "wifi") if p not in inventory.unavailable]
    summary = (
        f"{len(inventory)} device(s) over {', '.join(protocols_run) or 'no protocol'}; "
        f"own _edgekit._tcp service {'found' if own else 'NOT found'}"
    )
    return StepResult("scan", bool(own), summary, time.perf_counter() - start, details)


def step_audio() -> StepResult:
    """Wake-word detection and voice activity detection on speech."""
    from edgekit.pipelines.vad import VoiceActivityDetector
    from edgekit.pipelines.wakeword import WakeWordDetector

    start = time.perf_counter()
    audio, source = demo_speech()
    detector = WakeWordDetector(WAKE_WORD)
    detections = []
    block = SAMPLE_RATE // 100  # 10 ms blocks, as from a microphone
    for offset in range(0, len(audio), block):
        detections.extend(detector.process(audio[offset : offset + block]))
    vad = VoiceActivityDetector()
    segments = vad.segments(audio)
    details = {
        "source": source,
        "audio_seconds": len(audio) / SAMPLE_RATE,
        "detections": [
            {"name": d.name, "time_s": round(d.time_s, 2), "probability": round(d.probability, 3)}
            for d in detections
        ],
        "segments": [
            {"start_s": round(s.start_s, 2), "end_s": round(s.end_s, 2)} for s in segments
        ],
    }
    wake = ", ".join(f"{d.name} at {d.time_s:.2f} s" for d in detections) or "no wake word"
    speech = ", ".join(f"{s.start_s:.2f}-{s.end_s:.2f} s" for s in segments) or "no speech"
    summary = f"{len(audio) / SAMPLE_RATE:.1f} s of speech ({source}): {wake}; speech at {speech}"
    return StepResult("audio", bool(segments), summary, time.perf_counter() - start, details)


def step_sensor(queue: Any) -> StepResult:
    """Compress a day of 1 Hz readings and hand the frames to the queue through an uplink."""
    from edgekit.codec import compress, decompress
    from edgekit.pipelines.uplink import SensorUplink

    start = time.perf_counter()
    timestamps, values = sensor_series()
    raw = timestamps.nbytes + values.nbytes
    packed_t, packed_v = compress(timestamps), compress(values)
    if not (
        np.array_equal(decompress(packed_t), timestamps)
        and np.array_equal(decompress(packed_v), values)
    ):
        return StepResult("sensor", False, "round trip failed", time.perf_counter() - start)
    uplink = SensorUplink(queue, topic="greenhouse/temperature")
    for t, v in zip(timestamps.tolist(), values.tolist(), strict=True):
        uplink.append(t, v)
    uplink.flush()
    ratio = raw / (len(packed_t) + len(packed_v))
    details = {
        "points": len(values),
        "raw_bytes": raw,
        "timestamps_bytes": len(packed_t),
        "values_bytes": len(packed_v),
        "ratio": ratio,
        "bits_per_timestamp": 8 * len(packed_t) / len(timestamps),
    }
    summary = (
        f"{len(values):,} readings: {raw:,} B -> {len(packed_t) + len(packed_v):,} B "
        f"({ratio:.1f}x, {details['bits_per_timestamp']:.2f} bits per timestamp)"
    )
    return StepResult("sensor", True, summary, time.perf_counter() - start, details)


def step_queue(queue: Any, results: list[StepResult]) -> StepResult:
    """Put a JSON record of every earlier step's result on the queue."""
    start = time.perf_counter()
    for result in results:
        details = {k: v for k, v in result.details.items() if k != "inventory"}
        if "inventory" in result.details:
            details["devices"] = json.loads(result.details["inventory"].to_json())
        record = {
            "step": result.name,
            "ok": result.ok,
            "summary": result.summary,
            "details": details,
        }
        queue.put(json.dumps(record, default=str).encode(), topic=f"demo/{result.name}")
    stats = queue.stats()
    summary = f"{len(queue)} message(s) waiting in {queue.path}"
    return StepResult("queue", True, summary, time.perf_counter() - start, {"stats": stats})


def step_sync(queue: Any, transport: str, timeout: float = 30.0) -> StepResult:
    """Drain the queue through ``transport`` and wait for every message to be confirmed."""
    from edgekit.sync import SyncEngine

    start = time.perf_counter()
    before = len(queue)
    engine = SyncEngine(queue, transport)
    try:
        sent = engine.sync_now(timeout=timeout)
        status = engine.status()
    finally:
        engine.stop()
    where = transport if transport != "auto" else f"{queue.path}.outbox"
    ok = len(queue) == 0
    summary = f"{sent} of {before} message(s) delivered to {where}; {len(queue)} left"
    return StepResult(
        "sync", ok, summary, time.perf_counter() - start, {"status": status, "target": where}
    )


def run_demo(
    *,
    data_dir: str | os.PathLike[str] | None = None,
    transport: str = "auto",
    scan_timeout: float = 3.0,
    lan: bool = False,
    sync_timeout: float = 30.0,
    on_step: Callable[[str], None] | None = None,
    on_result: Callable[[StepResult], None] | None = None,
) -> DemoReport:
    """Run every step of the demo; see the module docstring.

    Args:
        data_dir: Where the queue lives (default :func:`default_data_dir`).
        transport: ``"auto"`` (a directory next to the queue), or a ``nats://`` or
            ``mqtt://`` URL as for :class:`~edgekit.sync.SyncEngine`.
        scan_timeout: Seconds to scan.
        lan: Advertise and scan mDNS on every interface (default: 127.0.0.1 only).
        sync_timeout: Seconds to wait for the queue to drain.
        on_step: Called with a step's name before it starts (progress).
        on_result: Called with each step's result as soon as it is done.
    """
    from edgekit.sync import SyncQueue

    directory = Path(data_dir) if data_dir is not None else default_data_dir()
    directory.mkdir(parents=True, exist_ok=True)
    report = DemoReport(data_dir=directory)

    def run(name: str, fn: Callable[[], StepResult]) -> None:
        if on_step is not None:
            on_step(name)
        start = time.perf_counter()
        try:
            result = fn()
        except EdgekitError as exc:
            result = StepResult(
                name, False, f"{type(exc).__name__}: {exc}", time.perf_counter() - start
            )
        report.steps.append(result)
        if on_result is not None:
            on_result(result)

    with SyncQueue(directory / "queue") as queue:
        run("scan", lambda: step_scan(scan_timeout, lan=lan))
        run("audio", step_audio)
        run("sensor", lambda: step_sensor(queue))
        run("queue", lambda: step_queue(queue, list(report.steps)))
        run("sync", lambda: step_sync(queue, transport, sync_timeout))
    return report
