"""The quickstart notebook executes top to bottom (as in CI)."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "examples" / "notebooks").glob("*.ipynb"))


def test_there_is_a_quickstart() -> None:
    assert ROOT / "examples" / "notebooks" / "quickstart.ipynb" in NOTEBOOKS


def test_quickstart_executes(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel picks its inline backend
    monkeypatch.setenv("PYTHONPATH", str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    notebook = nbformat.read(ROOT / "examples" / "notebooks" / "quickstart.ipynb", as_version=4)
    NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 2, "the spectrogram and the wake-word plot"
    html = [o for o in outputs if "text/html" in o.get("data", {})]
    assert html, "the inventory and queue stats render as HTML"
