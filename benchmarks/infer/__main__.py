"""edgekit.infer against raw ONNX Runtime and LiteRT, measured side by side in one process.

``python -m benchmarks.infer [--quick]``

Cases (one runtime thread, no spinning; per-call times are medians of short
samples taken in turn between the cases, see ``fine_medians``):

1. Silero VAD and a trivial Add model: raw ``InferenceSession.run``, raw
   IOBinding (inputs bound once), ``InferenceEngine.run``, and a cache hit.
2. A microWakeWord int8 model: raw LiteRT (``set_tensor``/``invoke``/``get_tensor``)
   against ``InferenceEngine.run``.
3. An MLP (256 -> 512 -> 512 -> 16, built with onnx.helper): throughput and p99
   latency of 1, 8 and 32 asyncio callers (``await engine.async_run(x)``) and caller
   threads (``engine.submit(x).result()``), micro-batched against unbatched
   ``engine.run``; then the GIL-serial cost of a threaded request (Python per
   request and one thread hand-off) and the throughput ceiling they imply.
4. Micro-batching against its limit, the runtime's own batch-N rate: two MLPs
   (256-512-512-16 and 512-1024-1024-10) and Silero VAD (32 streams, each with
   its own state, merged along axis 1 of ``state``), N in {8, 32}, 32 asyncio
   callers, with p99 latency, the machinery's floor per item (a twin model that
   computes nothing) and the cost of each batching stage per item.
5. The same MLP quantized with ``quantize_dynamic`` (int8 weights) against float32.
"""

from benchmarks._common import Report, interleaved_medians, parse_args, pin_threads

pin_threads()

import asyncio  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from edgekit.infer import InferenceEngine, ResultCache, quantize_dynamic  # noqa: E402
from tests.infer import models  # noqa: E402

US = 1e6


def fine_medians(cases, *, repeat: int) -> dict[str, float]:
    """Median seconds per call from short (2 ms) samples taken in turn, ``repeat`` each.

    Short alternating samples share the noise of this shared machine between the
    cases (differences of a microsecond on calls of 5-200 us), while each sample
    still runs a case warm, many calls in a row.
    """
    return interleaved_medians(cases, repeat=repeat, budget=0.002)


def paired_overhead(base, candidate, *, rounds: int, budget: float = 0.002) -> float:
    """Median over rounds of (candidate - base) seconds per call, from adjacent samples.

    Each round times a short block of ``base`` and one of ``candidate`` back to back
    (in ABBA order across rounds), so slow drifts of a shared machine's load cancel
    in each difference; the median of the differences resists bursts.
    """
    base()
    candidate()
    t0 = time.perf_counter()
    base()
    number = max(1, int(budget / max(time.perf_counter() - t0, 1e-7)))

    def block(fn) -> float:
        start = time.perf_counter()
        for _ in range(number):
            fn()
        return (time.perf_counter() - start) / number

    diffs = []
    for r in range(rounds):
        if r % 2:
            c = block(candidate)
            b = block(base)
        else:
            b = block(base)
            c = block(candidate)
        diffs.append(c - b)
    return statistics.median(diffs)


def ort_session(model):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.add_session_config_entry("session.inter_op.allow_spinning", "0")
    so.log_severity_level = 3
    source = str(model) if isinstance(model, Path) else model
    return ort.InferenceSession(source, sess_options=so, providers=["CPUExecutionProvider"])


def io_binding(session, feeds):
    """Inputs bound once as OrtValues, outputs bound to CPU: the cheapest ORT call there is."""
    import onnxruntime as ort

    binding = session.io_binding()
    for name, value in feeds.items():
        binding.bind_ortvalue_input(name, ort.OrtValue.ortvalue_from_numpy(value))
    for out in session.get_outputs():
        binding.bind_output(out.name, "cpu")
    return lambda: session.run_with_iobinding(binding)


