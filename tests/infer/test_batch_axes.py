"""Per-input batch axes: Silero VAD merged along axis 1 of its state, shared scalar inputs."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from edgekit.errors import InvalidInputError
from edgekit.infer import InferenceEngine, MemoryModel, TensorInfo
from tests._support.runtimes import raw_ort_session

F32 = np.dtype("float32")
I64 = np.dtype("int64")
SR = np.array(16000, np.int64)


def _streams(speech, n: int) -> list[np.ndarray]:
    """``n`` streams of real speech (espeak-ng), float32 in [-1, 1], of different texts and voices."""
    texts = ["testing one two three", "the quick brown fox", "edge devices listen", "hello"]
    voices = ["en", "en-us", "de", "fr"]
    return [
        speech(texts[i % len(texts)], voice=voices[i % len(voices)]).astype(np.float32) / 32768
        for i in range(n)
    ]


def _alone(silero_path, audio: np.ndarray, chunks: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Raw ONNX Runtime on one stream, one chunk at a time: (output, stateN) per chunk."""
    raw = raw_ort_session(silero_path)
    state = np.zeros((2, 1, 128), np.float32)
    out = []
    for k in range(chunks):
        x = audio[k * 576 : (k + 1) * 576][None]
        prob, state = raw.run(None, {"input": x, "state": state, "sr": SR})
        out.append((prob, state))
    return out


def test_silero_batch_axes(silero_path):
    engine = InferenceEngine(silero_path)
    assert engine.batchable
    assert engine.batch_axes == {"input": 0, "state": 1, "sr": None, "output": 0, "stateN": -1}
    engine.close()


async def test_silero_streams_merged_equal_each_stream_alone(silero_path, speech):
    """Eight streams with their own state, batched along the state's axis 1: bit-exact."""
    streams = _streams(speech, 8)
    chunks = 12
    expected = [_alone(silero_path, audio, chunks) for audio in streams]
    engine = InferenceEngine(silero_path, max_batch=8)

    async def stream(i: int) -> None:
        state = np.zeros((2, 1, 128), np.float32)
        for k in range(chunks):
            x = streams[i][k * 576 : (k + 1) * 576][None]
            out = await engine.async_run({"input": x, "state": state, "sr": SR})
            np.testing.assert_array_equal(out["output"], expected[i][k][0])
            np.testing.assert_array_equal(out["stateN"], expected[i][k][1])
            assert out["stateN"].flags.c_contiguous
            state = out["stateN"]

    await asyncio.gather(*(stream(i) for i in range(8)))
    assert max(engine.stats().batch_sizes) > 1, engine.stats().batch_sizes
    assert engine.batch_axes["stateN"] == 1  # found on the first merged batch
    engine.close()


def test_silero_threads_merge_along_the_state_axis(silero_path, speech):
    streams = _streams(speech, 6)
    expected = [_alone(silero_path, audio, 1)[0] for audio in streams]
    engine = InferenceEngine(silero_path, max_delay_us=20_000)
    feeds = [
        {"input": audio[:576][None], "state": np.zeros((2, 1, 128), np.float32), "sr": SR}
        for audio in streams
    ]
    futures = [engine.submit(f) for f in feeds]
    for future, (prob, state) in zip(futures, expected, strict=True):
        out = future.result(timeout=10)
        np.testing.assert_array_equal(out["output"], prob)
        np.testing.assert_array_equal(out["stateN"], state)
    engine.close()


def test_inputs_whose_batch_axes_disagree_fail_at_submission(silero_path):
    engine = InferenceEngine(silero_path)
    bad = {
        "input": np.zeros((2, 576), np.float32),
        "state": np.zeros((2, 1, 128), np.float32),
        "sr": SR,
    }
    with pytest.raises(InvalidInputError, match=r"'input' has 2 along axis 0, 'state' has 1"):
        engine.submit(bad)
    engine.close()


