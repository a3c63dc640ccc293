"""The footprint cases: the body each fresh process runs, edgekit's and its peers'.

A body ends with the first result of the work; the harness then reads the process's
peak (``VmHWM``) and resident (``VmRSS``, after a ``gc.collect()``) memory. Bodies read
``ROOT`` (the source tree) and ``DATA`` (a temporary directory of their own).
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: 1,000 readings of a temperature sensor with two decimals (float64).
SERIES = "x = np.round(21.0 + 2.0 * np.sin(np.arange(1000) / 90.0), 2)\n"
#: 1 s of 16 kHz audio: a 440 Hz tone in noise (float32).
AUDIO = (
    "rng = np.random.default_rng(0)\n"
    "t = np.arange(16000) / 16000\n"
    "y = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.01 * rng.standard_normal(16000)).astype(np.float32)\n"
)
#: one 32 ms chunk for the Silero VAD model and its state.
VAD_FEEDS = (
    "feeds = {'input': np.zeros((1, 576), np.float32), 'state': np.zeros((2, 1, 128), np.float32),"
    " 'sr': np.array(16000, np.int64)}\n"
)
SILERO = (
    "import importlib.util, pathlib\n"
    "model = pathlib.Path(importlib.util.find_spec('silero_vad').submodule_search_locations[0])"
    " / 'data' / 'silero_vad.onnx'\n"
)
#: real BLE advertisement payloads (the scan tests' corpus from bluetooth-data-tools).
ADVERTS = (
    "payloads = [bytes.fromhex(s) for s in (ROOT / 'tests/scan/data/adv_corpus_bdt.hex')"
    ".read_text().splitlines() if s and not s.startswith('#')]\n"
)


@dataclass(frozen=True)
class Case:
    """One piece of work: edgekit's body and each peer's body for the same work."""

    name: str
    edgekit: str
    peers: dict[str, str] = field(default_factory=dict)
    numba: bool = True  # uses edgekit's numba kernels: a warm and a cold cache differ
    note: str = ""


BASELINES = {
    "python": "pass\n",
    "import numpy": "import numpy\n",
    "import numba": "import numba\n",
    "import edgekit": "import edgekit\n",
}

CASES = [
    Case(
        "codec compress 1,000 floats",
        "import numpy as np\nimport edgekit.codec as codec\n"
        + SERIES
        + "out = codec.compress(x)\n",
        {
            "pcodec": "import numpy as np\nfrom pcodec import ChunkConfig, standalone\n"
            + SERIES
            + "out = standalone.simple_compress(x, ChunkConfig())\n"
        },
    ),
    Case(
        "dsp mfcc of 1 s",
        "import numpy as np\nimport edgekit.dsp as dsp\n"
        + AUDIO
        + "out = dsp.mfcc(y=y, sr=16000, n_mfcc=13)\n",
        {
            "librosa": "import numpy as np\nimport librosa\n"
            + AUDIO
            + "out = librosa.feature.mfcc(y=y, sr=16000, n_mfcc=13)\n",
            "scipy": "import numpy as np\nfrom scipy import fft, signal\n"
            + AUDIO
            + "_, _, z = signal.stft(y, nperseg=2048, noverlap=2048 - 512)\n"
            "p = np.abs(z) ** 2\n"
            "mel = lambda f: 2595 * np.log10(1 + f / 700)\n"
            "edges = 700 * (10 ** (np.linspace(0, mel(8000), 130) / 2595) - 1)\n"
            "freqs = np.linspace(0, 8000, p.shape[0])\n"
            "fb = np.maximum(0, np.minimum((freqs - edges[:-2, None]) / np.diff(edges)[:-1, None],"
            " (edges[2:, None] - freqs) / np.diff(edges)[1:, None]))\n"
            "out = fft.dct(10 * np.log10(np.maximum(fb @ p, 1e-10)), axis=0, norm='ortho')[:13]\n",
        },
    ),
    Case(
        "infer one Silero VAD chunk (ONNX)",
        "import numpy as np\nfrom edgekit.infer import InferenceEngine\n"
        + SILERO
        + VAD_FEEDS
        + "out = InferenceEngine(model, backend='onnxruntime', warmup=0).run(feeds)\n",
        {
            "onnxruntime": "import numpy as np\nimport onnxruntime as ort\n"
            + SILERO
            + VAD_FEEDS
            + "out = ort.InferenceSession(str(model), providers=['CPUExecutionProvider'])"
            ".run(None, feeds)\n"
        },
        numba=False,
    ),
    Case(
        "sync queue put + engine drain",
        "from edgekit.sync import DirectoryTransport, SyncEngine, SyncQueue\n"
        "with SyncQueue(DATA / 'q') as q:\n"
        "    q.put_many([b'x' * 100] * 100)\n"
        "    with SyncEngine(q, DirectoryTransport(DATA / 'out')) as engine:\n"
        "        out = engine.sync_now(timeout=30)\n",
        {
            "persist-queue": "import persistqueue\n"
            "q = persistqueue.SQLiteAckQueue(str(DATA / 'q'), multithreading=True)\n"
            "for _ in range(100):\n"
            "    q.put(b'x' * 100)\n"
            "out = [q.ack(q.get()) for _ in range(100)]\n"
        },
        numba=False,
        note="a queue and its sync engine, no numba layer",
    ),
    Case(
        "scan parse 2,000 BLE advertisements",
        "from edgekit.scan import parse_advertisements\n"
        + ADVERTS
        + "out = [a.manufacturer_data for a in parse_advertisements(payloads * 20)]\n",
        {
            "bluetooth-data-tools": "from bluetooth_data_tools import parse_advertisement_data_tuple\n"
            + ADVERTS
            + "out = [parse_advertisement_data_tuple((p,)) for p in payloads * 20]\n"
        },
    ),
    Case(
        "scan mDNS on 127.0.0.1 (own service)",
        "from edgekit.scan import scan_mdns\n"
        "out = scan_mdns(['_footprint._tcp'], timeout=5.0, interfaces=['127.0.0.1'])\n"
        "assert out, 'the benchmark service was not found'\n",
        {
            "zeroconf": "import threading\n"
            "from zeroconf import ServiceBrowser, Zeroconf\n"
            "found = threading.Event()\n"
            "zc = Zeroconf(interfaces=['127.0.0.1'])\n"
            "class L:\n"
            "    def add_service(self, z, t, n):\n"
            "        if z.get_service_info(t, n, timeout=3000):\n"
            "            found.set()\n"
            "    update_service = remove_service = lambda *a: None\n"
            "browser = ServiceBrowser(zc, '_footprint._tcp.local.', L())\n"
            "assert found.wait(5.0), 'the benchmark service was not found'\n"
            "zc.close()\n"
        },
        numba=False,
        note="time to the answers settling (edgekit) vs to the first resolved service (zeroconf)",
    ),
]

#: Whole applications, each run to its end: time is from start to exit.
APPS = {
    "examples/gateway.py": "import runpy, sys\n"
    "sys.argv = ['gateway.py', '--data', str(DATA)]\n"
    "try:\n"
    "    runpy.run_path(str(ROOT / 'examples' / 'gateway.py'), run_name='__main__')\n"
    "except SystemExit as exc:\n"
    "    assert not exc.code, exc.code\n",
    "edgekit demo": "import runpy, sys\n"
    "sys.argv = ['edgekit', 'demo', '--data-dir', str(DATA / 'demo')]\n"
    "try:\n"
    "    runpy.run_module('edgekit', run_name='__main__', alter_sys=True)\n"
    "except SystemExit as exc:\n"
    "    assert not exc.code, exc.code\n",
}

#: The cases tests/test_footprint.py holds to their recorded peak RSS (baseline.json).
REGRESSION = (
    "codec compress 1,000 floats",
    "dsp mfcc of 1 s",
    "scan parse 2,000 BLE advertisements",
    "sync queue put + engine drain",
)

#: Layers used together (what fits on a small device), each in a fresh process.
COMBOS = {
    "sensor uplink: codec + sync (600 readings, queued, drained)": "import numpy as np\n"
    "from edgekit.pipelines import SensorUplink\n"
    "from edgekit.sync import DirectoryTransport, SyncEngine, SyncQueue\n"
    "with SyncQueue(DATA / 'q') as q:\n"
    "    uplink = SensorUplink(q, topic='t', frame_points=256)\n"
    "    for i in range(600):\n"
    "        uplink.append(1_700_000_000_000_000_000 + i * 10**10, round(21 + np.sin(i / 90), 2))\n"
    "    uplink.flush()\n"
    "    with SyncEngine(q, DirectoryTransport(DATA / 'out')) as engine:\n"
    "        out = engine.sync_now(timeout=30)\n",
    "wake word: dsp + infer (LiteRT), 1 s of audio": "import numpy as np\n"
    "from edgekit.pipelines import WakeWordDetector\n"
    "w = WakeWordDetector('okay_nabu')\n" + AUDIO + "pcm = (y * 32767).astype(np.int16)\n"
    "out = [d for i in range(0, 16000, 320) for d in w.process(pcm[i : i + 320])]\n",
    "edgekit.warmup() of every layer at start-up": "import edgekit\nout = edgekit.warmup()\n",
}
