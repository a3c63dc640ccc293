"""numba's cache and kernels split over a ``_kernels`` package: an edit to any module of
the package recompiles every cached kernel in it (numba alone would keep a kernel that
inlined a sibling's old code: it stamps each kernel with its own file only)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

HELPER = "from edgekit._jit import njit\n\n@njit\ndef value():\n    return {}\n"
OUTER = textwrap.dedent(
    """
    from edgekit._jit import njit
    from pkgx._kernels.helper import value

    @njit
    def outer():
        return value() * 10
    """
)
CHILD = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[1])
    from pkgx._kernels.outer import outer
    s = outer.stats
    print(outer(), sum(s.cache_hits.values()), sum(s.cache_misses.values()))
    """
)


def run(root: Path) -> list[int]:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(root)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    ).stdout
    return [int(x) for x in out.split()]


def test_a_changed_sibling_module_recompiles_the_kernels_that_inline_it(tmp_path: Path) -> None:
    kernels = tmp_path / "pkgx" / "_kernels"
    kernels.mkdir(parents=True)
    (tmp_path / "pkgx" / "__init__.py").write_text("")
    (kernels / "__init__.py").write_text("")
    (kernels / "helper.py").write_text(HELPER.format(1))
    (kernels / "outer.py").write_text(OUTER)
    assert run(tmp_path) == [10, 0, 1]  # compiled, then cached
    assert run(tmp_path) == [10, 1, 0]  # a second process loads the cache
    (kernels / "helper.py").write_text(HELPER.format(2))  # outer.py is unchanged
    assert run(tmp_path)[0] == 20
