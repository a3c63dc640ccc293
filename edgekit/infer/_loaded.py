"""One loaded model: its backend plus everything the engine precomputes for the fast path."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from itertools import accumulate, pairwise
from typing import Any

import numpy as np

from edgekit.errors import InferenceError, InvalidInputError
from edgekit.infer._backends import Backend
from edgekit.infer.cache import key_prefix
from edgekit.infer.types import Quantization, TensorInfo

_ndarray = np.ndarray


def _qparams(t: TensorInfo) -> tuple[Any, Any, Any, Any] | None:
    """(scale, zero_point, qmin, qmax) broadcastable over ``t``, or None when not quantized."""
    q: Quantization | None = t.quantization
    if q is None or t.dtype.kind not in "iu":
        return None
    info = np.iinfo(t.dtype)  # type: ignore[type-var]
    if q.per_tensor:
        return (
            np.float32(q.scale[0]),
            np.float32(q.zero_point[0]),
            np.float32(info.min),
            np.float32(info.max),
        )
    shape = [1] * max(t.rank, 1)
    shape[q.axis] = len(q.scale)
    scale = np.asarray(q.scale, dtype=np.float32).reshape(shape)
    zero = np.asarray(q.zero_point, dtype=np.float32).reshape(shape)
    return scale, zero, float(info.min), float(info.max)


class NoMerge(Exception):
    """Requests the fast merge cannot take as they are; the checked path sorts them out."""


def batch_axes(
    inputs: tuple[TensorInfo, ...], outputs: tuple[TensorInfo, ...]
) -> tuple[tuple[int | None, ...], tuple[int | None, ...]]:
    """The batch axis of each input and output, from the model's dynamic dimensions.

    The batch dimension's name is the name of the first dynamic dimension of the
    first input that has one (``"batch"``, ``"N"``), if the model names it. An
    input batches along the dimension of that name, else along its first unnamed
    dynamic dimension; without either it has no batch axis (``None``): it is
    shared by the requests of a batch, like Silero VAD's scalar ``sr``. An output
    batches along the dimension of that name, else along its only dynamic one;
    ``-1`` when it has several (resolved from the first merged batch), ``None``
    when it has none (the model is then not batchable).
    """
    batch: str | None = None
    for t in inputs:
        dynamic = [i for i, d in enumerate(t.shape) if d is None]
        if dynamic:
            names = _names(t)
            batch = names[dynamic[0]]
            break

    def axis(t: TensorInfo, output: bool) -> int | None:
        names = _names(t)
        if batch is not None and batch in names:
            return names.index(batch)
        dynamic = [i for i, d in enumerate(t.shape) if d is None and (output or names[i] is None)]
        if not dynamic:
            return None
        return dynamic[0] if not output or len(dynamic) == 1 else -1

    return tuple(axis(t, False) for t in inputs), tuple(axis(t, True) for t in outputs)


def _names(t: TensorInfo) -> tuple[str | None, ...]:
    return t.dim_names if len(t.dim_names) == t.rank else (None,) * t.rank


class Loaded:
    """A model ready to run: backend, tensors, validation tables, quantization tables."""

    def __init__(
        self,
        backend: Backend,
        *,
        label: str,
        digest: str,
        check_finite: bool,
    ) -> None:
        self.backend = backend
        self.label = label
        self.digest = digest
        self.inputs = backend.inputs
        self.outputs = backend.outputs
        self.stateful = backend.stateful
        self.input_names = tuple(t.name for t in self.inputs)
        self.output_names = tuple(t.name for t in self.outputs)
        self.n_inputs = len(self.inputs)
        self.single_output = self.output_names[0] if len(self.outputs) == 1 else None
        self.single = self.input_names[0] if self.n_inputs == 1 else None
        # (name, dtype, full shape or None when dynamic, rank, fixed (axis, size) pairs)
        self.checks = tuple(
            (
                t.name,
                t.dtype,
                None if t.dynamic else t.shape,
                t.rank,
                tuple((axis, size) for axis, size in enumerate(t.shape) if size is not None),
            )
            for t in self.inputs
            if t.dtype != np.dtype(object)
        )
        self.by_name = {t.name: t for t in self.inputs}
        self.key_prefix = key_prefix(
            digest,
            [(t.name, t.dtype, None if t.dynamic else t.shape) for t in self.inputs],  # type: ignore[misc]
        )
        self.key_plan = tuple(
            (
                t.name,
                t.dynamic,
                not t.dynamic and math.prod(d or 0 for d in t.shape) * t.dtype.itemsize <= 16,
            )
            for t in self.inputs
        )
        self.fast_ok, self.make_key = self._compile()
        self.check_finite = check_finite
        self.finite_names = tuple(t.name for t in self.inputs if t.dtype.kind in "fc")
        self.quant_in = {t.name: p for t in self.inputs if (p := _qparams(t)) is not None}
        self.quant_out = {t.name: p for t in self.outputs if (p := _qparams(t)) is not None}
        self.in_axes, self.out_axes = batch_axes(self.inputs, self.outputs)
        #: (index, name, axis) of the inputs with a batch axis; the others are shared
        #: by the requests of a batch (equal values only, like Silero VAD's ``sr``).
        self.batched = tuple(
            (i, t.name, ax)
            for i, (t, ax) in enumerate(zip(self.inputs, self.in_axes, strict=True))
            if ax is not None
        )
        self.shared = tuple(
            t.name for t, ax in zip(self.inputs, self.in_axes, strict=True) if ax is None
        )
        # Batchable: not stateful, an input with a batch axis, and every output has
        # one (-1: several dynamic dimensions, resolved on the first merged batch).
        self.batchable = (
            not self.stateful and bool(self.batched) and all(a is not None for a in self.out_axes)
        )

    # -- validation --------------------------------------------------------------------

    def _compile(self) -> tuple[Callable[[Any], bool], Callable[[Any, Callable[[Any], int]], Any]]:
        """Straight-line ``fast_ok(feeds)`` and ``make_key(feeds, hash)`` for this model.

        Generated once per model (as dataclasses generate ``__init__``): no loops
        or tuple unpacking per call. Names enter the source only through ``repr``.
        """
        ns: dict[str, Any] = {"ndarray": _ndarray, "prefix": self.key_prefix}
        ok = [
            "def fast_ok(f):",
            f"    if f.__class__ is not dict or len(f) != {self.n_inputs}:",
            "        return False",
        ]
        checked = set()
        for i, (name, dtype, full, ndim, fixed) in enumerate(self.checks):
            checked.add(name)
            ns[f"d{i}"] = dtype
            ok += [
                f"    a = f.get({name!r})",
                f"    if a.__class__ is not ndarray or (a.dtype is not d{i} and a.dtype != d{i}):",
                "        return False",
            ]
            if full is not None:
                ok += [f"    if a.shape != {tuple(full)!r}:", "        return False"]
            else:
                ok += ["    s = a.shape", f"    if len(s) != {ndim}:", "        return False"]
                for axis, size in fixed:
                    ok += [f"    if s[{axis}] != {size}:", "        return False"]
        for name in self.input_names:
            if name not in checked:
                ok += [f"    if {name!r} not in f:", "        return False"]
        ok.append("    return True")
        key = ["def make_key(f, h):"]
        parts = ["prefix"]
        for i, (name, dynamic, small) in enumerate(self.key_plan):
            key.append(f"    a{i} = f[{name!r}]")
            if dynamic:
                parts.append(f"a{i}.shape")
            parts.append(f"a{i}.tobytes()" if small else f"h(a{i})")
        key.append(f"    return ({', '.join(parts)},)")
        # ok_key: fast_ok and make_key in one pass (the cache-hit path); None when a check fails.
        both = [
            "def ok_key(f, h):",
            f"    if f.__class__ is not dict or len(f) != {self.n_inputs}:",
            "        return None",
        ]
        by_name = {c[0]: (i, c) for i, c in enumerate(self.checks)}
        for i, (name, _, _) in enumerate(self.key_plan):
            both.append(f"    a{i} = f.get({name!r})")
            if name not in by_name:
                both += [f"    if a{i} is None:", "        return None"]
                continue
            j, (_, _, full, ndim, fixed) = by_name[name]
            both += [
                f"    if a{i}.__class__ is not ndarray or (a{i}.dtype is not d{j} and a{i}.dtype != d{j}):",
                "        return None",
            ]
            if full is not None:
                both += [f"    if a{i}.shape != {tuple(full)!r}:", "        return None"]
            else:
                both += [f"    s = a{i}.shape", f"    if len(s) != {ndim}:", "        return None"]
                for axis, size in fixed:
                    both += [f"    if s[{axis}] != {size}:", "        return None"]
        both.append(f"    return ({', '.join(parts)},)")
        source = "\n\n".join("\n".join(lines) for lines in (ok, key, both))
        exec(source, ns)  # source built from repr()s only
        self.ok_key: Callable[[Any, Callable[[Any], int]], Any] = ns["ok_key"]
        return ns["fast_ok"], ns["make_key"]

    def fast_ok_reference(self, feeds: Any) -> bool:
        """The loop :meth:`_compile` unrolls: True when ``feeds`` passes every check."""
        if feeds.__class__ is not dict or len(feeds) != self.n_inputs:
            return False
        for name, dtype, full, ndim, fixed in self.checks:
            a = feeds.get(name)
            if a.__class__ is not _ndarray or (a.dtype is not dtype and a.dtype != dtype):
                return False
            if full is not None:
                if a.shape != full:
                    return False
                continue
            if a.ndim != ndim:
                return False
            if fixed:
                shape = a.shape
                for axis, size in fixed:
                    if shape[axis] != size:
                        return False
        return True

    def _as_dict(self, feeds: Any) -> dict[str, Any] | None:
        """``feeds`` as a new dict by input name (one value for a one-input model), or None."""
        if isinstance(feeds, Mapping):
            return dict(feeds)
        if self.single is not None:
            return {self.single: feeds}
        return None

    def normalize(self, feeds: Any) -> dict[str, np.ndarray]:
        """Validated feeds as a new dict, or an ``InvalidInputError`` saying what is wrong."""
        given = self._as_dict(feeds)
        if given is None:
            raise InvalidInputError(
                f"{self.label} has {self.n_inputs} inputs ({', '.join(self.input_names)}): "
                f"pass a dict of arrays, not a single {type(feeds).__name__}"
            )
        missing = [n for n in self.input_names if n not in given]
        extra = [n for n in given if n not in self.by_name]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing input(s) {missing}")
            if extra:
                parts.append(f"unknown input(s) {extra}")
            raise InvalidInputError(
                f"{self.label}: {' and '.join(parts)}; the model's inputs are "
                + "; ".join(t.describe() for t in self.inputs)
            )
        out: dict[str, np.ndarray] = {}
        for t in self.inputs:
            value = given[t.name]
            if not isinstance(value, np.ndarray):
                try:
                    value = np.asarray(value)
                except Exception as exc:
                    raise InvalidInputError(
                        f"{self.label}: input {t.name!r} is not array-like ({type(value).__name__})"
                    ) from exc
            if t.dtype != np.dtype(object) and value.dtype != t.dtype:
                hint = ""
                if t.quantization is not None and value.dtype.kind == "f":
                    hint = "; pass quantized=False to have edgekit quantize float inputs"
                raise InvalidInputError(
                    f"{self.label}: input {t.name!r} has dtype {value.dtype}, expected {t.dtype}{hint}"
                )
            if value.ndim != t.rank:
                raise InvalidInputError(
                    f"{self.label}: input {t.name!r} has rank {value.ndim} (shape {value.shape}), "
                    f"expected rank {t.rank}: {t.describe()}"
                )
            for axis, size in enumerate(t.shape):
                if size is not None and value.shape[axis] != size:
                    raise InvalidInputError(
                        f"{self.label}: input {t.name!r} has shape {value.shape}, expected "
                        f"{size} at axis {axis}: {t.describe()}"
                    )
            out[t.name] = value
        return out

    def finite_check(self, feeds: Mapping[str, np.ndarray]) -> None:
        """Raise when a float input holds NaN or infinity."""
        for name in self.finite_names:
            a = feeds[name]
            if a.size and not np.isfinite(a).all():
                raise InvalidInputError(
                    f"{self.label}: input {name!r} holds NaN or infinite values"
                )

    def prepare(self, feeds: Any) -> dict[str, np.ndarray]:
        """Validated feeds (one array for a one-input model becomes a dict)."""
        if feeds.__class__ is _ndarray and self.single is not None:
            feeds = {self.single: feeds}
        if not self.fast_ok(feeds):
            feeds = self.normalize(feeds)
        if self.check_finite:
            self.finite_check(feeds)
        return feeds  # type: ignore[no-any-return]

    # -- batching ----------------------------------------------------------------------

    def rows(self, feeds: dict[str, np.ndarray]) -> int:
        """Rows of validated ``feeds`` along their batch axes, which must agree (1 if unbatchable)."""
        if not self.batchable:
            return 1
        sizes = [feeds[name].shape[ax] for _, name, ax in self.batched]
        if any(size != sizes[0] for size in sizes):
            given = ", ".join(
                f"{name!r} has {size} along axis {ax}"
                for (_, name, ax), size in zip(self.batched, sizes, strict=True)
            )
            raise InvalidInputError(
                f"{self.label}: the inputs disagree on the batch size ({given}); every "
                "input with a batch axis must have as many rows along it"
            )
        return int(sizes[0])

    def signature(self, feeds: dict[str, np.ndarray]) -> tuple[Any, ...]:
        """What requests must share to be merged: the shapes of their inputs but the
        batch axis, and the values of the shared inputs."""
        key: list[Any] = []
        for _, name, ax in self.batched:
            shape = feeds[name].shape
            key.append(shape[:ax] + shape[ax + 1 :])
        for name in self.shared:
            a = feeds[name]
            key.append((a.shape, a.dtype.str, a.tobytes()))
        return tuple(key)

    def merge(self, feeds: list[Any]) -> tuple[dict[str, np.ndarray], list[int]]:
        """The feeds of several requests as one batch, and each request's rows.

        Checks once for the whole batch what :meth:`prepare` checks per request:
        concatenation without casting (every array of the right dtype, equal
        dimensions off the batch axis), the merged feeds against the model, equal
        shared inputs. Raises :class:`NoMerge` (or a NumPy error) when the
        requests do not merge as they are, ``InvalidInputError`` for non-finite
        values with ``check_finite``.
        """
        merged: dict[str, np.ndarray] = {}
        if self.n_inputs == 1:
            name = self.input_names[0]
            if feeds[0].__class__ is _ndarray:
                arrays = feeds  # a dict among them fails to concatenate without casting
            else:
                arrays = []
                for f in feeds:
                    if f.__class__ is not _ndarray:
                        if f.__class__ is not dict or len(f) != 1:
                            raise NoMerge
                        f = f[name]
                    arrays.append(f)
            ((_, _, ax),) = self.batched
            merged[name] = np.concatenate(arrays, axis=ax, dtype=self.inputs[0].dtype, casting="no")
            rows = [a.shape[ax] for a in arrays]
        else:
            for f in feeds:
                if f.__class__ is not dict or len(f) != self.n_inputs:
                    raise NoMerge
            rows = []
            for i, name, ax in self.batched:
                column = [f[name] for f in feeds]
                merged[name] = np.concatenate(
                    column, axis=ax, dtype=self.inputs[i].dtype, casting="no"
                )
                sizes = [a.shape[ax] for a in column]
                if not rows:
                    rows = sizes
                elif sizes != rows:
                    raise NoMerge
            for name in self.shared:
                first = feeds[0][name]
                shape, dtype, data = first.shape, first.dtype, first.tobytes()
                for f in feeds:
                    a = f[name]
                    if a is not first and (
                        a.shape != shape or a.dtype != dtype or a.tobytes() != data
                    ):
                        raise NoMerge
                merged[name] = first
        if not self.fast_ok(merged):
            raise NoMerge
        if self.check_finite:
            self.finite_check(merged)
        return merged, rows

    def split(self, outputs: dict[str, np.ndarray], rows: list[int]) -> list[dict[str, np.ndarray]]:
        """Each request's part of a merged batch's outputs, cut along each output's batch axis.

        Views for outputs batched on axis 0; contiguous copies for the others
        (Silero VAD's ``stateN``), which callers feed back as inputs.
        """
        bounds = [0, *accumulate(rows)]
        total = bounds[-1]
        for name, ax in zip(self.output_names, self.out_axes, strict=True):
            o = outputs[name]
            if ax is None or ax < 0 or o.ndim <= ax or o.shape[ax] != total:
                raise InferenceError(
                    f"{self.label}: output {name!r} of shape {o.shape} does not keep the "
                    f"batch of {total} rows on axis {ax}"
                )
        if rows.count(1) == len(rows):
            # One row each (the common case): iterate over the outputs with the batch
            # axis moved first and a unit axis put in its place, in C.
            columns = []
            for name, ax in zip(self.output_names, self.out_axes, strict=True):
                o = outputs[name]
                if ax:
                    o = np.expand_dims(np.ascontiguousarray(np.moveaxis(o, ax, 0)), ax + 1)
                else:
                    o = o[:, None]
                columns.append(o)
            if len(columns) == 1:
                name = self.output_names[0]
                return [{name: v} for v in columns[0]]
            names = self.output_names
            return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]
        pairs = list(pairwise(bounds))
        parts: list[dict[str, np.ndarray]] = [{} for _ in rows]
        for name, ax in zip(self.output_names, self.out_axes, strict=True):
            o = outputs[name]
            if ax == 0:
                for part, (a, b) in zip(parts, pairs, strict=True):
                    part[name] = o[a:b]
            else:
                lead = [slice(None)] * (ax or 0)
                for part, (a, b) in zip(parts, pairs, strict=True):
                    part[name] = np.ascontiguousarray(o[tuple([*lead, slice(a, b)])])
        return parts

    def resolve_axes(
        self, alone: dict[str, np.ndarray], rows: int, merged: dict[str, np.ndarray], total: int
    ) -> bool:
        """Find the batch axis of outputs with several dynamic dimensions (``-1``).

        ``alone`` is one request's outputs (``rows`` rows), ``merged`` those of a
        batch of ``total`` rows holding it: the batch axis is the one axis whose
        size differs, ``rows`` against ``total``. False when the pair does not tell;
        an output whose sizes disagree otherwise makes the model unbatchable.
        """
        axes = list(self.out_axes)
        for i, (name, ax) in enumerate(zip(self.output_names, axes, strict=True)):
            if ax != -1:
                continue
            a, b = alone[name].shape, merged[name].shape
            differ = [k for k in range(len(a)) if a[k] != b[k]] if len(a) == len(b) else [-1, -1]
            if not differ:
                return False
            if len(differ) != 1 or a[differ[0]] != rows or b[differ[0]] != total:
                self.batchable = False
                return False
            axes[i] = differ[0]
        self.out_axes = tuple(axes)
        return True

    # -- quantization ------------------------------------------------------------------

    def quantize(self, feeds: Any) -> dict[str, np.ndarray]:
        """Float feeds to the dtypes of quantized inputs (others pass through)."""
        given = self._as_dict(feeds)
        if given is None:
            return self.normalize(feeds)  # raises the helpful error
        for name, (scale, zero, qmin, qmax) in self.quant_in.items():
            value = given.get(name)
            if value is None:
                continue
            x = value if value.__class__ is _ndarray else np.asarray(value)
            if x.dtype.kind not in "fiu":
                raise InvalidInputError(
                    f"{self.label}: input {name!r} must be real numbers to quantize, not {x.dtype}"
                )
            q = x / scale if x.dtype == np.float32 else np.divide(x, scale, dtype=np.float32)
            # One float64 sum finds NaN and infinity (float32 inputs cannot overflow it).
            if q.size and not np.isfinite(q.sum(dtype=np.float64)):
                raise InvalidInputError(
                    f"{self.label}: input {name!r} holds NaN or infinite values, which cannot be "
                    "quantized"
                )
            np.rint(q, out=q)
            q += zero
            np.minimum(q, qmax, out=q)  # ufuncs: np.clip costs several times more on small arrays
            np.maximum(q, qmin, out=q)
            given[name] = q.astype(self.by_name[name].dtype)
        return given

    def dequantize(self, outputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Quantized outputs to float32 (``(q - zero_point) * scale``); others pass through."""
        for name, (scale, zero, _, _) in self.quant_out.items():
            outputs[name] = (outputs[name].astype(np.float32) - zero) * scale
        return outputs

    # -- warm-up -----------------------------------------------------------------------

    def synthetic_feeds(self) -> dict[str, np.ndarray]:
        """Zeros of every input; dynamic dimensions are 1."""
        return {
            t.name: np.zeros(tuple(1 if d is None else d for d in t.shape), dtype=t.dtype)
            for t in self.inputs
        }

    def same_inputs(self, other: Loaded) -> bool:
        """Same input names, dtypes and shapes (dynamic dimensions included) in the same order."""
        return [(t.name, t.dtype, t.shape) for t in self.inputs] == [
            (t.name, t.dtype, t.shape) for t in other.inputs
        ]
