"""WakeWordDetector: the same probabilities and decisions as pymicro-wakeword on espeak-ng speech."""

from __future__ import annotations

import json
import shutil
import wave
from pathlib import Path

import numpy as np
import pytest

from edgekit.errors import InvalidInputError, ModelLoadError
from edgekit.pipelines import WAKE_WORD_MODELS, Detection, WakeWordDetector
from edgekit.pipelines._audio import package_dir
from edgekit.pipelines.wakeword import MODELS_DIR
from tests._support.audio import padded, write_wav

PHRASES = {
    "alexa": "alexa",
    "hey_jarvis": "hey javis",  # espeak-ng's "jarvis" does not sound like the model's
    "hey_mycroft": "hey mycroft",
    "okay_nabu": "okay nabu",
}
# (voice, speed in words per minute) of espeak-ng
VOICES = [("en", 160), ("en-us", 120), ("en+f3", 160), ("en+m3", 200)]
OTHER = ["what time is it", "turn on the kitchen light", "good morning everyone"]


def models_dir() -> Path:
    """pymicro-wakeword's own models folder (the oracle's)."""
    return package_dir("pymicro_wakeword", "pymicro-wakeword", extra=None) / "models"


def test_shipped_models_are_pymicro_wakewords_bytes() -> None:
    """edgekit carries pymicro-wakeword's models (its wheels are x86-64 only): same bytes."""
    shipped = sorted(p.name for p in MODELS_DIR.iterdir() if p.suffix in (".tflite", ".json"))
    assert shipped == sorted(f"{n}{ext}" for n in WAKE_WORD_MODELS for ext in (".tflite", ".json"))
    for name in shipped:
        assert (MODELS_DIR / name).read_bytes() == (models_dir() / name).read_bytes(), name


@pytest.fixture(scope="module")
def detectors() -> dict[str, WakeWordDetector]:
    return {name: WakeWordDetector(name) for name in WAKE_WORD_MODELS}


def clips(speech) -> list[tuple[str, str, str, int, np.ndarray]]:
    out = []
    for name, phrase in PHRASES.items():
        for voice, speed in VOICES:
            out.append(
                (name, phrase, voice, speed, padded(speech(phrase, voice=voice, speed=speed)))
            )
        for i, text in enumerate(OTHER):
            voice, speed = VOICES[i]
            out.append((name, text, voice, speed, padded(speech(text, voice=voice, speed=speed))))
    return out


def test_probabilities_and_decisions_equal_pymicro_wakeword(speech, detectors, pymicro) -> None:
    """Every model step: raw probability, window average and decision as pymicro-wakeword's."""
    detected: dict[str, int] = {name: 0 for name in PHRASES}
    false_alarms = 0
    for name, text, voice, speed, audio in clips(speech):
        detector = detectors[name]
        ref = pymicro(name, audio)
        label = f"{name} on {text!r} ({voice}, {speed} wpm)"
        raw = detector.scores(audio)
        averaged = detector.scores(audio, averaged=True)
        assert raw.tolist() == ref.raw, label
        assert averaged.tolist() == ref.averaged, label
        assert ((averaged > detector.cutoff).tolist()) == ref.decisions, label
        np.testing.assert_allclose(detector.step_times(len(raw)), ref.times, rtol=0, atol=1e-12)
        found = detector.detect(audio)
        assert bool(found) == any(ref.decisions), label
        if text == PHRASES[name]:
            detected[name] += bool(found)
        else:
            false_alarms += bool(found)
    # espeak-ng speech does trigger every model.
    assert sum(detected.values()) >= 10, detected
    assert min(detected.values()) >= 1, detected
    assert false_alarms == 0


def wyoming_detections(
    name: str, audio: np.ndarray, pymicro, refractory_s: float
) -> list[Detection]:
    """pymicro-wakeword's decisions reported with wyoming-microwakeword's refractory rule."""
    ref = pymicro(name, audio)
    out: list[Detection] = []
    last = None
    for t, avg, decision in zip(ref.times, ref.averaged, ref.decisions, strict=True):
        if not decision or (last is not None and t - last < refractory_s):
            continue
        last = t
        out.append(Detection(name, t, avg))
    return out