def onnx_cases(report: Report, label: str, model, feeds, repeat: int) -> None:
    """Raw ORT ``run`` and IOBinding, ``engine.run`` and a cache hit, side by side.

    The engine's overhead is measured against raw ``run`` on the engine's own
    session object, so that two sessions' different memory placement does not
    enter the difference; a separate raw session is shown as well.
    """
    raw = ort_session(model)
    run = raw.run
    engine = InferenceEngine(model)
    same = engine._model.backend.session.run  # the very session the engine runs
    cached = InferenceEngine(model, cache=ResultCache())
    bound = io_binding(raw, feeds)
    med = fine_medians(
        {
            "raw": lambda: run(None, feeds),
            "same": lambda: same(None, feeds),
            "iobinding": bound,
            "engine": lambda: engine.run(feeds),
            "hit": lambda: cached.run(feeds),
        },
        repeat=repeat,
    )
    raw_us, same_us, io_us, eng_us, hit_us = (
        med[k] * US for k in ("raw", "same", "iobinding", "engine", "hit")
    )
    overhead_us = (
        paired_overhead(lambda: same(None, feeds), lambda: engine.run(feeds), rounds=2 * repeat)
        * US
    )
    # The same measurement of raw against itself: how much the method can be trusted.
    floor_us = (
        paired_overhead(lambda: same(None, feeds), lambda: same(None, feeds), rounds=2 * repeat)
        * US
    )
    report.add(
        f"{label}: engine.run",
        "median time per call",
        "us",
        eng_us,
        peers={
            "raw ORT run, same session": same_us,
            "raw ORT run, own session": raw_us,
            "raw ORT IOBinding": io_us,
        },
        target="<= raw ORT run + 2 us",
    )
    report.add(
        f"{label}: engine overhead",
        "engine.run minus raw ORT run on the same session (median of paired samples)",
        "us",
        overhead_us,
        target="<= 2 us",
    )
    report.add(
        f"{label}: noise floor of that measurement",
        "raw ORT run minus itself, same paired method (0 on a quiet machine)",
        "us",
        floor_us,
    )
    report.add(
        f"{label}: cache hit",
        "median time per call",
        "us",
        hit_us,
        peers={"raw ORT run, own session": raw_us, "raw ORT IOBinding": io_us},
        target="<= 3 us" if "Silero" in label else None,
    )


def own_cost_case(report: Report, repeat: int) -> None:
    """The engine's own cost, free of runtime noise: a MemoryModel shaped like Silero VAD."""
    from edgekit.infer import MemoryModel, TensorInfo

    f32, i64 = np.dtype("float32"), np.dtype("int64")
    outputs = [np.zeros((1, 1), np.float32), np.zeros((2, 1, 128), np.float32)]

    def fn(feeds):
        return outputs

    model = MemoryModel(
        fn,
        inputs=[
            TensorInfo("input", (None, None), f32),
            TensorInfo("state", (2, None, 128), f32),
            TensorInfo("sr", (), i64),
        ],
        outputs=[
            TensorInfo("output", (None, 1), f32),
            TensorInfo("stateN", (None, None, None), f32),
        ],
    )
    engine = InferenceEngine(model)
    # Time only the engine's work: its backend call goes straight to the bare function
    # (MemoryBackend's own output checks are not part of the ONNX/LiteRT paths).
    engine._model.backend.run = fn
    feeds = models.silero_feeds()
    med = fine_medians(
        {"direct": lambda: fn(feeds), "engine": lambda: engine.run(feeds)}, repeat=repeat
    )
    report.add(
        "engine's own cost per run (Silero-shaped feeds, in-memory model)",
        "engine.run minus calling the model function directly",
        "us",
        (med["engine"] - med["direct"]) * US,
        target="<= 2 us",
        note="validation of 3 inputs, output dict, latency statistics",
    )


def litert_case(report: Report, repeat: int) -> None:
    from ai_edge_litert.interpreter import Interpreter

    path = models.wakeword_path("okay_nabu")
    it = Interpreter(model_path=str(path), num_threads=1)
    it.allocate_tensors()
    (inp,) = it.get_input_details()
    (out,) = it.get_output_details()
    in_idx, out_idx = inp["index"], out["index"]
    x = np.random.default_rng(0).integers(-128, 127, (1, 3, 40), dtype=np.int8)
    engine = InferenceEngine(path)
    features = np.random.default_rng(1).uniform(0, 25, (1, 3, 40)).astype(np.float32)

    def raw() -> None:
        it.set_tensor(in_idx, x)
        it.invoke()
        it.get_tensor(out_idx)

    med = fine_medians(
        {
            "raw": raw,
            "engine": lambda: engine.run(x),
            "float": lambda: engine.run(features, quantized=False),
        },
        repeat=repeat,
    )
    raw_us, eng_us, float_us = (med[k] * US for k in ("raw", "engine", "float"))
    overhead_us = paired_overhead(raw, lambda: engine.run(x), rounds=2 * repeat) * US
    report.add(
        "microWakeWord okay_nabu (int8 TFLite): engine.run",
        "median time per call",
        "us",
        eng_us,
        peers={"raw LiteRT set/invoke/get": raw_us},
        target="<= raw LiteRT + 2 us",
    )
    report.add(
        "microWakeWord: engine overhead",
        "engine.run minus raw LiteRT (median of paired samples)",
        "us",
        overhead_us,
        target="<= 2 us",
    )
    report.add(
        "microWakeWord: engine.run(quantized=False)",
        "median time per call (float in, float out)",
        "us",
        float_us,
        peers={"raw LiteRT set/invoke/get": raw_us},
    )


