"""VoiceActivityDetector: silero's probabilities and silero's segments, streaming."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgekit.errors import InvalidInputError
from edgekit.pipelines import SpeechSegment, VoiceActivityDetector, silero_model_path
from tests._support.audio import padded, write_wav


@pytest.fixture(scope="module")
def vad() -> VoiceActivityDetector:
    return VoiceActivityDetector()


@pytest.fixture(scope="module")
def vad_model():
    """``VoiceActivityDetector(**kwargs)`` sharing one loaded model (for many hypothesis runs)."""
    shared = VoiceActivityDetector().engine

    def make(**kwargs) -> VoiceActivityDetector:
        return VoiceActivityDetector(**kwargs, model=shared)

    return make


@pytest.fixture(scope="module")
def two_sentences(speech) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Two espeak sentences with silence around and between; the sample spans of speech."""
    a = speech("edge devices listen for voices")
    b = speech("and then they go back to sleep", voice="en+f3", speed=140)
    gap = 16000
    audio = padded(a, b, gap=gap)
    return audio, [(gap, gap + len(a)), (2 * gap + len(a), 2 * gap + len(a) + len(b))]


def test_probabilities_equal_silero_onnx_wrapper(vad, two_sentences, silero_probs, speech) -> None:
    audio, _ = two_sentences
    probs = vad.scores(audio)
    expected = silero_probs(audio)
    assert probs.shape == (-(-len(audio) // 512),)
    np.testing.assert_array_equal(probs, expected)
    assert probs.max() > 0.9 and probs[:20].max() < 0.1
    odd = speech("testing one two three", voice="en-us", speed=200)[:12345]
    np.testing.assert_array_equal(vad.scores(odd), silero_probs(odd))


def test_streaming_probabilities_equal_the_wrapper_for_any_block_size(
    two_sentences, silero_probs
) -> None:
    audio, _ = two_sentences
    expected = silero_probs(audio)[: len(audio) // 512]
    vad = VoiceActivityDetector()
    seen, pos = [], 0
    for n in [1, 100, 511, 512, 513, 2000, 7777] * 200:
        if pos >= len(audio):
            break
        before = vad._windows
        vad.process(audio[pos : pos + n])
        if vad._windows > before:
            seen.append(vad.probability)
        pos += n
    # the last probability of each call is the wrapper's probability of that window
    assert set(seen) <= set(expected.tolist())


@pytest.mark.parametrize(
    ("threshold", "min_speech_s", "min_silence_s", "speech_pad_s"),
    [
        (0.5, 0.25, 0.1, 0.03),  # silero's defaults
        (0.3, 0.1, 0.05, 0.1),
        (0.6, 0.05, 0.01, 0.2),  # padding wider than half the silence: gaps split
        (0.7, 0.5, 0.3, 0.0),
        (0.5, 0.25, 0.01, 0.03),  # short silences: many segments
    ],
)
def test_segments_equal_silero_get_speech_timestamps(
    speech, silero_timestamps, silero_probs, threshold, min_speech_s, min_silence_s, speech_pad_s
) -> None:
    clips = [
        speech("one, two. three", speed=120),
        speech("the quick brown fox jumps over the lazy dog", voice="en+m3"),
        speech("yes", voice="en-us"),
    ]
    audio = padded(*clips, gap=4000)[:-1234]  # ends mid-window and soon after speech
    vad = VoiceActivityDetector(
        threshold=threshold,
        min_speech_s=min_speech_s,
        min_silence_s=min_silence_s,
        speech_pad_s=speech_pad_s,
    )
    expected = silero_timestamps(
        list(silero_probs(audio)),
        threshold=threshold,
        min_speech_duration_ms=min_speech_s * 1000,
        min_silence_duration_ms=min_silence_s * 1000,
        speech_pad_ms=speech_pad_s * 1000,
        audio_length_samples=len(audio),
    )
    whole = vad.segments(audio)
    assert [(round(s.start_s * 16000), round(s.end_s * 16000)) for s in whole] == [
        (e["start"], e["end"]) for e in expected
    ]
    assert whole
    streamed: list[SpeechSegment] = []
    for pos in range(0, len(audio), 1000):
        streamed += vad.process(audio[pos : pos + 1000])
    streamed += vad.flush()
    assert streamed == whole


def test_segments_cover_the_speech(vad, two_sentences) -> None:
    audio, spans = two_sentences
    segments = vad.segments(audio)
    assert len(segments) == len(spans)
    for segment, (start, end) in zip(segments, spans, strict=True):
        voiced = np.nonzero(np.abs(audio[start:end].astype(np.int32)) > 300)[0]
        first, last = (start + voiced[0]) / 16000, (start + voiced[-1]) / 16000
        assert segment.start_s <= first + 0.1 and segment.end_s >= last - 0.15, (
            segment,
            first,
            last,
        )
        assert segment.start_s >= start / 16000 - 0.2 and segment.end_s <= end / 16000 + 0.2
        assert segment.duration_s == segment.end_s - segment.start_s > 0.5


def test_process_returns_each_segment_once_as_soon_as_it_is_complete(vad, two_sentences) -> None:
    audio, spans = two_sentences
    vad.reset()
    first_end = spans[0][1]
    got = vad.process(audio[: first_end + 8000])  # half a second of silence after speech
    assert len(got) == 1 and not vad.speaking
    assert vad.process(audio[first_end + 8000 : spans[1][0] + 8000]) == []
    assert vad.speaking
    rest = vad.process(audio[spans[1][0] + 8000 :]) + vad.flush()
    assert got + rest == vad.segments(audio)
    assert vad.time_s == 0.0  # flush reset the stream


def test_open_speech_is_closed_by_flush(speech) -> None:
    vad = VoiceActivityDetector()
    words = speech("still talking when it ends", speed=120)
    clip = np.concatenate([np.zeros(8000, np.int16), words[: len(words) * 6 // 10]])
    assert vad.process(clip) == []
    assert vad.speaking
    (segment,) = vad.flush()
    assert segment.end_s == pytest.approx(len(clip) / 16000)


def test_inputs_int16_float_and_bytes_agree(vad, speech) -> None:
    clip = padded(speech("hello there"))
    as_float = clip.astype(np.float32) / 32768
    expected = vad.segments(clip)
    assert expected
    assert vad.segments(as_float) == expected
    assert vad.segments(as_float.astype(np.float64)) == expected
    assert vad.segments(clip.tobytes()) == expected


def test_silence_and_noise_have_no_segments(vad) -> None:
    assert vad.segments(np.zeros(48000, np.int16)) == []
    rng = np.random.default_rng(1)
    assert vad.segments((rng.standard_normal(48000) * 100).astype(np.int16)) == []


def test_segments_of_a_wav_file(tmp_path, vad, speech) -> None:
    clip = padded(speech("read me from a file"))
    path = write_wav(tmp_path / "clip.wav", clip)
    assert vad.segments(path) == vad.segments(clip) != []
    with pytest.raises(InvalidInputError, match="16000 Hz"):
        VoiceActivityDetector(sr=8000).segments(path)


def test_8khz_uses_256_sample_windows(speech, silero_probs) -> None:
    clip = padded(speech("eight kilohertz speech", sr=8000), gap=4000)
    vad = VoiceActivityDetector(sr=8000)
    assert vad.window == 256 and vad.context_size == 32
    np.testing.assert_array_equal(vad.scores(clip), silero_probs(clip, sr=8000))
    assert len(vad.segments(clip)) == 1


def test_model_path_can_be_given(speech) -> None:
    path = silero_model_path()
    assert path.name == "silero_vad.onnx" and path.is_file()
    clip = padded(speech("a model by path"))
    assert VoiceActivityDetector(model=path).segments(clip) == VoiceActivityDetector().segments(
        clip
    )


def test_bad_arguments_raise_clear_errors(tmp_path) -> None:
    with pytest.raises(InvalidInputError, match="sr"):
        VoiceActivityDetector(sr=44100)
    with pytest.raises(InvalidInputError, match="threshold"):
        VoiceActivityDetector(threshold=2)
    with pytest.raises(InvalidInputError, match="min_silence_s"):
        VoiceActivityDetector(min_silence_s=-1)
    vad = VoiceActivityDetector()
    with pytest.raises(InvalidInputError, match="1-D"):
        vad.process(np.zeros((2, 512), np.int16))
    with pytest.raises(InvalidInputError, match="int16 PCM or float"):
        vad.process(np.zeros(512, np.int32))
    with pytest.raises(InvalidInputError, match="NaN"):
        vad.process(np.full(512, np.nan, np.float32))
    with pytest.raises(InvalidInputError, match="even length"):
        vad.process(b"\x00")
    with pytest.raises(InvalidInputError, match="numpy array"):
        vad.process([0.0] * 512)  # type: ignore[arg-type]
    assert vad.process(np.zeros(512, np.int16)) == []  # still usable
    with pytest.raises(InvalidInputError, match="no such file"):
        vad.segments(tmp_path / "missing.wav")


@given(
    probs=st.lists(st.sampled_from([0.0, 0.2, 0.34, 0.36, 0.5, 0.51, 0.9]), max_size=120),
    tail=st.integers(0, 511),
    threshold=st.sampled_from([0.5, 0.3]),
    min_speech_s=st.sampled_from([0.0, 0.05, 0.25]),
    min_silence_s=st.sampled_from([0.0, 0.02, 0.1, 0.3]),
    speech_pad_s=st.sampled_from([0.0, 0.03, 0.1, 0.25]),
    block=st.sampled_from([512, 1000, 4096]),
)
@settings(max_examples=300)
def test_streaming_segmentation_equals_silero_on_any_probabilities(
    vad_model,
    silero_timestamps,
    probs,
    tail,
    threshold,
    min_speech_s,
    min_silence_s,
    speech_pad_s,
    block,
) -> None:
    """The segmentation state machine alone: model probabilities replaced by a sequence."""
    n = len(probs) * 512 - (512 - tail if tail and probs else 0)
    vad = vad_model(
        threshold=threshold,
        min_speech_s=min_speech_s,
        min_silence_s=min_silence_s,
        speech_pad_s=speech_pad_s,
    )
    feed = iter(probs)
    vad._prob = lambda chunk: next(feed)  # type: ignore[method-assign]
    got: list[SpeechSegment] = []
    audio = np.zeros(n, np.int16)
    for pos in range(0, n, block):
        got += vad.process(audio[pos : pos + block])
    got += vad.flush()
    expected = silero_timestamps(
        probs,
        threshold=threshold,
        min_speech_duration_ms=min_speech_s * 1000,
        min_silence_duration_ms=min_silence_s * 1000,
        speech_pad_ms=speech_pad_s * 1000,
        audio_length_samples=n,
    )
    assert [(round(s.start_s * 16000), round(s.end_s * 16000)) for s in got] == [
        (e["start"], e["end"]) for e in expected
    ]
