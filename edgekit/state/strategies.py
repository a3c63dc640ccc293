"""Conflict strategies, chosen per key pattern, and the three-way resolution.

A *true* conflict is when both sides changed a key since its last synced base (the
entry both last agreed on); otherwise the side that changed fast-forwards the other,
with no strategy involved. The strategies of a true conflict:

- ``"lww"``: last writer wins: the higher ``(hlc, node_id)``.
- ``"fww"``: first writer wins: the lower ``(hlc, node_id)``.
- ``"cloud_wins"``: the remote side wins when it is a cloud write (written by a client
  that is not edgekit), else ``"lww"``.
- ``"edge_wins"``: the local side (this store) wins.
- ``"keep_both"``: the ``"lww"`` winner's value, with the other side's value (and both
  sides' siblings) in ``Entry.siblings``, until a later write replaces them.
- a callable ``merge(base_value, local_value, remote_value) -> value`` (a deleted or
  missing side is None); its result is a new local write.

Patterns are matched against the whole key, fnmatch style, with ``/`` separating
segments: ``*`` matches within one segment, ``**`` across segments, ``?`` one character
but ``/``. The most specific pattern wins (the longest literal prefix, then the most
literal characters); ``"*"`` alone is the default and matches every key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from edgekit.errors import InvalidInputError, StateError
from edgekit.state._codec import encode_value
from edgekit.state._types import Entry
from edgekit.state.hlc import Hlc

__all__ = ["STRATEGIES", "ConflictPolicy", "Merge", "Strategy", "resolve", "strategy_name"]

STRATEGIES = ("lww", "fww", "cloud_wins", "edge_wins", "keep_both")

Merge = Callable[[Any, Any, Any], Any]
Strategy = str | Merge

_PATTERN_CHARS = re.compile(r"[A-Za-z0-9_.=/*?-]+")


def _check_strategy(pattern: str, strategy: object) -> Strategy:
    if isinstance(strategy, str):
        if strategy not in STRATEGIES:
            raise InvalidInputError(
                f"conflict strategy {strategy!r} for {pattern!r} is not one of "
                f"{', '.join(STRATEGIES)} (or a callable merge(base, local, remote))"
            )
        return strategy
    if callable(strategy):
        return strategy
    raise InvalidInputError(
        f"conflict strategy for {pattern!r} must be a name or a callable, not "
        f"{type(strategy).__name__}"
    )


def _compile(pattern: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        out.append("[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c))
        i += 1
    return re.compile("".join(out))


class ConflictPolicy:
    """Which strategy each key gets.

    Args:
        conflict: One strategy for every key, or ``{pattern: strategy}``; keys that no
            pattern matches get the ``"*"`` entry's strategy (``"lww"`` without one).

    Raises:
        InvalidInputError: An unknown strategy name, or a pattern with characters no key
            can hold.
    """

    def __init__(self, conflict: Strategy | Mapping[str, Strategy]) -> None:
        if isinstance(conflict, str) or callable(conflict):
            rules: dict[str, Strategy] = {"*": _check_strategy("*", conflict)}
        elif isinstance(conflict, Mapping):
            rules = {}
            for pattern, strategy in conflict.items():
                if not isinstance(pattern, str) or not _PATTERN_CHARS.fullmatch(pattern):
                    raise InvalidInputError(
                        f"conflict pattern {pattern!r} must be a non-empty string of "
                        "A-Z a-z 0-9 _ . = / - and the wildcards * ? **"
                    )
                rules[pattern] = _check_strategy(pattern, strategy)
        else:
            raise InvalidInputError(
                "conflict must be a strategy name, a callable, or a {pattern: strategy} "
                f"mapping, not {type(conflict).__name__}"
            )
        self.rules = rules
        self.default: Strategy = rules.get("*", "lww")

        def specificity(pattern: str) -> tuple[int, int, str]:
            literal = re.split(r"[*?]", pattern, maxsplit=1)[0]
            return (-len(literal), -len(pattern.replace("*", "").replace("?", "")), pattern)

        self._ordered = [
            (_compile(p), s) for p, s in sorted(rules.items(), key=lambda r: specificity(r[0]))
            if p != "*"
        ]  # fmt: skip
        self._cache: dict[str, Strategy] = {}

    def strategy_for(self, key: str) -> Strategy:
        """The strategy (a name or a callable) of ``key``."""
        found = self._cache.get(key)
        if found is None:
            found = next((s for rx, s in self._ordered if rx.fullmatch(key)), self.default)
            if len(self._cache) > 65536:
                self._cache.clear()
            self._cache[key] = found
        return found


def strategy_name(strategy: Strategy) -> str:
    """A strategy's name as logged: the name, or the merge callable's ``__name__``."""
    if isinstance(strategy, str):
        return strategy
    return str(getattr(strategy, "__name__", "merge"))


def _canonical(e: Entry) -> str:
    return json.dumps([e.deleted, e.value, list(e.siblings)], sort_keys=True, allow_nan=False)


def _later(a: Entry, b: Entry) -> Entry:
    """The last writer of ``a`` and ``b``: higher (hlc, node_id), then content (only
    entries that carry the same write but different siblings get that far)."""
    oa, ob = (a.hlc, a.node_id), (b.hlc, b.node_id)
    if oa != ob:
        return a if oa > ob else b
    return a if _canonical(a) >= _canonical(b) else b


def _keep_both(key: str, winner: Entry, loser: Entry) -> Entry:
    values = list(winner.siblings) + list(loser.siblings)
    if not loser.deleted:
        values.append(loser.value)
    seen: dict[str, Any] = {}
    own = json.dumps(winner.value, sort_keys=True) if not winner.deleted else None
    for v in values:
        c = json.dumps(v, sort_keys=True)
        if c != own:
            seen.setdefault(c, v)
    siblings = tuple(seen[c] for c in sorted(seen))
    return Entry(key, winner.value, winner.hlc, winner.node_id, winner.deleted, siblings)


def resolve(
    strategy: Strategy,
    local: Entry | None,
    remote: Entry,
    base: Entry | None,
    *,
    cloud: bool,
    node_id: str,
    stamp: Callable[[], Hlc],
) -> tuple[Entry, bool]:
    """The entry a key holds after ``remote`` meets ``local``, three-way against
    ``base``; and whether it was a true conflict (both sides changed since ``base``).

    ``node_id``: this store's node; ``stamp``: a new local HLC (for a merge's result).

    Raises:
        StateError: A merge callable failed, or returned a value JSON cannot hold.
    """
    if local is None or local in (base, remote):
        return remote, False
    if remote == base:
        return local, False
    if local.node_id == node_id and remote.node_id == node_id and remote.hlc <= local.hlc:
        return local, False  # an earlier write of this node: ``local`` came after it
    key = remote.key
    if strategy == "lww":
        result = _later(local, remote)
    elif strategy == "fww":
        result = local if _later(local, remote) is remote else remote
    elif strategy == "cloud_wins":
        result = remote if cloud else _later(local, remote)
    elif strategy == "edge_wins":
        result = local
    elif strategy == "keep_both":
        winner = _later(local, remote)
        result = _keep_both(key, winner, remote if winner is local else local)
    elif callable(strategy):

        def visible(e: Entry | None) -> Any:
            return None if e is None or e.deleted else e.value

        name = strategy_name(strategy)
        try:
            merged = strategy(visible(base), visible(local), visible(remote))
        except Exception as exc:
            raise StateError(f"the merge {name}() of state key {key!r} failed: {exc!r}") from exc
        try:
            encode_value(key, merged, 1 << 62)
        except InvalidInputError as exc:
            raise StateError(f"the merge {name}() of state key {key!r} returned {exc}") from None
        result = Entry(key, merged, stamp(), node_id)
    else:  # pragma: no cover - ConflictPolicy checks the names
        raise InvalidInputError(f"unknown conflict strategy {strategy!r}")
    return result, True
