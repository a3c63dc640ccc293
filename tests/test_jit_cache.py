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


# A cached kernel is loaded leanly (edgekit._jit._lean): without numba's registries, its
# extensions or the NRT's LLVM module. The kernels allocate (NRT), round (an environment
# of numba.np.arraymath, which imports scipy.linalg) and call each other.
LEAN_HELPER = textwrap.dedent(
    """
    import numpy as np
    from edgekit._jit import njit

    @njit
    def scaled(x, k):
        out = np.empty_like(x)
        for i in range(x.size):
            out[i] = np.round(x[i] * k)
        return out
    """
)
LEAN_OUTER = textwrap.dedent(
    """
    from edgekit._jit import njit
    from pkgl._kernels.helper import scaled

    @njit
    def total(x, k):
        return scaled(x, k).sum()
    """
)
LEAN_CHILD = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    sys.path.insert(0, sys.argv[1])
    from pkgl._kernels.outer import total
    from numba.core.runtime import nrt
    first = float(total(np.arange(5.0), 1.5))
    lean = {
        "nrt_compiled": nrt.rtsys._init,
        "arraymath": "numba.np.arraymath" in sys.modules,
        "hits": sum(total.stats.cache_hits.values()),
    }
    # a miss after a lean load: compiling int64 links the float64 helper lazily
    second = float(total(np.arange(5.0), 2))
    third = int(total(np.arange(5), 3))
    print(json.dumps({"first": first, "second": second, "third": third, **lean}))
    """
)


def run_lean(root: Path, cache_dir: Path) -> dict[str, object]:
    import json

    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir)}
    out = subprocess.run(
        [sys.executable, "-c", LEAN_CHILD, str(root)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    ).stdout
    result: dict[str, object] = json.loads(out)
    return result


def test_a_cached_kernel_loads_without_initialising_the_compiler(tmp_path: Path) -> None:
    kernels = tmp_path / "pkgl" / "_kernels"
    kernels.mkdir(parents=True)
    (tmp_path / "pkgl" / "__init__.py").write_text("")
    (kernels / "__init__.py").write_text("")
    (kernels / "helper.py").write_text(LEAN_HELPER)
    (kernels / "outer.py").write_text(LEAN_OUTER)
    expected = {"first": 15.0, "second": 20.0, "third": 30}  # 0+2+3+4+6 (half to even)
    cold = run_lean(tmp_path, tmp_path / "cache")
    assert cold == {**expected, "nrt_compiled": True, "arraymath": True, "hits": 0}
    warm = run_lean(tmp_path, tmp_path / "cache")
    # the first call loads leanly; the later misses compile as numba always did
    assert warm == {**expected, "nrt_compiled": False, "arraymath": False, "hits": 1}


def test_an_object_that_is_not_readable_elf_takes_numbas_own_load() -> None:
    from edgekit._jit import _object_symbols

    elf_header_only = b"\x7fELF\x02\x01" + b"\0" * 10
    assert _object_symbols([("lib", "object", (b"\xcf\xfa\xed\xfe Mach-O", b""))]) is None
    assert _object_symbols([("lib", "object", (elf_header_only, b""))]) is None
    assert _object_symbols([("lib", "bitcode", b"BC")]) is None
