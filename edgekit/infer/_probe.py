"""A probe load: the model is loaded and run on zeros in a child process first.

A structurally valid but hostile model (a mutated operator option or weight) can
still crash a native runtime inside ``allocate_tensors`` or ``invoke``, and a tiny
model can ask for gigabytes on its first run (``ConstantOfShape`` of a constant
shape). The probe runs exactly the load the engine is about to do, plus two runs on
zero inputs, in a fresh ``python`` process under an address-space limit
(``RLIMIT_AS``); a crash, a hang or an allocation past the limit there becomes a
``ModelLoadError`` here.

Models that probed clean are remembered (:func:`known_good`, :func:`remember_good`):
in this process, and as empty marker files named by the model's xxh3-128 digest and
the probe's settings in ``$XDG_CACHE_HOME/edgekit/infer/probed``
(``~/.cache/edgekit/infer/probed``). The digest covers the whole file, so a file
changed in place (same size, same mtime) is probed again. When that directory is
not writable (a read-only home), models are remembered for the life of the
process only.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import os
import pickle
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from edgekit.errors import EdgekitError, ModelLoadError
from edgekit.infer._backends import Kind, load_model_source, open_backend
from edgekit.infer._loaded import Loaded
from edgekit.infer._source import ModelSource

__all__ = ["DEFAULT_PROBE_MAX_BYTES", "known_good", "probe_key", "probe_load", "remember_good"]

#: Address space (bytes) the probe's load and first runs may add to a fresh interpreter.
DEFAULT_PROBE_MAX_BYTES = 2 << 30
_EDGEKIT_ERROR = 3
_ERROR_MARK = b"\0edgekit-probe-error\0"  # then the pickled EdgekitError, on stdout
_ALLOCATION = re.compile(
    r"(failed to|unable to|cannot|could not) allocate|bad[ _]alloc|out of memory", re.IGNORECASE
)
_good: set[str] = set()  # probe keys that probed clean in this process
_CHILD = (
    "import sys, pickle; args = pickle.load(sys.stdin.buffer); sys.path.insert(0, args[0]); "
    "from edgekit.infer._probe import _child; sys.exit(_child(*args[1:]))"
)


def probe_dir() -> Path:
    """Where models that probed clean are remembered: ``$XDG_CACHE_HOME/edgekit/infer/probed``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "edgekit" / "infer" / "probed"


@functools.cache
def _runtime_versions() -> str:
    """Versions of edgekit and of the installed runtimes: a probe holds for these only."""
    from importlib import metadata

    found = []
    for name in ("edgekit", "onnxruntime", "ai-edge-litert", "tflite-runtime"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            found.append(f"{name} {metadata.version(name)}")
    return ", ".join(found)


def probe_key(
    source: ModelSource, kind: Kind, threads: int, options: dict[str, Any], max_bytes: int
) -> str:
    """The model's digest and a hash of everything else the probe's verdict depends on
    (backend, threads, options, memory limit, runtime versions)."""
    import xxhash

    settings = repr((kind, threads, sorted(options.items()), max_bytes, _runtime_versions()))
    return f"{source.digest}-{xxhash.xxh3_64_hexdigest(settings.encode())}"


def known_good(key: str) -> bool:
    """True when the model and settings of ``key`` probed clean (here, or in an earlier process)."""
    if key in _good:
        return True
    try:
        found = (probe_dir() / key).is_file()
    except OSError:
        return False
    if found:
        _good.add(key)
    return found


def remember_good(key: str) -> None:
    """Record that ``key`` probed clean: in this process, and on disk when the cache is writable."""
    _good.add(key)
    folder = probe_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / key).touch()
    except OSError:
        pass  # a read-only home: remembered for this process only


