"""Run a piece of work in a fresh interpreter and read its memory and time to result.

Shared by the benchmark (``python -m benchmarks.footprint``) and the regression test
(``tests/test_footprint.py``). Linux only: the child reads ``/proc/self/status``.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: Pinned threads, as every benchmark runs (benchmarks._common.THREAD_ENV).
THREAD_ENV = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
}

HARNESS = """
import gc, json, os, sys, time
from pathlib import Path
ROOT = Path(os.environ["FOOTPRINT_ROOT"])
DATA = Path(os.environ["FOOTPRINT_DATA"])
{body}
_first_s = time.monotonic() - float(os.environ["FOOTPRINT_T0"])
_cpu_s = time.process_time()
gc.collect()
with open("/proc/self/status") as _f:
    _fields = dict(line.split(":", 1) for line in _f)
_mb = {{k: int(_fields[k].split()[0]) / 1024 for k in ("VmHWM", "VmRSS", "RssAnon")}}
print("FOOTPRINT " + json.dumps({{"first_s": _first_s, "cpu_s": _cpu_s, **_mb}}), flush=True)
os._exit(0)  # the figures are taken; skip the interpreter's teardown
"""


def run_once(body: str, source: Path = ROOT, env: dict[str, str] | None = None) -> dict[str, float]:
    """Run ``body`` in a fresh interpreter importing edgekit from ``source``.

    Returns ``VmHWM`` (peak RSS), ``VmRSS`` and ``RssAnon`` (resident, after the result
    and a ``gc.collect()``) in MB; ``first_s``, seconds from just before the process was
    started to the result (``time.monotonic`` is system-wide on Linux), and ``cpu_s``, the
    CPU seconds the process spent until then (steadier than ``first_s`` on a busy machine).
    """
    data = Path(tempfile.mkdtemp(prefix="edgekit-footprint-"))
    try:
        child_env = {
            **os.environ,
            **THREAD_ENV,
            **(env or {}),
            "PYTHONPATH": str(source),
            "FOOTPRINT_ROOT": str(source),
            "FOOTPRINT_DATA": str(data),
        }
        child_env["FOOTPRINT_T0"] = repr(time.monotonic())
        proc = subprocess.run(
            [sys.executable, "-c", HARNESS.format(body=body)],
            cwd=data,
            env=child_env,
            capture_output=True,
            text=True,
            timeout=900,
        )
    finally:
        shutil.rmtree(data, ignore_errors=True)
    for line in proc.stdout.splitlines():
        if line.startswith("FOOTPRINT "):
            out: dict[str, float] = json.loads(line[len("FOOTPRINT ") :])
            return out
    raise RuntimeError(f"case failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")


def median_run(
    body: str, source: Path = ROOT, env: dict[str, str] | None = None, repeat: int = 3
) -> dict[str, float]:
    """:func:`run_once` ``repeat`` times; the median of each figure."""
    runs = [run_once(body, source, env) for _ in range(repeat)]
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}
