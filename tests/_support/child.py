"""Run Python code in a child process from the repository root (crash and memory-limit
cases that must not take the test process down)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_child(code: str, timeout: float = 120) -> str:
    """Run ``code`` with this interpreter from the repository root (so it can import the
    tests); asserts it exits 0 and returns its stripped standard output."""
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()
