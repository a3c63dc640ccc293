"""The one place for numba settings.

Kernels live in each layer's private ``_kernels.py`` and are decorated with
:func:`njit` from here, never with ``numba.njit`` directly, so that flags and
cache settings are the same everywhere:

- ``cache=True``: compiled machine code is written next to the module (or to
  ``NUMBA_CACHE_DIR``), so a second process starts warm.
- fastmath policy: **off** by default. Several kernels must match a reference
  bit for bit (the TFLite Micro frontend, the codecs), and fast-math may reorder
  float arithmetic. A kernel may opt into a *named* subset of LLVM flags (for
  example ``fastmath={"contract"}``) only where a test shows results unchanged
  within the documented tolerance.
- ``nogil=True``: kernels release the GIL, so host threads run them in parallel.
- ``error_model="numpy"``: division by zero gives inf/nan as in NumPy instead of
  raising inside a kernel.

Importing this module does not import numba; :func:`njit` does, at the moment a
``_kernels`` module is imported. Public functions reach their ``_kernels`` through
:func:`lazy_kernels`, so ``import edgekit`` (and ``import edgekit.<layer>``) stays free
of numba.

A layer's kernels may be a ``_kernels/`` package split by algorithm. numba keys a
cached kernel on its own source file only, so a kernel inlining a helper from a
sibling module would keep running the old helper after that sibling changed (an
edit, or an upgrade that replaced some files and not others). :func:`njit`
therefore stamps every kernel in a ``_kernels`` package with a hash of all the
package's modules: a change to any of them recompiles them all.

When the installed package directory is read-only (a system install, a
read-only root file system on a device) and ``NUMBA_CACHE_DIR`` is unset, the
cache goes to ``$XDG_CACHE_HOME/edgekit/numba`` (``~/.cache/edgekit/numba``), by
setting ``NUMBA_CACHE_DIR`` for the process (numba has one cache setting, so
the host's own cached numba functions go there too). When that is not writable
either, kernels are compiled without a cache, in every process, with one
``RuntimeWarning`` saying so.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

__all__ = ["FASTMATH", "JIT_OPTIONS", "configure_cache", "lazy_kernels", "njit", "warmup"]

F = TypeVar("F", bound=Callable[..., Any])

#: Default fast-math policy for every kernel (see the module docstring).
FASTMATH: bool = False

#: The options every kernel is compiled with; a kernel may override single keys.
JIT_OPTIONS: dict[str, Any] = {
    "cache": True,
    "nogil": True,
    "fastmath": FASTMATH,
    "error_model": "numpy",
}

_PACKAGE_DIR = Path(__file__).resolve().parent


def _user_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "edgekit" / "numba"


# Set when no writable cache directory exists: kernels then compile uncached.
_cache_unavailable = False


def configure_cache() -> str | None:
    """Point numba's cache at a writable place when the package directory is read-only.

    Returns the cache directory set (or already set through ``NUMBA_CACHE_DIR``),
    or ``None`` when numba's default (``__pycache__`` beside each module) is usable,
    or when no place is writable (then :func:`njit` compiles without a cache and a
    ``RuntimeWarning`` says so once). Call before numba is imported; :func:`njit` does.
    """
    global _cache_unavailable
    current = os.environ.get("NUMBA_CACHE_DIR")
    if current:
        return current
    if os.access(_PACKAGE_DIR, os.W_OK):
        return None
    cache_dir = _user_cache_dir()
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=cache_dir).close()
    except OSError as exc:
        if not _cache_unavailable:
            _cache_unavailable = True
            warnings.warn(
                f"edgekit's numba kernels cannot be cached: {_PACKAGE_DIR} is read-only and "
                f"{cache_dir} is not writable ({exc.strerror}); every process compiles them "
                "on first use. Set NUMBA_CACHE_DIR to a writable directory.",
                RuntimeWarning,
                stacklevel=3,
            )
        return None
    _cache_unavailable = False
    os.environ["NUMBA_CACHE_DIR"] = str(cache_dir)
    numba_config = sys.modules.get("numba.core.config")
    if numba_config is not None:  # numba read its settings already
        numba_config.CACHE_DIR = str(cache_dir)  # type: ignore[attr-defined]
    return str(cache_dir)


def _package_stamp(directory: str) -> bytes:
    """SHA-256 over the names and contents of the ``.py`` files in ``directory``."""
    import hashlib

    digest = hashlib.sha256()
    for name in sorted(os.listdir(directory)):
        if name.endswith(".py"):
            digest.update(name.encode())
            digest.update(Path(directory, name).read_bytes())
    return digest.digest()


@functools.cache
def _stamp_kernel_packages() -> None:
    """Put locators first in numba's cache machinery that stamp a function defined in a
    ``_kernels`` package with :func:`_package_stamp` of the whole package."""
    from numba.core import caching

    def package_locator(base: type) -> type:
        class Locator(base):  # type: ignore[misc]
            @classmethod
            def from_function(cls, py_func: Any, py_file: str) -> Any:
                if os.path.basename(os.path.dirname(py_file)) != "_kernels":
                    return None
                return super().from_function(py_func, py_file)

            def get_source_stamp(self) -> Any:
                directory = os.path.dirname(self._py_file)
                stamp = tuple(
                    (e.name, e.stat().st_mtime_ns, e.stat().st_size)
                    for e in sorted(os.scandir(directory), key=lambda e: e.name)
                    if e.name.endswith(".py")
                )
                return (_package_stamp_cached(directory, stamp),)

        Locator.__name__ = Locator.__qualname__ = f"EdgekitPackage{base.__name__}"
        return Locator

    # (CacheImpl since numba 0.61, _CacheImpl before)
    impl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl", None)
    if impl is None or not isinstance(getattr(impl, "_locator_classes", None), list):
        return  # a numba without this machinery: kernels keep numba's per-file stamps
    ours = [
        package_locator(base)
        for base in (
            caching.UserProvidedCacheLocator,
            caching.InTreeCacheLocator,
            caching.UserWideCacheLocator,
        )
    ]
    impl._locator_classes = [*ours, *impl._locator_classes]


@functools.lru_cache(maxsize=64)
def _package_stamp_cached(directory: str, stamp: tuple[Any, ...]) -> bytes:
    """:func:`_package_stamp`, recomputed only when a file's mtime or size changed."""
    return _package_stamp(directory)