@pytest.mark.parametrize("refractory_s", [0.0, 2.0, 10.0])
def test_detections_follow_the_refractory_rule(speech, pymicro, refractory_s) -> None:
    word = speech("alexa", voice="en", speed=160)
    audio = padded(word, word, word, gap=16000)  # three times, a second apart
    detector = WakeWordDetector("alexa", refractory_s=refractory_s)
    expected = wyoming_detections("alexa", audio, pymicro, refractory_s)
    found = detector.detect(audio)
    assert found == expected
    assert all(isinstance(d, Detection) and d.name == "alexa" for d in found)
    if refractory_s == 0.0:
        assert len(found) > 3  # every positive step
    elif refractory_s == 2.0:
        assert len(found) == 3  # one per utterance (2 s apart)
    else:
        assert len(found) == 1


def test_blocks_of_any_size_give_the_same_detections(speech) -> None:
    audio = padded(speech("okay nabu"), speech("okay nabu", voice="en-us", speed=120), gap=40000)
    detector = WakeWordDetector("okay_nabu")
    whole = detector.detect(audio)
    assert len(whole) == 2
    rng = np.random.default_rng(7)
    for sizes in ([1, 2, 3], [159, 160, 161], [480], [1000, 4096], list(range(50, 900, 37))):
        detector.reset()
        found, pos = [], 0
        while pos < len(audio):
            n = int(rng.choice(sizes))
            found += detector.process(audio[pos : pos + n])
            pos += n
        assert found == whole, sizes
    detector.reset()
    assert detector.process(audio.tobytes()) == whole  # PCM bytes
    assert detector.process(np.zeros(0, np.int16)) == []


def test_times_count_from_the_stream_start_and_reset_restarts(speech) -> None:
    word = padded(speech("hey mycroft"))
    detector = WakeWordDetector("hey_mycroft")
    first = detector.process(word)
    assert len(first) == 1 and 0 < first[0].time_s < len(word) / 16000
    assert detector.steps == len(detector.step_times(detector.steps))
    later = detector.process(np.zeros(48000, np.int16)) + detector.process(word)
    assert len(later) == 1
    assert later[0].time_s == pytest.approx(first[0].time_s + 3 + len(word) / 16000, abs=0.031)
    detector.reset()
    assert detector.steps == 0 and detector.probability == 0.0
    assert detector.process(word) == first


def test_detect_file_reads_16k_mono_16bit_wav(tmp_path, speech) -> None:
    audio = padded(speech("alexa"))
    path = write_wav(tmp_path / "alexa.wav", audio)
    detector = WakeWordDetector("alexa")
    found = detector.detect_file(path)
    assert found and found == detector.detect(audio)
    assert detector.detect_file(str(path)) == found


@pytest.mark.parametrize(
    ("rate", "width", "channels", "message"),
    [(8000, 2, 1, "8000 Hz"), (16000, 1, 1, "8-bit"), (16000, 2, 2, "2 channels")],
)
def test_detect_file_refuses_other_formats(tmp_path, rate, width, channels, message) -> None:
    path = tmp_path / "bad.wav"
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(width)
        writer.setframerate(rate)
        writer.writeframes(b"\x00" * 4000)
    with pytest.raises(InvalidInputError, match=message):
        WakeWordDetector("alexa").detect_file(path)


def test_detect_file_refuses_missing_and_non_wav_files(tmp_path) -> None:
    detector = WakeWordDetector("alexa")
    with pytest.raises(InvalidInputError, match="no such file"):
        detector.detect_file(tmp_path / "missing.wav")
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not a wav file at all")
    with pytest.raises(InvalidInputError, match="WAV"):
        detector.detect_file(junk)