def closed_loop(call, callers: int, seconds: float) -> tuple[float, float]:
    """Throughput (requests/s) and p99 latency (us) of ``callers`` threads calling ``call`` in a loop."""
    stop = threading.Event()
    latencies: list[list[float]] = [[] for _ in range(callers)]
    barrier = threading.Barrier(callers + 1)

    def worker(i: int) -> None:
        x = np.random.default_rng(i).standard_normal((1, 256)).astype(np.float32)
        mine = latencies[i]
        barrier.wait()
        while not stop.is_set():
            t0 = time.perf_counter()
            call(x)
            mine.append(time.perf_counter() - t0)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(callers)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    flat = np.concatenate([np.asarray(v) for v in latencies if v])
    return len(flat) / elapsed, float(np.percentile(flat, 99) * US)


def async_closed_loop(call, callers: int, seconds: float) -> tuple[float, float]:
    """Throughput and p99 latency (us) of ``callers`` asyncio tasks awaiting ``call`` in a loop."""

    async def main() -> tuple[float, float]:
        stop = asyncio.Event()
        latencies: list[float] = []

        async def worker(i: int) -> None:
            x = np.random.default_rng(i).standard_normal((1, 256)).astype(np.float32)
            while not stop.is_set():
                t0 = time.perf_counter()
                await call(x)
                latencies.append(time.perf_counter() - t0)

        tasks = [asyncio.create_task(worker(i)) for i in range(callers)]
        start = time.perf_counter()
        await asyncio.sleep(seconds)
        stop.set()
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
        return len(latencies) / elapsed, float(np.percentile(latencies, 99) * US)

    return asyncio.run(main())


def batching_cases(report: Report, seconds: float, rounds: int) -> None:
    """MLP served to 1, 8 and 32 concurrent callers, micro-batched or not.

    asyncio tasks: ``await engine.async_run(x)`` against each task calling ``engine.run(x)``
    itself (then yielding) and against ``await asyncio.to_thread(engine.run, x)``.
    Threads: ``engine.submit(x).result()`` against ``engine.run(x)`` in each thread.
    """
    mlp = models.mlp_model(256, 512, 16)
    max_delay_us = 1000.0
    plain = InferenceEngine(mlp)
    batched = InferenceEngine(mlp, max_batch=32, max_delay_us=max_delay_us)
    batch32 = np.random.default_rng(0).standard_normal((32, 256)).astype(np.float32)
    one = batch32[:1]
    med = interleaved_medians(
        {"b1": lambda: plain.run(one), "b32": lambda: plain.run(batch32)}, repeat=9
    )
    compute_1, compute_32 = med["b1"] * US, med["b32"] * US
    bound = max_delay_us + 2 * compute_32

    async def direct(x):
        out = plain.run(x)
        await asyncio.sleep(0)  # a task that runs the model itself still yields between calls
        return out

    async def in_thread(x):
        return await asyncio.to_thread(plain.run, x)

    async def micro(x):
        return await batched.async_run(x)

    def mean_batch() -> float:
        hist = batched.stats().batch_sizes
        return sum(k * v for k, v in hist.items()) / max(1, sum(hist.values()))

    mean_batches: dict[str, float] = {}
    styles = {"batched": micro, "direct": direct, "thread": in_thread}
    for callers in (1, 8, 32):
        batched.reset_stats()
        runs: dict[str, list[tuple[float, float]]] = {k: [] for k in styles}
        for _ in range(rounds):  # the styles take turns, so load changes hit all alike
            for name, call in styles.items():
                runs[name].append(async_closed_loop(call, callers, seconds))
        results = {
            k: (statistics.median(r[0] for r in v), statistics.median(r[1] for r in v))
            for k, v in runs.items()
        }
        mean_batches[f"{callers} asyncio callers"] = mean_batch()
        report.add(
            f"MLP 256-512-512-16, {callers} asyncio callers: await engine.async_run (micro-batched)",
            "throughput",
            "req/s",
            results["batched"][0],
            peers={
                "unbatched engine.run in each task": results["direct"][0],
                "unbatched asyncio.to_thread(engine.run)": results["thread"][0],
            },
            higher_is_better=True,
            target=">= 2.5x unbatched" if callers == 32 else None,
        )
        report.add(
            f"MLP, {callers} asyncio callers: p99 latency",
            "p99 latency",
            "us",
            results["batched"][1],
            peers={
                "unbatched engine.run in each task": results["direct"][1],
                "unbatched asyncio.to_thread(engine.run)": results["thread"][1],
            },
            target=f"<= max_delay + 2x batch-32 compute = {bound:,.0f} us",
            note=f"batch-32 compute {compute_32:.0f} us, batch-1 {compute_1:.0f} us",
        )
    for callers in (1, 8, 32):
        batched.reset_stats()
        runs: dict[str, list[tuple[float, float]]] = {"unbatched": [], "batched": []}
        for _ in range(rounds):
            runs["unbatched"].append(closed_loop(plain.run, callers, seconds))
            runs["batched"].append(
                closed_loop(lambda x: batched.submit(x).result(), callers, seconds)
            )
        mean_batches[f"{callers} threads"] = mean_batch()
        thr = {k: statistics.median(r[0] for r in v) for k, v in runs.items()}
        thr_32 = thr["unbatched"]
        p99 = {k: statistics.median(r[1] for r in v) for k, v in runs.items()}
        report.add(
            f"MLP, {callers} threads: engine.submit(x).result() (micro-batched)",
            "throughput",
            "req/s",
            thr["batched"],
            peers={"unbatched engine.run in each thread": thr["unbatched"]},
            higher_is_better=True,
        )
        report.add(
            f"MLP, {callers} threads: p99 latency",
            "p99 latency",
            "us",
            p99["batched"],
            peers={"unbatched engine.run in each thread": p99["unbatched"]},
        )
    thread_ceiling(report, batch32, unbatched_32=thr_32)
    for who in ("32 asyncio callers", "32 threads"):
        report.add(
            f"MLP micro-batching, {who}: mean batch size",
            "requests per runtime call",
            "requests",
            mean_batches[who],
            higher_is_better=True,
            note=", ".join(f"{k}: {v:.1f}" for k, v in mean_batches.items() if k != who),
        )
    batched.close()


