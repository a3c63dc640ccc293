"""The documentation's code runs: every ```python block of every page of docs/.

The conventions (written in docs/development.md, "Code in the docs"):

- A page's blocks run in order in one namespace, in a fresh temporary directory, so a
  block may use what an earlier block of the page defined. Top-level ``await`` works, as
  in a notebook.
- Names a page uses as givens (``blocks`` of microphone audio, a ``chunk`` of speech,
  ``model.onnx``...) are made by that page's entry in ``SETUP`` below, from real data:
  generated signals, espeak-ng speech, the models edgekit ships or the test session
  installs. ``SUBSTITUTE`` swaps a page's placeholder addresses and paths for the
  session's: a real nats-server on 127.0.0.1, a temporary directory.
- A ```text block right after a python block is the output it prints, compared with
  doctest's rules (``...`` matches anything, whitespace runs are equal).
- A block preceded by ``<!-- no-run: REASON -->`` is not run, only compiled (its syntax
  checked); its test id names it, and there are at most MAX_NO_RUN of them.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import doctest
import inspect
import io
import re
import sys
import textwrap
import types
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest

from edgekit.errors import ScanWarning

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
MAX_NO_RUN = 6

_FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```python[ \t]*\n(?P<code>.*?)^(?P=indent)```[ \t]*$", re.M | re.S
)
_OUTPUT = re.compile(
    r"\s*\n(?P<indent>[ \t]*)```text[ \t]*\n(?P<out>.*?)^(?P=indent)```", re.S | re.M
)
_NO_RUN = re.compile(r"<!--\s*no-run:\s*(?P<reason>.*?)\s*-->\s*$")


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    code: str
    output: str | None  # the ```text block that follows, if any
    no_run: str | None  # the reason of a no-run mark, if any


def blocks(page: Path) -> list[Block]:
    """The ```python blocks of ``page`` (indented ones in lists too), in order."""
    text = page.read_text()
    out = []
    for m in _FENCE.finditer(text):
        before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        mark = _NO_RUN.search(before)
        after = _OUTPUT.match(text, m.end())
        output = textwrap.dedent(after["out"]) if after else None
        out.append(
            Block(
                page=page.name,
                line=text.count("\n", 0, m.start()) + 1,
                code=textwrap.dedent(m["code"]),
                output=output,
                no_run=mark["reason"] if mark else None,
            )
        )
    return out


PAGES = sorted(p for p in DOCS.glob("*.md") if blocks(p))
NO_RUN = [b for p in PAGES for b in blocks(p) if b.no_run is not None]


# What each page takes as given, made from real data before its first block runs.
SETUP = {
    "dsp.md": """
import numpy as np
from edgekit.pipelines.demo import demo_speech
pcm_int16, _ = demo_speech()  # 16 kHz speech (espeak-ng, or the WAV edgekit ships)
pcm = pcm_int16
blocks = [pcm_int16[i : i + 160] for i in range(0, len(pcm_int16), 160)]  # 10 ms blocks
y48 = np.sin(2 * np.pi * 440 * np.arange(48_000) / 48_000)  # 1 s at 48 kHz
""",
    "infer.md": """
import shutil
import numpy as np
from onnx import TensorProto, helper, numpy_helper
from edgekit.infer import InferenceEngine
from edgekit.pipelines.demo import demo_speech
from edgekit.pipelines.vad import silero_model_path
from edgekit.pipelines.wakeword import MODELS_DIR

shutil.copy(silero_model_path(), "silero_vad.onnx")
shutil.copy(silero_model_path(), "model-v2.onnx")  # same inputs: a swap target
shutil.copy(MODELS_DIR / "okay_nabu.tflite", "okay_nabu.tflite")
new_bytes = open("model-v2.onnx", "rb").read()
v2_digest = InferenceEngine(new_bytes).digest
rng = np.random.default_rng(0)
w = [(rng.standard_normal(s) / 16).astype(np.float32) for s in ((256, 512), (512, 16))]
graph = helper.make_graph(
    [helper.make_node("MatMul", ["x", "w0"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
     helper.make_node("MatMul", ["r", "w1"], ["y"])],
    "mlp",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 256])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 16])],
    initializer=[numpy_helper.from_array(a, f"w{i}") for i, a in enumerate(w)],
)
mlp = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
mlp.ir_version = 8
for name in ("mlp.onnx", "model.onnx"):
    open(name, "wb").write(mlp.SerializeToString())
model = "mlp.onnx"
x = rng.standard_normal((1, 256)).astype(np.float32)
speech, _ = demo_speech()
chunk = (speech[16_000 : 16_000 + 576] / 32768).astype(np.float32)  # 64 of context + 512
features_3x40 = np.zeros((3, 40), np.float32)
sr = np.array(16000)
""",
    "pipelines.md": """
import wave
import numpy as np
from edgekit.pipelines.demo import demo_speech
samples, _ = demo_speech()
def microphone():
    return (samples[i : i + 320] for i in range(0, len(samples), 320))
for name in ("command.wav", "meeting.wav"):
    with wave.open(name, "wb") as w:
        w.setnchannels(1); w.setsampwidth(2); w.setframerate(16000)
        w.writeframes(samples.tobytes())
def read_sensor():
    return 21.5
""",
    "scan.md": """
from edgekit.scan import MdnsScanner
payloads = [
    bytes.fromhex("0201060b094154435f3844313842320a16d2fc4002ca0903bf13"),
    bytes.fromhex("0201061aff4c000215e2c56db5dffb48d2b060d0f5a71096e000010002c5"),
]
open("site-rules.toml", "w").write('''
[[rules]]
id = "site-printer"
when = { name = "^PRN-" }
then = { vendor = "Site", kind = "printer" }
''')
""",
}

# A page's placeholders -> the session's own (regular expression -> replacement): a
# temporary directory (the working directory), the nats-server this test starts. Scans
# stay on loopback (no multicast leaves the machine) and last 1 s. Each must match.
SUBSTITUTE = {
    "pipelines.md": {r'"/var/lib/gateway/queue"': '"gateway-queue"'},
    "sync.md": {r'"/var/lib/myapp/outbox"': '"outbox"', r'"nats://hub\.example:4222"': "NATS_URL"},
    "state.md": {r'"nats://hub\.example:4222"': "NATS_URL"},
    "scan.md": {
        r"\bscan\(((?:\(\"mdns\",\), )?)timeout=[0-9.]+": (
            r'scan(\1timeout=1.0, mdns=MdnsScanner(interfaces=["127.0.0.1"])'
        ),
        r'MdnsScanner\(interfaces="all"\)': 'MdnsScanner(interfaces=["127.0.0.1"])',
    },
}


def run_block(block: Block, namespace: dict[str, object]) -> str:
    """Run one block in ``namespace``; returns what it printed."""
    code = block.code
    for pattern, replacement in SUBSTITUTE.get(block.page, {}).items():
        code = re.sub(pattern, replacement, code)
    compiled = compile(
        code, f"docs/{block.page}:{block.line}", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    )
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        if compiled.co_flags & inspect.CO_COROUTINE:
            asyncio.run(eval(compiled, namespace))
        else:
            exec(compiled, namespace)
    return printed.getvalue()


def check_output(block: Block, printed: str) -> None:
    if block.output is None:
        return
    checker = doctest.OutputChecker()
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    assert checker.check_output(block.output, printed, flags), (
        f"docs/{block.page}:{block.line} prints\n{printed}but the page shows\n{block.output}"
    )


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_page_blocks_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    module = types.ModuleType(f"docs_{page.stem.replace('-', '_')}")  # dataclasses need one
    monkeypatch.setitem(sys.modules, module.__name__, module)
    namespace = module.__dict__
    server = None
    if page.name in ("sync.md", "state.md"):
        from tests._support.servers import NatsServer

        (tmp_path / "nats").mkdir()
        server = NatsServer(tmp_path / "nats")
        server.start()
        namespace["NATS_URL"] = server.url
    try:
        exec(SETUP.get(page.name, ""), namespace)
        for block in blocks(page):
            if block.no_run is None:
                with warnings.catch_warnings():
                    # scan.md's whole-network scans find nothing on 127.0.0.1, and say so
                    warnings.simplefilter("ignore", ScanWarning)
                    check_output(block, run_block(block, namespace))
    finally:
        if server is not None:
            server.stop()


@pytest.mark.parametrize("block", NO_RUN, ids=[f"{b.page}:{b.line}" for b in NO_RUN])
def test_no_run_block_compiles(block: Block) -> None:
    """A block that is not run still has a reason and is valid Python (top-level await
    allowed): it is checked for syntax, not run."""
    assert block.no_run, f"docs/{block.page}:{block.line}: a no-run mark needs a reason"
    compile(
        block.code, f"docs/{block.page}:{block.line}", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    )


@pytest.mark.parametrize("page", sorted(SUBSTITUTE))
def test_substitutions_match_their_page(page: str) -> None:
    code = "\n".join(b.code for b in blocks(DOCS / page) if b.no_run is None)
    for pattern in SUBSTITUTE[page]:
        assert re.search(pattern, code), f"SUBSTITUTE[{page!r}]: {pattern!r} matches nothing"


def test_no_run_marks_are_few() -> None:
    assert len(NO_RUN) <= MAX_NO_RUN, [f"{b.page}:{b.line}: {b.no_run}" for b in NO_RUN]


def test_every_page_with_code_is_run() -> None:
    assert {p.name for p in PAGES} >= {"quickstart.md", "codec.md", "dsp.md", "infer.md"}


def test_output_blocks_are_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    page = tmp_path / "page.md"
    page.write_text(
        '```python\nprint("13.76", ("dictionary",))\n```\n\n```text\n~7x (\'alp\',)\n```\n'
    )
    (block,) = blocks(page)
    with pytest.raises(AssertionError, match="but the page shows"):
        check_output(block, run_block(block, {}))
    page.write_text(
        "<!-- no-run: needs a BLE radio -->\n```python\nprint(1)\n```\n\n```text\n1\n```\n"
    )
    (block,) = blocks(page)
    assert block.no_run == "needs a BLE radio"
    check_output(block, run_block(block, {}))


def test_quickstart_has_a_block_per_layer() -> None:
    text = "\n".join(b.code for b in blocks(DOCS / "quickstart.md"))
    for layer in ("dsp", "infer", "codec", "sync", "scan", "pipelines"):
        assert f"edgekit.{layer}" in text or f"from edgekit import {layer}" in text
