"""``edgekit state get|set|delete|ls|conflicts|sync``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgekit._cli import main
from edgekit.state import StateStore
from tests.state import _plain


def test_set_get_ls_delete(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(tmp_path / "s")
    assert main(["state", "set", path, "cfg/mode", '"eco"']) == 0
    assert main(["state", "set", path, "cfg/limits", '{"rpm": 1200}']) == 0
    assert main(["state", "set", path, "cfg/name", "pump one", "--string"]) == 0
    capsys.readouterr()
    assert main(["state", "get", path, "cfg/limits"]) == 0
    assert json.loads(capsys.readouterr().out) == {"rpm": 1200}
    assert main(["state", "get", path, "cfg/mode", "--entry"]) == 0
    entry = json.loads(capsys.readouterr().out)
    assert entry["value"] == "eco" and entry["key"] == "cfg/mode" and len(entry["hlc"]) == 2
    assert main(["state", "ls", path, "cfg/"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        '* cfg/limits\t{"rpm":1200}',
        '* cfg/mode\t"eco"',
        '* cfg/name\t"pump one"',
    ]
    assert main(["state", "delete", path, "cfg/mode"]) == 0
    assert main(["state", "ls", path, "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()[1:]
    assert [json.loads(line)["key"] for line in lines] == ["cfg/limits", "cfg/name"]


def test_errors_are_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(tmp_path / "s")
    assert main(["state", "get", path, "k"]) == 1
    assert "is not a state store directory" in capsys.readouterr().err
    assert main(["state", "set", path, "k", "not json"]) == 2
    assert "is not JSON" in capsys.readouterr().err
    assert main(["state", "set", path, "bad key!", "1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and "bad key!" in err and len(err.splitlines()) == 1
    assert main(["state", "get", path, "absent"]) == 1
    assert "no key 'absent'" in capsys.readouterr().err
    assert main(["state", "conflicts", path]) == 0
    assert "(no conflicts)" in capsys.readouterr().out


def test_sync_and_conflicts(
    shared_nats, bucket: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(tmp_path / "s")
    url = shared_nats.url
    assert main(["state", "set", path, "twin/p/desired/rpm", "100"]) == 0
    assert main(["state", "sync", path, "--nats", url, "--bucket", bucket]) == 1
    assert "create-bucket" in capsys.readouterr().err  # no such bucket: says how to make it
    assert main(["state", "sync", path, "--nats", url, "--bucket", bucket, "--create-bucket"]) == 0
    assert "sent 1, received 0, conflicts 0; 0 pending" in capsys.readouterr().out
    with StateStore(path) as store:
        store.set("twin/p/desired/rpm", 150)  # while a cloud client writes it too
    _plain.put(url, bucket, "twin/p/desired/rpm", b"200")
    assert main(["state", "sync", path, "--nats", url, "--bucket", bucket]) == 0
    assert "conflicts 1" in capsys.readouterr().out
    assert main(["state", "conflicts", path]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert "\ttwin/p/desired/rpm\tlww\tlocal=150\tremote=200\t" in line
    assert main(["state", "sync", path, "--nats", "http://x", "--bucket", bucket]) == 1
    assert "--nats/--bucket: NATS url must look like" in capsys.readouterr().err
