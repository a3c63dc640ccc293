"""Twin: RFC 7396 merge patches, delta, version, limits, and on_delta after local and
remote changes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edgekit.errors import InvalidInputError
from edgekit.state import Entry, Hlc, StateStore, Twin, merge_patch
from edgekit.state.twin import delta

T0 = 1_700_000_000.0

# RFC 7396, Appendix A (Example Test Cases): (original, patch, result). The RFC is
# (c) IETF Trust; code components are under the Simplified BSD License (RFC text, BCP 78).
RFC7396 = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("original", "patch", "result"), RFC7396)
def test_merge_patch_rfc7396_appendix_a(original: Any, patch: Any, result: Any) -> None:
    before = repr(original)
    assert merge_patch(original, patch) == result
    assert repr(original) == before  # the target is not changed in place


@pytest.fixture
def store(tmp_path: Path) -> Any:
    with StateStore(tmp_path / "s", node_id="dev", clock=lambda: T0) as s:
        yield s


# The appendix's object cases, through a twin's desired document (a twin's top-level
# patch must be an object; ``{"e": None}`` cannot be stored: None deletes).
@pytest.mark.parametrize(
    ("original", "patch", "result"),
    [
        c
        for c in RFC7396
        if isinstance(c[0], dict) and isinstance(c[1], dict) and c[0] != {"e": None}
    ],
)
def test_twin_patches_follow_rfc7396(
    store: StateStore, original: Any, patch: Any, result: Any
) -> None:
    twin = Twin(store, "t")
    twin.set_desired(original)
    assert twin.desired == original
    assert twin.set_desired(patch) == result
    assert twin.desired == result
    assert Twin(store, "t").desired == result  # as stored


def test_sections_delta_document_and_version(store: StateStore) -> None:
    twin = Twin(store, "pump-1")
    assert (twin.desired, twin.reported, twin.delta, twin.version) == ({}, {}, {}, 0)
    twin.set_desired({"speed": 3, "mode": {"run": True, "limits": [1, 2]}, "light": "on"})
    v1 = twin.version
    twin.report({"speed": 3, "mode": {"run": False, "limits": [1, 2]}, "temp": 40})
    assert twin.version > v1
    assert twin.delta == {"mode": {"run": True}, "light": "on"}
    assert twin.document() == {
        "state": {
            "desired": {"light": "on", "mode": {"limits": [1, 2], "run": True}, "speed": 3},
            "reported": {"mode": {"limits": [1, 2], "run": False}, "speed": 3, "temp": 40},
            "delta": {"mode": {"run": True}, "light": "on"},
        },
        "version": twin.version,
    }
    twin.report({"mode": {"run": True}, "light": "on"})
    assert twin.delta == {} and "delta" not in twin.document()["state"]
    assert store.keys("twin/pump-1/desired/") == [
        "twin/pump-1/desired/light", "twin/pump-1/desired/mode", "twin/pump-1/desired/speed",
    ]  # fmt: skip


def test_delta_compares_types_and_arrays_whole() -> None:
    assert delta({"a": 1}, {"a": True}) == {"a": 1}
    assert delta({"a": [1, 2]}, {"a": [1]}) == {"a": [1, 2]}
    assert delta({"a": {"b": 1}}, {"a": 5}) == {"a": {"b": 1}}
    assert delta({"a": {}}, {"a": {"x": 1}}) == {}


def test_limits_checked_before_anything_is_stored(store: StateStore) -> None:
    twin = Twin(store, "t", max_bytes=100, max_depth=3)
    twin.set_desired({"a": {"b": {"c": 1}}})
    with pytest.raises(InvalidInputError, match="nest 4 deep, more than max_depth=3"):
        twin.set_desired({"x": {"y": {"z": [1]}}})
    with pytest.raises(InvalidInputError, match="more than max_bytes=100"):
        twin.report({"blob": "x" * 100})
    with pytest.raises(InvalidInputError, match="not JSON"):
        twin.report({"f": float("nan")})
    assert twin.desired == {"a": {"b": {"c": 1}}} and twin.reported == {}


@pytest.mark.parametrize("patch", [["a"], "x", None, 3])
def test_non_object_patches_are_refused(store: StateStore, patch: Any) -> None:
    with pytest.raises(InvalidInputError, match="must be an object"):
        Twin(store, "t").set_desired(patch)


@pytest.mark.parametrize("field", ["a/b", "", ".a", "a.", "sp ace", 3])
def test_bad_field_names(store: StateStore, field: Any) -> None:
    with pytest.raises(InvalidInputError, match="top-level field"):
        Twin(store, "t").report({field: 1})
    Twin(store, "t").report({"ok": {"a/b": 1, "": 2}})  # nested names are free


@pytest.mark.parametrize("name", ["", "a/b", ".x", "x.", "a b", None])
def test_bad_twin_names(store: StateStore, name: Any) -> None:
    with pytest.raises(InvalidInputError, match="twin name"):
        Twin(store, name)


def test_on_delta_fires_on_every_change_of_the_delta(store: StateStore) -> None:
    twin = Twin(store, "t")
    seen: list[dict[str, Any]] = []
    unsubscribe = twin.on_delta(seen.append)
    twin.set_desired({"speed": 3})
    twin.report({"temp": 40})  # the delta did not change: no call
    twin.set_desired({"speed": 4, "mode": "eco"})
    twin.report({"speed": 4, "mode": "eco"})  # the delta empties: one call per patch
    Twin(store, "other").set_desired({"x": 1})  # another twin: no call
    assert seen == [{"speed": 3}, {"speed": 4, "mode": "eco"}, {}]
    unsubscribe()
    twin.set_desired({"speed": 5})
    assert len(seen) == 3


def test_on_delta_fires_once_with_the_final_desired_after_remote_changes(store: StateStore) -> None:
    """The cloud changed desired several times while the device was away; the replicator
    applies what the bucket holds in one batch: one call, with the final state."""
    twin = Twin(store, "t")
    twin.report({"speed": 1, "mode": "eco"})
    seen: list[dict[str, Any]] = []
    twin.on_delta(seen.append)
    cloud = [
        Entry("twin/t/desired/speed", 2, Hlc(int(T0 * 1000) + 10, 0), "cloud"),
        Entry("twin/t/desired/speed", 5, Hlc(int(T0 * 1000) + 20, 0), "cloud"),  # later
        Entry("twin/t/desired/mode", "boost", Hlc(int(T0 * 1000) + 30, 0), "cloud"),
    ]
    with store.batch():
        for revision, entry in enumerate(cloud, 1):
            store.apply_remote(entry, revision, cloud=True)
    assert seen == [{"speed": 5, "mode": "boost"}]
    twin.report({"speed": 5, "mode": "boost"})
    assert seen[-1] == {} and len(seen) == 2


def test_twins_share_a_store_with_plain_keys(store: StateStore) -> None:
    store.set("cfg/rate", 5)
    twin = Twin(store, "t")
    twin.set_desired({"a": 1})
    twin.set_desired({"a": None})
    assert twin.desired == {} and store.get("cfg/rate") == 5
    assert store.entry("twin/t/desired/a").deleted  # type: ignore[union-attr]
