"""A read-only install starts warm after one ``edgekit.warmup()``.

The package is copied to a temporary directory that is made read-only (``chmod -R
a-w``, or, as root, whom permission bits do not stop, a read-only bind mount in a
private mount namespace), and fresh interpreters import it from there. numba's
dispatcher statistics show whether a process compiled the scan kernel or loaded it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import edgekit

PROBE = """
import json, os, warnings
warnings.simplefilter("always")
import edgekit
edgekit.warmup(["scan"])
from edgekit.scan import _kernels, parse_advertisements
assert parse_advertisements([b"\\x02\\x01\\x06"]).flags.tolist() == [6]
stats = _kernels.parse_packed.stats
print(json.dumps({
    "file": _kernels.__file__,
    "cache_path": stats.cache_path,
    "hits": sum(stats.cache_hits.values()),
    "misses": sum(stats.cache_misses.values()),
    "numba_cache_dir": os.environ.get("NUMBA_CACHE_DIR"),
}))
"""


def _chmod_tree(root: Path, writable: bool) -> None:
    for path in [root, *root.rglob("*")]:
        mode = path.stat().st_mode
        bits = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
        path.chmod(mode | stat.S_IWUSR if writable else mode & ~bits)


@contextlib.contextmanager
def _read_only(dirs: list[Path]) -> Iterator[list[str]]:
    """A command prefix that runs a program with ``dirs`` read-only."""
    if os.geteuid() != 0:
        for d in dirs:
            _chmod_tree(d, writable=False)
        try:
            yield []
        finally:
            for d in dirs:
                _chmod_tree(d, writable=True)
        return
    unshare = shutil.which("unshare")
    mounts = " && ".join(f"mount --bind -o ro '{d}' '{d}'" for d in dirs)
    if unshare is None or subprocess.run([unshare, "-m", "true"], check=False).returncode:
        pytest.fail(
            "running as root without mount namespaces (unshare -m): no way to make a "
            "read-only directory to test a read-only install in"
        )
    yield [unshare, "-m", "sh", "-c", f'{mounts} && exec "$0" "$@"']


@pytest.fixture
def install(tmp_path: Path) -> Path:
    """A copy of the edgekit package, as a wheel would install it (no __pycache__)."""
    site = tmp_path / "site"
    shutil.copytree(
        Path(edgekit.__file__).parent,
        site / "edgekit",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    return site


def _probe(prefix: list[str], site: Path, cache: Path, home: Path) -> tuple[dict, str]:  # type: ignore[type-arg]
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env.update(PYTHONPATH=str(site), XDG_CACHE_HOME=str(cache), HOME=str(home))
    done = subprocess.run(
        [*prefix, sys.executable, "-c", PROBE],
        env=env,
        cwd=site.parent,  # not the checkout: ``-c`` puts the working directory first on sys.path
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["file"].startswith(str(site))  # the read-only copy, not the checkout
    return result, done.stderr


def test_read_only_install_is_warm_after_one_warmup(install: Path, tmp_path: Path) -> None:
    cache, home = tmp_path / "cache", tmp_path / "home"
    cache.mkdir()
    home.mkdir()
    with _read_only([install]) as prefix:
        first, _ = _probe(prefix, install, cache, home)
        second, _ = _probe(prefix, install, cache, home)
    expected = str(cache / "edgekit" / "numba")
    assert first["numba_cache_dir"] == expected
    assert first["cache_path"].startswith(expected)
    assert (first["hits"], first["misses"]) == (0, 1)  # compiled once ...
    assert (second["hits"], second["misses"]) == (1, 0)  # ... and loaded by the next process
    assert list(Path(first["cache_path"]).glob("_kernels.parse_packed-*.nbi"))
    assert not list(install.rglob("*.nbi"))


def test_nothing_writable_compiles_uncached_with_a_warning(install: Path, tmp_path: Path) -> None:
    cache, home = tmp_path / "cache", tmp_path / "home"
    cache.mkdir()
    home.mkdir()
    with _read_only([install, cache, home]) as prefix:
        result, stderr = _probe(prefix, install, cache, home)
    assert result["cache_path"] is None and result["numba_cache_dir"] is None
    assert "RuntimeWarning" in stderr and "cannot be cached" in stderr
