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

A cached kernel loads leanly: numba would first prepare its whole compiler (every
typing and lowering module, every installed numba extension, its runtime's LLVM module:
about 70 MB and 0.4 s) although cached machine code needs none of it. edgekit's
dispatchers link the machine code alone once every symbol it needs resolves, and parse
the kernel's LLVM bitcode only if a later compilation links it; a cache miss compiles as
numba always does (see ``_lean``).

When the installed package directory is read-only (a system install, a
read-only root file system on a device) and ``NUMBA_CACHE_DIR`` is unset, the
cache goes to ``$XDG_CACHE_HOME/edgekit/numba`` (``~/.cache/edgekit/numba``), by
setting ``NUMBA_CACHE_DIR`` for the process (numba has one cache setting, so
the host's own cached numba functions go there too). When that is not writable
either, kernels are compiled without a cache, in every process, with one
``RuntimeWarning`` saying so.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
import struct
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "FASTMATH",
    "JIT_OPTIONS",
    "configure_cache",
    "kernel_view",
    "lazy_kernels",
    "njit",
    "warmup",
]

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
    import tempfile  # here: it imports shutil, lzma and bz2, for a read-only install only

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


@functools.cache
def _release_llvm_init_pages() -> None:
    """Load LLVM (numba's first import does) and unmap the pages its static initialisers
    touched, spread over ``libllvmlite`` (about 34 MB of resident set), before numba adds
    its own: a process rarely needs them again, and linking or compiling faults back in
    what it uses (see ``edgekit._memory``)."""
    try:
        import llvmlite.binding  # noqa: F401  (loads libllvmlite)
    except ImportError:
        return  # numba's own import says what is missing
    from edgekit._memory import release_library_pages

    release_library_pages("libllvmlite")


@functools.lru_cache(maxsize=64)
def _package_stamp_cached(directory: str, stamp: tuple[Any, ...]) -> bytes:
    """:func:`_package_stamp`, recomputed only when a file's mtime or size changed."""
    return _package_stamp(directory)


def njit(*args: Any, **overrides: Any) -> Any:
    """``numba.njit`` with edgekit's :data:`JIT_OPTIONS`; use bare or with overrides.

    ``@njit``, ``@njit(fastmath={"contract"})`` and ``@njit("float64(float64)")``
    (an eager signature) all work. The dispatchers load cached kernels leanly (see
    :func:`_lean`).
    """
    configure_cache()
    _release_llvm_init_pages()
    import numba

    _stamp_kernel_packages()
    options = {**JIT_OPTIONS, **overrides}
    if _cache_unavailable:
        options["cache"] = False
    if len(args) == 1 and callable(args[0]) and not overrides:
        return _lean(numba.njit(**options)(args[0]))
    if not args:
        decorate = numba.njit(**options)
        return lambda fn: _lean(decorate(fn))
    if len(args) == 1 and isinstance(args[0], (str, list)):
        signatures = args[0] if isinstance(args[0], list) else [args[0]]
        return functools.partial(_eager, signatures, options)
    return numba.njit(*args, **options)


def _eager(signatures: list[Any], options: dict[str, Any], fn: Callable[..., Any]) -> Any:
    """What ``numba.njit(signatures)`` does with ``fn``, on a lean dispatcher."""
    import numba
    from numba.core import typeinfer

    dispatcher = _lean(numba.njit(**options)(fn))
    with typeinfer.register_dispatcher(dispatcher):
        for signature in signatures:
            dispatcher.compile(signature)
        dispatcher.disable_compile()
    return dispatcher


def _lean(dispatcher: Any) -> Any:
    """Make ``dispatcher`` load its cached kernels without initialising numba's compiler.

    On a cache hit numba first refreshes its whole target context: it imports every
    typing and lowering registry (``numba.np.arraymath`` imports ``scipy.linalg``), runs
    every third-party extension (rocket-fft imports ``scipy.fft``) and compiles the NRT's
    LLVM module, about 70 MB and 0.4 s, none of which a cached kernel needs: its object
    code is complete. A lean dispatcher skips that on a hit (:func:`_lean_cache_class`)
    and on the first call of each signature (numba's extension hook); a miss compiles,
    and compiling refreshes the context as before.
    """
    cache = getattr(dispatcher, "_cache", None)
    lean = _lean_cache_class()
    if lean is not None and type(cache) is lean.__base__:
        cache.__class__ = lean
        dispatcher._compilation_chain_init_hook = _nothing
    return dispatcher


