"""The documentation's code runs: every ```python block of the quickstart executes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "quickstart.md").read_text(), re.S)


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_quickstart_block_runs(code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "quickstart.md", "exec"), {"__name__": "__quickstart__"})


def test_quickstart_has_a_block_per_layer() -> None:
    text = "\n".join(BLOCKS)
    for layer in ("dsp", "infer", "codec", "sync", "scan", "pipelines"):
        assert f"edgekit.{layer}" in text or f"from edgekit import {layer}" in text
