"""edgekit.infer against raw ONNX Runtime and LiteRT, measured side by side in one process.

``python -m benchmarks.infer [--quick]``

Cases (one runtime thread, no spinning; per-call times are medians of short
samples taken in turn between the cases, see ``fine_medians``):

1. Silero VAD and a trivial Add model: raw ``InferenceSession.run``, raw
   IOBinding (inputs bound once), ``InferenceEngine.run``, and a cache hit.
2. A microWakeWord int8 model: raw LiteRT (``set_tensor``/``invoke``/``get_tensor``)
   against ``InferenceEngine.run``.
3. An MLP (256 -> 512 -> 512 -> 16, built with onnx.helper): throughput and p99
   latency of 1, 8 and 32 asyncio callers (``await engine.infer(x)``) and caller
   threads (``engine.submit(x).result()``), micro-batched against unbatched
   ``engine.run``; then the GIL-serial cost of a threaded request (Python per
   request and one thread hand-off) and the throughput ceiling they imply.
4. The same MLP quantized with ``quantize_dynamic`` (int8 weights) against float32.
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

    asyncio tasks: ``await engine.infer(x)`` against each task calling ``engine.run(x)``
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
        return await batched.infer(x)

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
            f"MLP 256-512-512-16, {callers} asyncio callers: await engine.infer (micro-batched)",
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
    from edgekit.infer._batching import deliver

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
            request = engine._request(x, True, None)[0]
            assert request is not None
            with batcher._cv:
                batcher._queue.append(request)
                batcher._rows += request.rows
            requests.append((request, t0))
        with batcher._cv:
            taken = batcher._pop()
        outcomes: list = []
        batcher._run_batch(taken, outcomes)  # what the batcher runs
        batcher._done()
        deliver(outcomes)
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
    quantization_cases(report, repeat)
    report.finish()


if __name__ == "__main__":
    main()
