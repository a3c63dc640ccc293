"""The :class:`InferenceEngine` facade over ONNX Runtime, LiteRT and in-memory models."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
import weakref
from collections import Counter, deque
from collections.abc import Mapping
from concurrent.futures import Future
from typing import Any

import numpy as np

from edgekit.errors import EdgekitError, InferenceError, InvalidInputError
from edgekit.infer._backends import (
    BACKENDS,
    BackendName,
    ModelLike,
    check_name,
    open_backend,
    select_backend,
)
from edgekit.infer._batching import BatchFuture, MicroBatcher, Request
from edgekit.infer._loaded import Loaded
from edgekit.infer._probe import (
    DEFAULT_PROBE_MAX_BYTES,
    known_good,
    probe_key,
    probe_load,
    remember_good,
)
from edgekit.infer.cache import ResultCache
from edgekit.infer.stats import EngineStats, percentiles
from edgekit.infer.types import LiteRTOptions, MemoryModel, OrtOptions, TensorInfo

__all__ = ["BACKENDS", "InferenceEngine", "ModelLike"]

_now = time.perf_counter_ns
_ndarray = np.ndarray
_WINDOW = 10_000


class InferenceEngine:
    """One model behind one API, whatever runtime runs it.

    ``model`` is a path or the bytes of an ONNX or TFLite file, or a
    :class:`MemoryModel`. ``backend="auto"`` picks by content: LiteRT when bytes
    4..8 are the TFLite flatbuffer identifier ``TFL3``, ONNX Runtime otherwise
    (``"memory"`` for a :class:`MemoryModel`). A missing runtime raises
    :class:`~edgekit.errors.BackendUnavailableError` naming the extra to install.

    Defaults fit a small shared CPU: one intra-op thread, one inter-op thread and
    no spinning threads (ONNX Runtime's ``session.intra_op.allow_spinning=0``);
    ``ort_options`` and ``litert_options`` pass other settings through.

    Thread safety: ``run``, ``submit``, ``async_run``, ``swap``, ``async_swap`` and ``stats`` may be
    called from any thread. ONNX Runtime sessions run concurrently. A LiteRT
    interpreter is not thread-safe: the engine keeps **one interpreter and
    serializes** calls on it with a lock (``invoke`` releases the GIL meanwhile);
    ``litert_options={"per_thread": True}`` instead gives **one interpreter per
    calling thread** (stateless models only).

    Stateful models: TFLite models with resource variables (``VAR_HANDLE`` /
    ``READ_VARIABLE`` / ``ASSIGN_VARIABLE``, as in microWakeWord) carry state from
    call to call. They are never cached (passing a cache raises
    :class:`~edgekit.errors.InvalidInputError`), not warmed up (warming would
    change the state the first real call sees), never batched, and
    :meth:`reset` puts their state back to the start.

    Args:
        model: path, bytes, or :class:`MemoryModel`.
        backend: ``"auto"``, ``"onnxruntime"`` (alias ``"onnx"``), ``"litert"`` (alias
            ``"tflite"``) or ``"memory"`` (:data:`BACKENDS`).
        threads: intra-op threads of the runtime (1 by default).
        cache: a :class:`ResultCache` for repeated inputs, or ``None``.
        warmup: runs on zero inputs at load and swap (dynamic dimensions set to 1);
            failures of these synthetic runs are ignored.
        warmup_feeds: inputs to warm up with instead of zeros; failures raise.
        check_finite: reject NaN/infinite float inputs with ``InvalidInputError``
            (costs a pass over the inputs; quantizing float inputs always checks).
        max_batch: most rows merged into one runtime call by :meth:`submit`/:meth:`async_run`.
        max_delay_us: longest wait (microseconds) of the first request of a batch for company.
        expected_digest: xxh3-128 hex digest the model file must have (see :attr:`digest`);
            a mismatch raises ``ModelLoadError`` before any runtime parses the bytes. Use
            it for models that arrive over the network: runtimes verify a file's
            structure, not its contents, and a corrupted weight or operator index can
            crash a native runtime.
        verify: load the model and run it on zeros in a child process first, so that a
            file that crashes the native runtime, hangs, or allocates more than
            ``probe_max_bytes`` on its first run raises ``ModelLoadError`` instead of
            harming this process (costs one interpreter start-up, about 0.5-1 s).
            ``None`` (default): probe every model file (path or bytes) that has not
            probed clean before with the same runtime and settings (remembered by
            digest in ``$XDG_CACHE_HOME/edgekit/infer/probed``) unless its
            ``expected_digest`` is pinned; ``True``: probe every time; ``False``:
            never. Every TFLite file is also validated structurally in-process, always.
        probe_timeout: seconds the probe may take before the model counts as hung.
        probe_max_bytes: address space (bytes) the probe's load and first runs may take
            beyond a fresh interpreter's (``RLIMIT_AS``; 2 GiB by default).
        ort_options: ONNX Runtime settings (:class:`OrtOptions`).
        litert_options: LiteRT settings (:class:`LiteRTOptions`).

    Example:
        >>> engine = InferenceEngine("silero_vad.onnx")  # doctest: +SKIP
        >>> out = engine.run({"input": chunk, "state": state, "sr": sr})  # doctest: +SKIP
    """

    def __init__(
        self,
        model: ModelLike,
        *,
        backend: BackendName = "auto",
        threads: int = 1,
        cache: ResultCache | None = None,
        warmup: int = 3,
        warmup_feeds: Mapping[str, np.ndarray] | None = None,
        check_finite: bool = False,
        max_batch: int = 32,
        max_delay_us: float = 1000.0,
        expected_digest: str | None = None,
        verify: bool | None = None,
        probe_timeout: float = 60.0,
        probe_max_bytes: int = DEFAULT_PROBE_MAX_BYTES,
        ort_options: OrtOptions | None = None,
        litert_options: LiteRTOptions | None = None,
    ) -> None:
        check_name(backend)
        if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
            raise InvalidInputError(f"threads must be a positive int, not {threads!r}")
        if not isinstance(warmup, int) or warmup < 0:
            raise InvalidInputError(f"warmup must be a non-negative int, not {warmup!r}")
        if not isinstance(max_batch, int) or max_batch < 1:
            raise InvalidInputError(f"max_batch must be a positive int, not {max_batch!r}")
        if not max_delay_us >= 0:
            raise InvalidInputError(f"max_delay_us must be >= 0, not {max_delay_us!r}")
        if not isinstance(probe_max_bytes, int) or probe_max_bytes < 1:
            raise InvalidInputError(
                f"probe_max_bytes must be a positive int, not {probe_max_bytes!r}"
            )
        if cache is not None and not isinstance(cache, ResultCache):
            raise InvalidInputError(
                f"cache must be a ResultCache or None, not {type(cache).__name__}"
            )
        self._backend_name: BackendName = backend
        self._threads = threads
        self._warmup = warmup
        self._check_finite = check_finite
        self._ort_options: OrtOptions = dict(ort_options or {})  # type: ignore[assignment]
        self._litert_options: LiteRTOptions = dict(litert_options or {})  # type: ignore[assignment]
        self._cache = cache
        self.max_batch = max_batch
        self.max_delay_us = float(max_delay_us)
        self._latencies: deque[int] = deque(maxlen=_WINDOW)
        self._calls = itertools.count()
        self._errors = itertools.count()
        self._batched_calls = 0  # requests answered by batches (one batch runner at a time)
        self._batched_errors = 0
        self._batch_sizes: Counter[int] = Counter()
        self._swaps = 0
        self._swap_lock = threading.Lock()
        self._batcher: MicroBatcher | None = None
        self._batcher_lock = threading.Lock()
        self._closed = False
        self._verify = verify
        self._probe_timeout = float(probe_timeout)
        self._probe_max_bytes = probe_max_bytes
        self._model = self._load(model, backend, warmup_feeds, expected_digest, verify)

    # -- loading -----------------------------------------------------------------------

    def _load(
        self,
        model: ModelLike,
        backend: BackendName,
        warmup_feeds: Mapping[str, np.ndarray] | None,
        expected_digest: str | None = None,
        verify: bool | None = None,
    ) -> Loaded:
        kind, chosen = select_backend(model, backend, expected_digest=expected_digest)
        options = self._ort_options if kind == "onnxruntime" else self._litert_options
        if isinstance(chosen, MemoryModel):
            label, digest = chosen.name, chosen.digest()
        else:
            label, digest = chosen.label, chosen.digest
            if verify is not False:
                args = (chosen, kind, self._threads, dict(options))
                key = probe_key(*args, self._probe_max_bytes)
                # Default: probe unless the digest is pinned or this file probed clean before.
                if verify or (expected_digest is None and not known_good(key)):
                    probe_load(*args, self._probe_timeout, self._probe_max_bytes)
                    remember_good(key)
        runtime = open_backend(chosen, kind, threads=self._threads, options=options)
        loaded = Loaded(runtime, label=label, digest=digest, check_finite=self._check_finite)
        if self._cache is not None and loaded.stateful:
            why = (
                "TFLite resource variables: VAR_HANDLE/READ_VARIABLE/ASSIGN_VARIABLE"
                if loaded.backend.kind == "litert"
                else "declared stateful"
            )
            raise InvalidInputError(
                f"{loaded.label} keeps internal state between calls ({why}), so equal inputs "
                "do not give equal outputs; it cannot be cached. Pass cache=None."
            )
        self._warm(loaded, warmup_feeds)
        return loaded

    def _warm(self, loaded: Loaded, warmup_feeds: Mapping[str, np.ndarray] | None) -> None:
        if warmup_feeds is not None:
            feeds = loaded.normalize(warmup_feeds)
            for _ in range(max(1, self._warmup)):
                self._execute(loaded, feeds)
            if loaded.stateful:
                loaded.backend.reset()
            return
        if loaded.stateful or not self._warmup:
            return
        feeds = loaded.synthetic_feeds()
        for _ in range(self._warmup):
            try:
                loaded.backend.run(feeds)
            except Exception:
                return

    # -- metadata ----------------------------------------------------------------------

    @property
    def inputs(self) -> tuple[TensorInfo, ...]:
        """The model's inputs: name, shape (``None`` for dynamic), dtype, quantization."""
        return self._model.inputs

    @property
    def outputs(self) -> tuple[TensorInfo, ...]:
        """The model's outputs: name, shape (``None`` for dynamic), dtype, quantization."""
        return self._model.outputs

    @property
    def backend(self) -> str:
        """The runtime in use: ``"onnxruntime"``, ``"litert"`` or ``"memory"``."""
        return self._model.backend.kind

    @property
    def digest(self) -> str:
        """xxh3-128 (hex) of the model file, the model's identity in cache keys."""
        return self._model.digest

    @property
    def model_name(self) -> str:
        """File name of the model, or ``<N bytes>``."""
        return self._model.label

    @property
    def stateful(self) -> bool:
        """True when the model carries state between calls (TFLite resource variables)."""
        return self._model.stateful

    @property
    def batchable(self) -> bool:
        """True when requests are merged into batches: a stateless model with a batch axis
        on an input and on every output (see :attr:`batch_axes`)."""
        return self._model.batchable

    @property
    def batch_axes(self) -> dict[str, int | None]:
        """The batch axis of each input and output by name; ``None`` for an input shared
        by the requests of a batch (merged only with equal values), ``-1`` for an
        output whose axis is found on the first merged batch.

        From the model's dynamic dimensions: the one named like the first input's
        first dynamic dimension, else an input's first unnamed dynamic dimension or
        an output's only dynamic one (Silero VAD: ``input`` 0, ``state`` 1, ``sr``
        ``None``, ``output`` 0, ``stateN`` 1 once found).
        """
        m = self._model
        names = (*m.input_names, *m.output_names)
        return dict(zip(names, (*m.in_axes, *m.out_axes), strict=True))

    @property
    def cache(self) -> ResultCache | None:
        """The result cache, if any."""
        return self._cache

    def __repr__(self) -> str:
        return (
            f"InferenceEngine({self._model.label!r}, backend={self.backend!r}, "
            f"inputs=[{'; '.join(t.describe() for t in self.inputs)}])"
        )

    # -- running -----------------------------------------------------------------------

    def _execute(self, m: Loaded, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        try:
            outs = m.backend.run(feeds)
        except EdgekitError:
            raise
        except Exception as exc:
            raise _runtime_error(m, exc) from exc
        if m.single_output is not None:
            return {m.single_output: outs[0]}
        return dict(zip(m.output_names, outs))  # noqa: B905 - strict= costs 1 us here

    def run(
        self, feeds: Mapping[str, np.ndarray] | np.ndarray, *, quantized: bool = True
    ) -> dict[str, np.ndarray]:
        """Run the model once; returns ``{output name: array}``.

        ``feeds`` is a dict ``{input name: array}``, or one array for a model with
        one input. Names, ranks, fixed dimensions and dtypes are checked; a wrong
        feed raises :class:`~edgekit.errors.InvalidInputError` naming the input
        and what was expected. For int8/uint8 quantized models, ``quantized=False``
        takes float inputs and returns float32 outputs, using each tensor's scale
        and zero point. A runtime failure raises :class:`~edgekit.errors.InferenceError`.
        The engine stays usable after any error.
        """
        t0 = _now()
        m = self._model
        try:
            if not quantized:
                feeds = m.quantize(feeds)
            elif feeds.__class__ is _ndarray and m.single is not None:
                feeds = {m.single: feeds}
            cache = self._cache
            if cache is not None and not m.check_finite:
                # Cache path: validation and key in one generated pass.
                try:
                    key = m.ok_key(feeds, cache._hash)
                except (BufferError, TypeError, ValueError):  # not C-contiguous
                    key = None
                if key is None:
                    feeds = m.normalize(feeds)
                    key = cache.fast_key(m.key_prefix, feeds, m.key_plan)
                hit = cache.get(key)
                if hit is None:
                    hit = cache.put(key, self._execute(m, feeds))  # type: ignore[arg-type]
                result = dict(hit)
                if not quantized:
                    result = m.dequantize(result)
                self._latencies.append(_now() - t0)
                next(self._calls)
                return result
            if not m.fast_ok(feeds):
                feeds = m.normalize(feeds)
            if m.check_finite:
                m.finite_check(feeds)  # type: ignore[arg-type]
            if cache is None:
                try:
                    outs = m.backend.run(feeds)  # type: ignore[arg-type]
                except EdgekitError:
                    raise
                except Exception as exc:
                    raise _runtime_error(m, exc) from exc
                if m.single_output is not None:
                    result = {m.single_output: outs[0]}
                else:
                    result = dict(zip(m.output_names, outs))  # noqa: B905
            else:
                try:
                    key = m.make_key(feeds, cache._hash)
                except (BufferError, TypeError, ValueError):  # not C-contiguous
                    key = cache.fast_key(m.key_prefix, feeds, m.key_plan)  # type: ignore[arg-type]
                hit = cache.get(key)
                if hit is None:
                    hit = cache.put(key, self._execute(m, feeds))  # type: ignore[arg-type]
                result = dict(hit)
            if not quantized:
                result = m.dequantize(result)
        except BaseException:
            next(self._errors)
            raise
        self._latencies.append(_now() - t0)
        next(self._calls)
        return result

    __call__ = run

    # -- micro-batching ----------------------------------------------------------------

    def _get_batcher(self) -> MicroBatcher:
        batcher = self._batcher
        if batcher is None:
            with self._batcher_lock:
                if self._closed:
                    raise InferenceError("the engine is closed")
                if self._batcher is None:
                    # The worker reaches the engine through a weak reference, so an
                    # engine that is dropped without close() is collected and its
                    # batching thread stops.
                    ref = weakref.ref(self)

                    def engine() -> InferenceEngine:
                        strong = ref()
                        if strong is None:
                            raise InferenceError("the engine was garbage-collected")
                        return strong

                    self._batcher = MicroBatcher(
                        lambda: engine()._model,
                        lambda m, feeds: engine()._execute(m, feeds),
                        lambda m, key, quantized, outputs: engine()._finish(
                            m, key, quantized, outputs
                        ),
                        lambda sizes, latencies, errors: engine()._record_batch(
                            sizes, latencies, errors
                        ),
                        max_batch=self.max_batch,
                        max_delay=self.max_delay_us / 1e6,
                    )
                    weakref.finalize(self, self._batcher.close, 0.0)
                batcher = self._batcher
        return batcher

    def _finish(
        self, m: Loaded, key: Any, quantized: bool, outputs: dict[str, np.ndarray]
    ) -> dict[str, np.ndarray]:
        if key is not None and self._cache is not None:
            outputs = dict(self._cache.put(key, outputs))
        if not quantized:
            outputs = m.dequantize(outputs)
        return outputs

    def _record_batch(self, sizes: list[int], latencies: list[int], errors: int) -> None:
        """Stats of one batch (run by one batch runner at a time): runtime calls by size,
        latencies (ns) of the answered requests, failed requests."""
        for size in sizes:
            self._batch_sizes[size] += 1
        self._latencies.extend(latencies)
        self._batched_calls += len(latencies)
        self._batched_errors += errors

    def _check(
        self, feeds: Mapping[str, np.ndarray] | np.ndarray, quantized: bool, rows: bool
    ) -> tuple[dict[str, np.ndarray], int, Any, dict[str, np.ndarray] | None]:
        """Validate and look up the cache: (feeds, rows, cache key, cached result or None).

        ``rows``: count the rows along the batch axes, which must agree.
        """
        t0 = _now()
        m = self._model
        try:
            ready = m.prepare(m.quantize(feeds) if not quantized else feeds)
            n = m.rows(ready) if rows else 1
        except BaseException:
            next(self._errors)
            raise
        key = None
        if self._cache is not None:
            key = self._cache.fast_key(m.key_prefix, ready, m.key_plan)
            hit = self._cache.get(key)
            if hit is not None:
                self._latencies.append(_now() - t0)
                next(self._calls)
                return ready, n, key, dict(hit) if quantized else m.dequantize(dict(hit))
        return ready, n, key, None

    def submit(
        self, feeds: Mapping[str, np.ndarray] | np.ndarray, *, quantized: bool = True
    ) -> Future[dict[str, np.ndarray]]:
        """Queue one request for micro-batching; returns a ``concurrent.futures.Future``.

        Thread-safe. Queued requests are merged along each input's batch axis
        (:attr:`batch_axes`; requests with different values of a shared input go
        in different calls) into one runtime call of at most ``max_batch`` rows,
        and each caller gets its own rows back. While fewer rows are queued than the previous batch held,
        the first request waits at most ``max_delay_us`` for company. When a
        merged call fails, each request is run alone, so every caller gets its
        own result or error.

        The future is a ``Future`` subclass made for many waiting threads
        (``result(timeout)``, ``exception(timeout)``, ``done()``, ``cancel()``,
        ``add_done_callback()``, ``concurrent.futures.wait`` and
        ``asyncio.wrap_future`` work as usual). Waiters of one batch are woken
        one after another, each by the previous one. A lone request (nothing
        queued or running, previous batch a single request) is run by the thread
        that calls ``result()``/``exception()`` on it, with no thread hand-over;
        if nobody does, the batching thread runs it once the future gets a
        callback, is polled with ``done()``, or another request arrives.

        Models without a batch axis on an input and every output (a fixed batch
        of 1) and stateful models are not merged: their requests run one after
        another, in submission order. Invalid feeds, and inputs that disagree on
        their batch size, fail here, at submission, with ``InvalidInputError``.
        """
        t0 = _now()
        ready, rows, key, cached = self._check(feeds, quantized, True)
        if cached is not None:
            done = BatchFuture()
            done.set_result(cached)
            return done
        request = Request(ready, rows, key, quantized, t0)
        self._get_batcher().put(request)
        return request.future

    async def async_run(
        self, feeds: Mapping[str, np.ndarray] | np.ndarray, *, quantized: bool = True
    ) -> dict[str, np.ndarray]:
        """``await engine.async_run(x)``: a micro-batched run for asyncio callers.

        Requests of one event-loop iteration leave together as one batch (a
        ``call_soon`` flush after the tasks ready in that iteration), or as soon as
        ``max_batch`` of them are in. While the batching thread is idle and a batch
        of the loop's callers is expected to take at most 5 ms, the batch
        runs in the event loop itself (no thread hand-over; the loop waits for it);
        otherwise it goes to the batching thread, whose results reach the loop
        through a single callback per batch. Feeds are checked once per batch, as a whole, when it
        runs; an invalid request gets its ``InvalidInputError`` here, and the
        others of its batch their results.
        """
        batcher = self._batcher or self._get_batcher()
        extra = None
        if not quantized or self._cache is not None:
            feeds, _, key, cached = self._check(feeds, quantized, False)
            if cached is not None:
                return cached
            extra = (key, quantized)
        state, future = batcher.put_async(feeds, extra)
        try:
            return await future
        finally:
            state.callers -= 1
            if not state.callers:
                batcher.returned(state)

    # -- hot swap ----------------------------------------------------------------------

    def swap(
        self,
        model: ModelLike,
        *,
        backend: BackendName | None = None,
        force: bool = False,
        warmup_feeds: Mapping[str, np.ndarray] | None = None,
        expected_digest: str | None = None,
        verify: bool | None = None,
    ) -> None:
        """Load and warm ``model``, then switch to it atomically.

        Loading and warm-up happen in the calling thread while other threads keep
        running the old model; the switch is one reference assignment, so every
        request runs entirely on the old or entirely on the new model. Requests
        already running finish on the old model. A model whose inputs differ
        (names, dtypes or shapes) is refused with ``InvalidInputError`` unless
        ``force=True``. On any error the old model stays in place. ``verify`` is
        as for the constructor (``None``: the engine's own setting).
        """
        new = self._load(
            model,
            backend or self._backend_name,
            warmup_feeds,
            expected_digest,
            self._verify if verify is None else verify,
        )
        with self._swap_lock:
            old = self._model
            if not force and not old.same_inputs(new):
                raise InvalidInputError(
                    f"{new.label} takes other inputs than {old.label} "
                    f"({'; '.join(t.describe() for t in new.inputs)} vs "
                    f"{'; '.join(t.describe() for t in old.inputs)}); pass force=True to swap anyway"
                )
            self._model = new
            self._swaps += 1

    async def async_swap(
        self,
        model: ModelLike,
        *,
        backend: BackendName | None = None,
        force: bool = False,
        warmup_feeds: Mapping[str, np.ndarray] | None = None,
        expected_digest: str | None = None,
        verify: bool | None = None,
    ) -> None:
        """:meth:`swap` in a worker thread, so an event loop keeps serving while the model loads."""
        await asyncio.to_thread(
            self.swap,
            model,
            backend=backend,
            force=force,
            warmup_feeds=warmup_feeds,
            expected_digest=expected_digest,
            verify=verify,
        )

    # -- state, stats, lifetime --------------------------------------------------------

    def reset(self) -> None:
        """Put a stateful model's state back to the start (no-op for stateless models)."""
        self._model.backend.reset()

    def stats(self) -> EngineStats:
        """Calls, errors, latency percentiles (us), cache and batching counters."""
        latencies = list(self._latencies)
        p50, p90, p99, mean = percentiles(latencies)
        info = self._cache.info() if self._cache is not None else None
        return EngineStats(
            model=self._model.label,
            backend=self.backend,
            calls=_count(self._calls) + self._batched_calls,
            errors=_count(self._errors) + self._batched_errors,
            p50_us=p50,
            p90_us=p90,
            p99_us=p99,
            mean_us=mean,
            window=len(latencies),
            cache_hits=info.hits if info else 0,
            cache_misses=info.misses if info else 0,
            batches=sum(self._batch_sizes.values()),
            batch_sizes=dict(sorted(self._batch_sizes.items())),
            swaps=self._swaps,
        )

    def reset_stats(self) -> None:
        """Clear latencies and counters (the cache's own counters are kept)."""
        self._latencies.clear()
        self._calls = itertools.count()
        self._errors = itertools.count()
        self._batched_calls = self._batched_errors = 0
        self._batch_sizes = Counter()

    def close(self) -> None:
        """Stop the batching thread (queued requests are still answered); idempotent."""
        with self._batcher_lock:
            self._closed = True
            batcher, self._batcher = self._batcher, None
        if batcher is not None:
            batcher.close()

    def __enter__(self) -> InferenceEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _runtime_error(m: Loaded, exc: BaseException) -> InferenceError:
    return InferenceError(f"{m.label}: the runtime failed: {str(exc).strip()}")


def _count(counter: itertools.count[int]) -> int:
    """Current value of an ``itertools.count`` without advancing it."""
    return int(counter.__reduce__()[1][0])