def test_config_is_read_from_the_json_beside_the_model(tmp_path) -> None:
    config = json.loads((models_dir() / "okay_nabu.json").read_text())
    detector = WakeWordDetector("okay_nabu")
    assert detector.cutoff == config["micro"]["probability_cutoff"] == 0.85
    assert detector.window == config["micro"]["sliding_window_size"]
    assert detector.stride == 3 and detector.step_s == pytest.approx(0.03)
    assert detector.name == "okay_nabu" and detector.wake_word == "Okay Nabu"
    by_path = WakeWordDetector(models_dir() / "okay_nabu.tflite")
    by_json = WakeWordDetector(str(models_dir() / "okay_nabu.json"))
    for other in (by_path, by_json):
        assert (other.cutoff, other.window, other.name) == (0.85, 5, "okay_nabu")
    # A model copied without its JSON gets the defaults; arguments override either.
    alone = tmp_path / "mine.tflite"
    shutil.copy(models_dir() / "okay_nabu.tflite", alone)
    bare = WakeWordDetector(alone)
    assert (bare.cutoff, bare.window, bare.name) == (0.5, 5, "mine")
    tuned = WakeWordDetector("okay_nabu", cutoff=0.6, window=3)
    assert (tuned.cutoff, tuned.window) == (0.6, 3)
    assert "okay_nabu" in repr(tuned)


def test_cutoff_and_window_overrides_match_pymicro(speech, pymicro) -> None:
    audio = padded(speech("okay nabu", voice="en+f3", speed=120))
    detector = WakeWordDetector("okay_nabu", cutoff=0.6, window=3)
    ref = pymicro("okay_nabu", audio, cutoff=0.6, window=3)
    averaged = detector.scores(audio, averaged=True)
    assert averaged.tolist() == ref.averaged
    assert (averaged > 0.6).tolist() == ref.decisions
    assert any(ref.decisions)


def test_loud_input_saturates_instead_of_wrapping() -> None:
    """Full-scale square waves give features above the int8 range: they saturate at 127.

    (pymicro-wakeword's ``astype(int8)`` wraps them to -128; speech stays in range.)
    """
    t = np.arange(32000) / 16000
    square = (np.sign(np.sin(2 * np.pi * 3000 * t)) * 32767).astype(np.int16)
    scores = WakeWordDetector("alexa").scores(square)
    assert scores.shape == (((len(square) - 480) // 160 + 1) // 3,) and np.all(
        (scores >= 0) & (scores <= 1)
    )


def test_bad_arguments_raise_clear_errors(tmp_path) -> None:
    with pytest.raises(InvalidInputError, match="unknown wake-word model"):
        WakeWordDetector("hey_computer")
    with pytest.raises(ModelLoadError, match="does not exist"):
        WakeWordDetector(tmp_path / "nothing.tflite")
    with pytest.raises(InvalidInputError, match="cutoff"):
        WakeWordDetector("alexa", cutoff=1.5)
    with pytest.raises(InvalidInputError, match="window"):
        WakeWordDetector("alexa", window=0)
    with pytest.raises(InvalidInputError, match="refractory_s"):
        WakeWordDetector("alexa", refractory_s=-1)
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{}")
    with pytest.raises(ModelLoadError, match="microWakeWord config"):
        WakeWordDetector(bad_json)
    silero = tmp_path / "m.tflite"
    silero.write_bytes(b"\x00" * 64)
    with pytest.raises(ModelLoadError):
        WakeWordDetector(silero)
    detector = WakeWordDetector("alexa")
    with pytest.raises(InvalidInputError, match="int16"):
        detector.process(np.zeros(160, np.float32))
    with pytest.raises(InvalidInputError, match="1-D"):
        detector.process(np.zeros((2, 160), np.int16))
    with pytest.raises(InvalidInputError, match="even length"):
        detector.process(b"\x00\x01\x02")
    with pytest.raises(InvalidInputError):
        detector.process([0, 1, 2])  # type: ignore[arg-type]
    assert detector.process(np.zeros(1600, np.int16)) == []  # still usable
