"""AnomalyMonitor: a detector on real sensor readings (NAB extract), alarms on a real SyncQueue."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgekit.analytics import ContextNovelty
from edgekit.analytics.detectors import EwmaZScore, HalfSpaceTrees
from edgekit.codec import decode_series
from edgekit.errors import InvalidInputError, QueueFullError
from edgekit.pipelines import ALARM_CONTENT_TYPE, AnomalyMonitor, SensorUplink
from edgekit.sync import SyncQueue

from ..analytics.test_nab import load_extract

FILE = "realKnownCause/ec2_request_latency_system_failure.csv"  # 3 labelled failures


@pytest.fixture(scope="module")
def series() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(timestamps in ns, values, windows) of one NAB series."""
    corpus, values, _, _ = load_extract()
    x = values[FILE]
    t = 1_400_000_000_000_000_000 + np.arange(len(x), dtype=np.int64) * 300_000_000_000
    return t, x, corpus.windows[FILE]


@pytest.fixture
def queue(tmp_path):
    with SyncQueue(tmp_path / "queue") as q:
        yield q


def test_alarms_go_on_the_queue_and_readings_through_the_uplink(series, queue) -> None:
    t, x, windows = series
    det = ContextNovelty().fit(x[:600])
    expected = ContextNovelty().fit(x[:600]).predict(x[600:])
    onsets = np.flatnonzero(expected & ~np.r_[False, expected[:-1]]) + 600
    uplink = SensorUplink(queue, topic="latency", frame_points=512)
    monitor = AnomalyMonitor(det, queue, topic="alarms", source="ec2/latency", uplink=uplink)
    ids = []
    for a in range(600, len(x), 250):  # blocks, as a sensor loop would hand them over
        ids += monitor.append(t[a : a + 250], x[a : a + 250])
    monitor.flush()
    alarms = queue.peek(1000, topic="alarms")
    assert len(alarms) == len(ids) == len(onsets) >= 1
    got = [json.loads(m.payload) for m in alarms]
    assert [g["t"] for g in got] == t[onsets].tolist()
    assert all(g["source"] == "ec2/latency" and g["score"] >= g["threshold"] for g in got)
    for m, g in zip(alarms, got, strict=True):
        assert m.headers["content-type"] == ALARM_CONTENT_TYPE
        assert m.key == f"ec2/latency:{g['t']}" and m.priority == 1
    # The detector finds the labelled failures: an alarm inside a window.
    assert any(((windows[:, 0] <= i) & (i <= windows[:, 1])).any() for i in onsets)
    # Every reading went up through the uplink.
    frames = queue.peek(1000, topic="latency")
    np.testing.assert_array_equal(
        np.concatenate([decode_series(m.payload)[1] for m in frames]), x[600:]
    )
    stats = monitor.stats()
    assert stats.readings == len(x) - 600 and stats.alarms == stats.alarms_put == len(onsets)
    assert "alarms_put" in stats.as_dict()


def test_replayed_readings_raise_no_second_alarm(series, queue) -> None:
    t, x, _ = series
    first = AnomalyMonitor(ContextNovelty().fit(x[:600]), queue, source="s")
    first.append(t[600:], x[600:])
    again = AnomalyMonitor(ContextNovelty().fit(x[:600]), queue, source="s")
    again.append(t[600:], x[600:])  # a host replaying after a crash
    assert again.stats().alarms == first.stats().alarms >= 1
    assert len(queue.peek(1000)) == first.stats().alarms


def test_multivariate_rows(queue) -> None:
    rng = np.random.default_rng(0)
    normal = rng.normal(0, 1, (2000, 3))
    rows = rng.normal(0, 1, (300, 3))
    expected = HalfSpaceTrees(seed=1, quantile=0.9).fit(normal).predict(rows)
    onsets = np.flatnonzero(expected & ~np.r_[False, expected[:-1]])
    monitor = AnomalyMonitor(HalfSpaceTrees(seed=1, quantile=0.9).fit(normal), queue, source="imu")
    monitor.append(np.arange(300, dtype=np.int64), rows)
    payloads = [json.loads(m.payload) for m in queue.peek(1000)]
    assert len(onsets) >= 1
    assert [p["t"] for p in payloads] == onsets.tolist()
    assert [p["value"] for p in payloads] == rows[onsets].tolist()


def test_a_refused_alarm_is_kept_and_put_again(tmp_path) -> None:
    with SyncQueue(tmp_path / "small", max_bytes=2000, compression=None) as small:
        small.put(b"x" * 1500, topic="filler")
        det = EwmaZScore(0.1, threshold=5.0)
        det.fit(np.zeros(50) + np.sin(np.arange(50)))
        monitor = AnomalyMonitor(det, small, source="big-" + "x" * 150)
        values = np.sin(np.arange(40.0))
        values[20] = 100.0
        with pytest.raises(QueueFullError):
            monitor.append(np.arange(40, dtype=np.int64), values)
        assert monitor.stats().pending_alarms == 1
        small.ack(small.lease(10))
        assert len(monitor.flush()) == 1
        assert monitor.stats().alarms_put == 1 and monitor.stats().pending_alarms == 0


def test_bad_arguments_are_named(queue) -> None:
    det = ContextNovelty().fit(np.arange(100.0))
    with pytest.raises(InvalidInputError, match="Detector"):
        AnomalyMonitor(object(), queue)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="threshold"):
        AnomalyMonitor(EwmaZScore(), queue)
    with pytest.raises(InvalidInputError, match="SyncQueue"):
        AnomalyMonitor(det, "queue")  # type: ignore[arg-type]
    monitor = AnomalyMonitor(det, queue)
    with pytest.raises(InvalidInputError, match="integers"):
        monitor.append(1.5, 3.0)
    with pytest.raises(InvalidInputError, match="timestamps"):
        monitor.append(np.arange(3), np.zeros(4))


def test_the_nab_notebook_executes(tmp_path, monkeypatch) -> None:
    import os
    from pathlib import Path

    import nbformat
    from nbclient import NotebookClient

    root = Path(__file__).resolve().parents[2]
    monkeypatch.delenv("MPLBACKEND", raising=False)
    monkeypatch.setenv("PYTHONPATH", str(root) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    notebook = nbformat.read(root / "examples" / "notebooks" / "anomaly_nab.ipynb", as_version=4)
    NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert [o for o in outputs if "image/png" in o.get("data", {})], "the series plot"
    text = "".join(o.get("text", "") for o in outputs)
    assert "ContextNovelty: " in text and "alarms ec2/latency:" in text