def _nothing() -> None:
    """Stands in for numba's per-call extension hook on lean dispatchers."""


@functools.cache
def _lean_cache_class() -> type | None:
    """numba's ``FunctionCache`` with a load that initialises only what the cached code
    links against; ``None`` on a numba without the machinery (then nothing changes)."""
    from numba.core import caching, codegen, environment

    base = getattr(caching, "FunctionCache", None)
    needed = {
        base: ("_load_overload", "_index_key"),
        getattr(codegen, "CPUCodeLibrary", None): (
            "enable_object_caching",
            "_set_compiled_object",
            "_finalize_final_module",
            "_get_module_for_linking",
        ),
        getattr(codegen, "JitEngine", None): ("_load_defined_symbols",),  # so _defined_symbols
        environment: ("_rebuild_env", "lookup_environment", "Environment"),
    }
    if any(
        owner is None or not all(hasattr(owner, a) for a in names)
        for owner, names in needed.items()
    ):
        return None  # a numba whose internals differ: its own loading, unchanged

    class LeanFunctionCache(base):  # type: ignore[misc, valid-type]
        def load_overload(self, sig: Any, target_context: Any) -> Any:
            # numba's version starts with target_context.refresh(); see _lean
            return self._load_overload(sig, target_context)

        def _load_overload(self, sig: Any, target_context: Any) -> Any:
            if not self._enabled:
                return None
            key = self._index_key(sig, target_context.codegen())
            with _lazy_environments():
                data = self._cache_file.load(key)
            if data is None:
                return None  # a miss: numba compiles, and compiling refreshes the context
            _link_runtime()
            symbols = _object_symbols(data)
            if symbols is not None and not _resolvable(symbols[0]):
                entrypoints: Any = importlib.import_module("numba.core.entrypoints")
                entrypoints.init_all()  # a native library of an extension (rocket-fft's FFT)
            if symbols is None or not _resolvable(symbols[0]):
                target_context.refresh()  # numba's own way
                return self._impl.rebuild(target_context, data)
            codegen = target_context.codegen()
            codegen.unserialize_library = functools.partial(_unserialize, codegen, symbols[1])
            try:
                return self._impl.rebuild(target_context, data)
            finally:
                del codegen.unserialize_library  # back to the class's method

    LeanFunctionCache.__qualname__ = LeanFunctionCache.__name__ = "EdgekitLeanFunctionCache"
    return LeanFunctionCache


@functools.cache
def _link_runtime() -> None:
    """Make the NRT's C functions visible to the linker, the part of
    ``rtsys.initialize`` that cached code needs (it carries its own NRT_incref/decref)."""
    from llvmlite import binding as ll

    nrt: Any = importlib.import_module("numba.core.runtime._nrt_python")
    for name, address in nrt.c_helpers.items():
        ll.add_symbol(name if name.startswith("_") else f"NRT_{name}", address)


def _object_symbols(payload: Any) -> tuple[list[str], list[str]] | None:
    """The undefined and the defined symbols of a cache entry's object code (``None``
    for an entry or an object format this does not read)."""
    try:
        _name, kind, (obj, _bitcode) = payload[0]
    except (TypeError, ValueError):
        return None
    if kind != "object" or not isinstance(obj, bytes):
        return None
    try:
        return _elf_symbols(obj)
    except (struct.error, ValueError, UnicodeDecodeError):  # not an object file we read
        return None


def _resolvable(names: list[str]) -> bool:
    """Whether every symbol in ``names`` resolves now, so that adding the object code
    to the JIT cannot fail (an unresolved symbol would abort the process)."""
    from llvmlite import binding as ll

    return all(ll.address_of_symbol(name) is not None for name in names)


