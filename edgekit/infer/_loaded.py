"""One loaded model: its backend plus everything the engine precomputes for the fast path."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from edgekit.errors import InvalidInputError
from edgekit.infer._backends import Backend
from edgekit.infer._types import Quantization, TensorInfo
from edgekit.infer.cache import key_prefix

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
        # Batchable: every input and output has a dynamic leading dimension.
        self.batchable = (
            not self.stateful
            and all(t.rank >= 1 and t.shape[0] is None for t in self.inputs)
            and all(t.rank >= 1 and t.shape[0] is None for t in self.outputs)
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
        exec("\n".join(ok) + "\n\n" + "\n".join(key), ns)  # source built from repr()s only
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

    def normalize(self, feeds: Any) -> dict[str, np.ndarray]:
        """Validated feeds as a new dict, or an ``InvalidInputError`` saying what is wrong."""
        if isinstance(feeds, Mapping):
            given = dict(feeds)
        elif self.single is not None:
            given = {self.single: feeds}
        else:
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

    # -- quantization ------------------------------------------------------------------

    def quantize(self, feeds: Any) -> dict[str, np.ndarray]:
        """Float feeds to the dtypes of quantized inputs (others pass through)."""
        if isinstance(feeds, Mapping):
            given = dict(feeds)
        elif self.single is not None:
            given = {self.single: feeds}
        else:
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
