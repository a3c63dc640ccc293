"""A probe load: the model is loaded and run once in a child process first.

A structurally valid but hostile model (a mutated operator option or weight) can
still crash a native runtime inside ``allocate_tensors`` or ``invoke``. The probe
runs exactly the load the engine is about to do, plus one run on zero inputs, in
a fresh ``python`` process; a crash there becomes a ``ModelLoadError`` here.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from edgekit import errors
from edgekit.errors import ModelLoadError
from edgekit.infer._backends import Kind, load_model_source, open_backend
from edgekit.infer._loaded import Loaded
from edgekit.infer._source import ModelSource

__all__ = ["probe_load"]

_EDGEKIT_ERROR = 3
_CHILD = (
    "import sys, pickle; args = pickle.load(sys.stdin.buffer); sys.path.insert(0, args[0]); "
    "from edgekit.infer._probe import _child; sys.exit(_child(*args[1:]))"
)


def probe_load(
    source: ModelSource, kind: Kind, threads: int, options: dict[str, Any], timeout: float
) -> None:
    """Load and run ``source`` once in a child process; a crash there is a ``ModelLoadError``.

    Args:
        source: the model (already structurally validated).
        kind: the backend, ``"onnxruntime"`` or ``"litert"``.
        threads: intra-op threads, as the engine will use.
        options: the backend's options, as the engine will use them.
        timeout: seconds the child may take before it counts as hung.

    Raises:
        ModelLoadError: the child crashed, hung, or the model failed to load there.
    """
    root = str(Path(__file__).resolve().parents[2])
    payload = pickle.dumps((root, source.data, kind, threads, dict(options)))
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
        # The child's own error (same class, same message), as an in-process load gives.
        kind_name, _, message = done.stdout.decode("utf-8", "replace").partition("\n")
        error = getattr(errors, kind_name, None)
        if not (isinstance(error, type) and issubclass(error, errors.EdgekitError)):
            error = ModelLoadError
        raise error(message.strip().replace(f"<{len(source.data)} bytes>", source.label))
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        raise ModelLoadError(
            f"{source.label} crashed the runtime ({name}) in a probe load in a child process: "
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


def _child(data: bytes, kind: Kind, threads: int, options: dict[str, Any]) -> int:
    """In the child: load as the engine would, run once on zeros; exit 0 or 3."""
    from edgekit.errors import EdgekitError

    try:
        source = load_model_source(data)
        backend = open_backend(source, kind, threads=threads, options=options)
        loaded = Loaded(backend, label=source.label, digest=source.digest, check_finite=False)
        # Run failures on zeros are the engine's warm-up business, not a crash.
        with contextlib.suppress(Exception):
            feeds = loaded.synthetic_feeds()
            for _ in range(2):
                backend.run(feeds)
        # Free everything now: heap corruption shows when the interpreter is freed.
        del loaded
        backend.close()
        del backend
        gc.collect()
    except EdgekitError as exc:
        sys.stdout.write(f"{type(exc).__name__}\n{exc}")
        return _EDGEKIT_ERROR
    return 0
