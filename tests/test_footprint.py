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
