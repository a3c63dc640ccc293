"""``edgekit dsp features`` on a WAV file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edgekit._cli import _make_cli
from tests._support.audio import write_wav


@pytest.mark.parametrize(("kind", "width"), [("frontend", 40), ("mfcc", 13), ("log-mel", 40)])
def test_features_of_a_wav(tmp_path: Path, speech, kind: str, width: int) -> None:
    wav = tmp_path / "words.wav"
    write_wav(wav, speech("edge kit", sr=22050), 22050)
    out = tmp_path / "f.npy"
    result = CliRunner().invoke(
        _make_cli(), ["dsp", "features", str(wav), "--kind", kind, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert f"x {width} {kind} features" in result.output
    assert np.load(out).shape[1] == width


def test_bad_wav_is_a_clean_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....not a wav")
    result = CliRunner().invoke(_make_cli(), ["dsp", "features", str(bad)])
    assert result.exit_code != 0
    assert "not a readable WAV file" in result.output
