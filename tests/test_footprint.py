"""Memory regression: each layer's first use, in a fresh process with a warm numba cache,
stays within 15% of the private RSS recorded in ``benchmarks/footprint/baseline.json``.

Private RSS (``RssAnon``, after the result) is what the process itself allocated: numba's
loaded kernels, arrays, interpreter objects. The peak RSS (``VmHWM``) also counts the
pages of shared libraries mapped in, and those vary with the page cache: the same process
peaked at 105 MB in one virtual environment and at 142 MB in a freshly installed copy of it
(libllvmlite's pages), with the same 41 MB private.

Re-record after an intended change with the command written in that file (and say why in
the commit). The cases are the benchmark's (``benchmarks/footprint/cases.py``).
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys

import pytest

from benchmarks.footprint.cases import CASES, REGRESSION
from benchmarks.footprint.harness import ROOT, run_once

BASELINE = json.loads((ROOT / "benchmarks" / "footprint" / "baseline.json").read_text())
BODIES = {case.name: case.edgekit for case in CASES}
MARGIN = 1.15

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


@functools.cache
def warm_cache() -> None:
    """One process that does every case's work, so the kernels each needs are cached."""
    functions = "".join(
        f"def case_{i}():\n" + "".join(f"    {line}\n" for line in BODIES[name].splitlines())
        for i, name in enumerate(REGRESSION)
    )
    run_once(functions + "".join(f"case_{i}()\n" for i in range(len(REGRESSION))))


@pytest.mark.parametrize("name", REGRESSION)
def test_first_use_private_rss_stays_within_15_percent_of_the_record(name: str) -> None:
    warm_cache()
    recorded = BASELINE["private_rss_mb"][name]
    private = run_once(BODIES[name])["RssAnon"]
    assert private <= recorded * MARGIN, (
        f"{name}: private RSS {private:.1f} MB, recorded {recorded} MB "
        f"(+{private / recorded - 1:.0%}, allowed +{MARGIN - 1:.0%}); find what grew, "
        f"or re-record: {BASELINE['command']}"
    )


# --- edgekit._memory: giving back library pages and the heap's free tail -------------------

RELEASE = """
import json, hashlib
import numpy as np
from edgekit import _memory

def status():
    with open("/proc/self/status") as f:
        return {k: int(v.split()[0]) for k, v in (l.split(":", 1) for l in f) if k == "RssFile"}

def work():
    x = np.random.default_rng(7).standard_normal(100_000)
    return hashlib.sha256((np.sort(x) * np.fft.fft(x).real).tobytes()).hexdigest()

before = work()
mappings = _memory._clean_library_mappings("/numpy/")
file_before = status()["RssFile"]
released = _memory.release_library_pages("/numpy/")
file_after = status()["RssFile"]
_memory.trim_heap()
print(json.dumps({"same": work() == before, "released": released, "drop": file_before - file_after,
                  "mappings": [[s, e] for s, e, _ in mappings]}))
"""


def smaps_anonymous() -> dict[tuple[int, int], int]:
    """``(start, end)`` -> Anonymous kB of every mapping of this process (read separately
    from ``edgekit._memory``'s own parser)."""
    found: dict[tuple[int, int], int] = {}
    key = (0, 0)
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            if line.split()[0].count("-") == 1 and not line.split()[0].endswith(":"):
                start, end = line.split()[0].split("-")
                key = (int(start, 16), int(end, 16))
            elif line.startswith("Anonymous:"):
                found[key] = int(line.split()[1])
    return found


def test_released_library_pages_leave_the_results_unchanged_and_the_resident_set_smaller() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", RELEASE],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["same"], "numpy computed differently after its pages were released"
    assert out["mappings"], "found no clean mapping of numpy's libraries"
    assert out["released"] > 1000 and out["drop"] > 1000, out  # kB


def test_mappings_with_written_pages_are_never_released() -> None:
    import numpy  # noqa: F401  (its libraries are mapped, RELRO segments included)

    from edgekit import _memory

    anonymous = smaps_anonymous()
    chosen = _memory._clean_library_mappings("/")
    assert chosen
    written = {k for k, v in anonymous.items() if v}
    assert written, "expected relocated (RELRO) mappings with anonymous pages"
    assert not {(s, e) for s, e, _ in chosen} & written


def test_dropping_the_native_libraries_page_cache_keeps_them_working() -> None:
    from edgekit._memory import drop_cached_libraries

    dropped = drop_cached_libraries()
    assert any("libllvmlite" in path for path in dropped)
    assert drop_cached_libraries(("no_such_package_here",)) == []
    # The pages come back from disk: numba and its LLVM still compile and run.
    code = "import numba; print(numba.njit(lambda x: x + 1)(41))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "42", out.stderr[-2000:]