def _elf_symbols(obj: bytes) -> tuple[list[str], list[str]] | None:
    """Names of the undefined and of the defined symbols of a little-endian ELF64
    relocatable object (``None`` for any other format: Mach-O, COFF, big-endian)."""
    if obj[:6] != b"\x7fELF\x02\x01":
        return None
    (shoff,) = struct.unpack_from("<Q", obj, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", obj, 0x3A)
    undefined: list[str] = []
    defined: list[str] = []
    for i in range(shnum):
        header = shoff + i * shentsize
        if struct.unpack_from("<I", obj, header + 4)[0] != 2:  # SHT_SYMTAB
            continue
        offset, size, link, _info, _align, entsize = struct.unpack_from(
            "<QQIIQQ", obj, header + 0x18
        )
        (strings,) = struct.unpack_from("<Q", obj, shoff + link * shentsize + 0x18)
        for j in range(size // entsize if entsize else 0):
            name, _stinfo, _other, section = struct.unpack_from("<IBBH", obj, offset + j * entsize)
            if name:
                start = strings + name
                text = obj[start : obj.index(b"\0", start)].decode()
                (defined if section else undefined).append(text)  # section 0: SHN_UNDEF
    return undefined, defined


def _unserialize(codegen: Any, defined: list[str], state: Any) -> Any:
    """numba's ``CPUCodeLibrary._unserialize`` of object code, except that the LLVM
    bitcode kept for linking the kernel into later compilations is parsed when one
    needs it, not at load (parsed IR takes several MB a kernel); the engine learns the
    library's symbols from the object code instead."""
    name, _kind, (object_code, shared_bitcode) = state
    library = codegen.create_library(name)
    base: Any = type(library)
    library.__class__ = _lazy_library_class(base)
    library._lazy_bitcode = shared_bitcode
    library.enable_object_caching()
    library._set_compiled_object(object_code)
    library._finalize_final_module()
    codegen._engine._defined_symbols.update(defined)
    return library


@functools.cache
def _lazy_library_class(base: Any) -> type:
    """``base`` (numba's JIT code library) parsing its linking bitcode on first use."""
    from llvmlite import binding as ll

    class LazyLibrary(base):  # type: ignore[misc]
        _lazy_bitcode: bytes | None = None
        _shared_module: Any

        def _get_module_for_linking(self) -> Any:
            if self._shared_module is None and self._lazy_bitcode is not None:
                self._shared_module = ll.parse_bitcode(self._lazy_bitcode)
                self._lazy_bitcode = None
            return super()._get_module_for_linking()

    LazyLibrary.__qualname__ = LazyLibrary.__name__ = f"EdgekitLazy{base.__name__}"
    return LazyLibrary


@contextlib.contextmanager
def _lazy_environments() -> Iterator[None]:
    """While a cache entry is unpickled, rebuild the environments of numba's own
    functions inlined into a kernel without importing their modules
    (``numba.np.arraymath`` imports ``scipy.linalg``). A nopython function never reads
    its environment's globals (only object mode does); its constants are kept."""
    environment: Any = importlib.import_module("numba.core.environment")
    original = environment._rebuild_env

    def rebuild(modname: str, consts: list[Any], env_name: str) -> Any:
        if modname in sys.modules or not modname.startswith("numba."):
            return original(modname, consts, env_name)
        env = environment.lookup_environment(env_name)
        if env is None:
            env = environment.Environment({"__name__": modname})
            env.consts[:] = consts
            env.env_name = env_name
            environment.Environment._memo[env_name] = env
        return env

    environment._rebuild_env = rebuild
    try:
        yield
    finally:
        environment._rebuild_env = original


class _Alias:
    """Holds a read-only array and offers its memory through the array interface as
    writable (see :func:`kernel_view`)."""

    __slots__ = ("__array_interface__", "owner")

    def __init__(self, owner: np.ndarray[Any, Any]) -> None:
        self.owner = owner
        self.__array_interface__ = {**owner.__array_interface__, "data": (owner.ctypes.data, False)}


def kernel_view(a: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """``a`` itself, or where it is read-only a writable alias of the same memory (no
    copy), for kernels that only read it.

    numba compiles every kernel again for read-only arrays (pandas 3's ``to_numpy()``,
    ``np.frombuffer`` of ``bytes``: a codec frame, audio from a socket), and the warm-up
    covers writable ones: after ``edgekit.warmup()``, the first ``compress`` of a pandas
    column compiled 37 kernels for 38 s, the first ``mfcc`` of read-only samples 4.8 s.
    Each layer passes its inputs through this where they enter; no kernel writes an array
    it only reads; the alias keeps ``a`` alive."""
    if a.flags.writeable:
        return a
    import numpy as np  # (here: importing this module does not import numpy)

    if a.size == 0:
        return np.empty(a.shape, a.dtype)
    return np.asarray(_Alias(a))


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
