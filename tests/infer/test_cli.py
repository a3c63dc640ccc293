"""``edgekit infer info`` and ``edgekit infer time``."""

from __future__ import annotations

from edgekit._cli import main


def test_info_lists_tensors_and_quantization(okay_nabu_path, capsys):
    assert main(["infer", "info", str(okay_nabu_path)]) == 0
    out = capsys.readouterr().out
    assert "litert" in out and "int8" in out and "scale" in out and "stateful" in out


def test_time_prints_percentiles(tmp_path, add_bytes, capsys):
    path = tmp_path / "add.onnx"
    path.write_bytes(add_bytes)
    assert main(["infer", "time", "-n", "50", str(path)]) == 0
    assert "p99" in capsys.readouterr().out


def test_bad_model_is_a_clean_error(tmp_path, capsys):
    path = tmp_path / "junk.onnx"
    path.write_bytes(b"junk" * 100)
    assert main(["infer", "info", str(path)]) == 1
    assert "not a valid ONNX model" in capsys.readouterr().err