def handoff_us(threads: int = 32, rounds: int = 2000) -> float:
    """Microseconds per hand-off in a ring of threads: each waits on its lock, then
    releases the next thread's lock (a wake-up plus taking the GIL, no other work)."""
    import _thread

    locks = [_thread.allocate_lock() for _ in range(threads)]
    for lock in locks:
        lock.acquire()

    def member(i: int) -> None:
        mine, nxt = locks[i], locks[(i + 1) % threads]
        for _ in range(rounds):
            mine.acquire()
            nxt.release()

    ring = [threading.Thread(target=member, args=(i,)) for i in range(threads)]
    for t in ring:
        t.start()
    start = time.perf_counter()
    locks[0].release()
    for t in ring:
        t.join()
    return (time.perf_counter() - start) / (threads * rounds) * US


def thread_ceiling(report: Report, batch: np.ndarray, unbatched_32: float) -> None:
    """Why micro-batching from threads tops out where it does: the GIL-serial part.

    Every threaded request needs (a) Python run with the GIL held (the caller's
    submit and result, the batcher's stacking, splitting and settling) and (b) one
    wake-up of a sleeping caller thread, which must then take the GIL. Both run one
    at a time, whatever the number of cores: 1 / (a + b) bounds the throughput.
    (a) is timed in one thread on the engine's own code path, with an in-memory
    model of the MLP's shapes that computes nothing (so no runtime time and no
    noise from it enters); (b) is a ring of 32 threads passing a lock around.
    """
    from edgekit.infer import MemoryModel, TensorInfo
    from edgekit.infer._batching import Request

    n_in, n_out = batch.shape[1], 16
    answer = np.zeros((len(batch), n_out), np.float32)
    model = MemoryModel(
        lambda feeds: {"y": answer[: len(feeds["x"])]},
        inputs=[TensorInfo("x", (None, n_in), np.dtype("float32"))],
        outputs=[TensorInfo("y", (None, n_out), np.dtype("float32"))],
    )
    engine = InferenceEngine(model, max_batch=len(batch), warmup=0)
    batcher = engine._get_batcher()
    rows = [batch[i : i + 1] for i in range(len(batch))]

    def cycle() -> None:
        requests = []
        for x in rows:  # what submit() runs in each caller thread
            t0 = time.perf_counter()
            ready, n, key, _ = engine._check(x, True, True)
            request = Request(ready, n, key, True, time.perf_counter_ns())
            with batcher._cv:
                batcher._queue.append(request)
                batcher._rows += request.rows
            requests.append((request, t0))
        with batcher._cv:
            taken = batcher._pop()
        batcher._run(taken)  # what the batcher runs: compute, free the batcher, settle
        latencies = []
        for request, t0 in requests:  # what result() and the caller's loop run
            request.future.result()
            latencies.append(time.perf_counter() - t0)

    python_us = interleaved_medians({"cycle": cycle}, repeat=9, budget=0.01)["cycle"]
    python_us *= US / len(batch)
    engine.close()
    hand_us = statistics.median(handoff_us() for _ in range(3))
    report.add(
        "Thread path: Python per micro-batched request (GIL held)",
        "time",
        "us",
        python_us,
        note="one thread; submit + stacking + splitting + settling + result, batch of 32, "
        "in-memory model of the MLP's shapes (no compute)",
    )
    report.add(
        "Thread hand-off: wake a sleeping thread and give it the GIL (ring of 32)",
        "time",
        "us",
        hand_us,
        note="pure CPython + OS cost, no edgekit code",
    )
    report.add(
        "Thread path ceiling: 1 / (Python per request + one hand-off)",
        "throughput",
        "req/s",
        US / (python_us + hand_us),
        peers={"unbatched engine.run in each of 32 threads": unbatched_32},
        higher_is_better=True,
        note="the 2.5x target would need (Python + hand-off) <= "
        f"{US / (2.5 * unbatched_32):.1f} us per request",
    )
    report.add(
        "Thread path ceiling if every hand-off overlapped other Python: 1 / max(Python, hand-off)",
        "throughput",
        "req/s",
        US / max(python_us, hand_us),
        peers={"unbatched engine.run in each of 32 threads": unbatched_32},
        higher_is_better=True,
        note="an upper bound no scheduling can beat while each request wakes one thread",
    )


