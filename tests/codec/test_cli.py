"""The ``edgekit codec`` subcommands."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgekit._cli import main


def test_compress_info_decompress(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    x = np.round(np.cumsum(np.random.default_rng(0).standard_normal(5000)), 2)
    np.save(tmp_path / "x.npy", x)
    assert main(["codec", "compress", str(tmp_path / "x.npy"), str(tmp_path / "x.ekc")]) == 0
    assert main(["codec", "info", str(tmp_path / "x.ekc")]) == 0
    assert main(["codec", "decompress", str(tmp_path / "x.ekc"), str(tmp_path / "y.npy")]) == 0
    out = capsys.readouterr().out
    assert "block 0: alp" in out and "float64 (5000,)" in out
    assert np.load(tmp_path / "y.npy").tobytes() == x.tobytes()


def test_corrupt_frame_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.ekc").write_bytes(b"EKCS\x01garbage-garbage")
    assert main(["codec", "info", str(tmp_path / "bad.ekc")]) == 1
    assert main(["codec", "decompress", str(tmp_path / "bad.ekc"), str(tmp_path / "o.npy")]) == 1
    assert "checksum" in capsys.readouterr().err