async def test_a_request_whose_batch_axes_disagree_fails_alone(silero_path):
    engine = InferenceEngine(silero_path)
    good = {
        "input": np.zeros((1, 576), np.float32),
        "state": np.zeros((2, 1, 128), np.float32),
        "sr": SR,
    }
    bad = dict(good, state=np.zeros((2, 3, 128), np.float32))
    outs = await asyncio.gather(
        *(engine.async_run(bad if i == 2 else good) for i in range(5)), return_exceptions=True
    )
    assert isinstance(outs[2], InvalidInputError) and "disagree" in str(outs[2])
    for i in (0, 1, 3, 4):
        assert outs[i]["output"].shape == (1, 1)
    assert engine.stats().errors == 1
    engine.close()


def _scaled_model(calls: list[tuple[int, float]]) -> MemoryModel:
    """``y = x * scale`` with a scalar ``scale`` shared by the batch; logs (rows, scale) per call."""

    def fn(feeds):
        calls.append((len(feeds["x"]), float(feeds["scale"])))
        return {"y": feeds["x"] * feeds["scale"]}

    return MemoryModel(
        fn,
        inputs=[TensorInfo("x", (None, 3), F32), TensorInfo("scale", (), F32)],
        outputs=[TensorInfo("y", (None, 3), F32)],
    )


async def test_requests_with_different_shared_inputs_go_in_different_batches():
    calls: list[tuple[int, float]] = []
    engine = InferenceEngine(_scaled_model(calls), max_batch=32, warmup=0)
    assert engine.batch_axes == {"x": 0, "scale": None, "y": 0}
    xs = [np.full((1, 3), i, np.float32) for i in range(12)]
    scales = [np.float32(2 if i % 3 else 5) for i in range(12)]
    outs = await asyncio.gather(
        *(engine.async_run({"x": x, "scale": np.array(s)}) for x, s in zip(xs, scales, strict=True))
    )
    for x, s, out in zip(xs, scales, outs, strict=True):
        np.testing.assert_array_equal(out["y"], x * s)
    assert sorted(calls) == [(4, 5.0), (8, 2.0)]
    engine.close()


def test_threads_with_different_shared_inputs_go_in_different_batches():
    calls: list[tuple[int, float]] = []
    engine = InferenceEngine(_scaled_model(calls), warmup=0, max_delay_us=20_000)
    futures = [
        engine.submit({"x": np.full((1, 3), i, np.float32), "scale": np.array(i % 2, F32)})
        for i in range(6)
    ]
    for i, future in enumerate(futures):
        np.testing.assert_array_equal(future.result(timeout=10)["y"], np.full((1, 3), i * (i % 2)))
    assert sum(rows for rows, _ in calls) == 6  # each call had one scale (a scalar)
    engine.close()


def test_named_dimensions_pick_the_batch_axis():
    model = MemoryModel(
        lambda feeds: {"y": feeds["x"].T + feeds["w"][:, None]},
        inputs=[
            TensorInfo("x", (4, None), F32, dim_names=(None, "N")),
            TensorInfo("w", (None,), F32, dim_names=("N",)),
            TensorInfo("t", (None,), I64, dim_names=("T",)),
        ],
        outputs=[TensorInfo("y", (None, 4), F32, dim_names=("N", None))],
    )
    engine = InferenceEngine(model, warmup=0)
    assert engine.batch_axes == {"x": 1, "w": 0, "t": None, "y": 0}
    engine.close()


async def test_an_output_axis_that_cannot_be_found_makes_the_model_unbatchable():
    """An output whose size changes on two axes with the batch: requests then run alone."""
    model = MemoryModel(
        lambda feeds: {"y": np.zeros((len(feeds["x"]), len(feeds["x"])), np.float32)},
        inputs=[TensorInfo("x", (None, 2), F32)],
        outputs=[TensorInfo("y", (None, None), F32)],
    )
    engine = InferenceEngine(model, warmup=0)
    assert engine.batchable and engine.batch_axes["y"] == -1
    outs = await asyncio.gather(*(engine.async_run(np.zeros((1, 2), F32)) for _ in range(4)))
    assert all(out["y"].shape == (1, 1) for out in outs)
    assert not engine.batchable
    engine.close()