def njit(*args: Any, **overrides: Any) -> Any:
    """``numba.njit`` with edgekit's :data:`JIT_OPTIONS`; use bare or with overrides.

    ``@njit``, ``@njit(fastmath={"contract"})`` and ``@njit("float64(float64)")``
    (an eager signature) all work.
    """
    configure_cache()
    import numba

    _stamp_kernel_packages()
    options = {**JIT_OPTIONS, **overrides}
    if _cache_unavailable:
        options["cache"] = False
    if len(args) == 1 and callable(args[0]) and not overrides:
        return numba.njit(**options)(args[0])
    return numba.njit(*args, **options)


def lazy_kernels(layer: str) -> Callable[[], ModuleType]:
    """A function that returns ``edgekit.<layer>._kernels``, imported on its first call.

    Each layer makes one (``kernels = lazy_kernels("codec")``) and its public functions
    call it (``kernels().int_payload(...)``) instead of importing the kernels, so that
    importing the layer does not import numba. Later calls return the module from a
    cache (about 50 ns).
    """
    return functools.cache(functools.partial(importlib.import_module, f"edgekit.{layer}._kernels"))


def warmup(layers: Iterable[str]) -> dict[str, float]:
    """Compile (or load from cache) the kernels of ``layers`` (names checked by the caller,
    :func:`edgekit.warmup`).

    Each layer with kernels has an ``edgekit.<layer>._warmup`` module whose ``warmup()``
    calls every kernel once on tiny inputs of each dtype the public API uses. Returns
    seconds spent per layer; layers without one are left out.
    """
    timings: dict[str, float] = {}
    for layer in layers:
        name = f"edgekit.{layer}._warmup"
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        start = time.perf_counter()
        module.warmup()
        timings[layer] = time.perf_counter() - start
    return timings