CALLERS = 32
SR16K = np.array(16000, dtype=np.int64)


def raw_items_per_s(session, feeds: dict, rows: int) -> float:
    """Raw ONNX Runtime: items per second of one ``session.run`` on a batch of ``rows``."""
    med = interleaved_medians({"raw": lambda: session.run(None, feeds)}, repeat=3, budget=0.01)
    return rows / med["raw"]


def async_rate(call, rows: list, seconds: float) -> tuple[float, float]:
    """Items/s and p99 latency (us) of ``len(rows)`` asyncio tasks awaiting ``call(row)``."""

    async def main() -> tuple[float, float]:
        stop = False
        latencies: list[float] = []

        async def worker(x) -> None:
            while not stop:
                t0 = time.perf_counter()
                await call(x)
                latencies.append(time.perf_counter() - t0)

        tasks = [asyncio.create_task(worker(x)) for x in rows]
        await asyncio.sleep(min(0.1, seconds / 4))  # reach the steady state first
        del latencies[:]
        start = time.perf_counter()
        await asyncio.sleep(seconds)
        count = len(latencies)
        elapsed = time.perf_counter() - start
        stop = True
        await asyncio.gather(*tasks)
        return count / elapsed, float(np.percentile(latencies[:count], 99) * US)

    return asyncio.run(main())


class LimitCase:
    """One model of the limit table: its callers, the raw batch of N, a null twin.

    ``callers`` are per-task objects handed to ``call(engine, caller)``; a Silero
    VAD caller is a stream carrying its own state from call to call.
    """

    def __init__(self, label: str, model, inputs: list, outputs: list, callers: list) -> None:
        self.label, self.model, self.callers = label, model, callers
        self.inputs, self.outputs = inputs, outputs  # TensorInfos for the null twin

    def feeds(self, caller) -> dict[str, np.ndarray]:
        return caller if isinstance(caller, dict) else {"x": caller}

    async def call(self, engine: InferenceEngine, caller) -> None:
        if isinstance(caller, dict):  # a stream: feed the new state back
            caller["state"] = (await engine.async_run(caller))["stateN"]
        else:
            await engine.async_run(caller)

    def raw_batch(self, n: int) -> dict[str, np.ndarray]:
        """The first ``n`` callers' feeds as one batch, along each input's batch axis."""
        engine = InferenceEngine(self.model, warmup=0)
        axes = engine.batch_axes
        first = self.feeds(self.callers[0])
        return {
            name: first[name]
            if axes[name] is None
            else np.concatenate([self.feeds(c)[name] for c in self.callers[:n]], axis=axes[name])
            for name in first
        }

    def null_engine(self, n: int) -> InferenceEngine:
        """An engine of this model's shapes whose model computes nothing (the machinery alone)."""
        from edgekit.infer import MemoryModel

        def fn(feeds):
            rows = len(feeds[self.inputs[0].name])
            return {
                t.name: feeds["state"] if t.name == "stateN" else self._zeros(t, rows)
                for t in self.outputs
            }

        return InferenceEngine(
            MemoryModel(fn, inputs=self.inputs, outputs=self.outputs), max_batch=n, warmup=0
        )

    @staticmethod
    def _zeros(t, rows: int) -> np.ndarray:
        return np.zeros((rows, *(d for d in t.shape[1:])), t.dtype)


