"""Model files loaded by path are probe-loaded unless known-good (issue #20 point 6).

Crash cases run in a child process (tests/_support/child.py), so that a crash fails
the test instead of killing pytest.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from edgekit.errors import InvalidInputError
from edgekit.infer import InferenceEngine, _probe
from tests._support.child import ROOT, run_child
from tests.infer import models

CRASH_BY_PATH = """
import os, sys, tempfile
from pathlib import Path
from edgekit.errors import ModelLoadError
from edgekit.infer import InferenceEngine
from tests.infer import models

folder = Path(tempfile.mkdtemp())
os.environ["XDG_CACHE_HOME"] = str(folder / "xdg")
for name in models.CRASHING_TFLITE:
    path = folder / f"{name}-mutated.tflite"
    path.write_bytes(models.crashing_tflite(name))
    try:
        InferenceEngine(path)
    except ModelLoadError as exc:
        print(exc)
    else:
        sys.exit(f"{path} loaded")
"""


def test_a_file_that_crashes_the_runtime_is_a_model_load_error_by_path():
    """The mutated microWakeWord files, loaded by path with the defaults: ModelLoadError
    naming the file and the signal (SIGSEGV here), in a child process (a crash fails
    the test)."""
    lines = run_child(CRASH_BY_PATH).splitlines()
    assert len(lines) == len(models.CRASHING_TFLITE)
    for line, name in zip(lines, models.CRASHING_TFLITE, strict=True):
        assert re.search(rf"{name}-mutated\.tflite crashed the runtime \(SIG[A-Z]+\)", line)
        assert line.startswith(os.sep)  # the whole path


@pytest.mark.parametrize("name", list(models.CRASHING_TFLITE))
def test_the_crashing_fixture_still_crashes_without_the_probe(name, tmp_path):
    """Without the probe the fixture kills the process: the test above proves something.
    (If a new LiteRT stops crashing here, find new crashing bytes with the recipe in
    ``models.CRASHING_TFLITE``.)"""
    path = tmp_path / f"{name}.tflite"
    path.write_bytes(models.crashing_tflite(name))
    code = (
        "import sys; from edgekit.infer import InferenceEngine; "
        "InferenceEngine(sys.argv[1], verify=False, warmup=1)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)], cwd=ROOT, capture_output=True, timeout=120
    )
    assert done.returncode < 0, (done.returncode, done.stderr[-500:])


def test_a_known_good_file_is_not_probed_again(probes, tmp_path):
    path = tmp_path / "okay_nabu.tflite"
    path.write_bytes(models.wakeword_path("okay_nabu").read_bytes())
    InferenceEngine(path).close()
    InferenceEngine(path).close()
    assert probes == ["okay_nabu.tflite"]
    marker = _probe.probe_dir() / next(iter(_probe._good))
    assert marker.is_file() and marker.name.startswith(InferenceEngine(path).digest)
    _probe._good.clear()  # a new process: known-good from the marker file
    InferenceEngine(path).close()
    assert probes == ["okay_nabu.tflite"]
    # verify=True probes every time; verify=False never; a pinned digest is not probed.
    InferenceEngine(path, verify=True).close()
    assert len(probes) == 2
    marker.unlink()
    _probe._good.clear()
    InferenceEngine(path, verify=False).close()
    InferenceEngine(path, expected_digest=marker.name.split("-")[0]).close()
    assert len(probes) == 2


def test_other_settings_are_probed_again(probes, tmp_path):
    path = tmp_path / "okay_nabu.tflite"
    path.write_bytes(models.wakeword_path("okay_nabu").read_bytes())
    InferenceEngine(path).close()
    InferenceEngine(path, threads=2).close()
    InferenceEngine(path, probe_max_bytes=1 << 30).close()
    assert len(probes) == 3


def test_a_changed_file_of_the_same_size_and_mtime_is_probed_again(probes, tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(models.add_model())
    InferenceEngine(path).close()
    stat = path.stat()
    changed = models.add_model()
    changed = changed.replace(b"add", b"adD", 1)  # the graph's name: same size
    assert len(changed) == stat.st_size and changed != path.read_bytes()
    path.write_bytes(changed)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    InferenceEngine(path).close()
    assert probes == ["model.onnx", "model.onnx"]


def test_an_unwritable_cache_remembers_for_the_process(probes, tmp_path, monkeypatch):
    """A read-only home (here: XDG_CACHE_HOME under a regular file, which holds for root
    too): no error, and each file is probed once per process."""
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker / "cache"))
    path = tmp_path / "model.onnx"
    path.write_bytes(models.add_model())
    InferenceEngine(path).close()
    InferenceEngine(path).close()
    assert probes == ["model.onnx"]
    assert not _probe.known_good("0" * 32)


BOMB = """
import resource, sys, tempfile
from pathlib import Path
from edgekit.errors import ModelLoadError
from edgekit.infer import InferenceEngine
from tests.infer import models

# Should the probe not stop it, the engine's in-process warm-up must not take 10 GiB.
resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))
path = Path(tempfile.mkdtemp()) / "bomb.onnx"
path.write_bytes(models.constant_of_shape_model(10 << 30))
for model in (path, path.read_bytes()):
    try:
        InferenceEngine(model)
    except ModelLoadError as exc:
        print(exc)
    else:
        sys.exit(f"{model!r} loaded")
"""


def test_a_first_run_that_allocates_10_gib_is_refused():
    """An 80-byte ONNX model whose first run asks for 10 GiB (ConstantOfShape): the probe
    runs under an address-space limit, by path and as bytes."""
    lines = run_child(BOMB).splitlines()
    assert len(lines) == 2
    for line in lines:
        assert "needs more memory than the probe allows" in line
        assert "10737418240" in line
    assert lines[0].startswith("bomb.onnx:")


def test_probe_max_bytes_is_checked():
    with pytest.raises(InvalidInputError, match="probe_max_bytes"):
        InferenceEngine(models.add_model(), probe_max_bytes=0)
