"""Real models from PyPI: Silero VAD (ONNX, state in/out) and microWakeWord (int8 TFLite, stateful)."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.infer import InferenceEngine
from tests._support.audio import pymicro_features as micro_features
from tests._support.runtimes import raw_litert, raw_ort_session
from tests.infer import models

OUT = "StatefulPartitionedCall:0"


def silero_probabilities(engine: InferenceEngine, audio: np.ndarray) -> np.ndarray:
    """Speech probability of each 512-sample chunk of float audio at 16 kHz (64-sample context)."""
    state = np.zeros((2, 1, 128), np.float32)
    context = np.zeros(64, np.float32)
    sr = np.array(16000, np.int64)
    probs = []
    for start in range(0, len(audio) - 511, 512):
        chunk = audio[start : start + 512]
        out = engine.run(
            {"input": np.concatenate([context, chunk])[None], "state": state, "sr": sr}
        )
        state, context = out["stateN"], chunk[-64:]
        probs.append(float(out["output"][0, 0]))
    return np.asarray(probs)


def wakeword_probabilities(engine: InferenceEngine, features: np.ndarray) -> np.ndarray:
    """Probability per 3-frame stride (30 ms), as microWakeWord streams it."""
    return np.asarray(
        [
            engine.run(features[i : i + 3][None], quantized=False)[OUT].item()
            for i in range(0, len(features) - 2, 3)
        ]
    )


def test_silero_equals_raw_onnxruntime_exactly(silero_path, speech):
    engine = InferenceEngine(silero_path)
    raw = raw_ort_session(silero_path)
    audio = speech("testing one two three").astype(np.float32) / 32768
    state_e = state_r = np.zeros((2, 1, 128), np.float32)
    sr = np.array(16000, np.int64)
    for start in range(0, 576 * 12, 576):
        x = audio[start : start + 576][None]
        ours = engine.run({"input": x, "state": state_e, "sr": sr})
        theirs = raw.run(None, {"input": x, "state": state_r, "sr": sr})
        np.testing.assert_array_equal(ours["output"], theirs[0])
        np.testing.assert_array_equal(ours["stateN"], theirs[1])
        state_e, state_r = ours["stateN"], theirs[1]


def test_silero_separates_speech_from_silence(silero_path, speech):
    engine = InferenceEngine(silero_path)
    voice = speech("the quick brown fox jumps over the lazy dog").astype(np.float32) / 32768
    second = np.zeros(16000, np.float32)
    probs = silero_probabilities(engine, np.concatenate([second, voice, second]))
    lead = len(second) // 512
    spoken = len(voice) // 512
    silence = np.concatenate([probs[: lead - 1], probs[lead + spoken + 4 :]])
    talking = probs[lead + 2 : lead + spoken - 2]
    assert silence.max() < 0.2, silence.max()
    assert np.median(talking) > 0.8, np.median(talking)


@pytest.mark.parametrize("name", list(models.WAKE_WORDS))
def test_microwakeword_equals_raw_litert_exactly(name, speech):
    path = models.wakeword_path(name)
    engine = InferenceEngine(path)
    raw = raw_litert(path)
    (inp,) = raw.get_input_details()
    (out,) = raw.get_output_details()
    scale, zero = inp["quantization"]
    features = micro_features(speech(models.WAKE_WORDS[name]))
    assert len(features) > 30
    for i in range(0, len(features) - 2, 3):
        q = np.clip(np.rint(features[i : i + 3][None] / np.float32(scale)) + zero, -128, 127)
        q = q.astype(np.int8)
        raw.set_tensor(inp["index"], q)
        raw.invoke()
        np.testing.assert_array_equal(engine.run(q)[OUT], raw.get_tensor(out["index"]))


@pytest.mark.parametrize("name", ["okay_nabu", "alexa", "hey_mycroft"])
def test_microwakeword_scores_its_wake_word_above_other_phrases(name, speech):
    """espeak-ng's voice of each wake word scores higher than everyday phrases.

    (hey_jarvis is left out here: it does not fire on espeak-ng's voice at all; its
    outputs are still compared with raw LiteRT above.)
    """
    pad = np.zeros(8000, np.int16)

    def peak(text: str) -> float:
        engine = InferenceEngine(models.wakeword_path(name))
        features = micro_features(np.concatenate([pad, speech(text), pad]))
        probs = wakeword_probabilities(engine, features)
        window = 5  # the model's sliding_window_size
        return float(np.convolve(probs, np.ones(window) / window, "valid").max())

    wake = peak(models.WAKE_WORDS[name])
    others = [peak(text) for text in ("what time is it", "good morning everyone", "open the door")]
    assert wake > 0.5, wake
    assert wake > max(others) + 0.3, (wake, others)