def limit_cases() -> list[LimitCase]:
    from edgekit.infer import TensorInfo

    f32, i64 = np.dtype("float32"), np.dtype("int64")
    rng = np.random.default_rng(0)
    cases = []
    for label, (n_in, hidden, n_out) in (
        ("MLP 256-512-512-16", (256, 512, 16)),
        ("MLP 512-1024-1024-10", (512, 1024, 10)),
    ):
        cases.append(
            LimitCase(
                label,
                models.mlp_model(n_in, hidden, n_out),
                [TensorInfo("x", (None, n_in), f32)],
                [TensorInfo("y", (None, n_out), f32)],
                [rng.standard_normal((1, n_in)).astype(np.float32) for _ in range(CALLERS)],
            )
        )
    streams = [
        {
            "input": rng.uniform(-0.3, 0.3, (1, 576)).astype(np.float32),
            "state": np.zeros((2, 1, 128), np.float32),
            "sr": SR16K,
        }
        for _ in range(CALLERS)
    ]
    cases.append(
        LimitCase(
            "Silero VAD (32 streams, own state)",
            models.silero_path(),
            [
                TensorInfo("input", (None, 576), f32),
                TensorInfo("state", (2, None, 128), f32),
                TensorInfo("sr", (), i64),
            ],
            [TensorInfo("output", (None, 1), f32), TensorInfo("stateN", (2, None, 128), f32)],
            streams,
        )
    )
    return cases


def batch_limit_cases(report: Report, seconds: float, rounds: int) -> None:
    """Micro-batched throughput against the runtime's own batch-N rate (the limit).

    For each model and N in {8, 32}: 32 asyncio tasks ``await engine.async_run(x)`` on an
    engine with ``max_batch=N`` (Silero VAD: 32 streams, each feeding its ``stateN``
    back); the limit is raw ``InferenceSession.run`` on one batch of N callers'
    feeds (same threads: 1 intra-op, 1 inter-op, no spinning); the unbatched peer
    is 32 tasks each calling ``engine.run`` and yielding. The three are timed in
    turn, ``rounds`` times; medians, and the median of the per-round ratios.

    Then the floor: the same 32 callers on a twin engine whose model computes
    nothing measure the machinery's own time per item (GIL-serial Python: asyncio
    futures and task switches, batch check, merge, split, hand-offs). Without
    overlap, a ratio to the limit of at most ``raw / (raw + machinery)`` is
    possible; the pure asyncio future (create, resolve, resume) bounds it the same
    way for any design that wakes one task per request.
    """
    futures_us = asyncio_future_us(CALLERS)
    for case in limit_cases():
        plain = InferenceEngine(case.model)
        raw = ort_session(case.model)

        async def direct(caller, plain=plain, case=case):
            out = plain.run(case.feeds(caller))
            if isinstance(caller, dict):
                caller["state"] = out["stateN"]
            await asyncio.sleep(0)

        for n in (8, 32):
            engine = InferenceEngine(case.model, max_batch=n)
            null = case.null_engine(n)
            batch = case.raw_batch(n)
            samples: dict[str, list[float]] = {
                k: [] for k in ("raw", "eng", "eng99", "un", "un99", "ratio", "null")
            }
            for _ in range(rounds):
                # The limit is timed just before and just after the engine's window and
                # averaged, so that the load of a shared machine hits both alike.
                before = raw_items_per_s(raw, batch, n)
                eng, eng99 = async_rate(
                    lambda c, e=engine, k=case: k.call(e, c), case.callers, seconds
                )
                limit = (before + raw_items_per_s(raw, batch, n)) / 2
                un, un99 = async_rate(direct, case.callers, seconds)
                nul = async_rate(lambda c, e=null, k=case: k.call(e, c), case.callers, seconds)[0]
                for key, value in zip(
                    samples, (limit, eng, eng99, un, un99, eng / limit, nul), strict=True
                ):
                    samples[key].append(value)
            med = {k: statistics.median(v) for k, v in samples.items()}
            hist = engine.stats().batch_sizes
            mean_batch = sum(k * v for k, v in hist.items()) / max(1, sum(hist.values()))
            engine.close()
            null.close()
            raw_us, null_us = US / med["raw"], US / med["null"]
            report.add(
                f"{case.label}, N={n}, {CALLERS} asyncio callers: await engine.async_run "
                f"(max_batch={n})",
                "throughput",
                "items/s",
                med["eng"],
                peers={
                    f"limit: raw ORT run of a batch of {n}": med["raw"],
                    "unbatched engine.run in each task": med["un"],
                },
                higher_is_better=True,
                target=">= 0.85x the limit",
                note=f"ratio to the limit {med['ratio']:.2f} (median of {rounds} rounds: "
                + ", ".join(f"{r:.2f}" for r in samples["ratio"])
                + f"); mean batch {mean_batch:.1f}",
            )
            report.add(
                f"{case.label}, N={n}: p99 latency",
                "p99 latency",
                "us",
                med["eng99"],
                peers={"unbatched engine.run in each task": med["un99"]},
            )
            report.add(
                f"{case.label}, N={n}: the floor: machinery per item (same callers, "
                "a twin model computing nothing)",
                "time per item",
                "us",
                null_us,
                peers={
                    "raw ORT per item at batch N": raw_us,
                    "one asyncio future (create, resolve, resume)": futures_us,
                },
                note=f"without overlap the floor permits {raw_us / (raw_us + null_us):.2f} of "
                f"the limit (asyncio futures alone {raw_us / (raw_us + futures_us):.2f}); "
                f"measured {med['ratio']:.2f}",
            )
        stage_costs(report, case, plain)


