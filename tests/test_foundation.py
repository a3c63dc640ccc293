"""House rules: light imports, curated and documented __all__, no import cycles, errors, CLI, JIT."""

from __future__ import annotations

import importlib
import inspect
import json
import os
import pickle
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import edgekit
from edgekit import errors

ROOT = Path(__file__).resolve().parents[1]
OPTIONAL = ["onnxruntime", "ai_edge_litert", "tflite_runtime", "bleak", "zeroconf", "nats", "paho"]
PUBLIC_PACKAGES = [
    "edgekit",
    "edgekit.errors",
    *(f"edgekit.{p}" for p in (*edgekit.LAYERS, "pipelines")),
]


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
    )


def all_modules() -> list[str]:
    names = ["edgekit"]
    for info in pkgutil.walk_packages(edgekit.__path__, prefix="edgekit."):
        if info.name != "edgekit.__main__":  # running it executes the CLI; see the CLI tests
            names.append(info.name)
    return sorted(names)


def test_import_edgekit_pulls_no_optional_dependency_and_no_numba() -> None:
    code = (
        "import sys, json, edgekit\n"
        "for layer in edgekit.LAYERS + ('pipelines',):\n"
        "    getattr(edgekit, layer)\n"
        "print(json.dumps(sorted(m.split('.')[0] for m in sys.modules)))"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    loaded = set(json.loads(result.stdout))
    assert not loaded & {*OPTIONAL, "numba", "llvmlite"}, loaded & {*OPTIONAL, "numba"}


@pytest.mark.parametrize("module_name", all_modules())
def test_each_module_imports_alone(module_name: str) -> None:
    """A fresh interpreter imports each module on its own: no cycles, no order dependence."""
    result = run_python(f"import {module_name}")
    if result.returncode != 0 and "BackendUnavailableError" in result.stderr:
        pytest.fail(f"{module_name} needs an optional dependency at import time:\n{result.stderr}")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("package", PUBLIC_PACKAGES)
def test_all_names_exist_and_are_documented(package: str) -> None:
    module = importlib.import_module(package)
    assert module.__doc__ and module.__doc__.strip(), f"{package} has no docstring"
    exported = module.__all__
    assert len(exported) == len(set(exported)), f"duplicates in {package}.__all__"
    for name in exported:
        assert hasattr(module, name), f"{package}.__all__ names {name!r}, which does not exist"
        obj = getattr(module, name)
        if inspect.isclass(obj) or inspect.isfunction(obj) or inspect.ismodule(obj):
            assert inspect.getdoc(obj), f"{package}.{name} has no docstring"


def test_layers_are_packages_with_all() -> None:
    for layer in (*edgekit.LAYERS, "pipelines"):
        module = getattr(edgekit, layer)
        assert hasattr(module, "__path__"), f"edgekit.{layer} is not a package"
        assert isinstance(module.__all__, list)
    with pytest.raises(AttributeError):
        _ = edgekit.no_such_layer  # type: ignore[attr-defined]
    assert set(edgekit.LAYERS) <= set(dir(edgekit))


def test_version_is_pep440() -> None:
    from packaging.version import Version

    assert str(Version(edgekit.__version__)) == edgekit.__version__


def test_error_tree() -> None:
    expected_parents = {
        errors.BackendUnavailableError: (errors.EdgekitError, ImportError),
        errors.InvalidInputError: (errors.EdgekitError, ValueError),
        errors.CorruptDataError: (errors.EdgekitError, ValueError),
        errors.QueueError: (errors.EdgekitError,),
        errors.QueueFullError: (errors.QueueError,),
        errors.InferenceError: (errors.EdgekitError,),
        errors.ModelLoadError: (errors.InferenceError,),
        errors.ScanError: (errors.EdgekitError,),
        errors.TransportError: (errors.EdgekitError,),
        errors.TransportConfigError: (errors.TransportError,),
    }
    for cls, parents in expected_parents.items():
        for parent in parents:
            assert issubclass(cls, parent), (cls, parent)
        assert cls.__name__ in errors.__doc__, f"{cls.__name__} missing from the drawn tree"
        assert cls.__name__ in edgekit.__all__


def test_backend_unavailable_names_the_extra_and_pickles() -> None:
    exc = errors.BackendUnavailableError("onnxruntime", extra="onnx")
    assert 'pip install "edgekit[onnx]"' in str(exc)
    assert exc.extra == "onnx"
    clone = pickle.loads(pickle.dumps(exc))
    assert str(clone) == str(exc) and clone.extra == "onnx"
    plain = errors.BackendUnavailableError("Bluetooth adapter", reason="no hci device")
    assert "pip install" not in str(plain) and "no hci device" in str(plain)


def test_cli_version_and_help() -> None:
    from edgekit._cli import main

    assert main(["--version"]) == 0
    result = subprocess.run(
        [sys.executable, "-m", "edgekit", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "demo" in result.stdout


def test_cli_info_lists_every_layer(capsys: pytest.CaptureFixture[str]) -> None:
    from edgekit._cli import main

    assert main(["info"]) == 0
    out = capsys.readouterr().out
    for layer in edgekit.LAYERS:
        assert layer in out


def test_cli_without_cli_extra_names_the_extra() -> None:
    code = (
        "import sys\n"
        "sys.modules['click'] = None\n"
        "from edgekit._cli import main\n"
        "sys.exit(main(['--help']))"
    )
    result = run_python(code)
    assert result.returncode == 2
    assert 'pip install "edgekit[cli]"' in result.stderr


def test_jit_cache_dir_falls_back_when_package_is_read_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from edgekit import _jit

    # configure_cache sets NUMBA_CACHE_DIR and an imported numba's CACHE_DIR: both are put
    # back after the test, or every later kernel of this worker, and every subprocess it
    # starts, would miss the warm cache and compile into tmp_path (in CI, the demo's and
    # the gateway example's children did, past their timeouts). setenv first: a delenv of
    # an unset variable records nothing to undo.
    monkeypatch.setenv("NUMBA_CACHE_DIR", "")
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(_jit.os, "access", lambda path, mode: False)
    numba_config = sys.modules.get("numba.core.config")
    if numba_config is not None:
        monkeypatch.setattr(numba_config, "CACHE_DIR", numba_config.CACHE_DIR)
    chosen = _jit.configure_cache()
    assert chosen == str(tmp_path / "edgekit" / "numba")
    assert os.environ["NUMBA_CACHE_DIR"] == chosen and Path(chosen).is_dir()


def test_jit_cache_dir_respects_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from edgekit import _jit

    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    assert _jit.configure_cache() == str(tmp_path)


def test_njit_applies_house_options() -> None:
    from edgekit._jit import JIT_OPTIONS, njit

    @njit
    def add(a, b):  # type: ignore[no-untyped-def]
        return a + b

    assert add(2, 3) == 5
    assert add.targetoptions["nogil"] is True
    assert JIT_OPTIONS["cache"] is True and JIT_OPTIONS["fastmath"] is False

    @njit(fastmath={"contract"})
    def mul(a, b):  # type: ignore[no-untyped-def]
        return a * b

    assert mul(2.0, 4.0) == 8.0


def test_warmup_reports_layers_and_rejects_unknown() -> None:
    timings = edgekit.warmup()
    assert set(timings) <= set(edgekit.LAYERS)
    assert all(t >= 0 for t in timings.values())
    with pytest.raises(edgekit.InvalidInputError):
        edgekit.warmup(("nope",))


def test_readme_gives_both_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "<!-- demo-command -->" in readme and "<!-- test-command -->" in readme
    ci = (ROOT / ".ci" / "run").read_text()
    assert "test-command" in ci
