"""Fixtures of the pipelines tests: the peers' own pipelines as oracles.

- pymicro-wakeword's ``MicroWakeWord`` / ``MicroWakeWordFeatures`` run as they are;
- silero's ``OnnxWrapper`` re-done on a plain onnxruntime session (silero_vad itself
  imports torch), and silero's own ``get_speech_timestamps_from_probs`` taken from
  the installed ``silero_vad/utils_vad.py`` (compiled alone: it needs no torch).
"""

from __future__ import annotations

import ast
import typing
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest

from edgekit.pipelines import silero_model_path


@dataclass
class PymicroRun:
    """What pymicro-wakeword decided at each model step of a clip."""

    raw: list[float] = field(default_factory=list)  # the model's probability
    averaged: list[float] = field(default_factory=list)  # process_streaming_prob
    decisions: list[bool] = field(default_factory=list)  # process_streaming
    times: list[float] = field(default_factory=list)  # end of the step's audio, s


def pymicro_run(
    name: str, samples: np.ndarray, *, cutoff: float | None = None, window: int | None = None
) -> PymicroRun:
    """Run pymicro-wakeword's own pipeline (MicroWakeWordFeatures -> MicroWakeWord) on a clip."""
    from pymicro_wakeword import MicroWakeWord, MicroWakeWordFeatures, Model

    mww = MicroWakeWord.from_builtin(Model(name))
    if cutoff is not None or window is not None:
        mww = MicroWakeWord(
            mww.id,
            wake_word=mww.wake_word,
            tflite_model=mww.tflite_model,
            probability_cutoff=mww.probability_cutoff if cutoff is None else cutoff,
            sliding_window_size=mww.sliding_window_size if window is None else window,
            trained_languages=mww.trained_languages,
            libtensorflowlite_c_path=mww.libtensorflowlite_c_path,
        )
    features = MicroWakeWordFeatures()
    run = PymicroRun()
    frames = features.process_streaming(samples.astype("<i2").tobytes())
    for n_features, frame in enumerate(frames, start=1):
        before = len(mww._features)
        prob = mww.process_streaming_prob(frame)
        if before + 1 == mww.stride:  # the model ran on this frame
            assert prob is not None
            run.raw.append(float(mww._probabilities[-1]))
            run.averaged.append(prob)
            run.decisions.append(prob > mww.probability_cutoff)
            run.times.append((160 * (n_features - 1) + 480) / 16000)
    mww.close()
    return run


@pytest.fixture(scope="session")
def pymicro() -> Callable[..., PymicroRun]:
    return pymicro_run


def silero_wrapper_probs(samples: np.ndarray, sr: int = 16000) -> np.ndarray:
    """Speech probabilities of silero's OnnxWrapper, as get_speech_timestamps computes them.

    A plain onnxruntime session with silero's session options (1 intra-op and 1
    inter-op thread); 512-sample windows (256 at 8 kHz), the last one zero-padded;
    64 (32) samples of context in front; state carried.
    """
    import onnxruntime

    opts = onnxruntime.SessionOptions()
    opts.inter_op_num_threads = 1
    opts.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(silero_model_path()), sess_options=opts)
    audio = samples.astype(np.float32) / 32768 if samples.dtype == np.int16 else samples
    window, context_size = (512, 64) if sr == 16000 else (256, 32)
    state = np.zeros((2, 1, 128), dtype=np.float32)
    context = np.zeros((1, context_size), dtype=np.float32)
    probs = []
    for start in range(0, len(audio), window):
        chunk = audio[start : start + window]
        if len(chunk) < window:
            chunk = np.pad(chunk, (0, window - len(chunk)))
        x = np.concatenate([context, chunk[None].astype(np.float32)], axis=1)
        out, state = session.run(
            None, {"input": x, "state": state, "sr": np.array(sr, dtype="int64")}
        )
        context = x[..., -context_size:]
        probs.append(float(out.item()))
    return np.array(probs)


@pytest.fixture(scope="session")
def silero_probs() -> Callable[..., np.ndarray]:
    return silero_wrapper_probs


@pytest.fixture(scope="session")
def silero_timestamps() -> Callable[..., list[dict[str, int]]]:
    """silero_vad's own ``get_speech_timestamps_from_probs``, compiled from the installed source."""
    source_path = silero_model_path().parent.parent / "utils_vad.py"
    tree = ast.parse(source_path.read_text(encoding="utf-8"))
    fn = next(
        node
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name == "get_speech_timestamps_from_probs"
    )
    namespace: dict[str, typing.Any] = {"List": typing.List}  # noqa: UP006 - its annotations
    exec(compile(ast.Module(body=[fn], type_ignores=[]), str(source_path), "exec"), namespace)
    return namespace["get_speech_timestamps_from_probs"]  # type: ignore[no-any-return]