def stage_costs(report: Report, case: LimitCase, engine: InferenceEngine) -> None:
    """Where the machinery's time goes, per item, for a batch of 32 callers.

    Each stage is timed alone in this process (medians of interleaved samples): the
    batch check and merge (:meth:`Loaded.merge`: one concatenation per batched
    input, shared inputs compared) against a bare ``np.concatenate``; cutting the
    outputs into each caller's part (:meth:`Loaded.split`); one asyncio future per
    request (create, resolve in one callback per batch, resume the task); the
    hand-off of a batch to a thread and back (a dedicated worker thread, as the
    engine's for batches expected to take over 5 ms, against ``run_in_executor``);
    and the engine's whole path in one thread (batches run in the event loop, as
    the engine's cheaper ones, a model computing nothing).
    """
    n = CALLERS
    m = engine._model
    feeds = [case.feeds(c) for c in case.callers]
    merged, rows = m.merge(feeds)
    outputs = engine._execute(m, merged)
    if -1 in m.out_axes:  # as the engine does on its first merged batch
        m.resolve_axes(engine._execute(m, m.prepare(feeds[0])), rows[0], outputs, sum(rows))
    first = m.batched[0][1]
    med = interleaved_medians(
        {
            "merge": lambda: m.merge(feeds),
            "concat": lambda: np.concatenate([f[first] for f in feeds], axis=m.batched[0][2]),
            "split": lambda: m.split(outputs, rows),
        },
        repeat=9,
        budget=0.005,
    )
    per = {k: v / n * US for k, v in med.items()}
    futures_us = asyncio_future_us(n)
    handoff = handoff_round_trip_us()
    one_thread = one_thread_us(case)
    stages = [
        (
            "check and merge the batch",
            per["merge"],
            {f"np.concatenate of {first!r}": per["concat"]},
        ),
        ("cut the outputs into each caller's part", per["split"], {}),
        ("one asyncio future per request: create, resolve, resume the task", futures_us, {}),
        (
            "hand a batch to the engine's worker thread and back (per item)",
            handoff["worker"] / n,
            {"run_in_executor": handoff["executor"] / n},
        ),
        (
            "whole engine path in one thread (batches run in the loop, null model)",
            one_thread,
            {"asyncio futures alone": futures_us},
        ),
    ]
    for stage, value, peers in stages:
        report.add(f"{case.label}, stage: {stage}", "time per item", "us", value, peers=peers)


def asyncio_future_us(n: int, seconds: float = 0.2) -> float:
    """Per item: ``n`` tasks each awaiting a new future, all resolved by one callback per round."""

    async def main() -> float:
        loop = asyncio.get_running_loop()
        pending: list[asyncio.Future] = []
        count = 0
        stop = False

        def resolve() -> None:
            batch = pending[:]
            del pending[:]
            for future in batch:
                future.set_result(None)

        async def worker() -> None:
            nonlocal count
            while not stop:
                future = loop.create_future()
                pending.append(future)
                if len(pending) == 1:
                    loop.call_soon(resolve)
                await future
                count += 1

        tasks = [asyncio.create_task(worker()) for _ in range(n)]
        start = time.perf_counter()
        await asyncio.sleep(seconds)
        done, elapsed = count, time.perf_counter() - start
        stop = True
        await asyncio.gather(*tasks)
        return elapsed / done * US

    return statistics.median(asyncio.run(main()) for _ in range(3))