def probe_load(
    source: ModelSource,
    kind: Kind,
    threads: int,
    options: dict[str, Any],
    timeout: float,
    max_bytes: int = DEFAULT_PROBE_MAX_BYTES,
) -> None:
    """Load ``source`` and run it twice on zeros in a child process; a crash there is a
    ``ModelLoadError``.

    Args:
        source: the model (already structurally validated).
        kind: the backend, ``"onnxruntime"`` or ``"litert"``.
        threads: intra-op threads, as the engine will use.
        options: the backend's options, as the engine will use them.
        timeout: seconds the child may take before it counts as hung.
        max_bytes: address space (bytes) the load and the runs may add to the child's
            own (``RLIMIT_AS``); an allocation past it fails the probe.

    Raises:
        ModelLoadError: the child crashed, hung, ran out of its memory limit, or the
            model failed to load there.
    """
    root = str(Path(__file__).resolve().parents[2])
    payload = pickle.dumps((root, source.data, source.path, kind, threads, options, max_bytes))
    env = dict(os.environ, PYTHONFAULTHANDLER="", TF_CPP_MIN_LOG_LEVEL="3")
    env.update(_malloc_checks())
    try:
        done = subprocess.run(
            [sys.executable, "-c", _CHILD],
            input=payload,
            capture_output=True,
            timeout=timeout,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ModelLoadError(
            f"{source.label}: the probe load did not finish within {timeout:g} s"
        ) from exc
    except OSError as exc:
        raise ModelLoadError(f"{source.label}: cannot start the probe process: {exc}") from exc
    code = done.returncode
    if code == 0:
        return
    if code == _EDGEKIT_ERROR:
        # The child's own error (same class, message and attributes), as an in-process
        # load gives: raised here.
        _, mark, pickled = done.stdout.rpartition(_ERROR_MARK)
        try:
            error = pickle.loads(pickled) if mark else None
        except Exception:
            error = None
        if not isinstance(error, EdgekitError):
            error = ModelLoadError(f"{source.label}: the probe load failed in a child process")
        raise error
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        where = str(source.path) if source.path is not None else source.label
        raise ModelLoadError(
            f"{where} crashed the runtime ({name}) in a probe load in a child process: "
            "the file is corrupt or hostile"
        )
    tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
    raise ModelLoadError(
        f"{source.label}: the probe load failed in a child process (exit {code}: {tail[0]})"
    )


def _malloc_checks() -> dict[str, str]:
    """Environment that makes glibc abort on heap corruption in the child, where available.

    A hostile model may write out of bounds without crashing at once; with glibc's
    malloc checks (``libc_malloc_debug``) and freed memory filled with a pattern, the
    child dies at the corrupted free instead of passing the probe.
    """
    env = {"MALLOC_PERTURB_": "165"}
    for folder in ("/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu", "/usr/lib64", "/lib64"):
        lib = Path(folder) / "libc_malloc_debug.so.0"
        if lib.is_file():
            preload = os.environ.get("LD_PRELOAD", "")
            env["LD_PRELOAD"] = f"{preload} {lib}".strip()
            env["GLIBC_TUNABLES"] = "glibc.malloc.check=3"
            break
    return env


def _limit_memory(max_bytes: int) -> None:
    """Cap this process's address space at its current size plus ``max_bytes``."""
    import resource

    with open("/proc/self/statm") as statm:
        now = int(statm.read().split()[0]) * resource.getpagesize()
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    soft = now + max_bytes if hard == resource.RLIM_INFINITY else min(now + max_bytes, hard)
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _child(
    data: bytes,
    path: Path | None,
    kind: Kind,
    threads: int,
    options: dict[str, Any],
    max_bytes: int,
) -> int:
    """In the child: load as the engine would, run twice on zeros; exit 0 or 3."""
    try:
        _limit_memory(max_bytes)
        source = dataclasses.replace(load_model_source(data), path=path)  # the same label
        backend = open_backend(source, kind, threads=threads, options=options)
        loaded = Loaded(backend, label=source.label, digest=source.digest, check_finite=False)
        try:
            feeds = loaded.synthetic_feeds()
            for _ in range(2):
                backend.run(feeds)
        except Exception as exc:
            # Other run failures on zeros are the engine's warm-up business, not the probe's.
            if isinstance(exc, MemoryError) or _ALLOCATION.search(str(exc)):
                raise ModelLoadError(
                    f"{source.label}: its first run on zero inputs needs more memory than "
                    f"the probe allows (probe_max_bytes={max_bytes:,}): "
                    f"{str(exc).strip().rsplit(': ', 1)[-1] or type(exc).__name__}"
                ) from exc
        # Free everything now: heap corruption shows when the interpreter is freed.
        del loaded
        backend.close()
        del backend
        gc.collect()
    except EdgekitError as exc:
        sys.stdout.flush()
        sys.stdout.buffer.write(_ERROR_MARK + pickle.dumps(exc))
        return _EDGEKIT_ERROR
    return 0
