"""Giving back memory a process is done with: clean library pages and the C heap's free tail.

A process's resident set counts every page of a shared library it has touched, also
pages it never touches again. Loading numba runs LLVM's static initialisers all over
``libllvmlite`` (about 34 MB of its code and read-only data mapped in); importing ONNX
Runtime and creating a session register every operator's schema and kernel. Once done
those pages are only a cost: :func:`release_library_pages` unmaps them
(``MADV_DONTNEED``), so the kernel may reclaim them from the page cache; a page needed
again faults back in from the page cache (or the file), identical, because only clean,
never-written file pages are released. :func:`trim_heap` returns the C heap's free
memory (glibc's ``malloc_trim``) after a runtime freed its load-time buffers.

Both are Linux (glibc) only and do nothing elsewhere or on any failure: they only ever
lower the resident set, never change what a process computes.
"""

from __future__ import annotations

import ctypes
import functools
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["drop_cached_libraries", "release_library_pages", "trim_heap"]

_MADV_DONTNEED = 4


@functools.cache
def _libc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        libc.madvise.restype = ctypes.c_int
    except (OSError, AttributeError):
        return None
    return libc


def _clean_library_mappings(name: str) -> list[tuple[int, int, int]]:
    """``(start, end, resident kB)`` of the private, read-only mappings of a file whose
    path contains ``name`` and that hold no anonymous page.

    A read-only private mapping holds anonymous pages where the dynamic linker wrote
    relocations before making it read-only (RELRO) or a debugger wrote a breakpoint:
    releasing those would lose the writes, so such mappings are left alone. The others
    map the file's pages only."""
    found: list[list[int]] = []  # start, end, Rss kB, Anonymous kB
    current: list[int] | None = None
    with open("/proc/self/smaps", encoding="ascii", errors="replace") as smaps:
        for line in smaps:
            head = line.split(maxsplit=5)
            if len(head) >= 5 and "-" in head[0] and not head[0].endswith(":"):
                start, _, end = head[0].partition("-")
                perms, path = head[1], head[5].strip() if len(head) > 5 else ""
                current = None
                if perms[1] == "-" and perms[3] == "p" and path.startswith("/") and name in path:
                    current = [int(start, 16), int(end, 16), 0, 0]
                    found.append(current)
            elif current is not None and head[0] == "Rss:":
                current[2] = int(head[1])
            elif current is not None and head[0] == "Anonymous:":
                current[3] = int(head[1])
    return [(start, end, rss) for start, end, rss, anon in found if anon == 0 and rss]


def release_library_pages(name: str) -> int:
    """Unmap the clean pages of the shared libraries whose path contains ``name``.

    Returns the resident kB released (0 off Linux or on any failure). Pages needed again
    fault back in, unchanged; see the module docstring."""
    libc = _libc()
    if libc is None:
        return 0
    released = 0
    try:
        for start, end, rss in _clean_library_mappings(name):
            if libc.madvise(start, end - start, _MADV_DONTNEED) == 0:
                released += rss
    except (OSError, ValueError, IndexError):
        return released
    return released


def trim_heap() -> None:
    """Return the C heap's free pages to the system (glibc's ``malloc_trim(0)``)."""
    libc = _libc()
    trim = getattr(libc, "malloc_trim", None) if libc is not None else None
    if trim is not None:
        trim(0)


#: Packages whose native libraries edgekit's layers map (numba's LLVM, the runtimes).
NATIVE_PACKAGES = ("llvmlite", "onnxruntime", "ai_edge_litert", "tflite_runtime")


def drop_cached_libraries(packages: tuple[str, ...] = NATIVE_PACKAGES) -> list[str]:
    """Drop the page cache of the native libraries (``*.so``) of ``packages``.

    A library file that pip has just written sits in the page cache in large pieces
    (folios), and a process that maps it maps whole pieces when it touches one: on Linux
    6.18 with ext4, ``import numba`` peaked at 142 MB right after install against 96 MB
    once libllvmlite's cached pages had been dropped and read back. Dropping them
    (``posix_fadvise(POSIX_FADV_DONTNEED)``; pages a process has mapped stay) lets the
    next process read them back in the usual small pieces, as after a reboot. Call it
    once after installing: :func:`edgekit.warmup` does. Costs one read from disk of the
    pages used next. Returns the files dropped (none off Linux); never raises.
    """
    if not sys.platform.startswith("linux") or not hasattr(os, "posix_fadvise"):
        return []
    dropped: list[str] = []
    for package in packages:
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            continue
        if spec is None or not spec.submodule_search_locations:
            continue
        for root in spec.submodule_search_locations:
            for lib in sorted(Path(root).rglob("*.so*")):
                try:
                    fd = os.open(lib, os.O_RDONLY)
                    try:
                        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                    finally:
                        os.close(fd)
                except OSError:
                    continue
                dropped.append(str(lib))
    return dropped