def handoff_round_trip_us(rounds: int = 300) -> dict[str, float]:
    """Microseconds for one batch to reach another thread and its answer to come back to the loop."""
    from concurrent.futures import ThreadPoolExecutor

    worker_lock = threading.Condition()
    jobs: list = []

    def worker() -> None:
        while True:
            with worker_lock:
                while not jobs:
                    worker_lock.wait()
                job = jobs.pop()
            if job is None:
                return
            loop, future = job
            loop.call_soon_threadsafe(future.set_result, None)

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()

    async def main() -> dict[str, float]:
        loop = asyncio.get_running_loop()
        pool = ThreadPoolExecutor(1)
        times: dict[str, list[float]] = {"worker": [], "executor": []}
        for _ in range(rounds):
            t0 = time.perf_counter()
            future = loop.create_future()
            with worker_lock:
                jobs.append((loop, future))
                worker_lock.notify()
            await future
            t1 = time.perf_counter()
            await loop.run_in_executor(pool, int)
            t2 = time.perf_counter()
            times["worker"].append(t1 - t0)
            times["executor"].append(t2 - t1)
        pool.shutdown()
        return {k: statistics.median(v) * US for k, v in times.items()}

    result = asyncio.run(main())
    with worker_lock:
        jobs.append(None)
        worker_lock.notify()
    thread.join()
    return result


def one_thread_us(case: LimitCase, items: int = 20_000) -> float:
    """us of process CPU per item: 32 callers, null model, every batch run in the loop.

    ``max_batch`` is one more than the callers, so each batch leaves at the end of
    its loop iteration and runs there: no thread, no GIL hand-over, only the
    engine's Python and asyncio's.
    """
    engine = case.null_engine(CALLERS + 1)
    callers = [dict(c) if isinstance(c, dict) else c for c in case.callers]

    async def main() -> float:
        count = 0

        async def worker(caller) -> None:
            nonlocal count
            while count < items:
                await case.call(engine, caller)
                count += 1

        t0 = time.process_time()
        await asyncio.gather(*(worker(c) for c in callers))
        return (time.process_time() - t0) / count * US

    result = min(asyncio.run(main()) for _ in range(5))  # CPU time: the least disturbed run
    engine.close()
    return result


def quantization_cases(report: Report, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "mlp.onnx"
        src.write_bytes(models.mlp_model(256, 512, 16))
        rng = np.random.default_rng(0)
        samples = [{"x": rng.standard_normal((32, 256)).astype(np.float32)}]
        q = quantize_dynamic(src, Path(tmp) / "mlp.int8.onnx", samples=samples)
        f32 = InferenceEngine(src)
        i8 = InferenceEngine(q.dst)
    for rows in (1, 32):
        x = rng.standard_normal((rows, 256)).astype(np.float32)
        med = interleaved_medians(
            {"f32": lambda x=x: f32.run(x), "i8": lambda x=x: i8.run(x)}, repeat=repeat
        )
        report.add(
            f"MLP int8 (quantize_dynamic) vs float32, batch {rows}",
            "median time per call",
            "us",
            med["i8"] * US,
            peers={"float32 MLP": med["f32"] * US},
        )
    report.add(
        "MLP int8 vs float32: model size",
        "bytes",
        "bytes",
        q.bytes_after,
        peers={"float32 MLP": q.bytes_before},
        note=f"max |output diff| {q.max_abs_diff['y']:.3g} on 32 random inputs",
    )


def main() -> None:
    args = parse_args(__doc__ or "")
    report = Report("infer", quick=args.quick)
    repeat = 7 if args.quick else 21
    fine = 60 if args.quick else 300
    silero_feeds = models.silero_feeds(
        np.random.default_rng(0).uniform(-0.3, 0.3, 576).astype(np.float32)
    )
    onnx_cases(
        report,
        "Silero VAD (ONNX, 576 samples + state)",
        models.silero_path(),
        silero_feeds,
        repeat=fine,
    )
    rng = np.random.default_rng(1)
    add_feeds = {
        "x": rng.standard_normal((1, 16)).astype(np.float32),
        "y": rng.standard_normal((1, 16)).astype(np.float32),
    }
    onnx_cases(report, "Add [1,16] (ONNX)", models.add_model(16), add_feeds, repeat=fine)
    litert_case(report, repeat=fine)
    own_cost_case(report, repeat=fine)
    batching_cases(report, seconds=0.4 if args.quick else 0.6, rounds=1 if args.quick else 5)
    batch_limit_cases(report, seconds=0.3 if args.quick else 0.5, rounds=3 if args.quick else 7)
    quantization_cases(report, repeat)
    report.finish()


if __name__ == "__main__":
    main()
