"""Helpers shared by the tests: importable functions and classes, never fixtures.

Fixtures live in the conftest.py files and may import from here; a test imports a
helper from here, never from a conftest.py.

- ``audio``: espeak-ng speech, test signals, WAV files, the pymicro-features oracle;
- ``servers``: nats-server and mosquitto on free ports of 127.0.0.1;
- ``bluez``: a private D-Bus daemon with BlueZ mocked by python-dbusmock;
- ``runtimes``: plain ONNX Runtime and LiteRT sessions, for comparisons;
- ``frames``: codec frame surgery;
- ``naive``: slow, obviously correct reference versions of edgekit's kernels.
"""
