"""A spy on a layer's numba kernels: which of them receive read-only arrays."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np
import pytest


def spy_read_only(module: ModuleType, monkeypatch: pytest.MonkeyPatch) -> set[tuple[str, int]]:
    """Wrap every numba dispatcher of ``module`` (calls from Python only: call the kernels
    once before, kernels calling each other as module globals must be compiled already);
    the returned set collects ``(kernel name, argument index)`` of each read-only array
    argument."""
    seen: set[tuple[str, int]] = set()

    def spy(name: str, fn: Any) -> Any:
        def call(*args: Any) -> Any:
            seen.update(
                (name, i)
                for i, a in enumerate(args)
                if isinstance(a, np.ndarray) and not a.flags.writeable
            )
            return fn(*args)

        return call

    for name in dir(module):
        fn = getattr(module, name)
        if hasattr(fn, "py_func"):  # a numba dispatcher
            monkeypatch.setattr(module, name, spy(name, fn))
    return seen
